/*
 * pages.c - the JSON of what readers are shown: a page of events and the
 * figures of /stats, built on the reader thread (worker.h) from one store
 * snapshot and the counters as of the last durable commit (ingest.h).
 *
 * The order of a page's reads makes it agree with itself: the topic's id
 * first, then the readable seq and the total together, then the page's
 * snapshot, which holds every event up to that seq; the total counts
 * exactly those, and no event past it is read (the range's upper end).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "pages.h"
#include "rfc3339.h"
#include "vocab.h"

struct page {
	struct buf	*body;
	const struct page_query *q;
	int		 count;
	int64_t		 last;
	int		 fail;
	int		 full;		/* PROTO_PAGE_BYTES reached */
};

/*
 * A page ends at its limit or once it holds PROTO_PAGE_BYTES, whichever
 * comes first (at least one event), so that events with large payloads
 * cannot make one reply, and the memory behind it, grow without bound.
 */
static int
page_event(const struct event_fields *f, const struct event_stored *at,
    void *arg)
{
	struct page *p = arg;

	if ((p->count && buf_putc(p->body, ',') == -1) ||
	    event_write_json(p->body, f, at) == -1) {
		p->fail = 1;
		return -1;
	}
	p->count++;
	p->last = at->seq;
	p->full = p->body->len >= PROTO_PAGE_BYTES;
	return p->full;
}

/*
 * The seqs the query may see: (after, before), raised to since=, no
 * further than what is readable (durable), and below until=.
 */
static int
page_range(const struct reading *rd, const struct page_query *q,
    uint64_t readable, struct store_range *r)
{
	int64_t seq;

	r->after = q->after;
	r->before = (uint64_t)q->before > readable ? (int64_t)readable + 1 :
	    q->before;
	r->limit = q->limit;
	r->from_end = q->newest;
	/* Events arrive in seq order: a time is a seq, found by bisection. */
	if (q->since_ms >= 0) {
		if (store_seq_at(rd->reader, q->since_ms, &seq) == -1)
			return -1;
		if (seq - 1 > r->after)
			r->after = seq - 1;
	}
	if (q->until_ms >= 0) {
		if (store_seq_at(rd->reader, q->until_ms, &seq) == -1)
			return -1;
		if (seq < r->before)
			r->before = seq;
	}
	return 0;
}

/*
 * {"topic":T|null,"total":N,"count":N,"events":[...],"next":S|null,
 * "expired_through":S}
 */
int
page_build(const struct reading *rd, const struct page_query *q,
    struct buf *body, int64_t *topic_id)
{
	struct page p = { body, q, 0, 0, 0, 0 };
	struct store_counts c;
	struct store_range range;
	uint64_t readable;
	size_t mark;
	char head[64];
	int n, missing = 0;	/* the store has no such topic */

	*topic_id = 0;
	if (q->has_topic && (missing = store_topic_id(rd->reader, q->topic,
	    topic_id)) == -1)
		return -1;
	if (missing)
		*topic_id = -1;
	readable = ingest_readable(rd->ingest, *topic_id, &c);
	body->len = 0;
	if (buf_puts(body, "{\"topic\":") == -1 ||
	    (q->has_topic ? json_write_string(body, q->topic,
	    strlen(q->topic)) : buf_puts(body, "null")) == -1 ||
	    buf_puts(body, ",\"total\":") == -1)
		return -1;
	mark = body->len;
	if (buf_puts(body, ",\"events\":[") == -1)
		return -1;
	if (!missing && (page_range(rd, q, readable, &range) == -1 ||
	    (q->has_event_id ? store_find(rd->reader, q->topic,
	    strlen(q->topic), q->event_id, q->event_id_len, &range,
	    page_event, &p) : store_read_events(rd->reader, *topic_id, &range,
	    page_event, &p)) == -1 || p.fail))
		return -1;
	/* count is known only now: write it and total in front. */
	/* total: what the pages hold, the events retention left */
	n = snprintf(head, sizeof(head), "%llu,\"count\":%d",
	    (unsigned long long)(c.unique - c.expired), p.count);
	if (buf_reserve(body, (size_t)n) == -1)
		return -1;
	memmove(body->data + mark + n, body->data + mark, body->len - mark);
	memcpy(body->data + mark, head, (size_t)n);
	body->len += (size_t)n;
	if ((p.count == q->limit || p.full ? buf_printf(body,
	    "],\"next\":%lld", (long long)p.last) :
	    buf_puts(body, "],\"next\":null")) == -1 ||
	    buf_printf(body, ",\"expired_through\":%llu}\n",
	    (unsigned long long)ingest_expired_through(rd->ingest)) == -1)
		return -1;
	return p.count;
}

