/*
 * store_read.c - the reader side of the dedup store.
 *
 * A separate connection in WAL mode: each page of events is read in its
 * own read transaction, from one committed snapshot, and no read waits
 * for the writer's commit or fsync.  Counters are not read here: a
 * snapshot may hold commits not yet durable, which readers must not
 * count (see ingest_readable in aggd).
 *
 * A topic's events come from its runs (runs.h) up to meta.indexed and
 * from a scan of the few events after it (see store.c).
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runs.h"
#include "store.h"

struct store_reader {
	sqlite3		*db;
	sqlite3_stmt	*topics, *topic_one, *page_all, *runs;
	sqlite3_stmt	*begin, *end, *indexed, *page_tail, *one;
};

static const char *const reader_sql[] = {
	"SELECT id, name FROM topics ORDER BY name",
	"SELECT id FROM topics WHERE name = ?",
	"SELECT e.seq, t.name, e.event_id, e.ts, e.source, e.payload"
	" FROM events e JOIN topics t ON t.id = e.topic_id"
	" WHERE e.seq > ? ORDER BY e.seq LIMIT ?",
	"SELECT entries FROM topic_runs WHERE topic_id = ? AND last_seq > ?"
	" ORDER BY last_seq",
	"BEGIN",
	"COMMIT",
	"SELECT value FROM meta WHERE name = 'indexed'",
	"SELECT e.seq, t.name, e.event_id, e.ts, e.source, e.payload"
	" FROM events e JOIN topics t ON t.id = e.topic_id"
	" WHERE e.topic_id = ? AND e.seq > ? ORDER BY e.seq LIMIT ?",
	"SELECT e.seq, t.name, e.event_id, e.ts, e.source, e.payload"
	" FROM events e JOIN topics t ON t.id = e.topic_id WHERE e.seq = ?",
};

struct store_reader *
store_reader_open(const char *path, char *err, size_t errsz)
{
	struct store_reader *r;
	sqlite3_stmt **st[9];
	size_t i;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	st[0] = &r->topics, st[1] = &r->topic_one, st[2] = &r->page_all;
	st[3] = &r->runs, st[4] = &r->begin, st[5] = &r->end;
	st[6] = &r->indexed, st[7] = &r->page_tail, st[8] = &r->one;
	if (sqlite3_open_v2(path, &r->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(r->db, 5000);
	if (sqlite3_exec(r->db, "PRAGMA query_only=1; PRAGMA cache_size=-4096",
	    NULL, NULL, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++)
		if (sqlite3_prepare_v3(r->db, reader_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, st[i], NULL) != SQLITE_OK)
			goto fail;
	return r;
fail:
	snprintf(err, errsz, "store %s: %s", path, r->db ?
	    sqlite3_errmsg(r->db) : "out of memory");
	store_reader_close(r);
	return NULL;
}

void
store_reader_close(struct store_reader *r)
{
	if (r == NULL)
		return;
	sqlite3_finalize(r->topics);
	sqlite3_finalize(r->topic_one);
	sqlite3_finalize(r->page_all);
	sqlite3_finalize(r->runs);
	sqlite3_finalize(r->one);
	sqlite3_finalize(r->page_tail);
	sqlite3_finalize(r->indexed);
	sqlite3_finalize(r->begin);
	sqlite3_finalize(r->end);
	sqlite3_close(r->db);
	free(r);
}

const char *
store_reader_error(struct store_reader *r)
{
	return sqlite3_errmsg(r->db);
}

int
store_read_topics(struct store_reader *r, store_name_fn *fn, void *arg)
{
	int rc;

	while ((rc = sqlite3_step(r->topics)) == SQLITE_ROW)
		if (fn(sqlite3_column_int64(r->topics, 0),
		    (const char *)sqlite3_column_text(r->topics, 1), arg) == -1) {
			rc = SQLITE_ABORT;
			break;
		}
	sqlite3_reset(r->topics);
	return rc == SQLITE_DONE ? 0 : -1;
}

static void
fields_of(sqlite3_stmt *st, struct event_fields *f)
{
#define COL(i, p, l) do {						\
	f->p = (const char *)sqlite3_column_text(st, i);		\
	f->l = (size_t)sqlite3_column_bytes(st, i);			\
} while (0)
	COL(1, topic, topic_len);
	COL(2, event_id, event_id_len);
	COL(3, timestamp, timestamp_len);
	COL(4, source, source_len);
	COL(5, payload, payload_len);
#undef COL
}

int
store_topic_id(struct store_reader *r, const char *topic, int64_t *id)
{
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

/*
 * Steps a page query bound to (id,) after, limit, passing rows to fn and
 * counting them in *n: SQLITE_DONE, SQLITE_OK when fn ended the page,
 * SQLITE_ABORT when it failed, or an error.
 */
