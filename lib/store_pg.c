/*
 * store_pg.c - the PostgreSQL engine's writer: the schema, commits and
 * the counters; see store_pg.h for the cursor design.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "store_pg.h"

/* Taken first, held to the commit: commits in seq order. */
static const char lock_sql[] =
    "SELECT 1 FROM agg_head WHERE id = 1 FOR UPDATE";

/*
 * One transaction's work in one statement: new topics numbered in the
 * order they first appear; the events not stored yet, the first copy of
 * each identity, numbered from the head's seq in input order (so seqs
 * stay dense, as in SQLite: the head's lock, held by every writer, makes
 * the NOT EXISTS exact, and ON CONFLICT is only the last guard); the
 * counters and the head (whose commit number marks the counters it
 * changed, for the other aggd: store_pg_watch.c).  Answers rows (kind,
 * a, b, c, d, e, f): 0 an input position stored (a), 1 a topic's id and
 * totals, 2 the head's seq and topics and the commit's received_at (c).
 */
static const char commit_sql[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[],"
    "  $4::text[], $5::text[]) WITH ORDINALITY"
    "  AS u(topic, event_id, ts, source, payload, ord)),"
    " h AS (SELECT last_seq, topics, commits + 1 AS cn,"
    "  greatest($6::bigint, last_ms) AS ms"
    "  FROM agg_head WHERE id = 1),"
    " fresh AS (SELECT topic, min(ord) AS first FROM u WHERE NOT EXISTS"
    "  (SELECT 1 FROM agg_topics t WHERE t.name = u.topic) GROUP BY topic),"
    " nt AS (INSERT INTO agg_topics (id, name)"
    "  SELECT h.topics + row_number() OVER (ORDER BY first), topic"
    "  FROM fresh CROSS JOIN h RETURNING id, name),"
    " t AS (SELECT id, name FROM agg_topics"
    "  WHERE name IN (SELECT topic FROM u)"
    "  UNION ALL SELECT id, name FROM nt),"
    " cand AS (SELECT DISTINCT ON (t.id, u.event_id) u.ord,"
    "  t.id AS topic_id, u.event_id, u.ts, u.source, u.payload"
    "  FROM u JOIN t ON t.name = u.topic WHERE NOT EXISTS (SELECT 1"
    "  FROM agg_events e WHERE e.topic_id = t.id"
    "  AND e.event_id = u.event_id) ORDER BY t.id, u.event_id, u.ord),"
    " num AS (SELECT cand.*, h.last_seq + row_number() OVER"
    "  (ORDER BY cand.ord) AS seq FROM cand CROSS JOIN h),"
    " ins AS (INSERT INTO agg_events"
    "  (seq, topic_id, event_id, ts, source, payload, received_ms)"
    "  SELECT num.seq, num.topic_id, num.event_id, num.ts, num.source,"
	    "  num.payload, h.ms FROM num CROSS JOIN h ORDER BY num.seq"
    "  ON CONFLICT (topic_id, event_id) DO NOTHING RETURNING seq,"
    "  octet_length(ts) + octet_length(source) + octet_length(payload)"
    "  AS bytes),"
    " got AS (SELECT num.ord, num.topic_id FROM ins JOIN num"
    "  ON num.seq = ins.seq),"
    " r AS (SELECT t.id AS topic_id, count(*) AS received"
    "  FROM u JOIN t ON t.name = u.topic GROUP BY t.id),"
    " g AS (SELECT topic_id, count(*) AS uniq FROM got GROUP BY topic_id),"
    " c AS (SELECT r.topic_id, r.received, coalesce(g.uniq, 0) AS uniq"
    "  FROM r LEFT JOIN g ON g.topic_id = r.topic_id),"
    " up AS (INSERT INTO agg_counts"
    "  SELECT c.topic_id, c.received, c.uniq, c.received - c.uniq, h.ms,"
    "  h.cn"
    "  FROM c CROSS JOIN h ON CONFLICT (topic_id) DO UPDATE SET"
    "  received = agg_counts.received + excluded.received,"
    "  uniq = agg_counts.uniq + excluded.uniq,"
    "  duplicates = agg_counts.duplicates + excluded.duplicates,"
    "  last_ms = excluded.last_ms, commit_no = excluded.commit_no"
    "  RETURNING topic_id, received, uniq, duplicates, last_ms, expired),"
    " hd AS (UPDATE agg_head SET"
    "  last_seq = coalesce((SELECT max(seq) FROM ins), agg_head.last_seq),"
    "  topics = agg_head.topics + (SELECT count(*) FROM nt),"
    "  last_ms = (SELECT ms FROM h), commits = (SELECT cn FROM h),"
    "  stored_bytes = agg_head.stored_bytes + (SELECT coalesce(sum(bytes),"
    "  0) FROM ins)"
    "  WHERE id = 1 RETURNING last_seq, topics)"
    " SELECT 0, got.ord, 0, 0, 0, 0, 0 FROM got"
    " UNION ALL SELECT 1, topic_id, received, uniq, duplicates, last_ms,"
    "  expired"
    "  FROM up"
    " UNION ALL SELECT 2, hd.last_seq, hd.topics, h.ms, 0, 0, 0"
    "  FROM hd CROSS JOIN h";

struct pg_store {
	struct store	 base;		/* first: a struct store * is this */
	PGconn		*db;		/* NULL while the database is away */
	char		*uri;
	struct pg_retry	 retry;
	struct pg_watch	*watch;		/* maintain's thread's */
	int		 commits_unsaid;	/* for the watch to NOTIFY */
	uint64_t	 last_seq, head_topics;
	uint64_t	 expired_through;	/* pg_note_expired */
	struct store_counts *totals;	/* index i: topic id i + 1 */
	size_t		 ntopics, totals_cap;
	int64_t		*touched;	/* by the last commit */
	size_t		 ntouched, touched_cap;
	struct buf	 arr[5];	/* the commit's binary text[] */
	unsigned char	*stored;	/* per input position */
	size_t		 stored_cap;
};

const char *
pg_store_uri(const struct store *st)
{
	return ((const struct pg_store *)st)->uri;
}

/* The binary form of a one-dimensional text[] (array_recv). */
static int
arr_put32(struct buf *b, uint32_t v)
{
	v = htonl(v);
	return buf_append(b, &v, 4);
}

static int
arr_begin(struct buf *b, size_t n)
{
	b->len = 0;
	return arr_put32(b, 1) == -1 || arr_put32(b, 0) == -1 ||
	    arr_put32(b, 25) == -1 /* text */ || arr_put32(b, (uint32_t)n) ==
	    -1 || arr_put32(b, 1) == -1 ? -1 : 0;
}

static int
arr_add(struct buf *b, const char *p, size_t len)
{
	return arr_put32(b, (uint32_t)len) == -1 ? -1 : buf_append(b, p, len);
}

/*
 * A topic's totals from row of r, its columns from col on: id,
 * received, unique, duplicates, last_ms, expired.  The id, or 0 when it
 * is not one or memory ran out.
 */
static size_t
take_totals(struct pg_store *s, const PGresult *r, int row, int col)
{
	size_t id = strtoull(PQgetvalue(r, row, col), NULL, 10);
	struct store_counts *c;

	if (id == 0 || array_grow(&s->totals, &s->totals_cap, id,
	    sizeof(*s->totals), 64) == -1)
		return 0;
	while (s->ntopics < id)
		memset(&s->totals[s->ntopics++], 0, sizeof(*c));
	c = &s->totals[id - 1];
	c->received = strtoull(PQgetvalue(r, row, col + 1), NULL, 10);
	c->unique = strtoull(PQgetvalue(r, row, col + 2), NULL, 10);
	c->duplicates = strtoull(PQgetvalue(r, row, col + 3), NULL, 10);
	c->last_ms = strtoull(PQgetvalue(r, row, col + 4), NULL, 10);
	c->expired = strtoull(PQgetvalue(r, row, col + 5), NULL, 10);
	return id;
}

static int
load(struct pg_store *s, char *err, size_t errsz)
{
	PGresult *r;
	int i, n, ok;

	r = PQexec(s->db, "SELECT last_seq, topics, expired_through FROM"
	    " agg_head WHERE id = 1");
	if ((ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)) {
		s->last_seq = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
		s->head_topics = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
		pg_note_expired(&s->base, strtoull(PQgetvalue(r, 0, 2), NULL,
		    10));
	}
	if (!ok)
		pg_errmsg(s->db, r, err, errsz);
	PQclear(r);
	if (!ok)
		return -1;
	r = PQexec(s->db, "SELECT topic_id, received, uniq, duplicates,"
	    " last_ms, expired FROM agg_counts ORDER BY topic_id");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pg_errmsg(s->db, r, err, errsz);
		PQclear(r);
		return -1;
	}
	n = PQntuples(r);
	for (i = 0; i < n; i++)
		if (take_totals(s, r, i, 0) == 0) {
			snprintf(err, errsz, "out of memory");
			PQclear(r);
			return -1;
		}
	PQclear(r);
	return 0;
}

