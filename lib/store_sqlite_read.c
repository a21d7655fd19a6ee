/*
 * store_sqlite_read.c - the reader side of the SQLite store.
 *
 * A separate connection in WAL mode: each page of events is read in its
 * own read transaction, from one committed snapshot, and no read waits
 * for the writer's commit or fsync.  Counters are not read here: a
 * snapshot may hold commits not yet durable, which readers must not
 * count (see ingest_readable in aggd); the caller bounds every read by
 * the seq it may show (store_range.before).
 *
 * A topic's events come from its runs (runs.h) up to meta.indexed and
 * from a scan of the few events after it (see store.c).  A page of the
 * newest events is read forward too, from the lowest seq among them,
 * which is found first: no page is held in memory to be turned round.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rowsum.h"
#include "runs.h"
#include "store_sqlite.h"

struct sqlite_reader {
	struct store_reader base;	/* first: a struct store_reader * is this */
	struct sqlite_store *store;	/* the writer's: identity candidates */
	sqlite3		*db;
	sqlite3_stmt	*topics, *topic_one, *page_all, *runs, *runs_back;
	sqlite3_stmt	*begin, *end, *indexed, *page_tail, *one;
	sqlite3_stmt	*low_all, *tail_back, *seq_probe, *seq_last;
};

/* What an event row holds, and its row's and its topic's sums. */
#define EVENT_COLS "e.seq, t.name, e.event_id, e.ts, e.source, e.payload," \
	" e.received_at, e.topic_id, e.fp, e.sum, t.sum FROM events e" \
	" JOIN topics t ON t.id = e.topic_id"	/* fields: SQLITE_FIELD_COLS */

static const char *const reader_sql[] = {
	"SELECT id, name FROM topics WHERE name > ? ORDER BY name",
	"SELECT id FROM topics WHERE name = ?",
	"SELECT " EVENT_COLS " WHERE e.seq > ? AND e.seq < ? ORDER BY e.seq"
	" LIMIT ?",
	"SELECT entries, last_seq FROM topic_runs WHERE topic_id = ? AND"
	" last_seq > ? ORDER BY last_seq",
	"SELECT entries, last_seq FROM topic_runs WHERE topic_id = ? AND"
	" last_seq > ? ORDER BY last_seq DESC",
	"BEGIN",
	"COMMIT",
	"SELECT value FROM meta WHERE name = 'indexed'",
	"SELECT " EVENT_COLS " WHERE e.topic_id = ? AND e.seq > ? AND"
	" e.seq < ? ORDER BY e.seq LIMIT ?",
	"SELECT " EVENT_COLS " WHERE e.seq = ?",
	"SELECT min(seq), count(*) FROM (SELECT seq FROM events WHERE seq > ?"
	" AND seq < ? ORDER BY seq DESC LIMIT ?)",
	"SELECT min(seq), count(*) FROM (SELECT seq FROM events WHERE"
	" topic_id = ? AND seq > ? AND seq < ? ORDER BY seq DESC LIMIT ?)",
	"SELECT seq, coalesce(received_at, 0) FROM events WHERE seq >= ?"
	" ORDER BY seq LIMIT 1",
	"SELECT coalesce(max(seq), 0) FROM events",
};

#define NSTMT	(sizeof(reader_sql) / sizeof(reader_sql[0]))

static sqlite3_stmt **
stmt_slot(struct sqlite_reader *r, size_t i)
{
	sqlite3_stmt **slots[NSTMT] = {
		&r->topics, &r->topic_one, &r->page_all, &r->runs,
		&r->runs_back, &r->begin, &r->end, &r->indexed, &r->page_tail,
		&r->one, &r->low_all, &r->tail_back, &r->seq_probe,
		&r->seq_last,
	};

	return slots[i];
}

static const struct store_reader_engine sqlite_reader_engine;
static void	reader_close(struct store_reader *);

