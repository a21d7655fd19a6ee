/*
 * aggpub - generates events (or reads NDJSON ones) and ships them to aggd
 * in batches, at least once; or writes the generated events as NDJSON.
 *
 * The generator is a pure function of (-n, -d, -T, -s): unique event k is
 * rebuilt from the seed and k alone (splitmix64), so a duplicate is the
 * same bytes as its original without storing it, and runs are the same
 * byte for byte whatever -b and -c say.  The duplicate positions are
 * spread evenly (Bresenham): exactly round(N * SHARE) of them, never the
 * first; each re-sends a unique event already generated, half the time a
 * recent one (often in the same batch), else any earlier one.  The first
 * 64 bits of an event_id are a bijection of k: unique events never clash.
 *
 * The sender keeps C slots, each a reused curl handle and the bytes of
 * one batch, which leave the slot only on a 2xx reply; a connection error,
 * a timeout or a 5xx re-sends the same bytes later (exponential backoff
 * with jitter, at least Retry-After), up to -r times; any other status
 * ends the run with status 1.  Memory holds C batches, not N events.
 *
 * Decisions the issue leaves open (also in man/aggpub.1):
 * - A bad input line is reported and skipped, the good ones are shipped,
 *   and the exit status is 1 at the end; a line over 1 MiB ends its file.
 * - Generator options (-n -d -T -s) with input files are a usage error.
 * - round(N * SHARE) is capped at N - 1: an original must come first.
 * - Every 4xx (every status that is not 2xx or 5xx) is permanent.
 * - A partial batch from a stream leaves once its first event has waited
 *   200 ms and no more input is ready.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "client.h"
#include "ev.h"
#include "event.h"

#define COUNT_MAX	1000000000000ULL	/* keeps years below 10000 */
#define BATCH_MAX	100000
#define CONC_MAX	256
#define TOPICS_MAX	1000000
#define RETRIES_MAX	1000000
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000
#define RETRY_AFTER_MAX	60		/* seconds */
#define CONNECT_TIMEOUT	10L		/* seconds */
#define REQUEST_TIMEOUT	60L		/* seconds */
#define FLUSH_MS	200		/* partial batch from a stream */
#define LINE_MAX_BYTES	(1024 * 1024)
#define READ_CHUNK	65536
#define EVENT_MAX	512		/* bytes of one generated event */
#define DUP_WINDOW	64		/* "recent" originals */
#define OUT_CHUNK	1024		/* events per write in NDJSON mode */
#define BASE_MS		1761040800000ULL	/* 2025-10-21T10:00:00Z */
#define GOLDEN		0x9e3779b97f4a7c15ULL

static const char usage_text[] =
"usage: aggpub [-q] [-n count] [-d share] [-T topics] [-s seed] [-b batch]\n"
"              [-c conns] [-r retries] [-u url] [-t token]\n"
"       aggpub [-q] [-b batch] [-c conns] [-r retries] [-u url] [-t token]\n"
"              - | file ...\n"
"  -n, --count N            events to generate (5000)\n"
"  -d, --duplicates SHARE   share of them that re-send earlier ones, from 0\n"
"                           to below 1, as 0.2 or 20% (0.2)\n"
"  -T, --topics T           topics to spread them over (10)\n"
"  -s, --seed SEED          generator seed (1): same seed, same events\n"
"  -b, --batch B            events per request (100)\n"
"  -c, --concurrency C      requests in flight (4)\n"
"  -r, --retries R          re-sends of a failed batch before giving up (60)\n"
"  -u, --url URL            publish URL (AGGREGATOR_URL;\n"
"                           " CLIENT_DEFAULT_URL ")\n"
"  -t, --token TOKEN        bearer token (AGG_TOKEN)\n"
"  -q, --quiet              no progress, retry notices or summary\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"With no URL given and standard output not a terminal, the generated\n"
"events go to standard output as NDJSON.  \"-\" or files: ship NDJSON.\n";

