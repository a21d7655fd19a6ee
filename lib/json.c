/*
 * json.c - a strict JSON reader without a tree, and the canonical writer.
 *
 * The reader is a cursor over bytes the caller owns; values inside a
 * container it does not walk itself are handled by a recursive descent
 * whose depth is checked before each container is entered, so no input
 * can take the stack past JSON_MAX_DEPTH frames.  Invariants: r->base <=
 * r->p <= r->end; r->depth is the number of containers open and never
 * exceeds JSON_MAX_DEPTH; once r->status is set it never changes and every
 * entry point returns it.  Output goes only into the caller's struct buf.
 *
 * Numbers are converted with strtod and printed with "%.*g": both follow
 * LC_NUMERIC, and the tools never call setlocale, so that is the "C"
 * locale with '.' as the decimal point.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* What str() does with a string: validate it, decode it, or re-escape it. */
enum str_mode { STR_SKIP, STR_RAW, STR_CANON };

/*
 * Bytes a string may hold as they are: printable ASCII other than '"' and
 * '\\' (DEL included: JSON does not escape it).  Others need a look.
 */
#define P0	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
#define P1	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const unsigned char plain[256] = {
	P0, P0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,		/* '"' */
	P1, P1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,		/* '\\' */
	P1, P1,
	P0, P0, P0, P0, P0, P0, P0, P0
};

static int	value(struct json_reader *, struct buf *);

static int
fail(struct json_reader *r, const char *at, const char *head,
    const char *what)
{
	if (r->status == 0) {
		r->status = JSON_ESYNTAX;
		snprintf(r->err, sizeof(r->err), "%s at byte %zu%s%s", head,
		    (size_t)(at - r->base), what ? ": " : "", what ? what : "");
	}
	return r->status;
}

static int
bad(struct json_reader *r, const char *at, const char *what)
{
	return fail(r, at, "invalid JSON", what);
}

int
json_refuse(struct json_reader *r, const char *why)
{
	return fail(r, r->p, "ambiguous JSON", why);
}

/* The error for a missing token: end of input is the likelier story. */
static int
expected(struct json_reader *r, const char *what)
{
	return bad(r, r->p, r->p == r->end ? "unexpected end of input" : what);
}

/*
 * Appends to out (nothing when out is NULL).  The copy is inline while
 * the buffer has room: a canonical copy appends a few bytes at a time.
 */
static inline int
put(struct json_reader *r, struct buf *out, const void *s, size_t n)
{
	if (out == NULL)
		return r->status;
	if (out->cap - out->len >= n && out->data != NULL) {
		memcpy(out->data + out->len, s, n);
		out->len += n;
	} else if (buf_append(out, s, n) == -1)
		r->status = JSON_ENOMEM;
	return r->status;
}

static inline int
putch(struct json_reader *r, struct buf *out, char c)
{
	if (out == NULL)
		return r->status;
	if (out->len < out->cap)
		out->data[out->len++] = c;
	else if (buf_putc(out, c) == -1)
		r->status = JSON_ENOMEM;
	return r->status;
}

static void
ws(struct json_reader *r)
{
	const char *p = r->p;

	while (p < r->end && (*p == ' ' || *p == '\n' || *p == '\r' ||
	    *p == '\t'))
		p++;
	r->p = p;
}

/* Opens a container, refusing the level past the limit before any work. */
static int
enter(struct json_reader *r)
{
	char head[48];

	if (r->depth >= r->max_depth) {
		snprintf(head, sizeof(head), "nesting deeper than %d levels",
		    r->max_depth);
		return fail(r, r->p, head, NULL);
	}
	r->depth++;
	r->p++;
	return 0;
}

/*
 * Skips plain bytes, eight at a time while a whole word is plain: a byte
 * b is flagged when b - 0x20 borrows (b < 0x20), when b has its top bit,
 * or when b ^ '"' or b ^ '\\' is 0.  A borrow only starts at a flagged
 * byte, so a word that tests clean is clean.
 */
static const unsigned char *
plain_run(const unsigned char *p, const unsigned char *end)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	uint64_t v, t;

	while (end - p >= 8) {
		memcpy(&v, p, 8);
		t = (v - ones * 0x20) | ((v ^ ones * '"') - ones) |
		    ((v ^ ones * '\\') - ones) | v;
		if (t & high)
			break;
		p += 8;
	}
	while (p < end && plain[*p])
		p++;
	return p;
}

