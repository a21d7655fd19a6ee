/*
 * fuzz_line.c - event_parse_line over each line of the input, into one
 * batch that already holds an event.
 *
 * Invariants: a line that is refused (EVENT_SYNTAX, EVENT_INVALID) leaves
 * the batch exactly as it was: its events, the bytes of its arena, and
 * its error lists; one that is accepted appends one event (none for a
 * blank line) and leaves the earlier ones alone.  A refusal says why in
 * b->syntax.
 */
#include <string.h>

#include "event.h"
#include "fuzz.h"

static const char first[] = "{\"topic\":\"t\",\"event_id\":\"1\","
    "\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"s\","
    "\"payload\":{\"a\":[1,2.5,\"x\"]}}";

static void
one_line(struct event_batch *b, const uint8_t *line, size_t len)
{
	struct event *ev0;
	char *arena0;
	size_t n0 = b->n, a0 = b->arena.len, nerr0 = b->nerr, nbad0 = b->nbad;
	uint8_t *copy;
	int rc;

	ev0 = malloc(n0 * sizeof(*ev0) + 1);
	arena0 = malloc(a0 + 1);
	FUZZ_CHECK(ev0 != NULL && arena0 != NULL);
	memcpy(ev0, b->ev, n0 * sizeof(*ev0));
	if (a0)
		memcpy(arena0, b->arena.data, a0);
	/* The line in a buffer of its exact size. */
	copy = malloc(len ? len : 1);
	FUZZ_CHECK(copy != NULL);
	memcpy(copy, line, len);

	rc = event_parse_line(b, (const char *)copy, len);
	FUZZ_CHECK(rc == EVENT_OK || rc == EVENT_SYNTAX || rc == EVENT_INVALID);
	FUZZ_CHECK(b->nerr == nerr0 && b->nbad == nbad0);
	FUZZ_CHECK(b->arena.len >= a0);
	FUZZ_CHECK(memcmp(b->ev, ev0, n0 * sizeof(*ev0)) == 0);
	FUZZ_CHECK(a0 == 0 || memcmp(b->arena.data, arena0, a0) == 0);
	if (rc == EVENT_OK) {
		FUZZ_CHECK(b->n == n0 || b->n == n0 + 1);
		if (b->n == n0)
			FUZZ_CHECK(b->arena.len == a0);
	} else {
		FUZZ_CHECK(b->n == n0 && b->arena.len == a0);
		FUZZ_CHECK(b->syntax[0] != '\0' &&
		    memchr(b->syntax, '\0', sizeof(b->syntax)) != NULL);
	}
	free(copy);
	free(ev0);
	free(arena0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_batch b;
	const uint8_t *p = data, *end = data + size, *nl;

	event_batch_init(&b);
	FUZZ_CHECK(event_parse_line(&b, first, sizeof(first) - 1) == EVENT_OK);
	FUZZ_CHECK(b.n == 1);
	/* The whole input as one line, then line by line. */
	one_line(&b, data, size);
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		one_line(&b, p, (size_t)(nl - p));
		p = nl + 1;
	}
	event_batch_free(&b);
	return 0;
}
