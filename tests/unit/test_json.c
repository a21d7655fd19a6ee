/*
 * test_json - the JSON reader and canonical writer: tables of raw inputs,
 * what each copies to, or the error it must give.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "t.h"

/* Canonical copy of one whole text; the status, the copy in out. */
static int
canon(const char *in, size_t len, struct buf *out, struct json_reader *r)
{
	out->len = 0;
	json_reader_init(r, in, len);
	if (json_copy(r, out) == 0)
		json_end(r);
	return r->status;
}

static const struct {
	const char	*in, *want;
} copies[] = {
	{ " { \"a\" : [ 1 , 2 ] ,\n\t\"b\" : { } , \"c\":[ ] }\r\n",
	    "{\"a\":[1,2],\"b\":{},\"c\":[]}" },
	{ "true", "true" }, { "false", "false" }, { "null", "null" },
	{ "[true,false,null]", "[true,false,null]" },
	/* strings */
	{ "\"\\u00e9\"", "\"\xc3\xa9\"" },
	{ "\"\\/\"", "\"/\"" },
	{ "\"\\u0041\\u00E9\\u20AC\"", "\"A\xc3\xa9\xe2\x82\xac\"" },
	{ "\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"" },
	{ "\"\\uDBFF\\uDFFF\"", "\"\xf4\x8f\xbf\xbf\"" },
	{ "\"\\u0008\\u000c\\u000A\\u000d\\u0009\"", "\"\\b\\f\\n\\r\\t\"" },
	{ "\"\\b\\f\\n\\r\\t\\\"\\\\\"", "\"\\b\\f\\n\\r\\t\\\"\\\\\"" },
	{ "\"\\u0000\\u0001\\u001F\"", "\"\\u0000\\u0001\\u001f\"" },
	{ "\"\\u007f\\u0085\"", "\"\x7f\xc2\x85\"" },
	{ "\"\\u0022\\u005c\"", "\"\\\"\\\\\"" },
	{ "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"",
	    "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"" },
	{ "\"a long string of plain ascii, longer than a word\"",
	    "\"a long string of plain ascii, longer than a word\"" },
	{ "{\"\\u0074opic\":1}", "{\"topic\":1}" },
	/* integers within int64: their digits */
	{ "0", "0" }, { "-0", "0" }, { "10", "10" }, { "-10", "-10" },
	{ "9223372036854775807", "9223372036854775807" },
	{ "-9223372036854775808", "-9223372036854775808" },
	{ "1234567890123456789", "1234567890123456789" },
	/* other numbers: the shortest %.{15,16,17}g that reads back */
	{ "9223372036854775808", "9.223372036854776e+18" },
	{ "-9223372036854775809", "-9.223372036854776e+18" },
	{ "18446744073709551616", "1.8446744073709552e+19" },
	{ "1.0", "1" }, { "-1.0", "-1" }, { "0.1", "0.1" }, { "-0.5", "-0.5" },
	{ "12.50", "12.5" }, { "1200.000", "1200" }, { "100.5", "100.5" },
	{ "0.0001", "0.0001" }, { "0.00001", "1e-05" }, { "0.000123", "0.000123" },
	{ "-0.0", "-0.0" }, { "0.0", "0" }, { "-0e5", "-0.0" }, { "1e-400", "0" },
	{ "-1e-400", "-0.0" }, { "0e-3", "0" },
	{ "1e2", "100" }, { "1E+2", "100" }, { "1e-2", "0.01" },
	{ "1e15", "1e+15" }, { "1e14", "100000000000000" },
	{ "123456789012345.0", "123456789012345" },
	{ "12345678901234.5", "12345678901234.5" },
	{ "1234567890123456.0", "1234567890123456" },
	{ "123456789012345.6", "123456789012345.6" },
	{ "0.30000000000000004", "0.30000000000000004" },
	{ "0.1000000000000000055511151231257827", "0.1" },
	{ "100000000000000000000.0", "1e+20" },
	{ "1.5e300", "1.5e+300" }, { "-2.5E-300", "-2.5e-300" },
	{ "4.9406564584124654e-324", "4.94065645841247e-324" },
	{ "2.2250738585072014e-308", "2.2250738585072014e-308" },
	{ "1e23", "1e+23" }, { "8.41e21", "8.41e+21" },
	{ "5e-324", "4.94065645841247e-324" },
	{ "1.7976931348623157e308", "1.7976931348623157e+308" },
	{ "[0.5,-3,2e0]", "[0.5,-3,2]" },
};

static void
test_copy(void)
{
	struct json_reader r;
	struct buf out, again;
	size_t i;

	buf_init(&out);
	buf_init(&again);
	for (i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		if (canon(copies[i].in, strlen(copies[i].in), &out, &r) != 0)
			printf("#   %s: %s\n", copies[i].in, r.err);
		CHECK_EQ(r.status, 0);
		CHECK_EQ(r.overflow, 0);
		CHECK_STR(out.data, out.len, copies[i].want);
		/* canonical of canonical is the same */
		CHECK_EQ(canon(out.data, out.len, &again, &r), 0);
		CHECK(again.len == out.len &&
		    memcmp(again.data, out.data, out.len) == 0);
	}
	buf_free(&out);
	buf_free(&again);
}

/* The reference the fast paths must agree with: strtod, then the
 * shortest of %.15g, %.16g, %.17g that reads back; zero as 0, or -0.0
 * when negative (the integer -0 is 0, but that one is kept as it is). */
static void
reference(const char *num, char *out, size_t outlen)
{
	double d = strtod(num, NULL);
	int prec;

	if (d == 0) {
		snprintf(out, outlen, signbit(d) && strpbrk(num, ".eE") ?
		    "-0.0" : "0");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, outlen, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
}

/* Random decimals of every shape near the fast path's edges. */
static void
test_numbers_random(void)
{
	unsigned long x = 2463534242UL;
	struct json_reader r;
	char num[64], want[64];
	struct buf out;
	int i, k, ilen, flen, bad = 0;

	buf_init(&out);
	for (i = 0; i < 200000; i++) {
		k = 0;
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		if (x & 1)
			num[k++] = '-';
		ilen = (int)(x >> 1 & 15) % 18 + 1;
		flen = (int)(x >> 5 & 31) % 20;
		for (int j = 0; j < ilen; j++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			num[k++] = (char)('0' + (x >> 8) % (x & 2 ? 10 : 2));
		}
		if (num[k - ilen] == '0')	/* "0" only as the whole part */
			k -= ilen - 1;
		if (flen > 0 || (x & 4)) {
			num[k++] = '.';
			for (int j = 0; j < flen + 1; j++) {
				x ^= x << 13, x ^= x >> 17, x ^= x << 5;
				num[k++] = (char)('0' + (x >> 8) %
				    (x & 2 ? 10 : 3));
			}
		}
		if (x & 8 && x & 16)
			k += snprintf(num + k, 8, "e%d",
			    (int)(x >> 9 & 63) - 32);
		num[k] = '\0';
		if (canon(num, (size_t)k, &out, &r) != 0) {
			printf("#   %s: %s\n", num, r.err);
			bad++;
			continue;
		}
		if (!strchr(num, '.') && !strchr(num, 'e') &&
		    out.len == (size_t)k)
			continue;		/* an int64 kept as it is */
		reference(num, want, sizeof(want));
		if (strlen(want) != out.len ||
		    memcmp(want, out.data, out.len) != 0) {
			if (bad++ < 10)
				printf("#   %s: got %.*s, want %s\n", num,
				    (int)out.len, out.data, want);
		}
	}
	CHECK_EQ(bad, 0);
	buf_free(&out);
}

static void
test_overflow(void)
{
	static const char *const ins[] = {
		"1e400", "-1e400", "1.8e308", "[1,{\"a\":1E999}]"
	};
	struct json_reader r;
	struct buf out;
	size_t i;

	buf_init(&out);
	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++) {
		CHECK_EQ(canon(ins[i], strlen(ins[i]), &out, &r), 0);
		CHECK_EQ(r.overflow, 1);
	}
	/* Validation alone does not convert numbers. */
	json_reader_init(&r, "1e400", 5);
	CHECK_EQ(json_skip(&r), 0);
	CHECK_EQ(r.overflow, 0);
	buf_free(&out);
}

static const struct {
	const char	*in;
	size_t		 len;		/* 0: strlen(in) */
	const char	*err;
} errors[] = {
	{ "", 0, "invalid JSON at byte 0: unexpected end of input" },
	{ "   ", 0, "invalid JSON at byte 3: unexpected end of input" },
	{ "{\"a\" 1}", 0, "invalid JSON at byte 5: expected ':'" },
	{ "{\"a\":1,}", 0, "invalid JSON at byte 7: expected a member name" },
	{ "{,}", 0, "invalid JSON at byte 1: expected a member name" },
	{ "{\"a\":1 \"b\":2}", 0,
	    "invalid JSON at byte 7: expected ',' or '}'" },
	{ "{\"a\":{} \"b\":2}", 0,
	    "invalid JSON at byte 8: expected ',' or '}'" },
	{ "{1:2}", 0, "invalid JSON at byte 1: expected a member name" },
	{ "{\"a\":}", 0, "invalid JSON at byte 5: expected a value" },
	{ "{\"a\":1", 0, "invalid JSON at byte 6: unexpected end of input" },
	{ "[1,]", 0, "invalid JSON at byte 3: expected a value" },
	{ "[1 2]", 0, "invalid JSON at byte 3: expected ',' or ']'" },
	{ "[", 0, "invalid JSON at byte 1: unexpected end of input" },
	{ "]", 0, "invalid JSON at byte 0: expected a value" },
	{ "{} x", 0, "invalid JSON at byte 3: unexpected data after the value" },
	{ "{}{}", 0, "invalid JSON at byte 2: unexpected data after the value" },
	{ "\xef\xbb\xbf{}", 0, "invalid JSON at byte 0: expected a value" },
	{ "'a'", 0, "invalid JSON at byte 0: expected a value" },
	/* literals */
	{ "tru", 0, "invalid JSON at byte 0: invalid literal" },
	{ "nul", 0, "invalid JSON at byte 0: invalid literal" },
	{ "True", 0, "invalid JSON at byte 0: expected a value" },
	{ "truex", 0, "invalid JSON at byte 4: unexpected data after the value" },
	/* numbers (RFC 8259 grammar) */
	{ "01", 0, "invalid JSON at byte 1: leading zero in number" },
	{ "-01", 0, "invalid JSON at byte 2: leading zero in number" },
	{ "-", 0, "invalid JSON at byte 1: invalid number" },
	{ "-a", 0, "invalid JSON at byte 1: invalid number" },
	{ "1.", 0, "invalid JSON at byte 2: invalid number" },
	{ "1.e5", 0, "invalid JSON at byte 2: invalid number" },
	{ "1e", 0, "invalid JSON at byte 2: invalid number" },
	{ "1e+", 0, "invalid JSON at byte 3: invalid number" },
	{ ".5", 0, "invalid JSON at byte 0: expected a value" },
	{ "+1", 0, "invalid JSON at byte 0: expected a value" },
	{ "0x10", 0, "invalid JSON at byte 1: unexpected data after the value" },
	{ "NaN", 0, "invalid JSON at byte 0: expected a value" },
	{ "[1,-]", 0, "invalid JSON at byte 4: invalid number" },
	/* strings */
	{ "\"abc", 0, "invalid JSON at byte 0: unterminated string" },
	{ "\"abc\\", 0, "invalid JSON at byte 4: unterminated string" },
	{ "\"\\x\"", 0, "invalid JSON at byte 1: invalid escape" },
	{ "\"\\U0041\"", 0, "invalid JSON at byte 1: invalid escape" },
	{ "\"\\u12\"", 0, "invalid JSON at byte 1: invalid \\u escape" },
	{ "\"\\u12g4\"", 0, "invalid JSON at byte 1: invalid \\u escape" },
	{ "\"a\x01" "b\"", 0, "invalid JSON at byte 2: control character in string" },
	{ "\"a\nb\"", 0, "invalid JSON at byte 2: control character in string" },
	{ "\"a\tb\"", 0, "invalid JSON at byte 2: control character in string" },
	{ "\"a\0b\"", 5, "invalid JSON at byte 2: control character in string" },
	{ "{\"a\0\":1}", 8, "invalid JSON at byte 3: control character in string" },
	/* UTF-8 */
	{ "\"\xff\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\x80\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xc3\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xc3", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xc0\xaf\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xc1\xbf\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xe0\x80\xaf\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xf0\x80\x80\xaf\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xed\xa0\x80\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xed\xbf\xbf\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xf4\x90\x80\x80\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xf5\x80\x80\x80\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"\xe2\x82\"", 0, "invalid UTF-8 at byte 1" },
	{ "\"abcdefghij\xe2\x28\xa1\"", 0, "invalid UTF-8 at byte 11" },
	{ "{\"k\xff\":1}", 0, "invalid UTF-8 at byte 3" },
	{ "\xc3\xa9", 0, "invalid JSON at byte 0: expected a value" },
	/* lone surrogate escapes */
	{ "\"\\ud800\"", 0, "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "\"\\udc00\"", 0, "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "\"\\uDFFF\\uD800\"", 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "\"\\ud800\\u0041\"", 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "\"\\ud800\\ud800\"", 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "\"x\\ud800x\"", 0, "invalid UTF-8 (lone surrogate escape) at byte 2" },
	{ "\"\\ud800\\\"", 0, "invalid UTF-8 (lone surrogate escape) at byte 1" },
	{ "{\"\\udc00\":1}", 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 2" },
};

static void
test_errors(void)
{
	struct json_reader r;
	struct buf out;
	size_t i, len;

	buf_init(&out);
	for (i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		len = errors[i].len ? errors[i].len : strlen(errors[i].in);
		CHECK_EQ(canon(errors[i].in, len, &out, &r), JSON_ESYNTAX);
		CHECK_STR(r.err, strlen(r.err), errors[i].err);
		/* validating alone finds the same */
		json_reader_init(&r, errors[i].in, len);
		if (json_skip(&r) == 0)
			json_end(&r);
		CHECK_STR(r.err, strlen(r.err), errors[i].err);
	}
	buf_free(&out);
}

/* Every partial input of a valid text is refused, none overreads (ASan). */
static void
test_prefixes(void)
{
	static const char text[] = "{\"a\":[1,-2.5e3,\"\\u00e9\\ud83d\\ude00"
	    "\xc3\xa9\",true,false,null],\"b\":{}}";
	struct json_reader r;
	struct buf out;
	size_t n;
	char *p;

	buf_init(&out);
	for (n = 0; n < sizeof(text) - 1; n++) {
		/* a copy of exactly n bytes, so ASan sees any overread */
		p = malloc(n ? n : 1);
		memcpy(p, text, n);
		CHECK_EQ(canon(p, n, &out, &r), JSON_ESYNTAX);
		free(p);
	}
	CHECK_EQ(canon(text, n, &out, &r), 0);
	buf_free(&out);
}

/* A bad byte at each offset of a long string: the word-wise scan. */
static void
test_string_offsets(void)
{
	static const unsigned char bad[] = { 0x00, 0x01, 0x1f, 0xff, 0x80 };
	struct json_reader r;
	struct buf out;
	char s[40];
	size_t pos, k;

	buf_init(&out);
	for (pos = 1; pos < 30; pos++) {
		for (k = 0; k < sizeof(bad); k++) {
			memset(s, 'a', sizeof(s));
			s[0] = '"';
			s[pos] = (char)bad[k];
			s[31] = '"';
			CHECK_EQ(canon(s, 32, &out, &r), JSON_ESYNTAX);
		}
		memset(s, 'a', sizeof(s));
		s[0] = s[31] = '"';
		s[pos] = '\\';
		s[pos + 1] = '"';
		CHECK_EQ(canon(s, 32, &out, &r), 0);
		CHECK_EQ(out.len, 32);		/* \" stays \" */
		s[pos] = 0x7f;			/* DEL is not escaped */
		s[pos + 1] = 'a';
		CHECK_EQ(canon(s, 32, &out, &r), 0);
		CHECK_EQ(out.len, 32);
	}
	buf_free(&out);
}

/* depth times open, then mid, then depth times close. */
static char *
nest(size_t depth, const char *open, const char *mid, const char *close,
    size_t *len)
{
	size_t no = strlen(open), nm = strlen(mid), nc = strlen(close), i;
	char *s = malloc(depth * (no + nc) + nm + 1), *p = s;

	for (i = 0; i < depth; i++, p += no)
		memcpy(p, open, no);
	memcpy(p, mid, nm);
	p += nm;
	for (i = 0; i < depth; i++, p += nc)
		memcpy(p, close, nc);
	*len = (size_t)(p - s);
	return s;
}

static void
test_depth(void)
{
	struct json_reader r;
	struct buf out;
	size_t len;
	char *s;

	buf_init(&out);
	s = nest(64, "[", "", "]", &len);
	CHECK_EQ(canon(s, len, &out, &r), 0);
	CHECK_EQ(out.len, 128);
	free(s);
	s = nest(64, "{\"a\":", "0", "}", &len);
	CHECK_EQ(canon(s, len, &out, &r), 0);
	free(s);
	s = nest(65, "[", "", "]", &len);
	CHECK_EQ(canon(s, len, &out, &r), JSON_ESYNTAX);
	CHECK_STR(r.err, strlen(r.err),
	    "nesting deeper than 64 levels at byte 64");
	free(s);
	s = nest(65, "{\"a\":", "0", "}", &len);
	CHECK_EQ(canon(s, len, &out, &r), JSON_ESYNTAX);
	CHECK(strstr(r.err, "nesting deeper than 64 levels") != NULL);
	free(s);
	s = nest(100000, "[", "", "]", &len);
	CHECK_EQ(canon(s, len, &out, &r), JSON_ESYNTAX);
	CHECK(strstr(r.err, "nesting deeper than 64 levels") != NULL);
	json_reader_init(&r, s, len);
	CHECK_EQ(json_skip(&r), JSON_ESYNTAX);
	free(s);
	/* The levels the caller opened count too. */
	json_reader_init(&r, "[[[1]]]", 7);
	r.depth = JSON_MAX_DEPTH - 2;
	CHECK_EQ(json_skip(&r), JSON_ESYNTAX);
	buf_free(&out);
}

/* The pull API as event.c uses it. */
static void
test_reader(void)
{
	static const char text[] = " { \"a\\u0062\" : \"x\\u00e9\" , \"n\":[1, "
	    "{\"z\":[]}, \"s\"], \"\":null } ";
	struct json_reader r;
	const char *name;
	size_t nlen;
	struct buf tmp, s;
	int rc, n = 0;

	buf_init(&tmp);
	buf_init(&s);
	json_reader_init(&r, text, sizeof(text) - 1);
	CHECK_EQ(json_peek(&r), JSON_OBJECT);
	CHECK_EQ(json_object_begin(&r), 0);
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), 1);
	CHECK_STR(name, nlen, "ab");		/* decoded into tmp */
	CHECK(name == tmp.data);
	CHECK_EQ(json_peek(&r), JSON_STRING);
	CHECK_EQ(json_read_string(&r, &s), 0);
	CHECK_STR(s.data, s.len, "x\xc3\xa9");
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), 1);
	CHECK_STR(name, nlen, "n");		/* points into the text */
	CHECK(name > text && name < text + sizeof(text));
	CHECK_EQ(json_array_begin(&r), 0);
	while ((rc = json_array_next(&r)) == 1) {
		n++;
		CHECK_EQ(json_skip(&r), 0);
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), 1);
	CHECK_EQ(nlen, 0);
	CHECK_EQ(json_peek(&r), JSON_NULL);
	CHECK_EQ(json_skip(&r), 0);
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), 0);
	CHECK_EQ(r.depth, 0);
	CHECK_EQ(json_end(&r), 0);

	/* a missing comma after a nested empty container */
	json_reader_init(&r, "[[] 1]", 6);
	CHECK_EQ(json_array_begin(&r), 0);
	CHECK_EQ(json_array_next(&r), 1);
	CHECK_EQ(json_array_begin(&r), 0);
	CHECK_EQ(json_array_next(&r), 0);
	CHECK_EQ(json_array_next(&r), JSON_ESYNTAX);
	CHECK_STR(r.err, strlen(r.err),
	    "invalid JSON at byte 4: expected ',' or ']'");
	/* errors stick */
	CHECK_EQ(json_peek(&r), JSON_NONE);
	CHECK_EQ(json_skip(&r), JSON_ESYNTAX);
	json_reader_init(&r, "[,1]", 4);
	CHECK_EQ(json_array_begin(&r), 0);
	CHECK_EQ(json_array_next(&r), 1);
	CHECK_EQ(json_skip(&r), JSON_ESYNTAX);
	json_reader_init(&r, "{\"a\":1,}", 8);
	CHECK_EQ(json_object_begin(&r), 0);
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), 1);
	CHECK_EQ(json_skip(&r), 0);
	CHECK_EQ(json_object_next(&r, &tmp, &name, &nlen), JSON_ESYNTAX);
	json_reader_init(&r, "5", 1);
	CHECK_EQ(json_object_begin(&r), JSON_ESYNTAX);
	CHECK_STR(r.err, strlen(r.err), "invalid JSON at byte 0: expected '{'");
	json_reader_init(&r, NULL, 0);
	CHECK_EQ(json_peek(&r), JSON_NONE);
	buf_free(&tmp);
	buf_free(&s);
}

