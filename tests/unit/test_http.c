/*
 * test_http.c - tables of raw requests and chunked bodies for lib/http.c.
 *
 * Every good request is also fed as each of its proper prefixes, which
 * must all be HTTP_INCOMPLETE, and every chunked body is fed split at every
 * point and byte by byte.  Inputs are copied into buffers of their exact
 * size so that the sanitizers catch any read past the end.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "t.h"

#define MAXH	8192
#define S(lit)	lit, sizeof(lit) - 1	/* literals may hold NUL bytes */

/* Parses a malloc'd copy of exactly n bytes; only the return is kept. */
static ssize_t
parse_copy(const char *raw, size_t n, size_t max)
{
	struct http_request req;
	char *b = malloc(n ? n : 1);
	ssize_t r;

	memcpy(b, raw, n);
	r = http_parse_request(b, n, max, &req);
	if (r < 0)
		CHECK(req.error != NULL);
	free(b);
	return r;
}

struct good {
	const char	*raw;
	const char	*method, *path, *query;	/* query NULL when none */
	int		 minor;
	size_t		 nheaders;
	int64_t		 content_length;
	int		 chunked, keep_alive, expect;
};

static const struct good goods[] = {
	{ "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	    "GET", "/", NULL, 1, 1, -1, 0, 1, 0 },
	{ "GET /stats?since=10&x=y HTTP/1.1\r\nHost: a\r\nUser-Agent: c/8\r\n\r\n",
	    "GET", "/stats", "since=10&x=y", 1, 2, -1, 0, 1, 0 },
	{ "GET /? HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", "GET", "/", "", 1, 1, -1, 0, 1, 0 },
	{ "GET /a?b?c HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", "GET", "/a", "b?c", 1, 1, -1, 0, 1, 0 },
	{ "POST /events HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n"
	    "Content-Type: application/x-ndjson\r\n\r\n",
	    "POST", "/events", NULL, 1, 3, 13, 0, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\ncontent-length: 0\r\n\r\n",
	    "POST", "/e", NULL, 1, 2, 0, 0, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\nContent-Length:  5 \r\n\r\n",
	    "POST", "/e", NULL, 1, 3, 5, 0, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 9223372036854775807\r\n\r\n",
	    "POST", "/e", NULL, 1, 2, INT64_MAX, 0, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\nContent-Length: 007\r\n\r\n",
	    "POST", "/e", NULL, 1, 2, 7, 0, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\n",
	    "POST", "/e", NULL, 1, 2, -1, 1, 1, 0 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\nExpect: 100-Continue\r\n\r\n",
	    "POST", "/e", NULL, 1, 3, 5, 0, 1, 1 },
	{ "POST /e HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 5\r\nExpect: 200-ok\r\n\r\n",
	    "POST", "/e", NULL, 1, 3, 5, 0, 1, 0 },
	/* RFC 9110 10.1.1: an HTTP/1.0 Expect is ignored. */
	{ "POST /e HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
	    "POST", "/e", NULL, 0, 2, 5, 0, 0, 0 },
	/* HTTP/1.0 keep-alive rules. */
	{ "GET / HTTP/1.0\r\n\r\n", "GET", "/", NULL, 0, 0, -1, 0, 0, 0 },
	{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
	    "GET", "/", NULL, 0, 1, -1, 0, 1, 0 },
	{ "GET / HTTP/1.0\r\nConnection: foo , keep-alive\r\n\r\n",
	    "GET", "/", NULL, 0, 1, -1, 0, 1, 0 },
	{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
	    "GET", "/", NULL, 0, 1, -1, 0, 0, 0 },
	{ "GET / HTTP/1.0\r\nConnection: keep-alive-ish\r\n\r\n",
	    "GET", "/", NULL, 0, 1, -1, 0, 0, 0 },
	/* HTTP/1.1 Connection: close. */
	{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	    "GET", "/", NULL, 1, 2, -1, 0, 0, 0 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade ,\t CLOSE \r\n\r\n",
	    "GET", "/", NULL, 1, 2, -1, 0, 0, 0 },
	{ "GET / HTTP/1.1\r\nHost: h\r\n"
	    "Connection: upgrade\r\nConnection: close\r\n\r\n",
	    "GET", "/", NULL, 1, 3, -1, 0, 0, 0 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
	    "GET", "/", NULL, 1, 2, -1, 0, 1, 0 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n",
	    "GET", "/", NULL, 1, 2, -1, 0, 1, 0 },
	/* Bare LF line ends, alone and mixed with CRLF. */
	{ "GET /a?b HTTP/1.1\nHost: x\n\n", "GET", "/a", "b", 1, 1, -1, 0, 1, 0 },
	/* Absolute form (RFC 9112 3.2.2): the path and query after the
	   authority. */
	{ "GET http://h:8080/events?topic=a HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET", "/events", "topic=a", 1, 1, -1, 0, 1, 0 },
	{ "GET HTTPS://h/ HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET", "/", NULL, 1, 1, -1, 0, 1, 0 },
	{ "GET http://h?x HTTP/1.1\r\nHost: h\r\n\r\n",
	    "GET", "", "x", 1, 1, -1, 0, 1, 0 },
	{ "GET / HTTP/1.1\r\nHost: x\n\r\n", "GET", "/", NULL, 1, 1, -1, 0, 1, 0 },
	/* Empty lines before the request line are skipped (RFC 9112 2.2). */
	{ "\r\n\nGET / HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", "GET", "/", NULL, 1, 1, -1, 0, 1, 0 },
	{ "OPTIONS * HTTP/1.1\r\n"
	    "Host: h\r\n\r\n", "OPTIONS", "*", NULL, 1, 1, -1, 0, 1, 0 },
	{ "M-SEARCH /%7Ex~!$&'()*+,;=:@ HTTP/1.1\r\nHost: h\r\n\r\n",
	    "M-SEARCH", "/%7Ex~!$&'()*+,;=:@", NULL, 1, 1, -1, 0, 1, 0 },
	{ "GET / HTTP/1.1\r\nHost: h\r\n"
	    "X-A: \t spaced out \t \r\nX-Empty:\r\nX-B:v\r\n"
	    "X-Utf8: caf\xc3\xa9\r\nX-Tab: a\tb\r\n\r\n",
	    "GET", "/", NULL, 1, 6, -1, 0, 1, 0 },
};

static void
check_good(const struct good *g)
{
	struct http_request req;
	size_t n = strlen(g->raw), i;
	ssize_t r = http_parse_request(g->raw, n, MAXH, &req);

	CHECK_EQ(r, (ssize_t)n);
	if (r < 0) {
		printf("#   %s: %s\n", g->raw, req.error);
		return;
	}
	CHECK(req.error == NULL);
	CHECK_STR(req.method, req.method_len, g->method);
	CHECK_STR(req.path, req.path_len, g->path);
	if (g->query == NULL)
		CHECK(req.query == NULL && req.query_len == 0);
	else if (req.query == NULL)
		CHECK(req.query != NULL);
	else
		CHECK_STR(req.query, req.query_len, g->query);
	CHECK_EQ(req.target + req.target_len, req.path + req.path_len +
	    (req.query ? req.query_len + 1 : 0));
	CHECK_EQ(req.minor_version, g->minor);
	CHECK_EQ(req.nheaders, g->nheaders);
	CHECK_EQ(req.content_length, g->content_length);
	CHECK_EQ(req.chunked, g->chunked);
	CHECK_EQ(req.keep_alive, g->keep_alive);
	CHECK_EQ(req.expect_continue, g->expect);
	for (i = 0; i < n; i++)
		if (parse_copy(g->raw, i, MAXH) != HTTP_INCOMPLETE) {
			printf("#   prefix %zu of \"%s\"\n", i, g->raw);
			CHECK_EQ(parse_copy(g->raw, i, MAXH), HTTP_INCOMPLETE);
			break;
		}
	CHECK_EQ(parse_copy(g->raw, n, MAXH), (ssize_t)n);
}

static void
test_good_requests(void)
{
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++)
		check_good(&goods[i]);
}

