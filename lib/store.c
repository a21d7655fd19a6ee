/*
 * store.c - the store's interface over its engines; see store.h.  Each
 * call goes to the engine that opened the handle; nothing else is here.
 */
#include <stdio.h>

#include "store.h"
#include "store_pg.h"
#include "store_sqlite.h"

struct store *
store_open(const char *where, char *err, size_t errsz)
{
	if (pg_is_uri(where))
		return pg_store_open(where, err, errsz);
	return sqlite_store_open(where, err, errsz);
}

void
store_display(const char *where, char *out, size_t sz)
{
	if (pg_is_uri(where))
		pg_display_uri(where, out, sz);
	else
		snprintf(out, sz, "%s", where);
}

/* What only an SQLite file has: PostgreSQL has pg_dump and amcheck. */
static int
sqlite_only(const char *where, const char *what, char *err, size_t errsz)
{
	if (!pg_is_uri(where))
		return 0;
	snprintf(err, errsz, "%s is for an SQLite store; for PostgreSQL use"
	    " its own tools (pg_dump, pg_restore, pg_amcheck)", what);
	return -1;
}

void
store_close(struct store *s)
{
	if (s != NULL)
		s->engine->close(s);
}

int
store_commit(struct store *s, struct event_batch *const *b, size_t n,
    struct store_counts *res, char *err, size_t errsz)
{
	return s->engine->commit(s, b, n, res, err, errsz);
}

int
store_topic_counts(const struct store *s, int all, store_counts_fn *fn,
    void *arg)
{
	return s->engine->topic_counts(s, all, fn, arg);
}

int
store_sync(struct store *s)
{
	return s->engine->sync ? s->engine->sync(s) : 0;
}

int
store_sync_needed(const struct store *s)
{
	return s->engine->sync != NULL;
}

int
store_maintain(struct store *s)
{
	return s->engine->maintain ? s->engine->maintain(s) : 0;
}

int
store_expire(struct store *s, uint64_t now_ms, size_t max)
{
	if (s->engine->expire == NULL ||
	    (s->retain.max_age_ms == 0 && s->retain.max_bytes == 0))
		return 0;
	return s->engine->expire(s, now_ms, max);
}

uint64_t
store_expired_through(const struct store *s)
{
	return s->engine->expired_through ? s->engine->expired_through(s) : 0;
}

int
store_follow(struct store *s, uint64_t *last_seq, store_counts_fn *fn,
    void *arg, char *err, size_t errsz)
{
	if (s->engine->follow == NULL)
		return 0;
	return s->engine->follow(s, last_seq, fn, arg, err, errsz);
}

size_t
store_index_bytes(const struct store *s)
{
	return s->engine->index_bytes(s);
}

uint64_t
store_last_seq(const struct store *s)
{
	return s->engine->last_seq(s);
}

size_t
store_topics(const struct store *s)
{
	return s->engine->topics(s);
}

const char *
store_engine_name(const struct store *s)
{
	return s->engine->name;
}

int
store_backup(const char *where, const char *dest, uint64_t *events,
    char *err, size_t errsz)
{
	if (sqlite_only(where, "--backup", err, errsz) == -1)
		return -1;
	return sqlite_store_backup(where, dest, events, err, errsz);
}

long
store_check(const char *where, store_report_fn *report, void *arg,
    uint64_t *events, char *err, size_t errsz)
{
	if (sqlite_only(where, "--check", err, errsz) == -1)
		return -1;
	return sqlite_store_check(where, report, arg, events, err, errsz);
}

long
store_salvage(const char *where, const char *dest, store_report_fn *report,
    void *arg, uint64_t *kept, char *err, size_t errsz)
{
	if (sqlite_only(where, "--salvage", err, errsz) == -1)
		return -1;
	return sqlite_store_salvage(where, dest, report, arg, kept, err, errsz);
}

int
store_restore(const char *backup, const char *where, uint64_t *events,
    char *err, size_t errsz)
{
	if (sqlite_only(where, "--restore", err, errsz) == -1)
		return -1;
	return sqlite_store_restore(backup, where, events, err, errsz);
}

struct store_reader *
store_reader_open(struct store *s, char *err, size_t errsz)
{
	return s->engine->reader_open(s, err, errsz);
}

void
store_reader_close(struct store_reader *r)
{
	if (r != NULL)
		r->engine->close(r);
}

int
store_read_topics(struct store_reader *r, const char *after,
    store_name_fn *fn, void *arg)
{
	return r->engine->read_topics(r, after, fn, arg);
}

int
store_topic_id(struct store_reader *r, const char *topic, int64_t *id)
{
	return r->engine->topic_id(r, topic, id);
}

int
store_read_events(struct store_reader *r, int64_t topic_id,
    const struct store_range *q, store_event_fn *fn, void *arg)
{
	return r->engine->read_events(r, topic_id, q, fn, arg);
}

int
store_find(struct store_reader *r, const char *topic, size_t topic_len,
    const char *event_id, size_t event_id_len, const struct store_range *q,
    store_event_fn *fn, void *arg)
{
	return r->engine->find(r, topic, topic_len, event_id, event_id_len, q,
	    fn, arg);
}

int
store_seq_at(struct store_reader *r, int64_t ms, int64_t *seq)
{
	return r->engine->seq_at(r, ms, seq);
}
