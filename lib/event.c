/*
 * event.c - publish bodies in, validated event batches out.
 *
 * One pass with the pull reader of json.h: the strings of each event go
 * decoded into the batch arena, its payload in canonical form, and every
 * rule violation of the body is recorded before the verdict; a syntax
 * error stops the pass at once.  Invariants: the batch holds only events
 * that passed every rule; after event_parse_json or event_parse_ndjson
 * fails it holds none (event_parse_line puts it back as it was); events
 * refer to the arena by offset, which must fit in 32 bits, because the
 * arena moves as it grows; b->err is NULL or has room for
 * EVENT_MAX_ERRORS entries (3 KiB, so it is allocated whole, once).
 *
 * Decisions the contract leaves open:
 * - A body or NDJSON line that is valid JSON but not an object (5, "x",
 *   an array on an NDJSON line) is a rule violation "must be a JSON
 *   object" (422), like a non-object element of an array.
 * - The top-level object is a wrapper when one of its "events" members is
 *   an array; that array is the batch, and everything else in the
 *   wrapper is only checked to be JSON.  A second "events" member is
 *   refused as malformed (400): parsers disagree on which one wins, so a
 *   proxy in front of aggd could have seen another batch.  An
 *   object with both an "events" array and any of the five event fields
 *   could be either, and is refused (422) rather than read one way.
 * - An NDJSON line is always one event: "events" there is an ordinary
 *   member.  An NDJSON body with no non-blank line is an empty batch.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "event.h"
#include "rfc3339.h"
#include "json.h"

/* The five members, in the order they are checked for "missing". */
enum field { F_TOPIC, F_EVENT_ID, F_TIMESTAMP, F_SOURCE, F_PAYLOAD, NFIELD,
	F_EVENTS, F_OTHER };

static const char *const field_name[NFIELD] = {
	"topic", "event_id", "timestamp", "source", "payload"
};

/* One parse call. */
struct ctx {
	struct event_batch	*b;
	struct json_reader	 r;
	long			 line;		/* NDJSON line, 0 for JSON */
	int			 nomem;		/* out of memory (or of 32 bits) */
	const char		*first_field;	/* the first violation, */
	const char		*first_msg;	/* for event_parse_line */
	int			 ndjson;	/* JSON lines sent as one JSON text */
};

void
event_batch_init(struct event_batch *b)
{
	b->ev = NULL;
	b->n = b->cap = 0;
	buf_init(&b->arena);
	b->err = NULL;
	event_batch_reset(b);
}

void
event_batch_reset(struct event_batch *b)
{
	b->n = 0;
	b->arena.len = 0;
	b->nerr = b->nbad = 0;
	b->syntax[0] = '\0';
	b->syntax_line = 0;
}

void
event_batch_free(struct event_batch *b)
{
	free(b->ev);
	free(b->err);
	buf_free(&b->arena);
	event_batch_init(b);
}

static void
ctx_init(struct ctx *c, struct event_batch *b, const char *s, size_t len)
{
	c->b = b;
	json_reader_init(&c->r, s, len);
	c->line = 0;
	c->nomem = c->ndjson = 0;
	c->first_field = c->first_msg = NULL;
}

/* Records a violation; returns -1 only when memory runs out. */
static int
violation(struct ctx *c, size_t index, const char *field, const char *msg)
{
	struct event_batch *b = c->b;
	struct event_error *e;

	if (c->first_msg == NULL) {
		c->first_field = field;
		c->first_msg = msg;
	}
	b->nbad++;
	if (b->nerr == EVENT_MAX_ERRORS)
		return 0;
	if (b->err == NULL &&
	    (b->err = calloc(EVENT_MAX_ERRORS, sizeof(*b->err))) == NULL) {
		c->nomem = 1;
		return -1;
	}
	e = &b->err[b->nerr++];
	e->index = index;
	e->line = c->line;
	e->field = field;
	e->msg = msg;
	return 0;
}

/* Passes over a value that breaks a rule, and records that. */
static int
skip_bad(struct ctx *c, size_t index, const char *field, const char *msg)
{
	if (json_skip(&c->r) < 0)
		return -1;
	return violation(c, index, field, msg);
}

static int
push(struct ctx *c, const struct event *ev)
{
	struct event_batch *b = c->b;

	if (b->n == b->cap && array_grow(&b->ev, &b->cap, b->n + 1,
	    sizeof(*b->ev), 64) == -1) {
		c->nomem = 1;
		return -1;
	}
	b->ev[b->n++] = *ev;
	return 0;
}

