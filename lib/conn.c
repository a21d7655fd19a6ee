/*
 * conn.c - one connection on the event loop: its buffers, reads, writes
 * and ending; see conn.h.  The pool they live in is conn_pool.c.
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
#include "conn_int.h"

#define READ_CHUNK	(16 * 1024)
#define READ_ROUND	(1024 * 1024)	/* per wake-up, for fairness */
/*
 * Per loop round, into large buffers (BUF_BIG) of all connections: their
 * fresh pages are faulted in as the reads fill them, and on this
 * project's VM (host memory backed lazily) with the cores shared that
 * costs up to 100 ms a MiB; 40 bodies of 16 MiB read at 1 MiB each a round
 * stalled every other client up to 1.5 s.  The rest waits in the kernel
 * (epoll is level-triggered) for the next round.
 */
#define BIG_ROUND	(4 * 1024 * 1024)
#define KEEP_BUF	(64 * 1024)	/* larger output buffers are freed */
/* A connection that holds at most SMALL_HOLD may go past the budget by a
   shared SMALL_RESERVE: large bodies that take the whole budget do not
   refuse every normal request. */
#define SMALL_HOLD	(1024 * 1024)
#define SMALL_RESERVE	(16 * 1024 * 1024)

/* Whether n more bytes for c fit the budget. */
static int
fits(const struct conn *c, size_t n)
{
	const struct conn_pool *p = c->p;
	size_t limit = p->cfg.max_buffered;
	size_t held = c->in.cap + c->out.cap + c->tail.cap + c->charged;

	if (held + n <= SMALL_HOLD)
		limit += SMALL_RESERVE;
	return p->buffered <= limit && n <= limit - p->buffered;
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
	if (!fits(c, want - old) ||
	    buf_resize(b, want) == -1)
		return -1;
	p->buffered += b->cap - old;
	return 0;
}

static void
uncharge(struct conn *c)
{
	c->p->buffered -= c->charged;
	c->charged = 0;
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
void
conn_destroy(struct conn *c)
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
	uncharge(c);
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
int
conn_peer_took(struct conn *c)
{
	int q = unsent(c);

	if (q >= c->unsent)
		return 0;
	c->unsent = q;
	c->write_deadline = conn_pool_now(c->p) + (uint64_t)c->p->cfg.write_ms;
	return 1;
}

size_t
conn_queued(const struct conn *c)
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

	while (conn_queued(c) > 0) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		if (c->out.len > c->out_off)
			iov[m.msg_iovlen++] = (struct iovec){ c->out.data +
			    c->out_off, c->out.len - c->out_off };
		if (c->tail.len > c->tail_off)	/* none: tail.data NULL */
			iov[m.msg_iovlen++] = (struct iovec){ c->tail.data +
			    c->tail_off, c->tail.len - c->tail_off };
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
void
conn_settle(struct conn *c)
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
			conn_settle(c);
		}
		return;
	}
	if (c->gone || c->doomed) {
		conn_destroy(c);
		return;
	}
	if (c->finishing && conn_queued(c) == 0 && !c->lingering) {
		if (c->eof) {
			conn_destroy(c);
			return;
		}
		linger(c);
		if (c->refusing) {
			drain(c);	/* read what came, then close at once */
			conn_destroy(c);
			return;
		}
	}
	watch(c);
}

/* Reads what the socket has: 0, 1 when over the budget, -1 gone. */
static int
read_in(struct conn *c)
{
	size_t round = 0, room, end, old;
	ssize_t n;
	int big;

	while (round < READ_ROUND) {
		end = c->expect > c->in.len ? c->expect : 0;
		/* large now, or about to be (the move copies into fresh pages) */
		big = c->in.cap >= BUF_BIG / 2;
		if (big && c->p->big_round >= BIG_ROUND)
			break;			/* the next round goes on */
		old = c->in.cap;
		if (reserve(c, &c->in, READ_CHUNK, end) == -1)
			return 1;
		if (old < BUF_BIG && c->in.cap >= BUF_BIG)
			c->p->big_round += c->in.len;
		room = c->in.cap - c->in.len;
		if (room > READ_ROUND - round)
			room = READ_ROUND - round;	/* one read is a round too */
		if (big && room > BIG_ROUND - c->p->big_round)
			room = c->p->big_round < BIG_ROUND ? BIG_ROUND -
			    c->p->big_round : READ_CHUNK;
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
		if (big)
			c->p->big_round += (size_t)n;
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
void
conn_write_out(struct conn *c)
{
	if (flush(c) && !c->finishing && !c->gone && !c->doomed &&
	    c->p->ops->drained)
		c->p->ops->drained(c, c->p->arg);
}

void
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
			conn_write_out(c);
		}
	}
	c->busy--;
	conn_settle(c);
}

void conn_set_data(struct conn *c, void *d) { c->data = d; }
void *conn_data(const struct conn *c) { return c->data; }
struct buf *conn_in(struct conn *c) { return &c->in; }
int conn_eof(const struct conn *c) { return c->eof; }
int conn_gone(const struct conn *c) { return c->gone; }
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
	conn_settle(c);
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
	if (c->tail.len > 0 || !fits(c, b->cap)) {
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
	if (conn_queued(c) > 0 || send(c->fd, data, len, MSG_NOSIGNAL |
	    MSG_DONTWAIT) != (ssize_t)len)
		return -1;
	return 0;
}

void
conn_finish(struct conn *c)
{
	c->finishing = 1;
	c->reading = 0;
	if (conn_queued(c) > 0)
		push_pending(c);
	conn_settle(c);
}

void
conn_close(struct conn *c)
{
	c->doomed = 1;
	conn_settle(c);
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

int
conn_charge(struct conn *c, size_t n)
{
	struct conn_pool *p = c->p;

	if (!fits(c, n))
		return -1;
	p->buffered += n;
	c->charged += n;
	return 0;
}

void
conn_release(struct conn *c)
{
	c->held--;
	uncharge(c);
	conn_settle(c);
}
