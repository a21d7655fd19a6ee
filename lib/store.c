/*
 * store.c - the writer side of the dedup store.
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

#include "fpset.h"
#include "runs.h"
#include "siphash.h"
#include "store.h"

struct topic {
	char		*name;
	size_t		 len;
	int64_t		 id;
	uint64_t	 hash;
	struct store_counts delta;	/* of the open transaction */
	int		 touched;
};

/*
 * New events wait here and reach SQLite up to PENDING_MAX at a time, in
 * one multi-row INSERT: one statement run and one B-tree descent for many
 * rows instead of one each.  Statements for 1, 2, 4 .. PENDING_MAX rows
 * take any remainder in at most INSERT_SIZES runs.
 */
#define INSERT_SIZES	6
#define PENDING_MAX	(1 << (INSERT_SIZES - 1))

struct pending {
	struct event_fields f;		/* points into the caller's batch */
	int64_t		 topic_id;
	uint64_t	 fp;
};

struct store {
	sqlite3		*db;
	int		 dbfd;		/* flock()ed; written back by store_checkpoint */
	int		 walfd;		/* for store_sync, from any thread */
	sqlite3		*ckpt;		/* for store_checkpoint, its own thread */
	int		 wal_frames;	/* after the last commit */
	int		 wal_gen;	/* times the WAL started over */
	int		 ckpt_ready;	/* see store_checkpoint */
	struct siphash_key key;
	struct fpset	 set;
	uint64_t	 next_seq;
	uint64_t	 indexed;	/* topic_runs hold every seq <= this */
	struct topic	*topics;	/* index i has id i + 1 */
	size_t		 ntopics, topics_cap;
	size_t		*tindex;	/* open addressing: topic index + 1 */
	size_t		 tindex_cap;
	size_t		*touched;
	size_t		 ntouched;
	struct run_item	*tail;		/* every event with seq > indexed */
	size_t		 ntail, tail_cap;
	struct pending	 pending[PENDING_MAX];	/* the last seqs, not in SQLite */
	size_t		 npending;
	sqlite3_stmt	*ins_events[INSERT_SIZES];	/* 1 << i rows */
	sqlite3_stmt	*get_event, *ins_topic, *upd_topic;
	sqlite3_stmt	*ins_run, *set_indexed;
	sqlite3_stmt	*begin, *commit, *rollback;
};

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
static int
sync_parent(char *path)
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
	return sync_parent(dir);
}

static int
mkdirs(const char *path, char *err, size_t errsz)
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
store_lock(struct store *s, const char *path, char *err, size_t errsz)
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

static int
prepare(struct store *s, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    st, NULL) == SQLITE_OK ? 0 : -1;
}

static const char ins_run_sql[] = "INSERT INTO topic_runs VALUES (?,?,?)";

static int
prepare_inserts(struct store *s)
{
	static const char head[] = "INSERT INTO events(seq, topic_id, fp,"
	    " event_id, ts, source, payload) VALUES ", row[] = "(?,?,?,?,?,?,?)";
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
store_prepare(struct store *s)
{
	if (prepare_inserts(s) == -1 ||
	    prepare(s, &s->get_event, "SELECT topic_id, event_id FROM events"
	    " WHERE seq = ?") == -1 ||
	    prepare(s, &s->ins_topic, "INSERT INTO topics(id, name) VALUES (?,?)")
	    == -1 ||
	    prepare(s, &s->upd_topic, "UPDATE topics SET received = received + ?,"
	    " uniq = uniq + ?, dups = dups + ? WHERE id = ?") == -1 ||
	    prepare(s, &s->ins_run, ins_run_sql) == -1 ||
	    prepare(s, &s->set_indexed, "UPDATE meta SET value = ?"
	    " WHERE name = 'indexed'") == -1 ||
	    prepare(s, &s->begin, "BEGIN IMMEDIATE") == -1 ||
	    prepare(s, &s->commit, "COMMIT") == -1 ||
	    prepare(s, &s->rollback, "ROLLBACK") == -1)
		return -1;
	return 0;
}

static int
step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : rc;
}

/* Topic names -> struct topic, by open addressing over indices. */
static uint64_t
topic_hash(const struct store *s, const char *name, size_t len)
{
	return siphash(&s->key, name, len);
}

/* Places every topic in the zeroed table t[0..cap). */
static void
tindex_fill(const struct store *s, size_t *t, size_t cap)
{
	size_t i, j;

	for (i = 0; i < s->ntopics; i++) {
		for (j = s->topics[i].hash % cap; t[j]; j = (j + 1) % cap)
			;
		t[j] = i + 1;
	}
}

