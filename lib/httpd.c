/*
 * httpd.c - HTTP/1.1 connection handling; see httpd.h for the contract.
 *
 * A connection moves HEAD -> BODY -> HANDLER -> HEAD (keep-alive) or
 * CLOSING.  The request occupies in[0..req_len) of the input buffer;
 * pipelined bytes follow it and are parsed only after the reply, so
 * replies go out in request order.  Chunked bodies are decoded in place,
 * right after the header block.
 *
 * Memory is bounded three ways: the header and body limits per request,
 * max_conns, and max_buffered over all buffers together; a request that
 * would push past max_buffered is answered 503 instead of growing.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "httpd.h"
#include "json.h"

#define READ_CHUNK	(16 * 1024)
#define READ_ROUND	(1024 * 1024)	/* per wake-up, for fairness */
#define KEEP_BUF	(64 * 1024)	/* larger idle buffers are freed */

/*
 * CS_LINGER: the last reply of a connection (an error, Connection: close,
 * shutdown) went out while the client may still be sending; closing at
 * once would make the kernel reset the connection over the unread bytes,
 * and the client could lose the replies it has not read yet.  So the
 * write side is shut, and input is read and dropped until EOF or
 * LINGER_MS.
 */
enum conn_state { CS_HEAD, CS_BODY, CS_HANDLER, CS_CLOSING, CS_LINGER };

#define LINGER_MS	2000

struct httpd_req {			/* a connection */
	struct httpd	*h;
	struct httpd_req *prev, *next;
	int		 fd;
	enum conn_state	 state;
	int		 eof;		/* peer sent FIN */
	int		 gone;		/* peer unreachable; close when free */
	int		 in_process;	/* inside conn_process: no closing */
	int		 continued;	/* 100 Continue sent */
	int		 linger;	/* close through CS_LINGER */
	int		 input_waits;	/* bytes came while in CS_HANDLER */
	int		 head_only;	/* a HEAD request: reply without body */
	size_t		 blank;		/* empty-line bytes dropped while idle */
	struct buf	 in, out;
	size_t		 out_off;
	struct http_request req;
	size_t		 head_len, body_len, req_len;
	struct http_chunked chunk;
	size_t		 progress;	/* body bytes since the deadline moved */
	uint64_t	 deadline;	/* read side; 0 none */
	uint64_t	 write_deadline;
	int		 unsent;	/* kernel's send queue at the last look */
	uint64_t	 idle_since;
};

struct httpd {
	struct ev_loop	*loop;
	int		 lfd;
	int		 accept_paused;
	struct httpd_config cfg;
	httpd_head_check *check;
	httpd_handler	*handler;
	void		*arg;
	struct httpd_req *conns;
	size_t		 nconns;
	size_t		 buffered;
	int		 stopping;
	time_t		 date_sec;	/* when date was formatted */
	char		 date[48];	/* "Date: ...\r\n" */
};

static void	conn_resume(struct httpd_req *);
static void	conn_event(struct ev_loop *, int, unsigned, void *);

/*
 * RFC 9110 6.6.1: a server with a clock sends Date.  Formatted once a
 * second, with English names whatever the locale.
 */
static const char *
httpd_date(struct httpd *h)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (now == h->date_sec || gmtime_r(&now, &tm) == NULL)
		return h->date;
	snprintf(h->date, sizeof(h->date),
	    "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	h->date_sec = now;
	return h->date;
}

void
httpd_config_defaults(struct httpd_config *c)
{
	c->max_conns = 10000;
	c->max_header = 8 * 1024;
	c->max_body = 16 * 1024 * 1024;
	c->max_buffered = 512 * 1024 * 1024;
	c->idle_ms = 60 * 1000;
	c->header_ms = 10 * 1000;
	c->body_ms = 10 * 1000;
	c->write_ms = 10 * 1000;
}

/*
 * Grows b to hold extra more bytes within the shared budget; -1 when over
 * it.  Doubling keeps the copies few, but not past upto (0: no bound)
 * unless extra needs it, so a body of exactly the limit does not claim
 * twice its size.
 */
static int
conn_reserve(struct httpd_req *c, struct buf *b, size_t extra, size_t upto)
{
	struct httpd *h = c->h;
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
	if (h->buffered - old + want > h->cfg.max_buffered ||
	    buf_resize(b, want) == -1)
		return -1;
	h->buffered += want - old;
	return 0;
}

static void
conn_release(struct httpd_req *c, struct buf *b)
{
	c->h->buffered -= b->cap;
	buf_free(b);
}

