/*
 * store_sqlite.c - the SQLite engine's writer side: topics, the
 * fingerprint index, and the transaction that applies batches.
 *
 * Why not UNIQUE(topic, event_id)?  With random event ids every new event
 * would dirty a random B-tree leaf: ~8 KB of writes per event and a ceiling
 * near 40k events/s on this class of machine.  Instead the events table is
 * append-only (seq is the rowid), and identity lives in an in-memory
 * fingerprint set (fpset.h) rebuilt at start from topic_runs, runs of
 * (seq, fp) per topic (runs.h) that serve topic reads too.
 *
 * topic_runs is filled in bulk, INDEX_LAG events at a time, not by an
 * index on events: with 10 topics an index dirtied ~10 right-edge pages in
 * every commit, which for small commits (single-event requests) doubled
 * the WAL written, the commit time and the fsync time.  Readers find the
 * events past meta.indexed (at most INDEX_LAG) by scanning the table.  The
 * writer keeps those events' (topic_id, seq, fp) in memory, the tail, so
 * that building their runs does not read back and sort what it has just
 * written (that took 14% of its time with 100-event requests).
 * The set only proposes candidates; each is checked against the stored row,
 * so dedup stays exact.  The set changes with the transaction: additions
 * are undone when it rolls back, so memory never claims an event that the
 * disk does not have.
 *
 * Opening and closing the store is in store_sqlite_open.c, the WAL and
 * its checkpoints in store_sqlite_wal.c, topics in store_sqlite_topics.c;
 * struct sqlite_store is in store_sqlite.h.  Every row written carries
 * its checksum (rowsum.h), and every row and index entry read back is
 * checked before it is trusted.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "array.h"
#include "clock.h"
#include "log.h"
#include "rowsum.h"
#include "store_sqlite.h"


static int
prepare(struct sqlite_store *s, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    st, NULL) == SQLITE_OK ? 0 : -1;
}

const char sqlite_ins_run_sql[] = "INSERT INTO topic_runs VALUES (?,?,?)";

static int
prepare_inserts(struct sqlite_store *s)
{
	static const char head[] = "INSERT INTO events(seq, topic_id, fp,"
	    " event_id, ts, source, payload, received_at, sum) VALUES ",
	    row[] = "(?,?,?,?,?,?,?,?,?)";
	char sql[sizeof(head) + PENDING_MAX * sizeof(row)];
	size_t len, i, rows;

	for (i = 0; i < INSERT_SIZES; i++) {
		memcpy(sql, head, sizeof(head) - 1);
		len = sizeof(head) - 1;
		for (rows = 0; rows < (size_t)1 << i; rows++) {
			if (rows > 0)
				sql[len++] = ',';
			memcpy(sql + len, row, sizeof(row) - 1);
			len += sizeof(row) - 1;
		}
		sql[len] = '\0';
		if (prepare(s, &s->ins_events[i], sql) == -1)
			return -1;
	}
	return 0;
}

static int
sqlite_prepare(struct sqlite_store *s)
{
	if (prepare_inserts(s) == -1 ||
	    prepare(s, &s->get_event, "SELECT topic_id, event_id FROM events"
	    " WHERE seq = ?") == -1 ||
	    prepare(s, &s->get_row, "SELECT topic_id, fp, received_at, sum, "
	    SQLITE_FIELD_COLS " FROM events WHERE seq = ?") == -1 ||
	    prepare(s, &s->ins_topic, "INSERT INTO topics(id, name, sum)"
	    " VALUES (?,?,?)") == -1 ||
	    prepare(s, &s->upd_topic, "UPDATE topics SET received = received + ?,"
	    " uniq = uniq + ?, dups = dups + ?, expired = expired + ?,"
	    " last_at = max(last_at, ?) WHERE id = ?") == -1 ||
	    prepare(s, &s->get_kept, "SELECT topic_id, event_id, fp, sum FROM"
	    " kept WHERE seq = ?") == -1 ||
	    prepare(s, &s->ins_run, sqlite_ins_run_sql) == -1 ||
	    prepare(s, &s->set_indexed, "UPDATE meta SET value = ?"
	    " WHERE name = 'indexed'") == -1 ||
	    prepare(s, &s->begin, "BEGIN IMMEDIATE") == -1 ||
	    prepare(s, &s->commit, "COMMIT") == -1 ||
	    prepare(s, &s->rollback, "ROLLBACK") == -1 ||
	    sqlite_expire_prepare(s) == -1)
		return -1;
	return 0;
}

int
sqlite_step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}




/* One integer: the first column of the first row of sql, or -1. */
static int
select_u64(struct sqlite_store *s, const char *sql, uint64_t *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

#define LOAD_BATCH	32

/*
 * Enough to make runs of ~100 events with 10 topics, few enough that a
 * reader's scan of the rest stays well under a millisecond.
 */
#define INDEX_LAG	1024

/*
 * 1 when a run's row is not what was written: its sum differs, or its
 * entries are not seqs in order within (0, indexed] ending at last_seq.
 * The seqs become indexes into memory, so none is taken on trust.
 */
static int
run_damaged(const struct sqlite_store *s, sqlite3_stmt *st)
{
	int64_t topic_id = sqlite3_column_int64(st, 0);
	int64_t last_seq = sqlite3_column_int64(st, 1);
	const void *blob = sqlite3_column_blob(st, 2);
	size_t bytes = (size_t)sqlite3_column_bytes(st, 2), i, len;
	uint64_t seq, fp, prev = 0;

	if (run_verify(topic_id, last_seq, blob, bytes, &len) == -1 ||
	    len == 0 || len > RUN_MAX)
		return 1;
	for (i = 0; i < len; i++, prev = seq) {
		run_entry(blob, i, &seq, &fp);
		if (seq <= prev || seq > s->indexed)
			return 1;
	}
	return prev != (uint64_t)last_seq;
}

/* Adds the events in the runs; 1 when a run is damaged (s->damage). */
static int
fps_add_runs(struct sqlite_store *s)
{
	uint64_t fp[LOAD_BATCH], seq[LOAD_BATCH];
	sqlite3_stmt *st;
	const void *blob;
	size_t i, n, len;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT topic_id, last_seq, entries"
	    " FROM topic_runs", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (run_damaged(s, st)) {
			snprintf(s->damage, sizeof(s->damage), "the run of topic"
			    " %lld ending at seq %lld is damaged",
			    (long long)sqlite3_column_int64(st, 0),
			    (long long)sqlite3_column_int64(st, 1));
			sqlite3_finalize(st);
			return 1;
		}
		blob = sqlite3_column_blob(st, 2);
		len = (size_t)sqlite3_column_bytes(st, 2) / RUN_ENTRY;
		for (i = 0; i < len; i += n) {
			for (n = 0; n < LOAD_BATCH && i + n < len; n++)
				run_entry(blob, i + n, &seq[n], &fp[n]);
			if (fpset_add_many(&s->set, fp, seq, n) == -1) {
				sqlite3_finalize(st);
				return -1;
			}
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
tail_add(struct sqlite_store *s, int64_t topic_id, uint64_t seq, uint64_t fp)
{
	if (s->ntail == s->tail_cap && array_grow(&s->tail, &s->tail_cap,
	    s->ntail + 1, sizeof(*s->tail), 2 * INDEX_LAG) == -1)
		return -1;
	s->tail[s->ntail++] = (struct run_item){ topic_id, seq, fp };
	return 0;
}

/* Adds the events after the runs, to the set and to the tail. */
static int
fps_add_tail(struct sqlite_store *s)
{
	sqlite3_stmt *st;
	uint64_t seq, fp;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT topic_id, seq, fp FROM events"
	    " WHERE seq > ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (int64_t)s->indexed);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		seq = (uint64_t)sqlite3_column_int64(st, 1);
		fp = (uint64_t)sqlite3_column_int64(st, 2);
		if (tail_add(s, sqlite3_column_int64(st, 0), seq, fp) == -1 ||
		    fpset_add(&s->set, fp, seq) == -1) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
fps_load(struct sqlite_store *s, uint64_t expected)
{
	uint64_t last;

	int rc;

	if (fpset_init(&s->set, (size_t)expected) == -1 ||
	    select_u64(s, SQLITE_LAST_SEQ_SQL, &last) == -1 ||
	    select_u64(s, "SELECT value FROM meta WHERE name = 'indexed'",
	    &s->indexed) == -1 || select_u64(s, "SELECT value FROM meta"
	    " WHERE name = 'expired_through'", &s->expired_through) == -1)
		return -1;
	if (s->indexed > last)
		rc = 1, snprintf(s->damage, sizeof(s->damage), "the index"
		    " claims seq %llu, past the last event (%llu)",
		    (unsigned long long)s->indexed, (unsigned long long)last);
	else
		rc = fps_add_runs(s);
	if (rc == 1) {
		/* The runs are derived from the events: made again. */
		log_warnx("store damaged: %s; rebuilding the index from the"
		    " events", s->damage);
		*s->damage = '\0';
		fpset_free(&s->set);
		if (fpset_init(&s->set, (size_t)expected) == -1 ||
		    sqlite_rebuild_runs(s) == -1 ||
		    select_u64(s, "SELECT value FROM meta WHERE name ="
		    " 'indexed'", &s->indexed) == -1 ||
		    (rc = fps_add_runs(s)) != 0)
			return -1;
		log_warnx("the index is whole again");
	}
	if (rc != 0 || fps_add_tail(s) == -1)
		return -1;
	s->next_seq = last + 1;
	return 0;
}

int
sqlite_load(struct sqlite_store *s)
{
	uint64_t uniq;

	if (sqlite_topics_load(s, &uniq) == -1 || fps_load(s, uniq) == -1 ||
	    sqlite_prepare(s) == -1)
		return -1;
	return 0;
}


uint64_t
sqlite_fingerprint(const struct siphash_key *k, const char *topic,
    size_t topic_len, const char *event_id, size_t event_id_len)
{
	unsigned char key[1 + 2 * EVENT_FIELD_MAX];

	/* The length prefix keeps ("ab","c") apart from ("a","bc"). */
	key[0] = (unsigned char)topic_len;
	memcpy(key + 1, topic, topic_len);
	memcpy(key + 1 + topic_len, event_id, event_id_len);
	return siphash(k, key, 1 + topic_len + event_id_len);
}

static uint64_t
fingerprint(const struct sqlite_store *s, const struct event_fields *f)
{
	return sqlite_fingerprint(&s->key, f->topic, f->topic_len, f->event_id,
	    f->event_id_len);
}

/* 1 when a candidate's (topic_id, event_id) is f's. */
static int
same_identity(int64_t topic_id, const void *event_id, size_t len,
    int64_t want_topic_id, const struct event_fields *f)
{
	return topic_id == want_topic_id && len == f->event_id_len &&
	    memcmp(event_id, f->event_id, len) == 0;
}

void
sqlite_row_fields(sqlite3_stmt *st, int col, struct event_fields *f)
{
	f->event_id = (const char *)sqlite3_column_text(st, col);
	f->event_id_len = (size_t)sqlite3_column_bytes(st, col);
	f->timestamp = (const char *)sqlite3_column_text(st, col + 1);
	f->timestamp_len = (size_t)sqlite3_column_bytes(st, col + 1);
	f->source = (const char *)sqlite3_column_text(st, col + 2);
	f->source_len = (size_t)sqlite3_column_bytes(st, col + 2);
	f->payload = (const char *)sqlite3_column_text(st, col + 3);
	f->payload_len = (size_t)sqlite3_column_bytes(st, col + 3);
}

/*
 * 1, with s->damage set, when event seq's row is not what was written,
 * 0 when it is (rows from before 1.2 have no sum: taken as they are).  A
 * statement of its own: the re-send check reads two columns, and asking
 * every candidate for all of them cost 1000-event batches 15%.
 */
static int
stored_damaged(struct sqlite_store *s, uint64_t seq)
{
	sqlite3_stmt *st = s->get_row;
	struct event_fields f;
	int damaged = 0;

	sqlite3_bind_int64(st, 1, (int64_t)seq);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 3) != SQLITE_NULL) {
		sqlite_row_fields(st, 4, &f);
		damaged = sqlite3_column_int64(st, 3) != rowsum_event(
		    (int64_t)seq, sqlite3_column_int64(st, 0),
		    (uint64_t)sqlite3_column_int64(st, 1),
		    sqlite3_column_int64(st, 2), &f);
	}
	sqlite3_reset(st);
	if (damaged)
		snprintf(s->damage, sizeof(s->damage), "event seq %llu fails"
		    " its checksum", (unsigned long long)seq);
	return damaged;
}

/* 1 when (topic, event_id) is stored (or added by this transaction). */
static int
is_stored(struct sqlite_store *s, uint64_t fp, int64_t topic_id,
    const struct event_fields *f, int *rc)
{
	uint64_t first_pending = s->next_seq - s->npending, seq;
	const struct pending *p;
	size_t pos = FPSET_START;
	int found = 0, step;

	while (!found && (seq = fpset_next(&s->set, fp, &pos)) != 0) {
		if (seq >= s->next_seq) {	/* never trust the file */
			snprintf(s->damage, sizeof(s->damage), "the index"
			    " names seq %llu, past the last event",
			    (unsigned long long)seq);
			*rc = SQLITE_CORRUPT;
			return -1;
		}
		if (seq >= first_pending) {
			p = &s->pending[seq - first_pending];
			found = same_identity(p->topic_id, p->f.event_id,
			    p->f.event_id_len, topic_id, f);
			continue;
		}
		sqlite3_bind_int64(s->get_event, 1, (int64_t)seq);
		/*
		 * A candidate of another identity is a 2^-64 fingerprint
		 * collision or a damaged row: its sum tells which, so that
		 * an identity whose stored key changed is not stored twice.
		 * One that matches needs no look: dedup holds either way.
		 */
		if ((step = sqlite3_step(s->get_event)) == SQLITE_ROW) {
			found = same_identity(
			    sqlite3_column_int64(s->get_event, 0),
			    sqlite3_column_blob(s->get_event, 1),
			    (size_t)sqlite3_column_bytes(s->get_event, 1),
			    topic_id, f);
			if (!found && stored_damaged(s, seq)) {
				*rc = SQLITE_CORRUPT;
				found = -1;
			}
		} else if (step != SQLITE_DONE) {
			*rc = step;
			found = -1;
		} else if (seq <= s->expired_through)	/* its identity */
			found = sqlite_kept_is(s, seq, topic_id, f, rc);
		sqlite3_reset(s->get_event);
	}
	return found;
}

static void
bind_row(sqlite3_stmt *st, int col, uint64_t seq, const struct pending *p)
{
	const struct event_fields *f = &p->f;

	sqlite3_bind_int64(st, col + 1, (int64_t)seq);
	sqlite3_bind_int64(st, col + 2, p->topic_id);
	sqlite3_bind_int64(st, col + 3, (int64_t)p->fp);
	sqlite3_bind_text(st, col + 4, f->event_id, (int)f->event_id_len,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, col + 5, f->timestamp, (int)f->timestamp_len,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, col + 6, f->source, (int)f->source_len,
	    SQLITE_STATIC);
	sqlite3_bind_text(st, col + 7, f->payload, (int)f->payload_len,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, col + 8, (int64_t)p->received_ms);
	sqlite3_bind_int64(st, col + 9, rowsum_event((int64_t)seq, p->topic_id,
	    p->fp, (int64_t)p->received_ms, f));
}

/* Inserts the pending rows, the largest statement that fits first. */
static int
flush_pending(struct sqlite_store *s)
{
	uint64_t seq = s->next_seq - s->npending;
	size_t done = 0, rows, i;
	int k, rc;

	while (done < s->npending) {
		for (k = INSERT_SIZES - 1; ((size_t)1 << k) > s->npending - done;
		    k--)
			;
		rows = (size_t)1 << k;
		for (i = 0; i < rows; i++)
			bind_row(s->ins_events[k], 9 * (int)i, seq + done + i,
			    &s->pending[done + i]);
		if ((rc = sqlite_step_done(s->ins_events[k])) != 0)
			return rc;
		done += rows;
	}
	s->npending = 0;
	return 0;
}

static int
insert_event(struct sqlite_store *s, const struct event_fields *f, int64_t topic_id,
    uint64_t fp)
{
	uint64_t seq = s->next_seq;
	int rc;

	if (seq > FPSET_SEQ_MAX)
		return SQLITE_FULL;
	if (s->npending == PENDING_MAX && (rc = flush_pending(s)) != 0)
		return rc;
	s->pending[s->npending++] = (struct pending){ *f, topic_id, fp,
	    s->commit_ms };
	s->next_seq++;
	if (tail_add(s, topic_id, seq, fp) == -1 ||
	    fpset_add(&s->set, fp, seq) == -1)
		return SQLITE_NOMEM;
	return 0;
}

static int
apply_event(struct sqlite_store *s, const struct event_fields *f,
    struct store_counts *res)
{
	struct topic *t;
	uint64_t fp;
	int rc = 0, dup;

	if ((t = sqlite_topic_get(s, f->topic, f->topic_len, &rc)) == NULL)
		return rc;
	if (!t->touched) {
		t->touched = 1;
		s->touched[s->ntouched++] = (size_t)(t - s->topics);
	}
	fp = fingerprint(s, f);
	if ((dup = is_stored(s, fp, t->id, f, &rc)) == -1)
		return rc;
	if (!dup && (rc = insert_event(s, f, t->id, fp)) != 0)
		return rc;
	t->delta.received++;
	res->received++;
	res->last_ms = s->commit_ms;
	if (dup) {
		t->delta.duplicates++;
		res->duplicates++;
	} else {
		t->delta.unique++;
		res->unique++;
	}
	return 0;
}

int
sqlite_index_tail(struct sqlite_store *s, int now)
{
	uint64_t last = s->next_seq - 1;
	int rc;

	if (last == s->indexed || (!now && last - s->indexed < INDEX_LAG))
		return 0;
	sqlite3_bind_int64(s->set_indexed, 1, (int64_t)last);
	if ((rc = runs_build_items(s->tail, s->ntail, s->ins_run)) != 0 ||
	    (rc = sqlite_step_done(s->set_indexed)) != 0)
		return rc;
	s->indexed = last;
	return 0;
}

static int
apply_all(struct sqlite_store *s, struct event_batch *const *b, size_t n,
    struct store_counts *res)
{
	struct event_fields f;
	size_t i, j;
	int rc;

	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		if ((rc = sqlite_past_topic_limit(s, b[i])) < 0)
			return SQLITE_NOMEM;
		if ((res[i].refused = rc) != 0)
			continue;
		for (j = 0; j < b[i]->n; j++) {
			event_fields(b[i], j, &f);
			if ((rc = apply_event(s, &f, &res[i])) != 0)
				return rc;
		}
	}
	if ((rc = flush_pending(s)) != 0 || (rc = sqlite_topics_flush(s)) != 0)
		return rc;
	return sqlite_index_tail(s, 0);
}

/* Room to mark every topic touched, whatever the batch brings. */
static int
touched_reserve(struct sqlite_store *s, struct event_batch *const *b, size_t n)
{
	size_t need = s->ntopics, i, *t;

	for (i = 0; i < n; i++)
		need += b[i]->n;
	if ((t = realloc(s->touched, (need + 1) * sizeof(*t))) == NULL)
		return -1;
	s->touched = t;
	return 0;
}

void
sqlite_end_transaction(struct sqlite_store *s,
    const struct sqlite_mark *rollback_to)
{
	struct topic *t;
	size_t i, kept = 0;

	if (rollback_to) {
		(void)sqlite_step_done(s->rollback);
		/* The index may have sorted the tail: find this transaction's. */
		for (i = 0; i < s->ntail; i++)
			if (s->tail[i].seq < rollback_to->next_seq)
				s->tail[kept++] = s->tail[i];
			else
				fpset_remove(&s->set, s->tail[i].fp,
				    s->tail[i].seq);
		s->ntail = kept;
		s->npending = 0;
		s->next_seq = rollback_to->next_seq;
		s->indexed = rollback_to->indexed;
		sqlite_topics_truncate(s, rollback_to->ntopics);
	}
	for (i = 0; i < s->ntouched; i++) {
		if (s->touched[i] >= s->ntopics)
			continue;
		t = &s->topics[s->touched[i]];
		if (rollback_to == NULL) {
			t->total.received += t->delta.received;
			t->total.unique += t->delta.unique;
			t->total.duplicates += t->delta.duplicates;
			t->total.expired += t->delta.expired;
			if (s->commit_ms > t->total.last_ms)
				t->total.last_ms = s->commit_ms;
		}
		memset(&t->delta, 0, sizeof(t->delta));
		t->touched = 0;
	}
	/* A commit's list stays for store_topic_counts. */
	if (rollback_to)
		s->ntouched = 0;
	if (s->indexed == s->next_seq - 1)
		s->ntail = 0;
}

/*
 * The received_at of a commit's events: the wall clock, but never before
 * the last commit's, so that received_at grows with seq and a time range
 * is a range of seqs (store_seq_at), even when the clock is set back.
 */
static uint64_t
received_now(const struct sqlite_store *s)
{
	uint64_t ms = wall_ms();

	return ms > s->last_ms ? ms : s->last_ms;
}

static int
sqlite_commit(struct store *st, struct event_batch *const *b, size_t n,
    struct store_counts *res, char *err, size_t errsz)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	struct sqlite_mark before = { s->ntopics, s->next_seq, s->indexed };
	int rc, unknown = 0;

	/*
	 * A failed COMMIT may leave the transaction in the WAL: SQLite writes
	 * its frames, the commit frame last, and only then adds them to the
	 * WAL's index (-shm).  When that fails (the index cannot grow for
	 * want of room or memory), this process rolls back, but recovery at
	 * the next start replays the frames unless a later commit overwrote
	 * them.  Only no room for the frames themselves (SQLITE_FULL) leaves
	 * no commit frame behind.
	 */
	pthread_mutex_lock(&s->set_mu);
	s->ntouched = 0;
	s->commit_ms = received_now(s);
	if (touched_reserve(s, b, n) == -1)
		rc = SQLITE_NOMEM;
	else if ((rc = sqlite_step_done(s->begin)) == 0 &&
	    (rc = apply_all(s, b, n, res)) == 0 &&
	    (rc = sqlite_step_done(s->commit)) != 0)
		unknown = rc != SQLITE_FULL;
	if (rc == 0) {
		sqlite_end_transaction(s, NULL);
		pthread_mutex_unlock(&s->set_mu);
		s->last_ms = s->commit_ms;
		sqlite_catch_up(s);
		return 0;
	}
	if (rc == SQLITE_CORRUPT && *s->damage) {
		snprintf(err, errsz, "store damaged: %s (aggd --check tells"
		    " more); nothing of this request was stored", s->damage);
		log_warnx("store damaged: %s; see aggd --check", s->damage);
		*s->damage = '\0';
	} else
		snprintf(err, errsz, "store: %s", rc == SQLITE_NOMEM ?
		    "out of memory" : sqlite3_errstr(rc));
	sqlite_end_transaction(s, &before);
	pthread_mutex_unlock(&s->set_mu);
	if (unknown)
		return STORE_IOERR;
	return rc == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

size_t
sqlite_candidates(struct sqlite_store *s, const char *topic, size_t topic_len,
    const char *event_id, size_t event_id_len, uint64_t *seq, size_t max)
{
	struct event_fields f = { .topic = topic, .topic_len = topic_len,
	    .event_id = event_id, .event_id_len = event_id_len };
	size_t pos = FPSET_START, n = 0;
	uint64_t fp;

	if (topic_len > EVENT_FIELD_MAX || event_id_len > EVENT_FIELD_MAX)
		return 0;
	fp = fingerprint(s, &f);
	pthread_mutex_lock(&s->set_mu);
	while (n < max && (seq[n] = fpset_next(&s->set, fp, &pos)) != 0)
		n++;
	pthread_mutex_unlock(&s->set_mu);
	return n;
}

static int
sqlite_topic_counts(const struct store *st, int all, store_counts_fn *fn,
    void *arg)
{
	const struct sqlite_store *s = (const struct sqlite_store *)st;
	size_t i, n = all ? s->ntopics : s->ntouched, k;

	for (i = 0; i < n; i++) {
		k = all ? i : s->touched[i];
		if (fn(s->topics[k].id, &s->topics[k].total, arg) == -1)
			return -1;
	}
	return 0;
}

static size_t
sqlite_index_bytes(const struct store *st)
{
	return fpset_bytes(&((const struct sqlite_store *)st)->set);
}

static size_t
sqlite_topics(const struct store *st)
{
	return ((const struct sqlite_store *)st)->ntopics;
}

static uint64_t
sqlite_last_seq(const struct store *st)
{
	return ((const struct sqlite_store *)st)->next_seq - 1;
}

static uint64_t
sqlite_expired_through(const struct store *st)
{
	return ((const struct sqlite_store *)st)->expired_through;
}

const struct store_engine sqlite_engine = {
	.name = "sqlite",
	.commit = sqlite_commit,
	.topic_counts = sqlite_topic_counts,
	.sync = sqlite_sync,
	.maintain = sqlite_maintain,
	.expire = sqlite_expire,
	.expired_through = sqlite_expired_through,
	.index_bytes = sqlite_index_bytes,
	.last_seq = sqlite_last_seq,
	.topics = sqlite_topics,
	.reader_open = sqlite_reader_open,
	.close = sqlite_close,
};