static int
page_run(sqlite3_stmt *page, int64_t id, int64_t after, int limit,
    store_event_fn *fn, void *arg, int *n)
{
	struct event_fields f;
	int rc, col = 1;

	if (id != 0)
		sqlite3_bind_int64(page, col++, id);
	sqlite3_bind_int64(page, col++, after);
	sqlite3_bind_int(page, col, limit);
	while ((rc = sqlite3_step(page)) == SQLITE_ROW) {
		fields_of(page, &f);
		++*n;
		if ((rc = fn_status(fn(&f, sqlite3_column_int64(page, 0),
		    arg))) != SQLITE_DONE)
			break;
	}
	sqlite3_reset(page);
	return rc;
}

/* Passes event seq to fn and counts it in *n; like page_run. */
static int
one_event(struct store_reader *r, uint64_t seq, store_event_fn *fn, void *arg,
    int *n)
{
	struct event_fields f;
	int rc;

	sqlite3_bind_int64(r->one, 1, (int64_t)seq);
	if ((rc = sqlite3_step(r->one)) == SQLITE_ROW) {
		fields_of(r->one, &f);
		++*n;
		rc = fn_status(fn(&f, (int64_t)seq, arg));
	}
	sqlite3_reset(r->one);
	return rc;
}

/* The events of one run after after, up to limit in all; like page_run. */
static int
run_events(struct store_reader *r, const void *blob, size_t len,
    int64_t after, int limit, store_event_fn *fn, void *arg, int *n)
{
	uint64_t seq, fp;
	size_t i;
	int rc = SQLITE_DONE;

	for (i = 0; i < len && *n < limit && rc == SQLITE_DONE; i++) {
		run_entry(blob, i, &seq, &fp);
		if (seq > (uint64_t)after)
			rc = one_event(r, seq, fn, arg, n);
	}
	return rc;
}

/* Like page_run, from the topic's runs. */
static int
runs_page(struct store_reader *r, int64_t id, int64_t after, int limit,
    store_event_fn *fn, void *arg, int *n)
{
	int rc = SQLITE_DONE;

	sqlite3_bind_int64(r->runs, 1, id);
	sqlite3_bind_int64(r->runs, 2, after);
	while (rc == SQLITE_DONE && *n < limit &&
	    (rc = sqlite3_step(r->runs)) == SQLITE_ROW)
		rc = run_events(r, sqlite3_column_blob(r->runs, 0),
		    (size_t)sqlite3_column_bytes(r->runs, 0) / RUN_ENTRY, after,
		    limit, fn, arg, n);
	sqlite3_reset(r->runs);
	return rc;
}

/* A topic's page: from its runs as far as they go, then the rest. */
static int
topic_page(struct store_reader *r, int64_t id, int64_t after, int limit,
    store_event_fn *fn, void *arg)
{
	int64_t indexed = 0;
	int rc, n = 0;

	if ((rc = sqlite3_step(r->indexed)) == SQLITE_ROW)
		indexed = sqlite3_column_int64(r->indexed, 0);
	sqlite3_reset(r->indexed);
	if (rc != SQLITE_ROW)
		return rc;
	rc = SQLITE_DONE;
	if (after < indexed)
		rc = runs_page(r, id, after, limit, fn, arg, &n);
	if (rc == SQLITE_DONE && n < limit)
		rc = page_run(r->page_tail, id, after > indexed ? after : indexed,
		    limit - n, fn, arg, &n);
	return rc;
}

int
store_read_events(struct store_reader *r, int64_t topic_id, int64_t after,
    int limit, store_event_fn *fn, void *arg)
{
	int rc, n = 0;

	if (sqlite3_step(r->begin) != SQLITE_DONE) {
		sqlite3_reset(r->begin);
		return -1;
	}
	sqlite3_reset(r->begin);
	rc = topic_id ? topic_page(r, topic_id, after, limit, fn, arg) :
	    page_run(r->page_all, 0, after, limit, fn, arg, &n);
	(void)sqlite3_step(r->end);
	sqlite3_reset(r->end);
	return rc != SQLITE_DONE && rc != SQLITE_OK ? -1 : 0;
}
