/*
 * aggevents - prints aggd's events as NDJSON (or a table), paging through
 * GET /events; with -f it follows new events with long polling; with -i
 * it looks one event up by its identity.
 *
 * Invariants: the cursor is the seq of the last event written out (or
 * where the run starts); every request asks for events after it, and an
 * event whose seq is not above it is dropped, so no event is printed twice
 * and, as the server lists every event in seq order, none is skipped,
 * whatever happens to the connection or to aggd between two requests.
 * Each page is written out and flushed whole before the cursor moves on.
 *
 * Where a run starts, like tail(1): after -a SEQ, or at --since TIME;
 * otherwise -n N starts N events before the end (found by asking for the
 * newest events first, with "before"), -f alone at the end, and a plain
 * run at the first event.
 *
 * Each event is read by the suite's one reader of stored events
 * (event_read_stored) and re-emitted with event_write_json: its strings
 * decoded, its payload in canonical form.  The server sends canonical
 * JSON, and canonical form is idempotent, so the bytes are the server's:
 * numbers never pass through a double.  The table is table.c's.
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
#include "cli.h"
#include "client.h"
#include "event.h"
#include "json.h"
#include "proto.h"
#include "rfc3339.h"
#include "table.h"

#define FOLLOW_WAIT	30		/* seconds a long poll is held */
#define FOLLOW_WAIT_TEXT "30"
#define CONNECT_TIMEOUT	10		/* seconds */
#define STALL_TIMEOUT	(FOLLOW_WAIT + 30)	/* seconds without a byte */
#define BACKOFF_MIN	100		/* ms, doubled after each failure */
#define BACKOFF_MAX	5000		/* ms */
#define TABLE_WIDTH	80		/* columns when stdout is no terminal */

struct opts {
	const char	*url;		/* -u, else AGGREGATOR_URL */
	const char	*token;		/* -k, else AGG_TOKEN */
	char		 token_buf[CLI_TOKEN_MAX + 1];	/* --token-file */
	const char	*topic;		/* -t */
	const char	*event_id;	/* -i */
	const char	*since, *until;	/* RFC 3339, checked */
	long long	 after;		/* -a: the first cursor, -1 none */
	long long	 count;		/* -n: events to print, -1 all */
	long		 batch;		/* -b: page size */
	int		 follow;	/* -f */
	int		 table;		/* -H */
};

/* Everything one run needs, owned by main. */
struct tail {
	const struct opts *o;
	CURL		*curl;
	struct curl_slist *headers;
	char		*topic_q, *id_q;	/* URL-escaped */
	char		*since_q, *until_q;
	char		 base[CLIENT_URL_MAX];
	char		 url[CLIENT_URL_MAX + 1024];
	struct buf	 body;		/* the current answer */
	struct buf	 out;		/* lines of the current page */
	struct buf	 tmp;		/* decoded names */
	struct buf	 ev;		/* one event's fields */
	long long	 cursor;	/* seq of the last event written */
	long long	 printed;
	long long	 want;		/* events to print, -1 all */
	int		 width;		/* table: terminal columns */
	int		 header;	/* the table's header is out */
	struct table	 cols;
	/* A page read to find where to start: nothing printed. */
	int		 scanning;
	long long	 first_seq, page_count;
	long long	 warned_through;	/* expired_through said last */
};

static volatile sig_atomic_t got_signal;

static const char usage_text[] =
"usage: aggevents [-fH] [-a seq] [-n count] [-b batch] [-t topic [-i id]]\n"
"                 [--since time] [--until time] [-u url] [-k token]\n"
"  -t, --topic TOPIC       only events of TOPIC\n"
"  -i, --id EVENT_ID       only the event (TOPIC, EVENT_ID), if stored\n"
"  -a, --after SEQ         start after seq SEQ (0: from the first)\n"
"      --since TIME        start at the first event that arrived at TIME\n"
"                          or later (RFC 3339)\n"
"      --until TIME        only events that arrived before TIME\n"
"  -n, --count N           N events: the newest N, or the first N after\n"
"                          -a or --since\n"
"  -f, --follow            wait for new events and print them as they\n"
"                          come; alone, from the end\n"
"  -b, --batch N           events per request, 1 to 10000 (1000)\n"
"  -H, --human             a table for people instead of NDJSON\n"
"  -u, --url URL           aggd's URL (AGGREGATOR_URL; "
    CLIENT_DEFAULT_URL ")\n"
"  -k, --token TOKEN       bearer token (AGG_TOKEN)\n"
"      --token-file FILE   the token is FILE's first line (-k shows in ps)\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n";