struct opts {
	uint64_t	 count, seed, topics, batch, conc, retries;
	double		 share;
	const char	*url, *token;
	int		 quiet, gen_flags, nfiles;
	char		**files;
};

struct gen {
	uint64_t	 n, dups, seed, topics;
	uint64_t	 pos, uniq, acc;	/* Bresenham over positions */
};

struct reader {
	char		**files;
	int		 nfiles, next, fd;	/* fd -1 between files */
	const char	*name;			/* the path, or "stdin" */
	long		 line;
	struct buf	 in;		/* bytes not yet taken as lines */
	struct event_batch pend;	/* parsed, not yet handed out */
	uint64_t	 first_ms;	/* when pend got its first event */
	unsigned long	 bad;		/* lines skipped, files unreadable */
};

enum { NEXT_BATCH, NEXT_WAIT, NEXT_EOF, NEXT_ERR };

enum { SLOT_IDLE, SLOT_WAIT, SLOT_BUSY };

struct slot {
	CURL		*h;
	struct buf	 body, resp;
	uint64_t	 nev, tries;	/* events in body, sends of it */
	uint64_t	 due;		/* clock ms of the next send */
	int		 state;
	char		 err[CURL_ERROR_SIZE];
};

struct sender {
	int		 reading;	/* the reader, else the generator */
	struct gen	 gen;
	struct reader	 rd;
	int		 wfd, wms;	/* input to wait for, how long; or -1 */
	size_t		 batch;
	CURLM		*multi;
	struct slot	*slot;
	size_t		 nslot, active;	/* slots, those not idle */
	struct curl_slist *hdrs;
	const char	*url;
	uint64_t	 max_retries, total, rng, start, shown_at;
	uint64_t	 sent, unique, dups, retries;
	int		 quiet, tty, shown, healthy;
};

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

static uint64_t
num_arg(int ch, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *s < '0' || *s > '9' || *end || v < min || v > max) {
		warnx("-%c: not a number from %" PRIu64 " to %" PRIu64 ": %s",
		    ch, min, max, s);
		usage(2);
	}
	return v;
}

static double
share_arg(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end != s && *end == '%')
		d /= 100, end++;
	if (errno || end == s || *end || !(d >= 0 && d < 1)) {
		warnx("-d: not a share from 0 to below 1: %s", s);
		usage(2);
	}
	return d;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "count", 1, NULL, 'n' }, { "duplicates", 1, NULL, 'd' },
		{ "topics", 1, NULL, 'T' }, { "seed", 1, NULL, 's' },
		{ "batch", 1, NULL, 'b' }, { "concurrency", 1, NULL, 'c' },
		{ "retries", 1, NULL, 'r' }, { "url", 1, NULL, 'u' },
		{ "token", 1, NULL, 't' }, { "quiet", 0, NULL, 'q' },
		{ "help", 0, NULL, 'h' }, { "version", 0, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*o = (struct opts){ .count = 5000, .share = 0.2, .topics = 10,
	    .seed = 1, .batch = 100, .conc = 4, .retries = 60 };
	opterr = 0;	/* getopt's messages would say argv[0], not "aggpub" */
	while ((ch = getopt_long(argc, argv, ":n:d:T:s:b:c:r:u:t:qhV", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n': o->count = num_arg(ch, optarg, 0, COUNT_MAX); break;
		case 'd': o->share = share_arg(optarg); break;
		case 'T': o->topics = num_arg(ch, optarg, 1, TOPICS_MAX); break;
		case 's': o->seed = num_arg(ch, optarg, 0, UINT64_MAX); break;
		case 'b': o->batch = num_arg(ch, optarg, 1, BATCH_MAX); break;
		case 'c': o->conc = num_arg(ch, optarg, 1, CONC_MAX); break;
		case 'r': o->retries = num_arg(ch, optarg, 0, RETRIES_MAX);
			break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(0); break;
		case 'V': puts("aggpub " AGG_VERSION); exit(0);
		case ':': warnx("%s: needs an argument", argv[optind - 1]);
			usage(2);
		default: optopt ? warnx("-%c: unknown option", optopt) :
			    warnx("%s: unknown option", argv[optind - 1]);
			usage(2);
		}
		o->gen_flags |= strchr("ndTs", ch) != NULL;
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles > 0 && o->gen_flags) {
		warnx("-n, -d, -T and -s are for generated events, not input");
		usage(2);
	}
}

/* splitmix64: a bijective mixer; SM_NEXT steps a generator by GOLDEN. */
#define SM_NEXT(s)	mix64((s) += GOLDEN)
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Writers for the generator: no bounds checks, EVENT_MAX is reserved. */
#define PUT(p, lit)	\
	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)
