/*
 * httpd.c - HTTP/1.1 framing over conn.h; see httpd.h.
 *
 * A request moves HEAD -> BODY -> HANDLER -> HEAD (keep-alive) or
 * CLOSING.  It occupies in[0..req_len) of the connection's input;
 * pipelined bytes follow it and are framed only once its reply has left
 * (the connection's drained), so replies go out in request order.  The
 * head is parsed once; when the input buffer moves as it grows, the
 * parsed pointers are rebased.  Chunked bodies are decoded in place,
 * right after the header block.
 *
 * Memory is bounded by the header and body limits per request, the
 * connection limit, and the connections' shared budget (conn.c); a
 * request that would push past the budget is answered 503 instead.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"

#define HEAD_MAX	512	/* status line and headers of a reply */

enum req_state { RS_HEAD, RS_BODY, RS_HANDLER, RS_CLOSING };

struct httpd_req {			/* a connection's HTTP state */
	struct httpd	*h;
	struct conn	*c;
	enum req_state	 state;
	struct http_request req;
	const char	*base;		/* where req was parsed from */
	size_t		 head_len, body_len, req_len;
	struct http_chunked chunk;
	size_t		 progress;	/* body bytes since the deadline moved */
	size_t		 blank;		/* empty-line bytes dropped while idle */
	int		 continued;	/* 100 Continue sent */
	int		 head_only;	/* a HEAD request: reply without body */
	int		 idle;		/* between requests */
	struct buf	 reply;		/* httpd_body_buf's */
	void		*data;		/* httpd_set_data */
};

struct httpd {
	struct conn_pool *pool;
	struct httpd_config cfg;
	struct httpd_handlers on;
	void		*arg;
	int		 stopping;
	time_t		 date_sec;	/* when date was formatted */
	char		 date[48];	/* "Date: ...\r\n" */
};

static void	process(struct httpd_req *);

static uint64_t
now(const struct httpd *h)
{
	return conn_pool_now(h->pool);
}

/*
 * RFC 9110 6.6.1: a server with a clock sends Date.  Formatted once a
 * second, with English names whatever the locale.
 */
static const char *
date_header(struct httpd *h)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;

	if (t == h->date_sec || gmtime_r(&t, &tm) == NULL)
		return h->date;
	snprintf(h->date, sizeof(h->date),
	    "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
	    tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
	    tm.tm_min, tm.tm_sec);
	h->date_sec = t;
	return h->date;
}

void
httpd_config_defaults(struct httpd_config *c)
{
	memset(c, 0, sizeof(*c));
	c->max_conns = 10000;
	c->max_header = 8 * 1024;
	c->max_body = 16 * 1024 * 1024;
	c->max_buffered = 512 * 1024 * 1024;
	c->idle_ms = 60 * 1000;
	c->header_ms = 10 * 1000;
	c->body_ms = 10 * 1000;
	c->write_ms = 10 * 1000;
}

/* Points r->req at the input again, if the buffer moved since the parse. */
static void
rebase(struct httpd_req *r)
{
	const char *data = conn_in(r->c)->data;

	if (r->base != data) {
		http_request_rebase(&r->req, r->base, data);
		r->base = data;
	}
}

/* The status line and headers of a reply with a body of len bytes. */
static int
format_head(struct httpd_req *r, char *out, int status, const char *ctype,
    const char *headers, size_t len, int close_after)
{
	int n = snprintf(out, HEAD_MAX,
	    "HTTP/1.1 %d %s\r\n%sContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "%s%s\r\n", status, http_reason(status), date_header(r->h),
	    ctype ? ctype : "application/json", len, close_after ?
	    "Connection: close\r\n" : r->req.minor_version == 0 ?
	    "Connection: keep-alive\r\n" : "", headers ? headers : "");

	return n < 0 || n >= HEAD_MAX ? -1 : n;
}

/*
 * Queues a whole response.  Over the budget, a small one (an error, such
 * as the 503 that says the budget is spent) goes out at once when nothing
 * is queued before it, so the client still learns why; a larger one cuts
 * the peer off.
 */