struct store_reader *
sqlite_reader_open(struct store *st, char *err, size_t errsz)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	const char *path = sqlite3_db_filename(s->db, "main");
	struct sqlite_reader *r;
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->base.engine = &sqlite_reader_engine;
	r->store = s;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, "PRAGMA query_only=1; PRAGMA cache_size=-4096",
	    NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < NSTMT; i++)
		if (sqlite3_prepare_v3(r->db, reader_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, stmt_slot(r, i), NULL) != SQLITE_OK)
			goto fail;
	return &r->base;
fail:
	snprintf(err, errsz, "store %s: %s", path, r->db ?
	    sqlite3_errmsg(r->db) : "out of memory");
	reader_close(&r->base);
	return NULL;
}

static void
reader_close(struct store_reader *rd)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	size_t i;

	for (i = 0; i < NSTMT; i++)
		sqlite3_finalize(*stmt_slot(r, i));
	sqlite3_close(r->db);
	free(r);
}

static int
read_topics(struct store_reader *rd, const char *after, store_name_fn *fn,
    void *arg)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	int rc, said = 0;

	sqlite3_bind_text(r->topics, 1, after, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(r->topics)) == SQLITE_ROW &&
	    (said = fn(sqlite3_column_int64(r->topics, 0),
	    (const char *)sqlite3_column_text(r->topics, 1), arg)) == 0)
		;
	sqlite3_reset(r->topics);
	sqlite3_clear_bindings(r->topics);
	return rc == SQLITE_DONE || said == 1 ? 0 : -1;
}

static int
topic_id(struct store_reader *rd, const char *topic, int64_t *id)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	int rc;

	sqlite3_bind_text(r->topic_one, 1, topic, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(r->topic_one)) == SQLITE_ROW)
		*id = sqlite3_column_int64(r->topic_one, 0);
	sqlite3_reset(r->topic_one);
	return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* What fn's answer means for the page: go on, end it there, or fail. */
static int
fn_status(int r)
{
	return r == 0 ? SQLITE_DONE : r > 0 ? SQLITE_OK : SQLITE_ABORT;
}

/* 1, with the reader's damage set, when a row fails its sums. */
static int
row_damaged(struct sqlite_reader *r, sqlite3_stmt *st,
    const struct event_fields *f, const struct event_stored *at)
{
	int64_t topic_id = sqlite3_column_int64(st, 7);

	if (sqlite3_column_type(st, 9) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 9) != rowsum_event(at->seq, topic_id,
	    (uint64_t)sqlite3_column_int64(st, 8), sqlite3_column_int64(st, 6),
	    f)) {
		snprintf(r->base.damage, sizeof(r->base.damage), "event seq"
		    " %lld fails its checksum", (long long)at->seq);
		return 1;
	}
	if (sqlite3_column_type(st, 10) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 10) != sqlite_topic_sum(topic_id,
	    f->topic, f->topic_len)) {
		snprintf(r->base.damage, sizeof(r->base.damage), "topic %lld"
		    " (of event seq %lld) fails its checksum",
		    (long long)topic_id, (long long)at->seq);
		return 1;
	}
	return 0;
}

/* The row of an event query (EVENT_COLS) to fn, once its sums hold. */
static int
row_to_fn(struct sqlite_reader *r, sqlite3_stmt *st, store_event_fn *fn,
    void *arg)
{
	struct event_fields f;
	struct event_stored at;

	f.topic = (const char *)sqlite3_column_text(st, 1);
	f.topic_len = (size_t)sqlite3_column_bytes(st, 1);
	sqlite_row_fields(st, 2, &f);
	at.seq = sqlite3_column_int64(st, 0);
	at.received_ms = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 6);
	if (row_damaged(r, st, &f, &at))
		return SQLITE_CORRUPT;
	return fn_status(fn(&f, &at, arg));
}

/*
 * Steps a page query bound to ([id,] after, before, limit), passing rows
 * to fn and counting them in *n: SQLITE_DONE, SQLITE_OK when fn ended the
 * page, SQLITE_ABORT when it failed, or an error.
 */
