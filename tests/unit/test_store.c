/*
 * test_store.c - the dedup store on a real SQLite file: dedup within and
 * across transactions and reopenings, counters, checkpoints, pages (on
 * both sides of what the runs hold), a failed commit undone, the lock,
 * stores of older formats.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "t.h"
#include "tally.h"

static char dir[64], path[128];

static void
batch_of(struct event_batch *b, const char *ndjson)
{
	event_batch_init(b);
	CHECK_EQ(event_parse_ndjson(b, ndjson, strlen(ndjson)), EVENT_OK);
}

#define EV(t, id) "{\"topic\":\"" t "\",\"event_id\":\"" id "\"," \
    "\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"s\",\"payload\":{\"x\":1}}\n"

/* store_read_events of up to limit events after after, oldest first. */
static int
read_from(struct store_reader *r, int64_t id, int64_t after, int limit,
    store_event_fn *fn, void *arg)
{
	struct store_range q = { after, INT64_MAX, limit, 0 };

	return store_read_events(r, id, &q, fn, arg);
}

static int
count_event(const struct event_fields *f, const struct event_stored *at, void *arg)
{
	int64_t seq = at->seq;

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
	struct store_counts res[2], c;
	struct tally all, changed;
	struct tally_changes ch = { NULL, 0, 0 };
	char err[256];
	int64_t last = 0, id = 0;

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
	r = store_reader_open(s, err, sizeof(err));
	CHECK(r != NULL);
	tally_init(&all);
	CHECK_EQ(store_topic_counts(s, 1, tally_set_fn, &all), 0);
	CHECK_EQ(all.n, 3);
	CHECK_EQ(all.sum.received, 5);
	CHECK_EQ(all.sum.unique, 3);
	CHECK_EQ(all.sum.duplicates, 2);
	tally_get(&all, 1, &c);		/* "ab", the first topic stored */
	CHECK_EQ(c.received, 3);
	CHECK_EQ(c.unique, 1);
	CHECK_EQ(c.duplicates, 2);
	CHECK_EQ(read_from(r, 0, 0, 10, count_event, &last), 0);
	CHECK_EQ(last, 3);
	last = 0;
	CHECK_EQ(store_topic_id(r, "ab", &id), 0);
	CHECK_EQ(id, 1);
	CHECK_EQ(read_from(r, id, 0, 10, count_event, &last), 0);
	CHECK_EQ(last, 1);
	CHECK_EQ(store_topic_id(r, "none", &id), 1);
	store_reader_close(r);
	/*
	 * The next commit changes only topic "t": its counts, not a delta.
	 * Duplicates only, so that the next test finds the store it expects.
	 */
	event_batch_free(&b);
	batch_of(&b, EV("t", "1") EV("t", "1"));
	CHECK_EQ(store_commit(s, list + 1, 1, res, err, sizeof(err)), 0);
	CHECK_EQ(store_topic_counts(s, 0, tally_note, &ch), 0);
	CHECK_EQ(ch.n, 1);
	CHECK_EQ(ch.v[0].id, 3);
	CHECK_EQ(ch.v[0].counts.received, 3);
	CHECK_EQ(ch.v[0].counts.unique, 1);
	CHECK_EQ(ch.v[0].counts.duplicates, 2);
	CHECK_EQ(tally_apply(&all, &ch, 0), 0);
	CHECK_EQ(all.sum.received, 7);
	CHECK_EQ(all.sum.unique, 3);
	CHECK_EQ(all.sum.duplicates, 4);
	/* Reopened, the store has the same counts. */
	store_close(s);
	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	tally_init(&changed);
	CHECK_EQ(store_topic_counts(s, 1, tally_set_fn, &changed), 0);
	CHECK(changed.n == all.n && memcmp(changed.topic, all.topic,
	    all.n * sizeof(*all.topic)) == 0);
	tally_free(&changed);
	tally_free(&all);
	tally_changes_free(&ch);
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

/* Event seq of test_fields_and_resends_in_one_request is e<seq>. */
static int
same_fields(const struct event_fields *f, const struct event_stored *at, void *arg)
{
	int64_t seq = at->seq;

	char text[32];

	++*(int *)arg;
	snprintf(text, sizeof(text), "e%d", (int)seq);
	CHECK(f->event_id_len == strlen(text) &&
	    memcmp(f->event_id, text, f->event_id_len) == 0);
	snprintf(text, sizeof(text), "s%d", (int)seq);
	CHECK(f->source_len == strlen(text) &&
	    memcmp(f->source, text, f->source_len) == 0);
	snprintf(text, sizeof(text), "{\"k\":%d}", (int)seq);
	CHECK(f->payload_len == strlen(text) &&
	    memcmp(f->payload, text, f->payload_len) == 0);
	return 0;
}

/*
 * 77 events in one request: the store inserts them in multi-row
 * statements of 32, 32, 8, 4 and 1 rows, and re-sends in it refer both to
 * rows not yet inserted and to rows already in SQLite.
 */
static void
test_fields_and_resends_in_one_request(void)
{
	struct store *s;
	struct store_reader *r;
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	static char text[100 * 200];
	char err[256];
	size_t len = 0;
	int i, k, last = 0, n = 0;

	/* every 5th a re-send of the event 3 back, every 7th of 40 back */
	for (i = 0; last < 77; i++) {
		if (i % 5 == 4)
			k = last - 3;
		else if (i % 7 == 6 && last >= 40)
			k = last - 40;
		else
			k = ++last;
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "{\"topic\":\"t\",\"event_id\":\"e%d\",\"timestamp\":"
		    "\"2025-10-21T10:00:00Z\",\"source\":\"s%d\","
		    "\"payload\":{\"k\":%d}}\n", k, k, k);
	}
	batch_of(&a, text);
	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 77);
	CHECK_EQ(res.duplicates, (uint64_t)(i - 77));
	r = store_reader_open(s, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(read_from(r, 0, 0, 100, same_fields, &n), 0);
	CHECK_EQ(n, 77);
	store_reader_close(r);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.duplicates, (uint64_t)i);
	store_close(s);
	event_batch_free(&a);
}

