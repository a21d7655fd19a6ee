/*
 * store_pg_schema.c - the PostgreSQL engine's tables: made on first
 * start, converted from older versions, and refused when newer than this
 * aggd knows.  Several aggd that start at once take turns on an advisory
 * lock, and every statement may run again.
 */
#include <stdio.h>
#include <stdlib.h>

#include "store_pg.h"

#define SCHEMA_VERSION	2
#define SCHEMA_LOCK	"7146890123"	/* pg_advisory_xact_lock key */

/* Version 1.  Every statement may run again: two aggd that start at once
   on an empty database take the advisory lock in turn. */
static const char schema_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ");"
    "CREATE TABLE IF NOT EXISTS agg_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS agg_head ("
    " id integer PRIMARY KEY CHECK (id = 1),"
    " last_seq bigint NOT NULL, topics bigint NOT NULL,"
    " last_ms bigint NOT NULL, commits bigint NOT NULL);"
    "CREATE TABLE IF NOT EXISTS agg_topics ("
    " id bigint PRIMARY KEY, name text NOT NULL UNIQUE);"
    "CREATE TABLE IF NOT EXISTS agg_events ("
    " seq bigint PRIMARY KEY, topic_id bigint NOT NULL,"
    " event_id text NOT NULL, ts text NOT NULL, source text NOT NULL,"
    " payload text NOT NULL, received_ms bigint NOT NULL,"
    " UNIQUE (topic_id, event_id));"
    "CREATE INDEX IF NOT EXISTS agg_events_topic_seq"
    " ON agg_events (topic_id, seq);"
    "CREATE TABLE IF NOT EXISTS agg_counts ("
    " topic_id bigint PRIMARY KEY, received bigint NOT NULL,"
    " uniq bigint NOT NULL, duplicates bigint NOT NULL,"
    " last_ms bigint NOT NULL, commit_no bigint NOT NULL);"
    "CREATE INDEX IF NOT EXISTS agg_counts_commit"
    " ON agg_counts (commit_no);"
    "INSERT INTO agg_head SELECT 1, 0, 0, 0, 0"
    " WHERE NOT EXISTS (SELECT 1 FROM agg_head);"
    "INSERT INTO agg_schema SELECT 1"
    " WHERE NOT EXISTS (SELECT 1 FROM agg_schema);"
    "COMMIT;";

/*
 * Version 1 to 2 (retention): the head's expired_through and the bytes
 * of the stored events' fields, each topic's expired count.  Run after
 * schema_sql on a new database too; an aggd that knows only version 1
 * then refuses the database, as it could not keep expired identities.
 */
static const char migrate_2_sql[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(" SCHEMA_LOCK ");"
    "ALTER TABLE agg_head ADD COLUMN IF NOT EXISTS expired_through bigint"
    " NOT NULL DEFAULT 0;"
    "ALTER TABLE agg_head ADD COLUMN IF NOT EXISTS stored_bytes bigint"
    " NOT NULL DEFAULT 0;"
    "ALTER TABLE agg_counts ADD COLUMN IF NOT EXISTS expired bigint"
    " NOT NULL DEFAULT 0;"
    "UPDATE agg_head SET stored_bytes = (SELECT coalesce(sum(octet_length(ts)"
    " + octet_length(source) + octet_length(payload)), 0) FROM agg_events)"
    " WHERE (SELECT max(version) FROM agg_schema) = 1;"
    "UPDATE agg_schema SET version = 2 WHERE version = 1;"
    "COMMIT;";

int
pg_schema(PGconn *db, char *err, size_t errsz)
{
	PGresult *r;
	int ok;

	/*
	 * The tables are made only when they are missing, so that a role
	 * that may only read and write them runs aggd once they exist.
	 */
	r = PQexec(db, "SELECT to_regclass('agg_schema') IS NOT NULL");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    *PQgetvalue(r, 0, 0) == 't';
	PQclear(r);
	if (!ok) {
		r = PQexec(db, schema_sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			pg_errmsg(db, r, err, errsz);
		PQclear(r);
		if (!ok)
			return -1;
	}
	r = PQexec(db, "SELECT max(version) FROM agg_schema");
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    atoi(PQgetvalue(r, 0, 0)) == 1) {
		PQclear(r);
		r = PQexec(db, migrate_2_sql);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			pg_errmsg(db, r, err, errsz);
		PQclear(r);
		if (!ok) {
			PQclear(PQexec(db, "ROLLBACK"));
			return -1;
		}
		r = PQexec(db, "SELECT max(version) FROM agg_schema");
	}
	ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    atoi(PQgetvalue(r, 0, 0)) == SCHEMA_VERSION;
	if (!ok)
		snprintf(err, errsz, "the database's agg schema is version %s,"
		    " this aggd knows version %d", PQresultStatus(r) ==
		    PGRES_TUPLES_OK && PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) :
		    "unknown", SCHEMA_VERSION);
	PQclear(r);
	if (!ok)
		return -1;
	return 0;
}
