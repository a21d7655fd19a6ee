/*
 * ev.c - the event loop over epoll.
 *
 * Watches are kept in an array indexed by fd, so dispatch is a lookup.
 * The registered epoll mask is remembered to skip EPOLL_CTL_MOD calls that
 * would change nothing: connections flip between reading and writing on
 * every request, and a syscall per flip is measurable.
 *
 * Each registration carries a generation next to its fd, so that an event
 * for a descriptor closed earlier in the same round is not delivered to a
 * new one that reuses its number (an accept after a close).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "ev.h"

#define EV_BATCH	256

struct ev_watch {
	ev_fd_fn	*fn;
	void		*arg;
	unsigned	 mask;
	int		 active;
	uint32_t	 gen;		/* of the current registration */
};

struct ev_tick {
	int		 ms;
	uint64_t	 next;
	ev_fn		*fn;
	void		*arg;
};

struct ev_loop {
	int		 epfd;
	int		 stop;
	uint64_t	 now;
	struct ev_watch	*w;
	size_t		 nw;
	struct ev_tick	 tick[EV_MAX_TICKS];
	int		 nticks;
	struct {
		ev_fn	*fn;
		void	*arg;
	}		 hook[EV_MAX_HOOKS];
	int		 nhooks;
	int		 again;		/* a hook left work: do not sleep */
};

uint64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct ev_loop *
ev_new(void)
{
	struct ev_loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1) {
		free(l);
		return NULL;
	}
	l->now = ev_clock_ms();
	return l;
}

void
ev_free(struct ev_loop *l)
{
	if (l == NULL)
		return;
	close(l->epfd);
	free(l->w);
	free(l);
}

int
ev_watch(struct ev_loop *l, int fd, unsigned mask, ev_fd_fn *fn, void *arg)
{
	struct epoll_event ee;
	struct ev_watch *w;
	int op;

	if (array_grow(&l->w, &l->nw, (size_t)fd + 1, sizeof(*l->w), 64) == -1)
		return -1;
	w = &l->w[fd];
	w->fn = fn;
	w->arg = arg;
	if (w->active && w->mask == mask)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = (mask & EV_READ ? EPOLLIN : 0) |
	    (mask & EV_WRITE ? EPOLLOUT : 0);
	op = w->active ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (op == EPOLL_CTL_ADD)
		w->gen++;	/* a new registration */
	ee.data.u64 = (uint64_t)w->gen << 32 | (uint32_t)fd;
	if (epoll_ctl(l->epfd, op, fd, &ee) == -1)
		return -1;
	w->mask = mask;
	w->active = 1;
	return 0;
}

unsigned
ev_watching(const struct ev_loop *l, int fd)
{
	if ((size_t)fd >= l->nw || !l->w[fd].active)
		return 0;
	return l->w[fd].mask;
}

void
ev_unwatch(struct ev_loop *l, int fd)
{
	if ((size_t)fd >= l->nw || !l->w[fd].active)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
	l->w[fd].fn = NULL;
	l->w[fd].arg = NULL;
	l->w[fd].mask = 0;
	l->w[fd].active = 0;	/* gen stays: see the top of this file */
}

int
ev_add_tick(struct ev_loop *l, int ms, ev_fn *fn, void *arg)
{
	struct ev_tick *t;

	if (l->nticks == EV_MAX_TICKS)
		return -1;
	t = &l->tick[l->nticks++];
	t->ms = ms;
	t->fn = fn;
	t->arg = arg;
	t->next = ev_clock_ms() + (uint64_t)ms;
	return 0;
}

int
ev_add_before_wait(struct ev_loop *l, ev_fn *fn, void *arg)
{
	if (l->nhooks == EV_MAX_HOOKS)
		return -1;
	l->hook[l->nhooks].fn = fn;
	l->hook[l->nhooks++].arg = arg;
	return 0;
}

void
ev_again(struct ev_loop *l)
{
	l->again = 1;
}

void
ev_stop(struct ev_loop *l)
{
	l->stop = 1;
}

uint64_t
ev_now(const struct ev_loop *l)
{
	return l->now;
}

static int
ev_timeout(struct ev_loop *l)
{
	uint64_t first = UINT64_MAX;
	int i;

	for (i = 0; i < l->nticks; i++)
		if (l->tick[i].next < first)
			first = l->tick[i].next;
	if (first == UINT64_MAX)
		return -1;
	return first <= l->now ? 0 : (int)(first - l->now);
}

static void
ev_run_ticks(struct ev_loop *l)
{
	int i;

	for (i = 0; i < l->nticks; i++)
		if (l->now >= l->tick[i].next) {
			l->tick[i].next = l->now + (uint64_t)l->tick[i].ms;
			l->tick[i].fn(l, l->tick[i].arg);
		}
}

static void
ev_dispatch(struct ev_loop *l, struct epoll_event *ee, int n)
{
	int i, fd;
	unsigned ev;

	for (i = 0; i < n; i++) {
		fd = (int)(uint32_t)ee[i].data.u64;
		/* An earlier callback of this round may have closed fd. */
		if ((size_t)fd >= l->nw || !l->w[fd].active ||
		    l->w[fd].gen != (uint32_t)(ee[i].data.u64 >> 32))
			continue;
		ev = (ee[i].events & EPOLLIN ? EV_READ : 0) |
		    (ee[i].events & EPOLLOUT ? EV_WRITE : 0) |
		    (ee[i].events & (EPOLLERR | EPOLLHUP) ? EV_ERROR : 0);
		l->w[fd].fn(l, fd, ev, l->w[fd].arg);
	}
}

/* 1 when the round went by, 0 when a hook stopped the loop, -1 on error. */
static int
ev_round(struct ev_loop *l, int ms)
{
	struct epoll_event ee[EV_BATCH];
	int i, n, timeout;

	l->again = 0;
	for (i = 0; i < l->nhooks && !l->stop; i++)
		l->hook[i].fn(l, l->hook[i].arg);
	if (l->stop)
		return 0;
	timeout = l->again ? 0 : ev_timeout(l);
	if (ms >= 0 && (timeout < 0 || timeout > ms))
		timeout = ms;
	n = epoll_wait(l->epfd, ee, EV_BATCH, timeout);
	if (n == -1 && errno != EINTR)
		return -1;
	l->now = ev_clock_ms();
	if (n > 0)
		ev_dispatch(l, ee, n);
	ev_run_ticks(l);
	return 1;
}

int
ev_run_once(struct ev_loop *l, int ms)
{
	l->stop = 0;
	return ev_round(l, ms) == -1 ? -1 : 0;
}

int
ev_run(struct ev_loop *l)
{
	int rc;

	l->stop = 0;
	while (!l->stop)
		if ((rc = ev_round(l, -1)) != 1)
			return rc;
	return 0;
}
