/*
 * api.c - the HTTP API of aggd: routing, auth, and the five endpoints.
 *
 * This is the domain layer: it turns requests into parsed batches for the
 * ingest queue and store reads into JSON.  It never touches sockets (httpd
 * does) or SQL (the store does).  A publish is answered from
 * api_job_done, after the commit that holds its events.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggd.h"
#include "json.h"
#include "rfc3339.h"
#include "vocab.h"
#include "log.h"

/* A GET /events query; parked while it waits for news (wait=). */
struct waiter {
	struct waiter	*next;
	struct httpd_req *req;
	char		 topic[EVENT_FIELD_MAX + 1];
	char		 event_id[EVENT_FIELD_MAX + 1];
	size_t		 event_id_len;
	int		 has_topic, has_event_id;
	int64_t		 after;		/* since= raised it already */
	int64_t		 before;	/* INT64_MAX: none */
	int		 newest;	/* before= given: the newest below it */
	int64_t		 until_ms;	/* -1: none */
	int		 limit;
	uint64_t	 deadline;
};

struct route {
	const char	*path;
	const char	*method;
	const char	*allow;		/* a 405's header */
	void		(*fn)(struct aggd *, struct httpd_req *);
};

static void
reply_json(struct aggd *d, struct httpd_req *r, int status, const char *hdrs)
{
	httpd_reply(r, status, NULL, hdrs, d->body.data, d->body.len);
	if (d->body.cap > AGGD_BODY_KEEP)
		buf_free(&d->body);	/* httpd has copied it */
}

/* {"error": msg} with a status; msg is one sentence. */
static void
reply_error(struct aggd *d, struct httpd_req *r, int status, const char *msg,
    const char *hdrs)
{
	d->body.len = 0;
	if (buf_puts(&d->body, "{\"error\":") == -1 ||
	    json_write_string(&d->body, msg, strlen(msg)) == -1 ||
	    buf_puts(&d->body, "}\n") == -1) {
		httpd_reply(r, 500, NULL, NULL, "{\"error\":\"out of memory\"}\n",
		    26);
		return;
	}
	reply_json(d, r, status, hdrs);
}

