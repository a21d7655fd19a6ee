/*
 * store_pg_conn.c - connections to PostgreSQL, shared by the engine's
 * writer, readers and watch: the URI, aggd's timeouts, one-line errors and
 * when to try a lost connection again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_pg.h"

int
pg_is_uri(const char *where)
{
	return strncmp(where, "postgresql://", 13) == 0 ||
	    strncmp(where, "postgres://", 11) == 0;
}

void
pg_display_uri(const char *uri, char *out, size_t sz)
{
	const char *auth = strstr(uri, "://"), *at, *colon;
	char *pw;
	size_t n;

	snprintf(out, sz, "%s", uri);
	if (auth == NULL)
		return;
	auth += 3;
	n = strcspn(auth, "/?");
	if ((at = memchr(auth, '@', n)) != NULL &&
	    (colon = memchr(auth, ':', (size_t)(at - auth))) != NULL)
		snprintf(out, sz, "%.*s:***%s", (int)(colon - uri), uri, at);
	/* a password in the query, too */
	if ((pw = strstr(out, "password=")) != NULL && strlen(out) + 3 < sz) {
		n = strcspn(pw + 9, "&");
		memmove(pw + 12, pw + 9 + n, strlen(pw + 9 + n) + 1);
		memcpy(pw + 9, "***", 3);
	}
}

void
pg_errmsg(PGconn *db, const PGresult *r, char *err, size_t errsz)
{
	const char *m = r ? PQresultErrorMessage(r) : "";
	size_t n;

	if (*m == '\0')
		m = PQerrorMessage(db);
	if (*m == '\0')
		m = "unknown error";
	snprintf(err, errsz, "%s", m);
	/* libpq's messages end in a newline, some span lines: one line */
	for (n = strlen(err); n > 0 && (err[n - 1] == '\n' ||
	    err[n - 1] == ' '); n--)
		err[n - 1] = '\0';
	for (char *p = err; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* The server's notices ("already exists, skipping") are not aggd's news. */
static void
no_notices(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/*
 * A connection that gives up in seconds, not minutes: at most 5 s to
 * connect, and a commit whose server went silent fails within about 20 s
 * (keepalives), not at TCP's 15 minutes.  What the URI says wins: its
 * values come after these.
 */
PGconn *
pg_connect(const char *uri, char *err, size_t errsz)
{
	static const char *const keys[] = { "connect_timeout",
	    "keepalives_idle",
	    "keepalives_interval", "keepalives_count", "tcp_user_timeout",
	    "application_name", "dbname", NULL };
	static const char *const values[] = { "5", "10", "3", "3", "20000",
	    "aggd", NULL, NULL };
	const char *v[8];
	PGconn *db;

	memcpy(v, values, sizeof(v));
	v[6] = uri;
	db = PQconnectdbParams(keys, v, 1);
	if (PQstatus(db) == CONNECTION_OK) {
		(void)PQsetNoticeProcessor(db, no_notices, NULL);
		return db;
	}
	pg_errmsg(db, NULL, err, errsz);
	PQfinish(db);
	return NULL;
}

int
pg_retry_due(struct pg_retry *r, char *err, size_t errsz)
{
	if (mono_seconds() >= r->at)
		return 1;
	snprintf(err, errsz, "%s", r->why);
	return 0;
}

/* The next attempt 0.1 s after the first failure, doubling to 5 s. */
void
pg_retry_failed(struct pg_retry *r, const char *why)
{
	r->backoff = r->backoff == 0 ? 0.1 : r->backoff * 2;
	if (r->backoff > 5)
		r->backoff = 5;
	r->at = mono_seconds() + r->backoff;
	snprintf(r->why, sizeof(r->why), "%s", why);
}

/* One statement of the slow path, its result checked; NULL when it failed. */
PGresult *
pg_exec_ok(PGconn *db, PGresult *r, ExecStatusType want, char *err,
    size_t errsz)
{
	if (PQresultStatus(r) == want)
		return r;
	pg_errmsg(db, r, err, errsz);
	PQclear(r);
	return NULL;
}

int
pg_reconnect(PGconn **db, struct pg_retry *retry, const char *uri,
    pg_setup_fn *setup, void *arg, char *err, size_t errsz)
{
	char why[300];

	if (*db != NULL && PQstatus(*db) == CONNECTION_OK)
		return 0;
	PQfinish(*db);
	*db = NULL;
	if (!pg_retry_due(retry, err, errsz))
		return -1;
	if ((*db = pg_connect(uri, why, sizeof(why))) != NULL &&
	    (setup == NULL || setup(*db, arg, why, sizeof(why)) == 0)) {
		retry->backoff = 0;
		return 0;
	}
	PQfinish(*db);
	*db = NULL;
	snprintf(err, errsz, "PostgreSQL: %s", why);
	pg_retry_failed(retry, err);
	return -1;
}
