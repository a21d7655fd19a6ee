/*
 * test_event - publish bodies against the event rules of the contract:
 * tables of bodies with the verdict, field and message each must give.
 */
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "rfc3339.h"
#include "json.h"
#include "t.h"

/* The members of a valid event, to build the tables from. */
#define TOP	"\"topic\":\"orders\""
#define EID	"\"event_id\":\"7f3c9a10\""
#define TS	"\"timestamp\":\"2025-10-21T10:00:00Z\""
#define SRC	"\"source\":\"checkout-1\""
#define PAY	"\"payload\":{\"amount\":12.5}"
#define EV	"{" TOP "," EID "," TS "," SRC "," PAY "}"
/* An event with one member replaced. */
#define EV_T(x)	"{" x "," EID "," TS "," SRC "," PAY "}"
#define EV_I(x)	"{" TOP "," x "," TS "," SRC "," PAY "}"
#define EV_S(x)	"{" TOP "," EID "," x "," SRC "," PAY "}"
#define EV_R(x)	"{" TOP "," EID "," TS "," x "," PAY "}"
#define EV_P(x)	"{" TOP "," EID "," TS "," SRC "," x "}"

static int
parse(struct event_batch *b, const char *s)
{
	return event_parse_json(b, s, strlen(s));
}

/* Bodies breaking exactly one rule of a single event. */
static const struct {
	const char	*body;
	size_t		 len;		/* 0: strlen */
	const char	*field, *msg;
} rules[] = {
	{ "{" EID "," TS "," SRC "," PAY "}", 0, "topic", "missing" },
	{ "{" TOP "," TS "," SRC "," PAY "}", 0, "event_id", "missing" },
	{ "{" TOP "," EID "," SRC "," PAY "}", 0, "timestamp", "missing" },
	{ "{" TOP "," EID "," TS "," PAY "}", 0, "source", "missing" },
	{ "{" TOP "," EID "," TS "," SRC "}", 0, "payload", "missing" },
	{ EV_T("\"topic\":5"), 0, "topic", "must be a string" },
	{ EV_T("\"topic\":null"), 0, "topic", "must be a string" },
	{ EV_T("\"topic\":[\"a\"]"), 0, "topic", "must be a string" },
	{ EV_I("\"event_id\":7"), 0, "event_id", "must be a string" },
	{ EV_S("\"timestamp\":1729504800"), 0, "timestamp",
	    "must be a string" },
	{ EV_R("\"source\":{}"), 0, "source", "must be a string" },
	{ EV_T("\"topic\":\"\""), 0, "topic", "must not be empty" },
	{ EV_I("\"event_id\":\"\""), 0, "event_id", "must not be empty" },
	{ EV_R("\"source\":\"\""), 0, "source", "must not be empty" },
	{ EV_T("\"topic\":\"a\\u0000b\""), 0, "topic",
	    "contains a control character" },
	{ EV_T("\"topic\":\"a\\nb\""), 0, "topic",
	    "contains a control character" },
	{ EV_T("\"topic\":\"\\u001f\""), 0, "topic",
	    "contains a control character" },
	{ EV_I("\"event_id\":\"a\x7f\""), 0, "event_id",
	    "contains a control character" },
	{ EV_I("\"event_id\":\"\\u007f\""), 0, "event_id",
	    "contains a control character" },
	{ EV_R("\"source\":\"x\xc2\x80\""), 0, "source",
	    "contains a control character" },
	{ EV_R("\"source\":\"x\\u009F\""), 0, "source",
	    "contains a control character" },
	{ EV_S("\"timestamp\":\"\""), 0, "timestamp",
	    "must be an RFC 3339 date-time" },
	{ EV_S("\"timestamp\":\"2023-02-29T10:00:00Z\""), 0, "timestamp",
	    "must be an RFC 3339 date-time" },
	{ EV_S("\"timestamp\":\"yesterday\""), 0, "timestamp",
	    "must be an RFC 3339 date-time" },
	{ EV_P("\"payload\":[]"), 0, "payload", "must be a JSON object" },
	{ EV_P("\"payload\":\"{}\""), 0, "payload", "must be a JSON object" },
	{ EV_P("\"payload\":null"), 0, "payload", "must be a JSON object" },
	{ EV_P("\"payload\":{\"a\":1e400}"), 0, "payload",
	    "number out of range" },
	{ EV_P("\"payload\":{\"a\":[-1e400]}"), 0, "payload",
	    "number out of range" },
	{ "{" TOP "," TOP "," EID "," TS "," SRC "," PAY "}", 0, "topic",
	    "duplicate member" },
	{ "{" TOP "," EID "," TS "," SRC "," PAY ",\"topic\":5}", 0, "topic",
	    "duplicate member" },
	{ "{" TOP "," EID "," EID "," TS "," SRC "," PAY "}", 0, "event_id",
	    "duplicate member" },
	{ "{" TOP "," EID "," TS "," TS "," SRC "," PAY "}", 0, "timestamp",
	    "duplicate member" },
	{ "{" TOP "," EID "," TS "," SRC "," SRC "," PAY "}", 0, "source",
	    "duplicate member" },
	{ "{" TOP "," EID "," TS "," SRC "," PAY "," PAY "}", 0, "payload",
	    "duplicate member" },
	{ "{\"\\u0074opic\":\"a\"," TOP "," EID "," TS "," SRC "," PAY "}", 0,
	    "topic", "duplicate member" },
	/* valid JSON that is no event */
	{ "5", 0, NULL, "must be a JSON object" },
	{ "\"event\"", 0, NULL, "must be a JSON object" },
	{ "null", 0, NULL, "must be a JSON object" },
	{ "[5]", 0, NULL, "must be a JSON object" },
	{ "[[" EV "]]", 0, NULL, "must be a JSON object" },
};