static int
page_run(struct sqlite_reader *r, sqlite3_stmt *page, int64_t id,
    const struct store_range *q, int limit, store_event_fn *fn, void *arg,
    int *n)
{
	int rc, col = 1;

	if (id != 0)
		sqlite3_bind_int64(page, col++, id);
	sqlite3_bind_int64(page, col++, q->after);
	sqlite3_bind_int64(page, col++, q->before);
	sqlite3_bind_int(page, col, limit);
	while ((rc = sqlite3_step(page)) == SQLITE_ROW) {
		++*n;
		if ((rc = row_to_fn(r, page, fn, arg)) != SQLITE_DONE)
			break;
	}
	sqlite3_reset(page);
	return rc;
}

/* Passes event seq to fn and counts it in *n; like page_run. */
static int
one_event(struct sqlite_reader *r, uint64_t seq, store_event_fn *fn, void *arg,
    int *n)
{
	int rc;

	sqlite3_bind_int64(r->one, 1, (int64_t)seq);
	if ((rc = sqlite3_step(r->one)) == SQLITE_ROW) {
		++*n;
		rc = row_to_fn(r, r->one, fn, arg);
	}
	sqlite3_reset(r->one);
	return rc;
}

/* The events of one run within the range, up to limit in all. */
static int
run_events(struct sqlite_reader *r, const void *blob, size_t len,
    const struct store_range *q, store_event_fn *fn, void *arg, int *n)
{
	uint64_t seq, fp;
	size_t i;
	int rc = SQLITE_DONE;

	for (i = 0; i < len && *n < q->limit && rc == SQLITE_DONE; i++) {
		run_entry(blob, i, &seq, &fp);
		if (seq >= (uint64_t)q->before)
			return SQLITE_OK;	/* nothing further is in range */
		if (seq > (uint64_t)q->after)
			rc = one_event(r, seq, fn, arg, n);
	}
	return rc;
}

/* 1, with the reader's damage set, when a run's row fails its sum. */
static int
run_row_damaged(struct sqlite_reader *r, sqlite3_stmt *st, int64_t id)
{
	int64_t last_seq = sqlite3_column_int64(st, 1);
	size_t n;

	if (run_verify(id, last_seq, sqlite3_column_blob(st, 0),
	    (size_t)sqlite3_column_bytes(st, 0), &n) == 0)
		return 0;
	snprintf(r->base.damage, sizeof(r->base.damage), "the run of topic"
	    " %lld ending at seq %lld fails its checksum", (long long)id,
	    (long long)last_seq);
	return 1;
}

/* Like page_run, from the topic's runs. */
static int
runs_page(struct sqlite_reader *r, int64_t id, const struct store_range *q,
    store_event_fn *fn, void *arg, int *n)
{
	int rc = SQLITE_DONE;

	sqlite3_bind_int64(r->runs, 1, id);
	sqlite3_bind_int64(r->runs, 2, q->after);
	while (rc == SQLITE_DONE && *n < q->limit &&
	    (rc = sqlite3_step(r->runs)) == SQLITE_ROW)
		rc = run_row_damaged(r, r->runs, id) ? SQLITE_CORRUPT :
		    run_events(r, sqlite3_column_blob(r->runs, 0),
		    (size_t)sqlite3_column_bytes(r->runs, 0) / RUN_ENTRY, q, fn,
		    arg, n);
	sqlite3_reset(r->runs);
	return rc;
}