/* The arena from mark to its end becomes *sp, if offsets still fit. */
static int
set_span(struct ctx *c, struct span *sp, size_t mark)
{
	if (c->b->arena.len > UINT32_MAX) {
		c->nomem = 1;
		return -1;
	}
	sp->off = (uint32_t)mark;
	sp->len = (uint32_t)(c->b->arena.len - mark);
	return 0;
}

/*
 * U+0000-U+001F, U+007F-U+009F in valid UTF-8 (0xC2 is a lead byte there).
 * Words of eight bytes in 0x20..0x7E, the usual text, pass in one test:
 * b - 0x20 borrows below 0x20, b + 1 carries into the top bit from 0x7F.
 */
static int
has_control(const unsigned char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = ones * 0x80;
	size_t i = 0;
	uint64_t v;

	for (; n - i >= 8; i += 8) {
		memcpy(&v, s + i, 8);
		if ((((v - ones * 0x20) | (v + ones) | v) & high) != 0)
			break;
	}
	for (; i < n; i++)
		if (s[i] < 0x20 || s[i] == 0x7F ||
		    (s[i] == 0xC2 && i + 1 < n && s[i + 1] <= 0x9F))
			return 1;
	return 0;
}

static const char *
text_problem(enum field f, const char *s, size_t len)
{
	if (f == F_TIMESTAMP)
		return event_valid_timestamp(s, len) ? NULL :
		    "must be an RFC 3339 date-time";
	if (len == 0)
		return "must not be empty";
	if (len > EVENT_FIELD_MAX)
		return "longer than 255 bytes";
	if (has_control((const unsigned char *)s, len))
		return "contains a control character";
	return NULL;
}

const char *
event_text_problem(const char *s, size_t len)
{
	if (!json_valid_utf8(s, len))
		return "is not valid UTF-8";
	return text_problem(F_TOPIC, s, len);
}

/* topic, event_id, timestamp or source: decoded into the arena. */
static int
text_field(struct ctx *c, size_t index, enum field f, struct span *sp)
{
	struct buf *a = &c->b->arena;
	size_t mark = a->len;
	const char *msg;

	if (json_peek(&c->r) != JSON_STRING)
		return skip_bad(c, index, field_name[f], "must be a string");
	if (json_read_string(&c->r, a) < 0)
		return -1;
	msg = text_problem(f, a->len > mark ? a->data + mark : "",
	    a->len - mark);
	if (msg != NULL) {
		a->len = mark;
		return violation(c, index, field_name[f], msg);
	}
	return set_span(c, sp, mark);
}

static int
payload_field(struct ctx *c, size_t index, struct span *sp)
{
	struct buf *a = &c->b->arena;
	size_t mark = a->len, over = c->r.overflow;

	if (json_peek(&c->r) != JSON_OBJECT)
		return skip_bad(c, index, "payload", "must be a JSON object");
	if (json_copy(&c->r, a) < 0)
		return -1;
	if (c->r.overflow != over) {
		a->len = mark;
		return violation(c, index, "payload", "number out of range");
	}
	return set_span(c, sp, mark);
}

static enum field
field_of(const char *s, size_t n)
{
	enum field f;

	switch (n) {
	case 5:	f = F_TOPIC; break;
	case 6:	f = s[0] == 'e' ? F_EVENTS : F_SOURCE; break;
	case 7:	f = F_PAYLOAD; break;
	case 8:	f = F_EVENT_ID; break;
	case 9:	f = F_TIMESTAMP; break;
	default:
		return F_OTHER;
	}
	/* Now one comparison decides: the names differ in length. */
	return memcmp(s, f == F_EVENTS ? "events" : field_name[f], n) == 0 ?
	    f : F_OTHER;
}

/* One member of an event: seen has a bit per member met so far. */
static int
member(struct ctx *c, size_t index, enum field f, struct span *sp,
    unsigned *seen)
{
	if (f >= NFIELD)
		return json_skip(&c->r) < 0 ? -1 : 0;
	if (*seen & 1u << f)
		return skip_bad(c, index, field_name[f], "duplicate member");
	*seen |= 1u << f;
	if (f == F_PAYLOAD)
		return payload_field(c, index, &sp[f]);
	return text_field(c, index, f, &sp[f]);
}

static int	parse_array(struct ctx *);