/* An event or a wrapper?  Either reading could drop events: refused. */
/* Two "events" members: parsers disagree on which wins, so 400. */
static void
test_second_events_member(void)
{
	static const char *const bodies[] = {
		"{\"events\":[" EV "],\"events\":[]}",
		"{\"events\":[],\"events\":[" EV "]}",
		"{\"events\":5,\"events\":[" EV "]}",
		"{\"events\":[" EV "],\"x\":1,\"events\":null}",
	};
	struct event_batch b;
	size_t i;

	event_batch_init(&b);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CHECK_EQ(event_parse_json(&b, bodies[i], strlen(bodies[i])),
		    EVENT_SYNTAX);
		CHECK(strstr(b.syntax, "a second \"events\" member") != NULL);
	}
	event_batch_free(&b);
}

static void
test_ambiguous_wrapper(void)
{
	static const char *const bodies[] = {
		"{" TOP "," EID "," TS "," SRC "," PAY ",\"events\":[]}",
		"{\"events\":[" EV "],\"topic\":5}",
		"{" SRC ",\"events\":[" EV "," EV "]}",
	};
	struct event_batch b;
	size_t i, k, found;

	event_batch_init(&b);
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		CHECK_EQ(event_parse_json(&b, bodies[i], strlen(bodies[i])),
		    EVENT_INVALID);
		CHECK_EQ(b.n, 0);
		for (k = found = 0; k < b.nerr; k++)
			found += b.err[k].field != NULL &&
			    strcmp(b.err[k].field, "events") == 0 &&
			    strstr(b.err[k].msg, "an \"events\" array next to"
			    " event fields") != NULL;
		CHECK_EQ(found, 1);
	}
	event_batch_free(&b);
}

static void
test_rules(void)
{
	struct event_batch b;
	size_t i, len;

	event_batch_init(&b);
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		len = rules[i].len ? rules[i].len : strlen(rules[i].body);
		CHECK_EQ(event_parse_json(&b, rules[i].body, len),
		    EVENT_INVALID);
		CHECK_EQ(b.n, 0);
		CHECK_EQ(b.arena.len, 0);
		CHECK_EQ(b.nerr, 1);
		CHECK_EQ(b.nbad, 1);
		if (b.nerr != 1)
			continue;
		CHECK_EQ(b.err[0].index, 0);
		CHECK_EQ(b.err[0].line, 0);
		if (rules[i].field == NULL)
			CHECK(b.err[0].field == NULL);
		else
			CHECK(b.err[0].field != NULL &&
			    strcmp(b.err[0].field, rules[i].field) == 0);
		CHECK_STR(b.err[0].msg, strlen(b.err[0].msg), rules[i].msg);
		/* each rule holds for NDJSON lines alike */
		CHECK_EQ(event_parse_ndjson(&b, rules[i].body, len),
		    EVENT_INVALID);
		CHECK_EQ(b.nbad, 1);
		CHECK_EQ(b.n, 0);
	}
	event_batch_free(&b);
}

