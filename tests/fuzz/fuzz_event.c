/*
 * fuzz_event.c - event_parse_json and event_parse_ndjson over arbitrary
 * bytes.  For every accepted batch, each event is written with
 * event_write_json and read back with event_parse_line: its five fields
 * must come back byte for byte, and writing it again must give the same
 * text (canonical output is idempotent).  A refused body leaves no event.
 */
#include <string.h>

#include "event.h"
#include "fuzz.h"

static int
same(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

static void
roundtrip(const struct event_batch *b)
{
	struct event_batch back;
	struct event_fields f, g;
	struct event_stored st;
	struct buf out, again;
	size_t i;
	int rc;

	buf_init(&out);
	buf_init(&again);
	event_batch_init(&back);
	for (i = 0; i < b->n; i++) {
		event_fields(b, i, &f);
		FUZZ_CHECK(f.topic_len >= 1 && f.topic_len <= EVENT_FIELD_MAX);
		FUZZ_CHECK(f.event_id_len >= 1 &&
		    f.event_id_len <= EVENT_FIELD_MAX);
		FUZZ_CHECK(f.source_len >= 1 && f.source_len <= EVENT_FIELD_MAX);
		FUZZ_CHECK(event_valid_timestamp(f.timestamp, f.timestamp_len));
		FUZZ_CHECK(f.payload_len >= 2 && f.payload[0] == '{');
		out.len = 0;
		/* With and without seq and received_at (known or not): the
		   reader ignores other members. */
		st.seq = (int64_t)i + 1;
		st.received_ms = i % 3 == 2 ? -1 : (int64_t)i * 1234567;
		FUZZ_CHECK(event_write_json(&out, &f, i % 3 ? &st : NULL) == 0);
		event_batch_reset(&back);
		rc = event_parse_line(&back, out.data, out.len);
		if (rc != EVENT_OK)
			fprintf(stderr, "re-parse: %d %s: %.*s\n", rc,
			    back.syntax, (int)out.len, out.data);
		FUZZ_CHECK(rc == EVENT_OK && back.n == 1);
		event_fields(&back, 0, &g);
		FUZZ_CHECK(same(f.topic, f.topic_len, g.topic, g.topic_len));
		FUZZ_CHECK(same(f.event_id, f.event_id_len, g.event_id,
		    g.event_id_len));
		FUZZ_CHECK(same(f.timestamp, f.timestamp_len, g.timestamp,
		    g.timestamp_len));
		FUZZ_CHECK(same(f.source, f.source_len, g.source, g.source_len));
		FUZZ_CHECK(same(f.payload, f.payload_len, g.payload,
		    g.payload_len));
		again.len = 0;
		FUZZ_CHECK(event_write_json(&again, &g, i % 3 ? &st : NULL) == 0);
		FUZZ_CHECK(same(out.data, out.len, again.data, again.len));
	}
	event_batch_free(&back);
	buf_free(&out);
	buf_free(&again);
}

static void
check(const struct event_batch *b, int rc)
{
	FUZZ_CHECK(rc == EVENT_OK || rc == EVENT_SYNTAX || rc == EVENT_INVALID);
	if (rc == EVENT_OK) {
		FUZZ_CHECK(b->nbad == 0);
		roundtrip(b);
		return;
	}
	FUZZ_CHECK(b->n == 0);
	if (rc == EVENT_SYNTAX)
		FUZZ_CHECK(b->syntax[0] != '\0' &&
		    memchr(b->syntax, '\0', sizeof(b->syntax)) != NULL);
	else
		FUZZ_CHECK(b->nbad >= 1 && b->nerr >= 1 &&
		    b->nerr <= EVENT_MAX_ERRORS && b->nerr <= b->nbad);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_batch b;

	event_batch_init(&b);
	check(&b, event_parse_json(&b, (const char *)data, size));
	/* Same batch again: reset must leave nothing of the last parse. */
	check(&b, event_parse_ndjson(&b, (const char *)data, size));
	event_batch_free(&b);
	return 0;
}