static void
respond(struct httpd_req *r, int status, const char *ctype,
    const char *headers, const char *body, size_t len, int close_after)
{
	char head[HEAD_MAX], *p;
	int n;

	if ((n = format_head(r, head, status, ctype, headers, len,
	    close_after)) == -1) {
		conn_close(r->c);
		return;
	}
	if (r->head_only || body == NULL)
		len = 0;	/* Content-Length tells what GET would send */
	if ((p = conn_out_reserve(r->c, (size_t)n + len)) != NULL) {
		memcpy(p, head, (size_t)n);
		if (len)
			memcpy(p + n, body, len);
		conn_wrote(r->c, (size_t)n + len);
		return;
	}
	if (n + len <= 1024) {
		char msg[1024];

		memcpy(msg, head, (size_t)n);
		if (len)
			memcpy(msg + n, body, len);
		if (conn_send_now(r->c, msg, (size_t)n + len) == 0)
			return;
	}
	conn_close(r->c);
}

/* The application's body for an answer httpd gives; plain text without. */
static const char *
error_body(struct httpd *h, struct buf *b, int status, const char *msg)
{
	if (h->on.error_body)
		return h->on.error_body(b, status, msg, h->arg);
	return buf_puts(b, msg) == 0 && buf_putc(b, '\n') == 0 ?
	    "text/plain; charset=utf-8" : NULL;
}

/* An error that ends the connection: the framing can no longer be trusted. */
static void
fail(struct httpd_req *r, int status, const char *msg, const char *headers)
{
	struct buf body;
	const char *ctype;

	buf_init(&body);
	if ((ctype = error_body(r->h, &body, status, msg)) != NULL)
		respond(r, status, ctype, headers, body.data, body.len, 1);
	buf_free(&body);
	r->state = RS_CLOSING;
	conn_finish(r->c);
}

static int
status_of_parse_error(ssize_t rc)
{
	switch (rc) {
	case HTTP_TOO_LARGE:	return 431;
	case HTTP_UNSUPPORTED:	return 501;
	case HTTP_BAD_VERSION:	return 505;
	default:		return 400;
	}
}

/*
 * 1 when the head check refuses the request (the refusal sent): asked
 * only where the head alone would answer for the body, 100 Continue and
 * 413, so that every other request keeps its connection.
 */
static int
refused_by_head(struct httpd_req *r)
{
	struct httpd_refusal ref;

	if (r->h->on.check == NULL)
		return 0;
	rebase(r);
	if (!r->h->on.check(&r->req, &ref, r->h->arg))
		return 0;
	fail(r, ref.status, ref.msg, ref.headers);
	return 1;
}

static void
too_large(struct httpd_req *r)
{
	if (!refused_by_head(r))
		fail(r, 413, "request body too large", NULL);
}

/* -1 when the request was refused instead. */
static int
expect_continue(struct httpd_req *r, size_t need)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	if (!r->req.expect_continue || r->continued ||
	    conn_in(r->c)->len >= need)
		return 0;
	if (refused_by_head(r))
		return -1;
	r->continued = 1;
	(void)conn_write(r->c, cont, sizeof(cont) - 1);
	return 0;
}

/* No request begun in the input: empty, or an empty line's CR, LF to come. */
static int
in_blank(struct httpd_req *r)
{
	struct buf *in = conn_in(r->c);

	return in->len == 0 || (in->len == 1 && in->data[0] == '\r');
}

/*
 * RFC 9112 2.2: empty lines before a request are ignored (the parser skips
 * them too); dropped here, on an idle connection they start no header
 * clock.  Past max_header of them the parser sees them, and answers 431 as
 * for any header block that long.
 */
static void
skip_empty_lines(struct httpd_req *r)
{
	struct buf *in = conn_in(r->c);
	const char *p = in->data;
	size_t i = 0;

	while (r->blank + i < r->h->cfg.max_header) {
		if (i < in->len && p[i] == '\n')
			i++;
		else if (i + 1 < in->len && p[i] == '\r' && p[i + 1] == '\n')
			i += 2;
		else
			break;
	}
	r->blank += i;
	if (i)
		conn_consume(r->c, i);
}

