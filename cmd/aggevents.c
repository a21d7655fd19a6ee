/*
 * aggevents - prints aggd's events as NDJSON (or a table), paging through
 * GET /events; with -f it follows new events with long polling.
 *
 * Invariants: the cursor is the seq of the last event written out (or the
 * --after value); every request asks for events after it, and an event
 * whose seq is not above it is dropped, so no event is printed twice and,
 * as the server lists every event in seq order, none is skipped, whatever
 * happens to the connection or to aggd between two requests.  Each page
 * is written out and flushed whole before the cursor moves on.
 *
 * Each event is re-emitted with event_write_json from its decoded strings
 * and its payload copied by the json.h reader in canonical form.  The
 * server sends canonical JSON, and canonical form is idempotent, so the
 * bytes are the server's: numbers never pass through a double.
 *
 * Requests use libcurl directly rather than client_get, which resets the
 * handle: a progress callback lets SIGINT/SIGTERM or a closed standard
 * output end a long poll at once, and the connection is kept alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "event.h"
#include "json.h"

#define PAGE_DEFAULT	1000		/* events per request */
#define PAGE_MAX	10000		/* aggd's largest page */
#define FOLLOW_WAIT	30		/* seconds a long poll is held */
#define CONNECT_TIMEOUT	10		/* seconds */
#define STALL_TIMEOUT	(FOLLOW_WAIT + 30)	/* seconds without a byte */
#define BACKOFF_MIN	100		/* ms, doubled after each failure */
#define BACKOFF_MAX	5000		/* ms */
#define TABLE_WIDTH	80		/* columns when stdout is no terminal */
#define URL_MAX		4096

struct opts {
	const char	*url;		/* -u, else AGGREGATOR_URL */
	const char	*token;		/* -T, else AGG_TOKEN */
	const char	*topic;		/* -t */
	long long	 after;		/* -a: the first cursor */
	long long	 count;		/* -n: events to print, -1 all */
	long		 limit;		/* -l: page size */
	int		 follow;	/* -f */
	int		 table;		/* -H */
};

/* Everything one run needs, owned by main. */
struct tail {
	const struct opts *o;
	CURL		*curl;
	struct curl_slist *headers;
	char		*topic_q;	/* the topic, URL-escaped */
	char		 base[URL_MAX];
	char		 url[URL_MAX + 512];
	struct buf	 body;		/* the current answer */
	struct buf	 out;		/* lines of the current page */
	struct buf	 tmp;		/* decoded names, numbers */
	struct buf	 ev;		/* one event's fields */
	long long	 cursor;	/* seq of the last event written */
	long long	 printed;
	int		 width;		/* table: terminal columns */
};

enum field { F_TOPIC, F_EVENT_ID, F_TIMESTAMP, F_SOURCE, F_PAYLOAD, NFIELD };

static const char *const field_names[NFIELD] = {
	"topic", "event_id", "timestamp", "source", "payload"
};

/* One event's fields as offsets into tail.ev (it may move as it grows). */
struct ev_spans {
	size_t		 off[NFIELD], len[NFIELD];
	unsigned	 seen;
	long long	 seq;
};

static volatile sig_atomic_t got_signal;

static const char usage_text[] =
"usage: aggevents [-fH] [-a seq] [-l limit] [-n count] [-t topic] [-u url]\n"
"                 [-T token]\n"
"  -t, --topic TOPIC       only events of TOPIC\n"
"  -a, --after SEQ         start after seq SEQ (0: from the first)\n"
"  -n, --count COUNT       stop after COUNT events\n"
"  -l, --limit N           events per request, 1 to 10000 (1000)\n"
"  -f, --follow            wait for new events after the backlog\n"
"  -H, --human             a table for people instead of NDJSON\n"
"  -u, --url URL           service URL (AGGREGATOR_URL; "
    CLIENT_DEFAULT_URL ")\n"
"  -T, --token TOKEN       bearer token (AGG_TOKEN)\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n";

static void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

