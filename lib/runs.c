/*
 * runs.c - encoding and building the runs of topic_runs; see runs.h.
 */
#include <string.h>

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

static int
run_insert(sqlite3_stmt *ins, int64_t topic_id, uint64_t last_seq,
    const unsigned char *run, size_t n)
{
	int rc;

	sqlite3_bind_int64(ins, 1, topic_id);
	sqlite3_bind_int64(ins, 2, (int64_t)last_seq);
	sqlite3_bind_blob(ins, 3, run, (int)(n * RUN_ENTRY), SQLITE_STATIC);
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	return rc == SQLITE_DONE ? 0 : rc;
}

int
runs_build(sqlite3_stmt *rows, sqlite3_stmt *ins)
{
	unsigned char run[RUN_MAX * RUN_ENTRY];
	int64_t topic = 0, t;
	uint64_t seq = 0;
	size_t n = 0;
	int rc;

	while ((rc = sqlite3_step(rows)) == SQLITE_ROW) {
		t = sqlite3_column_int64(rows, 0);
		if (n > 0 && (t != topic || n == RUN_MAX)) {
			if ((rc = run_insert(ins, topic, seq, run, n)) != 0)
				break;
			n = 0;
		}
		topic = t;
		seq = (uint64_t)sqlite3_column_int64(rows, 1);
		put64(run + n * RUN_ENTRY, seq);
		put64(run + n * RUN_ENTRY + 8,
		    (uint64_t)sqlite3_column_int64(rows, 2));
		n++;
	}
	if (rc == SQLITE_DONE)
		rc = n > 0 ? run_insert(ins, topic, seq, run, n) : 0;
	sqlite3_reset(rows);
	return rc;
}
