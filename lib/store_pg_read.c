/*
 * store_pg_read.c - the PostgreSQL engine's readers: one connection each,
 * every read one statement (so one snapshot, which holds every seq below
 * its highest: see store_pg.h), none at or below the head's
 * expired_through (retention: store_pg_expire.c).  Names compare as
 * bytes (COLLATE "C"), as in the SQLite engine, whatever the database's
 * collation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

#define TOPICS_PAGE	1000

struct pg_reader {
	struct store_reader base;	/* first */
	PGconn		*db;		/* NULL while the database is away */
	const char	*uri;		/* the store's */
	struct pg_retry	 retry;
};

static const char events_sql[] =
    "SELECT e.seq, e.received_ms, t.name, e.event_id, e.ts, e.source,"
    " e.payload FROM agg_events e JOIN agg_topics t ON t.id = e.topic_id"
    " WHERE e.seq > $1 AND e.seq < $2 AND ($3 = 0 OR e.topic_id = $3)"
    " AND e.seq > (SELECT expired_through FROM agg_head WHERE id = 1)"
    " ORDER BY e.seq %s LIMIT $4";

static int
connected(struct pg_reader *rd)
{
	return pg_reconnect(&rd->db, &rd->retry, rd->uri, NULL, NULL,
	    rd->base.unavailable, sizeof(rd->base.unavailable));
}

/*
 * A failed read: the database's trouble (gone, shutting down, a statement
 * cancelled), never the store's damage, so a retry later may do.
 */
static int
ok_or_err(struct pg_reader *rd, PGresult *r)
{
	if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK)
		return 0;
	if (rd->db != NULL) {
		pg_errmsg(rd->db, r, rd->base.unavailable,
		    sizeof(rd->base.unavailable));
		if (PQstatus(rd->db) != CONNECTION_OK)
			pg_retry_failed(&rd->retry, rd->base.unavailable);
	}
	PQclear(r);
	return -1;
}

static PGresult *
query(struct pg_reader *rd, const char *sql, int n, const char *const *v)
{
	*rd->base.damage = '\0';
	*rd->base.unavailable = '\0';
	if (connected(rd) == -1)
		return NULL;
	return PQexecParams(rd->db, sql, n, NULL, v, NULL, NULL, 0);
}

static int
pg_read_topics(struct store_reader *st, const char *after, store_name_fn *fn,
    void *arg)
{
	struct pg_reader *rd = (struct pg_reader *)st;
	char *last = strdup(after), lim[16];
	PGresult *r;
	int i, n, rc = 0;

	snprintf(lim, sizeof(lim), "%d", TOPICS_PAGE);
	do {
		const char *v[2] = { last, lim };

		if (last == NULL)
			return -1;
		r = query(rd, "SELECT id, name FROM agg_topics WHERE name >"
		    " $1 COLLATE \"C\" ORDER BY name COLLATE \"C\" LIMIT $2",
		    2, v);
		if (ok_or_err(rd, r) == -1) {
			free(last);
			return -1;
		}
		n = PQntuples(r);
		for (i = 0; i < n && rc == 0; i++)
			rc = fn(strtoll(PQgetvalue(r, i, 0), NULL, 10),
			    PQgetvalue(r, i, 1), arg);
		free(last);
		last = n > 0 ? strdup(PQgetvalue(r, n - 1, 1)) : NULL;
		PQclear(r);
	} while (rc == 0 && n == TOPICS_PAGE);
	free(last);
	return rc == -1 ? -1 : 0;
}

static int
pg_topic_id(struct store_reader *st, const char *topic, int64_t *id)
{
	struct pg_reader *rd = (struct pg_reader *)st;
	const char *v[1] = { topic };
	PGresult *r;
	int found;

	r = query(rd, "SELECT id FROM agg_topics WHERE name = $1", 1, v);
	if (ok_or_err(rd, r) == -1)
		return -1;
	if ((found = PQntuples(r) == 1))
		*id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return found ? 0 : 1;
}

/* Row i of an events answer to fn. */
static int
row_to(const PGresult *r, int i, store_event_fn *fn, void *arg)
{
	struct event_stored st;
	struct event_fields f;

	st.seq = strtoll(PQgetvalue(r, i, 0), NULL, 10);
	st.received_ms = strtoll(PQgetvalue(r, i, 1), NULL, 10);
	f.topic = PQgetvalue(r, i, 2);
	f.topic_len = (size_t)PQgetlength(r, i, 2);
	f.event_id = PQgetvalue(r, i, 3);
	f.event_id_len = (size_t)PQgetlength(r, i, 3);
	f.timestamp = PQgetvalue(r, i, 4);
	f.timestamp_len = (size_t)PQgetlength(r, i, 4);
	f.source = PQgetvalue(r, i, 5);
	f.source_len = (size_t)PQgetlength(r, i, 5);
	f.payload = PQgetvalue(r, i, 6);
	f.payload_len = (size_t)PQgetlength(r, i, 6);
	return fn(&f, &st, arg);
}

