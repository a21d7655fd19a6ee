/*
 * store_pg.h - the PostgreSQL engine: many aggd on one database.
 *
 * The cursor design (agg(7) says what it costs): every commit takes the
 * row lock on agg_head first and holds it until it has committed, so
 * transactions commit in the order of the seqs they took, and a reader
 * whose snapshot holds seq S holds every seq below S: a follower that has
 * seen S never meets a lower one later, whichever aggd took it.  The lock
 * serialises commits across aggd; group commit (one transaction for all
 * the requests that wait) and one round trip per transaction (the events
 * as binary arrays, unnest, ON CONFLICT DO NOTHING, the counters and the
 * head in the same statement, pipelined behind the lock) keep it short.
 * Seqs are dense, as in SQLite: only events not stored yet are numbered.
 */
#ifndef AGG_STORE_PG_H
#define AGG_STORE_PG_H

#include <libpq-fe.h>

#include "store.h"

/* 1 when where names a PostgreSQL database (a postgres[ql]:// URI). */
int		 pg_is_uri(const char *where);
struct store	*pg_store_open(const char *uri, char *err, size_t errsz);

/* uri as it may be shown: its password, if any, is "***". */
void		 pg_display_uri(const char *uri, char *out, size_t sz);

/*
 * When to try a lost connection again: 0.1 s after the first failure,
 * doubling to 5 s; why holds the last failure, for the answers meanwhile.
 */
struct pg_retry {
	double		 at, backoff;	/* mono_seconds() */
	char		 why[300];
};
/* 1 when an attempt is due, else 0 with the last failure in err. */
int		 pg_retry_due(struct pg_retry *, char *err, size_t errsz);
void		 pg_retry_failed(struct pg_retry *, const char *why);
/* A connection to uri with aggd's timeouts, or NULL with err set. */
PGconn		*pg_connect(const char *uri, char *err, size_t errsz);
/*
 * *db working: kept, or made again (as often as retry allows) and given
 * to setup (NULL: none), which may refuse it.  0, or -1 with err set to
 * "PostgreSQL: why" and *db NULL.
 */
typedef int	 pg_setup_fn(PGconn *, void *arg, char *err, size_t errsz);
int		 pg_reconnect(PGconn **db, struct pg_retry *, const char *uri,
		    pg_setup_fn *setup, void *arg, char *err, size_t errsz);

/* r when its status is want; else NULL, r cleared, err set. */
PGresult	*pg_exec_ok(PGconn *, PGresult *r, ExecStatusType want,
		    char *err, size_t errsz);

/*
 * store_pg_limit.c: BEGIN, the head's lock, and which batches would pass
 * max_topics (res[i].refused); the transaction stays open for the commit.
 * topic_arr: the binary text[] of the batches' topics.
 */
struct buf;
int		 pg_begin_checked(PGconn *, const struct buf *topic_arr,
		    struct event_batch *const *b, size_t n, size_t max_topics,
		    struct store_counts *res, char *err, size_t errsz);

/* store_pg_schema.c: the tables, made or converted; 0, or -1 with err. */
int		 pg_schema(PGconn *, char *err, size_t errsz);

/* The highest seq retention removed is at least seq (any thread). */
void		 pg_note_expired(struct store *, uint64_t seq);

/* store_pg_watch.c: what the other aggd commit, for store_follow. */
struct pg_watch;
struct pg_watch	*pg_watch_new(const char *uri);
void		 pg_watch_free(struct pg_watch *);
int		 pg_follow(struct store *, uint64_t *last_seq,
		    store_counts_fn *, void *arg, char *err, size_t errsz);
/* The store's watch, and whether the writer committed since last asked. */
struct pg_watch	*pg_store_watch(struct store *);
int		 pg_take_commits(struct store *);

/* store_pg_read.c */
struct store_reader *pg_reader_open(struct store *, char *err, size_t errsz);

/* The connection string of an open store, for its readers. */
const char	*pg_store_uri(const struct store *);
/* A one-line message for a failed result or connection, into err. */
void		 pg_errmsg(PGconn *, const PGresult *, char *err, size_t errsz);

#endif
