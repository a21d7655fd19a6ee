/*
 * store_sqlite.h - the SQLite engine of the store: what its files share
 * (store_sqlite.c writes, _topics.c keeps the topics, _open.c opens and
 * closes, _wal.c keeps the WAL and its checkpoints, _read.c reads,
 * _backup.c copies, _check.c and _salvage.c verify and salvage), and the
 * entry points store.c calls.  Nothing else includes it.
 */
#ifndef AGG_STORE_SQLITE_H
#define AGG_STORE_SQLITE_H

#include <pthread.h>
#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "fpset.h"
#include "runs.h"
#include "siphash.h"
#include "store.h"

struct topic {
	char		*name;
	size_t		 len;
	int64_t		 id;
	uint64_t	 hash;
	struct store_counts total;	/* committed */
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
	uint64_t	 received_ms;
};

struct sqlite_store {
	struct store	 base;		/* first: a struct store * is this */
	sqlite3		*db;
	int		 dbfd;		/* flock()ed; written back by checkpoints */
	int		 walfd;		/* for sqlite_sync, from any thread */
	sqlite3		*ckpt;		/* for checkpoints, their own thread */
	int		 wal_frames;	/* after the last commit */
	int		 wal_gen;	/* times the WAL started over */
	int		 ckpt_ready;	/* see sqlite_maintain */
	int		 ckpt_state;	/* 0, STORE_ERROR or STORE_FULL */
	struct siphash_key key;
	char		 damage[200];	/* why the store was refused, or "" */
	struct fpset	 set;
	pthread_mutex_t	 set_mu;	/* the writer's while it commits */
	uint64_t	 next_seq;
	uint64_t	 last_ms;	/* received_at of the last commit */
	uint64_t	 commit_ms;	/* of the open transaction's events */
	uint64_t	 indexed;	/* topic_runs hold every seq <= this */
	struct topic	*topics;	/* index i has id i + 1 */
	size_t		 ntopics, topics_cap;
	size_t		*tindex;	/* open addressing: topic index + 1 */
	size_t		 tindex_cap;
	size_t		*touched;	/* by the open or last transaction */
	size_t		 ntouched;
	struct run_item	*tail;		/* every event with seq > indexed */
	size_t		 ntail, tail_cap;
	struct pending	 pending[PENDING_MAX];	/* the last seqs, not in SQLite */
	size_t		 npending;
	sqlite3_stmt	*ins_events[INSERT_SIZES];	/* 1 << i rows */
	sqlite3_stmt	*get_event, *get_row, *get_kept, *ins_topic, *upd_topic;
	sqlite3_stmt	*ins_kept, *count_kept;	/* store_sqlite_expire.c */
	uint64_t	 expired_through;	/* the highest seq removed */
	sqlite3_stmt	*ins_run, *set_indexed;
	sqlite3_stmt	*begin, *commit, *rollback;
};

/* What store.c calls: the engine's ways in (store.h says what each does). */
struct store	*sqlite_store_open(const char *path, char *err, size_t errsz);
int		 sqlite_store_backup(const char *path, const char *dest,
		    uint64_t *events, char *err, size_t errsz);
int		 sqlite_store_restore(const char *backup, const char *path,
		    uint64_t *events, char *err, size_t errsz);

extern const char sqlite_ins_run_sql[];
extern const struct store_engine sqlite_engine;

#define ROWSUM_TOPIC	0x746f706963		/* rowsum_bytes tags */
#define ROWSUM_KEY	0x6b6579

/* store_sqlite.c: loads topics and the fingerprint index, prepares
   statements; the fingerprint of an identity and its candidates; the sum
   a topic's row keeps: over its id and name, which never change (its
   counters do, and aggd 1.1, which still opens the store, would leave a
   sum over them stale; --check checks them against the events). */
int64_t	 sqlite_topic_sum(int64_t id, const char *name, size_t len);
/*
 * The end of the writer's transaction: the touched topics' deltas added
 * to their totals (rollback_to NULL), or what the transaction changed
 * put back to the mark.  s->touched stays for store_topic_counts.
 */
