/*
 * event.h - the event model: publish bodies in, validated batches out.
 *
 * An event is {topic, event_id, timestamp, source, payload}.  Parsing a body
 * either yields every event of it, validated, or says why not: a syntax
 * problem (HTTP 400) or a list of rule violations (HTTP 422).  Strings are
 * stored decoded (raw UTF-8) and the payload in canonical JSON (json.h),
 * all in one arena owned by the batch; events refer to it by offset, so the
 * arena may move while it grows.
 *
 * Rules (agg(7), aggd(8)): topic, event_id, source: strings of 1-255
 * bytes of valid UTF-8 without control characters (U+0000-U+001F,
 * U+007F-U+009F); timestamp: an RFC 3339 date-time that is a real calendar
 * date and time; payload: a JSON object.  A second occurrence of one of
 * the five members in the same event is a violation ("duplicate member").
 * Other members are ignored.  Numbers out of double range (1e400) in the
 * payload are a violation of field "payload".
 */
#ifndef AGG_EVENT_H
#define AGG_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define EVENT_FIELD_MAX		255	/* bytes, for topic, event_id, source */
#define EVENT_MAX_ERRORS	100	/* violations listed per request */

/* Results of the parse functions. */
#define EVENT_OK	0
#define EVENT_SYNTAX	1	/* not JSON, bad UTF-8, too deep...: 400 */
#define EVENT_INVALID	2	/* JSON that breaks the event rules: 422 */

struct span {
	uint32_t	off;
	uint32_t	len;
};

struct event {
	struct span	topic, event_id, timestamp, source, payload;
};

/* One rule violation.  field is NULL when the event is not an object. */
struct event_error {
	size_t		 index;		/* 0-based position of the event */
	long		 line;		/* NDJSON line (1-based), 0 for JSON */
	const char	*field;		/* "topic", ..., static */
	const char	*msg;		/* "missing", ..., static */
};

struct event_batch {
	struct event	*ev;
	size_t		 n, cap;
	struct buf	 arena;
	struct event_error *err;	/* at most EVENT_MAX_ERRORS */
	size_t		 nerr;
	size_t		 nbad;		/* violations in all, listed or not */
	char		 syntax[256];	/* the 400 message: one sentence */
	long		 syntax_line;	/* NDJSON line of it, 0 otherwise */
};

/* Borrowed view of one event's fields, for writers. */
struct event_fields {
	const char	*topic, *event_id, *timestamp, *source, *payload;
	size_t		 topic_len, event_id_len, timestamp_len, source_len,
			 payload_len;
};

void	event_batch_init(struct event_batch *);
void	event_batch_reset(struct event_batch *);	/* empty, keeps memory */
void	event_batch_free(struct event_batch *);

/*
 * A JSON body: one event object, an array of events, or an object whose
 * member "events" is an array of events (then the object's other members
 * are ignored).  All or nothing: on EVENT_SYNTAX or EVENT_INVALID the batch
 * holds no events.  Returns -1 only when memory runs out.
 */
int	event_parse_json(struct event_batch *, const char *body, size_t len);

/* An NDJSON body: one event object per line; blank lines are skipped. */
int	event_parse_ndjson(struct event_batch *, const char *body, size_t len);

/*
 * One NDJSON line (without its newline), for streams that skip bad lines:
 * on success appends the event; otherwise leaves the events as they were
 * and puts one sentence naming the problem ("topic: missing") in
 * b->syntax.  Returns EVENT_OK, EVENT_SYNTAX, EVENT_INVALID or -1.
 */
int	event_parse_line(struct event_batch *, const char *line, size_t len);

void	event_fields(const struct event_batch *, size_t i, struct event_fields *);

/* What the store adds to an event: its arrival number and time. */
struct event_stored {
	int64_t		 seq;
	int64_t		 received_ms;	/* ms since 1970; -1 unknown (1.1) */
};

/*
 * Appends one event as a JSON object with members in the order topic,
 * event_id, timestamp, source, payload, then, when st is not NULL, "seq"
 * and "received_at" (RFC 3339, UTC, milliseconds; null when unknown).
 * The payload must already be canonical JSON and is copied as it is.
 */
int	event_write_json(struct buf *, const struct event_fields *,
	    const struct event_stored *st);

struct json_reader;

/*
 * One stored event as aggd's /events gives it (the five fields, seq and
 * received_at), read from r: its fields' bytes (strings decoded, the
 * payload in canonical form) into arena, which is emptied first, and
 * pointing into it.  Other members are passed over.  0, or -1 when a
 * field is missing or malformed.  The one reader of a stored event for
 * every tool.
 */
int	event_read_stored(struct json_reader *r, struct buf *arena,
	    struct event_fields *, struct event_stored *);

/* RFC 3339 date-time check (exposed for tests): 1 valid, 0 not. */
int	event_valid_timestamp(const char *s, size_t len);
/*
 * NULL when s[0..len), text from outside JSON (a query parameter), can be
 * a topic, event_id or source; else why not.
 */
const char *event_text_problem(const char *s, size_t len);

#endif