/* Valid bodies and the events they give. */
static const struct {
	const char	*body;
	size_t		 n;
} goods[] = {
	{ EV, 1 },
	{ "  \r\n\t" EV " \n", 1 },
	{ "[" EV "]", 1 },
	{ "[" EV "," EV " , " EV "]", 3 },
	{ "[]", 0 },
	{ " [ ] ", 0 },
	{ "{\"events\":[]}", 0 },
	{ "{\"events\":[" EV "," EV "]}", 2 },
	/* a wrapper's other members are ignored, whatever they hold */
	{ "{\"x\":5,\"events\":[" EV "],\"y\":1e400,\"z\":[1]}", 1 },
	{ "{\"ev\\u0065nts\":[" EV "]}", 1 },
	/* "events" that is not an array is an ignored member of an event */
	{ "{\"events\":5," TOP "," EID "," TS "," SRC "," PAY "}", 1 },
	{ "{" TOP "," EID "," TS "," SRC "," PAY ",\"events\":{}}", 1 },
	/* other members are ignored, even with 1e400 in them */
	{ "{" TOP ",\"extra\":{\"n\":1e400}," EID "," TS "," SRC "," PAY "}", 1 },
	{ EV_T("\"topic\":\"caf\\u00e9 \\u00a0\\ud83d\\ude00\""), 1 },
	{ EV_T("\"topic\":\"tab\\\\t\""), 1 },
	{ EV_P("\"payload\":{}"), 1 },
};

static void
test_forms(void)
{
	struct event_batch b;
	size_t i;

	event_batch_init(&b);
	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		if (parse(&b, goods[i].body) != EVENT_OK)
			printf("#   %s: %s\n", goods[i].body, b.syntax);
		CHECK_EQ(parse(&b, goods[i].body), EVENT_OK);
		CHECK_EQ(b.n, goods[i].n);
		CHECK_EQ(b.nerr, 0);
		CHECK_EQ(b.nbad, 0);
	}
	event_batch_free(&b);
}

/* Every violation of a body, with its index, then all or nothing. */
static void
test_collect(void)
{
	static const char body[] = "[" EV ","
	    "{\"topic\":5," EID "," TS "," SRC "}, 7, " EV ","
	    "{" TOP "," EID ",\"timestamp\":\"2025-13-01T00:00:00Z\"," SRC ","
	    PAY "," SRC "}]";
	static const struct {
		size_t		 index;
		const char	*field, *msg;
	} want[] = {
		{ 1, "topic", "must be a string" },
		{ 1, "payload", "missing" },
		{ 2, NULL, "must be a JSON object" },
		{ 4, "timestamp", "must be an RFC 3339 date-time" },
		{ 4, "source", "duplicate member" },
	};
	struct event_batch b;
	struct buf big;
	size_t i;

	event_batch_init(&b);
	CHECK_EQ(parse(&b, body), EVENT_INVALID);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(b.arena.len, 0);
	CHECK_EQ(b.nerr, 5);
	CHECK_EQ(b.nbad, 5);
	for (i = 0; i < 5 && i < b.nerr; i++) {
		CHECK_EQ(b.err[i].index, want[i].index);
		CHECK(b.err[i].field == want[i].field ||
		    (b.err[i].field && want[i].field &&
		    strcmp(b.err[i].field, want[i].field) == 0));
		CHECK_STR(b.err[i].msg, strlen(b.err[i].msg), want[i].msg);
	}
	/* the same inside a wrapper */
	buf_init(&big);
	buf_printf(&big, "{\"events\":%s}", body);
	CHECK_EQ(event_parse_json(&b, big.data, big.len), EVENT_INVALID);
	CHECK_EQ(b.nbad, 5);
	/* listed up to EVENT_MAX_ERRORS, counted all */
	big.len = 0;
	buf_putc(&big, '[');
	for (i = 0; i < 150; i++)
		buf_printf(&big, "%s{}", i ? "," : "");
	buf_putc(&big, ']');
	CHECK_EQ(event_parse_json(&b, big.data, big.len), EVENT_INVALID);
	CHECK_EQ(b.nerr, EVENT_MAX_ERRORS);
	CHECK_EQ(b.nbad, 750);
	CHECK_EQ(b.err[EVENT_MAX_ERRORS - 1].index, 19);
	CHECK_STR(b.err[99].field, strlen(b.err[99].field), "payload");
	/* the batch is reusable after a failure */
	CHECK_EQ(parse(&b, "[" EV "," EV "]"), EVENT_OK);
	CHECK_EQ(b.n, 2);
	CHECK_EQ(b.nerr, 0);
	buf_free(&big);
	event_batch_free(&b);
}