/* One event per transaction, the way single-event requests arrive. */
static void
commit_one(struct store *s, const char *topic, int id, int want_unique)
{
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	char line[200], err[256];

	snprintf(line, sizeof(line), EV("%s", "e%d"), topic, id);
	batch_of(&a, line);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, (uint64_t)want_unique);
	CHECK_EQ(res.duplicates, (uint64_t)!want_unique);
	event_batch_free(&a);
}

struct pages {
	const char	*topic;
	int64_t		 last;
	int		 n;
};

static int
collect(const struct event_fields *f, const struct event_stored *at, void *arg)
{
	int64_t seq = at->seq;

	struct pages *p = arg;

	CHECK(seq > p->last);
	CHECK_EQ(f->topic_len, strlen(p->topic));
	CHECK(memcmp(f->topic, p->topic, f->topic_len) == 0);
	p->last = seq;
	p->n++;
	return 0;
}

/* Reads a whole topic, limit events at a time: how many it holds. */
static int
read_topic(struct store_reader *r, const char *topic, int limit)
{
	struct pages p = { topic, 0, 0 };
	int64_t id = 0;
	int before;

	CHECK_EQ(store_topic_id(r, topic, &id), 0);
	do {
		before = p.n;
		CHECK_EQ(read_from(r, id, p.last, limit, collect, &p),
		    0);
		CHECK(p.n - before <= limit);
	} while (p.n - before == limit);
	return p.n;
}

/* Rows of the events table in the database file alone, without its WAL. */
static int64_t
rows_in_file(const char *db)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int64_t n = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, "SELECT count(*) FROM events", -1, &st,
	    NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			n = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return n;
}

/*
 * A checkpoint copies every committed event into the database file (and
 * writes it back) while the writer's connection stays open.  The first
 * checkpoint puts the schema in the file, so that the count before the
 * second is a real count, not an error.
 */
static void
test_checkpoint_fills_the_file(void)
{
	struct store *s;
	struct event_batch a, b, *list[1];
	struct store_counts res;
	char err[256], copy[160], cmd[400];

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	snprintf(copy, sizeof(copy), "%s.copy", path);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", path, copy);
	batch_of(&a, EV("t", "1") EV("t", "2") EV("u", "1") EV("t", "1"));
	list[0] = &a;
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(store_sync(s), 0);
	CHECK_EQ(store_maintain(s), 0);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(rows_in_file(copy), 3);
	batch_of(&b, EV("t", "3") EV("t", "1"));
	list[0] = &b;
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(store_sync(s), 0);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(rows_in_file(copy), 3);	/* the new one only in the WAL */
	CHECK_EQ(store_maintain(s), 0);
	CHECK_EQ(system(cmd), 0);
	CHECK_EQ(rows_in_file(copy), 4);
	store_close(s);
	event_batch_free(&a);
	event_batch_free(&b);
}