#define PUTS(p, s)	mempcpy((p), (s), strlen(s))

static char *
put_u64(char *p, uint64_t v)
{
	char t[20];
	int n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = t[--n];
	return p;
}

/* v in exactly n digits, zero-padded. */
static char *
put_fixed(char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* A UUIDv4 text; all 64 bits of a appear in it, so distinct a differ. */
static char *
put_uuid(char *p, uint64_t a, uint64_t b)
{
	static const char hex[] = "0123456789abcdef";
	char h[32];
	int i;

	for (i = 0; i < 16; i++) {
		h[i] = hex[(a >> (60 - 4 * i)) & 15];
		h[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
	}
	memcpy(p, h, 8);			/* a: nibbles 0-7 */
	p[8] = '-';
	memcpy(p + 9, h + 8, 4);		/* 8-11 */
	memcpy(p + 13, "-4", 2);		/* version 4 */
	memcpy(p + 15, h + 12, 3);		/* 12-14 */
	p[18] = '-';
	p[19] = hex[8 | (b & 3)];		/* variant 10xx */
	p[20] = h[15];				/* 15 */
	memcpy(p + 21, h + 16, 2);		/* then b */
	p[23] = '-';
	memcpy(p + 24, h + 18, 12);
	return p + 36;
}

/* RFC 3339 UTC with milliseconds; days to date after H. Hinnant. */
static char *
put_time(char *p, uint64_t ms)
{
	uint64_t s = ms / 1000, z = s / 86400 + 719468, sod = s % 86400;
	uint64_t era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	uint64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);

	memcpy(p, "0000-00-00T00:00:00.000Z", 24);
	put_fixed(p, y, 4);
	put_fixed(p + 5, m, 2);
	put_fixed(p + 8, d, 2);
	put_fixed(p + 11, sod / 3600, 2);
	put_fixed(p + 14, sod / 60 % 60, 2);
	put_fixed(p + 17, sod % 60, 2);
	put_fixed(p + 20, ms % 1000, 3);
	return p + 24;
}

/* Topic i: "orders", ..., then "orders-2", ... past the 16 names. */
static char *
put_topic(char *p, uint64_t i)
{
	static const char *const names[16] = {
		"orders", "payments", "shipments", "refunds", "users",
		"sessions", "clicks", "searches", "carts", "inventory",
		"reviews", "emails", "logins", "invoices", "alerts", "metrics"
	};

	p = PUTS(p, names[i % 16]);
	if (i >= 16) {
		*p++ = '-';
		p = put_u64(p, i / 16 + 1);
	}
	return p;
}

/* A small object: ints, a float, strings, a nested object. */
static char *
put_payload(char *p, uint64_t k, uint64_t r)
{
	static const char *const cur[4] = { "EUR", "USD", "GBP", "JPY" };
	static const char *const cc[8] = {
		"DE", "FR", "US", "GB", "JP", "BR", "IN", "NL"
	};
	uint64_t cents = (r >> 32) % 100000;

	if (cents % 10 == 0)	/* no trailing zero: the text is canonical */
		cents++;
	p = put_u64(PUT(p, "{\"order_id\":"), k + 1);
	p = put_u64(PUT(p, ",\"user_id\":"), 1000 + r % 90000);
	p = put_u64(PUT(p, ",\"amount\":"), cents / 100);
	*p++ = '.';
	p = put_fixed(p, cents % 100, 2);
	p = put_u64(PUT(p, ",\"quantity\":"), 1 + (r >> 20) % 9);
	p = PUTS(PUT(p, ",\"currency\":\""), cur[(r >> 24) % 4]);
	p = PUTS(PUT(p, "\",\"meta\":{\"country\":\""), cc[(r >> 26) % 8]);
	p = put_u64(PUT(p, "\",\"attempt\":"), 1 + (r >> 29) % 3);
	return PUT(p, "}}");
}

/* Unique event k, from the seed and k alone. */
static char *
gen_event(const struct gen *g, uint64_t k, char *p)
{
	static const char *const sources[8] = {
		"checkout-1", "checkout-2", "checkout-3", "web-1", "web-2",
		"mobile-1", "billing-1", "warehouse-1"
	};
	uint64_t s = mix64(g->seed + k);
	uint64_t a = SM_NEXT(s), b = SM_NEXT(s), c = SM_NEXT(s);

	p = put_topic(PUT(p, "{\"topic\":\""), c % g->topics);
	p = put_uuid(PUT(p, "\",\"event_id\":\""), a, b);
	p = put_time(PUT(p, "\",\"timestamp\":\""),
	    BASE_MS + k * 10 + (c >> 32) % 10);
	p = PUTS(PUT(p, "\",\"source\":\""), sources[(c >> 40) % 8]);
	p = put_payload(PUT(p, "\",\"payload\":"), k, SM_NEXT(s));
	return PUT(p, "}");
}

static void
gen_init(struct gen *g, const struct opts *o)
{
	*g = (struct gen){ .n = o->count, .seed = mix64(o->seed ^ GOLDEN),
	    .topics = o->topics };
	g->dups = (uint64_t)llround(o->share * (double)o->count);
	if (g->n > 0 && g->dups >= g->n)
		g->dups = g->n - 1;
}

/* The unique index of the next position: a new one or a re-send. */
static uint64_t
gen_pick(struct gen *g)
{
	uint64_t h, w;

	g->pos++;
	g->acc += g->dups;
	if (g->acc < g->n)
		return g->uniq++;
	g->acc -= g->n;
	h = mix64(g->seed ^ mix64(g->pos));
	w = g->uniq < DUP_WINDOW ? g->uniq : DUP_WINDOW;
	if (h & 1)
		return g->uniq - 1 - (h >> 1) % w;
	return (h >> 1) % g->uniq;
}

/* Appends count events: a JSON array, or NDJSON lines. */
static int
gen_batch(struct gen *g, struct buf *out, uint64_t count, int ndjson)
{
	char *p;
	uint64_t i;

	if (buf_reserve(out, count * (EVENT_MAX + 1) + 2) == -1)
		return -1;
	p = out->data + out->len;
	if (!ndjson)
		*p++ = '[';
	for (i = 0; i < count; i++) {
		if (i > 0 && !ndjson)
			*p++ = ',';
		p = gen_event(g, gen_pick(g), p);
		if (ndjson)
			*p++ = '\n';
	}
	if (!ndjson)
		*p++ = ']';
	out->len = (size_t)(p - out->data);
	return 0;
}

/* Opens the next input: 0, 1 when none is left, -1 (reported) on error. */
static int
reader_open(struct reader *r)
{
	const char *path;

	if (r->next >= r->nfiles)
		return 1;
	path = r->files[r->next++];
	r->line = 0;
	r->in.len = 0;
	r->name = strcmp(path, "-") == 0 ? "stdin" : path;
	r->fd = strcmp(path, "-") == 0 ? STDIN_FILENO :
	    open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1) {
		warn("%s", path);
		r->bad++;
		return -1;
	}
	return 0;
}

