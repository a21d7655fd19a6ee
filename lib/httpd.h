/*
 * httpd.h - HTTP/1.1 over the connections of conn.h.
 *
 * Frames requests with http.h (Content-Length or chunked bodies,
 * pipelining, 100-continue, keep-alive), enforces the header and body
 * limits and timeouts, and writes replies in request order.  It does no
 * I/O of its own (conn.c does) and knows nothing of what requests mean:
 * each complete request goes to one handler, which replies at once or
 * later (httpd_reply), from the loop's thread.  A connection holds one
 * request at a time; the next pipelined request is handled only once the
 * reply before it has left, so no handler runs inside another's reply and
 * a client that never reads cannot make replies pile up.
 */
#ifndef AGG_HTTPD_H
#define AGG_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "ev.h"
#include "http.h"

struct httpd;
struct httpd_req;

struct httpd_config {
	size_t	max_conns;	/* the oldest idle one is closed past it */
	size_t	max_header;	/* request line + headers: 431 past it */
	size_t	max_body;	/* decoded body bytes: 413 past it */
	size_t	max_buffered;	/* all connections' buffers: 503 past it */
	int	idle_ms;	/* keep-alive wait for the next request */
	int	header_ms;	/* a header block must arrive within this */
	int	body_ms;	/* a body must move CONN_PROGRESS bytes within */
	int	write_ms;	/* a reader that takes nothing for this long */
	/* A clock for the deadlines (tests): NULL is the loop's. */
	uint64_t (*clock)(void *);
	void	*clock_arg;
};

/* A refusal from a request's head alone. */
struct httpd_refusal {
	int		 status;
	const char	*msg;
	const char	*headers;	/* lines ending in "\r\n", or NULL */
};

struct httpd_handlers {
	/* A complete request; the reply may come later (httpd_reply). */
	void	(*handle)(struct httpd_req *, void *arg);
	/*
	 * Asked with a request's head where the head alone would answer for
	 * its body: before 100 Continue is sent, and before a body over
	 * max_body gets 413.  1 and *ref set refuses the request with that
	 * (and ends the connection, as the body is not read).  May be NULL.
	 */
	int	(*check)(const struct http_request *, struct httpd_refusal *,
		    void *arg);
	/*
	 * The body of an answer httpd gives itself (400, 408, 413, 431,
	 * 501, 503, 505, and the check's refusals), in the application's
	 * format: appended to body, its Content-Type returned (NULL: the
	 * append failed).  May be NULL: plain text.
	 */
	const char *(*error_body)(struct buf *body, int status,
		    const char *msg, void *arg);
	/*
	 * The client of a request the handler still holds closed its side
	 * or went: a reply kept for later (a long poll) may be given now.
	 * May be NULL.
	 */
	void	(*hangup)(struct httpd_req *, void *arg);
};

void		 httpd_config_defaults(struct httpd_config *);

/* Takes the listening socket (-1: connections come by httpd_adopt). */
struct httpd	*httpd_new(struct ev_loop *, int listen_fd,
		    const struct httpd_config *, const struct httpd_handlers *,
		    void *arg);
void		 httpd_free(struct httpd *);
/* A connected socket, as if accepted (tests: one end of a socketpair). */
int		 httpd_adopt(struct httpd *, int fd);
/* The connection pool's tick, for tests that move the clock. */
void		 httpd_tick(struct httpd *);

const struct http_request *httpd_request(const struct httpd_req *);
/* The handler's own pointer for the request it holds (NULL at first). */
void		 httpd_set_data(struct httpd_req *, void *);
void		*httpd_data(const struct httpd_req *);
const char	*httpd_body(const struct httpd_req *, size_t *len);
/*
 * Counts n more bytes that the handler holds for the request (a parsed
 * copy of its body) against the connections' budget until the reply;
 * -1 when that would pass the budget: the handler should answer 503.
 */
int		 httpd_charge(struct httpd_req *, size_t n);

/*
 * Sends the reply: status, Content-Type (NULL: application/json), extra
 * header lines each ending in "\\r\\n" (or NULL), and the body, which is
 * copied.  Ends the handler's hold on the request.
 */
void		 httpd_reply(struct httpd_req *, int status, const char *ctype,
		    const char *headers, const char *body, size_t len);
/*
 * A reply built in place: the buffer to append the body to (empty), then
 * httpd_reply_buf, which puts the head in front of it and hands the
 * bytes to the connection without copying them.
 */
struct buf	*httpd_body_buf(struct httpd_req *);
void		 httpd_reply_buf(struct httpd_req *, int status,
		    const char *ctype, const char *headers);
/* The same with a body built elsewhere, which it takes (body left empty). */
void		 httpd_reply_with(struct httpd_req *, int status,
		    const char *ctype, const char *headers, struct buf *body);
/* The error answer httpd would give itself, from the handler. */
void		 httpd_reply_error(struct httpd_req *, int status,
		    const char *msg, const char *headers);

/* Closes the listener and idle connections; others close after replying. */
void		 httpd_shutdown(struct httpd *);
/* Connections still open; after httpd_shutdown, 0 means all is answered. */
size_t		 httpd_conns(const struct httpd *);
/* Bytes held in connection buffers. */
size_t		 httpd_buffered(const struct httpd *);

#endif