static long long
number_arg(const char *flag, const char *s, long long min, long long max)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *s < '0' || *s > '9' || *end || v < min || v > max) {
		fprintf(stderr, "aggevents: %s: not a number from %lld to %lld: "
		    "%s\n", flag, min, max, s);
		usage(2);
	}
	return v;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "after", required_argument, NULL, 'a' },
		{ "count", required_argument, NULL, 'n' },
		{ "limit", required_argument, NULL, 'l' },
		{ "follow", no_argument, NULL, 'f' },
		{ "human", no_argument, NULL, 'H' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->count = -1;
	o->limit = PAGE_DEFAULT;
	argv[0] = "aggevents";	/* getopt's messages name argv[0] */
	while ((ch = getopt_long(argc, argv, "t:a:n:l:fHu:T:hV", longopts,
	    NULL)) != -1)
		switch (ch) {
		case 't': o->topic = optarg; break;
		case 'a': o->after = number_arg("--after", optarg, 0, LLONG_MAX);
			break;
		case 'n': o->count = number_arg("--count", optarg, 0, LLONG_MAX);
			break;
		case 'l': o->limit = (long)number_arg("--limit", optarg, 1,
			    PAGE_MAX); break;
		case 'f': o->follow = 1; break;
		case 'H': o->table = 1; break;
		case 'u': o->url = optarg; break;
		case 'T': o->token = optarg; break;
		case 'h': usage(0); break;
		case 'V': printf("aggevents %s\n", AGG_VERSION); exit(0);
		default: usage(2);
		}
	if (optind != argc) {
		fprintf(stderr, "aggevents: unexpected argument: %s\n",
		    argv[optind]);
		usage(2);
	}
	if (o->topic && *o->topic == '\0') {
		fprintf(stderr, "aggevents: empty topic\n");
		usage(2);
	}
}

/* The reader of standard output has gone (a pipe whose other end closed). */
static int
stdout_gone(void)
{
	struct pollfd p = { STDOUT_FILENO, 0, 0 };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLERR);
}

static int
progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	(void)arg, (void)dt, (void)dn, (void)ut, (void)un;
	return got_signal || stdout_gone();
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

/*
 * GET t->url into t->body.  Returns the HTTP status, 0 when stopped by a
 * signal or a closed standard output, or with the reason in err -1 (worth
 * a retry) or -2 (the URL is wrong).
 */
static long
fetch(struct tail *t, char *err, size_t errsz)
{
	char cerr[CURL_ERROR_SIZE] = "";
	long status = -1;
	CURLcode rc;
	CURL *c = t->curl;

	t->body.len = 0;
	curl_easy_setopt(c, CURLOPT_URL, t->url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, t->headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->body);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)STALL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
	rc = curl_easy_perform(c);
	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return 0;
	if (rc != CURLE_OK) {
		client_failure_reason(c, rc, cerr, err, errsz);
		status = client_curl_permanent(rc) ? -2 : -1;
	} else
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* The request for the page after the cursor. */
static void
build_url(struct tail *t)
{
	long long limit = t->o->limit;

	if (t->o->count >= 0 && t->o->count - t->printed < limit)
		limit = t->o->count - t->printed;
	snprintf(t->url, sizeof(t->url), "%s/events?after=%lld&limit=%lld%s%s",
	    t->base, t->cursor, limit, t->topic_q ? "&topic=" : "",
	    t->topic_q ? t->topic_q : "");
	/* Held only when nothing is newer: harmless while paging. */
	if (t->o->follow)
		snprintf(t->url + strlen(t->url), sizeof(t->url) -
		    strlen(t->url), "&wait=%d", FOLLOW_WAIT);
}

/* Appends s[0..len) cut or padded to width columns (code points). */
static int
put_cell(struct buf *b, const char *s, size_t len, size_t width, int pad)
{
	size_t i, cols = 0, cut = len;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80 && cols++ == width - 1)
			cut = i;
	if (cols > width) {
		if (buf_append(b, s, cut) == -1 || buf_puts(b, "\xe2\x80\xa6") == -1)
			return -1;
		cols = width;
	} else if (buf_append(b, s, len) == -1)
		return -1;
	for (; pad && cols < width; cols++)
		if (buf_putc(b, ' ') == -1)
			return -1;
	return pad ? buf_putc(b, ' ') : 0;
}