static int
prepare(struct pg_store *s, char *err, size_t errsz)
{
	PGresult *r;
	int ok;

	if (pg_schema(s->db, err, errsz) == -1)
		return -1;
	r = PQprepare(s->db, "agg_lock", lock_sql, 0, NULL);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	if (ok) {
		r = PQprepare(s->db, "agg_commit", commit_sql, 0, NULL);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	if (!ok)
		pg_errmsg(s->db, r, err, errsz);
	PQclear(r);
	return ok ? 0 : -1;
}

/* A new writer's connection: the schema checked, the statements prepared. */
static int
setup(PGconn *db, void *arg, char *err, size_t errsz)
{
	struct pg_store *s = arg;

	s->db = db;
	return prepare(s, err, errsz) == 0 && load(s, err, errsz) == 0 ? 0 :
	    -1;
}

static int
connected(struct pg_store *s, char *err, size_t errsz)
{
	return pg_reconnect(&s->db, &s->retry, s->uri, setup, s, err, errsz);
}

static void pg_close(struct store *);
extern const struct store_engine pg_engine;

/*
 * A database that cannot be reached yet is no reason not to start: the
 * writer connects when it can.  One that answers with the wrong schema
 * is.
 */
struct store *
pg_store_open(const char *uri, char *err, size_t errsz)
{
	struct pg_store *s;
	char why[300];

	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->uri = strdup(uri)) == NULL ||
	    (s->watch = pg_watch_new(uri)) == NULL) {
		if (s)
			free(s->uri);
		free(s);
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	s->base.engine = &pg_engine;
	for (int i = 0; i < 5; i++)
		buf_init(&s->arr[i]);
	if ((s->db = pg_connect(uri, why, sizeof(why))) == NULL) {
		snprintf(err, errsz, "PostgreSQL: %s", why);
		pg_retry_failed(&s->retry, err);
		*err = '\0';
		return &s->base;
	}
	if (prepare(s, why, sizeof(why)) == 0 && load(s, why, sizeof(why)) ==
	    0)
		return &s->base;
	snprintf(err, errsz, "PostgreSQL store: %s", why);
	pg_close(&s->base);
	return NULL;
}