static void
reader_close(struct reader *r)
{
	if (r->fd > STDIN_FILENO)	/* stdin stays open for another "-" */
		close(r->fd);
	r->fd = -1;
}

/* One line: parsed into pend, or reported and skipped.  -1: no memory. */
static int
reader_line(struct reader *r, const char *s, size_t len)
{
	size_t n0 = r->pend.n;
	int rc;

	r->line++;
	if ((rc = event_parse_line(&r->pend, s, len)) == -1)
		return -1;
	if (rc != EVENT_OK) {
		warnx("%s:%ld: %s", r->name, r->line, r->pend.syntax);
		r->bad++;
	} else if (n0 == 0 && r->pend.n == 1)
		r->first_ms = ev_clock_ms();
	return 0;
}

/* Takes complete lines until pend holds max events. */
static int
reader_take(struct reader *r, size_t max)
{
	size_t off = 0;
	char *nl;

	while (r->pend.n < max && off < r->in.len &&
	    (nl = memchr(r->in.data + off, '\n', r->in.len - off)) != NULL) {
		if (reader_line(r, r->in.data + off,
		    (size_t)(nl - r->in.data) - off) == -1)
			return -1;
		off = (size_t)(nl + 1 - r->in.data);
	}
	buf_consume(&r->in, off);
	if (r->pend.n < max && r->in.len > LINE_MAX_BYTES) {
		warnx("%s:%ld: line longer than %d bytes; skipping the rest "
		    "of the file", r->name, r->line + 1, LINE_MAX_BYTES);
		r->bad++;
		r->in.len = 0;
		reader_close(r);
	}
	return 0;
}

