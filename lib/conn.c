/*
 * conn.c - connections on the event loop; see conn.h.
 *
 * Callbacks never run inside a conn_ call: input and drained come from
 * the socket's events and from the hook before the loop waits, where
 * queued output is written (redis' handleClientsWithPendingWrites), so a
 * protocol that answers from a callback only queues.  A close asked for
 * inside a callback takes effect when the callback returns (settle).
 *
 * Memory is bounded by the budget over all buffers together: a buffer
 * grows only within it, and what cannot grow is the protocol's to refuse.
 */
#include <errno.h>
#include <limits.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"

#define READ_CHUNK	(16 * 1024)
#define READ_ROUND	(1024 * 1024)	/* per wake-up, for fairness */
#define KEEP_BUF	(64 * 1024)	/* larger output buffers are freed */
#define FLUSH_ROUNDS	4096		/* flushes per hook, then next round */

struct conn {
	struct conn_pool *p;
	struct conn	*prev, *next;	/* all of the pool's */
	struct conn	*pend_next;	/* with output to write before the wait */
	int		 pending;
	int		 fd;
	struct buf	 in, out;
	size_t		 out_off;
	struct buf	 tail;		/* output adopted after out (conn_give) */
	size_t		 tail_off;
	size_t		 expect;	/* conn_expect */
	size_t		 progress;	/* bytes read since conn_take_progress */
	int		 reading;	/* the protocol wants input */
	int		 input_waits;	/* input came while not reading */
	int		 blocked;	/* a write met EAGAIN: wait for EV_WRITE */
	int		 eof;		/* the peer's FIN */
	int		 gone;		/* unreachable: free when not held */
	int		 doomed;	/* conn_close from inside a callback */
	int		 finishing;	/* conn_finish: end once output left */
	int		 lingering;	/* write side shut, draining input */
	int		 refusing;	/* past max_conns: drained once, closed */
	int		 busy;		/* inside an event or a callback */
	int		 held;
	int		 hung_up;	/* the protocol was told it is gone */
	uint64_t	 deadline, write_deadline, idle_since;
	int		 unsent;	/* kernel's send queue at the last look */
	void		*data;
};

struct conn_pool {
	struct ev_loop	*loop;
	int		 lfd;
	int		 accept_paused;
	struct conn_config cfg;
	const struct conn_ops *ops;
	void		*arg;
	struct conn	*conns, *pending;
	size_t		 nconns, buffered;
};

static void	conn_event(struct ev_loop *, int, unsigned, void *);
static void	settle(struct conn *);

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

/*
 * Grows b to hold extra more bytes within the shared budget; -1 when over
 * it.  Doubling keeps the copies few, but not past upto (0: no bound)
 * unless extra needs it, so a body of exactly the limit does not claim
 * twice its size.
 */
static int
reserve(struct conn *c, struct buf *b, size_t extra, size_t upto)
{
	struct conn_pool *p = c->p;
	size_t old = b->cap, want;

	if (extra > SIZE_MAX / 4 - b->len)
		return -1;
	if (b->len + extra <= b->cap)
		return 0;
	want = b->len + extra;
	if (want < 2 * old)
		want = 2 * old;
	if (upto && want > upto)
		want = upto > b->len + extra ? upto : b->len + extra;
	if (p->buffered - old + want > p->cfg.max_buffered ||
	    buf_resize(b, want) == -1)
		return -1;
	p->buffered += want - old;
	return 0;
}

static void
release(struct conn *c, struct buf *b)
{
	c->p->buffered -= b->cap;
	buf_free(b);
}

static void
unlist_pending(struct conn *c)
{
	struct conn **pp;

	if (!c->pending)
		return;
	for (pp = &c->p->pending; *pp && *pp != c; pp = &(*pp)->pend_next)
		;
	if (*pp)
		*pp = c->pend_next;
	c->pending = 0;
}