static int
streq_len(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* Constant time, so the token cannot be found a byte at a time. */
static int
token_ok(const struct aggd *d, const struct http_request *hr)
{
	const struct http_header *h = http_header_find(hr, "Authorization");
	const char *tok = d->cfg->token;
	size_t tlen = strlen(tok), i;
	unsigned char diff = 0;

	if (h == NULL || h->value_len != 7 + tlen ||
	    strncasecmp(h->value, "Bearer ", 7) != 0)
		return 0;
	for (i = 0; i < tlen; i++)
		diff |= (unsigned char)(h->value[7 + i] ^ tok[i]);
	return diff == 0;
}

static int
is_ndjson(const struct http_request *hr)
{
	const struct http_header *h = http_header_find(hr, "Content-Type");
	static const char nd[] = "application/x-ndjson";

	return h && h->value_len >= sizeof(nd) - 1 &&
	    strncasecmp(h->value, nd, sizeof(nd) - 1) == 0 &&
	    (h->value_len == sizeof(nd) - 1 || h->value[sizeof(nd) - 1] == ';' ||
	    h->value[sizeof(nd) - 1] == ' ');
}

static void
reply_counts(struct aggd *d, struct httpd_req *r, const struct store_counts *c)
{
	d->body.len = 0;
	if (buf_printf(&d->body, "{\"accepted\":%llu,\"unique\":%llu,"
	    "\"duplicates\":%llu}\n", (unsigned long long)c->received,
	    (unsigned long long)c->unique,
	    (unsigned long long)c->duplicates) == -1) {
		reply_error(d, r, 500, "out of memory", NULL);
		return;
	}
	reply_json(d, r, 200, NULL);
}

/* 422: every listed violation, and how many there were in all. */
static void
reply_invalid(struct aggd *d, struct httpd_req *r, const struct event_batch *b)
{
	const struct event_error *e;
	size_t i;
	int fail;

	d->body.len = 0;
	fail = buf_printf(&d->body, "{\"error\":\"%zu violation%s of the event"
	    " rules; nothing was stored\",\"violations\":%zu,\"detail\":[",
	    b->nbad, b->nbad == 1 ? "" : "s", b->nbad) == -1;
	for (i = 0; i < b->nerr && !fail; i++) {
		e = &b->err[i];
		fail = buf_printf(&d->body, "%s{\"index\":%zu,", i ? "," : "",
		    e->index) == -1;
		if (!fail && e->line)
			fail = buf_printf(&d->body, "\"line\":%ld,", e->line) == -1;
		fail = fail || buf_puts(&d->body, "\"field\":") == -1 ||
		    (e->field ? json_write_string(&d->body, e->field,
		    strlen(e->field)) : buf_puts(&d->body, "null")) == -1 ||
		    buf_puts(&d->body, ",\"msg\":") == -1 ||
		    json_write_string(&d->body, e->msg, strlen(e->msg)) == -1 ||
		    buf_putc(&d->body, '}') == -1;
	}
	if (fail || buf_puts(&d->body, "]}\n") == -1) {
		reply_error(d, r, 500, "out of memory", NULL);
		return;
	}
	reply_json(d, r, 422, NULL);
}

static void
reply_syntax(struct aggd *d, struct httpd_req *r, const struct event_batch *b)
{
	d->body.len = 0;
	if (buf_puts(&d->body, "{\"error\":") == -1 ||
	    json_write_string(&d->body, b->syntax, strlen(b->syntax)) == -1 ||
	    (b->syntax_line && buf_printf(&d->body, ",\"line\":%ld",
	    b->syntax_line) == -1) || buf_puts(&d->body, "}\n") == -1) {
		reply_error(d, r, 500, "out of memory", NULL);
		return;
	}
	reply_json(d, r, 400, NULL);
}

static void
job_free(struct ingest_job *j)
{
	event_batch_free(&j->batch);
	free(j);
}

static void
api_publish(struct aggd *d, struct httpd_req *r)
{
	const struct http_request *hr = httpd_request(r);
	struct store_counts none = { 0, 0, 0, 0 };
	struct ingest_job *j;
	const char *body;
	size_t len;
	int rc;

	if ((j = calloc(1, sizeof(*j))) == NULL) {
		reply_error(d, r, 503, "out of memory, retry later",
		    "Retry-After: 1\r\n");
		return;
	}
	event_batch_init(&j->batch);
	body = httpd_body(r, &len);
	rc = is_ndjson(hr) ? event_parse_ndjson(&j->batch, body, len) :
	    event_parse_json(&j->batch, body, len);
	if (rc == EVENT_SYNTAX)
		reply_syntax(d, r, &j->batch);
	else if (rc == EVENT_INVALID)
		reply_invalid(d, r, &j->batch);
	else if (rc != EVENT_OK)
		reply_error(d, r, 503, "out of memory, retry later",
		    "Retry-After: 1\r\n");
	else if (j->batch.n == 0)
		reply_counts(d, r, &none);
	else {
		/* Also after SIGTERM: a request that began before it is in
		   flight, and is finished, not refused. */
		j->owner = r;
		if (ingest_queue(d->ingest, j) == 0)
			return;		/* answered in api_job_done */
		reply_error(d, r, 503, "ingest queue is full, retry later",
		    "Retry-After: 1\r\n");
	}
	job_free(j);
}

void
api_job_done(struct ingest_job *j, void *arg)
{
	struct aggd *d = arg;
	struct httpd_req *r = j->owner;

	if (j->status == 0)
		reply_counts(d, r, &j->counts);
	else if (j->status == STORE_FULL)
		reply_error(d, r, 507, "the store's disk is full; nothing of this"
		    " request was stored", NULL);
	else
		reply_error(d, r, 500, j->err, NULL);
	job_free(j);
}

struct page {
	struct aggd	*d;
	const struct waiter *w;
	int		 count;
	int64_t		 last;
	int		 fail;
	int		 full;		/* AGGD_PAGE_BYTES reached */
};

/*
 * A page ends at its limit or once it holds AGGD_PAGE_BYTES, whichever
 * comes first (at least one event), so that events with large payloads
 * cannot make one reply, and the memory behind it, grow without bound.
 */
static int
page_event(const struct event_fields *f, const struct event_stored *at,
    void *arg)
{
	struct page *p = arg;

	if ((p->count && buf_putc(&p->d->body, ',') == -1) ||
	    event_write_json(&p->d->body, f, at) == -1) {
		p->fail = 1;
		return -1;
	}
	p->count++;
	p->last = at->seq;
	p->full = p->d->body.len >= AGGD_PAGE_BYTES;
	return p->full;
}

/* The event asked for by identity: a candidate is it only if it matches. */
static int
identity_event(const struct event_fields *f, const struct event_stored *at,
    void *arg)
{
	struct page *p = arg;
	const struct waiter *w = p->w;

	if (f->event_id_len != w->event_id_len ||
	    memcmp(f->event_id, w->event_id, w->event_id_len) != 0 ||
	    f->topic_len != strlen(w->topic) ||
	    memcmp(f->topic, w->topic, f->topic_len) != 0)
		return 0;
	return page_event(f, at, arg);
}

#define MAX_CANDIDATES	16

static int
read_identity(struct aggd *d, struct page *p, const struct store_range *q)
{
	const struct waiter *w = p->w;
	uint64_t seq[MAX_CANDIDATES];
	size_t n, i;

	n = store_candidates(d->store, w->topic, strlen(w->topic), w->event_id,
	    w->event_id_len, seq, MAX_CANDIDATES);
	for (i = 0; i < n && p->count == 0; i++)
		if ((int64_t)seq[i] > q->after && (int64_t)seq[i] < q->before &&
		    store_read_seq(d->reader, (int64_t)seq[i], identity_event,
		    p) == -1)
			return -1;
	return 0;
}

/*
 * The seqs a query may show: (after, before), no further than what is
 * readable (durable), and before until= when it has one.
 */
static int
page_range(struct aggd *d, const struct waiter *w, uint64_t readable,
    struct store_range *q)
{
	int64_t until;

	q->after = w->after;
	q->before = (uint64_t)w->before > readable ? (int64_t)readable + 1 :
	    w->before;
	q->limit = w->limit;
	q->from_end = w->newest;
	/* Events still to come may arrive before until: asked anew. */
	if (w->until_ms >= 0) {
		if (store_seq_at(d->reader, w->until_ms, &until) == -1)
			return -1;
		if (until < q->before)
			q->before = until;
	}
	return 0;
}

/*
 * Builds the /events reply in d->body; returns the count or -1.  The
 * topic's id comes first, the readable seq and total next, the page's
 * snapshot last: it holds every event up to that seq, and the total
 * counts exactly those.
 */
static int
events_page(struct aggd *d, const struct waiter *w)
{
	struct page p = { d, w, 0, 0, 0, 0 };
	struct store_counts c;
	struct store_range q;
	uint64_t readable;
	int64_t id = 0;
	size_t mark;
	char head[64];
	int n, missing = 0;	/* the store has no such topic */

	if (w->has_topic && (missing = store_topic_id(d->reader, w->topic,
	    &id)) == -1)
		return -1;
	readable = ingest_readable(d->ingest, missing ? -1 : id, &c);
	d->body.len = 0;
	if (buf_puts(&d->body, "{\"topic\":") == -1 ||
	    (w->has_topic ? json_write_string(&d->body, w->topic,
	    strlen(w->topic)) : buf_puts(&d->body, "null")) == -1 ||
	    buf_puts(&d->body, ",\"total\":") == -1)
		return -1;
	mark = d->body.len;
	if (buf_puts(&d->body, ",\"events\":[") == -1)
		return -1;
	if (!missing && (page_range(d, w, readable, &q) == -1 ||
	    (w->has_event_id ? read_identity(d, &p, &q) :
	    store_read_events(d->reader, id, &q, page_event, &p)) == -1 ||
	    p.fail))
		return -1;
	/* count is known only now: write it and total in front. */
	n = snprintf(head, sizeof(head), "%llu,\"count\":%d",
	    (unsigned long long)c.unique, p.count);
	if (buf_reserve(&d->body, (size_t)n) == -1)
		return -1;
	memmove(d->body.data + mark + n, d->body.data + mark, d->body.len - mark);
	memcpy(d->body.data + mark, head, (size_t)n);
	d->body.len += (size_t)n;
	if ((p.count == w->limit || p.full ? buf_printf(&d->body, "],\"next\":%lld}\n",
	    (long long)p.last) : buf_puts(&d->body, "],\"next\":null}\n")) == -1)
		return -1;
	return p.count;
}

/*
 * A parameter's decoded value into v[0..sz), NUL-terminated: 0 absent, 1
 * set, -1 malformed (a bad escape, too long, or a NUL in it, which would
 * cut the value short for whatever reads it as a string).
 */
static int
query_text(const struct http_request *hr, const char *name, char *v,
    size_t sz, size_t *len)
{
	int rc = http_query_param(hr->query, hr->query_len, name, v, sz, len);

	return rc == 1 && memchr(v, '\0', *len) != NULL ? -1 : rc;
}

/*
 * A whole-number parameter: 0 absent, 1 set, -1 malformed or < min.  All
 * digits and above max (however many) counts as max.
 */
static int
query_number(const struct http_request *hr, const char *name, long long min,
    long long max, long long *out)
{
	char v[256];
	size_t len, i;
	int rc;

	if ((rc = query_text(hr, name, v, sizeof(v), &len)) != 1)
		return rc;
	if (len == 0)
		return -1;
	for (*out = 0, i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (*out <= max)
			*out = *out > (LLONG_MAX - (v[i] - '0')) / 10 ? max :
			    *out * 10 + (v[i] - '0');
	}
	if (*out > max)
		*out = max;
	return *out < min ? -1 : 1;
}

/* A time parameter in ms since 1970: 0 absent, 1 set, -1 malformed. */
static int
query_time(const struct http_request *hr, const char *name, int64_t *ms)
{
	char v[64];
	size_t len;
	int rc;

	if ((rc = query_text(hr, name, v, sizeof(v), &len)) != 1)
		return rc;
	return rfc3339_parse(v, len, ms) == 0 ? 1 : -1;
}

/* topic= and event_id=: NULL, or why not. */
static const char *
query_identity(const struct http_request *hr, struct waiter *w)
{
	static const char rule[] = " must be 1 to 255 bytes of UTF-8 without"
	    " control characters";
	static char why[80];
	size_t len;
	int rc;

	rc = query_text(hr, "topic", w->topic, sizeof(w->topic), &len);
	if (rc == -1 || (rc == 1 && event_text_problem(w->topic, len))) {
		snprintf(why, sizeof(why), "topic%s", rule);
		return why;
	}
	w->has_topic = rc == 1;
	rc = query_text(hr, "event_id", w->event_id, sizeof(w->event_id),
	    &w->event_id_len);
	if (rc == -1 || (rc == 1 && event_text_problem(w->event_id,
	    w->event_id_len))) {
		snprintf(why, sizeof(why), "event_id%s", rule);
		return why;
	}
	w->has_event_id = rc == 1;
	return w->has_event_id && !w->has_topic ? "event_id needs a topic" :
	    NULL;
}

/* Query parameters of /events; -1 after answering 400. */
static int
events_query(struct aggd *d, struct httpd_req *r, struct waiter *w, int *wait)
{
	const struct http_request *hr = httpd_request(r);
	long long after = 0, before = LLONG_MAX, limit = AGGD_PAGE_DEFAULT;
	long long secs = 0;
	int64_t since = -1, since_seq;
	const char *bad;

	memset(w, 0, sizeof(*w));
	w->until_ms = -1;
	if ((bad = query_identity(hr, w)) != NULL)
		;
	else if (query_number(hr, "after", 0, LLONG_MAX, &after) == -1)
		bad = "after must be a whole number from 0";
	else if ((w->newest = query_number(hr, "before", 1, LLONG_MAX,
	    &before)) == -1)
		bad = "before must be a whole number from 1";
	else if (query_number(hr, "limit", 1, AGGD_PAGE_MAX, &limit) == -1)
		bad = "limit must be a whole number from 1";
	else if (query_number(hr, "wait", 0, AGGD_WAIT_MAX, &secs) == -1)
		bad = "wait must be a whole number of seconds from 0";
	else if (query_time(hr, "since", &since) == -1)
		bad = "since must be an RFC 3339 date-time";
	else if (query_time(hr, "until", &w->until_ms) == -1)
		bad = "until must be an RFC 3339 date-time";
	if (bad) {
		reply_error(d, r, 400, bad, NULL);
		return -1;
	}
	/* Events arrive in seq order: since= is a lower seq, once found. */
	if (since >= 0) {
		if (store_seq_at(d->reader, since, &since_seq) == -1) {
			reply_error(d, r, 500, "cannot read the store", NULL);
			return -1;
		}
		if (since_seq - 1 > after)
			after = since_seq - 1;
	}
	w->after = after;
	w->before = before;
	w->limit = (int)limit;
	*wait = (int)secs;
	return 0;
}

static void
api_events(struct aggd *d, struct httpd_req *r)
{
	struct waiter q, *w;
	int wait, count;

	if (events_query(d, r, &q, &wait) == -1)
		return;
	if ((count = events_page(d, &q)) == -1) {
		reply_error(d, r, 500, "cannot read the store", NULL);
		return;
	}
	if (count > 0 || wait == 0 || d->stop_deadline ||
	    (w = malloc(sizeof(*w))) == NULL) {
		reply_json(d, r, 200, NULL);
		return;
	}
	*w = q;
	w->req = r;
	w->deadline = ev_now(d->loop) + (uint64_t)wait * 1000;
	w->next = d->waiters;
	d->waiters = w;
	d->nwaiters++;
}

/* Answers waiters that have news, or all of them. */
static void
waiters_wake(struct aggd *d, int all)
{
	struct waiter **pp = &d->waiters, *w;
	uint64_t now = ev_now(d->loop);
	int count;

	while ((w = *pp) != NULL) {
		count = events_page(d, w);
		if (count == 0 && !all && now < w->deadline) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		d->nwaiters--;
		if (count == -1)
			reply_error(d, w->req, 500, "cannot read the store", NULL);
		else
			reply_json(d, w->req, 200, NULL);
		free(w);
	}
}

void
api_before_wait(struct ev_loop *loop, void *arg)
{
	struct aggd *d = arg;
	uint64_t seq;

	(void)loop;
	ingest_kick(d->ingest);
	if (d->waiters && (seq = ingest_readable(d->ingest, 0, NULL)) !=
	    d->seen_seq) {
		d->seen_seq = seq;	/* waiters look once per new group */
		waiters_wake(d, 0);
	}
}

void
api_tick(struct ev_loop *loop, void *arg)
{
	struct aggd *d = arg;
	struct waiter *w;
	uint64_t now = ev_now(loop);

	for (w = d->waiters; w; w = w->next)
		if (now >= w->deadline) {
			waiters_wake(d, 0);
			break;
		}
}

void
api_shutdown(struct aggd *d)
{
	waiters_wake(d, 1);
}

struct stats_out {
	const struct tally *counts;
	uint64_t	 now;		/* monotonic ms, for the rates */
	struct buf	 names;		/* "a","b" */
	struct buf	 by_topic;	/* "a":{...},"b":{...} */
};

/*
 * The figures of a topic (id 0: of all): the counters, the events
 * received per second over the last minute, and when the last arrived.
 */
static int
stats_figures(struct buf *b, const struct tally *t, int64_t id, uint64_t now)
{
	struct store_counts c;
	char at[RFC3339_MS_LEN + 2] = "null";

	tally_get(t, id, &c);
	if (c.last_ms > 0) {
		at[0] = '"';
		rfc3339_format((int64_t)c.last_ms, at + 1);
		strcat(at, "\"");
	}
	return buf_printf(b, "\"" VOCAB_RECEIVED "\":%llu,\"" VOCAB_UNIQUE
	    "\":%llu,\"" VOCAB_DUPLICATES "\":%llu,\"" VOCAB_RATE "\":%.2f,\""
	    VOCAB_LAST "\":%s", (unsigned long long)c.received,
	    (unsigned long long)c.unique, (unsigned long long)c.duplicates,
	    tally_rate(t, id, now), at);
}

/* Topics not yet in counts were created by a commit not yet durable. */
static int
stats_topic(int64_t id, const char *name, void *arg)
{
	struct stats_out *o = arg;
	size_t len = strlen(name);

	if ((size_t)id > o->counts->n)
		return 0;
	return (o->names.len && (buf_putc(&o->names, ',') == -1 ||
	    buf_putc(&o->by_topic, ',') == -1)) ||
	    json_write_string(&o->names, name, len) == -1 ||
	    json_write_string(&o->by_topic, name, len) == -1 ||
	    buf_puts(&o->by_topic, ":{") == -1 ||
	    stats_figures(&o->by_topic, o->counts, id, o->now) == -1 ||
	    buf_putc(&o->by_topic, '}') == -1 ? -1 : 0;
}

static void
api_stats(struct aggd *d, struct httpd_req *r)
{
	struct tally counts;
	struct stats_out o = { &counts, ev_clock_ms(), { NULL, 0, 0 },
	    { NULL, 0, 0 } };
	struct buf *b = &d->body;
	int fail;

	b->len = 0;
	fail = ingest_readable_all(d->ingest, &counts) == -1 ||
	    store_read_topics(d->reader, stats_topic, &o) == -1 ||
	    buf_putc(b, '{') == -1 ||
	    stats_figures(b, &counts, 0, o.now) == -1 ||
	    buf_printf(b, ",\"topics\":[%.*s],\"uptime_seconds\":"
	    "%llu,\"by_topic\":{%.*s}}\n",
	    (int)o.names.len, o.names.data ? o.names.data : "",
	    (unsigned long long)((ev_now(d->loop) - d->started) / 1000),
	    (int)o.by_topic.len, o.by_topic.data ? o.by_topic.data : "") == -1;
	tally_free(&counts);
	buf_free(&o.names);
	buf_free(&o.by_topic);
	if (fail) {
		reply_error(d, r, 500, "cannot read the store", NULL);
		return;
	}
	reply_json(d, r, 200, NULL);
}

static void
api_healthz(struct aggd *d, struct httpd_req *r)
{
	(void)d;
	httpd_reply(r, 200, NULL, NULL, "{\"status\":\"ok\"}\n", 16);
}

static int
metric(struct buf *b, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
	    name, type, name, v);
}