static void
pg_close(struct store *st)
{
	struct pg_store *s = (struct pg_store *)st;

	PQfinish(s->db);
	pg_watch_free(s->watch);
	for (int i = 0; i < 5; i++)
		buf_free(&s->arr[i]);
	free(s->totals);
	free(s->touched);
	free(s->stored);
	free(s->uri);
	free(s);
}

/* The five text[] of the batches that are not refused; how many events. */
static int
build_arrays(struct pg_store *s, struct event_batch *const *b, size_t n,
    const struct store_counts *res, size_t *events)
{
	struct event_fields f;
	size_t i, j, total = 0;

	for (i = 0; i < n; i++)
		total += res[i].refused ? 0 : b[i]->n;
	for (i = 0; i < 5; i++)
		if (arr_begin(&s->arr[i], total) == -1)
			return -1;
	for (i = 0; i < n; i++) {
		if (res[i].refused)
			continue;
		for (j = 0; j < b[i]->n; j++) {
			event_fields(b[i], j, &f);
			if (arr_add(&s->arr[0], f.topic, f.topic_len) == -1 ||
			    arr_add(&s->arr[1], f.event_id, f.event_id_len) ==
			    -1 || arr_add(&s->arr[2], f.timestamp,
			    f.timestamp_len) == -1 || arr_add(&s->arr[3],
			    f.source, f.source_len) == -1 ||
			    arr_add(&s->arr[4], f.payload, f.payload_len) == -1)
				return -1;
		}
	}
	*events = total;
	return 0;
}

