/*
 * store_sqlite_open.c - opening and closing the SQLite store: its folders,
 * the lock that keeps a second aggd out, the schema and the conversion of
 * older stores, the fingerprint key.
 *
 * The flock on the store file keeps a second aggd out; the descriptor stays
 * open until SQLite has closed, since closing any descriptor of the file
 * would drop SQLite's POSIX locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rowsum.h"
#include "store_sqlite.h"

static void
seterr(char *err, size_t errsz, const char *fmt, const char *a, const char *b)
{
	snprintf(err, errsz, fmt, a, b);
}

static int
sync_dir(const char *dir)
{
	int fd, rc;

	/* EACCES: a folder we may enter but not read cannot be synced */
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return errno == EACCES ? 0 : -1;
	/* EINVAL: this file system does not sync directories (nothing to do) */
	rc = fsync(fd) == -1 && errno != EINVAL ? -1 : 0;
	close(fd);
	return rc;
}

/* Syncs the folder that holds path (cut at its last '/', then restored). */
int
sqlite_sync_parent(char *path)
{
	char *slash = strrchr(path, '/');
	int rc;

	if (slash == NULL)
		return sync_dir(".");
	if (slash == path)
		return sync_dir("/");
	*slash = '\0';
	rc = sync_dir(path);
	*slash = '/';
	return rc;
}

/*
 * Makes dir, whose parent exists, and syncs the parent: a power loss must
 * not take back the folder that holds acknowledged events.
 */
static int
mkdir_synced(char *dir)
{
	if (mkdir(dir, 0755) == -1)
		return errno == EEXIST ? 0 : -1;
	return sqlite_sync_parent(dir);
}

int
sqlite_mkdirs(const char *path, char *err, size_t errsz)
{
	char dir[PATH_MAX];
	char *p;

	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir)) {
		seterr(err, errsz, "%s: %s", path, "path too long");
		return -1;
	}
	if ((p = strrchr(dir, '/')) == NULL)
		return 0;
	*p = '\0';
	for (p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir_synced(dir) == -1)
			goto fail;
		*p = '/';
	}
	if (dir[0] && mkdir_synced(dir) == -1)
		goto fail;
	return 0;
fail:
	seterr(err, errsz, "cannot create directory %s: %s", dir, strerror(errno));
	return -1;
}

static int
sqlite_lock(struct sqlite_store *s, const char *path, char *err, size_t errsz)
{
	s->dbfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->dbfd == -1) {
		seterr(err, errsz, "store %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(s->dbfd, LOCK_EX | LOCK_NB) == -1) {
		seterr(err, errsz, "store %s: %s", path, errno == EWOULDBLOCK ?
		    "in use by another aggd" : strerror(errno));
		return -1;
	}
	return 0;
}


static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE IF NOT EXISTS topics(id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE, received INTEGER NOT NULL DEFAULT 0,"
    " uniq INTEGER NOT NULL DEFAULT 0, dups INTEGER NOT NULL DEFAULT 0,"
    " last_at INTEGER NOT NULL DEFAULT 0, sum INTEGER);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY,"
    " topic_id INTEGER NOT NULL, fp INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " ts TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL,"
    " received_at INTEGER, sum INTEGER);"
    "CREATE TABLE IF NOT EXISTS topic_runs(topic_id INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL, entries BLOB NOT NULL,"
    " PRIMARY KEY(topic_id, last_seq)) WITHOUT ROWID;"
    /* 1.2, retention: the identities of events retention removed (expire.c) */
    "CREATE TABLE IF NOT EXISTS kept(seq INTEGER PRIMARY KEY,"
    " topic_id INTEGER NOT NULL, fp INTEGER NOT NULL,"
    " event_id TEXT NOT NULL, sum INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO meta VALUES ('indexed', 0);"
    "INSERT OR IGNORE INTO meta VALUES ('expired_through', 0);";

/*
 * Where a store made before 1.1 keeps (topic_id, seq, fp) for every
 * event, in that order: aggd 1.0's index events_by_topic, or topic_seq, a
 * table of one row per event that main had for a day.
 */
static const struct {
	const char	*type, *name, *rows, *drop;
} old_formats[] = {
	{ "index", "events_by_topic", "SELECT topic_id, seq, fp FROM events"
	    " INDEXED BY events_by_topic ORDER BY topic_id, seq",
	    "DROP INDEX events_by_topic" },
	{ "table", "topic_seq", "SELECT topic_id, seq, fp FROM topic_seq"
	    " UNION ALL SELECT topic_id, seq, fp FROM events WHERE seq >"
	    " (SELECT value FROM meta WHERE name = 'indexed')"
	    " ORDER BY topic_id, seq", "DROP TABLE topic_seq" },
};

static int
exists(struct sqlite_store *s, const char *type, const char *name)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM sqlite_master"
	    " WHERE type = ? AND name = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* Fills topic_runs from rows_sql, (topic_id, seq, fp) of every event. */
static int
runs_convert(struct sqlite_store *s, const char *rows_sql)
{
	sqlite3_stmt *rows = NULL, *ins = NULL;
	int rc;

	/* Runs a 1.1 left before a 1.0 ran on the store are stale. */
	rc = sqlite3_exec(s->db, "DELETE FROM topic_runs", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, rows_sql, -1, &rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, sqlite_ins_run_sql, -1, &ins, NULL);
	if (rc == SQLITE_OK)
		rc = runs_build_rows(rows, ins);
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	if (rc != SQLITE_OK || sqlite3_exec(s->db, "UPDATE meta SET value = ("
	    SQLITE_LAST_SEQ_SQL ") WHERE name = 'indexed'", NULL, NULL, NULL)
	    != SQLITE_OK)
		return -1;
	return 0;
}

int
sqlite_rebuild_runs(struct sqlite_store *s)
{
	if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) !=
	    SQLITE_OK)
		return -1;
	if (runs_convert(s, "SELECT topic_id, seq, fp FROM events UNION ALL"
	    " SELECT topic_id, seq, fp FROM kept ORDER BY topic_id, seq") ==
	    -1 ||
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return 0;
}