static void
conn_close(struct httpd_req *c)
{
	struct httpd *h = c->h;

	ev_unwatch(h->loop, c->fd);
	close(c->fd);
	conn_release(c, &c->in);
	conn_release(c, &c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		h->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	h->nconns--;
	free(c);
}

/*
 * While the handler works, reading stays watched until input actually
 * arrives (a pipelining client): most clients send nothing then, and not
 * switching the watch off and on saves two epoll_ctl calls per request.
 */
static void
conn_watch(struct httpd_req *c)
{
	unsigned mask = 0;

	if (c->state == CS_HEAD || c->state == CS_BODY) {
		mask = EV_READ;
		c->input_waits = 0;
	} else if (c->state == CS_HANDLER && !c->input_waits)
		mask = ev_watching(c->h->loop, c->fd) & EV_READ;
	if (c->out_off < c->out.len)
		mask = EV_WRITE;	/* read again once replies are out */
	if (ev_watch(c->h->loop, c->fd, mask, conn_event, c) == -1)
		c->gone = 1;
}

/*
 * A reply over the memory budget: a small one (an error, such as the 503
 * that says the budget is spent) goes straight from the stack when nothing
 * is queued before it, so the client still learns why; a larger one cuts
 * the peer off.
 */
static void
conn_respond_direct(struct httpd_req *c, const char *head, size_t hlen,
    const char *body, size_t len)
{
	char msg[1024];

	if (c->out.len > 0 || hlen + len > sizeof(msg)) {
		c->gone = 1;
		return;
	}
	memcpy(msg, head, hlen);
	memcpy(msg + hlen, body, len);
	if (send(c->fd, msg, hlen + len, MSG_NOSIGNAL | MSG_DONTWAIT) !=
	    (ssize_t)(hlen + len))
		c->gone = 1;
}

/* Appends a whole response; on a memory failure see conn_respond_direct. */
static void
conn_respond(struct httpd_req *c, int status, const char *ctype,
    const char *headers, const char *body, size_t len, int close_after)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
	    "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%s%s\r\n", status, http_reason(status), httpd_date(c->h),
	    ctype ? ctype : "application/json", len, close_after ?
	    "Connection: close\r\n" : c->req.minor_version == 0 ?
	    "Connection: keep-alive\r\n" : "", headers ? headers : "");
	if (n < 0 || (size_t)n >= sizeof(head)) {
		c->gone = 1;
		return;
	}
	if (c->head_only)
		len = 0;	/* Content-Length tells what GET would send */
	if (conn_reserve(c, &c->out, (size_t)n + len, 0) == -1) {
		conn_respond_direct(c, head, (size_t)n, body, len);
		return;
	}
	buf_append(&c->out, head, (size_t)n);
	buf_append(&c->out, body, len);	/* conn_flush sets write_deadline */
}

/* An error that ends the connection: the framing can no longer be trusted. */
static void
conn_fail(struct httpd_req *c, int status, const char *msg, const char *headers)
{
	struct buf body;

	buf_init(&body);
	if (buf_puts(&body, "{\"error\":") == 0 &&
	    json_write_string(&body, msg, strlen(msg)) == 0 &&
	    buf_puts(&body, "}\n") == 0)
		conn_respond(c, status, NULL, headers, body.data, body.len, 1);
	else
		c->gone = 1;
	buf_free(&body);
	c->state = CS_CLOSING;
	c->linger = 1;
}

static void
conn_linger(struct httpd_req *c)
{
	(void)shutdown(c->fd, SHUT_WR);
	conn_release(c, &c->in);
	c->state = CS_LINGER;
	c->deadline = ev_now(c->h->loop) + LINGER_MS;
	if (ev_watch(c->h->loop, c->fd, EV_READ, conn_event, c) == -1)
		conn_close(c);
}

/* No request begun in c->in: empty, or an empty line's CR, LF to come. */
static int
conn_in_blank(const struct httpd_req *c)
{
	return c->in.len == 0 || (c->in.len == 1 && c->in.data[0] == '\r');
}

/* Between requests, with nothing to send. */
static int
conn_is_idle(const struct httpd_req *c)
{
	return c->state == CS_HEAD && c->idle_since && c->out.len == 0 &&
	    conn_in_blank(c);
}

/*
 * Ends a connection between requests: a plain close, unless the client
 * has sent bytes not read yet (a request that crossed the end), which
 * would turn the close into a reset that can discard a reply still on its
 * way; those are drained first.
 */