#define COL_SEQ		10	/* aligned up to seq 9,999,999,999 */
#define COL_TIME	20
#define COL_TOPIC	12
#define COL_ID		12
#define COL_SOURCE	10
#define COL_PAYLOAD_MIN	10

/* What is left of the line; extra: columns a long time took beyond its own. */
static size_t
payload_width(int width, size_t extra)
{
	int w = width - (COL_SEQ + COL_TIME + COL_TOPIC + COL_ID +
	    COL_SOURCE + 5) - (int)extra;

	return w < COL_PAYLOAD_MIN ? COL_PAYLOAD_MIN : (size_t)w;
}

static int
table_header(struct tail *t)
{
	return buf_printf(&t->out, "%*s %-*s %-*s %-*s %-*s %s\n", COL_SEQ,
	    "SEQ", COL_TIME, "TIME", COL_TOPIC, "TOPIC", COL_ID, "EVENT_ID",
	    COL_SOURCE, "SOURCE", "PAYLOAD");
}

/* One table row; the time is never cut: the payload gives way. */
static int
table_row(struct tail *t, const struct event_fields *f, long long seq)
{
	struct buf *b = &t->out;
	size_t extra = f->timestamp_len > COL_TIME ? f->timestamp_len -
	    COL_TIME : 0;

	return buf_printf(b, "%*lld ", COL_SEQ, seq) == -1 ||
	    put_cell(b, f->timestamp, f->timestamp_len, f->timestamp_len >
	    COL_TIME ? f->timestamp_len : COL_TIME, 1) == -1 ||
	    put_cell(b, f->topic, f->topic_len, COL_TOPIC, 1) == -1 ||
	    put_cell(b, f->event_id, f->event_id_len, COL_ID, 1) == -1 ||
	    put_cell(b, f->source, f->source_len, COL_SOURCE, 1) == -1 ||
	    put_cell(b, f->payload, f->payload_len, payload_width(t->width, extra),
	    0) == -1 || buf_putc(b, '\n') == -1 ? -1 : 0;
}

/* A whole number value (seq) into *v; -1 when it is something else. */
static int
read_seq(struct json_reader *r, struct buf *tmp, long long *v)
{
	char *end;

	if (json_peek(r) != JSON_NUMBER)
		return -1;
	tmp->len = 0;
	if (json_copy(r, tmp) < 0 || buf_cstr(tmp) == -1)
		return -1;
	errno = 0;
	*v = strtoll(tmp->data, &end, 10);
	return errno || *end || *v < 1 ? -1 : 0;
}

/* The members of one event into t->ev; -1 when one is missing or bad. */
static int
read_event(struct tail *t, struct json_reader *r, struct ev_spans *s)
{
	const char *name;
	size_t nlen, f;
	int rc;

	memset(s, 0, sizeof(*s));
	t->ev.len = 0;
	if (json_peek(r) != JSON_OBJECT || json_object_begin(r) < 0)
		return -1;
	for (t->tmp.len = 0; (rc = json_object_next(r, &t->tmp, &name,
	    &nlen)) == 1; t->tmp.len = 0) {
		for (f = 0; f < NFIELD; f++)
			if (strlen(field_names[f]) == nlen &&
			    memcmp(field_names[f], name, nlen) == 0)
				break;
		if (nlen == 3 && memcmp(name, "seq", 3) == 0) {
			if (read_seq(r, &t->tmp, &s->seq) == -1)
				return -1;
			continue;
		}
		if (f == NFIELD) {
			rc = json_skip(r);
		} else {
			s->off[f] = t->ev.len;
			rc = f == F_PAYLOAD ? json_copy(r, &t->ev) :
			    json_read_string(r, &t->ev);
			s->len[f] = t->ev.len - s->off[f];
			s->seen |= 1u << f;
		}
		if (rc < 0)
			return -1;
	}
	return rc < 0 || s->seen != (1u << NFIELD) - 1 || s->seq == 0 ? -1 : 0;
}

