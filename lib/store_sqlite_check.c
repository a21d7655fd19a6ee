/*
 * store_sqlite_check.c - aggd --check: every value a SQLite store holds,
 * verified against what wrote it, in one read transaction (so it may run
 * beside an aggd that serves the store, and sees one commit's state).
 *
 * What is checked, in this order: SQLite's own page structure
 * (integrity_check); the fingerprint key against its sum; each topic's
 * row against its sum and its counters against themselves (received =
 * unique + duplicates); each event's row against its sum, its topic, and
 * its fingerprint against its identity under the key; that each topic's
 * unique count is the number of its events; that no identity is stored
 * twice; and the runs index (topic_runs): each row against its sum, its
 * entries against the events they name, and that it names every indexed
 * event once.  Rows written before 1.2 have no sums; their payloads are
 * checked to be JSON instead.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "rowsum.h"
#include "store_sqlite.h"

#define REPORT_MAX	1000	/* lines; past them, only counted */

struct check {
	sqlite3		*db;
	store_report_fn	*report;
	void		*arg;
	long		 problems;
	struct siphash_key key;
	int		 have_key;
	char		**names;	/* topic names, index id - 1 */
	uint64_t	*uniq;		/* each topic's unique count */
	uint64_t	*found;		/* and its events found */
	size_t		 ntopics;
	uint64_t	 events, indexed;
	int		 has_kept;	/* 1.2's kept table and expired column */
	uint64_t	 expired_through;
	uint64_t	*expired;	/* each topic's expired count */
};

/* Every identity, stored or kept: seq, topic_id, fp, event_id. */
#define IDS_ALL "(SELECT seq, topic_id, fp, event_id FROM events UNION ALL" \
	" SELECT seq, topic_id, fp, event_id FROM kept)"
#define IDS_OLD "(SELECT seq, topic_id, fp, event_id FROM events)"
#define IDS(c)	((c)->has_kept ? IDS_ALL : IDS_OLD)