static int
metrics_commit(struct buf *b, const struct ingest_stats *st)
{
	int i, fail;

	fail = buf_puts(b, "# HELP agg_commit_duration_seconds Time of one group"
	    " commit, fsync included.\n# TYPE agg_commit_duration_seconds"
	    " histogram\n") == -1;
	for (i = 0; i < INGEST_BUCKETS && !fail; i++)
		fail = buf_printf(b, "agg_commit_duration_seconds_bucket{le=\"%g\"}"
		    " %llu\n", ingest_bucket_le[i],
		    (unsigned long long)st->buckets[i]) == -1;
	return fail || buf_printf(b, "agg_commit_duration_seconds_bucket"
	    "{le=\"+Inf\"} %llu\nagg_commit_duration_seconds_sum %.6f\n"
	    "agg_commit_duration_seconds_count %llu\n",
	    (unsigned long long)st->commits, st->commit_seconds,
	    (unsigned long long)st->commits) == -1 ||
	    metric(b, "agg_commit_wal_syncs_total", "counter", "fdatasyncs of"
	    " the WAL that answers waited for (none with -r).",
	    st->wal_syncs) == -1 ||
	    buf_printf(b, "# HELP agg_commit_wal_sync_seconds_total Time in"
	    " those fdatasyncs.\n# TYPE agg_commit_wal_sync_seconds_total"
	    " counter\nagg_commit_wal_sync_seconds_total %.6f\n",
	    st->wal_sync_seconds) == -1 ? -1 : 0;
}