#define AMBIGUOUS	"an \"events\" array next to event fields:" \
			" send one event or {\"events\": [...]}"

/*
 * The rest of a wrapper object, after its "events" array: what was read
 * of it as an event is forgotten, the array parsed, the rest skipped.
 */
static int
wrapper(struct ctx *c, size_t amark)
{
	const char *name;
	size_t nlen, km;
	int rc, f;

	c->b->arena.len = amark;
	c->b->nerr = c->b->nbad = 0;	/* nothing comes before the top */
	c->first_field = c->first_msg = NULL;
	if (parse_array(c) < 0)
		return -1;
	for (;;) {
		km = c->b->arena.len;
		rc = json_object_next(&c->r, &c->b->arena, &name, &nlen);
		c->b->arena.len = km;
		if (rc != 1)
			return rc < 0 ? -1 : 0;
		f = field_of(name, nlen);
		if (f == F_EVENTS)
			return json_refuse(&c->r, "a second \"events\" member");
		if (f < NFIELD && violation(c, 0, "events", AMBIGUOUS) < 0)
			return -1;
		if (json_skip(&c->r) < 0)
			return -1;
	}
}

/* The members of an event whose '{' has been read; top: may be a wrapper. */
static int
members(struct ctx *c, size_t index, int top, struct span *sp,
    unsigned *seen)
{
	struct buf *a = &c->b->arena;
	size_t amark = a->len, nlen, km;
	const char *name;
	enum field f;
	int rc, events = 0;

	for (;;) {
		km = a->len;
		if ((rc = json_object_next(&c->r, a, &name, &nlen)) != 1)
			return rc < 0 ? -1 : 0;
		f = field_of(name, nlen);
		a->len = km;		/* drop a decoded name */
		if (top && f == F_EVENTS && events++ > 0)
			return json_refuse(&c->r, "a second \"events\" member");
		if (top && f == F_EVENTS && json_peek(&c->r) == JSON_ARRAY) {
			if (*seen == 0) {
				*seen = 1u << NFIELD;
				return wrapper(c, amark);
			}
			if (violation(c, index, "events", AMBIGUOUS) < 0)
				return -1;
		}
		if (member(c, index, f, sp, seen) < 0)
			return -1;
	}
}

/* The value at the cursor as event number index of the body. */
static int
parse_event(struct ctx *c, size_t index, int top)
{
	struct span sp[NFIELD];
	struct event ev;
	size_t nbad0 = c->b->nbad;
	unsigned seen = 0;
	int f;

	if (json_peek(&c->r) != JSON_OBJECT)
		return skip_bad(c, index, NULL, "must be a JSON object");
	if (json_object_begin(&c->r) < 0 ||
	    members(c, index, top, sp, &seen) < 0)
		return -1;
	if (seen & 1u << NFIELD)	/* it was a wrapper */
		return 0;
	for (f = 0; f < NFIELD; f++)
		if (!(seen & 1u << f) &&
		    violation(c, index, field_name[f], "missing") < 0)
			return -1;
	if (c->b->nbad != nbad0)
		return 0;
	ev.topic = sp[F_TOPIC];
	ev.event_id = sp[F_EVENT_ID];
	ev.timestamp = sp[F_TIMESTAMP];
	ev.source = sp[F_SOURCE];
	ev.payload = sp[F_PAYLOAD];
	return push(c, &ev);
}

static int
parse_array(struct ctx *c)
{
	size_t index = 0;
	int rc;

	if (json_array_begin(&c->r) < 0)
		return -1;
	while ((rc = json_array_next(&c->r)) == 1)
		if (parse_event(c, index++, 0) < 0)
			return -1;
	return rc < 0 ? -1 : 0;
}

/* Only JSON white space (so a lone '\r' of a CRLF line is blank too). */
static int
blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return 0;
	return 1;
}

/* The verdict of a whole body: all or nothing. */
static int
finish(struct ctx *c, int rc)
{
	struct event_batch *b = c->b;

	if (rc == 0 && b->nbad == 0)
		return EVENT_OK;
	b->n = 0;
	b->arena.len = 0;
	if (rc == 0)
		return EVENT_INVALID;
	b->nerr = b->nbad = 0;
	if (c->nomem || c->r.status == JSON_ENOMEM)
		return -1;
	if (c->line > 0)
		snprintf(b->syntax, sizeof(b->syntax), "line %ld: %s",
		    c->line, c->r.err);
	else
		snprintf(b->syntax, sizeof(b->syntax), "%s%s", c->r.err,
		    c->ndjson ? "; it looks like NDJSON: send it with"
		    " Content-Type: application/x-ndjson" : "");
	b->syntax_line = c->line;
	return EVENT_SYNTAX;
}