static void
set_idle(struct httpd_req *r, int idle)
{
	uint64_t t = now(r->h);

	r->idle = idle;
	conn_set_idle(r->c, idle ? t : 0);
	if (idle)
		conn_set_deadline(r->c, t + (uint64_t)r->h->cfg.idle_ms);
}

/* 1: header block parsed; 0: need more; -1: answered with an error. */
static int
parse_head(struct httpd_req *r)
{
	struct httpd *h = r->h;
	struct buf *in;
	ssize_t rc;

	if (r->idle)
		skip_empty_lines(r);
	in = conn_in(r->c);
	if (in->len == 0 || (r->idle && in_blank(r)))
		return 0;
	r->blank = 0;
	if (r->idle)	/* a request begins: the header clock starts */
		conn_set_deadline(r->c, now(h) + (uint64_t)h->cfg.header_ms);
	set_idle(r, 0);
	rc = http_parse_request(in->data, in->len, h->cfg.max_header, &r->req);
	if (rc == HTTP_INCOMPLETE)
		return 0;
	if (rc < 0) {
		fail(r, status_of_parse_error(rc), r->req.error, NULL);
		return -1;
	}
	r->base = in->data;
	r->head_len = (size_t)rc;
	r->body_len = 0;
	r->continued = 0;
	r->head_only = r->req.method_len == 4 &&
	    memcmp(r->req.method, "HEAD", 4) == 0;
	if (r->req.chunked) {
		http_chunked_init(&r->chunk);
		if (expect_continue(r, r->head_len + 1) == -1)
			return -1;
	} else if (r->req.content_length > 0) {
		if ((uint64_t)r->req.content_length > h->cfg.max_body) {
			too_large(r);
			return -1;
		}
		if (expect_continue(r, r->head_len +
		    (size_t)r->req.content_length) == -1)
			return -1;
		/* the buffer grows as the body comes, to its end at most */
		conn_expect(r->c, r->head_len + (size_t)r->req.content_length);
	}
	r->state = RS_BODY;
	r->progress = 0;
	(void)conn_take_progress(r->c);
	conn_set_deadline(r->c, now(h) + (uint64_t)h->cfg.body_ms);
	return 1;
}

static int
parse_chunked(struct httpd_req *r)
{
	struct buf *in = conn_in(r->c);
	size_t start = r->head_len + r->body_len, n = in->len - start;
	ssize_t rc;

	rc = http_chunked_decode(&r->chunk, in->data + start, &n);
	if (rc == HTTP_BAD) {
		fail(r, 400, "malformed chunked body", NULL);
		return -1;
	}
	r->body_len += n;
	/* A chunk that announces more than the limit is refused at once. */
	if (r->body_len > r->h->cfg.max_body ||
	    r->chunk.remaining > r->h->cfg.max_body - r->body_len) {
		too_large(r);
		return -1;
	}
	if (rc == HTTP_INCOMPLETE) {
		in->len = r->head_len + r->body_len;
		return 0;
	}
	r->req_len = r->head_len + r->body_len;
	in->len = r->req_len + (size_t)rc;
	return 1;
}

/* 1: body complete; 0: need more; -1: answered with an error. */
static int
parse_body(struct httpd_req *r)
{
	size_t need;

	if (r->req.chunked)
		return parse_chunked(r);
	need = r->head_len + (size_t)(r->req.content_length > 0 ?
	    r->req.content_length : 0);
	if (conn_in(r->c)->len < need)
		return 0;
	r->body_len = need - r->head_len;
	r->req_len = need;
	return 1;
}

static void
dispatch(struct httpd_req *r)
{
	rebase(r);
	r->state = RS_HANDLER;
	conn_expect(r->c, 0);
	conn_set_deadline(r->c, 0);
	conn_read(r->c, 0);
	conn_hold(r->c);
	r->h->on.handle(r, r->h->arg);
}

/*
 * Frames the buffered input: at most one request is handed out, and none
 * while output is queued (a reply must leave before the next pipelined
 * request is looked at).  A connection that is done is ended here.
 */