/* Length of the well-formed UTF-8 sequence at p (RFC 3629), 0 if none. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t avail = (size_t)(end - p);
	unsigned c = p[0], lo = 0x80, hi = 0xBF;

#define CONT(b)	((b) >= 0x80 && (b) <= 0xBF)
	if (c >= 0xC2 && c <= 0xDF)
		return avail >= 2 && CONT(p[1]) ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		lo = c == 0xE0 ? 0xA0 : 0x80;	/* overlong */
		hi = c == 0xED ? 0x9F : 0xBF;	/* surrogates */
		return avail >= 3 && p[1] >= lo && p[1] <= hi &&
		    CONT(p[2]) ? 3 : 0;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		lo = c == 0xF0 ? 0x90 : 0x80;	/* overlong */
		hi = c == 0xF4 ? 0x8F : 0xBF;	/* > U+10FFFF */
		return avail >= 4 && p[1] >= lo && p[1] <= hi &&
		    CONT(p[2]) && CONT(p[3]) ? 4 : 0;
	}
#undef CONT
	return 0;
}

int
json_valid_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t n;

	while (p < end) {
		if (*p < 0x80)
			n = 1;
		else if ((n = utf8_len(p, end)) == 0)
			return 0;
		p += n;
	}
	return 1;
}

static size_t
utf8_put(char *d, uint32_t cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xC0 | cp >> 6);
		d[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xE0 | cp >> 12);
		d[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		d[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	d[0] = (char)(0xF0 | cp >> 18);
	d[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	d[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	d[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* The canonical escape of a byte that needs one ('"', '\\', < 0x20). */
static size_t
esc_put(char *d, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	const char *s;

	switch (c) {
	case '"':	s = "\\\""; break;
	case '\\':	s = "\\\\"; break;
	case '\b':	s = "\\b"; break;
	case '\f':	s = "\\f"; break;
	case '\n':	s = "\\n"; break;
	case '\r':	s = "\\r"; break;
	case '\t':	s = "\\t"; break;
	default:
		memcpy(d, "\\u00", 4);
		d[4] = hex[c >> 4];
		d[5] = hex[c & 15];
		return 6;
	}
	memcpy(d, s, 2);
	return 2;
}

static int
hex4(const unsigned char *p, const unsigned char *end, uint32_t *v)
{
	int i;

	if (end - p < 4)
		return -1;
	for (*v = 0, i = 0; i < 4; i++) {
		unsigned c = p[i];

		if (c >= '0' && c <= '9')
			c -= '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			c = (c | 0x20) - 'a' + 10;
		else
			return -1;
		*v = *v << 4 | c;
	}
	return 0;
}

/* Decodes \uXXXX (and its low half when it is a high surrogate). */
static const unsigned char *
uescape(struct json_reader *r, const unsigned char *p,
    const unsigned char *end, uint32_t *cp)
{
	uint32_t lo;

	if (hex4(p + 2, end, cp) == -1) {
		bad(r, (const char *)p, "invalid \\u escape");
		return NULL;
	}
	if (*cp < 0xD800 || *cp > 0xDFFF)
		return p + 6;
	if (*cp <= 0xDBFF && end - p >= 12 && p[6] == '\\' && p[7] == 'u' &&
	    hex4(p + 8, end, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
		return p + 12;
	}
	fail(r, (const char *)p, "invalid UTF-8 (lone surrogate escape)", NULL);
	return NULL;
}

/* Handles the escape at p; returns what follows it, NULL on error. */
static const unsigned char *
escape(struct json_reader *r, const unsigned char *p,
    const unsigned char *end, struct buf *out, enum str_mode mode)
{
	char tmp[6];
	uint32_t cp;

	switch (end - p > 1 ? p[1] : 0) {
	case '"':	cp = '"'; break;
	case '\\':	cp = '\\'; break;
	case '/':	cp = '/'; break;
	case 'b':	cp = '\b'; break;
	case 'f':	cp = '\f'; break;
	case 'n':	cp = '\n'; break;
	case 'r':	cp = '\r'; break;
	case 't':	cp = '\t'; break;
	case 'u':
		if ((p = uescape(r, p, end, &cp)) == NULL)
			return NULL;
		goto emit;
	default:
		bad(r, (const char *)p, end - p > 1 ? "invalid escape" :
		    "unterminated string");
		return NULL;
	}
	p += 2;
emit:
	if (mode == STR_SKIP)
		return p;
	if (mode == STR_CANON && (cp < 0x20 || cp == '"' || cp == '\\'))
		put(r, out, tmp, esc_put(tmp, (unsigned char)cp));
	else
		put(r, out, tmp, utf8_put(tmp, cp));
	return r->status ? NULL : p;
}

/*
 * The string at r->p: validated, and in STR_RAW mode its decoded bytes
 * appended, in STR_CANON mode its canonical literal.  Runs of plain bytes
 * are copied with one append, since most strings are one such run.
 */
static int
str(struct json_reader *r, struct buf *out, enum str_mode mode)
{
	const unsigned char *p = (const unsigned char *)r->p + 1;
	const unsigned char *end = (const unsigned char *)r->end, *run;
	size_t n;

	if (mode == STR_CANON && putch(r, out, '"'))
		return r->status;
	for (;;) {
		run = p;
		p = plain_run(p, end);
		if (mode != STR_SKIP && p > run &&
		    put(r, out, run, (size_t)(p - run)))
			return r->status;
		if (p == end)
			return bad(r, r->p, "unterminated string");
		if (*p == '"')
			break;
		if (*p == '\\') {
			if ((p = escape(r, p, end, out, mode)) == NULL)
				return r->status;
			continue;
		}
		if (*p < 0x20)
			return bad(r, (const char *)p,
			    "control character in string");
		if ((n = utf8_len(p, end)) == 0)
			return fail(r, (const char *)p, "invalid UTF-8", NULL);
		if (mode != STR_SKIP && put(r, out, p, n))
			return r->status;
		p += n;
	}
	r->p = (const char *)p + 1;
	return mode == STR_CANON ? putch(r, out, '"') : 0;
}

/* Integer syntax within int64: at most 19 digits, not past the limit. */
static int
int_fits(const char *s, size_t n)
{
	int neg = s[0] == '-';
	size_t digits = n - (size_t)neg;

	if (digits != 19)
		return digits < 19;
	return memcmp(s + neg, neg ? "9223372036854775808" :
	    "9223372036854775807", 19) <= 0;
}

/*
 * The fast path for plain decimals ("12.50"): no exponent, at most 15
 * significant digits (DBL_DIG, so they survive the trip through a double)
 * and a decimal exponent in [-4, 14], where "%.15g" prints fixed notation.
 * Then "%.15g" is the text itself without trailing zeros, which is what
 * the bytes to keep, returned, make; 0 sends the number the slow way.
 * The number is s[0..fend) with its '.' at dot.
 */
static size_t
dec_short(const char *s, const char *dot, const char *fend)
{
	const char *p;
	size_t ilen;

	while (fend[-1] == '0')
		fend--;
	ilen = (size_t)(dot - s) - (s[0] == '-');
	if (dot[-1] == '0' && ilen == 1) {	/* 0.000ddd */
		for (p = dot + 1; p < fend && *p == '0'; p++)
			;
		if (p == fend || p - dot > 4 || fend - p > 15)
			return 0;		/* zero, or too small, or long */
	} else if (ilen + (size_t)(fend - dot - 1) > 15)
		return 0;
	return (size_t)((fend == dot + 1 ? dot : fend) - s);
}

/* Any other number: strtod, then the shortest "%.{15,16,17}g" that reads
 * back as the same double. */
static int
num_slow(struct json_reader *r, struct buf *out, const char *s, size_t n)
{
	size_t mark = out->len;
	char tmp[40];
	double d;
	int prec;

	/* strtod needs a terminated copy; the text may end at the number. */
	if (put(r, out, s, n) || putch(r, out, '\0'))
		return r->status;
	d = strtod(out->data + mark, NULL);
	out->len = mark;
	if (isinf(d)) {
		r->overflow++;
		return put(r, out, s, n);
	}
	if (d == 0)		/* "-0" would read back as the integer 0 */
		return signbit(d) ? put(r, out, "-0.0", 4) : putch(r, out, '0');
	for (prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (prec == 17 || strtod(tmp, NULL) == d)
			break;
	}
	return put(r, out, tmp, strlen(tmp));
}

static int
number(struct json_reader *r, struct buf *out)
{
	const char *s = r->p, *p = s, *end = r->end, *dot = NULL;
	int isint = 1, isexp = 0;
	size_t n, keep;

	/* q must have no side effects: it is evaluated twice. */
#define DIGIT(q)	((q) < end && *(q) >= '0' && *(q) <= '9')
	if (*p == '-')
		p++;
	if (!DIGIT(p))
		return bad(r, p, "invalid number");
	if (*p++ == '0') {
		if (DIGIT(p))
			return bad(r, p, "leading zero in number");
	} else
		while (DIGIT(p))
			p++;
	if (p < end && *p == '.') {
		isint = 0;
		dot = p++;
		if (!DIGIT(p))
			return bad(r, p, "invalid number");
		while (DIGIT(p))
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		isint = 0;
		isexp = 1;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!DIGIT(p))
			return bad(r, p, "invalid number");
		while (DIGIT(p))
			p++;
	}
#undef DIGIT
	r->p = p;
	if (out == NULL)
		return 0;
	n = (size_t)(p - s);
	if (isint && int_fits(s, n))
		return n == 2 && s[0] == '-' && s[1] == '0' ?
		    putch(r, out, '0') :
		    put(r, out, s, n);
	if (dot != NULL && !isexp && (keep = dec_short(s, dot, p)) != 0)
		return put(r, out, s, keep);
	return num_slow(r, out, s, n);
}

static int
literal(struct json_reader *r, struct buf *out, const char *lit, size_t n)
{
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, lit, n) != 0)
		return bad(r, r->p, "invalid literal");
	r->p += n;
	return put(r, out, lit, n);
}

/* Objects and arrays inside a value: the loop closes what it opens. */
static int
object(struct json_reader *r, struct buf *out)
{
	if (enter(r) || putch(r, out, '{'))
		return r->status;
	ws(r);
	if (r->p < r->end && *r->p == '}')
		goto close;
	for (;;) {
		ws(r);
		if (r->p == r->end || *r->p != '"')
			return expected(r, "expected a member name");
		if (str(r, out, out ? STR_CANON : STR_SKIP))
			return r->status;
		ws(r);
		if (r->p == r->end || *r->p != ':')
			return expected(r, "expected ':'");
		r->p++;
		if (putch(r, out, ':') || value(r, out))
			return r->status;
		ws(r);
		if (r->p == r->end || (*r->p != ',' && *r->p != '}'))
			return expected(r, "expected ',' or '}'");
		if (*r->p == '}')
			break;
		r->p++;
		if (putch(r, out, ','))
			return r->status;
	}
close:
	r->p++;
	r->depth--;
	return putch(r, out, '}');
}

static int
array(struct json_reader *r, struct buf *out)
{
	if (enter(r) || putch(r, out, '['))
		return r->status;
	ws(r);
	if (r->p < r->end && *r->p == ']')
		goto close;
	for (;;) {
		if (value(r, out))
			return r->status;
		ws(r);
		if (r->p == r->end || (*r->p != ',' && *r->p != ']'))
			return expected(r, "expected ',' or ']'");
		if (*r->p == ']')
			break;
		r->p++;
		if (putch(r, out, ','))
			return r->status;
	}
close:
	r->p++;
	r->depth--;
	return putch(r, out, ']');
}

/* One value of any kind; out NULL only validates. */
static int
value(struct json_reader *r, struct buf *out)
{
	ws(r);
	if (r->p == r->end)
		return bad(r, r->p, "unexpected end of input");
	switch (*r->p) {
	case '{':
		return object(r, out);
	case '[':
		return array(r, out);
	case '"':
		return str(r, out, out ? STR_CANON : STR_SKIP);
	case 't':
		return literal(r, out, "true", 4);
	case 'f':
		return literal(r, out, "false", 5);
	case 'n':
		return literal(r, out, "null", 4);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return number(r, out);
	}
	return bad(r, r->p, "expected a value");
}

void
json_reader_init(struct json_reader *r, const char *s, size_t len)
{
	static const char empty[1];

	/* A NULL text of length 0 still needs a base to measure from. */
	r->base = r->p = s ? s : empty;
	r->end = r->p + len;
	r->depth = 0;
	r->max_depth = JSON_MAX_DEPTH;
	r->more = 0;
	r->status = 0;
	r->overflow = 0;
	r->err[0] = '\0';
}

enum json_kind
json_peek(struct json_reader *r)
{
	if (r->status)
		return JSON_NONE;
	ws(r);
	if (r->p == r->end)
		return JSON_NONE;
	switch (*r->p) {
	case '{':	return JSON_OBJECT;
	case '[':	return JSON_ARRAY;
	case '"':	return JSON_STRING;
	case 't':
	case 'f':	return JSON_BOOL;
	case 'n':	return JSON_NULL;
	}
	return *r->p == '-' || (*r->p >= '0' && *r->p <= '9') ?
	    JSON_NUMBER : JSON_NONE;
}

static int
begin(struct json_reader *r, char open, const char *what)
{
	if (r->status)
		return r->status;
	ws(r);
	if (r->p == r->end || *r->p != open)
		return expected(r, what);
	r->more = 0;
	return enter(r);
}

int
json_object_begin(struct json_reader *r)
{
	return begin(r, '{', "expected '{'");
}

int
json_array_begin(struct json_reader *r)
{
	return begin(r, '[', "expected '['");
}

/*
 * Shared by both iterators: at the close returns 0; otherwise consumes
 * the ',' that must separate items after the first and returns 1.
 * r->more is set again when a container closes, because the container
 * around it has then had an item.
 */
static int
next_item(struct json_reader *r, char close, const char *what)
{
	if (r->status)
		return r->status;
	ws(r);
	if (r->p < r->end && *r->p == close) {
		r->p++;
		r->depth--;
		r->more = 1;
		return 0;
	}
	if (r->more) {
		if (r->p == r->end || *r->p != ',')
			return expected(r, what);
		r->p++;
		ws(r);
	}
	r->more = 1;
	return 1;
}

int
json_object_next(struct json_reader *r, struct buf *tmp, const char **name,
    size_t *namelen)
{
	const unsigned char *end;
	const char *start;
	size_t mark;
	int rc;

	if ((rc = next_item(r, '}', "expected ',' or '}'")) != 1)
		return rc;
	if (r->p == r->end || *r->p != '"')
		return expected(r, "expected a member name");
	start = r->p;
	end = plain_run((const unsigned char *)start + 1,
	    (const unsigned char *)r->end);
	if (end < (const unsigned char *)r->end && *end == '"') {
		/* Plain ASCII, the usual case: the name is in the text. */
		*name = start + 1;
		*namelen = (size_t)((const char *)end - *name);
		r->p = (const char *)end + 1;
	} else {
		/* Escapes or UTF-8: decoded, so at least one byte long. */
		mark = tmp->len;
		if (str(r, tmp, STR_RAW))
			return r->status;
		*name = tmp->data + mark;
		*namelen = tmp->len - mark;
	}
	ws(r);
	if (r->p == r->end || *r->p != ':')
		return expected(r, "expected ':'");
	r->p++;
	return 1;
}

int
json_array_next(struct json_reader *r)
{
	return next_item(r, ']', "expected ',' or ']'");
}

int
json_read_string(struct json_reader *r, struct buf *out)
{
	if (r->status)
		return r->status;
	ws(r);
	if (r->p == r->end || *r->p != '"')
		return expected(r, "expected a string");
	return str(r, out, STR_RAW);
}

int
json_copy(struct json_reader *r, struct buf *out)
{
	return r->status ? r->status : value(r, out);
}

int
json_skip(struct json_reader *r)
{
	return r->status ? r->status : value(r, NULL);
}

int
json_end(struct json_reader *r)
{
	if (r->status)
		return r->status;
	ws(r);
	return r->p == r->end ? 0 :
	    bad(r, r->p, "unexpected data after the value");
}

int
json_write_string(struct buf *b, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *q;
	size_t mark = b->len;
	char tmp[6];

	if (buf_reserve(b, len + 2) == -1 || buf_putc(b, '"') == -1)
		return -1;
	while (p < end) {
		for (q = p; q < end && *q >= 0x20 && *q != '"' && *q != '\\';)
			q++;
		if (buf_append(b, p, (size_t)(q - p)) == -1)
			goto fail;
		if (q == end)
			break;
		if (buf_append(b, tmp, esc_put(tmp, *q)) == -1)
			goto fail;
		p = q + 1;
	}
	if (buf_putc(b, '"') == 0)
		return 0;
fail:
	b->len = mark;
	return -1;
}
