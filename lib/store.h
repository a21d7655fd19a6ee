/*
 * store.h - the durable dedup store, whatever engine keeps it.
 *
 * One writer (struct store), used by one thread, applies batches of events
 * in transactions: each event is new (stored with the next seq) or a
 * duplicate of a stored identity (topic, event_id) (only counted), and the
 * counters change in the same transaction, so received == unique +
 * duplicates holds in every committed state.  Readers (struct
 * store_reader), one per thread that reads, see committed states only and
 * never wait for the writer's commit to be durable.
 *
 * The engine is chosen by store_open from where the store is: a path is
 * SQLite (store_sqlite.c), the embedded default.  What only one engine has
 * (SQLite's checkpoints, its WAL, its in-memory fingerprint index) stays
 * behind this interface: callers see a commit, a sync that makes commits
 * durable, maintenance for a thread of its own, and reads.
 */
#ifndef AGG_STORE_H
#define AGG_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

#define STORE_ERROR	(-1)
#define STORE_FULL	(-2)	/* the disk is full: nothing was applied */
#define STORE_IOERR	(-3)	/* the disk failed a write: trust it no more */
#define STORE_TOPICS	(-4)	/* a batch refused: it would pass max_topics */
#define STORE_UNAVAILABLE (-5)	/* the database went away: the outcome is
				   unknown, a retry is safe (dedup) */

struct store;
struct store_reader;

struct store_counts {
	uint64_t	received, unique, duplicates;
	uint64_t	expired;	/* unique events retention removed:
					   unique - expired are stored */
	uint64_t	last_ms;	/* when the last arrived (ms since 1970), 0 none */
	int		refused;	/* store_commit: the batch would pass
					   max_topics, and nothing of it was
					   applied */
};

typedef int	 store_counts_fn(int64_t topic_id, const struct store_counts *,
		    void *arg);
typedef int	 store_name_fn(int64_t topic_id, const char *name, void *arg);
typedef int	 store_event_fn(const struct event_fields *,
		    const struct event_stored *, void *arg);

/* Which events a read takes: seqs in (after, before), limit of them. */
struct store_range {
	int64_t		 after;
	int64_t		 before;	/* the caller's bound on what it shows */
	int		 limit;
	int		 from_end;	/* the newest limit of them, not the oldest */
};

/*
 * What retention keeps: events leave oldest first (in seq order), when
 * older than max_age_ms or while the store is larger than max_bytes;
 * their identities stay, so a re-send is still a duplicate.  0: no limit.
 */
struct store_retention {
	uint64_t	 max_age_ms;
	uint64_t	 max_bytes;
};

/* What an engine does; see the functions below for what each means. */
struct store_engine {
	const char	*name;
	int	(*commit)(struct store *, struct event_batch *const *, size_t,
		    struct store_counts *, char *, size_t);
	int	(*topic_counts)(const struct store *, int, store_counts_fn *,
		    void *);
	int	(*sync)(struct store *);
	int	(*maintain)(struct store *);
	int	(*expire)(struct store *, uint64_t, size_t);
	uint64_t (*expired_through)(const struct store *);
	int	(*follow)(struct store *, uint64_t *, store_counts_fn *, void *,
		    char *, size_t);
	size_t	(*index_bytes)(const struct store *);
	uint64_t (*last_seq)(const struct store *);
	size_t	(*topics)(const struct store *);
	struct store_reader *(*reader_open)(struct store *, char *, size_t);
	void	(*close)(struct store *);
};

struct store_reader_engine {
	void	(*close)(struct store_reader *);
	int	(*read_topics)(struct store_reader *, const char *after,
		    store_name_fn *, void *);
	int	(*topic_id)(struct store_reader *, const char *, int64_t *);
	int	(*read_events)(struct store_reader *, int64_t,
		    const struct store_range *, store_event_fn *, void *);
	int	(*find)(struct store_reader *, const char *, size_t,
		    const char *, size_t, const struct store_range *,
		    store_event_fn *, void *);
	int	(*seq_at)(struct store_reader *, int64_t, int64_t *);
};

/* Every engine's handles begin with these. */
struct store {
	const struct store_engine *engine;
	size_t		 max_topics;	/* 0: no limit; set after store_open */
	struct store_retention retain;	/* likewise */
};
struct store_reader {
	const struct store_reader_engine *engine;
	/* Why the last read failed when a row failed its checksum, else "";
	   each read clears it. */
	char		 damage[200];
	/* Why, when the database could not be reached (a retry may do). */
	char		 unavailable[200];
};

/* where as logs may show it: a URI without its password. */
void		 store_display(const char *where, char *out, size_t sz);

/*
 * The store at where (a path: SQLite; a postgres[ql]:// URI: PostgreSQL);
 * NULL with a one-line err.  A PostgreSQL store that cannot be reached
 * yet is opened all the same: its commits and reads fail with
 * STORE_UNAVAILABLE until it can.
 */
struct store	*store_open(const char *where, char *err, size_t errsz);
void		 store_close(struct store *);

/*
 * Applies batches b[0..n) in one transaction and sets res[i] to batch i's
 * counts.  A batch that would bring the store past max_topics topics is
 * not applied (res[i].refused), the others are.  Returns 0, or
 * STORE_FULL or STORE_ERROR with a message in err: then nothing at all
 * was applied.  STORE_UNAVAILABLE: the database cannot be reached, or the
 * connection broke before the commit was answered, so it may or may not
 * have been applied; a retry is safe (dedup), and the store reconnects
 * by itself.  STORE_IOERR: the commit itself failed after it may have
 * reached the disk, and only recovery decides whether it was applied;
 * the caller must answer nobody and stop.  A
 * commit survives a crash of the process at once; it survives a power
 * loss after the next store_sync.
 */