static void
conn_end_idle(struct httpd_req *c)
{
	int unread = 0;

	if (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0) {
		c->state = CS_CLOSING;
		conn_linger(c);
	} else
		conn_close(c);
}

/* Drops what a refused client still sends; closes at its EOF. */
static void
conn_drain(struct httpd_req *c)
{
	char sink[16384];
	ssize_t n;
	size_t round = 0;

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
		conn_close(c);
}

static int
status_of_parse_error(ssize_t r)
{
	switch (r) {
	case HTTP_TOO_LARGE:	return 431;
	case HTTP_UNSUPPORTED:	return 501;
	case HTTP_BAD_VERSION:	return 505;
	default:		return 400;
	}
}

/*
 * Points c->req into the buffer again, which may have moved since the
 * head was parsed (a chunked body is read into it).
 */
static void
conn_reparse_head(struct httpd_req *c)
{
	(void)http_parse_request(c->in.data, c->head_len, c->head_len + 1,
	    &c->req);
	c->head_only = c->req.method_len == 4 &&
	    memcmp(c->req.method, "HEAD", 4) == 0;
}

/*
 * 1 when the head check refuses the request (the refusal sent): asked
 * only where the head alone would answer for the body, 100 Continue and
 * 413, so that every other request keeps its connection.
 */
static int
conn_refused_by_head(struct httpd_req *c)
{
	struct httpd_refusal ref;

	if (c->h->check == NULL)
		return 0;
	conn_reparse_head(c);
	if (!c->h->check(&c->req, &ref, c->h->arg))
		return 0;
	conn_fail(c, ref.status, ref.msg, ref.headers);
	return 1;
}

static void
conn_too_large(struct httpd_req *c)
{
	if (!conn_refused_by_head(c))
		conn_fail(c, 413, "request body too large", NULL);
}

/* -1 when the request was refused instead. */
static int
conn_expect_continue(struct httpd_req *c, size_t need)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!c->req.expect_continue || c->continued || c->in.len >= need)
		return 0;
	if (conn_refused_by_head(c))
		return -1;
	c->continued = 1;
	if (conn_reserve(c, &c->out, sizeof(cont) - 1, 0) == 0)
		buf_append(&c->out, cont, sizeof(cont) - 1);
	return 0;
}

/*
 * RFC 9112 2.2: empty lines before a request are ignored (the parser skips
 * them too); dropped here, on an idle connection they start no header
 * clock.  Past max_header of them the parser sees them, and answers 431 as
 * for any header block that long.
 */