/*
 * After a whole first value, p[0..end) is more of them, one a line: what
 * curl --data-binary @file.ndjson sends without the NDJSON content type.
 */
static int
looks_like_ndjson(const char *p, const char *end)
{
	int newline = 0;

	for (; p < end && strchr(" \t\r\n", *p); p++)
		newline |= *p == '\n';
	return newline && p < end && *p == '{';
}

int
event_parse_json(struct event_batch *b, const char *body, size_t len)
{
	struct ctx c;
	int rc, ndjson;

	event_batch_reset(b);
	if (blank(body, len)) {
		snprintf(b->syntax, sizeof(b->syntax), "empty body");
		return EVENT_SYNTAX;
	}
	ctx_init(&c, b, body, len);
	if (json_peek(&c.r) == JSON_ARRAY)
		rc = parse_array(&c);
	else
		rc = parse_event(&c, 0, 1);
	/* A whole value read: json_end can only find data after it. */
	ndjson = rc == 0 && c.r.status == 0 && looks_like_ndjson(c.r.p,
	    body + len);
	if (rc == 0 && json_end(&c.r) < 0) {
		c.ndjson = ndjson;
		rc = -1;
	}
	return finish(&c, rc);
}

/* One line: exactly one value, an event. */
static int
parse_one(struct ctx *c, const char *s, size_t n, size_t index)
{
	json_reader_init(&c->r, s, n);
	if (parse_event(c, index, 0) < 0 || json_end(&c->r) < 0)
		return -1;
	return 0;
}

int
event_parse_ndjson(struct event_batch *b, const char *body, size_t len)
{
	const char *p = body, *end, *nl;
	size_t index = 0;
	struct ctx c;
	int rc = 0;

	event_batch_reset(b);
	ctx_init(&c, b, NULL, 0);
	if (len == 0)		/* body may be NULL then */
		return EVENT_OK;
	for (end = body + len; p < end && rc == 0;) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		c.line++;
		if (!blank(p, (size_t)(nl - p)))
			rc = parse_one(&c, p, (size_t)(nl - p), index++);
		p = nl < end ? nl + 1 : end;
	}
	return finish(&c, rc);
}

/*
 * A blank line is EVENT_OK and appends nothing (callers compare b->n).
 * The violations of a bad line are not kept in b->err: the one sentence
 * in b->syntax is the whole report.
 */
int
event_parse_line(struct event_batch *b, const char *line, size_t len)
{
	size_t n0 = b->n, a0 = b->arena.len, nerr0 = b->nerr, nbad0 = b->nbad;
	struct ctx c;
	int rc;

	b->syntax[0] = '\0';
	b->syntax_line = 0;
	if (blank(line, len))
		return EVENT_OK;
	ctx_init(&c, b, NULL, 0);
	rc = parse_one(&c, line, len, n0);
	if (rc == 0 && b->nbad == nbad0)
		return EVENT_OK;
	b->n = n0;
	b->arena.len = a0;
	b->nerr = nerr0;
	b->nbad = nbad0;
	if (c.nomem || c.r.status == JSON_ENOMEM)
		return -1;
	if (rc < 0) {
		snprintf(b->syntax, sizeof(b->syntax), "%s", c.r.err);
		return EVENT_SYNTAX;
	}
	snprintf(b->syntax, sizeof(b->syntax), "%s: %s",
	    c.first_field ? c.first_field : "event", c.first_msg);
	return EVENT_INVALID;
}

/* The fields of ev, whose spans are in the arena a. */
static void
fields_of(const char *a, const struct event *ev, struct event_fields *f)
{
	f->topic = a + ev->topic.off;
	f->topic_len = ev->topic.len;
	f->event_id = a + ev->event_id.off;
	f->event_id_len = ev->event_id.len;
	f->timestamp = a + ev->timestamp.off;
	f->timestamp_len = ev->timestamp.len;
	f->source = a + ev->source.off;
	f->source_len = ev->source.len;
	f->payload = a + ev->payload.off;
	f->payload_len = ev->payload.len;
}

