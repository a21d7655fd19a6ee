/*
 * conn_pool.c - the connections of one listening socket: accepting them,
 * max_conns (evicting the longest idle, else refusing), the deadlines
 * checked at each tick, and writing every queued reply in the hook before
 * the loop waits (redis' handleClientsWithPendingWrites).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "conn_int.h"

#define FLUSH_ROUNDS	4096		/* flushes per hook, then next round */

void
conn_config_defaults(struct conn_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_conns = 10000;
	c->max_buffered = 512 * 1024 * 1024;
	c->write_ms = 10 * 1000;
	c->linger_ms = 2000;
}

uint64_t
conn_pool_now(const struct conn_pool *p)
{
	return p->cfg.clock ? p->cfg.clock(p->cfg.clock_arg) : ev_now(p->loop);
}

/* Before the loop waits: every connection's queued output goes out. */
static void
flush_pending(struct ev_loop *loop, void *arg)
{
	struct conn_pool *p = arg;
	struct conn *c;
	int rounds = 0;

	p->big_round = 0;	/* a new round begins after the wait */
	while ((c = p->pending) != NULL) {
		if (++rounds > FLUSH_ROUNDS) {
			ev_again(loop);	/* a pipeliner's turn ends here */
			return;
		}
		p->pending = c->pend_next;
		c->pending = 0;
		c->busy++;
		conn_write_out(c);
		c->busy--;
		conn_settle(c);
	}
}

/* The connection to close for a new one: a lingering one, else the
   longest idle. */
static struct conn *
evictable(struct conn_pool *p)
{
	struct conn *c, *best = NULL;

	for (c = p->conns; c; c = c->next)
		if (c->lingering)
			return c;
		else if (c->idle_since && !c->held && conn_queued(c) == 0 &&
		    (!best || c->idle_since < best->idle_since))
			best = c;
	return best;
}

static struct conn *
add(struct conn_pool *p, int fd)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->p = p;
	c->fd = fd;
	c->next = p->conns;
	if (p->conns)
		p->conns->prev = c;
	p->conns = c;
	p->nconns++;
	return c;
}

/* A new connection: its protocol's, or past the limit, a refusal. */
static int
open_conn(struct conn_pool *p, int fd)
{
	struct conn *c, *old;
	int refuse = 0;

	if (p->nconns >= p->cfg.max_conns) {
		if ((old = evictable(p)) != NULL)
			conn_destroy(old);
		else
			refuse = 1;
	}
	if ((c = add(p, fd)) == NULL) {
		close(fd);
		return -1;
	}
	c->busy++;
	if (refuse) {
		c->refusing = 1;
		p->ops->refused(c, p->arg);
	} else if (p->ops->opened(c, p->arg) == -1)
		c->doomed = 1;
	c->busy--;
	conn_settle(c);
	return 0;
}

static void
on_accept(struct ev_loop *loop, int lfd, unsigned events, void *arg)
{
	struct conn_pool *p = arg;
	int fd, i;

	(void)events;
	for (i = 0; i < 256; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Wait for the next tick rather than spin. */
				ev_watch(loop, lfd, 0, on_accept, p);
				p->accept_paused = 1;
			}
			return;
		}
		(void)open_conn(p, fd);
	}
}

int
conn_adopt(struct conn_pool *p, int fd)
{
	return open_conn(p, fd);
}

/* A connection's deadlines, at the pool's tick. */
static void
check_deadlines(struct conn *c, uint64_t now)
{
	struct conn_pool *p = c->p;

	if (c->held)
		return;
	c->busy++;
	if (c->lingering) {
		if (now >= c->deadline)
			c->doomed = 1;
	} else if (c->write_deadline && now >= c->write_deadline) {
		if (!conn_peer_took(c))
			c->gone = 1;
	} else if (conn_queued(c) == 0 && !c->finishing && c->deadline &&
	    now >= c->deadline) {
		c->deadline = 0;
		p->ops->timeout(c, p->arg);
	}
	c->busy--;
	conn_settle(c);
}

void
conn_pool_tick(struct conn_pool *p)
{
	struct conn *c, *next;
	uint64_t now = conn_pool_now(p);

	if (p->accept_paused && p->lfd != -1) {
		p->accept_paused = 0;
		ev_watch(p->loop, p->lfd, EV_READ, on_accept, p);
	}
	for (c = p->conns; c; c = next) {
		next = c->next;
		check_deadlines(c, now);
	}
}

static void
on_tick(struct ev_loop *loop, void *arg)
{
	(void)loop;
	conn_pool_tick(arg);
}

struct conn_pool *
conn_pool_new(struct ev_loop *loop, int lfd, const struct conn_config *cfg,
    const struct conn_ops *ops, void *arg)
{
	struct conn_pool *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->loop = loop;
	p->lfd = lfd;
	p->cfg = *cfg;
	p->ops = ops;
	p->arg = arg;
	if ((lfd != -1 && ev_watch(loop, lfd, EV_READ, on_accept, p) == -1) ||
	    ev_add_tick(loop, 250, on_tick, p) == -1 ||
	    ev_add_before_wait(loop, flush_pending, p) == -1) {
		free(p);
		return NULL;
	}
	return p;
}

void
conn_pool_stop_accepting(struct conn_pool *p)
{
	if (p->lfd == -1)
		return;
	ev_unwatch(p->loop, p->lfd);
	close(p->lfd);
	p->lfd = -1;
}

void
conn_pool_free(struct conn_pool *p)
{
	if (p == NULL)
		return;
	while (p->conns)
		conn_destroy(p->conns);
	conn_pool_stop_accepting(p);
	free(p);
}

size_t
conn_pool_count(const struct conn_pool *p)
{
	return p->nconns;
}

size_t
conn_pool_buffered(const struct conn_pool *p)
{
	return p->buffered;
}

void
conn_pool_each(struct conn_pool *p, void (*fn)(struct conn *, void *),
    void *arg)
{
	struct conn *c, *next;

	for (c = p->conns; c; c = next) {
		next = c->next;
		fn(c, arg);
	}
}