static void
test_header_values(void)
{
	static const char raw[] = "GET / HTTP/1.0\r\nX-A: \t spaced out \t \r\n"
	    "X-Empty:\r\nX-B:v\r\nx-b: second\r\n\r\n";
	struct http_request req;
	const struct http_header *h;

	CHECK_EQ(http_parse_request(raw, strlen(raw), MAXH, &req),
	    (ssize_t)strlen(raw));
	CHECK_STR(req.headers[0].name, req.headers[0].name_len, "X-A");
	CHECK_STR(req.headers[0].value, req.headers[0].value_len,
	    "spaced out");
	CHECK_STR(req.headers[1].value, req.headers[1].value_len, "");
	h = http_header_find(&req, "x-b");
	CHECK(h == &req.headers[2]);
	if (h)
		CHECK_STR(h->value, h->value_len, "v");
	CHECK(http_header_find(&req, "X-EMPTY") == &req.headers[1]);
	CHECK(http_header_find(&req, "X-") == NULL);
	CHECK(http_header_find(&req, "Host") == NULL);
}

struct bad {
	const char	*raw;
	size_t		 len;
	int		 code;
	const char	*error;		/* NULL: any */
};

#define BAD(lit, code, err)	{ S(lit), code, err }

static const struct bad bads[] = {
	BAD("GET  / HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD(" GET / HTTP/1.1\r\n\r\n", HTTP_BAD, "malformed request line"),
	BAD("G@T / HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1 \r\n\r\n", HTTP_BAD, "malformed request line"),
	BAD("GET\t/ HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET /\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET ftp://x/ HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_BAD,
	    "invalid request target"),
	BAD("GET http:///a HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_BAD,
	    "invalid request target"),
	BAD("GET http:/x/ HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_BAD,
	    "invalid request target"),
	BAD("GET x/ HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_BAD,
	    "invalid request target"),
	/* RFC 9112 3.2: one Host in HTTP/1.1, never two. */
	BAD("GET / HTTP/1.1\r\n\r\n", HTTP_BAD, "no Host header"),
	BAD("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", HTTP_BAD,
	    "more than one Host header"),
	BAD("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_BAD,
	    "more than one Host header"),
	BAD("GET *x HTTP/1.1\r\n\r\n", HTTP_BAD, "invalid request target"),
	BAD("GET /a b HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET /a\x7f HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.10\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.x\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / http/1.1\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / FOO\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\rX\r\n", HTTP_BAD, NULL),
	BAD("\r\r", HTTP_BAD, NULL),
	BAD("GET / HTTP/2.0\r\n\r\n", HTTP_BAD_VERSION, "unsupported HTTP version"),
	BAD("GET / HTTP/1.2\r\n\r\n", HTTP_BAD_VERSION, NULL),
	BAD("GET / HTTP/0.9\r\n\r\n", HTTP_BAD_VERSION, NULL),
	BAD("GET / HTTP/3.1\r\n\r\n", HTTP_BAD_VERSION, NULL),
	BAD("GET / HTTP/1.1\r\nBad Header: x\r\n\r\n", HTTP_BAD,
	    "malformed header name"),
	BAD("GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nNoColon\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", HTTP_BAD,
	    "obsolete line folding"),
	BAD("GET / HTTP/1.1\r\n\tc\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: b\x01" "c\r\n\r\n", HTTP_BAD,
	    "invalid header value"),
	BAD("GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: b\rc\r\n\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: b\r\n\rx", HTTP_BAD, NULL),
	/* Errors already visible in an unfinished header block. */
	BAD("GET / HTTP/1.1\r\nBad Header\r\n", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nBad He", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nHost: a\r\n\x01", HTTP_BAD, NULL),
	BAD("GET / HTTP/1.1\r\nA: \x02", HTTP_BAD, NULL),
	BAD("G\x01", HTTP_BAD, NULL),
	BAD("GET x", HTTP_BAD, NULL),
	BAD("GET / HTTX", HTTP_BAD, NULL),
	BAD("GET / HTTP/2.0\r\n", HTTP_BAD_VERSION, NULL),
	/* Content-Length. */
	BAD("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", HTTP_BAD,
	    "invalid Content-Length"),
	BAD("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n",
	    HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
	    HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
	    HTTP_BAD, "invalid Content-Length"),
	/* Transfer-Encoding. */
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n", HTTP_BAD,
	    "both Content-Length and Transfer-Encoding"),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP_BAD,
	    "both Content-Length and Transfer-Encoding"),
	BAD("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n", HTTP_BAD, NULL),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
	    HTTP_UNSUPPORTED, "unsupported Transfer-Encoding"),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	    HTTP_UNSUPPORTED, NULL),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n",
	    HTTP_UNSUPPORTED, NULL),
	BAD("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n", HTTP_UNSUPPORTED, NULL),
	BAD("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
	    HTTP_BAD, NULL),
};

