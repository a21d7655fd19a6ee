/*
 * http.h - HTTP/1.1 request parsing: pure functions over bytes the caller
 * owns.  No I/O, no allocation.  Pointers in the results point into the
 * caller's buffer and stay valid while it does.
 */
#ifndef AGG_HTTP_H
#define AGG_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS	64

/* Return values of the parsers (negative; >= 0 means success). */
#define HTTP_INCOMPLETE		(-1)	/* need more bytes */
#define HTTP_BAD		(-2)	/* malformed: 400 */
#define HTTP_TOO_LARGE		(-3)	/* header block over the limit: 431 */
#define HTTP_UNSUPPORTED	(-4)	/* transfer coding we do not do: 501 */
#define HTTP_BAD_VERSION	(-5)	/* not HTTP/1.0 or HTTP/1.1: 505 */

struct http_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* surrounding spaces/tabs trimmed */
	size_t		 value_len;
};

struct http_request {
	const char	*method;
	size_t		 method_len;
	const char	*target;	/* request-target as sent */
	size_t		 target_len;
	const char	*path;		/* target up to '?' */
	size_t		 path_len;
	const char	*query;		/* after '?', NULL when none */
	size_t		 query_len;
	int		 minor_version;	/* HTTP/1.x */
	size_t		 nheaders;
	struct http_header headers[HTTP_MAX_HEADERS];

	/* Digested from the headers. */
	int64_t		 content_length;	/* -1 when absent */
	int		 chunked;		/* Transfer-Encoding: chunked */
	int		 keep_alive;		/* persistent after this request */
	int		 expect_continue;	/* Expect: 100-continue */
	const char	*error;			/* why parsing failed, static */
};

/*
 * Parses the request line and header block at buf[0..len).  Returns the
 * length of the header block including its empty line, or HTTP_INCOMPLETE,
 * HTTP_BAD, HTTP_TOO_LARGE (no complete block within max_header_bytes, or
 * more than HTTP_MAX_HEADERS headers), HTTP_UNSUPPORTED or
 * HTTP_BAD_VERSION; on failure req->error names the problem in a few words.
 */
ssize_t	http_parse_request(const char *buf, size_t len, size_t max_header_bytes,
	    struct http_request *req);

/*
 * Points req into a copy of the bytes it was parsed from that now starts
 * at to (it started at from): the buffer moved, the parse still holds.
 */
void	http_request_rebase(struct http_request *, const char *from,
	    const char *to);

/* Case-insensitive header lookup; NULL when absent. */
const struct http_header *http_header_find(const struct http_request *,
	    const char *name);

/* State of an incremental, in-place chunked-body decoder. */
struct http_chunked {
	int		 state;
	uint64_t	 remaining;	/* bytes left in the current chunk */
	size_t		 line_bytes;	/* length of the size/trailer line so far */
	size_t		 trailer_bytes;	/* all trailer bytes so far */
};

void	http_chunked_init(struct http_chunked *);

/*
 * Decodes the raw chunked bytes buf[0..*len) in place.  On return
 * buf[0..*len) holds the body bytes that this call decoded.  Returns
 * HTTP_INCOMPLETE when the body goes on (all input was consumed; call again
 * with the next raw bytes), HTTP_BAD on a malformed body (req->error is not
 * touched; *len is then unspecified), or, when the last chunk and trailers
 * ended, the number of raw bytes that followed the body: they are moved to
 * buf[*len .. *len + return).
 */
ssize_t	http_chunked_decode(struct http_chunked *, char *buf, size_t *len);

/*
 * Finds parameter `name` in a query string (without '?') and
 * percent-decodes its value ('+' is a space) into out[0..outsz), NUL
 * terminated, length in *outlen.  Returns 1 when found, 0 when absent, -1
 * when the value is malformed (bad escape) or does not fit.  The first
 * occurrence wins.
 */
int	http_query_param(const char *query, size_t query_len, const char *name,
	    char *out, size_t outsz, size_t *outlen);

/* Reason phrase of a status code ("Not Found"); "Unknown" if none. */
const char *http_reason(int status);

#endif