static void
api_metrics(struct aggd *d, struct httpd_req *r)
{
	struct ingest_stats st;
	struct store_counts t;
	struct buf *b = &d->body;

	ingest_get_stats(d->ingest, &st);
	(void)ingest_readable(d->ingest, 0, &t);
	b->len = 0;
	if (metric(b, METRIC_RECEIVED, "counter", METRIC_RECEIVED_HELP,
	    t.received) == -1 ||
	    metric(b, METRIC_UNIQUE, "counter", METRIC_UNIQUE_HELP,
	    t.unique) == -1 ||
	    metric(b, METRIC_DUPLICATES, "counter", METRIC_DUPLICATES_HELP,
	    t.duplicates) == -1 ||
	    metric(b, METRIC_LAST, "gauge", METRIC_LAST_HELP,
	    t.last_ms / 1000) == -1 ||
	    metric(b, "agg_ingest_queue_depth", "gauge", "Events queued or"
	    " being committed.", st.depth) == -1 ||
	    metric(b, "agg_ingest_queue_capacity", "gauge", "Events the queue"
	    " takes before answering 503.", st.capacity) == -1 ||
	    metric(b, "agg_http_connections_open", "gauge", "Open client"
	    " connections.", httpd_conns(d->httpd)) == -1 ||
	    metric(b, "agg_http_buffered_bytes", "gauge", "Bytes held in"
	    " connection buffers.", httpd_buffered(d->httpd)) == -1 ||
	    metric(b, "agg_http_long_polls", "gauge", "GET /events requests"
	    " parked until an event arrives (wait=).", d->nwaiters) == -1 ||
	    metric(b, "agg_commit_failures_total", "counter", "Group commits"
	    " that failed and were rolled back.", st.commit_failures) == -1 ||
	    metrics_commit(b, &st) == -1 ||
	    metric(b, "agg_dedup_index_bytes", "gauge", "Memory of the"
	    " in-memory dedup index.", st.index_bytes) == -1 ||
	    metric(b, "agg_uptime_seconds", "gauge", "Seconds since start.",
	    (ev_now(d->loop) - d->started) / 1000) == -1) {
		reply_error(d, r, 500, "out of memory", NULL);
		return;
	}
	httpd_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
	    b->data, b->len);
}