struct sqlite_mark {
	size_t		 ntopics;
	uint64_t	 next_seq, indexed;
};
void	 sqlite_end_transaction(struct sqlite_store *,
	    const struct sqlite_mark *rollback_to);
/* The tail into topic_runs, in the open transaction: every INDEX_LAG
   events, or now. */
int	 sqlite_index_tail(struct sqlite_store *, int now);
int	 sqlite_step_done(sqlite3_stmt *);

/*
 * store_sqlite_topics.c: the topic of an event in the open transaction,
 * created if new (NULL with *rc set); forgetting those a rollback undid;
 * loading them (*uniq: their unique events); writing the open
 * transaction's counts; 1 when batch b would pass max_topics (-1 without
 * memory).
 */
struct topic *sqlite_topic_get(struct sqlite_store *, const char *name,
	    size_t len, int *rc);
void	 sqlite_topics_truncate(struct sqlite_store *, size_t n);
int	 sqlite_topics_load(struct sqlite_store *, uint64_t *uniq);
int	 sqlite_topics_flush(struct sqlite_store *);
int	 sqlite_past_topic_limit(struct sqlite_store *, const struct event_batch *);
uint64_t sqlite_fingerprint(const struct siphash_key *, const char *topic,
	    size_t topic_len, const char *event_id, size_t event_id_len);
/*
 * An event's four stored fields from columns col .. col + 3 of st
 * (event_id, ts, source, payload); topic is left alone.
 */
void	 sqlite_row_fields(sqlite3_stmt *st, int col, struct event_fields *f);
/* The last seq taken: an event's, stored or expired (kept). */
#define SQLITE_LAST_SEQ_SQL "SELECT max((SELECT coalesce(max(seq), 0) FROM" \
	" events), (SELECT coalesce(max(seq), 0) FROM kept))"
/* The event columns those read, in that order. */
#define SQLITE_FIELD_COLS	"event_id, ts, source, payload"

/* store_sqlite_check.c and _salvage.c: store_check's and store_salvage's. */
long	 sqlite_store_check(const char *path, store_report_fn *, void *,
	    uint64_t *events, char *err, size_t errsz);
long	 sqlite_store_salvage(const char *path, const char *dest,
	    store_report_fn *, void *, uint64_t *kept, char *err, size_t errsz);
int	 sqlite_load(struct sqlite_store *);
size_t	 sqlite_candidates(struct sqlite_store *, const char *topic,
	    size_t topic_len, const char *event_id, size_t event_id_len,
	    uint64_t *seq, size_t max);

/* store_sqlite_open.c: makes topic_runs again from the events, in a
   transaction of its own. */
int	 sqlite_rebuild_runs(struct sqlite_store *);
/* Syncs the folder that holds path. */
int	 sqlite_sync_parent(char *path);
/* Makes the folders path is in, each synced into its parent. */
int	 sqlite_mkdirs(const char *path, char *err, size_t errsz);
void	 sqlite_close(struct store *);

/* store_sqlite_wal.c */
int	 sqlite_wal_setup(struct sqlite_store *);
int	 sqlite_wal_open(struct sqlite_store *);
int	 sqlite_ckpt_open(struct sqlite_store *, const char *path);
void	 sqlite_catch_up(struct sqlite_store *);
int	 sqlite_sync(struct store *);
int	 sqlite_maintain(struct store *);

/*
 * store_sqlite_expire.c: store_expire's step, and whether the identity
 * kept for expired event seq is (topic_id, f's event_id): 1, 0, or -1
 * with *rc set (SQLITE_CORRUPT and s->damage when its row is damaged).
 */
int	 sqlite_expire(struct store *, uint64_t now_ms, size_t max);
int	 sqlite_expire_prepare(struct sqlite_store *);
int	 sqlite_kept_is(struct sqlite_store *, uint64_t seq, int64_t topic_id,
	    const struct event_fields *f, int *rc);
/* The sum a kept identity's row holds. */
int64_t	 sqlite_kept_sum(int64_t seq, int64_t topic_id, uint64_t fp,
	    const char *event_id, size_t len);

/* store_sqlite_read.c */
struct store_reader *sqlite_reader_open(struct store *, char *err,
	    size_t errsz);

#endif