static int
tindex_rebuild(struct store *s, size_t cap)
{
	size_t *t;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	tindex_fill(s, t, cap);
	free(s->tindex);
	s->tindex = t;
	s->tindex_cap = cap;
	return 0;
}

static struct topic *
topic_find(struct store *s, const char *name, size_t len, uint64_t h)
{
	size_t j;
	struct topic *t;

	for (j = h % s->tindex_cap; s->tindex[j]; j = (j + 1) % s->tindex_cap) {
		t = &s->topics[s->tindex[j] - 1];
		if (t->hash == h && t->len == len && memcmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

/* Adds a topic to memory only; the caller stores it. */
static struct topic *
topic_add(struct store *s, const char *name, size_t len, uint64_t h)
{
	struct topic *t;
	size_t j;

	if (s->ntopics == s->topics_cap) {
		size_t cap = s->topics_cap ? s->topics_cap * 2 : 16;
		if ((t = realloc(s->topics, cap * sizeof(*t))) == NULL)
			return NULL;
		s->topics = t;
		s->topics_cap = cap;
	}
	if (2 * (s->ntopics + 1) > s->tindex_cap &&
	    tindex_rebuild(s, 4 * (s->ntopics + 1)) == -1)
		return NULL;
	t = &s->topics[s->ntopics];
	memset(t, 0, sizeof(*t));
	if ((t->name = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	t->len = len;
	t->hash = h;
	t->id = (int64_t)++s->ntopics;
	for (j = h % s->tindex_cap; s->tindex[j]; j = (j + 1) % s->tindex_cap)
		;
	s->tindex[j] = s->ntopics;
	return t;
}

/* The topic of an event in the open transaction, created if new. */
static struct topic *
topic_get(struct store *s, const char *name, size_t len, int *rc)
{
	uint64_t h = topic_hash(s, name, len);
	struct topic *t;

	if ((t = topic_find(s, name, len, h)) != NULL)
		return t;
	if ((t = topic_add(s, name, len, h)) == NULL) {
		*rc = SQLITE_NOMEM;
		return NULL;
	}
	sqlite3_bind_int64(s->ins_topic, 1, t->id);
	sqlite3_bind_text(s->ins_topic, 2, t->name, (int)len, SQLITE_STATIC);
	if ((*rc = step_done(s->ins_topic)) != 0)
		return NULL;
	return t;
}

/* Forgets topics created by a transaction that rolled back. */
static void
topics_truncate(struct store *s, size_t n)
{
	while (s->ntopics > n)
		free(s->topics[--s->ntopics].name);
	/* In place: a rollback must not fail for want of memory. */
	if (s->tindex == NULL)
		return;
	memset(s->tindex, 0, s->tindex_cap * sizeof(*s->tindex));
	tindex_fill(s, s->tindex, s->tindex_cap);
}

static int
topics_load(struct store *s, uint64_t *uniq)
{
	sqlite3_stmt *st;
	int rc;
	const char *name;
	size_t len;

	*uniq = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id, name, uniq FROM topics"
	    " ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (tindex_rebuild(s, 64) == -1)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 1);
		/* Ids are dense from 1: topic_add gives them in order. */
		if (sqlite3_column_int64(st, 0) != (int64_t)s->ntopics + 1 ||
		    topic_add(s, name, len, topic_hash(s, name, len)) == NULL)
			goto fail;
		*uniq += (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
fail:
	sqlite3_finalize(st);
	return -1;
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB);"
    "CREATE TABLE IF NOT EXISTS topics(id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE, received INTEGER NOT NULL DEFAULT 0,"
    " uniq INTEGER NOT NULL DEFAULT 0, dups INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS events(seq INTEGER PRIMARY KEY,"
    " topic_id INTEGER NOT NULL, fp INTEGER NOT NULL, event_id TEXT NOT NULL,"
    " ts TEXT NOT NULL, source TEXT NOT NULL, payload TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS topic_runs(topic_id INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL, entries BLOB NOT NULL,"
    " PRIMARY KEY(topic_id, last_seq)) WITHOUT ROWID;"
    "INSERT OR IGNORE INTO meta VALUES ('indexed', 0);";

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
exists(struct store *s, const char *type, const char *name)
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
runs_convert(struct store *s, const char *rows_sql)
{
	sqlite3_stmt *rows = NULL, *ins = NULL;
	int rc;

	/* Runs a 1.1 left before a 1.0 ran on the store are stale. */
	rc = sqlite3_exec(s->db, "DELETE FROM topic_runs", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, rows_sql, -1, &rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(s->db, ins_run_sql, -1, &ins, NULL);
	if (rc == SQLITE_OK)
		rc = runs_build_rows(rows, ins);
	sqlite3_finalize(rows);
	sqlite3_finalize(ins);
	if (rc != SQLITE_OK || sqlite3_exec(s->db, "UPDATE meta SET value ="
	    " (SELECT coalesce(max(seq), 0) FROM events) WHERE name = 'indexed'",
	    NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	return 0;
}

/*
 * Converts an older store, in the transaction that opens it.  The first
 * old structure found is complete: a 1.0 keeps its index whole, and the
 * build that made topic_seq dropped the index.  A topic_seq found after
 * the index is stale (a 1.0 ran since) and is only dropped.
 */
static int
store_migrate(struct store *s)
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

/* The fingerprint key: made once per store, kept in it. */
static int
store_key(struct store *s)
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
	return 0;
}

/* One integer: the first column of the first row of sql, or -1. */
static int
select_u64(struct store *s, const char *sql, uint64_t *v)
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

/* Adds the events in the runs. */
static int
fps_add_runs(struct store *s)
{
	uint64_t fp[LOAD_BATCH], seq[LOAD_BATCH];
	sqlite3_stmt *st;
	const void *blob;
	size_t i, n, len;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT entries FROM topic_runs", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		blob = sqlite3_column_blob(st, 0);
		len = (size_t)sqlite3_column_bytes(st, 0) / RUN_ENTRY;
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
tail_add(struct store *s, int64_t topic_id, uint64_t seq, uint64_t fp)
{
	struct run_item *t;

	if (s->ntail == s->tail_cap) {
		size_t cap = s->tail_cap ? s->tail_cap * 2 : 2 * INDEX_LAG;
		if ((t = realloc(s->tail, cap * sizeof(*t))) == NULL)
			return -1;
		s->tail = t;
		s->tail_cap = cap;
	}
	s->tail[s->ntail++] = (struct run_item){ topic_id, seq, fp };
	return 0;
}

/* Adds the events after the runs, to the set and to the tail. */
static int
fps_add_tail(struct store *s)
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
fps_load(struct store *s, uint64_t expected)
{
	uint64_t last;

	if (fpset_init(&s->set, (size_t)expected) == -1 ||
	    select_u64(s, "SELECT value FROM meta WHERE name = 'indexed'",
	    &s->indexed) == -1 ||
	    fps_add_runs(s) == -1 || fps_add_tail(s) == -1 ||
	    select_u64(s, "SELECT coalesce(max(seq), 0) FROM events", &last) == -1)
		return -1;
	s->next_seq = last + 1;
	return 0;
}

/*
 * synchronous=NORMAL: SQLite does not fsync at COMMIT; store_sync does,
 * from another thread, so that the next transaction is built while the
 * last one reaches the disk.  Checkpoints still sync WAL and database.
 */
#define WAL_SIZE	67108864	/* 64 MiB: journal_size_limit */
#define STRINGIFY(x)	#x
#define PRAGMA_SIZE(x)	"PRAGMA journal_size_limit=" STRINGIFY(x) ";"

static const char pragmas[] = "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
    PRAGMA_SIZE(WAL_SIZE) "PRAGMA cache_size=-8192;";

/*
 * The WAL is written out to WAL_SIZE, the size SQLite cuts it back to
 * when it starts over, before the first commit, so that every commit
 * overwrites blocks that are already the file's.  On this disk (ext4 on
 * virtio) an fdatasync after an append also commits the file's new size
 * to the journal: 220-250 us against 130 us after an overwrite, and
 * single-event requests over 32 connections went 11% faster with the WAL
 * written out (PostgreSQL zero-fills its WAL segments for the same
 * reason).  SQLite never takes the zeros for frames: recovery stops at
 * the first frame whose salt and checksum do not match.  Without the
 * space the WAL simply grows as it goes.
 */
static void
wal_fill(int fd)
{
	static const char zeros[1 << 16];
	struct stat st;
	off_t end;
	ssize_t n;

	if (fstat(fd, &st) == -1)
		return;
	for (end = st.st_size; end < WAL_SIZE; end += n) {
		n = pwrite(fd, zeros, sizeof(zeros) - (size_t)end % sizeof(zeros),
		    end);
		if (n <= 0)
			break;
	}
	if (end < WAL_SIZE || fdatasync(fd) == -1)
		(void)ftruncate(fd, st.st_size);
}

/*
 * The WAL file, held open to fdatasync it; its directory entry synced.
 * SQLite's own names, not ones made from the path given: when that is a
 * symbolic link, SQLite keeps the WAL next to the file it points to.
 * Called before any other connection is open, so nothing writes the WAL
 * while it is filled.
 */
static int
wal_open(struct store *s)
{
	const char *db = sqlite3_db_filename(s->db, "main");
	char path[PATH_MAX];

	if ((s->walfd = open(sqlite3_filename_wal(db), O_RDWR | O_CREAT |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	wal_fill(s->walfd);
	if (snprintf(path, sizeof(path), "%s", db) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return sync_parent(path);
}

int
store_sync(struct store *s)
{
	return fdatasync(s->walfd);
}

/*
 * Checkpoints run on their own connection and thread, PASSIVE: they copy
 * WAL pages into the database while the writer goes on appending, instead
 * of stalling a commit for tens of milliseconds the way SQLite's
 * automatic checkpoint (run inside COMMIT) does.
 *
 * Under sustained writes a background checkpoint never reaches the end of
 * the WAL, and the WAL starts over only after one that did.  So past
 * CKPT_CATCH_UP frames the checkpointer goes round without pausing and,
 * after each round, tells the writer which WAL generation it has nearly
 * copied (ckpt_ready); the writer, between two transactions, then copies
 * the little that is left and its next transaction starts the WAL over.
 * Measured at 100k events/s: the writer copying the whole 32 MiB itself
 * held it 10-32 ms every half second; a RESTART checkpoint from the other
 * thread made both wait in SQLite's busy handler (p99 60-130 ms).
 */
#define CKPT_CATCH_UP	8192	/* frames: 32 MiB of WAL */

int
store_checkpoint(struct store *s)
{
	int gen, log = 0, done = 0, rc;

	gen = __atomic_load_n(&s->wal_gen, __ATOMIC_ACQUIRE);
	rc = sqlite3_wal_checkpoint_v2(s->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	if (rc == SQLITE_IOERR &&
	    sqlite3_extended_errcode(s->ckpt) != SQLITE_IOERR_NOMEM) {
		errno = EIO;
		return STORE_IOERR;
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		return STORE_ERROR;
	/*
	 * SQLite fsyncs the database only in a checkpoint that reaches the
	 * end of the WAL: under load, the writer's catch_up.  That fsync then
	 * wrote back every page copied since the WAL started over, up to
	 * 32 MiB scattered over the file, with the writer waiting: 2-38 ms
	 * every half second, the p99 of 100-event requests at half the
	 * maximum rate.  Writing each round's pages back here, on this
	 * thread, leaves that fsync little to do.  No device flush: SQLite's
	 * fsync stays what makes the database durable.
	 */
	if (done > 0 && sync_file_range(s->dbfd, 0, 0,
	    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
	    SYNC_FILE_RANGE_WAIT_AFTER) == -1)
		return STORE_IOERR;
	if (log <= CKPT_CATCH_UP)
		return 0;
	__atomic_store_n(&s->ckpt_ready, gen + 1, __ATOMIC_RELEASE);
	return 1;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	if (frames < s->wal_frames)	/* the WAL started over */
		__atomic_store_n(&s->wal_gen, s->wal_gen + 1, __ATOMIC_RELEASE);
	s->wal_frames = frames;
	return SQLITE_OK;
}

/*
 * The writer's side of the handshake above.  Past 4 x CKPT_CATCH_UP it
 * copies without waiting for the checkpointer, which bounds the WAL when
 * that thread cannot keep up.
 */
static void
catch_up(struct store *s)
{
	int ready = __atomic_load_n(&s->ckpt_ready, __ATOMIC_ACQUIRE);

	if (s->wal_frames > CKPT_CATCH_UP && (ready == s->wal_gen + 1 ||
	    s->wal_frames > 4 * CKPT_CATCH_UP))
		(void)sqlite3_wal_checkpoint_v2(s->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static int
ckpt_open(struct store *s, const char *path)
{
	if (sqlite3_open_v2(path, &s->ckpt, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(s->ckpt, 1000);
	return sqlite3_exec(s->ckpt, "PRAGMA synchronous=NORMAL", NULL, NULL,
	    NULL) == SQLITE_OK ? 0 : -1;
}

static int
store_setup(struct store *s)
{
	uint64_t uniq;

	if (sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL) != SQLITE_OK ||
	    store_migrate(s) == -1 || store_key(s) == -1 ||
	    sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	if (topics_load(s, &uniq) == -1 || fps_load(s, uniq) == -1 ||
	    store_prepare(s) == -1)
		return -1;
	return 0;
}

struct store *
store_open(const char *path, char *err, size_t errsz)
{
	struct store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		seterr(err, errsz, "%s%s", "out of memory", "");
		return NULL;
	}
	s->dbfd = s->walfd = -1;
	if (mkdirs(path, err, errsz) == -1 || store_lock(s, path, err, errsz) == -1)
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
	if (store_setup(s) == -1) {
		seterr(err, errsz, "store %s: %s", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	if (wal_open(s) == -1) {
		seterr(err, errsz, "store %s-wal: %s", path, strerror(errno));
		goto fail;
	}
	sqlite3_wal_hook(s->db, wal_hook, s);
	if (ckpt_open(s, path) == -1) {
		seterr(err, errsz, "store %s: %s", path, sqlite3_errmsg(s->ckpt));
		goto fail;
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < INSERT_SIZES; i++)
		sqlite3_finalize(s->ins_events[i]);
	sqlite3_finalize(s->get_event);
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
	for (i = 0; i < s->ntopics; i++)
		free(s->topics[i].name);
	free(s->topics);
	free(s->tindex);
	free(s->touched);
	free(s->tail);
	free(s);
}

static uint64_t
fingerprint(const struct store *s, const struct event_fields *f)
{
	unsigned char key[1 + 2 * EVENT_FIELD_MAX];

	/* The length prefix keeps ("ab","c") apart from ("a","bc"). */
	key[0] = (unsigned char)f->topic_len;
	memcpy(key + 1, f->topic, f->topic_len);
	memcpy(key + 1 + f->topic_len, f->event_id, f->event_id_len);
	return siphash(&s->key, key, 1 + f->topic_len + f->event_id_len);
}

/* 1 when a candidate's (topic_id, event_id) is f's. */
static int
same_identity(int64_t topic_id, const void *event_id, size_t len,
    int64_t want_topic_id, const struct event_fields *f)
{
	return topic_id == want_topic_id && len == f->event_id_len &&
	    memcmp(event_id, f->event_id, len) == 0;
}

/* 1 when (topic, event_id) is stored (or added by this transaction). */
static int
is_stored(struct store *s, uint64_t fp, int64_t topic_id,
    const struct event_fields *f, int *rc)
{
	uint64_t first_pending = s->next_seq - s->npending, seq;
	const struct pending *p;
	size_t pos = FPSET_START;
	int found = 0, step;

	while (!found && (seq = fpset_next(&s->set, fp, &pos)) != 0) {
		if (seq >= first_pending) {
			p = &s->pending[seq - first_pending];
			found = same_identity(p->topic_id, p->f.event_id,
			    p->f.event_id_len, topic_id, f);
			continue;
		}
		sqlite3_bind_int64(s->get_event, 1, (int64_t)seq);
		if ((step = sqlite3_step(s->get_event)) == SQLITE_ROW) {
			found = same_identity(
			    sqlite3_column_int64(s->get_event, 0),
			    sqlite3_column_blob(s->get_event, 1),
			    (size_t)sqlite3_column_bytes(s->get_event, 1),
			    topic_id, f);
		} else if (step != SQLITE_DONE) {
			*rc = step;
			found = -1;
		}
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
}

/* Inserts the pending rows, the largest statement that fits first. */
static int
flush_pending(struct store *s)
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
			bind_row(s->ins_events[k], 7 * (int)i, seq + done + i,
			    &s->pending[done + i]);
		if ((rc = step_done(s->ins_events[k])) != 0)
			return rc;
		done += rows;
	}
	s->npending = 0;
	return 0;
}

static int
insert_event(struct store *s, const struct event_fields *f, int64_t topic_id,
    uint64_t fp)
{
	uint64_t seq = s->next_seq;
	int rc;

	if (seq > FPSET_SEQ_MAX)
		return SQLITE_FULL;
	if (s->npending == PENDING_MAX && (rc = flush_pending(s)) != 0)
		return rc;
	s->pending[s->npending++] = (struct pending){ *f, topic_id, fp };
	s->next_seq++;
	if (tail_add(s, topic_id, seq, fp) == -1 ||
	    fpset_add(&s->set, fp, seq) == -1)
		return SQLITE_NOMEM;
	return 0;
}

static int
apply_event(struct store *s, const struct event_fields *f,
    struct store_counts *res)
{
	struct topic *t;
	uint64_t fp;
	int rc = 0, dup;

	if ((t = topic_get(s, f->topic, f->topic_len, &rc)) == NULL)
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
	if (dup) {
		t->delta.duplicates++;
		res->duplicates++;
	} else {
		t->delta.unique++;
		res->unique++;
	}
	return 0;
}

static int
flush_topics(struct store *s)
{
	struct topic *t;
	size_t i;
	int rc;

	for (i = 0; i < s->ntouched; i++) {
		t = &s->topics[s->touched[i]];
		sqlite3_bind_int64(s->upd_topic, 1, (int64_t)t->delta.received);
		sqlite3_bind_int64(s->upd_topic, 2, (int64_t)t->delta.unique);
		sqlite3_bind_int64(s->upd_topic, 3, (int64_t)t->delta.duplicates);
		sqlite3_bind_int64(s->upd_topic, 4, t->id);
		if ((rc = step_done(s->upd_topic)) != 0)
			return rc;
	}
	return 0;
}

static int
index_tail(struct store *s)
{
	uint64_t last = s->next_seq - 1;
	int rc;

	if (last - s->indexed < INDEX_LAG)
		return 0;
	sqlite3_bind_int64(s->set_indexed, 1, (int64_t)last);
	if ((rc = runs_build_items(s->tail, s->ntail, s->ins_run)) != 0 ||
	    (rc = step_done(s->set_indexed)) != 0)
		return rc;
	s->indexed = last;
	return 0;
}

static int
apply_all(struct store *s, struct event_batch *const *b, size_t n,
    struct store_counts *res)
{
	struct event_fields f;
	size_t i, j;
	int rc;

	for (i = 0; i < n; i++) {
		memset(&res[i], 0, sizeof(res[i]));
		for (j = 0; j < b[i]->n; j++) {
			event_fields(b[i], j, &f);
			if ((rc = apply_event(s, &f, &res[i])) != 0)
				return rc;
		}
	}
	if ((rc = flush_pending(s)) != 0 || (rc = flush_topics(s)) != 0 ||
	    (rc = index_tail(s)) != 0)
		return rc;
	return step_done(s->commit);
}

/* Room to mark every topic touched, whatever the batch brings. */
static int
touched_reserve(struct store *s, struct event_batch *const *b, size_t n)
{
	size_t need = s->ntopics, i, *t;

	for (i = 0; i < n; i++)
		need += b[i]->n;
	if ((t = realloc(s->touched, (need + 1) * sizeof(*t))) == NULL)
		return -1;
	s->touched = t;
	return 0;
}

/* What a transaction that rolls back puts back. */
struct mark {
	size_t		 ntopics;
	uint64_t	 next_seq, indexed;
};

static void
end_transaction(struct store *s, const struct mark *rollback_to)
{
	size_t i, kept = 0;

	if (rollback_to) {
		(void)step_done(s->rollback);
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
		topics_truncate(s, rollback_to->ntopics);
	}
	for (i = 0; i < s->ntouched; i++)
		if (s->touched[i] < s->ntopics) {
			memset(&s->topics[s->touched[i]].delta, 0,
			    sizeof(struct store_counts));
			s->topics[s->touched[i]].touched = 0;
		}
	s->ntouched = 0;
	if (s->indexed == s->next_seq - 1)
		s->ntail = 0;
}

int
store_commit(struct store *s, struct event_batch *const *b, size_t n,
    struct store_counts *res, char *err, size_t errsz)
{
	struct mark before = { s->ntopics, s->next_seq, s->indexed };
	int rc;

	if (touched_reserve(s, b, n) == -1)
		rc = SQLITE_NOMEM;
	else if ((rc = step_done(s->begin)) == 0)
		rc = apply_all(s, b, n, res);
	if (rc == 0) {
		end_transaction(s, NULL);
		catch_up(s);
		return 0;
	}
	snprintf(err, errsz, "store: %s", rc == SQLITE_NOMEM ? "out of memory" :
	    sqlite3_errstr(rc));
	end_transaction(s, &before);
	return rc == SQLITE_FULL ? STORE_FULL : STORE_ERROR;
}

void
store_make_room(struct store *s)
{
	fpset_make_spare(&s->set);
}

size_t
store_index_bytes(const struct store *s)
{
	return fpset_bytes(&s->set);
}

uint64_t
store_last_seq(const struct store *s)
{
	return s->next_seq - 1;
}