/*
 * Columns that 1.2 added, to a store made before: ALTER TABLE ADD COLUMN
 * changes only the schema, not the rows.  Events stored before have no
 * received_at (NULL: /events says null).
 */
static const struct {
	const char	*table, *column, *add;
} new_columns[] = {
	{ "events", "received_at", "ALTER TABLE events ADD COLUMN received_at"
	    " INTEGER" },
	{ "topics", "last_at", "ALTER TABLE topics ADD COLUMN last_at INTEGER"
	    " NOT NULL DEFAULT 0" },
	/* 1.2: row sums (rowsum.h); NULL in rows written before them */
	{ "events", "sum", "ALTER TABLE events ADD COLUMN sum INTEGER" },
	{ "topics", "sum", "ALTER TABLE topics ADD COLUMN sum INTEGER" },
	/* 1.2, retention: unique events retention removed */
	{ "topics", "expired", "ALTER TABLE topics ADD COLUMN expired"
	    " INTEGER NOT NULL DEFAULT 0" },
};

static int
has_column(struct sqlite_store *s, const char *table, const char *column)
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM pragma_table_info(?)"
	    " WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	if ((rc = sqlite3_step(st)) == SQLITE_ROW)
		found = 1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? found : -1;
}

static int
add_columns(struct sqlite_store *s)
{
	size_t i;
	int has;

	for (i = 0; i < sizeof(new_columns) / sizeof(new_columns[0]); i++) {
		if ((has = has_column(s, new_columns[i].table,
		    new_columns[i].column)) == -1)
			return -1;
		if (!has && sqlite3_exec(s->db, new_columns[i].add, NULL, NULL,
		    NULL) != SQLITE_OK)
			return -1;
	}
	return 0;
}

/*
 * Converts an older store, in the transaction that opens it.  The first
 * old structure found is complete: a 1.0 keeps its index whole, and the
 * build that made topic_seq dropped the index.  A topic_seq found after
 * the index is stale (a 1.0 ran since) and is only dropped.
 */
static int
sqlite_migrate(struct sqlite_store *s)
{
	size_t i;
	int found, converted = 0;

	for (i = 0; i < sizeof(old_formats) / sizeof(old_formats[0]); i++) {
		if ((found = exists(s, old_formats[i].type,
		    old_formats[i].name)) == -1)
			return -1;
		if (!found)
			continue;
		if (!converted && runs_convert(s, old_formats[i].rows) == -1)
			return -1;
		converted = 1;
		if (sqlite3_exec(s->db, old_formats[i].drop, NULL, NULL, NULL) !=
		    SQLITE_OK)
			return -1;
	}
	return 0;
}

/*
 * The key's sum: one changed bit of the key changes every fingerprint,
 * and dedup would silently miss every stored identity.  Kept from the
 * first 1.2 start on.
 */
