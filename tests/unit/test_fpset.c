/* test_fpset.c - the fingerprint set: adds, finds, collisions, removal. */
#include <stdint.h>
#include <stdlib.h>

#include "fpset.h"
#include "t.h"

static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* 1 when (fp, seq) is among the candidates of fp. */
static int
has(const struct fpset *s, uint64_t fp, uint64_t seq)
{
	size_t pos = FPSET_START;
	uint64_t got;

	while ((got = fpset_next(s, fp, &pos)) != 0)
		if (got == seq)
			return 1;
	return 0;
}

static void
test_add_find_grow(void)
{
	struct fpset s;
	uint64_t st = 1, i, *fp = malloc(200000 * sizeof(*fp));
	int missing = 0;

	CHECK(fpset_init(&s, 0) == 0);
	for (i = 0; i < 200000; i++) {
		fp[i] = rnd(&st);
		CHECK(fpset_add(&s, fp[i], i + 1) == 0);
	}
	CHECK_EQ(s.n, 200000);
	CHECK(s.n * 5 <= s.cap * 4);	/* at most 80% full */
	CHECK(fpset_bytes(&s) <= 200000 * 24);	/* <= 24 B per entry */
	for (i = 0; i < 200000; i++)
		missing += !has(&s, fp[i], i + 1);
	CHECK_EQ(missing, 0);
	CHECK(!has(&s, rnd(&st), 1));
	fpset_free(&s);
	free(fp);
}

static void
test_same_fingerprint(void)
{
	struct fpset s;
	size_t pos = FPSET_START;
	uint64_t fp = 0xabcdef0123456789ULL, a, b;

	CHECK(fpset_init(&s, 10) == 0);
	CHECK(fpset_add(&s, fp, 7) == 0);
	CHECK(fpset_add(&s, fp, 9) == 0);
	/* only the low 8 bits differ: the set keeps 56, so still a candidate */
	CHECK(fpset_add(&s, fp ^ 0x1, 11) == 0);
	a = fpset_next(&s, fp, &pos);
	b = fpset_next(&s, fp, &pos);
	CHECK((a == 7 && b == 9) || (a == 9 && b == 7));
	CHECK_EQ(fpset_next(&s, fp, &pos), 11);
	CHECK_EQ(fpset_next(&s, fp, &pos), 0);
	CHECK(has(&s, fp, (uint64_t)FPSET_SEQ_MAX) == 0);
	CHECK(fpset_add(&s, fp + (1u << 20), FPSET_SEQ_MAX) == 0);
	CHECK(has(&s, fp + (1u << 20), FPSET_SEQ_MAX));
	fpset_free(&s);
}

static void
test_remove(void)
{
	struct fpset s;
	uint64_t st = 42, i, *fp = malloc(50000 * sizeof(*fp));
	int wrong = 0;

	CHECK(fpset_init(&s, 1000) == 0);
	for (i = 0; i < 50000; i++) {
		/* few distinct home slots: long probe runs to repair */
		fp[i] = rnd(&st) & 0xff000000000fff00ULL;
		CHECK(fpset_add(&s, fp[i], i + 1) == 0);
	}
	for (i = 0; i < 50000; i += 3)
		fpset_remove(&s, fp[i], i + 1);
	fpset_remove(&s, 12345, 999999);	/* absent: no effect */
	for (i = 0; i < 50000; i++)
		wrong += has(&s, fp[i], i + 1) != (i % 3 != 0);
	CHECK_EQ(wrong, 0);
	CHECK_EQ(s.n, 50000 - 16667);
	fpset_free(&s);
	free(fp);
}

/* While a growth is being copied, every entry is found in one table or both. */
static void
test_lookup_while_growing(void)
{
	struct fpset s;
	uint64_t st = 7, i, j, fp[20000];
	int midway = 0, missing = 0;

	CHECK(fpset_init(&s, 0) == 0);
	for (i = 0; i < 20000; i++) {
		fp[i] = rnd(&st);
		CHECK(fpset_add(&s, fp[i], i + 1) == 0);
		if (s.old != NULL && s.moved > 0 && s.moved < s.old_cap / 2 &&
		    midway++ < 3)
			for (j = 0; j <= i; j++)
				missing += !has(&s, fp[j], j + 1);
	}
	CHECK(midway >= 3);
	CHECK_EQ(missing, 0);
	/* a removal in the middle of a copy finishes it first */
	while (s.old == NULL)
		CHECK(fpset_add(&s, rnd(&st), ++i + 1) == 0);
	fpset_remove(&s, fp[5], 6);
	CHECK(s.old == NULL);
	CHECK(!has(&s, fp[5], 6));
	CHECK(has(&s, fp[6], 7));
	fpset_free(&s);
}

