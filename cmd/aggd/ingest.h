/*
 * ingest.h - the bounded ingest queue and the writer thread.
 *
 * The loop submits parsed batches; the writer takes everything queued,
 * applies it in one transaction (group commit), an fsync makes it durable,
 * and each job goes back:
 * to the loop through an eventfd (HTTP requests, answered only then), or
 * to a thread blocked in ingest_wait (the stdin feed).  While a commit and
 * its fsync run, the loop goes on accepting and parsing.
 */
#ifndef AGGD_INGEST_H
#define AGGD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "event.h"
#include "store.h"
#include "tally.h"

struct ingest_job {
	struct ingest_job *next;
	struct event_batch batch;
	/* Called on the loop's thread when done (not for waited jobs). */
	void		(*done)(struct ingest_job *);
	void		*owner;		/* whoever submitted it */
	int		 waited;	/* finished through ingest_wait */
	int		 finished;	/* by the writer, for ingest_wait */
	int		 status;	/* 0, STORE_FULL or STORE_ERROR */
	struct store_counts counts;
	char		 err[160];
};

#define INGEST_BUCKETS	12

struct ingest_stats {
	size_t		 depth;		/* events queued or committing */
	size_t		 capacity;
	uint64_t	 commits;
	uint64_t	 commit_failures;
	double		 commit_seconds;	/* sum */
	uint64_t	 buckets[INGEST_BUCKETS];	/* cumulative counts */
	uint64_t	 wal_syncs;	/* fdatasyncs answers waited for */
	double		 wal_sync_seconds;	/* sum */
	size_t		 index_bytes;
	uint64_t	 last_seq;	/* of the last group finished */
	int		 unavailable;	/* the store cannot be reached now */
	uint64_t	 outages;	/* times it went away */
	uint64_t	 expired_through;	/* retention: the highest seq
						   removed, as of the groups
						   finished */
};

extern const double ingest_bucket_le[INGEST_BUCKETS];

/* durable: answer only after an fsync covers the commit. */
struct ingest	*ingest_start(struct store *, struct ev_loop *, size_t capacity,
		    int durable);
/* Stops taking jobs, commits what is queued, joins the writer. */
void		 ingest_stop(struct ingest *);

/*
 * Queues a job from a thread of its own: blocks until there is room and
 * wakes the writer.  A job of any size is taken when the queue is empty.
 * -1 once ingest_stop has begun.
 */
int		 ingest_submit(struct ingest *, struct ingest_job *);
/*
 * The same from the event loop: -1 at once when the queue is full, and
 * the writer is not woken; the loop queues every request of a round and
 * calls ingest_kick once before it sleeps, so a waking writer finds them
 * all and commits them in one transaction.
 */
int		 ingest_queue(struct ingest *, struct ingest_job *);
void		 ingest_kick(struct ingest *);
/* Blocks until a job submitted with waited = 1 is done. */
void		 ingest_wait(struct ingest *, struct ingest_job *);

void		 ingest_get_stats(struct ingest *, struct ingest_stats *);
/* The highest seq retention removed, as of the groups finished. */
uint64_t	 ingest_expired_through(struct ingest *);

/*
 * What readers may show: the last seq of the groups finished so far,
 * durable (or committed, with -r), and, when c is not NULL, the counters
 * of topic_id (0: of all topics) as of the same groups.  Readers show no
 * event past that seq and no count beyond those counters, so that no
 * follower sees an event that a power loss could take back, and its seq
 * go to another, and /stats always equals what /events returns.  A
 * reader's snapshot (store_read_events) must begin after this call.
 */
uint64_t	 ingest_readable(struct ingest *, int64_t topic_id,
		    struct store_counts *c);
/* The same for every topic: a copy of the counters, freed by tally_free. */
int		 ingest_readable_all(struct ingest *, struct tally *copy);

/*
 * The topics whose readable events changed since the last call (groups
 * finished, from HTTP or standard input), each once, into ids (replacing
 * what it held; ids->n 0: none); *grew is set when topics new to readers
 * are among them.  For the loop, which wakes the long polls of those
 * topics only.
 */
struct topic_ids {
	int64_t		*v;
	size_t		 n, cap;
};
int		 ingest_take_changes(struct ingest *, struct topic_ids *ids,
		    int *grew);

#endif