static void
test_topic_pages_across_index(void)
{
	struct store *s;
	struct store_reader *r;
	char err[256], topic[8];
	int i;

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	/* 3000 events: runs take them in bulk (some over RUN_MAX), the last
	 * ones are not in a run yet */
	for (i = 0; i < 3000; i++) {
		snprintf(topic, sizeof(topic), "t%d", i % 3);
		commit_one(s, topic, i, 1);
	}
	r = store_reader_open(s, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(read_topic(r, "t0", 7), 1000);
	CHECK_EQ(read_topic(r, "t1", 1000), 1000);
	CHECK_EQ(read_topic(r, "t2", 333), 1000);
	store_reader_close(r);
	store_close(s);
	/* identities from both parts survive a reopening */
	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	commit_one(s, "t2", 2999, 0);
	commit_one(s, "t1", 1, 0);
	commit_one(s, "t1", 3000, 1);
	store_close(s);
}

struct all_events {
	int64_t		 seq[4000], ms[4000];
	int		 n;
};

static int
keep_event(const struct event_fields *f, const struct event_stored *at,
    void *arg)
{
	struct all_events *a = arg;

	(void)f;
	if (a->n < 4000) {
		a->seq[a->n] = at->seq;
		a->ms[a->n++] = at->received_ms;
	}
	return 0;
}

/* The newest limit events of topic id below before equal the list's. */
static void
check_newest(struct store_reader *r, int64_t id, const struct all_events *all,
    int64_t before, int limit)
{
	struct store_range q = { 0, before, limit, 1 };
	struct all_events got = { .n = 0 };
	int below = 0, i;

	while (below < all->n && all->seq[below] < before)
		below++;
	CHECK_EQ(store_read_events(r, id, &q, keep_event, &got), 0);
	CHECK_EQ(got.n, below < limit ? below : limit);
	for (i = 0; i < got.n; i++)
		CHECK_EQ(got.seq[i], all->seq[below - got.n + i]);
}

/* The newest events (before=), across runs and the tail; times to seqs. */
static void
test_newest_and_times(void)
{
	static const int limits[] = { 1, 7, 333, 1000, 5000 };
	struct all_events t1 = { .n = 0 }, every = { .n = 0 };
	struct store_range q = { 0, INT64_MAX, 10000, 0 }, narrow = q;
	static struct all_events found;
	struct store_reader *r;
	struct store *s;
	int64_t id, seq, befores[4];
	size_t i, j;
	char err[256];
	int k, want;

	s = store_open(path, err, sizeof(err));
	r = store_reader_open(s, err, sizeof(err));
	CHECK(s != NULL && r != NULL);
	CHECK_EQ(store_topic_id(r, "t1", &id), 0);
	CHECK_EQ(store_read_events(r, id, &q, keep_event, &t1), 0);
	CHECK_EQ(store_read_events(r, 0, &q, keep_event, &every), 0);
	CHECK_EQ(t1.n, 1001);
	befores[0] = INT64_MAX, befores[1] = t1.seq[500];
	befores[2] = t1.seq[0], befores[3] = t1.seq[999] + 1;
	for (i = 0; i < 4; i++)
		for (j = 0; j < sizeof(limits) / sizeof(limits[0]); j++) {
			check_newest(r, id, &t1, befores[i], limits[j]);
			check_newest(r, 0, &every, befores[i], limits[j]);
		}
	/* each event's time finds the first event of that millisecond */
	for (k = 0; k < every.n; k += 97) {
		for (want = k; want > 0 && every.ms[want - 1] >= every.ms[k];
		    want--)
			;
		CHECK_EQ(store_seq_at(r, every.ms[k], &seq), 0);
		CHECK_EQ(seq, every.seq[want]);
	}
	CHECK_EQ(store_seq_at(r, 0, &seq), 0);
	CHECK_EQ(seq, every.seq[0]);
	CHECK_EQ(store_seq_at(r, every.ms[every.n - 1] + 1, &seq), 0);
	CHECK_EQ(seq, every.seq[every.n - 1] + 1);
	/* received_at grows with seq */
	for (k = 1; k < every.n; k++)
		CHECK(every.ms[k] >= every.ms[k - 1]);
	/* one event by its identity, when its seq is in the range */
	found.n = 0;
	CHECK_EQ(store_find(r, "t1", 2, "e1", 2, &q, keep_event, &found), 0);
	CHECK_EQ(found.n, 1);
	CHECK_EQ(found.seq[0], t1.seq[0]);
	found.n = 0;
	CHECK_EQ(store_find(r, "t1", 2, "nope", 4, &q, keep_event, &found), 0);
	CHECK_EQ(store_find(r, "t2", 2, "e1", 2, &q, keep_event, &found), 0);
	narrow.after = t1.seq[0];
	CHECK_EQ(store_find(r, "t1", 2, "e1", 2, &narrow, keep_event, &found),
	    0);
	CHECK_EQ(found.n, 0);
	store_reader_close(r);
	store_close(s);
}

static void
sql(const char *db_path, const char *text)
{
	sqlite3 *db;

	CHECK_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_exec(db, text, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static int
sql_int(const char *db_path, const char *query)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v;

	CHECK_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_prepare_v2(db, query, -1, &st, NULL), SQLITE_OK);
	CHECK_EQ(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Events id0 .. id0+n-1 of topics t0 and t1 in turn, in one request. */
static void
batch_range(struct event_batch *b, int id0, int n)
{
	static char text[200 * 200];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    EV("t%d", "e%d"), i % 2, id0 + i);
	CHECK(len < sizeof(text));
	batch_of(b, text);
}

/*
 * A transaction that fails after the index pass has sorted the tail in
 * memory: none of it stays (its events are new when sent again, and the
 * runs hold each event once).
 */
static void
test_failed_commit_undone(void)
{
	struct store *s;
	struct store_reader *r;
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	char err[256];
	int i;

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	for (i = 0; i < 1000; i++)
		commit_one(s, i % 2 ? "t1" : "t0", i, 1);
	sql(path, "CREATE TRIGGER no_index BEFORE UPDATE ON meta"
	    " BEGIN SELECT RAISE(ABORT, 'refused'); END");
	batch_range(&a, 1000, 100);	/* past INDEX_LAG: the index runs */
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), STORE_ERROR);
	CHECK(strstr(err, "constraint") != NULL);
	sql(path, "DROP TRIGGER no_index");
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 100);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.duplicates, 100);
	event_batch_free(&a);
	r = store_reader_open(s, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(read_topic(r, "t0", 64), 550);
	CHECK_EQ(read_topic(r, "t1", 1000), 550);
	store_reader_close(r);
	store_close(s);
	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	commit_one(s, "t1", 1099, 0);
	commit_one(s, "t0", 1100, 1);
	store_close(s);
}

