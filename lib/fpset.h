/*
 * fpset.h - the in-memory dedup index: fingerprint -> seq.
 *
 * Each stored event has a 64-bit keyed fingerprint of its identity; the set
 * keeps the top 56 bits of it and the event's 40-bit seq in 12 bytes, in an
 * open-addressing table (linear probing, at most 80% full, grown by 1.25x
 * so that it never holds more than ~19 bytes per event at rest; growth
 * rehashes a few slots per add, never all at once).  Equal
 * fingerprints do not prove equal identities: the caller checks each
 * candidate seq against the store, so the set may say "maybe" but never
 * turns a new event into a duplicate.
 */
#ifndef AGG_FPSET_H
#define AGG_FPSET_H

#include <stddef.h>
#include <stdint.h>

#define FPSET_SEQ_MAX	((UINT64_C(1) << 40) - 1)

struct fpset {
	uint32_t	*slot;		/* 3 words per slot */
	size_t		 cap;
	size_t		 n;		/* entries in the set */
	size_t		 used;		/* occupied slots of slot[] */
	uint32_t	*old;		/* being copied into slot[], or NULL */
	size_t		 old_cap;
	size_t		 moved;		/* old slots copied so far */
	/* The next table, made ahead by another thread (fpset_make_spare). */
	int		 spare_asked;
	size_t		 spare_want;	/* slots wanted; atomic */
	uint32_t	*spare;		/* atomic */
	size_t		 spare_cap;
};

int		fpset_init(struct fpset *, size_t expected);
void		fpset_free(struct fpset *);

/* Adds (fp, seq); seq in 1..FPSET_SEQ_MAX.  -1 when memory runs out. */
int		fpset_add(struct fpset *, uint64_t fp, uint64_t seq);

/* The same for n entries at once: the fast way to fill a large set. */
int		fpset_add_many(struct fpset *, const uint64_t *fp,
		    const uint64_t *seq, size_t n);

/* Removes the entry (fp, seq) if present (undo of an uncommitted add). */
void		fpset_remove(struct fpset *, uint64_t fp, uint64_t seq);

/*
 * Candidates for fp: start with *pos = FPSET_START; each call returns the
 * seq of the next entry whose fingerprint matches, or 0 when there are no
 * more.  The set must not change during the walk.
 */
#define FPSET_START	SIZE_MAX
uint64_t	fpset_next(const struct fpset *, uint64_t fp, size_t *pos);

size_t		fpset_bytes(const struct fpset *);

/*
 * For a thread other than the one that adds: makes the table the set will
 * grow into next, once it is 78% full, and touches every page of it, so
 * that the adding thread does not take the page faults (measured: up to
 * ~1.5 s for a 400 MB table on a 2-core VM).  Cheap when there is
 * nothing to do.
 */
void		fpset_make_spare(struct fpset *);

#endif