static int
read_indexed(struct sqlite_reader *r, int64_t *indexed)
{
	int rc;

	if ((rc = sqlite3_step(r->indexed)) == SQLITE_ROW)
		*indexed = sqlite3_column_int64(r->indexed, 0);
	sqlite3_reset(r->indexed);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* A topic's page: from its runs as far as they go, then the rest. */
static int
topic_page(struct sqlite_reader *r, int64_t id, const struct store_range *q,
    store_event_fn *fn, void *arg)
{
	struct store_range tail = *q;
	int64_t indexed = 0;
	int rc, n = 0;

	if ((rc = read_indexed(r, &indexed)) != SQLITE_DONE)
		return rc;
	if (q->after < indexed)
		rc = runs_page(r, id, q, fn, arg, &n);
	if (rc == SQLITE_DONE && n < q->limit) {
		tail.after = q->after > indexed ? q->after : indexed;
		rc = page_run(r, r->page_tail, id, &tail, q->limit - n, fn,
		    arg, &n);
	}
	return rc;
}

/*
 * Of a run's entries within (after, before), newest first: counts them
 * in *n up to limit and keeps the lowest seq in *low.
 */
static void
run_back(const void *blob, size_t len, const struct store_range *q,
    int *n, int64_t *low)
{
	uint64_t seq, fp;
	size_t i;

	for (i = len; i-- > 0 && *n < q->limit; ) {
		run_entry(blob, i, &seq, &fp);
		if (seq <= (uint64_t)q->after)
			return;
		if (seq < (uint64_t)q->before) {
			*low = (int64_t)seq;
			++*n;
		}
	}
}

/*
 * *low: the lowest seq among the newest q->limit events of topic id (0:
 * of all) within the range; q->before when there are none.
 */
static int
newest_low(struct sqlite_reader *r, int64_t id, const struct store_range *q,
    int64_t *low)
{
	sqlite3_stmt *st = id ? r->tail_back : r->low_all;
	int64_t indexed = 0;
	int rc, col = 1, n = 0;

	*low = q->before;
	if (id && (rc = read_indexed(r, &indexed)) != SQLITE_DONE)
		return rc;
	if (id)
		sqlite3_bind_int64(st, col++, id);
	sqlite3_bind_int64(st, col++, q->after > indexed ? q->after : indexed);
	sqlite3_bind_int64(st, col++, q->before);
	sqlite3_bind_int(st, col, q->limit);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    (n = sqlite3_column_int(st, 1)) > 0)
		*low = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW)
		return rc;
	if (id == 0 || n >= q->limit || indexed <= q->after)
		return SQLITE_DONE;
	sqlite3_bind_int64(r->runs_back, 1, id);
	sqlite3_bind_int64(r->runs_back, 2, q->after);
	while (n < q->limit && (rc = sqlite3_step(r->runs_back)) == SQLITE_ROW &&
	    !run_row_damaged(r, r->runs_back, id))
		run_back(sqlite3_column_blob(r->runs_back, 0),
		    (size_t)sqlite3_column_bytes(r->runs_back, 0) / RUN_ENTRY, q,
		    &n, low);
	sqlite3_reset(r->runs_back);
	if (*r->base.damage)
		return SQLITE_CORRUPT;
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_DONE : rc;
}

static int
read_range(struct sqlite_reader *r, int64_t topic_id,
    const struct store_range *range, store_event_fn *fn, void *arg)
{
	struct store_range q = *range;
	int64_t low;
	int rc, n = 0;

	if (q.from_end) {
		if ((rc = newest_low(r, topic_id, &q, &low)) != SQLITE_DONE)
			return rc;
		q.after = low - 1;
	}
	if (q.after >= q.before - 1)	/* before >= 1: no overflow */
		return SQLITE_DONE;
	return topic_id ? topic_page(r, topic_id, &q, fn, arg) :
	    page_run(r, r->page_all, 0, &q, q.limit, fn, arg, &n);
}

static int
begin_read(struct sqlite_reader *r)
{
	int rc = sqlite3_step(r->begin);

	*r->base.damage = '\0';
	sqlite3_reset(r->begin);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
end_read(struct sqlite_reader *r)
{
	(void)sqlite3_step(r->end);
	sqlite3_reset(r->end);
}

static int
read_events(struct store_reader *rd, int64_t topic,
    const struct store_range *q, store_event_fn *fn, void *arg)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	int rc;

	if (begin_read(r) == -1)
		return -1;
	rc = read_range(r, topic, q, fn, arg);
	end_read(r);
	return rc != SQLITE_DONE && rc != SQLITE_OK ? -1 : 0;
}