int		 store_commit(struct store *, struct event_batch *const *b,
		    size_t n, struct store_counts *res, char *err, size_t errsz);

/*
 * Calls fn with the committed counts of every topic (all = 1), or of the
 * topics that the last store_commit changed (all = 0; valid after it
 * returned 0, until the next call), until fn returns -1; returns that.
 * Topic ids are 1, 2, 3 ... in the order topics were first stored.
 */
int		 store_topic_counts(const struct store *, int all,
		    store_counts_fn *, void *arg);

/*
 * Makes every transaction committed so far durable.  Safe to call from
 * another thread while the writer works; -1 with errno when the disk
 * failed.  0 at once for an engine whose commits are durable already
 * (store_sync_needed says which).
 */
int		 store_sync(struct store *);
int		 store_sync_needed(const struct store *);

/*
 * The engine's background work, for one thread other than the writer's,
 * called every few milliseconds: 1 when more is waiting and the next call
 * should follow at once, 0 when not, STORE_IOERR (errno set) when the
 * disk failed and the process must stop as after a failed sync.
 */
int		 store_maintain(struct store *);

/*
 * One step of retention, from the writer's thread between commits: in a
 * transaction of its own, removes at most max of the oldest events that
 * store->retain says must go at now_ms (ms since 1970), keeping their
 * identities, and counts them as expired.  Returns 1 when more must go
 * (call again soon), 0 when nothing does now, or a store_commit error
 * (STORE_IOERR: stop as there).  After 1 or 0, store_topic_counts(all =
 * 0) gives the topics whose expired counts changed (none after 0 with
 * nothing removed).
 */
int		 store_expire(struct store *, uint64_t now_ms, size_t max);
/* The highest seq retention has removed: 0 when none. */
uint64_t	 store_expired_through(const struct store *);

/*
 * For a store that several aggd write (PostgreSQL): what the others
 * committed.  From the thread that calls store_maintain, every few
 * milliseconds: calls fn with the counts of each topic that changed since
 * the last call (absolute, as store_topic_counts) and sets *last_seq to
 * the store's highest committed seq.  Returns 1 when something changed,
 * 0 when not (an engine only one aggd writes: always), STORE_UNAVAILABLE
 * with err set while the database cannot be reached.
 */
int		 store_follow(struct store *, uint64_t *last_seq,
		    store_counts_fn *fn, void *arg, char *err, size_t errsz);

/* Bytes of memory held by the dedup index. */
size_t		 store_index_bytes(const struct store *);
uint64_t	 store_last_seq(const struct store *);
/* Topics committed: the largest topic id. */
size_t		 store_topics(const struct store *);
/* "sqlite" */
const char	*store_engine_name(const struct store *);

/*
 * A consistent copy of the store at where in dest, taken while aggd runs;
 * *events: how many it holds.  0, or -1 with err set.
 */
int		 store_backup(const char *where, const char *dest,
		    uint64_t *events, char *err, size_t errsz);
/*
 * Verifies every value the store at where holds against what wrote it
 * (aggd --check): each problem found goes to report as one line.
 * Returns how many were found (*events: how many events it holds), or -1
 * with err set when the store cannot be read at all.
 */
typedef void	 store_report_fn(const char *line, void *arg);
long		 store_check(const char *where, store_report_fn *, void *arg,
		    uint64_t *events, char *err, size_t errsz);
/*
 * Writes the sound rows of the store at where into a new store at dest
 * (aggd --salvage), the store itself untouched: what was dropped or made
 * again goes to report.  Returns how many events were dropped (*kept:
 * how many are in dest), or -1 with err set.
 */
long		 store_salvage(const char *where, const char *dest,
		    store_report_fn *, void *arg, uint64_t *kept, char *err,
		    size_t errsz);

/* The store at where replaced by the backup, while no aggd runs on it. */
int		 store_restore(const char *backup, const char *where,
		    uint64_t *events, char *err, size_t errsz);

/* A reader of the store, for one thread. */
struct store_reader *store_reader_open(struct store *, char *err,
		    size_t errsz);
void		 store_reader_close(struct store_reader *);

/*
 * Calls fn with the id and name of each topic whose name sorts after
 * after ("": all), in name order, until fn returns 1 (enough) or -1
 * (failed).  Returns 0 or -1.
 */
int		 store_read_topics(struct store_reader *, const char *after,
		    store_name_fn *, void *arg);

/* Sets *id to topic's: 0, 1 when the store has no such topic, or -1. */
int		 store_topic_id(struct store_reader *, const char *topic,
		    int64_t *id);

/*
 * Calls fn for the events of a topic (topic_id 0: of all topics) in the
 * range, in seq order, until fn returns 1 (the page ends there) or -1
 * (the read fails).  Returns 0 or -1.
 */
int		 store_read_events(struct store_reader *, int64_t topic_id,
		    const struct store_range *, store_event_fn *, void *arg);

/* Calls fn for the stored event (topic, event_id) if its seq is in the
   range.  0 or -1. */
int		 store_find(struct store_reader *, const char *topic,
		    size_t topic_len, const char *event_id, size_t event_id_len,
		    const struct store_range *, store_event_fn *, void *arg);

/*
 * Sets *seq to the first event that arrived at or after ms (since 1970),
 * or to one past the last event when none did.  0 or -1.
 */
int		 store_seq_at(struct store_reader *, int64_t ms, int64_t *seq);

#endif