/* 1 read something, 0 nothing ready, 2 this input ended, -1 no memory. */
static int
reader_read(struct reader *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 0) == 0)
		return 0;
	if (buf_reserve(&r->in, READ_CHUNK) == -1)
		return -1;
	if ((n = read(r->fd, r->in.data + r->in.len, READ_CHUNK)) > 0) {
		r->in.len += (size_t)n;
		return 1;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1) {
		warn("%s", r->name);
		r->bad++;
	} else if (r->in.len > 0 &&
	    reader_line(r, r->in.data, r->in.len) == -1)
		return -1;		/* the last line had no newline */
	r->in.len = 0;
	reader_close(r);
	return 2;
}

/* Hands out pend as a JSON array. */
static int
reader_emit(struct reader *r, struct buf *body, uint64_t *nev)
{
	struct event_fields f;
	size_t i;

	body->len = 0;
	for (i = 0; i < r->pend.n; i++) {
		event_fields(&r->pend, i, &f);
		if (buf_putc(body, i ? ',' : '[') == -1 ||
		    event_write_json(body, &f, -1) == -1)
			return NEXT_ERR;
	}
	if (buf_putc(body, ']') == -1)
		return NEXT_ERR;
	*nev = r->pend.n;
	event_batch_reset(&r->pend);
	return NEXT_BATCH;
}

static int
reader_next(struct reader *r, size_t max, struct buf *body, uint64_t *nev,
    int *wfd, int *wms)
{
	uint64_t age;
	int rc;

	for (;;) {
		if (reader_take(r, max) == -1)
			return NEXT_ERR;
		if (r->pend.n >= max)
			return reader_emit(r, body, nev);
		if (r->fd < 0 && (rc = reader_open(r)) != 0) {
			if (rc == -1)
				continue;
			return r->pend.n ? reader_emit(r, body, nev) : NEXT_EOF;
		}
		if ((rc = reader_read(r)) == -1)
			return NEXT_ERR;
		if (rc != 0)
			continue;
		*wfd = r->fd;
		if (r->pend.n == 0)
			return NEXT_WAIT;
		if ((age = ev_clock_ms() - r->first_ms) >= FLUSH_MS)
			return reader_emit(r, body, nev);
		*wms = (int)(FLUSH_MS - age);
		return NEXT_WAIT;
	}
}