/* A bulk load, growing on the way, finds what single adds find. */
static void
test_add_many(void)
{
	struct fpset s;
	uint64_t st = 11, fp[5000], seq[5000];
	size_t i;
	int missing = 0;

	CHECK(fpset_init(&s, 1000) == 0);
	for (i = 0; i < 5000; i++) {
		fp[i] = rnd(&st);
		seq[i] = i + 1;
	}
	fp[4999] = fp[17];		/* a shared fingerprint */
	for (i = 0; i < 5000; i += 32)
		CHECK(fpset_add_many(&s, fp + i, seq + i,
		    i + 32 <= 5000 ? 32 : 5000 - i) == 0);
	CHECK_EQ(s.n, 5000);
	for (i = 0; i < 5000; i++)
		missing += !has(&s, fp[i], seq[i]);
	CHECK_EQ(missing, 0);
	CHECK(!has(&s, fp[1], 3));
	fpset_free(&s);
}

/* A set made for n entries takes a quarter more before it grows. */
static void
test_init_headroom(void)
{
	struct fpset s;
	uint64_t st = 5, i;

	CHECK(fpset_init(&s, 100000) == 0);
	for (i = 1; i <= 125000; i++)
		CHECK(fpset_add(&s, rnd(&st), i) == 0);
	CHECK(s.old == NULL);
	CHECK(s.cap < 170000);
	fpset_free(&s);
}

/* A spare made by another thread is the table the set grows into. */
static void
test_spare(void)
{
	struct fpset s;
	uint64_t st = 9, i, fp[4000];
	uint32_t *spare;
	int missing = 0;

	CHECK(fpset_init(&s, 1000) == 0);
	fpset_make_spare(&s);			/* nothing asked yet */
	CHECK(s.spare == NULL);
	for (i = 0; s.spare_want == 0; i++) {
		fp[i] = rnd(&st);
		CHECK(fpset_add(&s, fp[i], i + 1) == 0);
	}
	CHECK(s.used * 50 > s.cap * 39);
	fpset_make_spare(&s);
	CHECK((spare = s.spare) != NULL);
	CHECK_EQ(s.spare_want, 0);
	CHECK_EQ(fpset_bytes(&s), (s.cap + s.spare_cap) * 12);
	for (; s.old == NULL; i++) {
		fp[i] = rnd(&st);
		CHECK(fpset_add(&s, fp[i], i + 1) == 0);
	}
	CHECK(s.slot == spare);
	CHECK(s.spare == NULL);
	while (i-- > 0)
		missing += !has(&s, fp[i], i + 1);
	CHECK_EQ(missing, 0);
	fpset_free(&s);

	/* A spare too late for its growth is not made, or not kept. */
	CHECK(fpset_init(&s, 1000) == 0);
	for (i = 0; s.spare_want == 0; i++)
		CHECK(fpset_add(&s, rnd(&st), i + 1) == 0);
	for (; s.old == NULL; i++)
		CHECK(fpset_add(&s, rnd(&st), i + 1) == 0);
	CHECK_EQ(s.spare_want, 0);
	fpset_make_spare(&s);
	CHECK(s.spare == NULL);
	s.spare_want = s.cap;		/* as if asked before the growth */
	fpset_make_spare(&s);
	CHECK(s.spare != NULL);
	CHECK(fpset_add(&s, rnd(&st), ++i) == 0);
	CHECK(s.spare == NULL);
	fpset_free(&s);
}

int
main(void)
{
	T_RUN(test_add_find_grow);
	T_RUN(test_same_fingerprint);
	T_RUN(test_remove);
	T_RUN(test_lookup_while_growing);
	T_RUN(test_add_many);
	T_RUN(test_init_headroom);
	T_RUN(test_spare);
	return t_done();
}