static void
conn_skip_empty_lines(struct httpd_req *c)
{
	const char *p = c->in.data;
	size_t i = 0;

	while (c->blank + i < c->h->cfg.max_header) {
		if (i < c->in.len && p[i] == '\n')
			i++;
		else if (i + 1 < c->in.len && p[i] == '\r' && p[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	c->blank += i;
	buf_consume(&c->in, i);
	if (c->in.len == 0)
		conn_release(c, &c->in);
}

/* 1: header block parsed; 0: need more; -1: answered with an error. */
static int
conn_parse_head(struct httpd_req *c)
{
	struct httpd *h = c->h;
	ssize_t r;

	if (c->idle_since)
		conn_skip_empty_lines(c);
	if (c->in.len == 0 || (c->idle_since && conn_in_blank(c)))
		return 0;
	c->blank = 0;
	if (c->deadline == 0 || c->idle_since)
		c->deadline = ev_now(h->loop) + (uint64_t)h->cfg.header_ms;
	c->idle_since = 0;
	r = http_parse_request(c->in.data, c->in.len, h->cfg.max_header, &c->req);
	if (r == HTTP_INCOMPLETE)
		return 0;
	if (r < 0) {
		conn_fail(c, status_of_parse_error(r), c->req.error, NULL);
		return -1;
	}
	c->head_len = (size_t)r;
	c->body_len = 0;
	c->continued = 0;
	if (c->req.chunked) {
		http_chunked_init(&c->chunk);
		if (conn_expect_continue(c, c->head_len + 1) == -1)
			return -1;
	} else if (c->req.content_length > 0) {
		if ((uint64_t)c->req.content_length > h->cfg.max_body) {
			conn_too_large(c);
			return -1;
		}
		if (conn_expect_continue(c, c->head_len +
		    (size_t)c->req.content_length) == -1)
			return -1;
	}
	c->state = CS_BODY;
	c->progress = 0;
	c->deadline = ev_now(h->loop) + (uint64_t)h->cfg.body_ms;
	return 1;
}

static int
conn_parse_chunked(struct httpd_req *c)
{
	size_t start = c->head_len + c->body_len, n = c->in.len - start;
	ssize_t r;

	r = http_chunked_decode(&c->chunk, c->in.data + start, &n);
	if (r == HTTP_BAD) {
		conn_fail(c, 400, "malformed chunked body", NULL);
		return -1;
	}
	c->body_len += n;
	/* A chunk that announces more than the limit is refused at once. */
	if (c->body_len > c->h->cfg.max_body ||
	    c->chunk.remaining > c->h->cfg.max_body - c->body_len) {
		conn_too_large(c);
		return -1;
	}
	if (r == HTTP_INCOMPLETE) {
		c->in.len = c->head_len + c->body_len;
		return 0;
	}
	c->req_len = c->head_len + c->body_len;
	c->in.len = c->req_len + (size_t)r;
	return 1;
}

/* 1: body complete; 0: need more; -1: answered with an error. */
static int
conn_parse_body(struct httpd_req *c)
{
	size_t need;

	if (c->req.chunked)
		return conn_parse_chunked(c);
	need = c->head_len + (size_t)(c->req.content_length > 0 ?
	    c->req.content_length : 0);
	if (c->in.len < need)
		return 0;	/* conn_read makes room as the bytes come */
	c->body_len = need - c->head_len;
	c->req_len = need;
	return 1;
}

static void
conn_dispatch(struct httpd_req *c)
{
	conn_reparse_head(c);
	c->state = CS_HANDLER;
	c->deadline = 0;
	c->h->handler(c, c->h->arg);
}

/*
 * Frames and dispatches buffered requests until one produces output: a
 * reply must leave before the next pipelined request is looked at.
 */
static void
conn_process(struct httpd_req *c)
{
	int r;

	c->in_process = 1;
	while (!c->gone && c->out.len == 0 &&
	    (c->state == CS_HEAD || c->state == CS_BODY)) {
		if (c->state == CS_HEAD && (r = conn_parse_head(c)) <= 0)
			break;
		if (c->state == CS_BODY && (r = conn_parse_body(c)) <= 0)
			break;
		conn_dispatch(c);
	}
	c->in_process = 0;
}

/* Bytes the kernel holds for the peer, or INT_MAX when it cannot say. */
static int
conn_unsent(const struct httpd_req *c)
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
conn_peer_took(struct httpd_req *c)
{
	int q = conn_unsent(c);

	if (q >= c->unsent)
		return 0;
	c->unsent = q;
	c->write_deadline = ev_now(c->h->loop) + (uint64_t)c->h->cfg.write_ms;
	return 1;
}

static int
conn_flush(struct httpd_req *c)
{
	ssize_t n;

	while (c->out_off < c->out.len) {
		n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* Whatever queued it (a "100 Continue" too),
				   output that waits has a deadline. */
				if (c->write_deadline == 0)
					c->write_deadline = ev_now(c->h->loop) +
					    (uint64_t)c->h->cfg.write_ms;
				c->unsent = conn_unsent(c);
				return 0;
			}
			return -1;
		}
		c->out_off += (size_t)n;
		c->write_deadline = ev_now(c->h->loop) + (uint64_t)c->h->cfg.write_ms;
	}
	c->out_off = 0;
	c->out.len = 0;
	c->write_deadline = 0;
	if (c->out.cap > KEEP_BUF)
		conn_release(c, &c->out);
	if (c->state == CS_HEAD && c->idle_since) {
		/* Idle from now: a long reply was being read until now. */
		c->idle_since = ev_now(c->h->loop);
		c->deadline = c->idle_since + (uint64_t)c->h->cfg.idle_ms;
	}
	return 0;
}

/*
 * Flushes, frames what is buffered, and closes when the connection is done.
 * Pipelined requests are parsed only once earlier replies have left, so a
 * client that never reads cannot make us queue replies without end.
 */
static void
conn_resume(struct httpd_req *c)
{
	for (;;) {
		if (!c->gone && conn_flush(c) == -1)
			c->gone = 1;
		if (c->gone || c->out.len > 0 ||
		    (c->state != CS_HEAD && c->state != CS_BODY))
			break;
		conn_process(c);
		if (c->out.len == 0)
			break;
	}
	if (c->gone) {
		if (c->state == CS_HANDLER)
			ev_unwatch(c->h->loop, c->fd);	/* closed on reply */
		else
			conn_close(c);
		return;
	}
	if (c->out.len == 0 && c->state == CS_CLOSING && c->linger && !c->eof) {
		conn_linger(c);
		return;
	}
	if (c->out.len == 0 && (c->state == CS_CLOSING ||
	    (c->eof && c->state != CS_HANDLER))) {
		conn_close(c);
		return;
	}
	/* After httpd_shutdown a connection that goes idle is done too: its
	   reply was still going out when the others closed. */
	if (c->h->stopping && conn_is_idle(c)) {
		conn_end_idle(c);
		return;
	}
	conn_watch(c);
}

/*
 * The end of the declared body being read, or 0.  Its buffer grows as its
 * bytes come, not at its header: a header alone, however large the length
 * it announces, then claims no more of the budget than one read.
 */
static size_t
conn_body_end(const struct httpd_req *c)
{
	size_t end;

	if (c->state != CS_BODY || c->req.chunked || c->req.content_length <= 0)
		return 0;
	end = c->head_len + (size_t)c->req.content_length;
	return c->in.len < end ? end : 0;
}

/* Reads what the socket has; -1 when the peer is gone, -2 over budget. */
static int
conn_read(struct httpd_req *c)
{
	size_t round = 0, room, end;
	ssize_t n;

	while (round < READ_ROUND) {
		end = conn_body_end(c);
		if (conn_reserve(c, &c->in, READ_CHUNK, end) == -1)
			return -2;
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
		round += (size_t)n;
		if (c->state == CS_BODY && (c->progress += (size_t)n) >=
		    HTTPD_PROGRESS) {
			c->progress = 0;
			c->deadline = ev_now(c->h->loop) +
			    (uint64_t)c->h->cfg.body_ms;
		}
		if ((size_t)n < room || (end && c->in.len >= end))
			break;	/* drained, or the body is whole: the loop
				   reports what comes next */
	}
	return 0;
}

static void
conn_event(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct httpd_req *c = arg;
	int r;

	(void)loop;
	(void)fd;
	if (c->state == CS_LINGER) {
		conn_drain(c);
		return;
	}
	if ((events & EV_READ) && (c->state == CS_HEAD || c->state == CS_BODY)) {
		r = conn_read(c);
		if (r == -1)
			c->gone = 1;
		else if (r == -2 && c->state != CS_HANDLER)
			conn_fail(c, 503, "server busy, retry later",
			    "Retry-After: 1\r\n");
	} else if ((events & EV_ERROR) && !(events & EV_WRITE))
		c->gone = 1;
	else if (events & EV_READ)
		c->input_waits = 1;
	conn_resume(c);
}

/*
 * The connection to close for a new one: a lingering one (its reply is
 * out, only the client's close is awaited), else the longest idle.
 */
static struct httpd_req *
conn_evictable(struct httpd *h)
{
	struct httpd_req *c, *best = NULL;

	for (c = h->conns; c; c = c->next)
		if (c->state == CS_LINGER)
			return c;
		else if (conn_is_idle(c) &&
		    (!best || c->idle_since < best->idle_since))
			best = c;
	return best;
}

#define BUSY_BODY	"{\"error\":\"too many connections\"}\n"

static void
httpd_refuse(struct httpd *h, int fd)
{
	char busy[256], sink[4096];
	size_t drained = 0;
	int n;

	n = snprintf(busy, sizeof(busy), "HTTP/1.1 503 Service Unavailable\r\n"
	    "%sContent-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Retry-After: 1\r\nConnection: close\r\n\r\n%s",
	    httpd_date(h), sizeof(BUSY_BODY) - 1, BUSY_BODY);
	(void)!send(fd, busy, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* What the client sent already would turn the close into a reset
	   that can discard the 503: read it first (see CS_LINGER). */
	(void)shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0 &&
	    (drained += sizeof(sink)) < READ_ROUND)
		;
	close(fd);
}

static void
httpd_add_conn(struct httpd *h, int fd)
{
	struct httpd_req *c, *old;

	if (h->nconns >= h->cfg.max_conns) {
		if ((old = conn_evictable(h)) == NULL) {
			httpd_refuse(h, fd);
			return;
		}
		conn_close(old);
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->h = h;
	c->fd = fd;
	c->state = CS_HEAD;
	c->idle_since = ev_now(h->loop);
	c->deadline = c->idle_since + (uint64_t)h->cfg.idle_ms;
	c->next = h->conns;
	if (h->conns)
		h->conns->prev = c;
	h->conns = c;
	h->nconns++;
	conn_watch(c);
}

static void
httpd_accept(struct ev_loop *loop, int lfd, unsigned events, void *arg)
{
	struct httpd *h = arg;
	int fd, i;

	(void)events;
	for (i = 0; i < 256; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				/* Wait for the next tick rather than spin. */
				ev_watch(loop, lfd, 0, httpd_accept, h);
				h->accept_paused = 1;
			}
			return;
		}
		httpd_add_conn(h, fd);
	}
}

