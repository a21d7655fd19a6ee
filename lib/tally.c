/*
 * tally.c - counters by topic id and their sum; see tally.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "tally.h"

void
tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
}

void
tally_free(struct tally *t)
{
	free(t->topic);
	tally_init(t);
}

int
tally_reserve(struct tally *t, size_t n)
{
	return array_grow(&t->topic, &t->cap, n, sizeof(*t->topic), 16);
}

int
tally_set(struct tally *t, int64_t id, const struct store_counts *c)
{
	struct store_counts *was;
	size_t i = (size_t)id - 1;

	if (id < 1 || tally_reserve(t, i + 1) == -1)
		return -1;
	if (i >= t->n)
		t->n = i + 1;
	was = &t->topic[i];
	t->sum.received += c->received - was->received;
	t->sum.unique += c->unique - was->unique;
	t->sum.duplicates += c->duplicates - was->duplicates;
	*was = *c;
	return 0;
}

void
tally_get(const struct tally *t, int64_t id, struct store_counts *c)
{
	if (id == 0)
		*c = t->sum;
	else if (id > 0 && (size_t)id <= t->n)
		*c = t->topic[id - 1];
	else
		memset(c, 0, sizeof(*c));
}

int
tally_apply(struct tally *t, const struct tally_changes *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		if (tally_set(t, ch->v[i].id, &ch->v[i].counts) == -1)
			return -1;
	return 0;
}

int
tally_changes_reserve(struct tally_changes *ch, size_t more)
{
	if (more > SIZE_MAX - ch->n)
		return -1;
	return array_grow(&ch->v, &ch->cap, ch->n + more, sizeof(*ch->v), 16);
}

int
tally_note(int64_t id, const struct store_counts *c, void *arg)
{
	struct tally_changes *ch = arg;

	if (tally_changes_reserve(ch, 1) == -1)
		return -1;
	ch->v[ch->n++] = (struct tally_change){ id, *c };
	return 0;
}

int
tally_set_fn(int64_t id, const struct store_counts *c, void *tally)
{
	return tally_set(tally, id, c);
}

void
tally_changes_free(struct tally_changes *ch)
{
	free(ch->v);
	memset(ch, 0, sizeof(*ch));
}