/*
 * Counters after a failed commit: as they were, equal to the rows; the
 * topic it made is forgotten and its id given to the next new topic.
 */
static void
test_failed_commit_counts(void)
{
	struct store *s;
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	struct tally before, after;
	struct tally_changes ch = { NULL, 0, 0 };
	char err[256];

	s = store_open(path, err, sizeof(err));
	CHECK(s != NULL);
	tally_init(&before);
	tally_init(&after);
	CHECK_EQ(store_topic_counts(s, 1, tally_set_fn, &before), 0);
	CHECK_EQ(before.n, 2);
	sql(path, "CREATE TRIGGER no_topic BEFORE INSERT ON topics"
	    " BEGIN SELECT RAISE(ABORT, 'refused'); END");
	batch_of(&a, EV("t0", "x1") EV("new", "x1"));
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), STORE_ERROR);
	CHECK_EQ(store_topic_counts(s, 0, tally_note, &ch), 0);
	CHECK_EQ(ch.n, 0);
	CHECK_EQ(store_topics(s), 2);
	CHECK_EQ(store_topic_counts(s, 1, tally_set_fn, &after), 0);
	CHECK(after.n == before.n && memcmp(after.topic, before.topic,
	    before.n * sizeof(*before.topic)) == 0);
	sql(path, "DROP TRIGGER no_topic");
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.unique, 2);
	CHECK_EQ(store_topic_counts(s, 0, tally_note, &ch), 0);
	CHECK_EQ(ch.n, 2);
	CHECK_EQ(ch.v[1].id, 3);
	CHECK_EQ(tally_apply(&after, &ch, 0), 0);
	CHECK_EQ(after.sum.received, before.sum.received + 2);
	CHECK_EQ(after.sum.received, sql_int(path,
	    "SELECT sum(received) FROM topics"));
	CHECK_EQ(after.sum.unique, sql_int(path, "SELECT sum(uniq) FROM topics"));
	CHECK_EQ(after.sum.duplicates, sql_int(path,
	    "SELECT sum(dups) FROM topics"));
	tally_free(&before);
	tally_free(&after);
	tally_changes_free(&ch);
	event_batch_free(&a);
	store_close(s);
}


