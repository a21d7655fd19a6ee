/*
 * worker.h - work off the event loop, on a thread of its own.
 *
 * A job runs on the worker's thread and comes back to the loop, through
 * an eventfd, in the order it was submitted.  aggd has two: the reader
 * (pages of events, /stats and lookups, on its store_reader), so that a
 * large page or a slow disk delays only the reads queued behind it, and
 * the parser (large request bodies), so that a 16 MiB body delays no
 * other client.
 */
#ifndef AGGD_WORKER_H
#define AGGD_WORKER_H

#include "ev.h"

struct work;
typedef void	work_fn(struct work *, void *ctx);
typedef void	work_done_fn(struct work *);

struct work {
	struct work	*next;
	work_fn		*run;		/* on the worker's thread, with ctx */
	work_done_fn	*done;		/* then on the loop's */
	int		 skipped;	/* done without run: the worker stopped */
};

struct worker;

/* A thread named name (15 bytes at most) whose jobs get ctx. */
struct worker	*worker_start(struct ev_loop *, const char *name, void *ctx);
/* From the loop's thread; wakes the worker at once. */
void		 worker_submit(struct worker *, struct work *);
/*
 * Lets the job that runs finish, hands back the ones still queued unrun
 * (skipped), joins the thread: a stop waits for one job, not for all.
 */
void		 worker_stop(struct worker *);

#endif
