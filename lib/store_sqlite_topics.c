/*
 * store_sqlite_topics.c - the SQLite engine's topics: names to ids by
 * open addressing in memory, loaded at start (each name checked against
 * its row's sum), created as events name them, their counters written
 * with each commit, and the --max-topics limit.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "rowsum.h"
#include "store_sqlite.h"

/* Topic names -> struct topic, by open addressing over indices. */
static uint64_t
topic_hash(const struct sqlite_store *s, const char *name, size_t len)
{
	return siphash(&s->key, name, len);
}

/* Places every topic in the zeroed table t[0..cap). */
static void
tindex_fill(const struct sqlite_store *s, size_t *t, size_t cap)
{
	size_t i, j;

	for (i = 0; i < s->ntopics; i++) {
		for (j = s->topics[i].hash % cap; t[j]; j = (j + 1) % cap)
			;
		t[j] = i + 1;
	}
}

static int
tindex_rebuild(struct sqlite_store *s, size_t cap)
{
	size_t *t;

	if ((t = calloc(cap, sizeof(*t))) == NULL)
		return -1;
	tindex_fill(s, t, cap);
	free(s->tindex);
	s->tindex = t;
	s->tindex_cap = cap;
	return 0;
}

static struct topic *
topic_find(struct sqlite_store *s, const char *name, size_t len, uint64_t h)
{
	size_t j;
	struct topic *t;

	for (j = h % s->tindex_cap; s->tindex[j]; j = (j + 1) % s->tindex_cap) {
		t = &s->topics[s->tindex[j] - 1];
		if (t->hash == h && t->len == len && memcmp(t->name, name, len) == 0)
			return t;
	}
	return NULL;
}

/* Adds a topic to memory only; the caller stores it. */
static struct topic *
topic_add(struct sqlite_store *s, const char *name, size_t len, uint64_t h)
{
	struct topic *t;
	size_t j;

	if (array_grow(&s->topics, &s->topics_cap, s->ntopics + 1,
	    sizeof(*s->topics), 16) == -1)
		return NULL;
	if (2 * (s->ntopics + 1) > s->tindex_cap &&
	    tindex_rebuild(s, 4 * (s->ntopics + 1)) == -1)
		return NULL;
	t = &s->topics[s->ntopics];
	memset(t, 0, sizeof(*t));
	if ((t->name = malloc(len + 1)) == NULL)
		return NULL;
	memcpy(t->name, name, len);
	t->name[len] = '\0';
	t->len = len;
	t->hash = h;
	t->id = (int64_t)++s->ntopics;
	for (j = h % s->tindex_cap; s->tindex[j]; j = (j + 1) % s->tindex_cap)
		;
	s->tindex[j] = s->ntopics;
	return t;
}

/* The topic of an event in the open transaction, created if new. */
struct topic *
sqlite_topic_get(struct sqlite_store *s, const char *name, size_t len, int *rc)
{
	uint64_t h = topic_hash(s, name, len);
	struct topic *t;

	if ((t = topic_find(s, name, len, h)) != NULL)
		return t;
	if ((t = topic_add(s, name, len, h)) == NULL) {
		*rc = SQLITE_NOMEM;
		return NULL;
	}
	sqlite3_bind_int64(s->ins_topic, 1, t->id);
	sqlite3_bind_text(s->ins_topic, 2, t->name, (int)len, SQLITE_STATIC);
	sqlite3_bind_int64(s->ins_topic, 3, sqlite_topic_sum(t->id, t->name,
	    len));
	if ((*rc = sqlite_step_done(s->ins_topic)) != 0)
		return NULL;
	return t;
}

/* Forgets topics created by a transaction that rolled back. */
void
sqlite_topics_truncate(struct sqlite_store *s, size_t n)
{
	while (s->ntopics > n)
		free(s->topics[--s->ntopics].name);
	/* In place: a rollback must not fail for want of memory. */
	if (s->tindex == NULL)
		return;
	memset(s->tindex, 0, s->tindex_cap * sizeof(*s->tindex));
	tindex_fill(s, s->tindex, s->tindex_cap);
}

