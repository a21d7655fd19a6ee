/*
 * store_sqlite_wal.c - the SQLite store's write-ahead log: synced for every
 * acknowledged commit (sqlite_sync), and copied into the database by
 * checkpoints on a thread of their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"
#include "store_sqlite.h"

/*
 * synchronous=NORMAL: SQLite does not fsync at COMMIT; sqlite_sync does,
 * from another thread, so that the next transaction is built while the
 * last one reaches the disk.  Checkpoints still sync WAL and database.
 */
static const char pragmas[] = "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
    "PRAGMA journal_size_limit=67108864; PRAGMA cache_size=-8192;";

int
sqlite_wal_setup(struct sqlite_store *s)
{
	return sqlite3_exec(s->db, pragmas, NULL, NULL, NULL) == SQLITE_OK ?
	    0 : -1;
}

/* Counts the times the WAL started over: see checkpoint. */
static int
wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct sqlite_store *s = arg;

	(void)db;
	(void)name;
	if (frames < s->wal_frames)	/* the WAL started over */
		__atomic_store_n(&s->wal_gen, s->wal_gen + 1, __ATOMIC_RELEASE);
	s->wal_frames = frames;
	return SQLITE_OK;
}

/*
 * The WAL file, held open to fdatasync it; its directory entry synced.
 * SQLite's own names, not ones made from the path given: when that is a
 * symbolic link, SQLite keeps the WAL next to the file it points to.
 */
int
sqlite_wal_open(struct sqlite_store *s)
{
	const char *db = sqlite3_db_filename(s->db, "main");
	char path[PATH_MAX];

	if ((s->walfd = open(sqlite3_filename_wal(db), O_RDONLY | O_CREAT |
	    O_CLOEXEC, 0644)) == -1)
		return -1;
	sqlite3_wal_hook(s->db, wal_hook, s);
	if (snprintf(path, sizeof(path), "%s", db) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return sqlite_sync_parent(path);
}

int
sqlite_sync(struct store *st)
{
	return fdatasync(((struct sqlite_store *)st)->walfd);
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
#define CKPT_BUSY	(-4)	/* not run: another checkpoint held the lock */

/*
 * One round: 1 when the WAL is long and the next should follow at once,
 * 0 when not, CKPT_BUSY when it did not run, STORE_ERROR when it failed
 * and a later one may succeed, STORE_FULL when it failed for want of
 * disk space, STORE_IOERR (errno set) when writing the database back
 * failed: the kernel may have dropped the pages.
 */
static int
checkpoint(struct sqlite_store *s)
{
	int gen, log = 0, done = 0, rc;

	gen = __atomic_load_n(&s->wal_gen, __ATOMIC_ACQUIRE);
	rc = sqlite3_wal_checkpoint_v2(s->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done);
	if (rc == SQLITE_BUSY)
		return CKPT_BUSY;
	if (rc == SQLITE_FULL)
		return STORE_FULL;
	if (rc == SQLITE_IOERR &&
	    sqlite3_extended_errcode(s->ckpt) != SQLITE_IOERR_NOMEM) {
		errno = EIO;
		return STORE_IOERR;
	}
	if (rc != SQLITE_OK)
		return STORE_ERROR;
	/*
	 * SQLite fsyncs the database only in a checkpoint that reaches the
	 * end of the WAL: under load, the writer's sqlite_catch_up.  That
	 * fsync then wrote back every page copied since the WAL started over,
	 * up to 32 MiB scattered over the file, with the writer waiting: 2-38 ms
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

/*
 * Says when checkpoints start failing, or fail for another reason, and
 * when they succeed again, not every 20 ms in between.  Returns the state
 * now: 0, STORE_ERROR or STORE_FULL.  A round that did not run changes
 * nothing.
 */
static int
checkpoint_state(int was, int rc)
{
	int now;

	if (rc == CKPT_BUSY)
		return was;
	now = rc == STORE_ERROR || rc == STORE_FULL ? rc : 0;
	if (now != 0 && now != was)
		log_warnx("checkpoints fail%s; the WAL grows until one succeeds",
		    now == STORE_FULL ? ": the store's disk is full" : "");
	else if (now == 0 && was != 0)
		log_warnx("checkpoints succeed again");
	return now;
}

/*
 * The engine's maintenance (store_maintain): a checkpoint round, and the
 * memory the fingerprint index grows into next, made ahead on this thread
 * (fpset_make_spare), so that the writer does not take the page faults.
 */
int
sqlite_maintain(struct store *st)
{
	struct sqlite_store *s = (struct sqlite_store *)st;
	int rc;

	if ((rc = checkpoint(s)) == STORE_IOERR)
		return STORE_IOERR;
	s->ckpt_state = checkpoint_state(s->ckpt_state, rc);
	fpset_make_spare(&s->set);
	return rc == 1;
}

/*
 * The writer's side of the handshake above.  Past 4 x CKPT_CATCH_UP it
 * copies without waiting for the checkpointer, which bounds the WAL when
 * that thread cannot keep up.
 */
void
sqlite_catch_up(struct sqlite_store *s)
{
	int ready = __atomic_load_n(&s->ckpt_ready, __ATOMIC_ACQUIRE);

	if (s->wal_frames > CKPT_CATCH_UP && (ready == s->wal_gen + 1 ||
	    s->wal_frames > 4 * CKPT_CATCH_UP))
		(void)sqlite3_wal_checkpoint_v2(s->db, NULL,
		    SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

int
sqlite_ckpt_open(struct sqlite_store *s, const char *path)
{
	if (sqlite3_open_v2(path, &s->ckpt, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return -1;
	sqlite3_busy_timeout(s->ckpt, 1000);
	return sqlite3_exec(s->ckpt, "PRAGMA synchronous=NORMAL", NULL, NULL,
	    NULL) == SQLITE_OK ? 0 : -1;
}