static void
test_write_string(void)
{
	static const struct {
		const char	*in;
		size_t		 len;
		const char	*want;
	} t[] = {
		{ "", 0, "\"\"" },
		{ "plain", 5, "\"plain\"" },
		{ "a\"b\\c/", 6, "\"a\\\"b\\\\c/\"" },
		{ "\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"" },
		{ "\0\x01\x1f\x7f", 4, "\"\\u0000\\u0001\\u001f\x7f\"" },
		{ "\xc3\xa9\xf0\x9f\x98\x80", 6, "\"\xc3\xa9\xf0\x9f\x98\x80\"" },
	};
	struct json_reader r;
	struct buf out, back;
	size_t i;

	buf_init(&out);
	buf_init(&back);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		out.len = 0;
		CHECK_EQ(json_write_string(&out, t[i].in, t[i].len), 0);
		CHECK_STR(out.data, out.len, t[i].want);
		/* it reads back as the bytes written */
		back.len = 0;
		json_reader_init(&r, out.data, out.len);
		CHECK_EQ(json_read_string(&r, &back), 0);
		CHECK(back.len == t[i].len &&
		    (t[i].len == 0 || memcmp(back.data, t[i].in, t[i].len) == 0));
	}
	buf_free(&out);
	buf_free(&back);
}

int
main(void)
{
	T_RUN(test_copy);
	T_RUN(test_numbers_random);
	T_RUN(test_overflow);
	T_RUN(test_errors);
	T_RUN(test_prefixes);
	T_RUN(test_string_offsets);
	T_RUN(test_depth);
	T_RUN(test_reader);
	T_RUN(test_write_string);
	return t_done();
}