int
sqlite_topics_load(struct sqlite_store *s, uint64_t *uniq)
{
	struct topic *t;
	sqlite3_stmt *st;
	int rc;
	const char *name;
	size_t len;

	*uniq = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT id, name, received, uniq, dups,"
	    " last_at, sum, expired FROM topics ORDER BY id", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (tindex_rebuild(s, 64) == -1)
		goto fail;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		name = (const char *)sqlite3_column_text(st, 1);
		len = (size_t)sqlite3_column_bytes(st, 1);
		/* Ids are dense from 1: topic_add gives them in order. */
		if (sqlite3_column_int64(st, 0) != (int64_t)s->ntopics + 1 ||
		    (t = topic_add(s, name, len, topic_hash(s, name, len))) ==
		    NULL)
			goto fail;
		t->total.received = (uint64_t)sqlite3_column_int64(st, 2);
		t->total.unique = (uint64_t)sqlite3_column_int64(st, 3);
		t->total.duplicates = (uint64_t)sqlite3_column_int64(st, 4);
		t->total.last_ms = (uint64_t)sqlite3_column_int64(st, 5);
		t->total.expired = (uint64_t)sqlite3_column_int64(st, 7);
		if (sqlite3_column_type(st, 6) != SQLITE_NULL &&
		    sqlite3_column_int64(st, 6) != sqlite_topic_sum(t->id,
		    t->name, t->len)) {
			snprintf(s->damage, sizeof(s->damage), "topic %lld"
			    " fails its checksum", (long long)t->id);
			goto fail;
		}
		if (t->total.last_ms > s->last_ms)
			s->last_ms = t->total.last_ms;
		*uniq += t->total.unique;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
fail:
	sqlite3_finalize(st);
	return -1;
}

int
sqlite_topics_flush(struct sqlite_store *s)
{
	struct topic *t;
	size_t i;
	int rc;

	for (i = 0; i < s->ntouched; i++) {
		t = &s->topics[s->touched[i]];
		sqlite3_bind_int64(s->upd_topic, 1, (int64_t)t->delta.received);
		sqlite3_bind_int64(s->upd_topic, 2, (int64_t)t->delta.unique);
		sqlite3_bind_int64(s->upd_topic, 3, (int64_t)t->delta.duplicates);
		sqlite3_bind_int64(s->upd_topic, 4, (int64_t)t->delta.expired);
		sqlite3_bind_int64(s->upd_topic, 5, (int64_t)s->commit_ms);
		sqlite3_bind_int64(s->upd_topic, 6, t->id);
		if ((rc = sqlite_step_done(s->upd_topic)) != 0)
			return rc;
	}
	return 0;
}

/*
 * 1 when batch b brings more new topics than max_topics leaves room for
 * (new names counted once each, by their hash), 0 when not, -1 without
 * memory.  A batch of fewer events than the room needs no look.
 */
int
sqlite_past_topic_limit(struct sqlite_store *s, const struct event_batch *b)
{
	size_t max = s->base.max_topics, room, cap, n = 0, i, k;
	struct event_fields f;
	uint64_t h, *seen;

	if (max == 0 || s->ntopics + b->n <= max)
		return 0;
	room = max > s->ntopics ? max - s->ntopics : 0;
	for (cap = 16; cap < 2 * (room + 1); cap *= 2)
		;
	if ((seen = calloc(cap, sizeof(*seen))) == NULL)
		return -1;
	for (i = 0; i < b->n && n <= room; i++) {
		event_fields(b, i, &f);
		h = topic_hash(s, f.topic, f.topic_len);
		if (topic_find(s, f.topic, f.topic_len, h) != NULL)
			continue;
		h |= 1;		/* 0 marks a free slot */
		for (k = h & (cap - 1); seen[k] && seen[k] != h;
		    k = (k + 1) & (cap - 1))
			;
		if (!seen[k])
			seen[k] = h, n++;
	}
	free(seen);
	return n > room;
}

int64_t
sqlite_topic_sum(int64_t id, const char *name, size_t len)
{
	return rowsum_bytes(ROWSUM_TOPIC, id, name, len);
}