/* Writes the event of s into t->out (NDJSON or a table row). */
static int
emit_event(struct tail *t, const struct ev_spans *s)
{
	struct event_fields f;
	const char *d = t->ev.data;

	f.topic = d + s->off[F_TOPIC];
	f.topic_len = s->len[F_TOPIC];
	f.event_id = d + s->off[F_EVENT_ID];
	f.event_id_len = s->len[F_EVENT_ID];
	f.timestamp = d + s->off[F_TIMESTAMP];
	f.timestamp_len = s->len[F_TIMESTAMP];
	f.source = d + s->off[F_SOURCE];
	f.source_len = s->len[F_SOURCE];
	f.payload = d + s->off[F_PAYLOAD];
	f.payload_len = s->len[F_PAYLOAD];
	if (t->o->table)
		return table_row(t, &f, s->seq);
	return event_write_json(&t->out, &f, s->seq) == -1 ||
	    buf_putc(&t->out, '\n') == -1 ? -1 : 0;
}

/* The "events" array: each event after the cursor goes to t->out. */
static int
read_events(struct tail *t, struct json_reader *r)
{
	struct ev_spans s;
	int rc;

	if (json_peek(r) != JSON_ARRAY || json_array_begin(r) < 0)
		return -1;
	while ((rc = json_array_next(r)) == 1) {
		if (read_event(t, r, &s) == -1)
			return -1;
		if (s.seq <= t->cursor ||
		    (t->o->count >= 0 && t->printed >= t->o->count))
			continue;
		if (emit_event(t, &s) == -1)
			return -1;
		t->cursor = s.seq;
		t->printed++;
	}
	return rc < 0 ? -1 : 0;
}

/*
 * Reads one /events answer, leaving its lines in t->out.  *more is set
 * when "next" is a cursor (the page was full: more may follow at once).
 */
static int
read_page(struct tail *t, int *more)
{
	struct json_reader r;
	const char *name;
	size_t nlen;
	int rc, events = 0;

	*more = 0;
	json_reader_init(&r, t->body.data, t->body.len);
	/* The answer's object and its array around events as deep as aggd
	   takes them. */
	r.max_depth = JSON_MAX_DEPTH + 2;
	if (json_object_begin(&r) < 0)
		return -1;
	for (t->tmp.len = 0; (rc = json_object_next(&r, &t->tmp, &name,
	    &nlen)) == 1; t->tmp.len = 0) {
		if (nlen == 6 && memcmp(name, "events", 6) == 0) {
			if (read_events(t, &r) == -1)
				return -1;
			events = 1;
		} else if (nlen == 4 && memcmp(name, "next", 4) == 0) {
			*more = json_peek(&r) == JSON_NUMBER;
			rc = json_skip(&r);
		} else
			rc = json_skip(&r);
		if (rc < 0)
			return -1;
	}
	return rc < 0 || json_end(&r) < 0 || !events ? -1 : 0;
}

/* Flushes t->out to stdout: 0, 1 when the reader has gone, -1 on error. */
static int
flush_out(struct tail *t)
{
	if (t->out.len && fwrite(t->out.data, 1, t->out.len, stdout) !=
	    t->out.len)
		goto fail;
	t->out.len = 0;
	if (fflush(stdout) == EOF)
		goto fail;
	return 0;
fail:
	if (errno == EPIPE)
		return 1;
	fprintf(stderr, "aggevents: standard output: %s\n", strerror(errno));
	return -1;
}

/* Sleeps ms milliseconds; a signal cuts it short. */
static void
nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/*
 * After a failed request: in follow mode, waits out the backoff and
 * returns 0 to try again (saying so once per outage); otherwise -1.
 */
