/*
 * pgdirect - the reference for aggd on PostgreSQL: the request bodies
 * loadgen -w wrote, stored straight into a PostgreSQL database from C, one
 * transaction per body, without HTTP, queue or threads.  The statement is
 * the store engine's (lib/store_pg.c: five binary text[] unnested in one
 * statement, pipelined behind the head's lock, one round trip a
 * transaction), the best form measured for this schema (bench/NOTES.md),
 * so the ratio aggd / pgdirect is what the daemon costs over PostgreSQL
 * itself.
 *
 * usage: pgdirect URI FILE
 * prints one line: events_per_s=... unique=... duplicates=... seconds=...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "store.h"

int
main(int argc, char **argv)
{
	struct event_batch b, *bp = &b;
	struct store_counts res;
	struct store *st;
	char err[300], *line = NULL;
	size_t cap = 0, events = 0;
	unsigned long long uniq = 0, dups = 0;
	ssize_t len;
	double t0;
	FILE *f;

	if (argc != 3) {
		fprintf(stderr, "usage: pgdirect URI FILE\n");
		return 2;
	}
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		return 1;
	}
	if ((st = store_open(argv[1], err, sizeof(err))) == NULL) {
		fprintf(stderr, "pgdirect: %s\n", err);
		return 1;
	}
	event_batch_init(&b);
	t0 = mono_seconds();
	while ((len = getline(&line, &cap, f)) > 0) {
		event_batch_reset(&b);
		if (event_parse_json(&b, line, (size_t)len - 1) != 0) {
			fprintf(stderr, "pgdirect: %s: a body aggd would refuse\n",
			    argv[2]);
			return 1;
		}
		if (store_commit(st, &bp, 1, &res, err, sizeof(err)) != 0) {
			fprintf(stderr, "pgdirect: %s\n", err);
			return 1;
		}
		events += b.n;
		uniq += res.unique;
		dups += res.duplicates;
	}
	printf("events_per_s=%.0f unique=%llu duplicates=%llu seconds=%.2f\n",
	    (double)events / (mono_seconds() - t0), uniq, dups,
	    mono_seconds() - t0);
	free(line);
	event_batch_free(&b);
	store_close(st);
	fclose(f);
	return 0;
}
