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
	uint64_t	last_ms;	/* when the last arrived (ms since 1970), 0 none */
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

/*
 * A consistent copy of the store at path in dest, taken while aggd runs
 * (store_backup.c); *events: how many it holds.  0, or -1 with err set.
 */
int		 store_backup(const char *path, const char *dest,
		    uint64_t *events, char *err, size_t errsz);
/* The store at path replaced by the backup, while no aggd runs on it. */
int		 store_restore(const char *backup, const char *path,
		    uint64_t *events, char *err, size_t errsz);

struct store_reader *store_reader_open(const char *path, char *err, size_t errsz);
void		 store_reader_close(struct store_reader *);

typedef int	 store_name_fn(int64_t topic_id, const char *name, void *arg);
typedef int	 store_event_fn(const struct event_fields *,
		    const struct event_stored *, void *arg);

/*
 * Calls fn with each topic's id and name, in name order, until fn returns
 * -1.  Returns 0 or -1.
 */
int		 store_read_topics(struct store_reader *, store_name_fn *,
		    void *arg);

/* Sets *id to topic's: 0, 1 when the store has no such topic, or -1. */
int		 store_topic_id(struct store_reader *, const char *topic,
		    int64_t *id);

/* Which events a read takes: seqs in (after, before), limit of them. */
struct store_range {
	int64_t		 after;
	int64_t		 before;	/* the caller's bound on what it shows */
	int		 limit;
	int		 from_end;	/* the newest limit of them, not the oldest */
};

/*
 * Calls fn for the events of a topic (topic_id 0: of all topics) in the
 * range, in seq order, until fn returns 1 (the page ends there) or -1
 * (the read fails).  Returns 0 or -1.
 */
int		 store_read_events(struct store_reader *, int64_t topic_id,
		    const struct store_range *, store_event_fn *, void *arg);

/* Calls fn for event seq, if it is stored.  0 or -1. */
int		 store_read_seq(struct store_reader *, int64_t seq,
		    store_event_fn *, void *arg);

/*
 * Sets *seq to the first event that arrived at or after ms (since 1970),
 * or to one past the last event when none did.  0 or -1.
 */
int		 store_seq_at(struct store_reader *, int64_t ms, int64_t *seq);

/*
 * Candidates for the event (topic, event_id): up to max seqs into seq,
 * their number returned.  A candidate may be another event (the caller
 * compares the stored identity) or not yet durable.  May wait for a
 * commit in progress.
 */
size_t		 store_candidates(struct store *, const char *topic,
		    size_t topic_len, const char *event_id, size_t event_id_len,
		    uint64_t *seq, size_t max);

const char	*store_reader_error(struct store_reader *);

#endif