void
event_fields(const struct event_batch *b, size_t i, struct event_fields *f)
{
	fields_of(b->arena.data, &b->ev[i], f);
}

int
event_write_json(struct buf *out, const struct event_fields *f,
    const struct event_stored *st)
{
	size_t mark = out->len;
	char at[RFC3339_MS_LEN + 2] = "null";

	if (st && st->received_ms >= 0) {
		at[0] = '"';
		rfc3339_format(st->received_ms, at + 1);
		strcat(at, "\"");
	}

	if (buf_puts(out, "{\"topic\":") == -1 ||
	    json_write_string(out, f->topic, f->topic_len) == -1 ||
	    buf_puts(out, ",\"event_id\":") == -1 ||
	    json_write_string(out, f->event_id, f->event_id_len) == -1 ||
	    buf_puts(out, ",\"timestamp\":") == -1 ||
	    json_write_string(out, f->timestamp, f->timestamp_len) == -1 ||
	    buf_puts(out, ",\"source\":") == -1 ||
	    json_write_string(out, f->source, f->source_len) == -1 ||
	    buf_puts(out, ",\"payload\":") == -1 ||
	    buf_append(out, f->payload, f->payload_len) == -1 ||
	    (st && buf_printf(out, ",\"seq\":%" PRId64 ",\"received_at\":%s",
	    st->seq, at) == -1) ||
	    buf_putc(out, '}') == -1) {
		out->len = mark;
		return -1;
	}
	return 0;
}

int
event_valid_timestamp(const char *s, size_t len)
{
	return rfc3339_parse(s, len, NULL) == 0;
}

/* One member of a stored event: a field, or seq, or received_at. */
static int
stored_member(struct json_reader *r, struct buf *arena, const char *name,
    size_t nlen, struct span *sp, unsigned *seen, struct event_stored *at)
{
	char num[32];
	size_t mark = arena->len;
	int64_t ms;
	enum field f;

	if (nlen == 3 && memcmp(name, "seq", 3) == 0) {
		if (json_peek(r) != JSON_NUMBER || json_copy(r, arena) < 0 ||
		    arena->len - mark >= sizeof(num))
			return -1;
		memcpy(num, arena->data + mark, arena->len - mark);
		num[arena->len - mark] = '\0';
		arena->len = mark;
		at->seq = strtoll(num, NULL, 10);
		return at->seq >= 1 ? 0 : -1;
	}
	if (nlen == 11 && memcmp(name, "received_at", 11) == 0) {
		if (json_peek(r) == JSON_NULL)
			return json_skip(r) < 0 ? -1 : 0;
		if (json_read_string(r, arena) < 0 || rfc3339_parse(arena->data +
		    mark, arena->len - mark, &ms) == -1)
			return -1;
		arena->len = mark;
		at->received_ms = ms;
		return 0;
	}
	if ((f = field_of(name, nlen)) >= NFIELD)
		return json_skip(r) < 0 ? -1 : 0;
	if (f == F_PAYLOAD ? json_copy(r, arena) < 0 :
	    json_read_string(r, arena) < 0)
		return -1;
	sp[f].off = (uint32_t)mark;
	sp[f].len = (uint32_t)(arena->len - mark);
	*seen |= 1u << f;
	return 0;
}

int
event_read_stored(struct json_reader *r, struct buf *arena,
    struct event_fields *f, struct event_stored *at)
{
	struct span sp[NFIELD];
	struct buf names;	/* a member name with escapes, decoded */
	struct event ev;
	const char *name;
	size_t nlen;
	unsigned seen = 0;
	int rc;

	arena->len = 0;
	*at = (struct event_stored){ 0, -1 };
	if (json_peek(r) != JSON_OBJECT || json_object_begin(r) < 0)
		return -1;
	buf_init(&names);
	while ((rc = json_object_next(r, &names, &name, &nlen)) == 1) {
		rc = stored_member(r, arena, name, nlen, sp, &seen, at);
		names.len = 0;
		if (rc == -1)
			break;
	}
	buf_free(&names);
	if (rc < 0 || seen != (1u << NFIELD) - 1 || at->seq == 0 ||
	    arena->len > UINT32_MAX)
		return -1;
	ev = (struct event){ sp[F_TOPIC], sp[F_EVENT_ID], sp[F_TIMESTAMP],
	    sp[F_SOURCE], sp[F_PAYLOAD] };
	fields_of(arena->data, &ev, f);
	return 0;
}