static int
source_next(struct sender *s, struct buf *body, uint64_t *nev)
{
	struct gen *g = &s->gen;

	if (s->reading)
		return reader_next(&s->rd, s->batch, body, nev, &s->wfd,
		    &s->wms);
	if (g->pos == g->n)
		return NEXT_EOF;
	*nev = g->n - g->pos < s->batch ? g->n - g->pos : s->batch;
	body->len = 0;
	return gen_batch(g, body, *nev, 0) == -1 ? NEXT_ERR : NEXT_BATCH;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

static int
sender_init(struct sender *s, const struct opts *o)
{
	struct slot *sl;
	size_t i;

	*s = (struct sender){ .reading = o->nfiles > 0, .batch = o->batch,
	    .rd = { .files = o->files, .nfiles = o->nfiles, .fd = -1 },
	    .url = client_publish_url(o->url), .max_retries = o->retries,
	    .total = o->nfiles > 0 ? 0 : o->count, .nslot = o->conc,
	    .quiet = o->quiet, .tty = !o->quiet && isatty(STDERR_FILENO),
	    .healthy = 1, .start = ev_clock_ms(),
	    .rng = mix64(ev_clock_ms() ^ (uint64_t)getpid() << 32) };
	gen_init(&s->gen, o);
	event_batch_init(&s->rd.pend);
	s->hdrs = client_headers(client_token(o->token), "application/json");
	s->multi = curl_multi_init();
	s->slot = calloc(s->nslot, sizeof(*s->slot));
	if (s->hdrs == NULL || s->multi == NULL || s->slot == NULL)
		return -1;
	for (i = 0; i < s->nslot; i++) {
		sl = &s->slot[i];
		if ((sl->h = curl_easy_init()) == NULL)
			return -1;
		curl_easy_setopt(sl->h, CURLOPT_URL, s->url);
		curl_easy_setopt(sl->h, CURLOPT_HTTPHEADER, s->hdrs);
		curl_easy_setopt(sl->h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(sl->h, CURLOPT_WRITEDATA, &sl->resp);
		curl_easy_setopt(sl->h, CURLOPT_ERRORBUFFER, sl->err);
		curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl);
		curl_easy_setopt(sl->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(sl->h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(sl->h, CURLOPT_CONNECTTIMEOUT,
		    CONNECT_TIMEOUT);
		curl_easy_setopt(sl->h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT);
		curl_easy_setopt(sl->h, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	}
	return 0;
}

static void
sender_free(struct sender *s)
{
	size_t i;

	for (i = 0; s->slot && i < s->nslot; i++) {
		if (s->slot[i].state == SLOT_BUSY)
			curl_multi_remove_handle(s->multi, s->slot[i].h);
		if (s->slot[i].h)
			curl_easy_cleanup(s->slot[i].h);
		buf_free(&s->slot[i].body);
		buf_free(&s->slot[i].resp);
	}
	free(s->slot);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	reader_close(&s->rd);
	buf_free(&s->rd.in);
	event_batch_free(&s->rd.pend);
}

/* Clears the progress line before other output. */
static void
progress_clear(struct sender *s)
{
	if (s->shown)
		fputs("\r\033[K", stderr);
	s->shown = 0;
}

static void
progress(struct sender *s)
{
	uint64_t now = ev_clock_ms(), ms = now - s->start;

	if (!s->tty || ms < 1000 || now - s->shown_at < 250)
		return;
	s->shown_at = now;
	s->shown = 1;
	fprintf(stderr, "\raggpub: %" PRIu64, s->sent);
	if (s->total)
		fprintf(stderr, "/%" PRIu64, s->total);
	fprintf(stderr, " events, %" PRIu64 " retries, %.0f events/s\033[K",
	    s->retries, (double)s->sent * 1000 / (double)ms);
}

/* Adds up aggd's {"accepted":N,"unique":U,"duplicates":D}. */
static void
count_reply(struct sender *s, struct slot *sl)
{
	static const char *const key[3] = {
		"\"accepted\"", "\"unique\"", "\"duplicates\""
	};
	uint64_t v[3] = { 0, 0, 0 };
	const char *p;
	int i;

	for (i = 0; i < 3 && buf_cstr(&sl->resp) == 0; i++)
		if ((p = strstr(sl->resp.data, key[i])) != NULL)
			v[i] = strtoull(p + strlen(key[i]) +
			    strspn(p + strlen(key[i]), " \t:"), NULL, 10);
	s->sent += v[0] ? v[0] : sl->nev;
	s->unique += v[1];
	s->dups += v[2];
}

/*
 * Schedules a re-send: exponential from BACKOFF_MIN_MS to BACKOFF_MAX_MS
 * with +-25% jitter, and never sooner than a Retry-After (capped).
 */
static int
retry_later(struct sender *s, struct slot *sl, long status, const char *why)
{
	uint64_t d = BACKOFF_MIN_MS, t;
	curl_off_t ra = 0;

	progress_clear(s);
	if (sl->tries > s->max_retries) {
		warnx("POST %s: %s; gave up after %" PRIu64 " tries", s->url,
		    why, sl->tries);
		return -1;
	}
	if (s->healthy && !s->quiet)
		warnx("POST %s: %s; retrying", s->url, why);
	s->healthy = 0;
	for (t = 1; t < sl->tries && d < BACKOFF_MAX_MS; t++)
		d *= 2;
	d = d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
	d = d * 3 / 4 + SM_NEXT(s->rng) % (d / 2 + 1);
	if (status > 0 &&
	    curl_easy_getinfo(sl->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK)
		ra = ra < 0 ? 0 : ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : ra;
	if ((uint64_t)ra * 1000 > d)
		d = (uint64_t)ra * 1000;
	sl->due = ev_clock_ms() + d;
	sl->state = SLOT_WAIT;
	s->retries++;
	return 0;
}

/* A request ended: the batch is done, waits for a retry, or fails all. */
static int
slot_done(struct sender *s, struct slot *sl, CURLcode cc)
{
	long status = 0;
	char msg[300];

	curl_multi_remove_handle(s->multi, sl->h);
	sl->state = SLOT_WAIT;
	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "%s",
		    *sl->err ? sl->err : curl_easy_strerror(cc));
		return retry_later(s, sl, 0, msg);
	}
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		count_reply(s, sl);
		sl->state = SLOT_IDLE;
		s->active--;
		s->healthy = 1;
		return 0;
	}
	client_error_message(&sl->resp, status, msg, sizeof(msg));
	if (status >= 500)
		return retry_later(s, sl, status, msg);
	progress_clear(s);
	warnx("POST %s: %s", s->url, msg);
	return -1;
}

/* Gives every idle slot a batch while the source has one. */
static int
fill(struct sender *s)
{
	struct slot *sl;
	size_t i;
	int rc = NEXT_WAIT;

	for (i = 0; i < s->nslot; i++) {
		if ((sl = &s->slot[i])->state != SLOT_IDLE)
			continue;
		if ((rc = source_next(s, &sl->body, &sl->nev)) != NEXT_BATCH)
			return rc;
		sl->state = SLOT_WAIT;
		sl->tries = sl->due = 0;
		s->active++;
	}
	return rc;
}

/* Starts the waiting slots that are due; the ms until the next one. */
static int
launch(struct sender *s, int ms)
{
	uint64_t now = ev_clock_ms();
	struct slot *sl;
	size_t i;

	for (i = 0; i < s->nslot; i++) {
		if ((sl = &s->slot[i])->state != SLOT_WAIT)
			continue;
		if (sl->due > now) {
			if (sl->due - now < (uint64_t)ms)
				ms = (int)(sl->due - now);
			continue;
		}
		sl->resp.len = 0;
		sl->err[0] = '\0';
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, sl->body.data);
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)sl->body.len);
		if (curl_multi_add_handle(s->multi, sl->h) != CURLM_OK)
			return -1;
		sl->state = SLOT_BUSY;
		sl->tries++;
	}
	return ms;
}

