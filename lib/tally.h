/*
 * tally.h - counters by topic id and their sum, as readers are shown them.
 *
 * A store's counters change at each commit, but readers may count only
 * what is durable (see ingest_readable in aggd).  So each commit's changed
 * topics are noted in a tally_changes list, by the writer, and applied to
 * the tally once the commit is durable.  Neither is locked: the caller
 * guards a shared tally.  Topic ids are the store's: 1, 2, 3 ...
 */
#ifndef AGG_TALLY_H
#define AGG_TALLY_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/*
 * Events received per minute: this minute's and the last one's, from
 * which tally_rate reads a rate over the last 60 s (the previous minute
 * weighted by how much of it is still within those 60 s).
 */
struct tally_rate {
	uint64_t	 minute;	/* monotonic ms / 60000 of cur */
	uint64_t	 cur, prev;
};

struct tally {
	struct store_counts *topic;	/* id i at index i - 1 */
	struct tally_rate *rate;	/* likewise */
	size_t		 n, cap, rate_cap;
	struct store_counts sum;	/* last_ms: the latest of all */
	struct tally_rate sum_rate;
};

struct tally_change {
	int64_t		 id;
	struct store_counts counts;	/* the topic's, after the commit */
};

struct tally_changes {
	struct tally_change *v;
	size_t		 n, cap;
};

void	tally_init(struct tally *);
void	tally_free(struct tally *);
/*
 * Makes room for ids up to n, so that tally_set and tally_apply with no
 * larger id cannot fail.  -1 when out of memory.
 */
int	tally_reserve(struct tally *, size_t n);
/* Sets topic id's counts to c, id >= 1.  -1 when out of memory. */
int	tally_set(struct tally *, int64_t id, const struct store_counts *c);
/* Topic id's counts; id 0: the sum.  Zero for ids not set. */
void	tally_get(const struct tally *, int64_t id, struct store_counts *);
/*
 * Sets every topic that changes lists, in order (skipping counts older
 * than the topic's: fewer received or fewer expired, so counters never go
 * back when two looks cross), and counts what they received at now_ms (a
 * monotonic clock) in the rates.  -1 when out of memory.
 */
int	tally_apply(struct tally *, const struct tally_changes *,
	    uint64_t now_ms);
/* Events per second that topic id (0: all) received over the last 60 s. */
double	tally_rate(const struct tally *, int64_t id, uint64_t now_ms);

/* Makes room for more changes, so that as many tally_note cannot fail. */
int	tally_changes_reserve(struct tally_changes *, size_t more);
/* A store_counts_fn: adds (id, c) to the tally_changes arg. */
int	tally_note(int64_t id, const struct store_counts *c, void *changes);
/* A store_counts_fn: tally_set on the tally arg. */
int	tally_set_fn(int64_t id, const struct store_counts *c, void *tally);
void	tally_changes_free(struct tally_changes *);

#endif