static const char *
time_arg(const char *name, const char *s)
{
	if (rfc3339_parse(s, strlen(s), NULL) == -1)
		cli_usage_error("aggevents", "%s: not an RFC 3339 date-time"
		    " (2025-10-21T10:00:00Z): %s", name, s);
	return s;
}

enum { OPT_SINCE = 256, OPT_UNTIL, OPT_LIMIT, OPT_TOKEN_FILE };

static void
check_args(const struct opts *o)
{
	if (o->topic && *o->topic == '\0')
		cli_usage_error("aggevents", "-t: empty topic");
	if (o->event_id && (*o->event_id == '\0' || o->topic == NULL))
		cli_usage_error("aggevents", "-i needs a topic (-t) and an id");
	if (o->event_id && (o->follow || o->after >= 0 || o->since ||
	    o->until || o->count >= 0))
		cli_usage_error("aggevents", "-i looks one event up: no -f, -a,"
		    " -n, --since or --until with it");
	if (o->follow && o->until)
		cli_usage_error("aggevents", "-f and --until: a follower would"
		    " wait for nothing");
	if (o->after >= 0 && o->since)
		cli_usage_error("aggevents", "-a or --since: one start");
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "topic", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "after", required_argument, NULL, 'a' },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "count", required_argument, NULL, 'n' },
		{ "batch", required_argument, NULL, 'b' },
		{ "limit", required_argument, NULL, OPT_LIMIT },	/* 1.1 */
		{ "follow", no_argument, NULL, 'f' },
		{ "human", no_argument, NULL, 'H' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->after = o->count = -1;
	o->batch = PROTO_PAGE_DEFAULT;
	opterr = 0;
	/* l and T: the letters of 1.1 for the page size and the token. */
	while ((ch = getopt_long(argc, argv, ":t:i:a:n:b:fHu:k:hVl:T:",
	    longopts, NULL)) != -1)
		switch (ch) {
		case 't': o->topic = optarg; break;
		case 'i': o->event_id = optarg; break;
		case 'a': o->after = (long long)cli_number("aggevents", "-a",
		    optarg, 0, LLONG_MAX); break;
		case OPT_SINCE: o->since = time_arg("--since", optarg); break;
		case OPT_UNTIL: o->until = time_arg("--until", optarg); break;
		case 'n': o->count = (long long)cli_number("aggevents", "-n",
		    optarg, 0, LLONG_MAX); break;
		case 'l': cli_old_letter("aggevents", ch, "-b (--batch)");
			/* FALLTHROUGH */
		case OPT_LIMIT:
		case 'b': o->batch = (long)cli_number("aggevents", "-b", optarg,
		    1, PROTO_PAGE_MAX); break;
		case 'f': o->follow = 1; break;
		case 'H': o->table = 1; break;
		case 'u': o->url = optarg; break;
		case 'T': cli_old_letter("aggevents", ch, "-k (--token)");
			/* FALLTHROUGH */
		case 'k': o->token = optarg; break;
		case OPT_TOKEN_FILE: o->token = cli_token_file("aggevents",
		    optarg, o->token_buf, sizeof(o->token_buf)); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': printf("aggevents %s\n", AGG_VERSION); exit(0);
		default: cli_bad_option("aggevents", argv, ch, longopts);
		}
	if (optind != argc)
		cli_usage_error("aggevents", "unexpected argument: %s",
		    argv[optind]);
	check_args(o);
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

/* Appends "&name=value" to t->url when value is set. */
static void
url_param(struct tail *t, const char *name, const char *value)
{
	size_t len = strlen(t->url);

	if (value)
		snprintf(t->url + len, sizeof(t->url) - len, "&%s=%s", name,
		    value);
}

/*
 * The request for the page after the cursor; before > 0: the newest
 * limit events below it instead (where to start is being found).
 */
static void
build_url(struct tail *t, long long before, long long limit)
{
	snprintf(t->url, sizeof(t->url), "%s/events?after=%lld&limit=%lld",
	    t->base, t->cursor, limit);
	if (before > 0)
		snprintf(t->url + strlen(t->url), sizeof(t->url) -
		    strlen(t->url), "&before=%lld", before);
	url_param(t, "topic", t->topic_q);
	url_param(t, "event_id", t->id_q);
	url_param(t, "since", t->since_q);
	url_param(t, "until", t->until_q);
	/* Held only when nothing is newer: harmless while paging. */
	if (t->o->follow && before == 0)
		url_param(t, "wait", FOLLOW_WAIT_TEXT);
}

/* Writes the event into t->out (NDJSON or a table row). */
static int
emit_event(struct tail *t, const struct event_fields *f,
    const struct event_stored *at)
{
	if (t->o->table)
		return table_row(&t->out, &t->cols, f, at->seq);
	return event_write_json(&t->out, f, at) == -1 ||
	    buf_putc(&t->out, '\n') == -1 ? -1 : 0;
}

/* 1 when the event goes out: after the cursor, and still wanted. */
static int
wanted(const struct tail *t, int64_t seq)
{
	return seq > t->cursor && (t->want < 0 || t->printed < t->want);
}

/*
 * The "events" array: each event after the cursor goes to t->out; while
 * scanning, only the first seq and the count are kept.  measure: a first
 * pass over the first page of a table, which sizes its columns.
 */
static int
read_events(struct tail *t, struct json_reader *r, int measure)
{
	struct event_fields f;
	struct event_stored at;
	int rc;

	if (json_peek(r) != JSON_ARRAY || json_array_begin(r) < 0)
		return -1;
	while ((rc = json_array_next(r)) == 1) {
		if (event_read_stored(r, &t->ev, &f, &at) == -1)
			return -1;
		if (t->scanning) {
			if (t->page_count++ == 0)
				t->first_seq = at.seq;
			continue;
		}
		if (!wanted(t, at.seq))
			continue;
		if (measure) {
			table_measure(&t->cols, &f, at.seq);
			continue;
		}
		if (emit_event(t, &f, &at) == -1)
			return -1;
		t->cursor = at.seq;
		t->printed++;
	}
	return rc < 0 ? -1 : 0;
}

/*
 * A follower whose cursor is below what retention removed may have
 * missed events: said once per new expired_through, and it goes on.
 */
static void
missed(struct tail *t, long long asked, struct buf *num)
{
	long long through;

	if (!t->o->follow || t->scanning || buf_putc(num, '\0') == -1)
		return;
	through = strtoll(num->data, NULL, 10);
	if (through <= asked || through <= t->warned_through)
		return;
	t->warned_through = through;
	fprintf(stderr, "aggevents: retention removed the events up to seq"
	    " %lld before they were read (this run had read up to seq %lld):"
	    " some may be missing; going on\n", through, asked);
}

/*
 * Reads one /events answer, leaving its lines in t->out.  *more is set
 * when "next" is a cursor (the page was full: more may follow at once).
 */
static int
read_page(struct tail *t, int measure, int *more)
{
	struct json_reader r;
	const char *name;
	size_t nlen;
	long long asked = t->cursor;
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
			if (read_events(t, &r, measure) == -1)
				return -1;
			events = 1;
		} else if (nlen == 4 && memcmp(name, "next", 4) == 0) {
			*more = json_peek(&r) == JSON_NUMBER;
			rc = json_skip(&r);
		} else if (nlen == 15 && memcmp(name, "expired_through", 15) ==
		    0 && json_peek(&r) == JSON_NUMBER) {
			t->tmp.len = 0;
			if ((rc = json_copy(&r, &t->tmp)) == 0)
				missed(t, asked, &t->tmp);
		} else
			rc = json_skip(&r);
		if (rc < 0)
			return -1;
	}
	return rc < 0 || json_end(&r) < 0 || !events ? -1 : 0;
}

