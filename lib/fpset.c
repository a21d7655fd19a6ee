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

static int
fpset_alloc(struct fpset *s, size_t cap)
{
	if (cap < MIN_CAP)
		cap = MIN_CAP;
	if ((s->slot = calloc(cap, 3 * sizeof(uint32_t))) == NULL)
		return -1;
	s->cap = cap;
	s->n = 0;
	return 0;
}

int
fpset_init(struct fpset *s, size_t expected)
{
	return fpset_alloc(s, expected / MAX_LOAD_NUM * MAX_LOAD_DEN + MIN_CAP);
}

void
fpset_free(struct fpset *s)
{
	free(s->slot);
	s->slot = NULL;
	s->cap = s->n = 0;
}

static void
fpset_place(struct fpset *s, uint64_t fp, uint64_t seq)
{
	size_t i = home(fp, s->cap);

	while (slot_seq(&s->slot[3 * i]) != 0)
		if (++i == s->cap)
			i = 0;
	slot_set(&s->slot[3 * i], fp, seq);
	s->n++;
}

static int
fpset_grow(struct fpset *s)
{
	struct fpset bigger;
	size_t i;
	uint32_t *e;

	if (fpset_alloc(&bigger, s->cap + s->cap / 4) == -1)
		return -1;
	for (i = 0; i < s->cap; i++) {
		e = &s->slot[3 * i];
		if (slot_seq(e) != 0)
			fpset_place(&bigger, slot_fp(e), slot_seq(e));
	}
	free(s->slot);
	*s = bigger;
	return 0;
}

int
fpset_add(struct fpset *s, uint64_t fp, uint64_t seq)
{
	if ((s->n + 1) * MAX_LOAD_DEN > s->cap * MAX_LOAD_NUM &&
	    fpset_grow(s) == -1)
		return -1;
	fpset_place(s, fp & FP_MASK, seq);
	return 0;
}

uint64_t
fpset_next(const struct fpset *s, uint64_t fp, size_t *pos)
{
	size_t i = *pos == FPSET_START ? home(fp & FP_MASK, s->cap) :
	    (*pos + 1 == s->cap ? 0 : *pos + 1);
	const uint32_t *e;

	fp &= FP_MASK;
	for (;;) {
		e = &s->slot[3 * i];
		if (slot_seq(e) == 0)
			return 0;
		if (slot_fp(e) == fp) {
			*pos = i;
			return slot_seq(e);
		}
		if (++i == s->cap)
			i = 0;
	}
}

/* Backward-shift deletion keeps every probe run free of holes. */
void
fpset_remove(struct fpset *s, uint64_t fp, uint64_t seq)
{
	size_t pos = FPSET_START, i, j, k;
	uint64_t got;

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
}

size_t
fpset_bytes(const struct fpset *s)
{
	return s->cap * 3 * sizeof(uint32_t);
}