/* Bodies that are not JSON (HTTP 400), and the message each gives. */
static const struct {
	const char	*body;
	size_t		 len;
	const char	*syntax;
} syntaxes[] = {
	{ "", 0, "empty body" },
	{ " \r\n\t ", 0, "empty body" },
	{ EV " x", 0, NULL },
	{ "[" EV "] " EV, 0, NULL },
	{ "[" EV ",", 0, NULL },
	{ "[" EV ",]", 0, NULL },
	{ "{\"topic\":\"a\"", 0,
	    "invalid JSON at byte 12: unexpected end of input" },
	{ "{\"topic\" \"a\"}", 0, "invalid JSON at byte 9: expected ':'" },
	{ "{\"events\":[" EV "],}", 0, NULL },
	/* syntax beats the violations found before it */
	{ "[5, {\"topic\":\"\xff\"}]", 0, "invalid UTF-8 at byte 14" },
	{ "[5, {\"x\":\"\\ud800\"}]", 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 10" },
	{ EV_T("\"topic\":\"a\0b\""), sizeof(EV_T("\"topic\":\"a\0b\"")) - 1,
	    "invalid JSON at byte 11: control character in string" },
	{ EV_T("\"topic\":\"a\\u0000\\udc00\""), 0,
	    "invalid UTF-8 (lone surrogate escape) at byte 17" },
	{ EV_T("\"topic\":\"\xc0\xaf\""), 0, "invalid UTF-8 at byte 10" },
	{ EV_T("\"topic\":\"\xed\xa0\x80\""), 0, "invalid UTF-8 at byte 10" },
	{ "[1e400,01]", 0, "invalid JSON at byte 8: leading zero in number" },
};

static void
test_syntax(void)
{
	struct event_batch b;
	size_t i, len;

	event_batch_init(&b);
	for (i = 0; i < sizeof(syntaxes) / sizeof(syntaxes[0]); i++) {
		len = syntaxes[i].len ? syntaxes[i].len :
		    strlen(syntaxes[i].body);
		CHECK_EQ(event_parse_json(&b, syntaxes[i].body, len),
		    EVENT_SYNTAX);
		CHECK_EQ(b.n, 0);
		CHECK_EQ(b.nerr, 0);
		CHECK_EQ(b.nbad, 0);
		CHECK_EQ(b.syntax_line, 0);
		CHECK(b.syntax[0] != '\0');
		if (syntaxes[i].syntax)
			CHECK_STR(b.syntax, strlen(b.syntax),
			    syntaxes[i].syntax);
	}
	CHECK_EQ(event_parse_json(&b, NULL, 0), EVENT_SYNTAX);
	CHECK_STR(b.syntax, strlen(b.syntax), "empty body");
	event_batch_free(&b);
}

/* An event whose payload nests so the body is depth levels deep. */
static char *
deep_event(int depth, int in_array)
{
	struct buf s;
	int i, k = depth - 2 - in_array;	/* event, payload */

	buf_init(&s);
	buf_puts(&s, in_array ? "[" : "");
	buf_puts(&s, "{" TOP "," EID "," TS "," SRC ",\"payload\":");
	for (i = 0; i < k; i++)
		buf_puts(&s, "{\"a\":");
	buf_puts(&s, "{}");
	for (i = 0; i < k; i++)
		buf_putc(&s, '}');
	buf_puts(&s, in_array ? "}]" : "}");
	buf_cstr(&s);
	return s.data;
}

static void
test_depth(void)
{
	struct event_batch b;
	char *s;
	int arr;

	event_batch_init(&b);
	for (arr = 0; arr < 2; arr++) {
		s = deep_event(64, arr);
		CHECK_EQ(parse(&b, s), EVENT_OK);
		CHECK_EQ(b.n, 1);
		free(s);
		s = deep_event(65, arr);
		CHECK_EQ(parse(&b, s), EVENT_SYNTAX);
		CHECK(strstr(b.syntax, "nesting deeper than 64 levels") != NULL);
		free(s);
	}
	s = malloc(100000);
	memset(s, '[', 100000);
	CHECK_EQ(event_parse_json(&b, s, 100000), EVENT_SYNTAX);
	CHECK_STR(b.syntax, strlen(b.syntax),
	    "nesting deeper than 64 levels at byte 64");
	memset(s, '{', 1);
	for (int i = 1; i + 5 <= 100000; i += 5)
		memcpy(s + i, "\"a\":{", 5);
	CHECK_EQ(event_parse_json(&b, s, 100000), EVENT_SYNTAX);
	CHECK(strstr(b.syntax, "nesting deeper than 64 levels") != NULL);
	CHECK_EQ(event_parse_ndjson(&b, s, 100000), EVENT_SYNTAX);
	CHECK(strstr(b.syntax, "nesting deeper than 64 levels") != NULL);
	free(s);
	event_batch_free(&b);
}

static void
test_timestamps(void)
{
	static const char *const good[] = {
		"2025-10-21T10:00:00Z", "2025-10-21T10:00:00.123+07:00",
		"2024-02-29T00:00:00Z", "2000-02-29T12:00:00Z",
		"2025-10-21t10:00:00z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999-23:59", "2025-01-31T00:00:00+00:00",
		"2025-04-30T00:00:00.5Z", "2025-12-31T23:59:59-00:00",
		"2025-10-21T10:00:00.123456789012345678901234567890Z",
	};
	static const char *const bad[] = {
		"", "2025-10-21", "2025-10-21T10:00:00", "2023-02-29T00:00:00Z",
		"1900-02-29T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-00-10T00:00:00Z", "2025-04-31T00:00:00Z",
		"2025-01-00T00:00:00Z", "2025-01-32T00:00:00Z",
		"2025-10-21T24:00:00Z", "2025-10-21T23:60:00Z",
		"2025-10-21T23:59:60Z", "2025-10-21 10:00:00Z",
		"2025-10-21T10:00:00.Z",
		"2025-10-21T10:00:00+24:00", "2025-10-21T10:00:00+07:60",
		"2025-10-21T10:00:00+0700", "2025-10-21T10:00:00+07",
		"2025-10-21T10:00:00ZZ", "2025-10-21T10:00:00Z ",
		" 2025-10-21T10:00:00Z", "25-10-21T10:00:00Z",
		"2025-1-21T10:00:00Z", "2025/10/21T10:00:00Z",
		"+2025-10-21T10:00:00Z", "2025-10-21T1a:00:00Z",
		"2025-10-21T10:00:00,5Z", "2025-10-21T10:00:00-7:00",
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!event_valid_timestamp(good[i], strlen(good[i])))
			printf("#   refused %s\n", good[i]);
		CHECK_EQ(event_valid_timestamp(good[i], strlen(good[i])), 1);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (event_valid_timestamp(bad[i], strlen(bad[i])))
			printf("#   took %s\n", bad[i]);
		CHECK_EQ(event_valid_timestamp(bad[i], strlen(bad[i])), 0);
	}
	/* a prefix of a valid one, at every length */
	for (i = 0; i < strlen(good[1]); i++)
		CHECK_EQ(event_valid_timestamp(good[1], i), 0);
}