/* Runs the transfers; 1 when a slot finished, 0 not, -1 on failure. */
static int
pump(struct sender *s)
{
	struct CURLMsg *m;
	struct slot *sl;
	int running, left, done = 0;

	if (curl_multi_perform(s->multi, &running) != CURLM_OK)
		return -1;
	while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &sl);
		if (slot_done(s, sl, m->data.result) == -1)
			return -1;
		done = 1;
	}
	return done;
}

static int
send_all(struct sender *s)
{
	struct curl_waitfd wfd;
	int eof = 0, rc = NEXT_WAIT, ms;

	for (;;) {
		s->wfd = s->wms = -1;
		if (!eof && (rc = fill(s)) == NEXT_ERR) {
			warnx("out of memory");
			return -1;
		}
		if ((eof = eof || rc == NEXT_EOF) && s->active == 0)
			return 0;
		ms = s->wms >= 0 && s->wms < 1000 ? s->wms : 1000;
		if ((ms = launch(s, s->tty && ms > 250 ? 250 : ms)) == -1 ||
		    (rc = pump(s)) == -1)
			return -1;
		progress(s);
		if (rc == 1)
			continue;
		wfd = (struct curl_waitfd){ .fd = s->wfd,
		    .events = CURL_WAIT_POLLIN };
		if (curl_multi_poll(s->multi, &wfd, s->wfd >= 0, ms, NULL) !=
		    CURLM_OK)
			return -1;
	}
}

