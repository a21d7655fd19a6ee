/*
 * store.h - the durable dedup store (SQLite, WAL).
 *
 * One writer (struct store), used by one thread, applies batches of events
 * in transactions: each event is new (stored with the next seq) or a
 * duplicate of a stored identity (topic, event_id) (only counted), and the
 * counters change in the same transaction, so received == unique +
 * duplicates holds in every committed state.  Readers (struct
 * store_reader) have their own connection and see committed states only;
 * they never wait for the writer.
 */
#ifndef AGG_STORE_H
#define AGG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define STORE_ERROR	(-1)
#define STORE_FULL	(-2)	/* the disk is full: nothing was applied */
#define STORE_IOERR	(-3)	/* the disk failed a write: trust it no more */
#define STORE_BUSY	(-4)	/* not run: another checkpoint held the lock */

struct store;
struct store_reader;

struct store_counts {
	uint64_t	received, unique, duplicates;
};

struct store	*store_open(const char *path, char *err, size_t errsz);
void		 store_close(struct store *);

/*
 * Applies batches b[0..n) in one transaction and sets res[i] to batch i's
 * counts.  Returns 0, or STORE_FULL or STORE_ERROR with a message in err:
 * then nothing at all was applied.  STORE_IOERR: the COMMIT itself failed,
 * after the transaction may have reached the WAL, and only recovery, at
 * the next open, decides whether it was applied; the caller must answer
 * nobody and stop.  A commit survives a crash of the process at once; it
 * survives a power loss after the next store_sync.
 */
int		 store_commit(struct store *, struct event_batch *const *b,
		    size_t n, struct store_counts *res, char *err, size_t errsz);

typedef int	 store_counts_fn(int64_t topic_id, const struct store_counts *,
		    void *arg);

/*
 * Calls fn with the committed counts of every topic (all = 1), or of the
 * topics that the last store_commit changed (all = 0; valid after it
 * returned 0, until the next call), until fn returns -1; returns that.
 * Topic ids are 1, 2, 3 ... in the order topics were first stored.
 */
int		 store_topic_counts(const struct store *, int all,
		    store_counts_fn *, void *arg);

/*
 * Makes every transaction committed so far durable (fdatasync of the
 * WAL).  Safe to call from another thread while the writer works; -1 with
 * errno when the disk failed.
 */
int		 store_sync(struct store *);

/*
 * Copies committed WAL pages into the database file without blocking the
 * writer (PASSIVE).  For one thread other than the writer's.  1 when the
 * WAL is long and the next round should follow at once, 0 when not,
 * STORE_BUSY when it did not run, STORE_ERROR when the round failed and a
 * later one may succeed, STORE_FULL when it failed for want of disk space,
 * and STORE_IOERR (errno set) when writing the database back failed: the
 * kernel may have dropped the pages, so see store_sync's callers.
 */
int		 store_checkpoint(struct store *);

/*
 * Makes, on the calling thread, the memory the dedup index grows into
 * next (fpset_make_spare).  For one thread other than the writer's.
 */
void		 store_make_room(struct store *);

/* Bytes of memory held by the dedup index. */
size_t		 store_index_bytes(const struct store *);
uint64_t	 store_last_seq(const struct store *);
/* Topics committed: the largest topic id. */
size_t		 store_topics(const struct store *);

struct store_reader *store_reader_open(const char *path, char *err, size_t errsz);
void		 store_reader_close(struct store_reader *);

typedef int	 store_name_fn(int64_t topic_id, const char *name, void *arg);
typedef int	 store_event_fn(const struct event_fields *, int64_t seq,
		    void *arg);

/*
 * Calls fn with each topic's id and name, in name order, until fn returns
 * -1.  Returns 0 or -1.
 */
int		 store_read_topics(struct store_reader *, store_name_fn *,
		    void *arg);

/* Sets *id to topic's: 0, 1 when the store has no such topic, or -1. */
int		 store_topic_id(struct store_reader *, const char *topic,
		    int64_t *id);

/*
 * Calls fn for up to limit events of a topic (topic_id 0: of all topics)
 * with seq > after, in seq order, until fn returns 1 (the page ends there)
 * or -1 (the read fails).  Returns 0 or -1.
 */
int		 store_read_events(struct store_reader *, int64_t topic_id,
		    int64_t after, int limit, store_event_fn *, void *arg);

const char	*store_reader_error(struct store_reader *);

#endif