static int
retry(struct tail *t, long status, const char *err, long *backoff)
{
	int transient = status == -1 || client_status_transient(status);

	if (!t->o->follow || !transient) {
		fprintf(stderr, "aggevents: GET %s: %s\n", t->url, err);
		return -1;
	}
	if (*backoff == 0)
		fprintf(stderr, "aggevents: GET %s: %s; retrying\n", t->url,
		    err);
	*backoff = *backoff == 0 ? BACKOFF_MIN : *backoff * 2;
	if (*backoff > BACKOFF_MAX)
		*backoff = BACKOFF_MAX;
	nap(*backoff);
	return 0;
}

/* Pages (and follows) until done; the exit status. */
static int
run(struct tail *t)
{
	char err[CURL_ERROR_SIZE + 64];
	long status, backoff = 0;
	int more, rc, header = 0;

	while (!got_signal && (t->o->count < 0 || t->printed < t->o->count)) {
		build_url(t);
		if ((status = fetch(t, err, sizeof(err))) == 0)
			return 0;
		if (status != 200) {
			if (status > 0)
				client_error_message(&t->body, status, err,
				    sizeof(err));
			if (retry(t, status, err, &backoff) == -1)
				return 1;
			continue;
		}
		backoff = 0;
		/* The table's header comes with the first good answer. */
		if (t->o->table && !header && (header = 1, table_header(t)) == -1)
			return 1;
		if (read_page(t, &more) == -1) {
			fprintf(stderr, "aggevents: GET %s: malformed answer "
			    "(or out of memory)\n", t->url);
			return 1;
		}
		if ((rc = flush_out(t)) != 0)
			return rc == 1 ? 0 : 1;
		if (!more && !t->o->follow)
			break;
	}
	return 0;
}

static int
terminal_width(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return TABLE_WIDTH;
}

static void
on_signal(int sig)
{
	(void)sig;
	got_signal = 1;
}

/* SIGPIPE off (EPIPE ends the run); in follow mode INT/TERM end it too. */
static void
setup_signals(int follow)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (!follow)
		return;
	/* Restarted writes; curl's poll and nanosleep still return early. */
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int
tail_init(struct tail *t, const struct opts *o)
{
	memset(t, 0, sizeof(*t));
	t->o = o;
	t->cursor = o->after;
	t->width = o->table ? terminal_width() : 0;
	buf_init(&t->body);
	buf_init(&t->out);
	buf_init(&t->tmp);
	buf_init(&t->ev);
	if (client_base_url(client_publish_url(o->url), t->base,
	    sizeof(t->base)) == -1) {
		fprintf(stderr, "aggevents: URL too long\n");
		return -1;
	}
	if ((t->curl = curl_easy_init()) == NULL ||
	    (t->headers = client_headers(client_token(o->token), NULL)) == NULL ||
	    (o->topic && (t->topic_q = curl_easy_escape(t->curl, o->topic,
	    0)) == NULL)) {
		fprintf(stderr, "aggevents: cannot start libcurl\n");
		return -1;
	}
	if (t->topic_q && strlen(t->topic_q) > 2048) {
		fprintf(stderr, "aggevents: topic too long\n");
		return -1;
	}
	return 0;
}

static void
tail_free(struct tail *t)
{
	curl_free(t->topic_q);
	curl_slist_free_all(t->headers);
	if (t->curl)
		curl_easy_cleanup(t->curl);
	buf_free(&t->body);
	buf_free(&t->out);
	buf_free(&t->tmp);
	buf_free(&t->ev);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct tail t;
	int rc = 1;

	parse_args(argc, argv, &o);
	setup_signals(o.follow);
	/* Closed, fd 1 would go to the first descriptor libcurl opens. */
	if (fcntl(STDOUT_FILENO, F_GETFD) == -1) {
		fprintf(stderr, "aggevents: standard output: %s\n",
		    strerror(errno));
		return 1;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "aggevents: cannot start libcurl\n");
		return 1;
	}
	if (tail_init(&t, &o) == 0)
		rc = run(&t);
	tail_free(&t);
	curl_global_cleanup();
	return rc;
}
