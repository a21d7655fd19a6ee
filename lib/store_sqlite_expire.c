/*
 * store_sqlite_expire.c - retention on SQLite: the oldest events leave
 * the events table in small steps, and their identities move to kept
 * (seq, topic_id, fp, event_id, sum), where the dedup check finds them
 * when a candidate's row has left (is_stored in store_sqlite.c), so that
 * a re-send of an expired event is still a duplicate, exactly.
 *
 * A step deletes a range of seqs at the left edge of the events table:
 * the pages it empties go to SQLite's freelist, and later inserts take
 * them, so under a steady stream the file stops growing but for the kept
 * identities.  Emptying the payloads in place frees nothing: SQLite does
 * not merge pages whose rows shrank (measured: bench/NOTES.md).
 *
 * Every expired identity is in topic_runs, from which the fingerprint
 * set is made at start (the tail past the runs is read from the events
 * table): a step that reaches past the runs writes the tail first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "rowsum.h"
#include "store_sqlite.h"

int64_t
sqlite_kept_sum(int64_t seq, int64_t topic_id, uint64_t fp,
    const char *event_id, size_t len)
{
	struct event_fields f = { .event_id = event_id, .event_id_len = len,
	    .timestamp = "", .source = "", .payload = "" };

	return rowsum_event(seq, topic_id, fp, 0, &f);
}

int
sqlite_kept_is(struct sqlite_store *s, uint64_t seq, int64_t topic_id,
    const struct event_fields *f, int *rc)
{
	sqlite3_stmt *st = s->get_kept;
	const char *id;
	size_t len;
	int step, found = 0;

	sqlite3_bind_int64(st, 1, (int64_t)seq);
	if ((step = sqlite3_step(st)) == SQLITE_ROW) {
		id = (const char *)sqlite3_column_text(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 1);
		if (sqlite3_column_int64(st, 3) != sqlite_kept_sum((int64_t)seq,
		    sqlite3_column_int64(st, 0), (uint64_t)sqlite3_column_int64(
		    st, 2), id ? id : "", len)) {
			snprintf(s->damage, sizeof(s->damage), "the identity"
			    " kept for expired seq %llu fails its checksum",
			    (unsigned long long)seq);
			*rc = SQLITE_CORRUPT;
			found = -1;
		} else
			found = sqlite3_column_int64(st, 0) == topic_id &&
			    len == f->event_id_len &&
			    memcmp(id, f->event_id, len) == 0;
	} else if (step != SQLITE_DONE) {
		*rc = step;
		found = -1;
	}
	sqlite3_reset(st);
	return found;
}

/* The first column of sql's first row, with up to four arguments. */
static int
one_u64(sqlite3 *db, const char *sql, const uint64_t *args, int nargs,
    uint64_t *v)
{
	sqlite3_stmt *st;
	int rc, i;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (i = 0; i < nargs; i++)
		sqlite3_bind_int64(st, i + 1, (int64_t)args[i]);
	*v = 0;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		*v = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Bytes the store's pages hold, its free pages left out. */
static int
used_bytes(struct sqlite_store *s, uint64_t *bytes)
{
	uint64_t pages, free_pages, page_size;

	if (one_u64(s->db, "PRAGMA page_count", NULL, 0, &pages) == -1 ||
	    one_u64(s->db, "PRAGMA freelist_count", NULL, 0, &free_pages) ==
	    -1 || one_u64(s->db, "PRAGMA page_size", NULL, 0, &page_size) ==
	    -1)
		return -1;
	*bytes = (pages - free_pages) * page_size;
	return 0;
}

/*
 * The last seq this step removes (0: none): past the size, as many of
 * the next max events as the excess holds; else those of the next max that arrived before the age allows
 * (received_at grows with seq, so they are a prefix of them; rows from
 * before 1.1 have none and count as oldest).
 */
static int
step_end(struct sqlite_store *s, uint64_t now_ms, size_t max, uint64_t *end)
{
	const struct store_retention *r = &s->base.retain;
	uint64_t last = s->next_seq - 1, used, args[4], stored, n;

	*end = 0;
	if (last <= s->expired_through)
		return 0;
	if (r->max_bytes > 0) {
		if (used_bytes(s, &used) == -1)
			return -1;
		if (used > r->max_bytes) {
			/* as many as the excess holds, at the mean size */
			stored = last - s->expired_through;
			n = (used - r->max_bytes) / (used / stored + 1) + 1;
			n = n < max ? n : max;
			*end = s->expired_through + (n < stored ? n : stored);
			return 0;
		}
	}
	if (r->max_age_ms == 0 || now_ms <= r->max_age_ms)
		return 0;
	args[0] = s->expired_through;
	args[1] = last;
	args[2] = max;
	args[3] = now_ms - r->max_age_ms;
	return one_u64(s->db, "SELECT coalesce(max(seq), 0) FROM (SELECT seq,"
	    " received_at FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq"
	    " LIMIT ?3) WHERE coalesce(received_at, 0) < ?4", args, 4, end);
}

/* agg_kept_sum(seq, topic_id, fp, event_id): sqlite_kept_sum in SQL. */
static void
kept_sum_fn(sqlite3_context *ctx, int argc, sqlite3_value **v)
{
	const char *id = (const char *)sqlite3_value_text(v[3]);

	(void)argc;
	sqlite3_result_int64(ctx, sqlite_kept_sum(sqlite3_value_int64(v[0]),
	    sqlite3_value_int64(v[1]), (uint64_t)sqlite3_value_int64(v[2]),
	    id ? id : "", (size_t)sqlite3_value_bytes(v[3])));
}

int
sqlite_expire_prepare(struct sqlite_store *s)
{
	if (sqlite3_create_function(s->db, "agg_kept_sum", 4, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, kept_sum_fn, NULL, NULL) != SQLITE_OK)
		return -1;
	return sqlite3_prepare_v3(s->db, "INSERT INTO kept SELECT seq,"
	    " topic_id, fp, event_id, agg_kept_sum(seq, topic_id, fp, event_id)"
	    " FROM events WHERE seq > ?1 AND seq <= ?2", -1,
	    SQLITE_PREPARE_PERSISTENT, &s->ins_kept, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v3(s->db, "SELECT topic_id, count(*) FROM events"
	    " WHERE seq > ?1 AND seq <= ?2 GROUP BY topic_id", -1,
	    SQLITE_PREPARE_PERSISTENT, &s->count_kept, NULL) == SQLITE_OK ?
	    0 : -1;
}

/*
 * The identities of seqs (expired_through, end] into kept, in one
 * statement (each row's own sum is checked where it is read: the dedup
 * check, --check), and counted by topic.
 */
static int
move_identities(struct sqlite_store *s, uint64_t end)
{
	struct topic *t;
	int64_t id;
	int rc;

	sqlite3_bind_int64(s->ins_kept, 1, (int64_t)s->expired_through);
	sqlite3_bind_int64(s->ins_kept, 2, (int64_t)end);
	if ((rc = sqlite_step_done(s->ins_kept)) != 0)
		return rc;
	sqlite3_bind_int64(s->count_kept, 1, (int64_t)s->expired_through);
	sqlite3_bind_int64(s->count_kept, 2, (int64_t)end);
	while ((rc = sqlite3_step(s->count_kept)) == SQLITE_ROW) {
		id = sqlite3_column_int64(s->count_kept, 0);
		if (id < 1 || (size_t)id > s->ntopics) {
			snprintf(s->damage, sizeof(s->damage), "an event names"
			    " topic %lld, which the store lacks", (long long)id);
			rc = SQLITE_CORRUPT;
			break;
		}
		t = &s->topics[id - 1];
		if (!t->touched) {
			t->touched = 1;
			s->touched[s->ntouched++] = (size_t)(id - 1);
		}
		t->delta.expired += (uint64_t)sqlite3_column_int64(
		    s->count_kept, 1);
	}
	sqlite3_reset(s->count_kept);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* The events of seqs (expired_through, end] gone, and the mark moved. */
static int
remove_events(struct sqlite_store *s, uint64_t end)
{
	char sql[160];

	snprintf(sql, sizeof(sql), "DELETE FROM events WHERE seq > %llu AND"
	    " seq <= %llu; UPDATE meta SET value = %llu WHERE name ="
	    " 'expired_through'", (unsigned long long)s->expired_through,
	    (unsigned long long)end, (unsigned long long)end);
	return sqlite3_exec(s->db, sql, NULL, NULL, NULL);
}

int
sqlite_expire(struct store *st, uint64_t now_ms, size_t max)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	struct sqlite_mark here = { s->ntopics, s->next_seq, s->indexed };
	uint64_t end;
	size_t *t;
	int rc, unknown = 0;

	s->ntouched = 0;
	if (step_end(s, now_ms, max, &end) == -1)
		return STORE_ERROR;
	if (end <= s->expired_through)
		return 0;
	if ((t = realloc(s->touched, (s->ntopics + 1) * sizeof(*t))) == NULL)
		return STORE_ERROR;
	s->touched = t;
	s->commit_ms = 0;	/* the topics' last arrivals stay */
	if ((rc = sqlite_step_done(s->begin)) == 0 &&
	    (end <= s->indexed || (rc = sqlite_index_tail(s, 1)) == 0) &&
	    (rc = move_identities(s, end)) == 0 &&
	    (rc = remove_events(s, end)) == 0 &&
	    (rc = sqlite_topics_flush(s)) == 0 &&
	    (rc = sqlite_step_done(s->commit)) != 0)
		unknown = rc != SQLITE_FULL;
	if (rc == 0) {
		sqlite_end_transaction(s, NULL);
		s->expired_through = end;
		sqlite_catch_up(s);
		return 1;
	}
	if (rc == SQLITE_CORRUPT && *s->damage) {
		log_warnx("store damaged: %s; retention stops there (see aggd"
		    " --check)", s->damage);
		*s->damage = '\0';
	} else
		log_warnx("retention: removing events up to seq %llu failed:"
		    " %s", (unsigned long long)end, sqlite3_errstr(rc));
	sqlite_end_transaction(s, &here);
	if (unknown)
		return STORE_IOERR;
	return rc == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}
