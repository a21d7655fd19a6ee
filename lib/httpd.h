/*
 * httpd.h - HTTP/1.1 connections on top of the event loop.
 *
 * Accepts, reads, frames requests with http.h (Content-Length or chunked
 * bodies, pipelining, 100-continue), enforces the limits and timeouts, and
 * writes replies in request order.  It knows nothing of what requests mean:
 * each complete request goes to one handler, which replies at once or
 * later (httpd_reply), from the loop's thread.  A connection holds one
 * request at a time; while its handler has it, nothing more is read from
 * that connection, and it stays allocated until the reply, even if the peer
 * has gone.
 */
#ifndef AGG_HTTPD_H
#define AGG_HTTPD_H

#include <stddef.h>
#include <stdint.h>

#include "ev.h"
#include "http.h"

struct httpd;
struct httpd_req;

struct httpd_config {
	size_t	max_conns;	/* oldest idle one is closed past it */
	size_t	max_header;	/* request line + headers: 431 past it */
	size_t	max_body;	/* decoded body bytes: 413 past it */
	size_t	max_buffered;	/* all connections' buffers: 503 past it */
	int	idle_ms;	/* keep-alive wait for the next request */
	int	header_ms;	/* a header block must arrive within this */
	int	body_ms;	/* a body must move HTTPD_PROGRESS bytes within */
	int	write_ms;	/* a reader that takes nothing for this long */
};

#define HTTPD_PROGRESS	(16 * 1024)

typedef void	httpd_handler(struct httpd_req *, void *arg);

/* A refusal from a request's head alone. */
struct httpd_refusal {
	int		 status;
	const char	*msg;
	const char	*headers;	/* lines ending in "\r\n", or NULL */
};

/*
 * Called with a request's head where the head alone would answer for its
 * body: before 100 Continue is sent, and before a body over max_body gets
 * 413.  1 and *ref set refuses the request with that instead (and closes
 * the connection, as the body is not read); 0 lets it go on.  Any other
 * request reaches the handler with its body.
 */
typedef int	httpd_head_check(const struct http_request *,
		    struct httpd_refusal *ref, void *arg);

void		 httpd_config_defaults(struct httpd_config *);

/* Takes ownership of the listening socket.  check may be NULL. */
struct httpd	*httpd_new(struct ev_loop *, int listen_fd,
		    const struct httpd_config *, httpd_head_check *check,
		    httpd_handler *, void *arg);
void		 httpd_free(struct httpd *);

const struct http_request *httpd_request(const struct httpd_req *);
const char	*httpd_body(const struct httpd_req *, size_t *len);

/*
 * Sends the reply: status, Content-Type (NULL: application/json),
 * extra header lines each ending in "\r\n" (or NULL), and the body, which
 * is copied.  Ends the handler's hold on the request.
 */
void		 httpd_reply(struct httpd_req *, int status, const char *ctype,
		    const char *headers, const char *body, size_t len);

/* Closes the listener and idle connections; others close after replying. */
void		 httpd_shutdown(struct httpd *);
/* Connections still open; after httpd_shutdown, 0 means all is answered. */
size_t		 httpd_conns(const struct httpd *);
/* Bytes held in connection buffers. */
size_t		 httpd_buffered(const struct httpd *);

#endif
