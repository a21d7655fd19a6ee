/*
 * reads.h - the store's reads on a thread of their own.
 *
 * Pages of events, /stats and lookups run on the reader thread, on its
 * store_reader, never on the event loop: a large page or a slow disk
 * delays only the reads queued behind it, not the other clients.  A job
 * runs there and comes back to the loop, through an eventfd, in the
 * order it was submitted.
 */
#ifndef AGGD_READS_H
#define AGGD_READS_H

#include "ev.h"
#include "store.h"

struct read_job;
typedef void	read_fn(struct read_job *, struct store_reader *);
typedef void	read_done_fn(struct read_job *);

struct read_job {
	struct read_job	*next;
	read_fn		*run;		/* on the reader thread */
	read_done_fn	*done;		/* then on the loop's */
};

struct reads;

/* Takes the reader (closed by reads_stop). */
struct reads	*reads_start(struct ev_loop *, struct store_reader *);
/* From the loop's thread; wakes the reader at once. */
void		 reads_submit(struct reads *, struct read_job *);
/* Runs what is queued, hands it back, joins the thread. */
void		 reads_stop(struct reads *);

#endif
