/*
 * store_sqlite_backup.c - online backup of a SQLite store, and restoring one.
 *
 * A backup is SQLite's backup API run in one step on a connection of its
 * own: one read transaction, so the copy is the store as of one commit,
 * while aggd goes on writing (WAL readers do not block the writer).
 * Every event acknowledged before the backup began is in it.  The copy is
 * written beside DEST, synced and renamed over it, so DEST is always a
 * whole backup or the one before.
 *
 * A restore copies a backup into place while no aggd runs on the store
 * (the same flock keeps them apart).  The old store's WAL and index go
 * first: a WAL left beside a database that is not its own would be
 * replayed into it at the next open.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "store_sqlite.h"

/* Copies database src (an open connection) into a new file at path. */
static int
copy_to(sqlite3 *src, const char *path, char *err, size_t errsz)
{
	sqlite3_backup *b;
	sqlite3 *dst = NULL;
	int rc;

	(void)unlink(path);
	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
		snprintf(err, errsz, "%s: %s", path, dst ? sqlite3_errmsg(dst) :
		    "out of memory");
		sqlite3_close(dst);
		return -1;
	}
	if ((b = sqlite3_backup_init(dst, "main", src, "main")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, sqlite3_errmsg(dst));
		sqlite3_close(dst);
		return -1;
	}
	rc = sqlite3_backup_step(b, -1);	/* all of it, one snapshot */
	(void)sqlite3_backup_finish(b);
	if (rc == SQLITE_DONE)
		rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL,
		    NULL);
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		snprintf(err, errsz, "%s: %s", path, sqlite3_errstr(rc));
		sqlite3_close(dst);
		(void)unlink(path);
		return -1;
	}
	sqlite3_close(dst);
	return 0;
}

/* fsyncs the file at path. */
static int
sync_file(const char *path)
{
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * An agg store: the tables aggd needs and its fingerprint key.  Opened
 * for reading only; *events gets the number of events in it.
 */
static sqlite3 *
open_store(const char *path, uint64_t *events, char *err, size_t errsz)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK)
		goto fail;
	sqlite3_busy_timeout(db, 5000);
	/* Prepared only when the tables are there; then the key must be. */
	if (sqlite3_exec(db, "PRAGMA query_only=1", NULL, NULL, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM"
	    " events), (SELECT count(*) FROM meta WHERE name = 'key'),"
	    " (SELECT count(*) FROM topics), (SELECT count(*) FROM topic_runs)",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW)
		goto fail;
	if (sqlite3_column_int(st, 1) != 1) {
		snprintf(err, errsz, "%s: not an agg store", path);
		sqlite3_finalize(st);
		sqlite3_close(db);
		return NULL;
	}
	*events = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return db;
fail:
	snprintf(err, errsz, "%s: %s", path, db && sqlite3_errcode(db) !=
	    SQLITE_OK ? sqlite3_errmsg(db) : "cannot open it");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return NULL;
}

/* dest.tmp, written, synced and renamed to dest, its folder synced. */
static int
write_copy(sqlite3 *src, const char *dest, char *err, size_t errsz)
{
	char tmp[PATH_MAX], dir[PATH_MAX];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", dest) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", dest) >= (int)sizeof(dir)) {
		snprintf(err, errsz, "%s: path too long", dest);
		return -1;
	}
	if (copy_to(src, tmp, err, errsz) == -1)
		return -1;
	if (sync_file(tmp) == -1 || rename(tmp, dest) == -1 ||
	    sqlite_sync_parent(dir) == -1) {
		snprintf(err, errsz, "%s: %s", dest, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
sqlite_store_backup(const char *path, const char *dest, uint64_t *events,
    char *err, size_t errsz)
{
	sqlite3 *src;
	int rc;

	if ((src = open_store(path, events, err, errsz)) == NULL)
		return -1;
	rc = write_copy(src, dest, err, errsz);
	sqlite3_close(src);
	return rc;
}

/* Removes the store's WAL and its index; -1 unless they are gone. */
static int
remove_wal(const char *path, char *err, size_t errsz)
{
	static const char *const suffix[] = { "-wal", "-shm" };
	char p[PATH_MAX];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(p, sizeof(p), "%s%s", path, suffix[i]);
		if (unlink(p) == -1 && errno != ENOENT) {
			snprintf(err, errsz, "%s: %s", p, strerror(errno));
			return -1;
		}
	}
	return 0;
}

int
sqlite_store_restore(const char *backup, const char *path, uint64_t *events,
    char *err, size_t errsz)
{
	sqlite3 *src;
	int fd = -1, rc = -1;

	if ((src = open_store(backup, events, err, errsz)) == NULL)
		return -1;
	/* The lock a running aggd holds (store_sqlite_open.c). */
	if (sqlite_mkdirs(path, err, errsz) == -1)
		goto done;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 ||
	    flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errsz, "store %s: %s", path, errno == EWOULDBLOCK ?
		    "in use by another aggd: stop it first" : strerror(errno));
		goto done;
	}
	if (remove_wal(path, err, errsz) == 0 &&
	    write_copy(src, path, err, errsz) == 0)
		rc = 0;
done:
	if (fd != -1)
		close(fd);
	sqlite3_close(src);
	return rc;
}
