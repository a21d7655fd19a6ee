/*
 * json_speed - how fast event_parse_json takes a typical publish body:
 * 100,000 events of ~215 bytes (36-char UUID ids, 10 topics, a ~70-byte
 * payload with a nested object, a float and an int) in one JSON array,
 * parsed 20 times; and, for the same body, json-c doing the least aggd
 * would need of it: the tree, each event's five members looked up and
 * typed, its payload written out again.  Prints MB/s and events/s of each
 * (lib/json.h quotes the figures).
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "event.h"

#define NEVENTS	100000
#define ROUNDS	20

/* json-c's share of what aggd does with a body: events it took, or -1. */
static int
with_json_c(const char *body, size_t len)
{
	static const char *const names[] = { "topic", "event_id", "timestamp",
	    "source" };
	struct json_tokener *tok = json_tokener_new();
	struct json_object *all, *ev, *v;
	size_t i, k, n;
	int ok = 0;

	all = json_tokener_parse_ex(tok, body, (int)len);
	json_tokener_free(tok);
	if (all == NULL || !json_object_is_type(all, json_type_array))
		return -1;
	n = json_object_array_length(all);
	for (i = 0; i < n; i++) {
		ev = json_object_array_get_idx(all, i);
		for (k = 0; k < 4; k++)
			if (!json_object_object_get_ex(ev, names[k], &v) ||
			    !json_object_is_type(v, json_type_string) ||
			    json_object_get_string_len(v) == 0)
				goto done;
		if (!json_object_object_get_ex(ev, "payload", &v) ||
		    strlen(json_object_to_json_string_ext(v,
		    JSON_C_TO_STRING_PLAIN)) < 2)
			goto done;
		ok++;
	}
done:
	json_object_put(all);
	return ok;
}

int
main(void)
{
	struct event_batch b;
	struct timespec t0, t1;
	struct buf body;
	unsigned long x = 88172645463325252UL;
	double secs;
	int i, r;

	buf_init(&body);
	event_batch_init(&b);
	buf_putc(&body, '[');
	for (i = 0; i < NEVENTS; i++) {
		/* xorshift: stable, random-looking ids without libc rand */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		if (buf_printf(&body, "%s{\"topic\":\"topic-%d\",\"event_id\":"
		    "\"%08lx-%04lx-4%03lx-a%03lx-%012lx\",\"timestamp\":"
		    "\"2025-10-21T10:%02d:%02d.%03dZ\",\"source\":\"checkout-%d\","
		    "\"payload\":{\"amount\":%d.%02d,\"qty\":%d,\"customer\":"
		    "{\"id\":%d,\"tier\":\"gold\"},\"ok\":true}}",
		    i ? "," : "", i % 10, x & 0xffffffff, x >> 32 & 0xffff,
		    x >> 48 & 0xfff, x >> 20 & 0xfff, (x * 31) & 0xffffffffffff,
		    i / 60 % 60, i % 60, i % 1000, i % 4, i % 997, i % 100 + 1,
		    i % 9, i * 7 % 100000) == -1)
			return 1;
	}
	if (buf_putc(&body, ']') == -1)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ROUNDS; i++)
		if ((r = event_parse_json(&b, body.data, body.len)) != EVENT_OK) {
			fprintf(stderr, "json_speed: parse: %d %s\n", r,
			    b.syntax);
			return 1;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("json_speed: lib/json.h: %zu events, %.0f bytes/event, %.1f MB/s,"
	    " %.0f events/s\n", b.n, (double)body.len / NEVENTS,
	    (double)body.len * ROUNDS / secs / 1e6,
	    (double)NEVENTS * ROUNDS / secs);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < ROUNDS; i++)
		if (with_json_c(body.data, body.len) != NEVENTS)
			return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("json_speed: json-c %s: %.1f MB/s, %.0f events/s\n",
	    json_c_version(), (double)body.len * ROUNDS / secs / 1e6,
	    (double)NEVENTS * ROUNDS / secs);
	event_batch_free(&b);
	buf_free(&body);
	return 0;
}