static void
test_lengths(void)
{
	struct event_batch b;
	struct event_fields f;
	char id[300], body[1200];
	int n;

	event_batch_init(&b);
	memset(id, 'x', sizeof(id));
	for (n = 254; n <= 257; n++) {
		snprintf(body, sizeof(body), EV_I("\"event_id\":\"%.*s\""),
		    n, id);
		CHECK_EQ(parse(&b, body), n <= 255 ? EVENT_OK : EVENT_INVALID);
		if (n > 255 && b.nerr == 1)
			CHECK_STR(b.err[0].msg, strlen(b.err[0].msg),
			    "longer than 255 bytes");
	}
	/* bytes are counted after decoding: "\u00e9" is 2 bytes */
	strcpy(body, "{\"topic\":\"a");
	for (n = 0; n < 127; n++)
		strcat(body, "\\u00e9");
	strcat(body, "\"," EID "," TS "," SRC "," PAY "}");
	CHECK_EQ(parse(&b, body), EVENT_OK);		/* 255 */
	event_fields(&b, 0, &f);
	CHECK_EQ(f.topic_len, 255);
	body[strlen("{\"topic\":\"")] = '\0';
	for (n = 0; n < 128; n++)
		strcat(body, "\\u00e9");
	strcat(body, "\"," EID "," TS "," SRC "," PAY "}");
	CHECK_EQ(parse(&b, body), EVENT_INVALID);		/* 256 */
	CHECK(b.nerr == 1 && strcmp(b.err[0].msg, "longer than 255 bytes") == 0);
	event_batch_free(&b);
}

