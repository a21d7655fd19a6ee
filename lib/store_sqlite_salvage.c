/*
 * store_sqlite_salvage.c - aggd --salvage: a damaged store's sound rows,
 * copied into a new store that aggd --restore can put in its place.
 *
 * The damaged store is never written: it is copied (the backup path,
 * one snapshot), and the copy is repaired in one transaction.  What the
 * copy keeps: every event whose row holds (its sum, or, written before
 * 1.2, a payload that is JSON), with its seq, so that followers' cursors
 * stay true; of an identity stored twice, the first.  What is made again
 * from those: each event's fingerprint and sum, each topic's unique and
 * received counts (duplicates are kept where the topic's row held, else
 * 0), and the runs index.  A damaged fingerprint key is replaced by a new
 * one.  An event that was dropped is lost; if its publisher sends it
 * again, it is stored anew.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "json.h"
#include "rowsum.h"
#include "store_sqlite.h"

struct salvage {
	sqlite3		*db;
	store_report_fn	*report;
	void		*arg;
	struct siphash_key key;
	int		*topic_sound;	/* by id - 1 */
	char		**names;
	size_t		 ntopics;
	long		 dropped;
};

static void
tell(struct salvage *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
tell(struct salvage *v, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	v->report(line, v->arg);
}

static int
exec(struct salvage *v, const char *sql)
{
	return sqlite3_exec(v->db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
}

/* The columns and rows of sums a store from before 1.2 lacks. */
static void
add_sum_columns(struct salvage *v)
{
	(void)exec(v, "ALTER TABLE events ADD COLUMN sum INTEGER");
	(void)exec(v, "ALTER TABLE topics ADD COLUMN sum INTEGER");
	/* and what retention (1.2) keeps */
	(void)exec(v, "ALTER TABLE topics ADD COLUMN expired INTEGER NOT NULL"
	    " DEFAULT 0");
	(void)exec(v, "CREATE TABLE IF NOT EXISTS kept(seq INTEGER PRIMARY"
	    " KEY, topic_id INTEGER NOT NULL, fp INTEGER NOT NULL, event_id"
	    " TEXT NOT NULL, sum INTEGER NOT NULL);"
	    "INSERT OR IGNORE INTO meta VALUES ('expired_through', 0)");
}

/* The key if it holds, else a new one (every fingerprint is made again). */
static int
salvage_key(struct salvage *v)
{
	sqlite3_stmt *st;
	unsigned char k[16];
	int ok = 0;

	if (sqlite3_prepare_v2(v->db, "SELECT (SELECT value FROM meta WHERE"
	    " name = 'key'), (SELECT value FROM meta WHERE name = 'key_sum')",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == (int)sizeof(k)) {
		memcpy(k, sqlite3_column_blob(st, 0), sizeof(k));
		ok = sqlite3_column_type(st, 1) == SQLITE_NULL ||
		    sqlite3_column_int64(st, 1) ==
		    rowsum_bytes(ROWSUM_KEY, 0, k, sizeof(k));
	}
	sqlite3_finalize(st);
	if (!ok) {
		tell(v, "the fingerprint key was damaged: a new one is made");
		if (getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k))
			return -1;
	}
	memcpy(&v->key.k0, k, 8);
	memcpy(&v->key.k1, k + 8, 8);
	if (exec(v, "DELETE FROM meta WHERE name IN ('key', 'key_sum')") == -1 ||
	    sqlite3_prepare_v2(v->db, "INSERT INTO meta VALUES ('key', ?),"
	    " ('key_sum', ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_blob(st, 1, k, sizeof(k), SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, rowsum_bytes(ROWSUM_KEY, 0, k, sizeof(k)));
	ok = sqlite3_step(st) == SQLITE_DONE;
	sqlite3_finalize(st);
	return ok ? 0 : -1;
}

static int
keep_topic(struct salvage *v, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, 0);
	const char *name = (const char *)sqlite3_column_text(st, 1);
	size_t len = (size_t)sqlite3_column_bytes(st, 1), n = v->ntopics;
	void *p;

	if (id != (int64_t)n + 1)
		return -1;	/* ids are what every row refers by */
	if ((p = realloc(v->names, (n + 1) * sizeof(*v->names))) == NULL)
		return -1;
	v->names = p;
	if ((p = realloc(v->topic_sound, (n + 1) * sizeof(int))) == NULL)
		return -1;
	v->topic_sound = p;
	if ((v->names[n] = strdup(name ? name : "")) == NULL)
		return -1;
	v->topic_sound[n] = sqlite3_column_type(st, 6) == SQLITE_NULL ||
	    sqlite3_column_int64(st, 6) == sqlite_topic_sum(id, name, len);
	if (!v->topic_sound[n])
		tell(v, "topic %lld was damaged: its name is kept as \"%.100s\","
		    " which may not be what was sent; its duplicates count"
		    " as 0", (long long)id, v->names[n]);
	v->ntopics++;
	return 0;
}

static int
load_topics(struct salvage *v)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(v->db, "SELECT id, name, received, uniq, dups,"
	    " last_at, sum FROM topics ORDER BY id", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && keep_topic(v, st) == 0)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* 1 when the event row at st (seq, topic_id, fp, received_at, sum, the
   fields) is sound; f is filled either way. */
static int
event_sound(struct salvage *v, sqlite3_stmt *st, struct event_fields *f)
{
	int64_t tid = sqlite3_column_int64(st, 1);
	struct json_reader r;

	sqlite_row_fields(st, 5, f);
	if (tid < 1 || (size_t)tid > v->ntopics)
		return 0;
	if (sqlite3_column_type(st, 4) != SQLITE_NULL)
		return sqlite3_column_int64(st, 4) == rowsum_event(
		    sqlite3_column_int64(st, 0), tid,
		    (uint64_t)sqlite3_column_int64(st, 2),
		    sqlite3_column_int64(st, 3), f);
	json_reader_init(&r, f->payload, f->payload_len);
	return json_skip(&r) == 0 && json_end(&r) == 0;
}

/* Drops the rows that do not hold; makes fp and sum again for the rest. */
static int
salvage_events(struct salvage *v)
{
	sqlite3_stmt *st, *del, *upd;
	struct event_fields f;
	int64_t seq, tid;
	uint64_t fp;
	int rc;

	if (sqlite3_prepare_v2(v->db, "SELECT seq, topic_id, fp, received_at,"
	    " sum, " SQLITE_FIELD_COLS " FROM events ORDER BY seq", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	del = upd = NULL;
	if (sqlite3_prepare_v2(v->db, "DELETE FROM events WHERE seq = ?", -1,
	    &del, NULL) != SQLITE_OK || sqlite3_prepare_v2(v->db, "UPDATE"
	    " events SET fp = ?, sum = ? WHERE seq = ?", -1, &upd, NULL) !=
	    SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			seq = sqlite3_column_int64(st, 0);
			tid = sqlite3_column_int64(st, 1);
			if (!event_sound(v, st, &f)) {
				tell(v, "event seq %lld was damaged: dropped",
				    (long long)seq);
				v->dropped++;
				sqlite3_bind_int64(del, 1, seq);
				rc = sqlite3_step(del);
				sqlite3_reset(del);
			} else {
				fp = sqlite_fingerprint(&v->key,
				    v->names[tid - 1], strlen(v->names[tid - 1]),
				    f.event_id, f.event_id_len);
				sqlite3_bind_int64(upd, 1, (int64_t)fp);
				sqlite3_bind_int64(upd, 2, rowsum_event(seq, tid,
				    fp, sqlite3_column_int64(st, 3), &f));
				sqlite3_bind_int64(upd, 3, seq);
				rc = sqlite3_step(upd);
				sqlite3_reset(upd);
			}
			if (rc != SQLITE_DONE)
				break;
		}
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	sqlite3_finalize(upd);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The identities kept for expired events: a damaged one is dropped (its
 * event, sent again, is stored anew), the others get fp and sum again.
 */
static int
salvage_kept(struct salvage *v)
{
	sqlite3_stmt *st, *del = NULL, *upd = NULL;
	int64_t seq, tid;
	const char *id;
	size_t len;
	uint64_t fp;
	long lost = 0;
	int rc;

	if (sqlite3_prepare_v2(v->db, "SELECT seq, topic_id, fp, event_id, sum"
	    " FROM kept ORDER BY seq", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(v->db, "DELETE FROM kept WHERE seq = ?", -1,
	    &del, NULL) != SQLITE_OK || sqlite3_prepare_v2(v->db, "UPDATE kept"
	    " SET fp = ?, sum = ? WHERE seq = ?", -1, &upd, NULL) != SQLITE_OK)
		rc = SQLITE_ERROR;
	else
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			seq = sqlite3_column_int64(st, 0);
			tid = sqlite3_column_int64(st, 1);
			id = (const char *)sqlite3_column_text(st, 3);
			id = id ? id : "";
			len = (size_t)sqlite3_column_bytes(st, 3);
			if (tid < 1 || (size_t)tid > v->ntopics ||
			    sqlite3_column_int64(st, 4) != sqlite_kept_sum(seq,
			    tid, (uint64_t)sqlite3_column_int64(st, 2), id,
			    len)) {
				lost++;
				sqlite3_bind_int64(del, 1, seq);
				rc = sqlite3_step(del);
				sqlite3_reset(del);
			} else {
				fp = sqlite_fingerprint(&v->key,
				    v->names[tid - 1], strlen(v->names[tid - 1]),
				    id, len);
				sqlite3_bind_int64(upd, 1, (int64_t)fp);
				sqlite3_bind_int64(upd, 2, sqlite_kept_sum(seq,
				    tid, fp, id, len));
				sqlite3_bind_int64(upd, 3, seq);
				rc = sqlite3_step(upd);
				sqlite3_reset(upd);
			}
			if (rc != SQLITE_DONE)
				break;
		}
	sqlite3_finalize(st);
	sqlite3_finalize(del);
	sqlite3_finalize(upd);
	if (lost > 0)
		tell(v, "%ld identities kept for expired events were damaged:"
		    " dropped (those events, sent again, are stored anew)",
		    lost);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Of an identity stored more than once, the first stays. */
static int
salvage_identities(struct salvage *v)
{
	int n = sqlite3_total_changes(v->db);

	/* an expired identity is the first: kept seqs are the lowest */
	if (exec(v, "CREATE INDEX salvage_kept ON kept(topic_id, event_id);"
	    "DELETE FROM kept WHERE seq NOT IN (SELECT min(seq) FROM kept"
	    " GROUP BY topic_id, event_id);"
	    "DELETE FROM events WHERE EXISTS (SELECT 1 FROM kept k WHERE"
	    " k.topic_id = events.topic_id AND k.event_id = events.event_id);"
	    "DROP INDEX salvage_kept") == -1)
		return -1;
	if ((n = sqlite3_total_changes(v->db) - n) > 0) {
		tell(v, "%d later copies of expired identities: dropped", n);
		v->dropped += n;
	}
	if (exec(v, "DELETE FROM events WHERE seq NOT IN (SELECT min(seq)"
	    " FROM events GROUP BY topic_id, event_id)") == -1)
		return -1;
	if ((n = sqlite3_changes(v->db)) > 0) {
		tell(v, "%d later copies of identities stored twice: dropped", n);
		v->dropped += n;
	}
	return 0;
}

/* Counters from the events kept, and each topic's sum. */
static int
salvage_counts(struct salvage *v)
{
	sqlite3_stmt *cnt, *upd;
	struct store_counts c;
	size_t i;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(v->db, "SELECT (SELECT count(*) FROM events"
	    " WHERE topic_id = ?1), (SELECT dups FROM topics WHERE id = ?1),"
	    " (SELECT last_at FROM topics WHERE id = ?1), (SELECT count(*)"
	    " FROM kept WHERE topic_id = ?1)", -1, &cnt, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_prepare_v2(v->db, "UPDATE topics SET received = ?1, uniq ="
	    " ?2, dups = ?3, sum = ?4, expired = ?6 WHERE id = ?5", -1, &upd, NULL) !=
	    SQLITE_OK) {
		sqlite3_finalize(cnt);
		return -1;
	}
	for (i = 0; i < v->ntopics && rc == SQLITE_DONE; i++) {
		sqlite3_bind_int64(cnt, 1, (int64_t)i + 1);
		if (sqlite3_step(cnt) != SQLITE_ROW) {
			rc = SQLITE_ERROR;
			break;
		}
		c.expired = (uint64_t)sqlite3_column_int64(cnt, 3);
		c.unique = (uint64_t)sqlite3_column_int64(cnt, 0) + c.expired;
		c.duplicates = v->topic_sound[i] ?
		    (uint64_t)sqlite3_column_int64(cnt, 1) : 0;
		c.last_ms = (uint64_t)sqlite3_column_int64(cnt, 2);
		c.received = c.unique + c.duplicates;
		sqlite3_reset(cnt);
		sqlite3_bind_int64(upd, 1, (int64_t)c.received);
		sqlite3_bind_int64(upd, 2, (int64_t)c.unique);
		sqlite3_bind_int64(upd, 3, (int64_t)c.duplicates);
		sqlite3_bind_int64(upd, 4, sqlite_topic_sum((int64_t)i + 1,
		    v->names[i], strlen(v->names[i])));
		sqlite3_bind_int64(upd, 5, (int64_t)i + 1);
		sqlite3_bind_int64(upd, 6, (int64_t)c.expired);
		rc = sqlite3_step(upd);
		sqlite3_reset(upd);
	}
	sqlite3_finalize(cnt);
	sqlite3_finalize(upd);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
salvage_runs(struct salvage *v)
{
	sqlite3_stmt *rows = NULL, *ins = NULL;
	int rc;

	if (exec(v, "DELETE FROM topic_runs") == -1)
		return -1;
	rc = sqlite3_prepare_v2(v->db, "SELECT topic_id, seq, fp FROM events"
	    " UNION ALL SELECT topic_id, seq, fp FROM kept ORDER BY topic_id,"
	    " seq", -1, &rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(v->db, sqlite_ins_run_sql, -1, &ins,
		    NULL);
	if (rc == SQLITE_OK)
		rc = runs_build_rows(rows, ins);
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	return rc == SQLITE_OK && exec(v, "UPDATE meta SET value = ("
	    SQLITE_LAST_SEQ_SQL ") WHERE name = 'indexed'") == 0 ? 0 : -1;
}

static void
salvage_free(struct salvage *v)
{
	size_t i;

	for (i = 0; i < v->ntopics; i++)
		free(v->names[i]);
	free(v->names);
	free(v->topic_sound);
	sqlite3_close(v->db);
}

long
sqlite_store_salvage(const char *path, const char *dest,
    store_report_fn *report, void *arg, uint64_t *kept, char *err,
    size_t errsz)
{
	struct salvage v;
	uint64_t events;
	int ok;

	if (sqlite_store_backup(path, dest, &events, err, errsz) == -1)
		return -1;
	memset(&v, 0, sizeof(v));
	v.report = report;
	v.arg = arg;
	if (sqlite3_open_v2(dest, &v.db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", dest, v.db ?
		    sqlite3_errmsg(v.db) : "out of memory");
		salvage_free(&v);
		return -1;
	}
	add_sum_columns(&v);
	ok = exec(&v, "BEGIN IMMEDIATE") == 0 && salvage_key(&v) == 0 &&
	    load_topics(&v) == 0 && salvage_events(&v) == 0 &&
	    salvage_kept(&v) == 0 &&
	    salvage_identities(&v) == 0 && salvage_counts(&v) == 0 &&
	    salvage_runs(&v) == 0 && exec(&v, "COMMIT") == 0;
	if (!ok) {
		snprintf(err, errsz, "%s: %s", dest, sqlite3_errmsg(v.db));
		(void)exec(&v, "ROLLBACK");
		salvage_free(&v);
		(void)remove(dest);
		return -1;
	}
	*kept = events - (uint64_t)v.dropped;
	salvage_free(&v);
	return v.dropped;
}