/*
 * Sends the work: pipelined behind the lock (one round trip to the
 * commit), or alone in the slow path's transaction, which holds the lock.
 */
static int
send_commit(struct pg_store *s, int pipelined)
{
	const char *values[6];
	int lengths[6], formats[6] = { 1, 1, 1, 1, 1, 0 };
	char ms[24];
	int i;

	for (i = 0; i < 5; i++) {
		values[i] = s->arr[i].data;
		lengths[i] = (int)s->arr[i].len;
	}
	snprintf(ms, sizeof(ms), "%llu", (unsigned long long)wall_ms());
	values[5] = ms;
	lengths[5] = 0;
	if (!pipelined)
		return PQsendQueryPrepared(s->db, "agg_commit", 6, values,
		    lengths, formats, 0) == 1 ? 0 : -1;
	return PQenterPipelineMode(s->db) == 1 &&
	    PQsendQueryPrepared(s->db, "agg_lock", 0, NULL, NULL, NULL, 0) ==
	    1 && PQsendQueryPrepared(s->db, "agg_commit", 6, values, lengths,
	    formats, 0) == 1 && PQpipelineSync(s->db) == 1 ? 0 : -1;
}

/* One topic's totals from the commit's answer, noted as touched. */
static int
note_totals(struct pg_store *s, const PGresult *r, int row)
{
	size_t id;

	if (array_grow(&s->touched, &s->touched_cap, s->ntouched + 1,
	    sizeof(*s->touched), 64) == -1 || (id = take_totals(s, r, row, 1)) ==
	    0)
		return -1;
	s->touched[s->ntouched++] = (int64_t)id;
	return 0;
}

/* The work's answer: which positions were stored, the totals, the head. */
static int
take_answer(struct pg_store *s, const PGresult *r, size_t events,
    uint64_t *ms)
{
	int i, n = PQntuples(r);
	size_t pos;

	memset(s->stored, 0, events);
	for (i = 0; i < n; i++)
		switch (atoi(PQgetvalue(r, i, 0))) {
		case 0:
			pos = strtoull(PQgetvalue(r, i, 1), NULL, 10);
			if (pos == 0 || pos > events)
				return -1;
			s->stored[pos - 1] = 1;
			break;
		case 1:
			if (note_totals(s, r, i) == -1)
				return -1;
			break;
		case 2:
			s->last_seq = strtoull(PQgetvalue(r, i, 1), NULL, 10);
			s->head_topics = strtoull(PQgetvalue(r, i, 2), NULL,
			    10);
			*ms = strtoull(PQgetvalue(r, i, 3), NULL, 10);
			break;
		}
	return 0;
}

/* The pipeline's results, to its sync: 0, or -1 with err set. */
static int
finish_commit(struct pg_store *s, size_t events, uint64_t *ms, char *err,
    size_t errsz)
{
	PGresult *r;
	int query = 0, failed = 0, synced = 0;

	/* Each query's results end in a NULL; the sync's does not. */
	while (!synced && query <= 2) {
		if ((r = PQgetResult(s->db)) == NULL) {
			if (PQstatus(s->db) == CONNECTION_BAD)
				break;
			query++;
			continue;
		}
		switch (PQresultStatus(r)) {
		case PGRES_PIPELINE_SYNC:
			synced = 1;
			break;
		case PGRES_TUPLES_OK:
			if (query == 1 && !failed &&
			    take_answer(s, r, events, ms) == -1) {
				snprintf(err, errsz, "PostgreSQL store: an"
				    " answer out of range");
				failed = 1;
			}
			break;
		case PGRES_PIPELINE_ABORTED:
			break;
		default:
			if (!failed)
				pg_errmsg(s->db, r, err, errsz);
			failed = 1;
		}
		PQclear(r);
	}
	(void)PQexitPipelineMode(s->db);
	if (!synced) {
		pg_errmsg(s->db, NULL, err, errsz);
		return STORE_UNAVAILABLE;
	}
	return failed ? STORE_ERROR : 0;
}