/* The fields as stored: decoded strings, canonical payload. */
static void
test_stored(void)
{
	static const char body[] = "{ \"topic\" : \"caf\\u00e9\\/x\" , "
	    "\"event_id\":\"\\ud83d\\ude00\",\"timestamp\":\"2025-10-21t10:00:00"
	    ".5z\",\"source\":\"s\\\"q\\\\\",\"payload\": { \"b\" : [ 1.0 , -0 ,"
	    " 0.1 , 18446744073709551616 , \"\\u00e9\\/\\u0001\" ] , \"c\" : "
	    "{ } , \"d\" : true } , \"other\" : 1 }";
	struct event_batch b, b2;
	struct event_fields f, g;
	struct buf s;
	struct event_stored at = { 7, 1761040800123 };	/* 2025-10-21T10:00:00.123Z */

	event_batch_init(&b);
	event_batch_init(&b2);
	buf_init(&s);
	CHECK_EQ(parse(&b, body), EVENT_OK);
	CHECK_EQ(b.n, 1);
	event_fields(&b, 0, &f);
	CHECK_STR(f.topic, f.topic_len, "caf\xc3\xa9/x");
	CHECK_STR(f.event_id, f.event_id_len, "\xf0\x9f\x98\x80");
	CHECK_STR(f.timestamp, f.timestamp_len, "2025-10-21t10:00:00.5z");
	CHECK_STR(f.source, f.source_len, "s\"q\\");
	CHECK_STR(f.payload, f.payload_len, "{\"b\":[1,0,0.1,"
	    "1.8446744073709552e+19,\"\xc3\xa9/\\u0001\"],\"c\":{},\"d\":true}");
	/* written, then parsed again: the same fields, byte for byte */
	CHECK_EQ(event_write_json(&s, &f, &at), 0);
	CHECK_STR(s.data, s.len, "{\"topic\":\"caf\xc3\xa9/x\",\"event_id\":"
	    "\"\xf0\x9f\x98\x80\",\"timestamp\":\"2025-10-21t10:00:00.5z\","
	    "\"source\":\"s\\\"q\\\\\",\"payload\":{\"b\":[1,0,0.1,"
	    "1.8446744073709552e+19,\"\xc3\xa9/\\u0001\"],\"c\":{},\"d\":true},"
	    "\"seq\":7,\"received_at\":\"2025-10-21T10:00:00.123Z\"}");
	CHECK_EQ(event_parse_json(&b2, s.data, s.len), EVENT_OK);
	event_fields(&b2, 0, &g);
	CHECK(g.topic_len == f.topic_len &&
	    memcmp(g.topic, f.topic, f.topic_len) == 0);
	CHECK(g.event_id_len == f.event_id_len &&
	    memcmp(g.event_id, f.event_id, f.event_id_len) == 0);
	CHECK(g.timestamp_len == f.timestamp_len &&
	    memcmp(g.timestamp, f.timestamp, f.timestamp_len) == 0);
	CHECK(g.source_len == f.source_len &&
	    memcmp(g.source, f.source, f.source_len) == 0);
	CHECK(g.payload_len == f.payload_len &&	/* idempotent */
	    memcmp(g.payload, f.payload, f.payload_len) == 0);
	s.len = 0;
	CHECK_EQ(event_write_json(&s, &f, NULL), 0);
	CHECK(s.len > 6 && memcmp(s.data + s.len - 6, "true}}", 6) == 0);
	s.len = 0;
	at.received_ms = -1;	/* stored by aggd 1.1 */
	CHECK_EQ(event_write_json(&s, &f, &at), 0);
	CHECK(s.len > 33 && memcmp(s.data + s.len - 33,
	    "true},\"seq\":7,\"received_at\":null}", 33) == 0);
	buf_free(&s);
	event_batch_free(&b);
	event_batch_free(&b2);
}

