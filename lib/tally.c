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
	free(t->rate);
	tally_init(t);
}

int
tally_reserve(struct tally *t, size_t n)
{
	return array_grow(&t->topic, &t->cap, n, sizeof(*t->topic), 16) == -1 ||
	    array_grow(&t->rate, &t->rate_cap, n, sizeof(*t->rate), 16) == -1 ?
	    -1 : 0;
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
	t->sum.expired += c->expired - was->expired;
	if (c->last_ms > t->sum.last_ms)
		t->sum.last_ms = c->last_ms;
	*was = *c;
	return 0;
}

static void
rate_add(struct tally_rate *r, uint64_t n, uint64_t now_ms)
{
	uint64_t minute = now_ms / 60000;

	if (r->minute != minute) {
		r->prev = r->minute + 1 == minute ? r->cur : 0;
		r->cur = 0;
		r->minute = minute;
	}
	r->cur += n;
}

double
tally_rate(const struct tally *t, int64_t id, uint64_t now_ms)
{
	const struct tally_rate *r;
	uint64_t minute = now_ms / 60000;
	double left = 1 - (double)(now_ms % 60000) / 60000;

	if (id == 0)
		r = &t->sum_rate;
	else if (id > 0 && (size_t)id <= t->n)
		r = &t->rate[id - 1];
	else
		return 0;
	if (r->minute == minute)
		return ((double)r->prev * left + (double)r->cur) / 60;
	if (r->minute + 1 == minute)
		return (double)r->cur * left / 60;
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
tally_apply(struct tally *t, const struct tally_changes *ch, uint64_t now_ms)
{
	struct store_counts was;
	uint64_t n;
	size_t i;

	for (i = 0; i < ch->n; i++) {
		tally_get(t, ch->v[i].id, &was);
		/* an older look (another aggd's, read before our commit) */
		if (ch->v[i].counts.received < was.received ||
		    ch->v[i].counts.expired < was.expired)
			continue;
		if (tally_set(t, ch->v[i].id, &ch->v[i].counts) == -1)
			return -1;
		n = ch->v[i].counts.received - was.received;
		rate_add(&t->rate[ch->v[i].id - 1], n, now_ms);
		rate_add(&t->sum_rate, n, now_ms);
	}
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
