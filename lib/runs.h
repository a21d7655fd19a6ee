/*
 * runs.h - a topic's events as runs: rows of topic_runs(topic_id,
 * last_seq, entries), each holding up to RUN_MAX (seq, fp) pairs of one
 * topic in seq order, 16 bytes each, little-endian.
 *
 * One row per topic per bulk pass instead of one B-tree entry per event:
 * inserting 1024 events one entry at a time cost the writer ~2 µs each
 * (SQLite 3.40, 2-core VM), as much as storing the event itself.
 */
#ifndef AGG_RUNS_H
#define AGG_RUNS_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#define RUN_ENTRY	16
#define RUN_MAX		256

/* Entry i of a run's blob. */
void	 run_entry(const void *blob, size_t i, uint64_t *seq, uint64_t *fp);

/* One event as the runs index it. */
struct run_item {
	int64_t		 topic_id;
	uint64_t	 seq, fp;
};

/*
 * Both insert runs with ins, a statement taking (topic_id, last_seq,
 * entries), and return an SQLite result code, 0 when done.  runs_build_rows
 * steps rows, a statement yielding (topic_id, seq, fp) ordered by topic_id
 * then seq, to its end; runs_build_items sorts items into that order
 * first.
 */
int	 runs_build_rows(sqlite3_stmt *rows, sqlite3_stmt *ins);
int	 runs_build_items(struct run_item *items, size_t n, sqlite3_stmt *ins);

#endif