static void
test_ndjson(void)
{
	static const char ok[] = EV "\r\n\n  \t\r\n" EV "\n" EV;
	static const char bad[] = EV "\n\n{\"topic\":\"\"}\n" EV "\n[" EV "]\n"
	    " 5 \n";
	static const char syn[] = EV "\n{\"topic\":5}\n\n" EV " " EV "\n" EV;
	struct event_batch b;

	event_batch_init(&b);
	CHECK_EQ(event_parse_ndjson(&b, ok, sizeof(ok) - 1), EVENT_OK);
	CHECK_EQ(b.n, 3);
	CHECK_EQ(event_parse_ndjson(&b, "", 0), EVENT_OK);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(event_parse_ndjson(&b, NULL, 0), EVENT_OK);
	CHECK_EQ(event_parse_ndjson(&b, "\n \r\n\n", 5), EVENT_OK);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(event_parse_ndjson(&b, EV "\n", sizeof(EV)), EVENT_OK);
	CHECK_EQ(b.n, 1);

	CHECK_EQ(event_parse_ndjson(&b, bad, sizeof(bad) - 1), EVENT_INVALID);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(b.arena.len, 0);
	CHECK_EQ(b.nbad, 7);	/* 5 of line 3, the array, the 5 */
	if (b.nerr == 7) {
		CHECK_EQ(b.err[0].index, 1);
		CHECK_EQ(b.err[0].line, 3);
		CHECK_STR(b.err[0].msg, strlen(b.err[0].msg),
		    "must not be empty");
		CHECK_EQ(b.err[4].line, 3);
		CHECK_STR(b.err[4].field, strlen(b.err[4].field), "payload");
		CHECK_EQ(b.err[5].index, 3);
		CHECK_EQ(b.err[5].line, 5);
		CHECK(b.err[5].field == NULL);
		CHECK_STR(b.err[5].msg, strlen(b.err[5].msg),
		    "must be a JSON object");
		CHECK_EQ(b.err[6].index, 4);
		CHECK_EQ(b.err[6].line, 6);
	}

	CHECK_EQ(event_parse_ndjson(&b, syn, sizeof(syn) - 1), EVENT_SYNTAX);
	CHECK_EQ(b.n, 0);
	CHECK_EQ(b.nerr, 0);
	CHECK_EQ(b.syntax_line, 4);
	CHECK(strncmp(b.syntax, "line 4: invalid JSON at byte ", 29) == 0);
	CHECK(strstr(b.syntax, "unexpected data after the value") != NULL);

	CHECK_EQ(event_parse_ndjson(&b, EV "\n{\"a\":\"\\ud800\"}", 
	    sizeof(EV "\n{\"a\":\"\\ud800\"}") - 1), EVENT_SYNTAX);
	CHECK_STR(b.syntax, strlen(b.syntax),
	    "line 2: invalid UTF-8 (lone surrogate escape) at byte 6");
	CHECK_EQ(b.syntax_line, 2);
	/* a line is one event: "events" is an ignored member there */
	CHECK_EQ(event_parse_ndjson(&b, "{\"events\":[" EV "]}",
	    strlen("{\"events\":[" EV "]}")), EVENT_INVALID);
	CHECK_EQ(b.nbad, 5);
	/* a newline inside a string is a control character: the line ends */
	CHECK_EQ(event_parse_ndjson(&b, EV_T("\"topic\":\"a\nb\""),
	    strlen(EV_T("\"topic\":\"a\nb\""))), EVENT_SYNTAX);
	CHECK_EQ(b.syntax_line, 1);
	event_batch_free(&b);
}

static void
test_line(void)
{
	struct event_batch b;
	struct event_fields f;
	size_t alen;

	event_batch_init(&b);
	CHECK_EQ(event_parse_line(&b, EV, strlen(EV)), EVENT_OK);
	CHECK_EQ(event_parse_line(&b, EV "\r", strlen(EV) + 1), EVENT_OK);
	CHECK_EQ(b.n, 2);
	alen = b.arena.len;
	CHECK_EQ(event_parse_line(&b, "  ", 2), EVENT_OK);	/* blank */
	CHECK_EQ(b.n, 2);

	CHECK_EQ(event_parse_line(&b, EV_S("\"timestamp\":\"2025-02-30T00:00:00Z\""),
	    strlen(EV_S("\"timestamp\":\"2025-02-30T00:00:00Z\""))),
	    EVENT_INVALID);
	CHECK_STR(b.syntax, strlen(b.syntax),
	    "timestamp: must be an RFC 3339 date-time");
	CHECK_EQ(b.n, 2);
	CHECK_EQ(b.arena.len, alen);
	CHECK_EQ(b.nerr, 0);
	CHECK_EQ(b.nbad, 0);

	CHECK_EQ(event_parse_line(&b, "{\"topic\":\"t\"}", 13), EVENT_INVALID);
	CHECK_STR(b.syntax, strlen(b.syntax), "event_id: missing");
	CHECK_EQ(event_parse_line(&b, "[1]", 3), EVENT_INVALID);
	CHECK_STR(b.syntax, strlen(b.syntax), "event: must be a JSON object");
	CHECK_EQ(event_parse_line(&b, EV_P("\"payload\":{\"x\":1e999}"),
	    strlen(EV_P("\"payload\":{\"x\":1e999}"))), EVENT_INVALID);
	CHECK_STR(b.syntax, strlen(b.syntax), "payload: number out of range");
	CHECK_EQ(b.arena.len, alen);

	CHECK_EQ(event_parse_line(&b, EV " x", strlen(EV) + 2), EVENT_SYNTAX);
	CHECK(strstr(b.syntax, "unexpected data after the value") != NULL);
	CHECK_EQ(event_parse_line(&b, "{\"topic\":\"a", 11), EVENT_SYNTAX);
	CHECK_STR(b.syntax, strlen(b.syntax),
	    "invalid JSON at byte 9: unterminated string");
	CHECK_EQ(b.n, 2);
	CHECK_EQ(b.arena.len, alen);

	/* what came before is intact */
	event_fields(&b, 1, &f);
	CHECK_STR(f.topic, f.topic_len, "orders");
	CHECK_STR(f.payload, f.payload_len, "{\"amount\":12.5}");
	CHECK_EQ(event_parse_line(&b, EV, strlen(EV)), EVENT_OK);
	CHECK_EQ(b.n, 3);
	CHECK_EQ(b.syntax[0], '\0');
	event_batch_free(&b);
}

