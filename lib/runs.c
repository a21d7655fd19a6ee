/*
 * runs.c - encoding and building the runs of topic_runs; see runs.h.
 */
#include <stdlib.h>
#include <string.h>

#include "rowsum.h"
#include "runs.h"

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void
run_entry(const void *blob, size_t i, uint64_t *seq, uint64_t *fp)
{
	const unsigned char *e = (const unsigned char *)blob + i * RUN_ENTRY;

	*seq = get64(e);
	*fp = get64(e + 8);
}

static uint64_t
run_sum(int64_t topic_id, int64_t last_seq, const void *entries, size_t len)
{
	int64_t inner = rowsum_bytes(ROWSUM_RUN, topic_id, entries, len);

	return (uint64_t)rowsum_bytes(ROWSUM_RUN, last_seq, &inner,
	    sizeof(inner));
}

int
run_verify(int64_t topic_id, int64_t last_seq, const void *blob,
    size_t bytes, size_t *n)
{
	*n = bytes / RUN_ENTRY;
	if (bytes % RUN_ENTRY == 0)
		return 0;		/* written before 1.2: no sum */
	if (bytes % RUN_ENTRY != RUN_SUM)
		return -1;
	return get64((const unsigned char *)blob + *n * RUN_ENTRY) ==
	    run_sum(topic_id, last_seq, blob, *n * RUN_ENTRY) ? 0 : -1;
}

/* run holds n entries and room for the sum after them. */
static int
run_insert(sqlite3_stmt *ins, int64_t topic_id, uint64_t last_seq,
    unsigned char *run, size_t n)
{
	int rc;

	put64(run + n * RUN_ENTRY, run_sum(topic_id, (int64_t)last_seq, run,
	    n * RUN_ENTRY));
	sqlite3_bind_int64(ins, 1, topic_id);
	sqlite3_bind_int64(ins, 2, (int64_t)last_seq);
	sqlite3_bind_blob(ins, 3, run, (int)(n * RUN_ENTRY + RUN_SUM),
	    SQLITE_STATIC);
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	return rc == SQLITE_DONE ? 0 : rc;
}

/* The next item in (topic_id, seq) order: SQLITE_ROW, SQLITE_DONE or error. */
typedef int	next_fn(void *src, struct run_item *);

static int
build(next_fn *next, void *src, sqlite3_stmt *ins)
{
	unsigned char run[RUN_MAX * RUN_ENTRY + RUN_SUM];
	struct run_item it;
	int64_t topic = 0;
	uint64_t seq = 0;
	size_t n = 0;
	int rc;

	while ((rc = next(src, &it)) == SQLITE_ROW) {
		if (n > 0 && (it.topic_id != topic || n == RUN_MAX)) {
			if ((rc = run_insert(ins, topic, seq, run, n)) != 0)
				return rc;
			n = 0;
		}
		topic = it.topic_id;
		seq = it.seq;
		put64(run + n * RUN_ENTRY, it.seq);
		put64(run + n * RUN_ENTRY + 8, it.fp);
		n++;
	}
	if (rc == SQLITE_DONE)
		rc = n > 0 ? run_insert(ins, topic, seq, run, n) : 0;
	return rc;
}

static int
next_row(void *src, struct run_item *it)
{
	sqlite3_stmt *rows = src;
	int rc;

	if ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		it->topic_id = sqlite3_column_int64(rows, 0);
		it->seq = (uint64_t)sqlite3_column_int64(rows, 1);
		it->fp = (uint64_t)sqlite3_column_int64(rows, 2);
	}
	return rc;
}

int
runs_build_rows(sqlite3_stmt *rows, sqlite3_stmt *ins)
{
	int rc = build(next_row, rows, ins);

	sqlite3_reset(rows);
	return rc;
}

struct items {
	const struct run_item *at, *end;
};

static int
next_item(void *src, struct run_item *it)
{
	struct items *items = src;

	if (items->at == items->end)
		return SQLITE_DONE;
	*it = *items->at++;
	return SQLITE_ROW;
}

static int
by_topic_seq(const void *a, const void *b)
{
	const struct run_item *x = a, *y = b;

	if (x->topic_id != y->topic_id)
		return x->topic_id < y->topic_id ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

int
runs_build_items(struct run_item *items, size_t n, sqlite3_stmt *ins)
{
	struct items src = { items, items + n };

	qsort(items, n, sizeof(*items), by_topic_seq);
	return build(next_item, &src, ins);
}