/* The commit statement in the slow path's open transaction, and COMMIT. */
static int
commit_checked(struct pg_store *s, size_t events, uint64_t *ms, char *err,
    size_t errsz)
{
	PGresult *r;
	int bad;

	if (send_commit(s, 0) == -1)
		return -1;
	r = pg_exec_ok(s->db, PQgetResult(s->db), PGRES_TUPLES_OK, err,
	    errsz);
	if (r == NULL)
		return -1;
	bad = take_answer(s, r, events, ms) == -1;
	PQclear(r);
	while ((r = PQgetResult(s->db)) != NULL)
		PQclear(r);
	if (bad) {
		snprintf(err, errsz, "PostgreSQL store: an answer out of"
		    " range");
		return -1;
	}
	r = pg_exec_ok(s->db, PQexec(s->db, "COMMIT"), PGRES_COMMAND_OK, err,
	    errsz);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

/*
 * What a failure means: a connection that broke (the outcome of a commit
 * unknown, the database perhaps gone) is STORE_UNAVAILABLE and is made
 * again at the next commit; anything else is an error of this commit
 * only, rolled back.
 */
static int
after_failure(struct pg_store *s)
{
	if (PQstatus(s->db) != CONNECTION_OK ||
	    PQpipelineStatus(s->db) != PQ_PIPELINE_OFF) {
		PQfinish(s->db);
		s->db = NULL;
		return STORE_UNAVAILABLE;
	}
	if (PQtransactionStatus(s->db) != PQTRANS_IDLE)
		PQclear(PQexec(s->db, "ROLLBACK"));
	return STORE_ERROR;
}

static int
pg_commit(struct store *st, struct event_batch *const *b, size_t n,
    struct store_counts *res, char *err, size_t errsz)
{
	struct pg_store *s = (struct pg_store *)st;
	size_t i, j, events, pos = 0, all = 0;
	uint64_t ms = 0;
	int checked, rc;

	s->ntouched = 0;
	memset(res, 0, n * sizeof(*res));
	if (connected(s, err, errsz) == -1)
		return STORE_UNAVAILABLE;
	for (i = 0; i < n; i++)
		all += b[i]->n;
	/* Only a store that might pass its limit with this group pays. */
	checked = st->max_topics > 0 && s->head_topics + all > st->max_topics;
	if (checked && (build_arrays(s, b, n, res, &events) == -1 ||
	    pg_begin_checked(s->db, &s->arr[0], b, n,
	    st->max_topics, res, err, errsz) == -1))
		return after_failure(s);
	if (build_arrays(s, b, n, res, &events) == -1 ||
	    array_grow(&s->stored, &s->stored_cap, events + 1, 1, 256) == -1) {
		snprintf(err, errsz, "out of memory");
		return after_failure(s);
	}
	if (events == 0 && checked)
		PQclear(PQexec(s->db, "ROLLBACK"));
	if (events == 0)
		return 0;
	if (checked)
		rc = commit_checked(s, events, &ms, err, errsz);
	else if ((rc = send_commit(s, 1)) == -1)
		pg_errmsg(s->db, NULL, err, errsz);
	else
		rc = finish_commit(s, events, &ms, err, errsz);
	if (rc != 0) {
		s->ntouched = 0;
		return after_failure(s);
	}
	__atomic_store_n(&s->commits_unsaid, 1, __ATOMIC_RELEASE);
	for (i = 0; i < n; i++) {
		for (j = 0; j < b[i]->n && !res[i].refused; j++)
			res[i].unique += s->stored[pos++];
		res[i].received = res[i].refused ? 0 : b[i]->n;
		res[i].duplicates = res[i].received - res[i].unique;
		res[i].last_ms = ms;
	}
	return 0;
}

/*
 * Retention, one step under the head's lock (several aggd with retention
 * take turns, and the later finds nothing left to do): the events of
 * seqs ($1, $2] keep their rows, and so their identities and the unique
 * index that dedups, but lose ts, source and payload, whose space
 * PostgreSQL's vacuum reuses; readers show nothing at or below the
 * head's expired_through.  The counters changed carry the new commit
 * number, so the other aggd hear of them (store_pg_watch.c).  Answers
 * rows shaped as commit_sql's kind 1.
 */
static const char expire_sql[] =
    "WITH old AS (SELECT seq, topic_id, octet_length(ts) +"
    "  octet_length(source) + octet_length(payload) AS bytes"
    "  FROM agg_events WHERE seq > $1 AND seq <= $2),"
    " gone AS (UPDATE agg_events e SET ts = '', source = '', payload = ''"
    "  FROM old WHERE e.seq = old.seq),"
    " n AS (SELECT topic_id, count(*) AS k FROM old GROUP BY topic_id),"
    " hd AS (UPDATE agg_head SET expired_through = $2,"
    "  stored_bytes = stored_bytes - (SELECT coalesce(sum(bytes), 0)"
    "  FROM old), commits = commits + 1 WHERE id = 1 RETURNING commits),"
    " c AS (UPDATE agg_counts SET expired = expired + n.k,"
    "  commit_no = (SELECT commits FROM hd) FROM n"
    "  WHERE agg_counts.topic_id = n.topic_id RETURNING agg_counts.*)"
    " SELECT 1, topic_id, received, uniq, duplicates, last_ms, expired"
    "  FROM c";

/* The head's figures under its lock: the last seq this step removes. */
static int
expire_end(struct pg_store *s, uint64_t now_ms, size_t max, uint64_t *from,
    uint64_t *end, char *err, size_t errsz)
{
	const struct store_retention *rt = &s->base.retain;
	uint64_t last, bytes, stored, n;
	char a[24], b[24], c[24];
	const char *v[3] = { a, b, c };
	PGresult *r;

	r = pg_exec_ok(s->db, PQexec(s->db, "SELECT expired_through, last_seq,"
	    " stored_bytes FROM agg_head WHERE id = 1 FOR UPDATE"),
	    PGRES_TUPLES_OK, err, errsz);
	if (r == NULL)
		return -1;
	*end = *from = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	last = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	bytes = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	if ((stored = last - *from) == 0)
		return 0;
	if (rt->max_bytes > 0 && bytes > rt->max_bytes) {
		n = (bytes - rt->max_bytes) / (bytes / stored + 1) + 1;
		n = n < max ? n : max;
		*end = *from + (n < stored ? n : stored);
		return 0;
	}
	if (rt->max_age_ms == 0 || now_ms <= rt->max_age_ms)
		return 0;
	snprintf(a, sizeof(a), "%llu", (unsigned long long)*from);
	snprintf(b, sizeof(b), "%zu", max);
	snprintf(c, sizeof(c), "%llu", (unsigned long long)(now_ms -
	    rt->max_age_ms));
	r = pg_exec_ok(s->db, PQexecParams(s->db, "SELECT coalesce(max(seq), 0)"
	    " FROM (SELECT seq, received_ms FROM agg_events WHERE seq > $1"
	    " ORDER BY seq LIMIT $2) o WHERE received_ms < $3", 3, NULL, v,
	    NULL, NULL, 0), PGRES_TUPLES_OK, err, errsz);
	if (r == NULL)
		return -1;
	if (strtoull(PQgetvalue(r, 0, 0), NULL, 10) > *end)
		*end = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

static int
pg_expire(struct store *st, uint64_t now_ms, size_t max)
{
	struct pg_store *s = (struct pg_store *)st;
	char err[300], a[24], b[24];
	const char *v[2] = { a, b };
	uint64_t from, end;
	PGresult *r;
	int i, rc = 0;

	s->ntouched = 0;
	if (connected(s, err, sizeof(err)) == -1)
		return 0;	/* the commits say so */
	if ((r = pg_exec_ok(s->db, PQexec(s->db, "BEGIN"), PGRES_COMMAND_OK,
	    err, sizeof(err))) == NULL ||
	    (PQclear(r), expire_end(s, now_ms, max, &from, &end, err,
	    sizeof(err))) == -1)
		goto fail;
	if (end > from) {
		snprintf(a, sizeof(a), "%llu", (unsigned long long)from);
		snprintf(b, sizeof(b), "%llu", (unsigned long long)end);
		r = pg_exec_ok(s->db, PQexecParams(s->db, expire_sql, 2, NULL,
		    v, NULL, NULL, 0), PGRES_TUPLES_OK, err, sizeof(err));
		if (r == NULL)
			goto fail;
		for (i = 0; i < PQntuples(r) && rc == 0; i++)
			rc = note_totals(s, r, i);
		PQclear(r);
		if (rc == -1) {
			snprintf(err, sizeof(err), "out of memory");
			goto fail;
		}
	}
	if ((r = pg_exec_ok(s->db, PQexec(s->db, "COMMIT"), PGRES_COMMAND_OK,
	    err, sizeof(err))) == NULL)
		goto fail;
	PQclear(r);
	pg_note_expired(st, end);
	if (end == from)
		return 0;
	__atomic_store_n(&s->commits_unsaid, 1, __ATOMIC_RELEASE);
	return 1;
fail:
	s->ntouched = 0;
	if (after_failure(s) == STORE_UNAVAILABLE)
		return 0;	/* the commits say so; the step comes again */
	log_warnx("retention: a step failed: %s", err);
	return STORE_ERROR;
}

void
pg_note_expired(struct store *st, uint64_t seq)
{
	struct pg_store *s = (struct pg_store *)st;
	uint64_t was = __atomic_load_n(&s->expired_through, __ATOMIC_RELAXED);

	while (seq > was && !__atomic_compare_exchange_n(&s->expired_through,
	    &was, seq, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

static uint64_t
pg_expired_through(const struct store *st)
{
	return __atomic_load_n(&((const struct pg_store *)st)->expired_through,
	    __ATOMIC_RELAXED);
}

int
pg_take_commits(struct store *st)
{
	struct pg_store *s = (struct pg_store *)st;

	return __atomic_exchange_n(&s->commits_unsaid, 0, __ATOMIC_ACQ_REL);
}

struct pg_watch *
pg_store_watch(struct store *st)
{
	return ((struct pg_store *)st)->watch;
}

static int
pg_topic_counts(const struct store *st, int all, store_counts_fn *fn,
    void *arg)
{
	const struct pg_store *s = (const struct pg_store *)st;
	size_t i, n = all ? s->ntopics : s->ntouched;
	int64_t id;

	for (i = 0; i < n; i++) {
		id = all ? (int64_t)i + 1 : s->touched[i];
		if (fn(id, &s->totals[id - 1], arg) == -1)
			return -1;
	}
	return 0;
}

static size_t
pg_index_bytes(const struct store *st)
{
	(void)st;
	return 0;	/* the database's unique index does it */
}

static uint64_t
pg_last_seq(const struct store *st)
{
	return ((const struct pg_store *)st)->last_seq;
}

static size_t
pg_topics(const struct store *st)
{
	return ((const struct pg_store *)st)->ntopics;
}

const struct store_engine pg_engine = {
	.name = "postgresql",
	.commit = pg_commit,
	.expire = pg_expire,
	.expired_through = pg_expired_through,
	.follow = pg_follow,
	.topic_counts = pg_topic_counts,
	.index_bytes = pg_index_bytes,
	.last_seq = pg_last_seq,
	.topics = pg_topics,
	.reader_open = pg_reader_open,
	.close = pg_close,
};