static void
process(struct httpd_req *r)
{
	struct conn *c = r->c;
	int rc = 1;

	while (rc > 0 && conn_queued(c) == 0 &&
	    (r->state == RS_HEAD || r->state == RS_BODY)) {
		if (r->state == RS_HEAD && (rc = parse_head(r)) <= 0)
			break;
		if (r->state == RS_BODY && (rc = parse_body(r)) <= 0)
			break;
		dispatch(r);
		return;
	}
	if (rc < 0 || r->state == RS_HANDLER || r->state == RS_CLOSING)
		return;
	/* Requests pipelined before a FIN are answered; then it closes. */
	if (conn_eof(c) && conn_queued(c) == 0)
		conn_close(c);
	else if (r->h->stopping && r->idle && in_blank(r) &&
	    conn_queued(c) == 0)
		conn_close_idle(c);
}

static void
on_input(struct conn *c, int full, void *arg)
{
	struct httpd_req *r = conn_data(c);
	struct httpd *h = arg;

	if (r->state == RS_BODY && (r->progress += conn_take_progress(c)) >=
	    CONN_PROGRESS) {
		r->progress = 0;
		conn_set_deadline(c, now(h) + (uint64_t)h->cfg.body_ms);
	}
	if (full && (r->state == RS_HEAD || r->state == RS_BODY)) {
		fail(r, 503, "server busy, retry later", "Retry-After: 1\r\n");
		return;
	}
	process(r);
}

static void
on_drained(struct conn *c, void *arg)
{
	struct httpd_req *r = conn_data(c);

	(void)arg;
	if (r->idle)	/* idle from now: a long reply was read until now */
		set_idle(r, 1);
	if (r->state == RS_HEAD || r->state == RS_BODY)
		process(r);
}

static void
on_timeout(struct conn *c, void *arg)
{
	struct httpd_req *r = conn_data(c);

	(void)arg;
	if (r->state == RS_HEAD && conn_in(c)->len == 0)
		conn_close(c);	/* idle keep-alive: just close */
	else if (r->state == RS_HEAD || r->state == RS_BODY)
		fail(r, 408, "request timed out", NULL);
}

static struct httpd_req *
new_req(struct httpd *h, struct conn *c)
{
	struct httpd_req *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->h = h;
	r->c = c;
	buf_init(&r->reply);
	conn_set_data(c, r);
	return r;
}

static int
on_opened(struct conn *c, void *arg)
{
	struct httpd_req *r;

	if ((r = new_req(arg, c)) == NULL)
		return -1;
	r->state = RS_HEAD;
	set_idle(r, 1);
	conn_read(c, 1);
	return 0;
}

static void
on_closed(struct conn *c, void *arg)
{
	struct httpd_req *r = conn_data(c);

	(void)arg;
	if (r == NULL)
		return;
	buf_free(&r->reply);
	free(r);
}

/* Past the connection limit with none to make room: a whole 503. */
static void
on_refused(struct conn *c, void *arg)
{
	struct httpd_req *r;

	if ((r = new_req(arg, c)) == NULL) {
		conn_close(c);
		return;
	}
	fail(r, 503, "too many connections", "Retry-After: 1\r\n");
}

static void
on_hangup(struct conn *c, void *arg)
{
	struct httpd_req *r = conn_data(c);
	struct httpd *h = arg;

	if (r->state == RS_HANDLER && h->on.hangup)
		h->on.hangup(r, h->arg);
}

static const struct conn_ops httpd_conn_ops = {
	on_opened, on_input, on_drained, on_timeout, on_closed, on_refused,
	on_hangup,
};