/* Many events: the arrays grow, the offsets stay right. */
static void
test_many(void)
{
	struct event_batch b;
	struct event_fields f;
	struct buf s;
	char want[32];
	int i;

	event_batch_init(&b);
	buf_init(&s);
	buf_putc(&s, '[');
	for (i = 0; i < 5000; i++)
		buf_printf(&s, "%s{" TOP ",\"event_id\":\"id-%d\"," TS "," SRC
		    ",\"payload\":{\"i\":%d}}", i ? "," : "", i, i);
	buf_putc(&s, ']');
	CHECK_EQ(event_parse_json(&b, s.data, s.len), EVENT_OK);
	CHECK_EQ(b.n, 5000);
	for (i = 0; i < 5000; i += 999) {
		event_fields(&b, (size_t)i, &f);
		snprintf(want, sizeof(want), "id-%d", i);
		CHECK_STR(f.event_id, f.event_id_len, want);
		snprintf(want, sizeof(want), "{\"i\":%d}", i);
		CHECK_STR(f.payload, f.payload_len, want);
	}
	buf_free(&s);
	event_batch_free(&b);
}

/* Times as ms since 1970, and back as UTC with milliseconds. */
static void
test_rfc3339(void)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} times[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2025-10-21T10:00:00Z", 1761040800000 },
		{ "2025-10-21T10:00:00.123456Z", 1761040800123 },
		{ "2025-10-21T12:00:00.5+02:00", 1761040800500 },
		{ "2025-10-21T05:30:00-04:30", 1761040800000 },
		{ "2000-02-29T23:59:59.999z", 951868799999 },
		{ "1969-12-31T23:59:59.001Z", -999 },
		{ "9999-12-31T23:59:59Z", 253402300799000 },
	};
	static const char *const bad[] = {
		"2025-02-29T00:00:00Z", "2025-10-21T24:00:00Z",
		"2025-10-21T10:00:60Z", "2025-10-21 10:00:00Z",
		"2025-10-21T10:00:00", "2025-10-21T10:00:00.Z",
		"2025-10-21T10:00:00+2:00", "",
	};
	char out[RFC3339_MS_LEN];
	int64_t ms;
	size_t i;

	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		CHECK_EQ(rfc3339_parse(times[i].text, strlen(times[i].text),
		    &ms), 0);
		CHECK_EQ(ms, times[i].ms);
		rfc3339_format(ms, out);
		CHECK_EQ(rfc3339_parse(out, strlen(out), &ms), 0);
		CHECK_EQ(ms, times[i].ms);	/* the round trip is exact */
	}
	rfc3339_format(1761040800123, out);
	CHECK_STR(out, strlen(out), "2025-10-21T10:00:00.123Z");
	rfc3339_format(-999, out);
	CHECK_STR(out, strlen(out), "1969-12-31T23:59:59.001Z");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ(rfc3339_parse(bad[i], strlen(bad[i]), &ms), -1);
}

int
main(void)
{
	T_RUN(test_rfc3339);
	T_RUN(test_rules);
	T_RUN(test_ambiguous_wrapper);
	T_RUN(test_second_events_member);
	T_RUN(test_forms);
	T_RUN(test_collect);
	T_RUN(test_syntax);
	T_RUN(test_depth);
	T_RUN(test_timestamps);
	T_RUN(test_lengths);
	T_RUN(test_stored);
	T_RUN(test_ndjson);
	T_RUN(test_line);
	T_RUN(test_many);
	return t_done();
}