/* What a person who opens aggd's address in a browser or curl sees. */
static void
api_root(struct aggd *d, struct httpd_req *r)
{
	d->body.len = 0;
	if (buf_puts(&d->body, "{\"service\":\"aggd\",\"version\":\""
	    AGG_VERSION "\",\"endpoints\":[\"POST /publish\","
	    "\"GET /events\",\"GET /stats\",\"GET /healthz\","
	    "\"GET /metrics\"],\"manual\":\"man aggd\"}\n") == -1) {
		reply_error(d, r, 500, "out of memory", NULL);
		return;
	}
	reply_json(d, r, 200, NULL);
}

static const struct route routes[] = {
	{ "/", "GET", "Allow: GET, HEAD\r\n", api_root },
	{ "/publish", "POST", "Allow: POST\r\n", api_publish },
	{ "/events", "GET", "Allow: GET, HEAD\r\n", api_events },
	{ "/stats", "GET", "Allow: GET, HEAD\r\n", api_stats },
	{ "/healthz", "GET", "Allow: GET, HEAD\r\n", api_healthz },
	{ "/metrics", "GET", "Allow: GET, HEAD\r\n", api_metrics },
};

/*
 * The route of a request, or, when its head alone refuses it, NULL with
 * the refusal: 401, 404 or 405.
 */