struct httpd *
httpd_new(struct ev_loop *loop, int lfd, const struct httpd_config *cfg,
    const struct httpd_handlers *on, void *arg)
{
	struct conn_config cc;
	struct httpd *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->cfg = *cfg;
	h->on = *on;
	h->arg = arg;
	conn_config_defaults(&cc);
	cc.max_conns = cfg->max_conns;
	cc.max_buffered = cfg->max_buffered;
	cc.write_ms = cfg->write_ms;
	cc.clock = cfg->clock;
	cc.clock_arg = cfg->clock_arg;
	if ((h->pool = conn_pool_new(loop, lfd, &cc, &httpd_conn_ops, h)) ==
	    NULL) {
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
	conn_pool_free(h->pool);
	free(h);
}

int
httpd_adopt(struct httpd *h, int fd)
{
	return conn_adopt(h->pool, fd);
}

void
httpd_tick(struct httpd *h)
{
	conn_pool_tick(h->pool);
}

const struct http_request *
httpd_request(const struct httpd_req *r)
{
	return &r->req;
}

void
httpd_set_data(struct httpd_req *r, void *data)
{
	r->data = data;
}

void *
httpd_data(const struct httpd_req *r)
{
	return r->data;
}

const char *
httpd_body(const struct httpd_req *r, size_t *len)
{
	struct buf *in = conn_in(r->c);

	*len = r->body_len;
	return in->data ? in->data + r->head_len : "";
}

/*
 * The request is answered: its bytes go, the connection waits for the
 * next one (keep-alive) or ends once the reply is out, and the handler's
 * hold ends, which frees a connection whose peer went meanwhile.
 */
int
httpd_charge(struct httpd_req *r, size_t n)
{
	return conn_charge(r->c, n);
}

static void
answered(struct httpd_req *r, int keep)
{
	struct conn *c = r->c;

	r->head_only = 0;
	r->data = NULL;
	conn_consume(c, r->req_len);
	r->req_len = r->head_len = r->body_len = 0;
	if (keep) {
		r->state = RS_HEAD;
		set_idle(r, 1);
		conn_read(c, 1);
	} else {
		r->state = RS_CLOSING;
		conn_finish(c);
	}
	conn_release(c);
}

/* Requests pipelined before a FIN are still answered (process closes
   once none is left). */
static int
keep_alive(const struct httpd_req *r)
{
	return r->req.keep_alive && !r->h->stopping;
}

void
httpd_reply(struct httpd_req *r, int status, const char *ctype,
    const char *headers, const char *body, size_t len)
{
	int keep = keep_alive(r);

	if (!conn_gone(r->c))
		respond(r, status, ctype, headers, body, len, !keep);
	answered(r, keep);
}

struct buf *
httpd_body_buf(struct httpd_req *r)
{
	r->reply.len = 0;
	return &r->reply;
}

void
httpd_reply_with(struct httpd_req *r, int status, const char *ctype,
    const char *headers, struct buf *body)
{
	int keep = keep_alive(r);

	if (!conn_gone(r->c)) {
		/* the head copied, the body handed over as it is */
		respond(r, status, ctype, headers, NULL, body->len, !keep);
		if (!r->head_only && conn_give(r->c, body) == -1)
			conn_close(r->c);
	}
	buf_free(body);
	answered(r, keep);
}

void
httpd_reply_buf(struct httpd_req *r, int status, const char *ctype,
    const char *headers)
{
	httpd_reply_with(r, status, ctype, headers, &r->reply);
}

void
httpd_reply_error(struct httpd_req *r, int status, const char *msg,
    const char *headers)
{
	const char *ctype;

	r->reply.len = 0;
	if ((ctype = error_body(r->h, &r->reply, status, msg)) == NULL) {
		httpd_reply(r, 500, "text/plain", NULL, "out of memory\n", 14);
		return;
	}
	httpd_reply_buf(r, status, ctype, headers);
}

static void
end_if_idle(struct conn *c, void *arg)
{
	struct httpd_req *r = conn_data(c);

	(void)arg;
	if (r && r->state == RS_HEAD && r->idle && in_blank(r) &&
	    conn_queued(c) == 0)
		conn_close_idle(c);
}

void
httpd_shutdown(struct httpd *h)
{
	h->stopping = 1;
	conn_pool_stop_accepting(h->pool);
	conn_pool_each(h->pool, end_if_idle, h);
}

size_t
httpd_conns(const struct httpd *h)
{
	return conn_pool_count(h->pool);
}

size_t
httpd_buffered(const struct httpd *h)
{
	return conn_pool_buffered(h->pool);
}