static int
key_sum(struct sqlite_store *s, const unsigned char *k, size_t len)
{
	int64_t want = rowsum_bytes(ROWSUM_KEY, 0, k, len);
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name ="
	    " 'key_sum'", -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) != want)
		snprintf(s->damage, sizeof(s->damage), "the fingerprint key"
		    " fails its checksum");
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		return *s->damage ? -1 : 0;
	if (rc != SQLITE_DONE || sqlite3_prepare_v2(s->db, "INSERT INTO meta"
	    " VALUES ('key_sum', ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, want);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The fingerprint key: made once per store, kept in it. */
static int
sqlite_key(struct sqlite_store *s)
{
	sqlite3_stmt *st;
	unsigned char k[16];
	int rc, ok = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name = 'key'",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW &&
	    sqlite3_column_bytes(st, 0) == (int)sizeof(k)) {
		memcpy(k, sqlite3_column_blob(st, 0), sizeof(k));
		ok = 1;
	}
	sqlite3_finalize(st);
	if (!ok) {
		if (rc == SQLITE_ROW ||
		    getrandom(k, sizeof(k), 0) != (ssize_t)sizeof(k) ||
		    sqlite3_prepare_v2(s->db, "INSERT INTO meta VALUES ('key', ?)",
		    -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_blob(st, 1, k, sizeof(k), SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return -1;
	}
	memcpy(&s->key.k0, k, 8);
	memcpy(&s->key.k1, k + 8, 8);
	return key_sum(s, k, sizeof(k));
}


static int
sqlite_setup(struct sqlite_store *s)
{
	if (sqlite_wal_setup(s) == -1 ||
	    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    add_columns(s) == -1 || sqlite_migrate(s) == -1 ||
	    sqlite_key(s) == -1 ||
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	return sqlite_load(s);
}

struct store *
sqlite_store_open(const char *path, char *err, size_t errsz)
{
	struct sqlite_store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		seterr(err, errsz, "%s%s", "out of memory", "");
		return NULL;
	}
	s->base.engine = &sqlite_engine;
	s->dbfd = s->walfd = -1;
	pthread_mutex_init(&s->set_mu, NULL);
	if (sqlite_mkdirs(path, err, errsz) == -1 ||
	    sqlite_lock(s, path, err, errsz) == -1)
		goto fail;
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		seterr(err, errsz, "store %s: %s", path, s->db ?
		    sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 5000);
	if (sqlite3_db_readonly(s->db, "main") == 1) {
		seterr(err, errsz, "store %s: %s", path, "read-only");
		goto fail;
	}
	if (sqlite_setup(s) == -1) {
		if (*s->damage)
			seterr(err, errsz, "store %s is damaged: %s (see"
			    " aggd --check)", path, s->damage);
		else
			seterr(err, errsz, "store %s: %s", path,
			    sqlite3_errmsg(s->db));
		goto fail;
	}
	if (sqlite_wal_open(s) == -1) {
		seterr(err, errsz, "store %s-wal: %s", path, strerror(errno));
		goto fail;
	}
	if (sqlite_ckpt_open(s, path) == -1) {
		seterr(err, errsz, "store %s: %s", path, sqlite3_errmsg(s->ckpt));
		goto fail;
	}
	return &s->base;
fail:
	sqlite_close(&s->base);
	return NULL;
}

void
sqlite_close(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	size_t i;

	for (i = 0; i < INSERT_SIZES; i++)
		sqlite3_finalize(s->ins_events[i]);
	sqlite3_finalize(s->get_event);
	sqlite3_finalize(s->get_row);
	sqlite3_finalize(s->get_kept);
	sqlite3_finalize(s->ins_kept);
	sqlite3_finalize(s->count_kept);
	sqlite3_finalize(s->ins_topic);
	sqlite3_finalize(s->upd_topic);
	sqlite3_finalize(s->ins_run);
	sqlite3_finalize(s->set_indexed);
	sqlite3_finalize(s->begin);
	sqlite3_finalize(s->commit);
	sqlite3_finalize(s->rollback);
	sqlite3_close(s->ckpt);
	sqlite3_close(s->db);
	if (s->dbfd != -1)
		close(s->dbfd);
	if (s->walfd != -1)
		close(s->walfd);
	fpset_free(&s->set);
	pthread_mutex_destroy(&s->set_mu);
	for (i = 0; i < s->ntopics; i++)
		free(s->topics[i].name);
	free(s->topics);
	free(s->tindex);
	free(s->touched);
	free(s->tail);
	free(s);
}