static const struct route *
route_of(struct aggd *d, const struct http_request *hr,
    struct httpd_refusal *ref)
{
	const struct route *rt = NULL;
	const char *method = hr->method;
	size_t i, mlen = hr->method_len;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (streq_len(hr->path, hr->path_len, routes[i].path))
			rt = &routes[i];
	/* HEAD is GET without the body, which httpd leaves out. */
	if (streq_len(method, mlen, "HEAD"))
		method = "GET", mlen = 3;
	if (d->cfg->token && !token_ok(d, hr) && !(rt && rt->fn == api_healthz &&
	    streq_len(method, mlen, "GET")))
		*ref = (struct httpd_refusal){ 401, "missing or wrong bearer"
		    " token", "WWW-Authenticate: Bearer\r\n" };
	else if (rt == NULL)
		*ref = (struct httpd_refusal){ 404, "no such path", NULL };
	else if (!streq_len(method, mlen, rt->method))
		*ref = (struct httpd_refusal){ 405, "method not allowed",
		    rt->allow };
	else
		return rt;
	return NULL;
}

/*
 * Where httpd would answer for a body unread (100 Continue, 413): a client
 * without the token, or sending to a path or with a method that has no
 * use for the body, learns so at once, not after uploading it, nor from a
 * 413 that hides the 401.
 */
int
api_head_check(const struct http_request *hr, struct httpd_refusal *ref,
    void *arg)
{
	return route_of(arg, hr, ref) == NULL;
}

void
api_handle(struct httpd_req *r, void *arg)
{
	struct aggd *d = arg;
	struct httpd_refusal ref;
	const struct route *rt = route_of(d, httpd_request(r), &ref);

	if (rt == NULL)
		reply_error(d, r, ref.status, ref.msg, ref.headers);
	else
		rt->fn(d, r);
}
