/*
 * fpset.c - fingerprint table; see fpset.h.
 *
 * Slot layout (3 x uint32): w0 = fp bits 8..39, w1 = fp bits 40..63 in the
 * top 24 bits | seq bits 32..39, w2 = seq bits 0..31.  seq 0 marks an empty
 * slot.  The home slot is fastrange(fp, cap) so any capacity works, which
 * lets the table grow by 1.25x instead of doubling.
 */
#include <stdlib.h>

#include "fpset.h"

#define FP_MASK		(~UINT64_C(0) << 8)
#define MAX_LOAD_NUM	4	/* grow past 80% */
#define MAX_LOAD_DEN	5
#define MIN_CAP		1024

static uint64_t
slot_seq(const uint32_t *s)
{
	return (uint64_t)(s[1] & 0xff) << 32 | s[2];
}

static uint64_t
slot_fp(const uint32_t *s)
{
	return (uint64_t)s[0] << 8 | (uint64_t)(s[1] >> 8) << 40;
}

static void
slot_set(uint32_t *s, uint64_t fp, uint64_t seq)
{
	s[0] = (uint32_t)(fp >> 8);
	s[1] = (uint32_t)(fp >> 40) << 8 | (uint32_t)(seq >> 32);
	s[2] = (uint32_t)seq;
}

static size_t
home(uint64_t fp, size_t cap)
{
	return (size_t)(((unsigned __int128)fp * cap) >> 64);
}

/* Growth is by a quarter, so that the set never holds much unused room. */
static size_t
grown_cap(size_t cap)
{
	return cap + cap / 4;
}

static uint32_t *
table_alloc(size_t cap)
{
	return calloc(cap, 3 * sizeof(uint32_t));
}

/*
 * Sized as a growth leaves it, 64% full: sized to the limit, a restarted
 * aggd grew the whole table (both copies held at once) within its first
 * thousand new events.
 */
int
fpset_init(struct fpset *s, size_t expected)
{
	s->cap = expected / 16 * 25 + MIN_CAP;
	s->n = s->used = 0;
	s->old = s->spare = NULL;
	s->old_cap = s->moved = s->spare_want = s->spare_cap = 0;
	s->spare_asked = 0;
	return (s->slot = table_alloc(s->cap)) == NULL ? -1 : 0;
}

void
fpset_free(struct fpset *s)
{
	free(s->slot);
	free(s->old);
	free(s->spare);
	s->slot = s->old = s->spare = NULL;
	s->spare_asked = 0;
	s->spare_want = 0;
	s->cap = s->n = s->used = s->old_cap = s->moved = 0;
}

static void
table_place(uint32_t *t, size_t cap, uint64_t fp, uint64_t seq)
{
	size_t i = home(fp, cap);

	while (slot_seq(&t[3 * i]) != 0)
		if (++i == cap)
			i = 0;
	slot_set(&t[3 * i], fp, seq);
}

/* Copies up to k slots of the old table into the new one. */
static void
migrate(struct fpset *s, size_t k)
{
	const uint32_t *e;

	for (; k > 0 && s->old && s->moved < s->old_cap; k--, s->moved++) {
		e = &s->old[3 * s->moved];
		if (slot_seq(e) != 0) {
			table_place(s->slot, s->cap, slot_fp(e), slot_seq(e));
			s->used++;
		}
	}
	if (s->old && s->moved == s->old_cap) {
		free(s->old);
		s->old = NULL;
		s->old_cap = s->moved = 0;
	}
}

/*
 * Growing rehashes incrementally: the full table becomes "old", a table
 * 1.25x as large takes new entries, and every add copies MIGRATE_STEP old
 * slots across, so no single add pays for millions of moves (which held
 * the writer for 100-270 ms at 2-3 M events).  Lookups look in both
 * tables until the copy is done.  The copy ends after cap/MIGRATE_STEP
 * adds, long before the new table could fill: it starts 64% full.
 */
#define MIGRATE_STEP	16

static int
fpset_grow(struct fpset *s)
{
	uint32_t *bigger;
	size_t cap = grown_cap(s->cap);

	migrate(s, SIZE_MAX);		/* finish any earlier growth */
	bigger = __atomic_exchange_n(&s->spare, NULL, __ATOMIC_ACQUIRE);
	if (bigger != NULL &&
	    __atomic_load_n(&s->spare_cap, __ATOMIC_RELAXED) != cap) {
		free(bigger);
		bigger = NULL;
	}
	s->spare_asked = 0;
	__atomic_store_n(&s->spare_want, 0, __ATOMIC_RELAXED);	/* too late */
	if (bigger == NULL && (bigger = table_alloc(cap)) == NULL)
		return -1;
	s->old = s->slot;
	s->old_cap = s->cap;
	s->moved = 0;
	s->slot = bigger;
	s->cap = cap;
	s->used = 0;
	return 0;
}

