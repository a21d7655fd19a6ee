/*
 * test_store.c - the dedup store on a real SQLite file: dedup within and
 * across transactions and reopenings, counters, pages, the lock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"

static char dir[64], path[128];

static void
batch_of(struct event_batch *b, const char *ndjson)
{
	event_batch_init(b);
	CHECK_EQ(event_parse_ndjson(b, ndjson, strlen(ndjson)), EVENT_OK);
}

#define EV(t, id) "{\"topic\":\"" t "\",\"event_id\":\"" id "\"," \
    "\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"s\",\"payload\":{\"x\":1}}\n"

static int
count_event(const struct event_fields *f, int64_t seq, void *arg)
{
	int64_t *last = arg;

	CHECK(seq > *last);
	*last = seq;
	(void)f;
	return 0;
}

static void
test_dedup_and_counts(void)
{
	struct store *s;
	struct store_reader *r;
	struct event_batch a, b, *list[2] = { &a, &b };
	struct store_counts res[2], tot;
	char err[256];
	int64_t last = 0;
	uint64_t total;

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	/* ("ab","c") and ("a","bc") are different identities */
	batch_of(&a, EV("ab", "c") EV("a", "bc") EV("ab", "c"));
	batch_of(&b, EV("ab", "c") EV("t", "1"));
	CHECK_EQ(store_commit(s, list, 2, res, err, sizeof(err)), 0);
	CHECK_EQ(res[0].received, 3);
	CHECK_EQ(res[0].unique, 2);
	CHECK_EQ(res[0].duplicates, 1);
	CHECK_EQ(res[1].unique, 1);
	CHECK_EQ(res[1].duplicates, 1);
	CHECK_EQ(store_sync(s), 0);
	CHECK_EQ(store_last_seq(s), 3);
	r = store_reader_open(path, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(store_read_topics(r, NULL, NULL, &tot), 0);
	CHECK_EQ(tot.received, 5);
	CHECK_EQ(tot.unique, 3);
	CHECK_EQ(tot.duplicates, 2);
	CHECK_EQ(store_read_events(r, NULL, 0, 10, count_event, &last, &total), 0);
	CHECK_EQ(last, 3);
	CHECK_EQ(total, 3);
	last = 0;
	CHECK_EQ(store_read_events(r, "ab", 0, 10, count_event, &last, &total), 0);
	CHECK_EQ(total, 1);
	CHECK_EQ(last, 1);
	CHECK_EQ(store_read_events(r, "none", 0, 10, count_event, &last, &total), 0);
	CHECK_EQ(total, 0);
	store_reader_close(r);
	store_close(s);
	event_batch_free(&a);
	event_batch_free(&b);
}

static void
test_reopen_keeps_identities(void)
{
	struct store *s, *second;
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	char err[256];

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	second = store_open(path, err, sizeof(err));
	CHECK(second == NULL);
	CHECK(strstr(err, "in use by another aggd") != NULL);
	batch_of(&a, EV("t", "1") EV("a", "bc") EV("t", "2"));
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 1);
	CHECK_EQ(res.duplicates, 2);
	CHECK_EQ(store_last_seq(s), 4);
	store_close(s);
	event_batch_free(&a);
}

static void
test_many_events(void)
{
	struct store *s;
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	char err[256], line[200];
	struct buf nd;
	int i;

	buf_init(&nd);
	for (i = 0; i < 20000; i++) {
		snprintf(line, sizeof(line), EV("bulk", "id-%d"), i % 15000);
		buf_puts(&nd, line);
	}
	buf_cstr(&nd);
	s = store_open(path, err, sizeof(err));
	batch_of(&a, nd.data);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 15000);
	CHECK_EQ(res.duplicates, 5000);
	store_close(s);
	s = store_open(path, err, sizeof(err));
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 0);
	CHECK_EQ(res.duplicates, 20000);
	CHECK(store_index_bytes(s) < 19004 * 24);
	store_close(s);
	event_batch_free(&a);
	buf_free(&nd);
}

int
main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/agg-test-store.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/sub/dedup.db", dir);
	T_RUN(test_dedup_and_counts);
	T_RUN(test_reopen_keeps_identities);
	T_RUN(test_many_events);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	(void)!system(path);
	return t_done();
}
