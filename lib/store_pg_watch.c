/*
 * store_pg_watch.c - what the other aggd on the same database commit
 * (store_follow), on a connection of its own, from the thread that calls
 * store_maintain.
 *
 * Each aggd's writer only marks that it committed; the watch says so with
 * one NOTIFY agg_commit for all the commits since its last round (every
 * few milliseconds), outside the ingest transaction: a NOTIFY inside it
 * would take the cluster-wide notify queue lock at every commit.  The
 * others LISTEN, and on a notification (or every LOOK_EVERY, in case one
 * was lost with a connection) read the head and the counters that changed
 * since the commit number they last saw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_pg.h"

/* The bounded poll: a follower hears of a commit at most this late. */
#define LOOK_EVERY	0.5

struct pg_watch {
	char		*uri;
	PGconn		*db;		/* NULL while the database is away */
	struct pg_retry	 retry;
	uint64_t	 seen;		/* the head's commit number last read */
	double		 next_look;
	int		 deaf;		/* no LISTEN/NOTIFY here (CockroachDB):
					   the bounded poll alone */
};

static const char changed_sql[] =
    "SELECT h.commits, h.last_seq, c.topic_id, c.received, c.uniq,"
    " c.duplicates, c.last_ms, c.expired, h.expired_through"
    " FROM agg_head h LEFT JOIN agg_counts c"
    " ON c.commit_no > $1 WHERE h.id = 1";

struct pg_watch *
pg_watch_new(const char *uri)
{
	struct pg_watch *w;

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	if ((w->uri = strdup(uri)) == NULL) {
		free(w);
		return NULL;
	}
	return w;
}

void
pg_watch_free(struct pg_watch *w)
{
	if (w == NULL)
		return;
	PQfinish(w->db);
	free(w->uri);
	free(w);
}

/* A failure: a broken connection is made again later; err says why. */
static int
lost(struct pg_watch *w, PGresult *r, char *err, size_t errsz)
{
	pg_errmsg(w->db, r, err, errsz);
	PQclear(r);
	if (PQstatus(w->db) == CONNECTION_OK)
		return STORE_ERROR;
	PQfinish(w->db);
	w->db = NULL;
	pg_retry_failed(&w->retry, err);
	return STORE_UNAVAILABLE;
}

/* A new connection LISTENs, and looks at once for what it missed. */
static int
setup(PGconn *db, void *arg, char *err, size_t errsz)
{
	struct pg_watch *w = arg;
	PGresult *r;

	r = PQexec(db, "LISTEN agg_commit");
	w->deaf = PQresultStatus(r) != PGRES_COMMAND_OK;
	if (w->deaf && PQstatus(db) != CONNECTION_OK)
		pg_errmsg(db, r, err, errsz);
	PQclear(r);
	w->next_look = 0;
	return w->deaf && PQstatus(db) != CONNECTION_OK ? -1 : 0;
}

static int
connected(struct pg_watch *w, char *err, size_t errsz)
{
	return pg_reconnect(&w->db, &w->retry, w->uri, setup, w, err, errsz) ==
	    0 ? 0 : STORE_UNAVAILABLE;
}

/* Notifications from other sessions since the last round: 1 if any. */
static int
heard(struct pg_watch *w)
{
	PGnotify *n;
	int any = 0, me = PQbackendPID(w->db);

	if (PQconsumeInput(w->db) == 0)
		return -1;
	while ((n = PQnotifies(w->db)) != NULL) {
		any |= n->be_pid != me;
		PQfreemem(n);
	}
	return any;
}

/* The head and the counters changed since w->seen, in one snapshot. */
static int
look(struct pg_watch *w, struct store *st, uint64_t *last_seq, store_counts_fn *fn, void *arg,
    char *err, size_t errsz)
{
	struct store_counts c;
	char seen[24];
	const char *v[1] = { seen };
	PGresult *r;
	uint64_t commits;
	int i, n;

	snprintf(seen, sizeof(seen), "%llu", (unsigned long long)w->seen);
	r = PQexecParams(w->db, changed_sql, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		return lost(w, r, err, errsz);
	commits = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
	*last_seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
	pg_note_expired(st, strtoull(PQgetvalue(r, 0, 8), NULL, 10));
	n = PQgetisnull(r, 0, 2) ? 0 : PQntuples(r);
	for (i = 0; i < n; i++) {
		memset(&c, 0, sizeof(c));
		c.received = strtoull(PQgetvalue(r, i, 3), NULL, 10);
		c.unique = strtoull(PQgetvalue(r, i, 4), NULL, 10);
		c.duplicates = strtoull(PQgetvalue(r, i, 5), NULL, 10);
		c.last_ms = strtoull(PQgetvalue(r, i, 6), NULL, 10);
		c.expired = strtoull(PQgetvalue(r, i, 7), NULL, 10);
		if (fn(strtoll(PQgetvalue(r, i, 2), NULL, 10), &c, arg) ==
		    -1) {
			PQclear(r);
			snprintf(err, errsz, "out of memory");
			return STORE_ERROR;
		}
	}
	PQclear(r);
	if (commits == w->seen)
		return 0;
	w->seen = commits;
	return 1;
}

int
pg_follow(struct store *st, uint64_t *last_seq, store_counts_fn *fn,
    void *arg, char *err, size_t errsz)
{
	struct pg_watch *w = pg_store_watch(st);
	PGresult *r;
	int rc, news;

	if ((rc = connected(w, err, errsz)) != 0)
		return rc;
	if (pg_take_commits(st) && !w->deaf) {
		r = PQexec(w->db, "NOTIFY agg_commit");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			return lost(w, r, err, errsz);
		PQclear(r);
	}
	if ((news = heard(w)) == -1)
		return lost(w, NULL, err, errsz);
	if (!news && mono_seconds() < w->next_look)
		return 0;
	w->next_look = mono_seconds() + LOOK_EVERY;
	return look(w, st, last_seq, fn, arg, err, errsz);
}
