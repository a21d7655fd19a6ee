/*
 * runs.h - a topic's events as runs: rows of topic_runs(topic_id,
 * last_seq, entries), each holding up to RUN_MAX (seq, fp) pairs of one
 * topic in seq order, 16 bytes each, little-endian, then (since 1.2) the
 * row's 8-byte sum (rowsum.h) over its topic, last_seq and entries.  The
 * sum sits in the blob, not in a column of its own, so that an aggd 1.1
 * still reads and writes the table: it takes bytes / 16 entries and never
 * sees the 8 bytes after them; a run it writes has no sum.
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
#define RUN_SUM		8
#define ROWSUM_RUN	0x72756e		/* rowsum_bytes tag of a run */

/* Entry i of a run's blob. */
void	 run_entry(const void *blob, size_t i, uint64_t *seq, uint64_t *fp);

/* One event as the runs index it. */
struct run_item {
	int64_t		 topic_id;
	uint64_t	 seq, fp;
};

/*
 * A run's row as read: *n gets its entries; 0 when its sum holds (or it
 * has none, written before 1.2), -1 when the row is damaged.
 */
int	 run_verify(int64_t topic_id, int64_t last_seq, const void *blob,
	    size_t bytes, size_t *n);

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