/* The index by topic that aggd 1.0 keeps. */
#define INDEX_1_0 "CREATE INDEX events_by_topic ON events(topic_id, seq, fp);"
/* What main had for a day: one row per event, up to meta.indexed. */
#define TOPIC_SEQ \
    "CREATE TABLE topic_seq(topic_id INTEGER NOT NULL, seq INTEGER NOT NULL," \
    " fp INTEGER NOT NULL, PRIMARY KEY(topic_id, seq)) WITHOUT ROWID;" \
    "INSERT INTO topic_seq SELECT topic_id, seq, fp FROM events" \
    " WHERE seq <= 40;" \
    "DROP TABLE topic_runs; UPDATE meta SET value = 40 WHERE name = 'indexed';"

/* What aggd 1.0 left: its index instead of topic_runs. */
static const char as_1_0[] = INDEX_1_0
    "DROP TABLE topic_runs; DELETE FROM meta WHERE name = 'indexed'";
static const char as_topic_seq[] = TOPIC_SEQ;
/* A 1.1 store that 1.0 then opened: its index again, stale runs. */
static const char as_downgraded[] = INDEX_1_0
    "INSERT INTO topic_runs(topic_id, last_seq, entries)"
    " SELECT topic_id, seq, zeroblob(16) FROM events"
    " WHERE seq <= 10";
/* That store opened by 1.0 afterwards: its index whole, topic_seq stale. */
static const char as_topic_seq_then_1_0[] = TOPIC_SEQ INDEX_1_0;

static void
migrates(const char *db_path, const char *old_format, const char *gone)
{
	struct store *s;
	struct store_reader *r;
	char err[256], q[160];
	int i;

	s = store_open(db_path, err, sizeof(err));
	CHECK(s != NULL);
	for (i = 0; i < 50; i++)
		commit_one(s, i % 2 ? "odd" : "even", i, 1);
	store_close(s);
	sql(db_path, old_format);
	s = store_open(db_path, err, sizeof(err));
	CHECK(s != NULL);
	for (i = 0; i < 50; i++)
		commit_one(s, i % 2 ? "odd" : "even", i, 0);
	commit_one(s, "odd", 51, 1);
	r = store_reader_open(s, err, sizeof(err));
	CHECK(r != NULL);
	CHECK_EQ(read_topic(r, "odd", 10), 26);
	CHECK_EQ(read_topic(r, "even", 100), 25);
	store_reader_close(r);
	store_close(s);
	/* converted once: the old structure is gone, the runs hold all 50 */
	snprintf(q, sizeof(q), "SELECT count(*) FROM sqlite_master"
	    " WHERE name = '%s'", gone);
	CHECK_EQ(sql_int(db_path, q), 0);
	CHECK_EQ(sql_int(db_path, "SELECT sum(length(entries) / 16)"
	    " FROM topic_runs"), 50);
	CHECK_EQ(sql_int(db_path, "SELECT value FROM meta"
	    " WHERE name = 'indexed'"), 50);
}

static void
test_migrates_old_stores(void)
{
	char p2[160];

	migrates(path, as_1_0, "events_by_topic");
	snprintf(p2, sizeof(p2), "%s.2", path);
	migrates(p2, as_topic_seq, "topic_seq");
	snprintf(p2, sizeof(p2), "%s.3", path);
	migrates(p2, as_downgraded, "events_by_topic");
	snprintf(p2, sizeof(p2), "%s.4", path);
	migrates(p2, as_topic_seq_then_1_0, "topic_seq");
}