/* The table's first page: columns sized, header written. */
static int
table_start(struct tail *t)
{
	int more;

	if (t->header)
		return 0;
	t->header = 1;
	if (read_page(t, 1, &more) == -1)
		return -1;
	table_fit(&t->cols, t->width);
	return table_header(&t->out, &t->cols);
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

/*
 * GET t->url until it answers 200 (retrying in follow mode); 1 when it
 * did, 0 when stopped, -1 after saying why not.
 */
static int
get_page(struct tail *t)
{
	char err[CURL_ERROR_SIZE + 64];
	long status, backoff = 0;

	for (;;) {
		if (got_signal || (status = fetch(t, err, sizeof(err))) == 0)
			return 0;
		if (status == 200)
			return 1;
		if (status > 0)
			client_error_message(&t->body, status, err, sizeof(err));
		if (retry(t, status, err, &backoff) == -1)
			return -1;
	}
}

static int
malformed(const struct tail *t)
{
	fprintf(stderr, "aggevents: GET %s: malformed answer (or out of "
	    "memory)\n", t->url);
	return -1;
}

/*
 * Where to start when n events before the end are asked for: walks back
 * from the end, a page at a time, and puts the cursor before the n-th
 * newest (n = 0: at the end).  0, or -1 / 1 as get_page.
 */
static int
find_start(struct tail *t, long long n)
{
	long long before = LLONG_MAX, left = n ? n : 1;
	int more, rc;

	t->scanning = 1;
	while (left > 0) {
		build_url(t, before, left < PROTO_PAGE_MAX ? left : PROTO_PAGE_MAX);
		if ((rc = get_page(t)) != 1)
			return rc == 0 ? 1 : -1;
		t->page_count = 0;
		if (read_page(t, 0, &more) == -1)
			return malformed(t);
		if (t->page_count == 0)
			break;
		left -= t->page_count;
		before = t->first_seq;
		if (n == 0)
			t->cursor = t->first_seq;	/* the newest */
	}
	if (n > 0 && before != LLONG_MAX)
		t->cursor = before - 1;
	t->scanning = 0;
	return 0;
}

/* Pages (and follows) until done; the exit status. */
static int
run(struct tail *t)
{
	int more, rc;

	while (!got_signal && (t->want < 0 || t->printed < t->want)) {
		build_url(t, 0, t->want >= 0 && t->want - t->printed <
		    t->o->batch ? t->want - t->printed : t->o->batch);
		if ((rc = get_page(t)) != 1)
			return rc == 0 ? 0 : 1;
		if ((t->o->table && table_start(t) == -1) ||
		    read_page(t, 0, &more) == -1) {
			(void)malformed(t);
			return 1;
		}
		if ((rc = flush_out(t)) != 0)
			return rc == 1 ? 0 : 1;
		if (!more && !t->o->follow)
			break;
	}
	return 0;
}

/* -i: the one event, or exit 1 when it is not stored. */
static int
look_up(struct tail *t)
{
	int rc;

	if ((rc = run(t)) != 0)
		return rc;
	if (t->printed == 0) {
		fprintf(stderr, "aggevents: %s/%s: not stored\n", t->o->topic,
		    t->o->event_id);
		return 1;
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

/* An escaped query value of s into *q (NULL stays NULL); -1 on failure. */
static int
escape(struct tail *t, const char *s, char **q)
{
	if (s == NULL)
		return 0;
	if ((*q = curl_easy_escape(t->curl, s, 0)) == NULL)
		return -1;
	return strlen(*q) > 900 ? -1 : 0;
}

static int
tail_init(struct tail *t, const struct opts *o)
{
	memset(t, 0, sizeof(*t));
	t->o = o;
	t->cursor = o->after > 0 ? o->after : 0;
	t->want = o->count;
	t->width = o->table ? terminal_width() : 0;
	buf_init(&t->body);
	buf_init(&t->out);
	buf_init(&t->tmp);
	buf_init(&t->ev);
	if (client_url(o->url, "", t->base, sizeof(t->base)) == -1) {
		fprintf(stderr, "aggevents: URL too long\n");
		return -1;
	}
	if ((t->curl = curl_easy_init()) == NULL ||
	    (t->headers = client_headers(client_token(o->token), NULL)) == NULL) {
		fprintf(stderr, "aggevents: cannot start libcurl\n");
		return -1;
	}
	if (escape(t, o->topic, &t->topic_q) == -1 ||
	    escape(t, o->event_id, &t->id_q) == -1 ||
	    escape(t, o->since, &t->since_q) == -1 ||
	    escape(t, o->until, &t->until_q) == -1) {
		fprintf(stderr, "aggevents: topic or id too long\n");
		return -1;
	}
	return 0;
}

static void
tail_free(struct tail *t)
{
	curl_free(t->topic_q);
	curl_free(t->id_q);
	curl_free(t->since_q);
	curl_free(t->until_q);
	curl_slist_free_all(t->headers);
	if (t->curl)
		curl_easy_cleanup(t->curl);
	buf_free(&t->body);
	buf_free(&t->out);
	buf_free(&t->tmp);
	buf_free(&t->ev);
}

/*
 * Where the run starts (see the top of this file); then, with -f, -n
 * counted the backlog only.  The exit status, or -1 to go on.
 */
static int
start(struct tail *t)
{
	const struct opts *o = t->o;
	int rc = 0;

	if (o->after < 0 && o->since == NULL && (o->count >= 0 || o->follow))
		rc = find_start(t, o->count >= 0 ? o->count : 0);
	if (rc != 0)
		return rc == 1 ? 0 : 1;
	if (o->follow)
		t->want = -1;
	return -1;
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
		rc = o.event_id ? look_up(&t) : (rc = start(&t)) >= 0 ? rc :
		    run(&t);
	tail_free(&t);
	curl_global_cleanup();
	return rc;
}
