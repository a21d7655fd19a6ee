/*
 * worker.c - a thread for work off the loop; see worker.h.
 *
 * One mutex guards the two lists: queued (loop -> worker) and done
 * (worker -> loop).  The eventfd is written once per batch of done jobs.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

struct worker {
	struct ev_loop	*loop;
	void		*ctx;
	int		 efd;
	pthread_t	 thread;
	pthread_mutex_t	 mu;
	pthread_cond_t	 wake;
	struct work	*queued, **queued_tail;
	struct work	*done, **done_tail;
	int		 stopping;
};

static void *
worker_main(void *arg)
{
	struct worker *r = arg;
	struct work *j;
	uint64_t one = 1;

	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->queued == NULL && !r->stopping)
			pthread_cond_wait(&r->wake, &r->mu);
		if (r->stopping || (j = r->queued) == NULL)
			break;
		if ((r->queued = j->next) == NULL)
			r->queued_tail = &r->queued;
		pthread_mutex_unlock(&r->mu);
		j->next = NULL;
		j->run(j, r->ctx);
		pthread_mutex_lock(&r->mu);
		*r->done_tail = j;
		r->done_tail = &j->next;
		if (r->queued == NULL)	/* a batch's answers, one wake-up */
			(void)!write(r->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Loop side: jobs done. */
static void
on_done(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct worker *r = arg;
	struct work *j, *next;
	uint64_t n;

	(void)loop;
	(void)events;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&r->mu);
	j = r->done;
	r->done = NULL;
	r->done_tail = &r->done;
	pthread_mutex_unlock(&r->mu);
	for (; j; j = next) {
		next = j->next;
		j->done(j);
	}
}

struct worker *
worker_start(struct ev_loop *loop, const char *name, void *ctx)
{
	struct worker *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->loop = loop;
	r->ctx = ctx;
	r->queued_tail = &r->queued;
	r->done_tail = &r->done;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->wake, NULL);
	if ((r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    ev_watch(loop, r->efd, EV_READ, on_done, r) == -1 ||
	    pthread_create(&r->thread, NULL, worker_main, r) != 0)
		fatal("cannot start the %s thread", name);
	(void)pthread_setname_np(r->thread, name);
	return r;
}

void
worker_submit(struct worker *r, struct work *j)
{
	j->next = NULL;
	pthread_mutex_lock(&r->mu);
	*r->queued_tail = j;
	r->queued_tail = &j->next;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
}

void
worker_stop(struct worker *r)
{
	struct work *j;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mu);
	r->stopping = 1;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->mu);
	pthread_join(r->thread, NULL);
	for (j = r->queued; j; j = j->next)
		j->skipped = 1;
	*r->done_tail = r->queued;	/* after those that ran */
	r->queued = NULL;
	on_done(r->loop, r->efd, EV_READ, r);
	ev_unwatch(r->loop, r->efd);
	close(r->efd);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->wake);
	free(r);
}