/* n events e0.. over topics a and b, in one transaction; the counts. */
static struct store_counts
commit_many(struct store *s, int n)
{
	struct event_batch a, *list[1] = { &a };
	struct store_counts res = { 0 };
	char line[200], err[256];
	struct buf nd;
	int i;

	buf_init(&nd);
	for (i = 0; i < n; i++) {
		snprintf(line, sizeof(line), EV("%s", "e%d"), i % 2 ? "a" : "b",
		    i);
		CHECK_EQ(buf_puts(&nd, line), 0);
	}
	CHECK_EQ(buf_putc(&nd, '\0'), 0);
	batch_of(&a, nd.data);
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	event_batch_free(&a);
	buf_free(&nd);
	return res;
}

/* The store opens, or not, with err holding want. */
static void
opens(const char *p, const char *want)
{
	struct store *s;
	char err[256] = "";

	s = store_open(p, err, sizeof(err));
	CHECK((s != NULL) == (want == NULL));
	if (want != NULL) {
		CHECK(strstr(err, want) != NULL);
		printf("#   %s\n", err);
	}
	store_close(s);
}

/* A changed value in a row is an error that names it, never an answer. */
static void
test_damage_is_told(void)
{
	struct store_range all = { 0, INT64_MAX, 10000, 0 };
	struct event_batch a, *list[1] = { &a };
	struct store_counts res;
	struct store_reader *r;
	struct store *s;
	char p[160], err[256];
	int64_t last = 0;

	snprintf(p, sizeof(p), "%s/damage.db", dir);
	CHECK((s = store_open(p, err, sizeof(err))) != NULL);
	CHECK_EQ(commit_many(s, 3000).unique, 3000);
	store_close(s);

	/* a payload: the page that holds it fails; a re-send is still the
	   duplicate it is, as its identity is whole */
	sql(p, "UPDATE events SET payload = '{\"x\":2}' WHERE seq = 7");
	CHECK((s = store_open(p, err, sizeof(err))) != NULL);
	CHECK((r = store_reader_open(s, err, sizeof(err))) != NULL);
	CHECK_EQ(store_read_events(r, 0, &all, count_event, &last), -1);
	CHECK(strstr(r->damage, "event seq 7 fails its checksum") != NULL);
	batch_of(&a, EV("b", "e6"));
	CHECK_EQ(store_commit(s, list, 1, &res, err, sizeof(err)), 0);
	CHECK_EQ(res.duplicates, 1);
	event_batch_free(&a);
	store_reader_close(r);
	store_close(s);
	sql(p, "UPDATE events SET payload = '{\"x\":1}' WHERE seq = 7");

	/* the index: made again from the events, and dedup stays exact */
	sql(p, "UPDATE topic_runs SET entries = zeroblob(length(entries))"
	    " WHERE topic_id = 1 AND last_seq = (SELECT min(last_seq) FROM"
	    " topic_runs WHERE topic_id = 1)");
	CHECK((s = store_open(p, err, sizeof(err))) != NULL);
	res = commit_many(s, 3000);
	CHECK_EQ(res.unique, 0);
	CHECK_EQ(res.duplicates, 3000);
	store_close(s);
	/* a seq past the end, with its sum made to match, is refused too */
	sql(p, "UPDATE meta SET value = 999999 WHERE name = 'indexed'");
	opens(p, NULL);
	CHECK_EQ(sql_int(p, "SELECT value FROM meta WHERE name = 'indexed'"),
	    3000);

	/* a topic's name, the fingerprint key: the store is refused */
	sql(p, "UPDATE topics SET name = 'c' WHERE id = 1");
	opens(p, "is damaged: topic 1 fails its checksum");
	sql(p, "UPDATE topics SET name = 'b' WHERE id = 1");
	sql(p, "UPDATE meta SET value = zeroblob(16) WHERE name = 'key'");
	opens(p, "is damaged: the fingerprint key fails its checksum");
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
	snprintf(path, sizeof(path), "%s/fields.db", dir);
	T_RUN(test_fields_and_resends_in_one_request);
	snprintf(path, sizeof(path), "%s/ckpt.db", dir);
	T_RUN(test_checkpoint_fills_the_file);
	snprintf(path, sizeof(path), "%s/pages.db", dir);
	T_RUN(test_topic_pages_across_index);
	T_RUN(test_newest_and_times);
	snprintf(path, sizeof(path), "%s/undo.db", dir);
	T_RUN(test_failed_commit_undone);
	T_RUN(test_failed_commit_counts);
	snprintf(path, sizeof(path), "%s/old.db", dir);
	T_RUN(test_migrates_old_stores);
	T_RUN(test_damage_is_told);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	(void)!system(path);
	return t_done();
}