static void
conn_timeouts(struct httpd_req *c, uint64_t now)
{
	if (c->state == CS_HANDLER)
		return;
	if (c->state == CS_LINGER) {
		if (now >= c->deadline)
			conn_close(c);
		return;
	}
	if (c->write_deadline && now >= c->write_deadline) {
		if (conn_peer_took(c))
			return;
		c->gone = 1;
	} else if (c->out.len > 0) {
		return;		/* the reader's pace: only write_deadline */
	} else if (c->deadline && now >= c->deadline && c->state != CS_CLOSING) {
		if (c->state == CS_HEAD && c->in.len == 0)
			c->gone = 1;	/* idle keep-alive: just close */
		else
			conn_fail(c, 408, "request timed out", NULL);
	} else
		return;
	conn_resume(c);
}

static void
httpd_tick(struct ev_loop *loop, void *arg)
{
	struct httpd *h = arg;
	struct httpd_req *c, *next;
	uint64_t now = ev_now(loop);

	if (h->accept_paused && h->lfd != -1) {
		h->accept_paused = 0;
		ev_watch(loop, h->lfd, EV_READ, httpd_accept, h);
	}
	for (c = h->conns; c; c = next) {
		next = c->next;
		conn_timeouts(c, now);
	}
}

struct httpd *
httpd_new(struct ev_loop *loop, int lfd, const struct httpd_config *cfg,
    httpd_head_check *check, httpd_handler *handler, void *arg)
{
	struct httpd *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->loop = loop;
	h->lfd = lfd;
	h->cfg = *cfg;
	h->check = check;
	h->handler = handler;
	h->arg = arg;
	if (ev_watch(loop, lfd, EV_READ, httpd_accept, h) == -1 ||
	    ev_add_tick(loop, 250, httpd_tick, h) == -1) {
		free(h);
		return NULL;
	}
	return h;
}