/* The stored event of the identity a find looks for. */
struct wanted {
	const char	*topic, *event_id;
	size_t		 topic_len, event_id_len;
	store_event_fn	*fn;
	void		*arg;
	int		 found;
};

/* A candidate is the event only if its stored identity matches. */
static int
identity_event(const struct event_fields *f, const struct event_stored *at,
    void *arg)
{
	struct wanted *w = arg;

	if (f->event_id_len != w->event_id_len || f->topic_len != w->topic_len ||
	    memcmp(f->event_id, w->event_id, w->event_id_len) != 0 ||
	    memcmp(f->topic, w->topic, w->topic_len) != 0)
		return 0;
	w->found = 1;
	return w->fn(f, at, w->arg);
}

#define MAX_CANDIDATES	16

/* The fingerprint set proposes, the stored row decides. */
static int
find(struct store_reader *rd, const char *topic, size_t topic_len,
    const char *event_id, size_t event_id_len, const struct store_range *q,
    store_event_fn *fn, void *arg)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	struct wanted w = { topic, event_id, topic_len, event_id_len, fn, arg,
	    0 };
	uint64_t seq[MAX_CANDIDATES];
	size_t n, i;
	int rc = SQLITE_DONE, k = 0;

	n = sqlite_candidates(r->store, topic, topic_len, event_id,
	    event_id_len, seq, MAX_CANDIDATES);
	if (begin_read(r) == -1)
		return -1;
	for (i = 0; i < n && !w.found && rc == SQLITE_DONE; i++)
		if ((int64_t)seq[i] > q->after && (int64_t)seq[i] < q->before)
			rc = one_event(r, seq[i], identity_event, &w, &k);
	end_read(r);
	return rc != SQLITE_DONE && rc != SQLITE_OK ? -1 : 0;
}

/* The first event at or after seq: its seq and received_at; 0 none. */
static int
probe(struct sqlite_reader *r, int64_t seq, int64_t *at, int64_t *ms)
{
	int rc;

	sqlite3_bind_int64(r->seq_probe, 1, seq);
	if ((rc = sqlite3_step(r->seq_probe)) == SQLITE_ROW) {
		*at = sqlite3_column_int64(r->seq_probe, 0);
		*ms = sqlite3_column_int64(r->seq_probe, 1);
	}
	sqlite3_reset(r->seq_probe);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * received_at grows with seq (store.c), so "the first event at or after x
 * arrived at or after ms (or there is none)" holds from some x on: found
 * by bisection over seqs, a few dozen probes of the table's B-tree
 * however many events it holds, and gaps in seq are no matter.
 */
static int
seq_at(struct store_reader *rd, int64_t ms, int64_t *seq)
{
	struct sqlite_reader *r = (struct sqlite_reader *)rd;
	int64_t lo = 1, hi, mid, at = 0, got = 0;
	int rc = -1, found;

	if (begin_read(r) == -1)
		return -1;
	if (sqlite3_step(r->seq_last) != SQLITE_ROW)
		goto done;
	hi = sqlite3_column_int64(r->seq_last, 0) + 1;
	*seq = hi;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((found = probe(r, mid, &at, &got)) == -1)
			goto done;
		if (!found || got >= ms)
			hi = mid;
		else
			lo = at + 1;	/* every x up to at fails too */
	}
	if ((found = probe(r, lo, &at, &got)) == -1)
		goto done;
	if (found)
		*seq = at;
	rc = 0;
done:
	sqlite3_reset(r->seq_last);
	end_read(r);
	return rc;
}

static const struct store_reader_engine sqlite_reader_engine = {
	.close = reader_close,
	.read_topics = read_topics,
	.topic_id = topic_id,
	.read_events = read_events,
	.find = find,
	.seq_at = seq_at,
};
