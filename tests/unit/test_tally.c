/* test_tally.c - counters by topic id: set, replace, sums, changes. */
#include <stdint.h>

#include "t.h"
#include "tally.h"

static void
test_set_and_sum(void)
{
	struct tally t;
	struct store_counts c;
	struct store_counts a = { .received = 3, .unique = 2,
	    .duplicates = 1, .last_ms = 5 };
	struct store_counts b = { .received = 10, .unique = 4,
	    .duplicates = 6, .last_ms = 9 };
	int64_t id;

	tally_init(&t);
	tally_get(&t, 0, &c);
	CHECK_EQ(c.received, 0);
	CHECK_EQ(tally_set(&t, 2, &a), 0);	/* id 1 not set: zeros */
	tally_get(&t, 1, &c);
	CHECK_EQ(c.received, 0);
	tally_get(&t, 2, &c);
	CHECK_EQ(c.unique, 2);
	/* a topic's counts replace its earlier ones in the sum */
	CHECK_EQ(tally_set(&t, 2, &b), 0);
	CHECK_EQ(tally_set(&t, 1, &a), 0);
	tally_get(&t, 0, &c);
	CHECK_EQ(c.received, 13);
	CHECK_EQ(c.unique, 6);
	CHECK_EQ(c.duplicates, 7);
	CHECK_EQ(c.last_ms, 9);		/* the latest of any topic */
	/* ids past the first growth, and ids never given */
	for (id = 3; id <= 100; id++)
		CHECK_EQ(tally_set(&t, id, &a), 0);
	CHECK_EQ(t.n, 100);
	tally_get(&t, 0, &c);
	CHECK_EQ(c.received, 13 + 98 * 3);
	tally_get(&t, 101, &c);
	CHECK_EQ(c.received, 0);
	tally_get(&t, -1, &c);
	CHECK_EQ(c.received, 0);
	CHECK_EQ(tally_set(&t, 0, &a), -1);
	tally_free(&t);
}

static void
test_changes_apply_in_order(void)
{
	struct tally t;
	struct tally_changes ch = { NULL, 0, 0 };
	struct store_counts c;
	struct store_counts first = { .received = 1, .unique = 1,
	    .duplicates = 0, .last_ms = 1 };
	struct store_counts later = { .received = 5, .unique = 2,
	    .duplicates = 3, .last_ms = 2 };
	int i;

	tally_init(&t);
	/* two commits of one group changed topic 7; the later one counts */
	CHECK_EQ(tally_note(7, &first, &ch), 0);
	for (i = 0; i < 40; i++)
		CHECK_EQ(tally_note(3, &first, &ch), 0);
	CHECK_EQ(tally_note(7, &later, &ch), 0);
	CHECK_EQ(ch.n, 42);
	CHECK_EQ(tally_apply(&t, &ch, 0), 0);
	tally_get(&t, 7, &c);
	CHECK_EQ(c.duplicates, 3);
	tally_get(&t, 0, &c);
	CHECK_EQ(c.received, 6);
	CHECK_EQ(c.unique, 3);
	CHECK_EQ(c.duplicates, 3);
	tally_changes_free(&ch);
	CHECK_EQ(ch.n, 0);
	tally_free(&t);
}

/*
 * Two looks cross (another aggd's counts, read before this aggd's commit
 * that came back later): the older never takes the counters back.
 */
static void
test_older_look_is_skipped(void)
{
	struct tally t;
	struct tally_changes newer = { NULL, 0, 0 }, older = { NULL, 0, 0 };
	struct store_counts c;
	struct store_counts a = { .received = 10, .unique = 6,
	    .duplicates = 4, .last_ms = 9 };
	struct store_counts b = { .received = 7, .unique = 5,
	    .duplicates = 2, .last_ms = 8 };

	tally_init(&t);
	CHECK_EQ(tally_note(2, &a, &newer), 0);
	CHECK_EQ(tally_note(2, &b, &older), 0);
	CHECK_EQ(tally_apply(&t, &newer, 0), 0);
	CHECK_EQ(tally_apply(&t, &older, 0), 0);
	tally_get(&t, 2, &c);
	CHECK_EQ(c.received, 10);
	CHECK_EQ(c.unique, 6);
	tally_get(&t, 0, &c);
	CHECK_EQ(c.received, c.unique + c.duplicates);
	CHECK_EQ(c.received, 10);
	tally_changes_free(&newer);
	tally_changes_free(&older);
	tally_free(&t);
}

/* Received per second over the last 60 s, from two minutes' counts. */
static void
test_rate(void)
{
	struct tally t;
	struct tally_changes ch = { NULL, 0, 0 };
	struct store_counts c = { 0 };
	uint64_t m = 60000 * 1000;	/* the start of some minute */

	tally_init(&t);
	c.received = 600;
	CHECK_EQ(tally_note(1, &c, &ch), 0);
	CHECK_EQ(tally_apply(&t, &ch, m + 10), 0);
	CHECK_EQ(tally_rate(&t, 1, m + 10) * 1000, 10000);	/* 600 in 60 s */
	CHECK_EQ(tally_rate(&t, 0, m + 10) * 1000, 10000);
	/* halfway through the next minute half of those are still in */
	CHECK_EQ(tally_rate(&t, 1, m + 90000) * 1000, 5000);
	ch.n = 0;
	c.received = 720;	/* 120 more, that next minute */
	CHECK_EQ(tally_note(1, &c, &ch), 0);
	CHECK_EQ(tally_apply(&t, &ch, m + 90000), 0);
	CHECK_EQ(tally_rate(&t, 1, m + 90000) * 1000, 7000);	/* 300 + 120 */
	/* two minutes later nothing is left of them */
	CHECK_EQ(tally_rate(&t, 1, m + 240000) * 1000, 0);
	CHECK_EQ(tally_rate(&t, 2, m), 0);	/* no such topic */
	tally_changes_free(&ch);
	tally_free(&t);
}

int
main(void)
{
	T_RUN(test_rate);
	T_RUN(test_set_and_sum);
	T_RUN(test_changes_apply_in_order);
	T_RUN(test_older_look_is_skipped);
	return t_done();
}
