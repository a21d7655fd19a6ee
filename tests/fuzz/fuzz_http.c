/*
 * fuzz_http.c - http_parse_request over arbitrary bytes, with a small and
 * a large header limit, then http_query_param on whatever query it found.
 *
 * Invariants: a success consumes at most len and at most the limit bytes,
 * every pointer of the result lies inside the input, the query is the
 * part of the target after its first '?'; a failure names itself in
 * req.error; a strict prefix of a good header block is HTTP_INCOMPLETE
 * (the daemon re-parses as bytes arrive, so it must never see BAD there).
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

static int
inside(const uint8_t *buf, size_t len, const char *p, size_t n)
{
	return p != NULL && (const uint8_t *)p >= buf &&
	    n <= len && (size_t)((const uint8_t *)p - buf) <= len - n;
}

static void
check_query(const struct http_request *req)
{
	static const char *const names[] = { "topic", "after", "limit", "wait" };
	char out[256];
	size_t i, outlen;
	int rc;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		outlen = (size_t)-1;
		rc = http_query_param(req->query, req->query_len, names[i], out,
		    sizeof(out), &outlen);
		FUZZ_CHECK(rc >= -1 && rc <= 1);
		if (rc == 1) {
			FUZZ_CHECK(outlen < sizeof(out));
			FUZZ_CHECK(out[outlen] == '\0');
			FUZZ_CHECK(outlen <= req->query_len);
		}
	}
}

static ssize_t
parse(const uint8_t *buf, size_t len, size_t max)
{
	struct http_request req;
	ssize_t r;
	size_t i;

	r = http_parse_request((const char *)buf, len, max, &req);
	if (r < 0) {
		FUZZ_CHECK(r == HTTP_INCOMPLETE || r == HTTP_BAD ||
		    r == HTTP_TOO_LARGE || r == HTTP_UNSUPPORTED ||
		    r == HTTP_BAD_VERSION);
		FUZZ_CHECK(req.error != NULL);
		if (len >= max)
			FUZZ_CHECK(r != HTTP_INCOMPLETE);
		return r;
	}
	FUZZ_CHECK(r > 0 && (size_t)r <= len && (size_t)r <= max);
	FUZZ_CHECK(inside(buf, (size_t)r, req.method, req.method_len));
	FUZZ_CHECK(req.method_len > 0);
	FUZZ_CHECK(inside(buf, (size_t)r, req.target, req.target_len));
	FUZZ_CHECK(req.path == req.target && req.path_len <= req.target_len);
	if (req.query) {
		FUZZ_CHECK(req.query == req.path + req.path_len + 1);
		FUZZ_CHECK(req.path_len + 1 + req.query_len == req.target_len);
		FUZZ_CHECK(memchr(req.path, '?', req.path_len) == NULL);
	} else {
		FUZZ_CHECK(req.path_len == req.target_len);
	}
	FUZZ_CHECK(req.minor_version == 0 || req.minor_version == 1);
	FUZZ_CHECK(req.nheaders <= HTTP_MAX_HEADERS);
	for (i = 0; i < req.nheaders; i++) {
		FUZZ_CHECK(inside(buf, (size_t)r, req.headers[i].name,
		    req.headers[i].name_len));
		FUZZ_CHECK(req.headers[i].name_len > 0);
		FUZZ_CHECK(req.headers[i].value_len == 0 ||
		    inside(buf, (size_t)r, req.headers[i].value,
		    req.headers[i].value_len));
	}
	FUZZ_CHECK(req.content_length >= -1);
	FUZZ_CHECK(!(req.chunked && req.content_length >= 0));
	(void)http_header_find(&req, "Content-Type");
	(void)http_header_find(&req, "authorization");
	check_query(&req);
	return r;
}

/* A strict prefix of a good header block must ask for more bytes. */
static void
check_prefix(const uint8_t *data, size_t n, size_t max)
{
	struct http_request req;
	uint8_t *copy = malloc(n ? n : 1);
	ssize_t r;

	FUZZ_CHECK(copy != NULL);
	if (n)
		memcpy(copy, data, n);
	r = http_parse_request((const char *)copy, n, max, &req);
	if (r != HTTP_INCOMPLETE)
		fprintf(stderr, "prefix of %zu bytes: %zd (%s)\n", n, r,
		    req.error ? req.error : "no error");
	FUZZ_CHECK(r == HTTP_INCOMPLETE);
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ssize_t r;

	(void)parse(data, size, 64);
	if ((r = parse(data, size, 8192)) > 0) {
		check_prefix(data, (size_t)r - 1, 8192);
		check_prefix(data, (size_t)r / 2, 8192);
		check_prefix(data, size ? data[0] % (size_t)r : 0, 8192);
	}
	return 0;
}
