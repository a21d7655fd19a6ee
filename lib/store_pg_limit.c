/*
 * store_pg_limit.c - --max-topics on PostgreSQL: the slow path a group
 * takes when it might bring the store past its limit, decided under the
 * head's lock so that several aggd never pass it together.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "store_pg.h"

static int
lfind_name(char *const *v, size_t n, const char *name)
{
	while (n-- > 0)
		if (strcmp(v[n], name) == 0)
			return 1;
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Which batches would pass max_topics, decided under the head's lock in
 * an open transaction (the slow path, for a store near its limit): in
 * queue order, each batch's new topics count against what is left.
 * known: the names the database has of those the batches use.
 */
static int
refuse_over(struct event_batch *const *b, size_t n, size_t max_topics,
    struct store_counts *res, const PGresult *known, uint64_t topics)
{
	size_t i, j, k, nk = (size_t)PQntuples(known), nadded = 0;
	char **names, **added, key[1024];
	struct event_fields f;
	int rc = -1;

	names = calloc(nk + 1, sizeof(*names));
	added = calloc(max_topics + 1, sizeof(*added));
	if (names == NULL || added == NULL)
		goto out;
	for (i = 0; i < nk; i++)
		names[i] = PQgetvalue(known, (int)i, 0);
	qsort(names, nk, sizeof(*names), name_cmp);
	for (i = 0; i < n; i++) {
		size_t was = nadded;

		for (j = 0; j < b[i]->n && !res[i].refused; j++) {
			char *p = key;

			event_fields(b[i], j, &f);
			snprintf(key, sizeof(key), "%.*s", (int)f.topic_len,
			    f.topic);
			if (bsearch(&p, names, nk, sizeof(*names), name_cmp) ||
			    lfind_name(added, nadded, key))
				continue;
			if (topics + nadded >= max_topics)
				res[i].refused = 1;
			else if ((added[nadded] = strdup(key)) != NULL)
				nadded++;
			else
				goto out;
		}
		if (res[i].refused)	/* its topics are not made after all */
			while (nadded > was)
				free(added[--nadded]);
	}
	rc = 0;
out:
	for (k = 0; k < nadded; k++)
		free(added[k]);
	free(added);
	free(names);
	return rc;
}

/*
 * The slow path: BEGIN, the lock, the topics the batches name that exist,
 * then refuse_over; the transaction stays open for the commit statement.
 */
int
pg_begin_checked(PGconn *db, const struct buf *topic_arr,
    struct event_batch *const *b, size_t n, size_t max_topics,
    struct store_counts *res, char *err, size_t errsz)
{
	const char *v[1] = { topic_arr->data };
	int len[1] = { (int)topic_arr->len }, fmt[1] = { 1 };
	PGresult *r, *known;
	uint64_t topics;
	int rc;

	if ((r = pg_exec_ok(db, PQexec(db, "BEGIN"), PGRES_COMMAND_OK, err,
	    errsz)) == NULL)
		return -1;
	PQclear(r);
	if ((r = pg_exec_ok(db, PQexec(db, "SELECT topics FROM agg_head"
	    " WHERE id = 1 FOR UPDATE"), PGRES_TUPLES_OK, err, errsz)) == NULL)
		return -1;
	topics = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if ((known = pg_exec_ok(db, PQexecParams(db, "SELECT DISTINCT name"
	    " FROM agg_topics WHERE name = ANY($1::text[])", 1, NULL, v, len,
	    fmt, 0), PGRES_TUPLES_OK, err, errsz)) == NULL)
		return -1;
	rc = refuse_over(b, n, max_topics, res, known, topics);
	PQclear(known);
	if (rc == -1)
		snprintf(err, errsz, "out of memory");
	return rc;
}