struct stats_out {
	const struct tally *counts;
	uint64_t	 now;		/* monotonic ms, for the rates */
	struct buf	 names;		/* "a","b" */
	struct buf	 by_topic;	/* "a":{...},"b":{...}; NULL: not wanted */
	int		 listed, limit;
	int		 figures;	/* /stats: each topic's figures too */
	char		 last[EVENT_FIELD_MAX + 1];	/* the last listed */
	int		 more;		/* a topic past limit exists */
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
	    "\":%llu,\"" VOCAB_DUPLICATES "\":%llu,\"" VOCAB_STORED "\":%llu,\""
	    VOCAB_EXPIRED "\":%llu,\"" VOCAB_RATE "\":%.2f,\"" VOCAB_LAST
	    "\":%s", (unsigned long long)c.received,
	    (unsigned long long)c.unique, (unsigned long long)c.duplicates,
	    (unsigned long long)(c.unique - c.expired),
	    (unsigned long long)c.expired, tally_rate(t, id, now), at);
}

/* Topics not yet in counts were created by a commit not yet durable. */
static int
stats_topic(int64_t id, const char *name, void *arg)
{
	struct stats_out *o = arg;
	size_t len = strlen(name);

	if ((size_t)id > o->counts->n)
		return 0;
	if (o->listed == o->limit) {
		o->more = 1;
		return 1;
	}
	o->listed++;
	snprintf(o->last, sizeof(o->last), "%s", name);
	if ((o->names.len && buf_putc(&o->names, ',') == -1) ||
	    json_write_string(&o->names, name, len) == -1)
		return -1;
	if (!o->figures)
		return 0;	/* /topics: the names alone */
	return (o->by_topic.len && buf_putc(&o->by_topic, ',') == -1) ||
	    json_write_string(&o->by_topic, name, len) == -1 ||
	    buf_puts(&o->by_topic, ":{") == -1 ||
	    stats_figures(&o->by_topic, o->counts, id, o->now) == -1 ||
	    buf_putc(&o->by_topic, '}') == -1 ? -1 : 0;
}

/* The one topic of /stats?topic=: as stats_topic would list it. */
static int
stats_one(const struct reading *rd, const char *topic, struct stats_out *o)
{
	int64_t id;
	int rc;

	if ((rc = store_topic_id(rd->reader, topic, &id)) != 0)
		return rc == 1 ? 0 : -1;
	return stats_topic(id, topic, o) == -1 ? -1 : 0;
}

int
stats_build(const struct reading *rd, uint64_t now, uint64_t uptime_s,
    const char *topic, struct buf *body)
{
	struct tally counts;
	struct stats_out o = { .counts = &counts, .now = now,
	    .limit = PROTO_STATS_TOPICS, .figures = 1 };
	int fail;

	body->len = 0;
	fail = ingest_readable_all(rd->ingest, &counts) == -1 ||
	    (topic ? stats_one(rd, topic, &o) :
	    store_read_topics(rd->reader, "", stats_topic, &o)) == -1 ||
	    buf_putc(body, '{') == -1 ||
	    stats_figures(body, &counts, 0, now) == -1 ||
	    buf_printf(body, ",\"topics\":[%.*s],\"topic_count\":%zu,"
	    "\"uptime_seconds\":%llu,\"by_topic\":{%.*s}}\n",
	    (int)o.names.len, o.names.data ? o.names.data : "", counts.n,
	    (unsigned long long)uptime_s,
	    (int)o.by_topic.len, o.by_topic.data ? o.by_topic.data : "") == -1;
	tally_free(&counts);
	buf_free(&o.names);
	buf_free(&o.by_topic);
	return fail ? -1 : 0;
}

int
topics_build(const struct reading *rd, const char *after, int limit,
    struct buf *body)
{
	struct tally counts;
	struct stats_out o = { .counts = &counts, .limit = limit };
	int fail;

	body->len = 0;
	fail = ingest_readable_all(rd->ingest, &counts) == -1 ||
	    store_read_topics(rd->reader, after, stats_topic, &o) == -1 ||
	    buf_printf(body, "{\"topics\":[%.*s],\"next\":", (int)o.names.len,
	    o.names.data ? o.names.data : "") == -1 ||
	    (o.more ? json_write_string(body, o.last, strlen(o.last)) :
	    buf_puts(body, "null")) == -1 || buf_puts(body, "}\n") == -1;
	tally_free(&counts);
	buf_free(&o.names);
	return fail ? -1 : 0;
}