void
httpd_free(struct httpd *h)
{
	if (h == NULL)
		return;
	while (h->conns)
		conn_close(h->conns);
	if (h->lfd != -1) {
		ev_unwatch(h->loop, h->lfd);
		close(h->lfd);
	}
	free(h);
}

const struct http_request *
httpd_request(const struct httpd_req *c)
{
	return &c->req;
}

const char *
httpd_body(const struct httpd_req *c, size_t *len)
{
	*len = c->body_len;
	return c->in.data ? c->in.data + c->head_len : "";
}

void
httpd_reply(struct httpd_req *c, int status, const char *ctype,
    const char *headers, const char *body, size_t len)
{
	struct httpd *h = c->h;
	/* Requests pipelined before a FIN are still answered (conn_resume
	   closes once none is left). */
	int keep = c->req.keep_alive && !h->stopping;

	if (!c->gone)
		conn_respond(c, status, ctype, headers, body, len, !keep);
	c->head_only = 0;
	buf_consume(&c->in, c->req_len);
	c->req_len = c->head_len = c->body_len = 0;
	if (c->in.len == 0)
		conn_release(c, &c->in);
	if (keep) {
		c->state = CS_HEAD;
		c->idle_since = ev_now(h->loop);
		c->deadline = c->idle_since + (uint64_t)h->cfg.idle_ms;
	} else {
		c->state = CS_CLOSING;	/* through CS_LINGER */
		c->linger = 1;
	}
	if (!c->in_process)
		conn_resume(c);
}

void
httpd_shutdown(struct httpd *h)
{
	struct httpd_req *c, *next;

	h->stopping = 1;
	if (h->lfd != -1) {
		ev_unwatch(h->loop, h->lfd);
		close(h->lfd);
		h->lfd = -1;
	}
	for (c = h->conns; c; c = next) {
		next = c->next;
		if (conn_is_idle(c))
			conn_end_idle(c);
	}
}

size_t
httpd_conns(const struct httpd *h)
{
	return h->nconns;
}

size_t
httpd_buffered(const struct httpd *h)
{
	return h->buffered;
}