static void
summary(struct sender *s)
{
	uint64_t ms = ev_clock_ms() - s->start;

	progress_clear(s);
	if (s->quiet)
		return;
	fprintf(stderr, "aggpub: sent %" PRIu64 " events: %" PRIu64
	    " unique, %" PRIu64 " duplicates, %" PRIu64 " retries, %.2f s, "
	    "%.0f events/s", s->sent, s->unique, s->dups, s->retries,
	    (double)ms / 1000, (double)s->sent * 1000 / (double)(ms ? ms : 1));
	if (s->rd.bad)
		fprintf(stderr, ", %lu bad lines or files", s->rd.bad);
	fputc('\n', stderr);
}

/* Modes (a) and (c): generate or read, and send. */
static int
ship(const struct opts *o)
{
	struct sender s;
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		errx(1, "cannot initialise libcurl");
	if (sender_init(&s, o) == -1)
		warnx("out of memory");
	else {
		rc = send_all(&s) == -1 || s.rd.bad > 0;
		summary(&s);
	}
	sender_free(&s);
	curl_global_cleanup();
	return rc;
}

/* Mode (b): the generated events as NDJSON on standard output. */
static int
to_stdout(const struct opts *o)
{
	struct gen g;
	struct buf b;
	uint64_t n, start = ev_clock_ms();
	int rc = 0;

	gen_init(&g, o);
	buf_init(&b);
	while (rc == 0 && g.pos < g.n) {
		n = g.n - g.pos < OUT_CHUNK ? g.n - g.pos : OUT_CHUNK;
		b.len = 0;
		if (gen_batch(&g, &b, n, 1) == -1)
			rc = -1, errno = ENOMEM;
		else if (fwrite(b.data, 1, b.len, stdout) != b.len)
			rc = -1;
	}
	buf_free(&b);
	if (rc == -1 || fflush(stdout) == EOF) {
		warn("stdout");
		return 1;
	}
	if (!o->quiet)
		fprintf(stderr, "aggpub: wrote %" PRIu64 " events: %" PRIu64
		    " unique, %" PRIu64 " duplicates, %.2f s\n", g.n,
		    g.n - g.dups, g.dups,
		    (double)(ev_clock_ms() - start) / 1000);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *env = getenv("AGGREGATOR_URL");

	parse_args(argc, argv, &o);
	if (o.nfiles == 0 && o.url == NULL && (env == NULL || *env == '\0') &&
	    !isatty(STDOUT_FILENO))
		return to_stdout(&o);
	return ship(&o);
}