/* Frees c: the protocol's last word first. */
static void
destroy(struct conn *c)
{
	struct conn_pool *p = c->p;

	if (p->ops->closed)
		p->ops->closed(c, p->arg);
	unlist_pending(c);
	ev_unwatch(p->loop, c->fd);
	close(c->fd);
	release(c, &c->in);
	release(c, &c->out);
	release(c, &c->tail);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->nconns--;
	free(c);
}

/*
 * While input is not wanted, reading stays watched until input actually
 * arrives (a pipelining client): most clients send nothing then, and not
 * switching the watch off and on saves two epoll_ctl calls per request.
 */
static void
watch(struct conn *c)
{
	unsigned mask = 0;

	if (c->lingering || c->reading)
		mask = EV_READ;
	else if (!c->input_waits)
		mask = ev_watching(c->p->loop, c->fd) & EV_READ;
	if (c->blocked)
		mask = EV_WRITE;	/* read again once output is out */
	if (ev_watch(c->p->loop, c->fd, mask, conn_event, c) == -1)
		c->gone = 1;
}

static void
push_pending(struct conn *c)
{
	if (c->pending || c->blocked)
		return;
	c->pending = 1;
	c->pend_next = c->p->pending;
	c->p->pending = c;
	/* queued by a hook after the flush: the wait must not sleep on it */
	ev_again(c->p->loop);
}

/* Bytes the kernel holds for the peer, or INT_MAX when it cannot say. */
static int
unsent(const struct conn *c)
{
	int q;

	return ioctl(c->fd, SIOCOUTQ, &q) == -1 ? INT_MAX : q;
}

/*
 * The kernel's send buffer holds megabytes, so a reader that takes a long
 * reply slowly leaves send() failing with EAGAIN for longer than write_ms
 * while it reads steadily: what left the kernel's queue is progress too.
 */
static int
peer_took(struct conn *c)
{
	int q = unsent(c);

	if (q >= c->unsent)
		return 0;
	c->unsent = q;
	c->write_deadline = conn_pool_now(c->p) + (uint64_t)c->p->cfg.write_ms;
	return 1;
}

static size_t
queued(const struct conn *c)
{
	return c->out.len - c->out_off + c->tail.len - c->tail_off;
}

/* n bytes left: out's first, then the tail's. */
static void
advance(struct conn *c, size_t n)
{
	size_t k = c->out.len - c->out_off < n ? c->out.len - c->out_off : n;

	c->out_off += k;
	c->tail_off += n - k;
}

/* Writes what is queued (one sendmsg for out and the tail); 1 when all
   of it has left. */
static int
flush(struct conn *c)
{
	struct iovec iov[2];
	struct msghdr m;
	uint64_t now;
	ssize_t n;

	while (queued(c) > 0) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		iov[0] = (struct iovec){ c->out.data + c->out_off,
		    c->out.len - c->out_off };
		iov[1] = (struct iovec){ c->tail.data + c->tail_off,
		    c->tail.len - c->tail_off };
		m.msg_iovlen = iov[0].iov_len == 0 ? 0 : 1;
		if (iov[1].iov_len)
			iov[m.msg_iovlen++] = iov[1];
		n = sendmsg(c->fd, &m, MSG_NOSIGNAL);
		now = conn_pool_now(c->p);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/* Output that waits always has a deadline. */
			if (c->write_deadline == 0)
				c->write_deadline = now +
				    (uint64_t)c->p->cfg.write_ms;
			c->unsent = unsent(c);
			c->blocked = 1;
			return 0;
		}
		if (n == -1) {
			c->gone = 1;
			return 0;
		}
		advance(c, (size_t)n);
		c->write_deadline = now + (uint64_t)c->p->cfg.write_ms;
	}
	c->out_off = c->out.len = 0;
	c->tail_off = 0;
	c->write_deadline = 0;
	c->blocked = 0;
	if (c->out.cap > KEEP_BUF)
		release(c, &c->out);
	release(c, &c->tail);
	return 1;
}

