/*
 * http.c - HTTP/1.x request parsing over bytes the caller owns.
 *
 * Nothing here does I/O, allocates or keeps state between calls: the
 * request parser starts from byte 0 every time and the chunked decoder
 * keeps its state in the caller's struct http_chunked.  Re-parsing from the
 * start on every read stays cheap because the parser never looks past
 * max_header_bytes, so a slow client costs at most that much per read.
 *
 * The request parser checks each byte as it meets it, so a syntax error is
 * reported as soon as its bytes have arrived, even before the header block
 * is complete; running out of bytes anywhere is HTTP_INCOMPLETE.  Lines may
 * end in CRLF or a bare LF; a CR must be followed by LF.
 */
#include <string.h>

#include "http.h"

/* Chunk sizes above this are refused, so that sums never overflow. */
#define CHUNK_SIZE_MAX		((uint64_t)1 << 62)
#define CHUNK_LINE_MAX		4096	/* size line or one trailer line */
#define CHUNK_TRAILER_MAX	8192	/* the whole trailer section */

/* Where the request parser is in buf[0..end); end is capped at the limit. */
struct cursor {
	const char	*buf;
	size_t		 pos;
	size_t		 end;
};

enum chunk_state {
	CH_SIZE,	/* first hex digit of a chunk-size line */
	CH_SIZE_HEX,	/* more hex digits, ';', or the line end */
	CH_SIZE_WS,	/* spaces after the size: more, then ';' */
	CH_EXT,		/* chunk extension, skipped up to the line end */
	CH_SIZE_LF,	/* CR seen at the end of the size line */
	CH_DATA,	/* `remaining` data bytes */
	CH_DATA_CR,	/* line end after the data */
	CH_DATA_LF,	/* CR seen after the data */
	CH_TRAILER,	/* start of a trailer line or of the final empty line */
	CH_TRAILER_LINE, /* inside a trailer line */
	CH_TRAILER_LF,	/* CR seen at the end of a trailer line */
	CH_END_LF,	/* CR seen on the final empty line */
	CH_DONE
};

static int
fail(struct http_request *req, int code, const char *why)
{
	req->error = why;
	return code;
}

/* RFC 9110 tchar, spelled out so that the locale cannot change it. */
static int
is_tchar(unsigned char ch)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9'))
		return 1;
	return ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Visible ASCII only: no spaces, controls, DEL or raw 8-bit bytes. */
static int
is_target_char(unsigned char ch)
{
	return ch > 0x20 && ch < 0x7f;
}

/* Controls other than HT, which no header value or line may hold. */
static int
is_ctl(unsigned char b)
{
	return (b < 0x20 && b != '\t') || b == 0x7f;
}