static void
test_bad_requests(void)
{
	struct http_request req;
	size_t i;
	ssize_t r;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];

		r = http_parse_request(b->raw, b->len, MAXH, &req);
		if (r != b->code)
			printf("#   bad[%zu] \"%s\"\n", i, b->raw);
		CHECK_EQ(r, b->code);
		CHECK(req.error != NULL);
		if (b->error && req.error)
			CHECK_STR(req.error, strlen(req.error), b->error);
		CHECK_EQ(parse_copy(b->raw, b->len, MAXH), b->code);
	}
}

static void
test_pipelined(void)
{
	static const char raw[] = "POST /e HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\n\r\nabcGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /third HTTP/1.0\r\n\r\n";
	struct http_request req;
	size_t n = strlen(raw), off;
	ssize_t r;

	r = http_parse_request(raw, n, MAXH, &req);
	CHECK_EQ(r, (ssize_t)strlen("POST /e HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: 3\r\n\r\n"));
	CHECK_EQ(req.content_length, 3);
	CHECK(memcmp(raw + r, "abc", 3) == 0);
	off = (size_t)r + 3;
	r = http_parse_request(raw + off, n - off, MAXH, &req);
	CHECK_EQ(r, (ssize_t)strlen("GET /next HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK_STR(req.path, req.path_len, "/next");
	off += (size_t)r;
	r = http_parse_request(raw + off, n - off, MAXH, &req);
	CHECK_EQ(r, (ssize_t)(n - off));
	CHECK_STR(req.path, req.path_len, "/third");
	CHECK_EQ(req.keep_alive, 0);
}

/* A request whose header block is exactly `size` bytes long. */
static char *
request_of_size(size_t size)
{
	static const char head[] = "GET / HTTP/1.1\r\nHost: h\r\nX: ";
	char *b = malloc(size + 1);

	memcpy(b, head, sizeof(head) - 1);
	memset(b + sizeof(head) - 1, 'a', size - (sizeof(head) - 1) - 4);
	memcpy(b + size - 4, "\r\n\r\n", 5);
	return b;
}

static void
test_too_large(void)
{
	struct http_request req;
	char *b = request_of_size(100);

	CHECK_EQ(parse_copy(b, 100, 100), 100);
	CHECK_EQ(parse_copy(b, 100, 101), 100);
	CHECK_EQ(parse_copy(b, 100, 99), HTTP_TOO_LARGE);
	CHECK_EQ(parse_copy(b, 99, 100), HTTP_INCOMPLETE);
	CHECK_EQ(parse_copy(b, 99, 99), HTTP_TOO_LARGE);
	CHECK_EQ(parse_copy(b, 60, 50), HTTP_TOO_LARGE);
	CHECK_EQ(parse_copy(b, 10, 0), HTTP_TOO_LARGE);
	CHECK_EQ(http_parse_request(b, 100, 64, &req), HTTP_TOO_LARGE);
	CHECK_STR(req.error, strlen(req.error), "header block too large");
	/* A syntax error before the cap is still a syntax error... */
	b[30] = '\x01';
	CHECK_EQ(parse_copy(b, 100, 64), HTTP_BAD);
	/* ...but the parser never looks past the cap. */
	CHECK_EQ(parse_copy(b, 100, 30), HTTP_TOO_LARGE);
	free(b);
	b = request_of_size(MAXH);
	CHECK_EQ(parse_copy(b, MAXH, MAXH), MAXH);
	CHECK_EQ(parse_copy(b, MAXH - 1, MAXH), HTTP_INCOMPLETE);
	free(b);
	b = request_of_size(MAXH + 1);
	CHECK_EQ(parse_copy(b, MAXH + 1, MAXH), HTTP_TOO_LARGE);
	CHECK_EQ(parse_copy(b, MAXH, MAXH), HTTP_TOO_LARGE);
	free(b);
}

/* `n` "Hn: v" headers, with or without the final empty line. */
static size_t
request_with_headers(char *b, size_t size, int n, int end)
{
	/* HTTP/1.0, which needs no Host: all n headers are the test's. */
	size_t len = (size_t)snprintf(b, size, "GET / HTTP/1.0\r\n");
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, size - len, "H%d: v\r\n", i);
	if (end)
		len += (size_t)snprintf(b + len, size - len, "\r\n");
	return len;
}

static void
test_too_many_headers(void)
{
	struct http_request req;
	char b[2048];
	size_t n;

	n = request_with_headers(b, sizeof(b), HTTP_MAX_HEADERS, 1);
	CHECK_EQ(http_parse_request(b, n, MAXH, &req), (ssize_t)n);
	CHECK_EQ(req.nheaders, HTTP_MAX_HEADERS);
	CHECK_STR(req.headers[63].name, req.headers[63].name_len, "H63");
	n = request_with_headers(b, sizeof(b), HTTP_MAX_HEADERS + 1, 1);
	CHECK_EQ(http_parse_request(b, n, MAXH, &req), HTTP_TOO_LARGE);
	CHECK_STR(req.error, strlen(req.error), "too many headers");
	/* Known as soon as the 65th line starts. */
	n = request_with_headers(b, sizeof(b), HTTP_MAX_HEADERS, 0);
	CHECK_EQ(parse_copy(b, n, MAXH), HTTP_INCOMPLETE);
	b[n] = 'X';
	CHECK_EQ(parse_copy(b, n + 1, MAXH), HTTP_TOO_LARGE);
}

/* --- chunked bodies ------------------------------------------------- */

struct feed {
	ssize_t	 rc;		/* last return of the decoder */
	char	 body[16384];
	size_t	 body_len;
	char	 rest[256];
	size_t	 rest_len;
};

/*
 * Feeds raw[0..n) to a fresh decoder in the pieces ending at ends[], each
 * copied into a buffer of its exact size, and collects the decoded body
 * and the bytes that followed it.
 */
static void
feed_pieces(const char *raw, size_t n, const size_t *ends, size_t nends,
    struct feed *f)
{
	struct http_chunked ch;
	size_t i, start = 0, len;

	http_chunked_init(&ch);
	f->rc = HTTP_INCOMPLETE;
	f->body_len = f->rest_len = 0;
	for (i = 0; i < nends && f->rc == HTTP_INCOMPLETE; i++) {
		char *b = malloc(ends[i] - start + 1);

		len = ends[i] - start;
		memcpy(b, raw + start, len);
		f->rc = http_chunked_decode(&ch, b, &len);
		if (f->rc != HTTP_BAD) {
			CHECK(len <= ends[i] - start);
			memcpy(f->body + f->body_len, b, len);
			f->body_len += len;
		}
		if (f->rc >= 0) {
			memcpy(f->rest, b + len, (size_t)f->rc);
			memcpy(f->rest + f->rc, raw + ends[i], n - ends[i]);
			f->rest_len = (size_t)f->rc + n - ends[i];
		}
		start = ends[i];
		free(b);
	}
}

static void
feed_split(const char *raw, size_t n, size_t split, struct feed *f)
{
	size_t ends[2] = { split, n };

	feed_pieces(raw, n, ends, 2, f);
}

static void
feed_bytes(const char *raw, size_t n, struct feed *f)
{
	size_t *ends = malloc((n + 1) * sizeof(*ends)), i;

	for (i = 0; i < n; i++)
		ends[i] = i + 1;
	feed_pieces(raw, n, ends, n, f);
	free(ends);
}

struct chunked_case {
	const char	*raw;
	size_t		 len;
	const char	*body;
	size_t		 body_len;
	const char	*rest;
};

#define CHUNKED(raw, body, rest)	{ S(raw), S(body), rest }

static const struct chunked_case chunked_goods[] = {
	CHUNKED("5\r\nhello\r\n0\r\n\r\n", "hello", ""),
	CHUNKED("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", ""),
	CHUNKED("A\r\n0123456789\r\nb\r\nabcdefghijk\r\n1F\r\n"
	    "0123456789012345678901234567890\r\n0\r\n\r\n",
	    "0123456789abcdefghijk0123456789012345678901234567890", ""),
	CHUNKED("5;name=value\r\nhello\r\n1;a;b=\"c d\"\t\r\n!\r\n0;last\r\n\r\n",
	    "hello!", ""),
	CHUNKED("3\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: two words\r\n\r\n",
	    "abc", ""),
	CHUNKED("3\nabc\n0\n\n", "abc", ""),
	CHUNKED("3\r\nabc\n0\nT: v\r\n\n", "abc", ""),
	CHUNKED("3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", "abc",
	    "GET / HTTP/1.1\r\n\r\n"),
	CHUNKED("1\r\nx\r\n0\r\nT: v\n\nNEXT", "x", "NEXT"),
	CHUNKED("0\r\n\r\n", "", ""),
	/* RFC 9112 7.1.1: whitespace before an extension's ';'. */
	CHUNKED("2 ;a=b\r\n[]\r\n0\t \t;z\r\n\r\n", "[]", ""),
	CHUNKED("0\r\n\r\n\r\n", "", "\r\n"),
	CHUNKED("0005\r\nhello\r\n000\r\n\r\n", "hello", ""),
	CHUNKED("4\r\n\r\n\r\n\r\n2\r\n0\n\r\n0\r\n\r\n", "\r\n\r\n0\n", ""),
	CHUNKED("3\r\na\0b\r\n0\r\n\r\nz", "a\0b", "z"),
};

static void
check_feed(const struct chunked_case *c, const struct feed *f, size_t at)
{
	if (f->rc < 0 || f->body_len != c->body_len ||
	    memcmp(f->body, c->body, c->body_len) != 0 ||
	    f->rest_len != strlen(c->rest) ||
	    memcmp(f->rest, c->rest, f->rest_len) != 0) {
		printf("#   \"%s\" fed at %zu: rc %zd body \"%.*s\" rest \"%.*s\"\n",
		    c->raw, at, f->rc, (int)f->body_len, f->body,
		    (int)f->rest_len, f->rest);
		CHECK(0);
	}
}

static void
test_chunked_good(void)
{
	static struct feed f;
	size_t i, at;

	for (i = 0; i < sizeof(chunked_goods) / sizeof(chunked_goods[0]); i++) {
		const struct chunked_case *c = &chunked_goods[i];

		for (at = 0; at <= c->len; at++) {
			feed_split(c->raw, c->len, at, &f);
			check_feed(c, &f, at);
		}
		feed_bytes(c->raw, c->len, &f);
		check_feed(c, &f, (size_t)-1);
	}
}

static void
test_chunked_incomplete(void)
{
	static const char raw[] = "5;x\r\nhello\r\n0\r\nT: v\r\n\r\n";
	struct http_chunked ch;
	char b[sizeof(raw)];
	size_t n, len;

	/* Every proper prefix in one call: incomplete, the data so far out. */
	for (n = 0; n < sizeof(raw) - 1; n++) {
		http_chunked_init(&ch);
		memcpy(b, raw, n);
		len = n;
		CHECK_EQ(http_chunked_decode(&ch, b, &len), HTTP_INCOMPLETE);
		CHECK_EQ(len, n < 5 ? 0 : n - 5 > 5 ? 5 : n - 5);
	}
	/* Once done, every further byte is left over. */
	http_chunked_init(&ch);
	len = sizeof(raw) - 1;
	memcpy(b, raw, len);
	CHECK_EQ(http_chunked_decode(&ch, b, &len), 0);
	len = 2;
	memcpy(b, "ab", 2);
	CHECK_EQ(http_chunked_decode(&ch, b, &len), 2);
	CHECK_EQ(len, 0);
	CHECK(memcmp(b, "ab", 2) == 0);
}

/* Many chunks of every size up to 300, and a 4096-byte size line. */
static void
test_chunked_large(void)
{
	static char raw[65536], want[65536];
	static struct feed f;
	size_t n = 0, w = 0, i, k;
	struct chunked_case c;

	for (k = 1; k <= 300 && w < 16000; k += 7) {
		n += (size_t)sprintf(raw + n, "%zx\r\n", k);
		for (i = 0; i < k; i++)
			raw[n++] = want[w++] = (char)('a' + (k + i) % 26);
		n += (size_t)sprintf(raw + n, "\r\n");
	}
	n += (size_t)sprintf(raw + n, "0;");
	memset(raw + n, 'e', 4094);
	n += 4094;
	n += (size_t)sprintf(raw + n, "\r\nT: ");
	memset(raw + n, 't', 4093);
	n += 4093;
	n += (size_t)sprintf(raw + n, "\r\n\r\nrest");
	c = (struct chunked_case){ raw, n, want, w, "rest" };
	feed_bytes(raw, n, &f);
	check_feed(&c, &f, (size_t)-1);
	for (i = 0; i <= n; i += 97) {
		feed_split(raw, n, i, &f);
		check_feed(&c, &f, i);
	}
}

static const struct chunked_case chunked_bads[] = {
	CHUNKED("x\r\n", "", ""),
	CHUNKED("\r\n", "", ""),
	CHUNKED("\n", "", ""),
	CHUNKED(";ext\r\n", "", ""),
	CHUNKED(" 5\r\n", "", ""),
	CHUNKED("5 \r\n", "", ""),
	CHUNKED("5 5\r\n", "", ""),
	CHUNKED("5 x\r\n", "", ""),
	CHUNKED("-5\r\n", "", ""),
	CHUNKED("+5\r\n", "", ""),
	CHUNKED("0x5\r\n", "", ""),
	CHUNKED("5\r\r\n", "", ""),
	CHUNKED("5;a\x01\r\n", "", ""),
	CHUNKED("5;a\rb", "", ""),
	CHUNKED("5\r\nhelloX\r\n0\r\n\r\n", "", ""),
	CHUNKED("5\r\nhello\rX", "", ""),
	CHUNKED("5\r\nhello\r\r", "", ""),
	CHUNKED("5\r\nhello\r\n\r\n", "", ""),
	CHUNKED("4000000000000001\r\n", "", ""),
	CHUNKED("10000000000000000\r\n", "", ""),
	CHUNKED("ffffffffffffffffffff\r\n", "", ""),
	CHUNKED("0\r\nX: a\x01" "b\r\n\r\n", "", ""),
	CHUNKED("0\r\nX: a\0b\r\n\r\n", "", ""),
	CHUNKED("0\r\nX: a\rb", "", ""),
	CHUNKED("0\r\n\rX", "", ""),
};

static void
check_bad_feed(const struct chunked_case *c, const struct feed *f, size_t at)
{
	if (f->rc != HTTP_BAD) {
		printf("#   bad \"%s\" fed at %zu: rc %zd\n", c->raw, at, f->rc);
		CHECK_EQ(f->rc, HTTP_BAD);
	}
}

static void
check_chunked_bad(const struct chunked_case *c)
{
	static struct feed f;
	size_t at;

	for (at = 0; at <= c->len; at++) {
		feed_split(c->raw, c->len, at, &f);
		check_bad_feed(c, &f, at);
	}
	feed_bytes(c->raw, c->len, &f);
	check_bad_feed(c, &f, (size_t)-1);
}

static void
test_chunked_bad(void)
{
	static char raw[16384];
	struct chunked_case c;
	struct http_chunked ch;
	size_t i, n, len;

	for (i = 0; i < sizeof(chunked_bads) / sizeof(chunked_bads[0]); i++)
		check_chunked_bad(&chunked_bads[i]);
	/* A size line of 4097 bytes. */
	n = (size_t)sprintf(raw, "1;");
	memset(raw + n, 'e', 4095);
	n += 4095;
	n += (size_t)sprintf(raw + n, "\r\nx\r\n0\r\n\r\n");
	c = (struct chunked_case){ raw, n, "", 0, "" };
	check_chunked_bad(&c);
	/* A trailer line of 4097 bytes. */
	n = (size_t)sprintf(raw, "0\r\nT: ");
	memset(raw + n, 't', 4094);
	n += 4094;
	n += (size_t)sprintf(raw + n, "\r\n\r\n");
	c = (struct chunked_case){ raw, n, "", 0, "" };
	check_chunked_bad(&c);
	/* Three 3000-byte trailer lines: 9000 bytes in all. */
	n = (size_t)sprintf(raw, "0\r\n");
	for (i = 0; i < 3; i++) {
		n += (size_t)sprintf(raw + n, "T: ");
		memset(raw + n, 't', 2995);
		n += 2995;
		n += (size_t)sprintf(raw + n, "\r\n");
	}
	n += (size_t)sprintf(raw + n, "\r\n");
	c = (struct chunked_case){ raw, n, "", 0, "" };
	check_chunked_bad(&c);
	/* 2^62 itself is allowed, one more is not (above). */
	http_chunked_init(&ch);
	len = (size_t)sprintf(raw, "4000000000000000\r\nabc");
	CHECK_EQ(http_chunked_decode(&ch, raw, &len), HTTP_INCOMPLETE);
	CHECK_EQ(len, 3);
}

/* --- query strings, reasons ------------------------------------------ */

struct qcase {
	const char	*query;
	const char	*name;
	size_t		 outsz;
	int		 rc;
	const char	*want;
	size_t		 want_len;
};

#define Q(query, name, outsz, rc, want)	{ query, name, outsz, rc, S(want) }

static const struct qcase qcases[] = {
	Q("a=1&b=2", "b", 64, 1, "2"),
	Q("a=1&b=2", "a", 64, 1, "1"),
	Q("name=hello%20world%21", "name", 64, 1, "hello world!"),
	Q("q=a+b%2Bc%2b", "q", 64, 1, "a b+c+"),
	Q("q=%e2%82%AC", "q", 64, 1, "\xe2\x82\xac"),
	Q("q=x%00y", "q", 64, 1, "x\0y"),
	Q("a=b=c", "a", 64, 1, "b=c"),
	Q("a=1", "b", 64, 0, ""),
	Q("ab=1&a=2", "a", 64, 1, "2"),
	Q("aa=1", "a", 64, 0, ""),
	Q("a=1", "aa", 64, 0, ""),
	Q("x&flag&y=1", "flag", 64, 1, ""),
	Q("flag", "flag", 64, 1, ""),
	Q("a=&b=1", "a", 64, 1, ""),
	Q("&&a=1&", "a", 64, 1, "1"),
	Q("", "a", 64, 0, ""),
	Q("a%3D=1&a=2", "a", 64, 1, "2"),
	Q("a=%", "a", 64, -1, ""),
	Q("a=%4", "a", 64, -1, ""),
	Q("a=x%4&b=1", "a", 64, -1, ""),
	Q("a=%zz", "a", 64, -1, ""),
	Q("a=%4g", "a", 64, -1, ""),
	Q("a=%g4", "a", 64, -1, ""),
	Q("b=%zz&a=1", "a", 64, 1, "1"),
	Q("a=1&a=2", "a", 64, 1, "1"),
	Q("a=%zz&a=1", "a", 64, -1, ""),
	Q("a=abcd", "a", 5, 1, "abcd"),
	Q("a=abcd", "a", 4, -1, ""),
	Q("a=%41%42%43", "a", 4, 1, "ABC"),
	Q("a=%41%42%43%44", "a", 4, -1, ""),
	Q("a=", "a", 1, 1, ""),
	Q("a=", "a", 0, -1, ""),
};

static void
test_query_param(void)
{
	char out[64];
	size_t i, outlen;
	int rc;

	for (i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const struct qcase *q = &qcases[i];

		outlen = 999;
		memset(out, 'Z', sizeof(out));
		rc = http_query_param(q->query, strlen(q->query), q->name, out,
		    q->outsz, &outlen);
		if (rc != q->rc)
			printf("#   query \"%s\" name \"%s\"\n", q->query,
			    q->name);
		CHECK_EQ(rc, q->rc);
		if (rc == 1) {
			CHECK_EQ(outlen, q->want_len);
			CHECK(memcmp(out, q->want, q->want_len) == 0);
			CHECK(out[q->want_len] == '\0');
		}
	}
}

static void
test_reason(void)
{
	static const int codes[] = { 100, 200, 301, 302, 303, 307, 308, 400,
	    401, 403, 404, 405, 408, 411, 413, 422, 429, 431, 500, 501, 503,
	    505, 507 };
	size_t i;

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		CHECK(strcmp(http_reason(codes[i]), "Unknown") != 0);
	CHECK(strcmp(http_reason(404), "Not Found") == 0);
	CHECK(strcmp(http_reason(302), "Found") == 0);
	CHECK(strcmp(http_reason(431), "Request Header Fields Too Large") == 0);
	CHECK(strcmp(http_reason(505), "HTTP Version Not Supported") == 0);
	CHECK(strcmp(http_reason(299), "Unknown") == 0);
	CHECK(strcmp(http_reason(-1), "Unknown") == 0);
}

int
main(void)
{
	T_RUN(test_good_requests);
	T_RUN(test_header_values);
	T_RUN(test_bad_requests);
	T_RUN(test_pipelined);
	T_RUN(test_too_large);
	T_RUN(test_too_many_headers);
	T_RUN(test_chunked_good);
	T_RUN(test_chunked_incomplete);
	T_RUN(test_chunked_large);
	T_RUN(test_chunked_bad);
	T_RUN(test_query_param);
	T_RUN(test_reason);
	return t_done();
}