static void
say(struct check *c, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (c->problems++ >= REPORT_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	c->report(line, c->arg);
}

static int
prepare(struct check *c, sqlite3_stmt **st, const char *sql)
{
	return sqlite3_prepare_v2(c->db, sql, -1, st, NULL) == SQLITE_OK ? 0 :
	    -1;
}

static int
check_sqlite(struct check *c)
{
	sqlite3_stmt *st;
	const char *line;
	int rc;

	if (prepare(c, &st, "PRAGMA integrity_check(100)") == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if ((line = (const char *)sqlite3_column_text(st, 0)) != NULL &&
		    strcmp(line, "ok") != 0)
			say(c, "SQLite: %s", line);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
check_key(struct check *c)
{
	sqlite3_stmt *st;
	unsigned char k[16];
	int rc, has_sum = 0;
	int64_t sum = 0;

	if (prepare(c, &st, "SELECT (SELECT value FROM meta WHERE name ="
	    " 'key'), (SELECT value FROM meta WHERE name = 'key_sum'),"
	    " (SELECT value FROM meta WHERE name = 'indexed')") == -1)
		return -1;
	if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (sqlite3_column_bytes(st, 0) == (int)sizeof(k)) {
			memcpy(k, sqlite3_column_blob(st, 0), sizeof(k));
			c->have_key = 1;
		}
		has_sum = sqlite3_column_type(st, 1) != SQLITE_NULL;
		sum = sqlite3_column_int64(st, 1);
		c->indexed = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return -1;
	if (!c->have_key)
		say(c, "the fingerprint key is missing or not 16 bytes");
	else if (has_sum && sum != rowsum_bytes(ROWSUM_KEY, 0, k, sizeof(k))) {
		say(c, "the fingerprint key fails its checksum");
		c->have_key = 0;
	}
	if (c->have_key) {
		memcpy(&c->key.k0, k, 8);
		memcpy(&c->key.k1, k + 8, 8);
	}
	return 0;
}

/* Keeps topic row st (id, name, received, uniq, dups, last_at, sum,
   expired). */
static int
keep_topic(struct check *c, sqlite3_stmt *st)
{
	struct store_counts t;
	int64_t id = sqlite3_column_int64(st, 0);
	const char *name = (const char *)sqlite3_column_text(st, 1);
	size_t len = (size_t)sqlite3_column_bytes(st, 1), n = c->ntopics;
	void *p;

	t.received = (uint64_t)sqlite3_column_int64(st, 2);
	t.unique = (uint64_t)sqlite3_column_int64(st, 3);
	t.duplicates = (uint64_t)sqlite3_column_int64(st, 4);
	t.last_ms = (uint64_t)sqlite3_column_int64(st, 5);
	if (id != (int64_t)n + 1)
		say(c, "topic %lld: ids must run 1, 2, 3 ... (expected %zu)",
		    (long long)id, n + 1);
	if (sqlite3_column_type(st, 6) != SQLITE_NULL &&
	    sqlite3_column_int64(st, 6) != sqlite_topic_sum(id, name, len))
		say(c, "topic %lld fails its checksum", (long long)id);
	else if (t.received != t.unique + t.duplicates)
		say(c, "topic %lld: received %llu is not unique %llu +"
		    " duplicates %llu", (long long)id,
		    (unsigned long long)t.received,
		    (unsigned long long)t.unique,
		    (unsigned long long)t.duplicates);
	if ((p = realloc(c->names, (n + 1) * sizeof(*c->names))) == NULL)
		return -1;
	c->names = p;
	if ((p = realloc(c->uniq, (n + 1) * sizeof(*c->uniq))) == NULL)
		return -1;
	c->uniq = p;
	if ((p = realloc(c->found, (n + 1) * sizeof(*c->found))) == NULL)
		return -1;
	c->found = p;
	if ((p = realloc(c->expired, (n + 1) * sizeof(*c->expired))) == NULL)
		return -1;
	c->expired = p;
	if ((c->names[n] = strdup(name ? name : "")) == NULL)
		return -1;
	c->expired[n] = (uint64_t)sqlite3_column_int64(st, 7);
	if (c->expired[n] > t.unique)
		say(c, "topic %lld: expired %llu is more than unique %llu",
		    (long long)id, (unsigned long long)c->expired[n],
		    (unsigned long long)t.unique);
	c->uniq[n] = t.unique;
	c->found[n] = 0;
	c->ntopics++;
	return 0;
}

/* 1 when the store has 1.2's kept table (and the expired column). */
static int
has_kept(struct check *c)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(c, &st, "SELECT 1 FROM sqlite_master WHERE type ="
	    " 'table' AND name = 'kept'") == -1)
		return -1;
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int
check_topics(struct check *c)
{
	sqlite3_stmt *st;
	int rc;

	if (prepare(c, &st, c->has_kept ? "SELECT id, name, received, uniq,"
	    " dups, last_at, sum, expired FROM topics ORDER BY id" :
	    "SELECT id, name, received, uniq, dups, last_at, sum, 0 FROM"
	    " topics ORDER BY id") == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		if (keep_topic(c, st) == -1) {
			rc = SQLITE_NOMEM;
			break;
		}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* One event row: (seq, topic_id, fp, received_at, sum, the fields). */
static void
check_event(struct check *c, sqlite3_stmt *st)
{
	int64_t seq = sqlite3_column_int64(st, 0), tid;
	struct event_fields f;
	struct json_reader r;
	uint64_t fp = (uint64_t)sqlite3_column_int64(st, 2);

	tid = sqlite3_column_int64(st, 1);
	sqlite_row_fields(st, 5, &f);
	c->events++;
	if (tid >= 1 && (size_t)tid <= c->ntopics)
		c->found[tid - 1]++;
	if (sqlite3_column_type(st, 4) == SQLITE_NULL) {
		json_reader_init(&r, f.payload, f.payload_len);
		if (json_skip(&r) != 0 || json_end(&r) != 0)
			say(c, "event seq %lld (written before 1.2): its"
			    " payload is not JSON", (long long)seq);
	} else if (sqlite3_column_int64(st, 4) != rowsum_event(seq, tid, fp,
	    sqlite3_column_int64(st, 3), &f)) {
		say(c, "event seq %lld fails its checksum", (long long)seq);
		return;
	}
	if (tid < 1 || (size_t)tid > c->ntopics) {
		say(c, "event seq %lld: no topic %lld", (long long)seq,
		    (long long)tid);
		return;
	}
	if (c->have_key && fp != sqlite_fingerprint(&c->key, c->names[tid - 1],
	    strlen(c->names[tid - 1]), f.event_id, f.event_id_len))
		say(c, "event seq %lld: its fingerprint is not its identity's:"
		    " dedup would miss it", (long long)seq);
}

static int
check_events(struct check *c)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	if (prepare(c, &st, "SELECT seq, topic_id, fp, received_at, sum, "
	    SQLITE_FIELD_COLS " FROM events ORDER BY seq") == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		check_event(c, st);
	sqlite3_finalize(st);
	for (i = 0; i < c->ntopics; i++)
		if (c->found[i] != c->uniq[i])
			say(c, "topic %zu: %llu events stored or expired, its"
			    " count says %llu unique", i + 1,
			    (unsigned long long)c->found[i],
			    (unsigned long long)c->uniq[i]);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A kept identity row st (seq, topic_id, fp, event_id, sum): counted. */
static void
check_kept_row(struct check *c, sqlite3_stmt *st)
{
	int64_t seq = sqlite3_column_int64(st, 0);
	int64_t tid = sqlite3_column_int64(st, 1);
	uint64_t fp = (uint64_t)sqlite3_column_int64(st, 2);
	const char *id = (const char *)sqlite3_column_text(st, 3);
	size_t len = (size_t)sqlite3_column_bytes(st, 3);

	if (sqlite3_column_int64(st, 4) != sqlite_kept_sum(seq, tid, fp,
	    id ? id : "", len)) {
		say(c, "the identity kept for expired seq %lld fails its"
		    " checksum", (long long)seq);
		return;
	}
	if ((uint64_t)seq > c->expired_through)
		say(c, "an identity is kept for seq %lld, past the expired"
		    " seqs (%llu)", (long long)seq,
		    (unsigned long long)c->expired_through);
	if (tid < 1 || (size_t)tid > c->ntopics) {
		say(c, "expired seq %lld: no topic %lld", (long long)seq,
		    (long long)tid);
		return;
	}
	c->found[tid - 1]++;
	if (c->have_key && fp != sqlite_fingerprint(&c->key, c->names[tid - 1],
	    strlen(c->names[tid - 1]), id ? id : "", len))
		say(c, "expired seq %lld: its fingerprint is not its"
		    " identity's: dedup would miss it", (long long)seq);
}

/*
 * Before check_events, which compares what it found with the counts:
 * the kept identities, each topic's expired ones; no event stored at or
 * below the expired seqs.
 */
static int
check_kept(struct check *c)
{
	sqlite3_stmt *st;
	int rc;

	if (!c->has_kept)
		return 0;
	if (prepare(c, &st, "SELECT value FROM meta WHERE name ="
	    " 'expired_through'") == -1)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		c->expired_through = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (prepare(c, &st, "SELECT seq, topic_id, fp, event_id, sum FROM kept"
	    " ORDER BY seq") == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		check_kept_row(c, st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || prepare(c, &st, "SELECT min(seq) FROM events")
	    == -1)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) !=
	    SQLITE_NULL && (uint64_t)sqlite3_column_int64(st, 0) <=
	    c->expired_through)
		say(c, "event seq %lld is stored, but retention removed every"
		    " seq up to %llu", (long long)sqlite3_column_int64(st, 0),
		    (unsigned long long)c->expired_through);
	sqlite3_finalize(st);
	return 0;
}

static int
check_identities(struct check *c)
{
	sqlite3_stmt *st;
	int rc;

	char sql[400];

	snprintf(sql, sizeof(sql), "SELECT topic_id, event_id,"
	    " group_concat(seq, ', ') FROM %s GROUP BY topic_id, event_id"
	    " HAVING count(*) > 1", IDS(c));
	if (prepare(c, &st, sql) == -1)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		say(c, "topic %lld, event_id \"%.80s\": stored more than once"
		    " (seqs %.200s)", (long long)sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* The entries of run row st (topic_id, last_seq, entries, sum) against
   the events; how many it names. */
static uint64_t
check_run(struct check *c, sqlite3_stmt *st, sqlite3_stmt *ev)
{
	int64_t tid = sqlite3_column_int64(st, 0);
	int64_t last = sqlite3_column_int64(st, 1);
	const void *blob = sqlite3_column_blob(st, 2);
	size_t bytes = (size_t)sqlite3_column_bytes(st, 2), i, n;
	uint64_t seq, fp, prev = 0;

	if (run_verify(tid, last, blob, bytes, &n) == -1) {
		say(c, "the index: the run of topic %lld ending at seq %lld"
		    " fails its checksum", (long long)tid, (long long)last);
		return n;
	}
	for (i = 0; i < n; i++, prev = seq) {
		run_entry(blob, i, &seq, &fp);
		if (seq <= prev || seq > c->indexed) {
			say(c, "the index: the run of topic %lld ending at seq"
			    " %lld is out of order", (long long)tid,
			    (long long)last);
			break;
		}
		sqlite3_bind_int64(ev, 1, (int64_t)seq);
		if (sqlite3_step(ev) != SQLITE_ROW ||
		    sqlite3_column_int64(ev, 0) != tid ||
		    (uint64_t)sqlite3_column_int64(ev, 1) != fp)
			say(c, "the index: topic %lld names seq %llu, which is"
			    " not its event", (long long)tid,
			    (unsigned long long)seq);
		sqlite3_reset(ev);
	}
	return n;
}

static int
check_runs(struct check *c)
{
	sqlite3_stmt *st, *ev, *cnt;
	uint64_t named = 0, want = 0;
	char sql[400];
	int rc;

	if (prepare(c, &st, "SELECT topic_id, last_seq, entries FROM"
	    " topic_runs") == -1)
		return -1;
	snprintf(sql, sizeof(sql), "SELECT topic_id, fp FROM %s WHERE seq = ?",
	    IDS(c));
	if (prepare(c, &ev, sql) == -1) {
		sqlite3_finalize(st);
		return -1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		named += check_run(c, st, ev);
	sqlite3_finalize(st);
	sqlite3_finalize(ev);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE seq <="
	    " (SELECT value FROM meta WHERE name = 'indexed')", IDS(c));
	if (rc != SQLITE_DONE || prepare(c, &cnt, sql) == -1)
		return -1;
	if ((rc = sqlite3_step(cnt)) == SQLITE_ROW)
		want = (uint64_t)sqlite3_column_int64(cnt, 0);
	sqlite3_finalize(cnt);
	if (rc != SQLITE_ROW)
		return -1;
	if (named != want)
		say(c, "the index names %llu events, the store has %llu up to"
		    " seq %llu", (unsigned long long)named,
		    (unsigned long long)want, (unsigned long long)c->indexed);
	return 0;
}

static void
check_free(struct check *c)
{
	size_t i;

	for (i = 0; i < c->ntopics; i++)
		free(c->names[i]);
	free(c->names);
	free(c->uniq);
	free(c->found);
	free(c->expired);
	sqlite3_close(c->db);
}

long
sqlite_store_check(const char *path, store_report_fn *report, void *arg,
    uint64_t *events, char *err, size_t errsz)
{
	struct check c;
	int rc;

	memset(&c, 0, sizeof(c));
	c.report = report;
	c.arg = arg;
	if (sqlite3_open_v2(path, &c.db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		snprintf(err, errsz, "store %s: %s", path, c.db ?
		    sqlite3_errmsg(c.db) : "out of memory");
		check_free(&c);
		return -1;
	}
	sqlite3_busy_timeout(c.db, 5000);
	rc = sqlite3_exec(c.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK ||
	    check_sqlite(&c) == -1 || check_key(&c) == -1 ||
	    (c.has_kept = has_kept(&c)) == -1 ||
	    check_topics(&c) == -1 || check_kept(&c) == -1 ||
	    check_events(&c) == -1 ||
	    check_identities(&c) == -1 || check_runs(&c) == -1 ? -1 : 0;
	if (rc == -1)
		snprintf(err, errsz, "store %s: %s", path, sqlite3_errmsg(c.db));
	if (c.problems > REPORT_MAX) {
		char line[80];

		snprintf(line, sizeof(line), "... and %ld problems more",
		    c.problems - REPORT_MAX);
		report(line, arg);
	}
	*events = c.events;
	check_free(&c);
	return rc == -1 ? -1 : c.problems;
}