/* Drops what a finished peer still sends; closes at its EOF. */
static void
drain(struct conn *c)
{
	char sink[16384];
	size_t round = 0;
	ssize_t n;

	while (round < READ_ROUND) {
		n = read(c->fd, sink, sizeof(sink));
		if (n > 0) {
			round += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break;
	}
	if (round < READ_ROUND)
		c->doomed = 1;
}

static void
linger(struct conn *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	release(c, &c->in);
	c->lingering = 1;
	c->reading = 0;
	c->deadline = conn_pool_now(c->p) + (uint64_t)c->p->cfg.linger_ms;
}

/*
 * After every event and callback: a connection that is done goes (or, held
 * by the protocol, waits for conn_release), a finished one lingers once its
 * output has left, and the watch follows what is wanted.
 */
static void
settle(struct conn *c)
{
	if (c->busy)
		return;
	if ((c->gone || c->doomed) && c->held) {
		unlist_pending(c);
		ev_unwatch(c->p->loop, c->fd);
		if (c->gone && !c->hung_up && c->p->ops->hangup) {
			c->hung_up = 1;	/* told once */
			c->busy++;
			c->p->ops->hangup(c, c->p->arg);
			c->busy--;
			settle(c);
		}
		return;
	}
	if (c->gone || c->doomed) {
		destroy(c);
		return;
	}
	if (c->finishing && queued(c) == 0 && !c->lingering) {
		if (c->eof) {
			destroy(c);
			return;
		}
		linger(c);
		if (c->refusing) {
			drain(c);	/* read what came, then close at once */
			destroy(c);
			return;
		}
	}
	watch(c);
}

/* Reads what the socket has: 0, 1 when over the budget, -1 gone. */
static int
read_in(struct conn *c)
{
	size_t round = 0, room, end;
	ssize_t n;

	while (round < READ_ROUND) {
		end = c->expect > c->in.len ? c->expect : 0;
		if (reserve(c, &c->in, READ_CHUNK, end) == -1)
			return 1;
		room = c->in.cap - c->in.len;
		n = read(c->fd, c->in.data + c->in.len, room);
		if (n == 0) {
			c->eof = 1;
			return 0;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
		}
		c->in.len += (size_t)n;
		c->progress += (size_t)n;
		round += (size_t)n;
		if ((size_t)n < room || (end && c->in.len >= end))
			break;	/* drained, or the expected input is whole */
	}
	return 0;
}

/*
 * Input while the protocol wants none: pipelined bytes wait in the kernel
 * (the watch goes off), but a FIN with nothing before it is news to a
 * protocol that holds a request for later (a long poll whose client left).
 */
static void
on_unwanted_input(struct conn *c)
{
	char b;
	ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	c->input_waits = 1;
	if (n == 0 && !c->eof) {
		c->eof = 1;
		if (c->p->ops->hangup)
			c->p->ops->hangup(c, c->p->arg);
	} else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		c->gone = 1;
}

static void
on_readable(struct conn *c)
{
	int r;

	if (!c->reading) {
		on_unwanted_input(c);
		return;
	}
	if ((r = read_in(c)) == -1) {
		c->gone = 1;
		return;
	}
	c->p->ops->input(c, r == 1, c->p->arg);
}

/* Writes c's output; when all of it has left, the protocol goes on. */
static void
write_out(struct conn *c)
{
	if (flush(c) && !c->finishing && !c->gone && !c->doomed &&
	    c->p->ops->drained)
		c->p->ops->drained(c, c->p->arg);
}

static void
conn_event(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct conn *c = arg;

	(void)loop;
	(void)fd;
	c->busy++;
	if (c->lingering)
		drain(c);
	else {
		if (events & EV_READ)
			on_readable(c);
		else if ((events & EV_ERROR) && !(events & EV_WRITE))
			c->gone = 1;
		if ((events & EV_WRITE) && !c->gone) {
			c->blocked = 0;
			write_out(c);
		}
	}
	c->busy--;
	settle(c);
}

/* Before the loop waits: every connection's queued output goes out. */
static void
flush_pending(struct ev_loop *loop, void *arg)
{
	struct conn_pool *p = arg;
	struct conn *c;
	int rounds = 0;

	while ((c = p->pending) != NULL) {
		if (++rounds > FLUSH_ROUNDS) {
			ev_again(loop);	/* a pipeliner's turn ends here */
			return;
		}
		p->pending = c->pend_next;
		c->pending = 0;
		c->busy++;
		write_out(c);
		c->busy--;
		settle(c);
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
		else if (c->idle_since && !c->held && queued(c) == 0 &&
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
			destroy(old);
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
	settle(c);
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
		if (!peer_took(c))
			c->gone = 1;
	} else if (queued(c) == 0 && !c->finishing && c->deadline &&
	    now >= c->deadline) {
		c->deadline = 0;
		p->ops->timeout(c, p->arg);
	}
	c->busy--;
	settle(c);
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
		destroy(p->conns);
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

void conn_set_data(struct conn *c, void *d) { c->data = d; }
void *conn_data(const struct conn *c) { return c->data; }
struct buf *conn_in(struct conn *c) { return &c->in; }
int conn_eof(const struct conn *c) { return c->eof; }
int conn_gone(const struct conn *c) { return c->gone; }
size_t conn_queued(const struct conn *c) { return queued(c); }
void conn_expect(struct conn *c, size_t want) { c->expect = want; }
void conn_set_deadline(struct conn *c, uint64_t at) { c->deadline = at; }
void conn_set_idle(struct conn *c, uint64_t since) { c->idle_since = since; }
uint64_t conn_idle_since(const struct conn *c) { return c->idle_since; }

void
conn_consume(struct conn *c, size_t n)
{
	buf_consume(&c->in, n);
	if (c->in.len == 0)
		release(c, &c->in);
}

void
conn_read(struct conn *c, int on)
{
	c->reading = on && !c->lingering;
	if (on)
		c->input_waits = 0;
	settle(c);
}

size_t
conn_take_progress(struct conn *c)
{
	size_t n = c->progress;

	c->progress = 0;
	return n;
}

/* Where more output goes: after the tail, once there is one. */
static struct buf *
end_buf(struct conn *c)
{
	return c->tail.len > 0 ? &c->tail : &c->out;
}

char *
conn_out_reserve(struct conn *c, size_t len)
{
	struct buf *b = end_buf(c);

	if (reserve(c, b, len, 0) == -1)
		return NULL;
	return b->data + b->len;
}

void
conn_wrote(struct conn *c, size_t len)
{
	end_buf(c)->len += len;
	if (!c->gone)
		push_pending(c);
}

int
conn_give(struct conn *c, struct buf *b)
{
	struct conn_pool *p = c->p;
	int rc;

	if (b->len == 0)
		return 0;
	if (c->tail.len > 0 || p->buffered + b->cap > p->cfg.max_buffered) {
		rc = conn_write(c, b->data, b->len);
		buf_free(b);
		return rc;
	}
	release(c, &c->tail);
	c->tail = *b;
	c->tail_off = 0;
	p->buffered += b->cap;
	buf_init(b);
	if (!c->gone)
		push_pending(c);
	return 0;
}

int
conn_write(struct conn *c, const void *data, size_t len)
{
	char *p;

	if (len == 0)
		return 0;
	if ((p = conn_out_reserve(c, len)) == NULL)
		return -1;
	memcpy(p, data, len);
	conn_wrote(c, len);
	return 0;
}

int
conn_send_now(struct conn *c, const void *data, size_t len)
{
	if (queued(c) > 0 || send(c->fd, data, len, MSG_NOSIGNAL |
	    MSG_DONTWAIT) != (ssize_t)len)
		return -1;
	return 0;
}

void
conn_finish(struct conn *c)
{
	c->finishing = 1;
	c->reading = 0;
	if (queued(c) > 0)
		push_pending(c);
	settle(c);
}

void
conn_close(struct conn *c)
{
	c->doomed = 1;
	settle(c);
}

void
conn_close_idle(struct conn *c)
{
	int unread = 0;

	if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)
		conn_finish(c);
	else
		conn_close(c);
}

void
conn_hold(struct conn *c)
{
	c->held++;
}

void
conn_release(struct conn *c)
{
	c->held--;
	settle(c);
}