static int
hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int
ascii_lower(int ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int
ascii_case_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i;

	if (alen != blen)
		return 0;
	for (i = 0; i < alen; i++)
		if (ascii_lower((unsigned char)a[i]) !=
		    ascii_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/*
 * Consumes a line end at the cursor: returns 1 when one was there, 0 when
 * the cursor is on something else, HTTP_INCOMPLETE for a CR at the end of
 * the bytes, HTTP_BAD for a CR without LF.
 */
static int
eat_eol(struct cursor *c, struct http_request *req)
{
	if (c->pos == c->end)
		return HTTP_INCOMPLETE;
	if (c->buf[c->pos] == '\n') {
		c->pos++;
		return 1;
	}
	if (c->buf[c->pos] != '\r')
		return 0;
	if (c->pos + 1 == c->end)
		return HTTP_INCOMPLETE;
	if (c->buf[c->pos + 1] != '\n')
		return fail(req, HTTP_BAD, "bare cr in header block");
	c->pos += 2;
	return 1;
}

/* Scans bytes accepted by `ok` and requires `stop` right after them. */
static int
scan_until(struct cursor *c, int (*ok)(unsigned char), char stop)
{
	size_t start = c->pos;

	while (c->pos < c->end && ok((unsigned char)c->buf[c->pos]))
		c->pos++;
	if (c->pos == c->end)
		return HTTP_INCOMPLETE;
	if (c->pos == start || c->buf[c->pos] != stop)
		return HTTP_BAD;
	return 0;
}

/* "HTTP/d.d" then the line end; the version number is judged last. */
static int
parse_version(struct cursor *c, struct http_request *req)
{
	static const char pat[] = "HTTP/d.d";
	const char *v = c->buf + c->pos;
	size_t i;
	int r;

	for (i = 0; i < sizeof(pat) - 1; i++) {
		if (c->pos + i == c->end)
			return HTTP_INCOMPLETE;
		if (pat[i] == 'd' ? v[i] < '0' || v[i] > '9' : v[i] != pat[i])
			return fail(req, HTTP_BAD, "malformed request line");
	}
	c->pos += i;
	if ((r = eat_eol(c, req)) == 0)
		return fail(req, HTTP_BAD, "malformed request line");
	if (r < 0)
		return r;
	if (v[5] != '1' || v[7] > '1')
		return fail(req, HTTP_BAD_VERSION, "unsupported HTTP version");
	req->minor_version = v[7] - '0';
	return 0;
}

/*
 * Where the path starts: 0 in origin-form, after the authority in the
 * absolute form (RFC 9112 3.2.2: "http://host:port/path?query", which a
 * server must take); -1 for any other target.
 */
static ssize_t
path_offset(const struct http_request *req)
{
	const char *t = req->target;
	size_t n = req->target_len, i, start;

	if (*t == '/' || (*t == '*' && n == 1))
		return 0;
	if (n > 7 && ascii_case_equal(t, 7, "http://", 7))
		i = 7;
	else if (n > 8 && ascii_case_equal(t, 8, "https://", 8))
		i = 8;
	else
		return -1;
	for (start = i; i < n && t[i] != '/' && t[i] != '?'; i++)
		;
	return i > start ? (ssize_t)i : -1;
}

/* Splits the target into path and query at the first '?' after it. */
static int
split_target(struct http_request *req)
{
	ssize_t off = path_offset(req);
	const char *q;
	size_t rest;

	if (off < 0)
		return -1;
	req->path = req->target + off;
	rest = req->target_len - (size_t)off;
	q = memchr(req->path, '?', rest);
	req->path_len = q ? (size_t)(q - req->path) : rest;
	if (q) {
		req->query = q + 1;
		req->query_len = rest - req->path_len - 1;
	}
	return 0;
}

static int
parse_request_line(struct cursor *c, struct http_request *req)
{
	int r;

	/* RFC 9112 2.2: ignore empty lines some clients send after a body. */
	while ((r = eat_eol(c, req)) == 1)
		;
	if (r < 0)
		return r;
	req->method = c->buf + c->pos;
	if ((r = scan_until(c, is_tchar, ' ')) < 0)
		return r == HTTP_BAD ? fail(req, r, "malformed request line") : r;
	req->method_len = (size_t)(c->buf + c->pos - req->method);
	req->target = c->buf + ++c->pos;
	/* Origin-form, absolute-form or "*": refuse anything else on its
	   first byte when it can be told there. */
	if (c->pos < c->end && *req->target != '/' && *req->target != '*' &&
	    ascii_lower((unsigned char)*req->target) != 'h')
		return fail(req, HTTP_BAD, "invalid request target");
	if ((r = scan_until(c, is_target_char, ' ')) < 0)
		return r == HTTP_BAD ? fail(req, r, "invalid request target") : r;
	req->target_len = (size_t)(c->buf + c->pos - req->target);
	if (split_target(req) == -1)
		return fail(req, HTTP_BAD, "invalid request target");
	c->pos++;
	return parse_version(c, req);
}

/* One "name: value" line; the caller has checked it is not empty. */
static int
parse_header(struct cursor *c, struct http_request *req)
{
	struct http_header *h = &req->headers[req->nheaders];
	const char *p = c->buf;
	size_t vend;
	int r;

	/* A line starting with whitespace is obs-fold: a smuggling vector. */
	if (p[c->pos] == ' ' || p[c->pos] == '\t')
		return fail(req, HTTP_BAD, "obsolete line folding");
	h->name = p + c->pos;
	if ((r = scan_until(c, is_tchar, ':')) < 0)
		return r == HTTP_BAD ? fail(req, r, "malformed header name") : r;
	h->name_len = (size_t)(p + c->pos - h->name);
	c->pos++;
	while (c->pos < c->end && (p[c->pos] == ' ' || p[c->pos] == '\t'))
		c->pos++;
	h->value = p + c->pos;
	for (; c->pos < c->end && p[c->pos] != '\r' && p[c->pos] != '\n';
	    c->pos++) {
		unsigned char ch = (unsigned char)p[c->pos];

		if (is_ctl(ch))
			return fail(req, HTTP_BAD, "invalid header value");
	}
	vend = c->pos;
	while (vend > (size_t)(h->value - p) &&
	    (p[vend - 1] == ' ' || p[vend - 1] == '\t'))
		vend--;
	h->value_len = vend - (size_t)(h->value - p);
	if ((r = eat_eol(c, req)) < 0)
		return r;
	req->nheaders++;
	return 0;
}

static int
parse_headers(struct cursor *c, struct http_request *req)
{
	int r;

	for (;;) {
		if ((r = eat_eol(c, req)) != 0)
			return r < 0 ? r : 0;	/* 1: the empty line */
		if (req->nheaders == HTTP_MAX_HEADERS)
			return fail(req, HTTP_TOO_LARGE, "too many headers");
		if ((r = parse_header(c, req)) < 0)
			return r;
	}
}

/* Decimal digits only: a sign, spaces or a list would hide a second length. */
static int
parse_length(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (INT64_MAX - (s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

#define HEADER_IS(h, lit) \
	ascii_case_equal((h)->name, (h)->name_len, lit, sizeof(lit) - 1)
#define VALUE_IS(h, lit) \
	ascii_case_equal((h)->value, (h)->value_len, lit, sizeof(lit) - 1)

/* Body framing.  Ambiguous framing is refused outright (RFC 9112 6.3). */
static int
digest_framing(struct http_request *req)
{
	size_t i, nte = 0;
	int64_t v;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (HEADER_IS(h, "transfer-encoding")) {
			nte++;
			req->chunked = VALUE_IS(h, "chunked");
		} else if (HEADER_IS(h, "content-length")) {
			if (parse_length(h->value, h->value_len, &v) < 0 ||
			    (req->content_length >= 0 && req->content_length != v))
				return fail(req, HTTP_BAD,
				    "invalid Content-Length");
			req->content_length = v;
		}
	}
	if (nte == 0)
		return 0;
	if (req->content_length >= 0)
		return fail(req, HTTP_BAD,
		    "both Content-Length and Transfer-Encoding");
	/* RFC 9112 6.1: an HTTP/1.0 message with it has faulty framing. */
	if (req->minor_version == 0)
		return fail(req, HTTP_BAD, "Transfer-Encoding in HTTP/1.0");
	/* Two headers mean two codings, even if both say "chunked". */
	if (nte > 1 || !req->chunked)
		return fail(req, HTTP_UNSUPPORTED,
		    "unsupported Transfer-Encoding");
	return 0;
}

/* Looks for `tok` in a comma-separated list, case-insensitively. */
static int
list_has(const char *s, size_t n, const char *tok)
{
	size_t i = 0, start, end;

	while (i < n) {
		while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
			i++;
		start = i;
		while (i < n && s[i] != ',')
			i++;
		end = i;
		while (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t'))
			end--;
		if (end > start &&
		    ascii_case_equal(s + start, end - start, tok, strlen(tok)))
			return 1;
	}
	return 0;
}

static void
digest_connection(struct http_request *req)
{
	int has_close = 0, has_keep = 0;
	size_t i;

	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		if (HEADER_IS(h, "connection")) {
			has_close |= list_has(h->value, h->value_len, "close");
			has_keep |= list_has(h->value, h->value_len,
			    "keep-alive");
		} else if (HEADER_IS(h, "expect") && req->minor_version >= 1) {
			/* RFC 9110 10.1.1: ignore it in an HTTP/1.0 request. */
			req->expect_continue |= VALUE_IS(h, "100-continue");
		}
	}
	if (req->minor_version >= 1)
		req->keep_alive = !has_close;
	else
		req->keep_alive = has_keep && !has_close;
}

/* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one in 1.0. */
static int
digest_host(struct http_request *req)
{
	size_t i, n = 0;

	for (i = 0; i < req->nheaders; i++)
		n += HEADER_IS(&req->headers[i], "host");
	if (n > 1)
		return fail(req, HTTP_BAD, "more than one Host header");
	if (n == 0 && req->minor_version >= 1)
		return fail(req, HTTP_BAD, "no Host header");
	return 0;
}

static void
reset_request(struct http_request *req)
{
	req->method = req->target = req->path = req->query = NULL;
	req->method_len = req->target_len = req->path_len = 0;
	req->query_len = 0;
	req->minor_version = -1;
	req->nheaders = 0;
	req->content_length = -1;
	req->chunked = req->keep_alive = req->expect_continue = 0;
	req->error = NULL;
}

ssize_t
http_parse_request(const char *buf, size_t len, size_t max_header_bytes,
    struct http_request *req)
{
	struct cursor c = { buf, 0, len < max_header_bytes ? len :
	    max_header_bytes };
	int r;

	reset_request(req);
	if ((r = parse_request_line(&c, req)) == 0)
		r = parse_headers(&c, req);
	if (r == HTTP_INCOMPLETE) {
		/* Out of bytes: because of the cap, or for now. */
		if (len >= max_header_bytes)
			return fail(req, HTTP_TOO_LARGE,
			    "header block too large");
		return fail(req, HTTP_INCOMPLETE, "incomplete header block");
	}
	if (r < 0)
		return r;
	if ((r = digest_framing(req)) < 0 || (r = digest_host(req)) < 0)
		return r;
	digest_connection(req);
	return (ssize_t)c.pos;
}

/* p moved with its buffer; NULL stays NULL.  As integers: from may be
   memory given back already. */
static const char *
moved(const char *p, const char *from, const char *to)
{
	return p ? to + ((uintptr_t)p - (uintptr_t)from) : NULL;
}

void
http_request_rebase(struct http_request *req, const char *from, const char *to)
{
	size_t i;

	req->method = moved(req->method, from, to);
	req->target = moved(req->target, from, to);
	req->path = moved(req->path, from, to);
	req->query = moved(req->query, from, to);
	for (i = 0; i < req->nheaders; i++) {
		req->headers[i].name = moved(req->headers[i].name, from, to);
		req->headers[i].value = moved(req->headers[i].value, from, to);
	}
}

const struct http_header *
http_header_find(const struct http_request *req, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < req->nheaders; i++)
		if (ascii_case_equal(req->headers[i].name,
		    req->headers[i].name_len, name, n))
			return &req->headers[i];
	return NULL;
}

void
http_chunked_init(struct http_chunked *ch)
{
	memset(ch, 0, sizeof(*ch));
	ch->state = CH_SIZE;
}

/* CR or LF on the size line: CR LF and a bare LF both end it. */
static int
chunk_size_eol(struct http_chunked *ch, unsigned char b)
{
	if (ch->state == CH_SIZE || ch->state == CH_SIZE_WS ||
	    (ch->state == CH_SIZE_LF && b == '\r'))
		return HTTP_BAD;
	if (b == '\r') {
		ch->state = CH_SIZE_LF;
		return 0;
	}
	ch->line_bytes = 0;
	ch->state = ch->remaining ? CH_DATA : CH_TRAILER;
	return 0;
}

/* One byte of the chunk-size line: hex digits, then an optional ";ext". */
static int
chunk_size_step(struct http_chunked *ch, unsigned char b)
{
	int d = hex_value(b);

	if (b == '\r' || b == '\n')
		return chunk_size_eol(ch, b);
	if (ch->state == CH_SIZE_LF || ++ch->line_bytes > CHUNK_LINE_MAX)
		return HTTP_BAD;
	if (ch->state == CH_EXT)
		return is_ctl(b) ? HTTP_BAD : 0;
	/* RFC 9112 7.1.1: optional whitespace before an extension's ';'. */
	if ((b == ' ' || b == '\t') &&
	    (ch->state == CH_SIZE_HEX || ch->state == CH_SIZE_WS)) {
		ch->state = CH_SIZE_WS;
		return 0;
	}
	if (d >= 0 && ch->state != CH_SIZE_WS) {
		/* Checked before it grows, so remaining never exceeds 2^62. */
		if (ch->remaining > (CHUNK_SIZE_MAX - (uint64_t)d) / 16)
			return HTTP_BAD;
		ch->remaining = ch->remaining * 16 + (uint64_t)d;
		ch->state = CH_SIZE_HEX;
		return 0;
	}
	if ((ch->state == CH_SIZE_HEX || ch->state == CH_SIZE_WS) && b == ';') {
		ch->state = CH_EXT;
		return 0;
	}
	return HTTP_BAD;
}

/* One byte of the trailer section, which is size-checked and dropped. */
static int
chunk_trailer_step(struct http_chunked *ch, unsigned char b)
{
	int empty = ch->state == CH_TRAILER;

	if (++ch->trailer_bytes > CHUNK_TRAILER_MAX)
		return HTTP_BAD;
	if (ch->state == CH_TRAILER_LF || ch->state == CH_END_LF) {
		if (b != '\n')
			return HTTP_BAD;
		ch->state = ch->state == CH_END_LF ? CH_DONE : CH_TRAILER;
		return 0;
	}
	if (b == '\r') {
		ch->state = empty ? CH_END_LF : CH_TRAILER_LF;
		return 0;
	}
	if (b == '\n') {
		ch->state = empty ? CH_DONE : CH_TRAILER;
		return 0;
	}
	if (empty)
		ch->line_bytes = 0;
	ch->state = CH_TRAILER_LINE;
	return ++ch->line_bytes > CHUNK_LINE_MAX || is_ctl(b) ? HTTP_BAD : 0;
}

static int
chunk_step(struct http_chunked *ch, unsigned char b)
{
	switch (ch->state) {
	case CH_DATA_CR:
		if (b == '\r' || b == '\n') {
			ch->state = b == '\r' ? CH_DATA_LF : CH_SIZE;
			return 0;
		}
		return HTTP_BAD;
	case CH_DATA_LF:
		ch->state = CH_SIZE;
		return b == '\n' ? 0 : HTTP_BAD;
	case CH_SIZE:
	case CH_SIZE_HEX:
	case CH_SIZE_WS:
	case CH_EXT:
	case CH_SIZE_LF:
		return chunk_size_step(ch, b);
	default:
		return chunk_trailer_step(ch, b);
	}
}

/*
 * Reads at r and writes at w <= r, so decoding in place never overwrites
 * a byte not yet read.  Data bytes move in runs; the rest goes byte by
 * byte through chunk_step, whose state survives between calls.
 */
ssize_t
http_chunked_decode(struct http_chunked *ch, char *buf, size_t *len)
{
	size_t r = 0, w = 0, n = *len, k;

	while (r < n && ch->state != CH_DONE) {
		if (ch->state != CH_DATA) {
			if (chunk_step(ch, (unsigned char)buf[r++]) < 0)
				return HTTP_BAD;
			continue;
		}
		k = n - r < ch->remaining ? n - r : (size_t)ch->remaining;
		memmove(buf + w, buf + r, k);
		r += k;
		w += k;
		if ((ch->remaining -= k) == 0)
			ch->state = CH_DATA_CR;
	}
	*len = w;
	if (ch->state != CH_DONE)
		return HTTP_INCOMPLETE;
	memmove(buf + w, buf + r, n - r);
	return (ssize_t)(n - r);
}

/* Percent-decodes s[0..n) into out; -1 on a bad escape or no room. */
static int
query_decode(const char *s, size_t n, char *out, size_t outsz,
    size_t *outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		char ch = s[i];

		if (ch == '+')
			ch = ' ';
		else if (ch == '%') {
			if (n - i < 3 ||
			    (hi = hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)s[i + 2])) < 0)
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = ch;
	}
	if (outsz == 0)
		return -1;
	out[o] = '\0';
	if (outlen)
		*outlen = o;
	return 0;
}

int
http_query_param(const char *query, size_t query_len, const char *name,
    char *out, size_t outsz, size_t *outlen)
{
	size_t nlen = strlen(name), i = 0, end;

	for (; i < query_len; i = end + 1) {
		const char *amp = memchr(query + i, '&', query_len - i);
		const char *eq, *v;

		end = amp ? (size_t)(amp - query) : query_len;
		if (end == i)
			continue;	/* "a=1&&b=2" */
		eq = memchr(query + i, '=', end - i);
		/* A pair without '=' is a name with an empty value. */
		v = eq ? eq + 1 : query + end;
		if ((eq ? (size_t)(eq - query) : end) - i != nlen ||
		    memcmp(query + i, name, nlen) != 0)
			continue;
		return query_decode(v, (size_t)(query + end - v), out, outsz,
		    outlen) < 0 ? -1 : 1;
	}
	return 0;
}

const char *
http_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	/* Never sent by aggd; the tools name what a wrong URL answered. */
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}