static int
pg_read_events(struct store_reader *st, int64_t topic_id,
    const struct store_range *q, store_event_fn *fn, void *arg)
{
	struct pg_reader *rd = (struct pg_reader *)st;
	char a[24], b[24], t[24], l[16], sql[sizeof(events_sql) + 8];
	const char *v[4] = { a, b, t, l };
	PGresult *r;
	int i, n, rc = 0;

	snprintf(a, sizeof(a), "%lld", (long long)q->after);
	snprintf(b, sizeof(b), "%lld", (long long)q->before);
	snprintf(t, sizeof(t), "%lld", (long long)topic_id);
	snprintf(l, sizeof(l), "%d", q->limit);
	snprintf(sql, sizeof(sql), events_sql, q->from_end ? "DESC" : "");
	r = query(rd, sql, 4, v);
	if (ok_or_err(rd, r) == -1)
		return -1;
	n = PQntuples(r);
	/* The newest limit of them, given oldest first like any page. */
	for (i = 0; i < n && rc == 0; i++)
		rc = row_to(r, q->from_end ? n - 1 - i : i, fn, arg);
	PQclear(r);
	return rc == -1 ? -1 : 0;
}

static int
pg_find(struct store_reader *st, const char *topic, size_t topic_len,
    const char *event_id, size_t event_id_len, const struct store_range *q,
    store_event_fn *fn, void *arg)
{
	struct pg_reader *rd = (struct pg_reader *)st;
	char *tp = strndup(topic, topic_len), *id = strndup(event_id,
	    event_id_len), a[24], b[24];
	const char *v[4] = { tp, id, a, b };
	PGresult *r;
	int rc = 0;

	if (tp == NULL || id == NULL) {
		free(tp);
		free(id);
		return -1;
	}
	snprintf(a, sizeof(a), "%lld", (long long)q->after);
	snprintf(b, sizeof(b), "%lld", (long long)q->before);
	r = query(rd, "SELECT e.seq, e.received_ms, t.name, e.event_id, e.ts,"
	    " e.source, e.payload FROM agg_events e JOIN agg_topics t"
	    " ON t.id = e.topic_id WHERE t.name = $1 AND e.event_id = $2"
	    " AND e.seq > $3 AND e.seq < $4 AND e.seq > (SELECT"
	    " expired_through FROM agg_head WHERE id = 1)", 4, v);
	free(tp);
	free(id);
	if (ok_or_err(rd, r) == -1)
		return -1;
	if (PQntuples(r) == 1)
		rc = row_to(r, 0, fn, arg);
	PQclear(r);
	return rc == -1 ? -1 : 0;
}

static int
pg_seq_at(struct store_reader *st, int64_t ms, int64_t *seq)
{
	struct pg_reader *rd = (struct pg_reader *)st;
	char m[24];
	const char *v[1] = { m };
	PGresult *r;

	snprintf(m, sizeof(m), "%lld", (long long)ms);
	r = query(rd, "SELECT coalesce((SELECT seq FROM agg_events WHERE"
	    " received_ms >= $1 ORDER BY received_ms, seq LIMIT 1),"
	    " (SELECT last_seq + 1 FROM agg_head WHERE id = 1))", 1, v);
	if (ok_or_err(rd, r) == -1)
		return -1;
	*seq = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static void
pg_reader_close(struct store_reader *st)
{
	struct pg_reader *rd = (struct pg_reader *)st;

	PQfinish(rd->db);
	free(rd);
}

static const struct store_reader_engine pg_reader_engine = {
	.close = pg_reader_close,
	.read_topics = pg_read_topics,
	.topic_id = pg_topic_id,
	.read_events = pg_read_events,
	.find = pg_find,
	.seq_at = pg_seq_at,
};

struct store_reader *
pg_reader_open(struct store *s, char *err, size_t errsz)
{
	struct pg_reader *rd;

	if ((rd = calloc(1, sizeof(*rd))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	rd->base.engine = &pg_reader_engine;
	rd->uri = pg_store_uri(s);
	(void)connected(rd);	/* or at the first read */
	(void)err;
	(void)errsz;
	return &rd->base;
}
