/*
 * store_int.h - what the files of the store (store.c, store_open.c,
 * store_wal.c) share; nothing outside them includes it.
 */
#ifndef AGG_STORE_INT_H
#define AGG_STORE_INT_H

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
	sqlite3_stmt	*get_event, *ins_topic, *upd_topic;
	sqlite3_stmt	*ins_run, *set_indexed;
	sqlite3_stmt	*begin, *commit, *rollback;
};

extern const char store_ins_run_sql[];

/* store.c: loads topics and the fingerprint index, prepares statements. */
int	 store_load(struct store *);

/* store_open.c: syncs the folder that holds path. */
int	 store_sync_parent(char *path);
/* Makes the folders path is in, each synced into its parent. */
int	 store_mkdirs(const char *path, char *err, size_t errsz);

/* store_wal.c */
int	 store_wal_setup(struct store *);
int	 store_wal_open(struct store *);
int	 store_ckpt_open(struct store *, const char *path);
void	 store_catch_up(struct store *);

#endif