int
fpset_add(struct fpset *s, uint64_t fp, uint64_t seq)
{
	uint32_t *t;

	migrate(s, MIGRATE_STEP);
	/* Late, as the spare counts against memory too; still seconds ahead. */
	if (!s->spare_asked && s->used * 50 > s->cap * 39 && s->old == NULL) {
		__atomic_store_n(&s->spare_want, grown_cap(s->cap),
		    __ATOMIC_RELAXED);
		s->spare_asked = 1;
	} else if (!s->spare_asked &&
	    __atomic_load_n(&s->spare, __ATOMIC_RELAXED) != NULL &&
	    (t = __atomic_exchange_n(&s->spare, NULL, __ATOMIC_ACQUIRE)) != NULL)
		free(t);		/* came after its growth: not ours */
	if ((s->used + 1) * MAX_LOAD_DEN > s->cap * MAX_LOAD_NUM &&
	    fpset_grow(s) == -1)
		return -1;
	table_place(s->slot, s->cap, fp & FP_MASK, seq);
	s->used++;
	s->n++;
	return 0;
}

/*
 * Bulk load: with the home slots of a batch prefetched first, the cache
 * misses of a table much larger than the cache overlap instead of coming
 * one after another (the rebuild at start, 10 M entries: see store.c).
 */
int
fpset_add_many(struct fpset *s, const uint64_t *fp, const uint64_t *seq,
    size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		__builtin_prefetch(&s->slot[3 * home(fp[i] & FP_MASK, s->cap)], 1);
	for (i = 0; i < n; i++)
		if (fpset_add(s, fp[i], seq[i]) == -1)
			return -1;
	return 0;
}

/* The next match in table t from index i, or 0; *at is where. */
static uint64_t
table_next(const uint32_t *t, size_t cap, uint64_t fp, size_t i, size_t *at)
{
	const uint32_t *e;

	for (;;) {
		e = &t[3 * i];
		if (slot_seq(e) == 0)
			return 0;
		if (slot_fp(e) == fp) {
			*at = i;
			return slot_seq(e);
		}
		if (++i == cap)
			i = 0;
	}
}

/*
 * *pos below cap is a place in the current table, from cap on one in the
 * old table.  An entry being copied may be seen in both: a candidate
 * twice, which only costs the caller a second check.
 */
uint64_t
fpset_next(const struct fpset *s, uint64_t fp, size_t *pos)
{
	size_t at = 0, i;
	uint64_t seq = 0;

	fp &= FP_MASK;
	if (*pos == FPSET_START || *pos < s->cap) {
		i = *pos == FPSET_START ? home(fp, s->cap) :
		    (*pos + 1 == s->cap ? 0 : *pos + 1);
		if ((seq = table_next(s->slot, s->cap, fp, i, &at)) != 0) {
			*pos = at;
			return seq;
		}
		if (s->old == NULL)
			return 0;
		i = home(fp, s->old_cap);
	} else if (s->old == NULL)
		return 0;
	else
		i = *pos - s->cap + 1 == s->old_cap ? 0 : *pos - s->cap + 1;
	if ((seq = table_next(s->old, s->old_cap, fp, i, &at)) != 0)
		*pos = s->cap + at;
	return seq;
}

/* Backward-shift deletion keeps every probe run free of holes. */
void
fpset_remove(struct fpset *s, uint64_t fp, uint64_t seq)
{
	size_t pos = FPSET_START, i, j, k;
	uint64_t got;

	/* Rare (a rolled-back transaction): one table keeps this simple. */
	migrate(s, SIZE_MAX);
	while ((got = fpset_next(s, fp, &pos)) != 0 && got != seq)
		;
	if (got == 0)
		return;
	i = j = pos;
	for (;;) {
		if (++j == s->cap)
			j = 0;
		if (slot_seq(&s->slot[3 * j]) == 0)
			break;
		k = home(slot_fp(&s->slot[3 * j]), s->cap);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			s->slot[3 * i] = s->slot[3 * j];
			s->slot[3 * i + 1] = s->slot[3 * j + 1];
			s->slot[3 * i + 2] = s->slot[3 * j + 2];
			i = j;
		}
	}
	slot_set(&s->slot[3 * i], 0, 0);
	s->n--;
	s->used--;
}

void
fpset_make_spare(struct fpset *s)
{
	size_t want = __atomic_load_n(&s->spare_want, __ATOMIC_RELAXED), i;
	volatile unsigned char *p;
	uint32_t *t;

	if (want == 0 || __atomic_load_n(&s->spare, __ATOMIC_ACQUIRE) != NULL ||
	    (t = table_alloc(want)) == NULL)
		return;
	for (p = (unsigned char *)t, i = 0; i < want * 3 * sizeof(uint32_t);
	    i += 4096) {
		/* A growth that came first makes this one useless: stop. */
		if (i % (1 << 20) == 0 && __atomic_load_n(&s->spare_want,
		    __ATOMIC_RELAXED) != want) {
			free(t);
			return;
		}
		p[i] = 0;
	}
	__atomic_store_n(&s->spare_cap, want, __ATOMIC_RELAXED);
	__atomic_store_n(&s->spare, t, __ATOMIC_RELEASE);
	/* Unless the adding thread asked again meanwhile. */
	(void)__atomic_compare_exchange_n(&s->spare_want, &want, 0, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
}

size_t
fpset_bytes(const struct fpset *s)
{
	size_t spare = 0;

	if (__atomic_load_n(&s->spare, __ATOMIC_ACQUIRE) != NULL)
		spare = __atomic_load_n(&s->spare_cap, __ATOMIC_RELAXED);
	return (s->cap + s->old_cap + spare) * 3 * sizeof(uint32_t);
}
