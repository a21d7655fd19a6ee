/*
 * aggpub - generates events (or reads NDJSON ones) and ships them to aggd
 * in batches, at least once; or writes the generated events as NDJSON.
 *
 * The generator is a pure function of (-n, -d, -T, -s): unique event k is
 * rebuilt from the seed and k alone (splitmix64), so a duplicate is the
 * same bytes as its original without storing it, and runs are the same
 * byte for byte whatever -b and -c say.  The duplicate positions are
 * spread evenly (Bresenham): exactly round(N * SHARE) of them, never the
 * first; each re-sends a unique event already generated, half the time a
 * recent one (often in the same batch), else any earlier one.  The first
 * 64 bits of an event_id are a bijection of k: unique events never clash.
 *
 * The sender keeps C slots, each a reused curl handle and the bytes of
 * one batch, which leave the slot only on aggd's 2xx reply; a connection
 * error, a timeout, a 5xx, 408 or 429 re-sends the same bytes later
 * (exponential backoff with jitter, at least Retry-After), up to -r times;
 * any other status, or a 2xx that is not aggd's counts of the batch, ends
 * the run with status 1.  Memory holds C batches, not N events.
 *
 * Decisions the issue leaves open (also in man/aggpub.1):
 * - A bad input line is reported and skipped, the good ones are shipped,
 *   and the exit status is 1 at the end; a line over 1 MiB ends its file.
 * - Generator options (-n -d -T -s) with input files are a usage error.
 * - round(N * SHARE) is capped at N - 1: an original must come first.
 * - Every 4xx but 408 and 429 (every status that is not 2xx, 5xx, 408
 *   or 429) is permanent.
 * - A partial batch from a stream leaves once its first event has waited
 *   200 ms and no more input is ready.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggpub.h"
#include "client.h"
#include "ev.h"

static const char usage_text[] =
"usage: aggpub [-q] [-n count] [-d share] [-T topics] [-s seed] [-b batch]\n"
"              [-c conns] [-r retries] [-u url] [-t token]\n"
"       aggpub [-q] [-b batch] [-c conns] [-r retries] [-u url] [-t token]\n"
"              - | file ...\n"
"  -n, --count N            events to generate (5000)\n"
"  -d, --duplicates SHARE   share of them that re-send earlier ones, from 0\n"
"                           to below 1, as 0.2 or 20% (0.2)\n"
"  -T, --topics T           topics to spread them over (10)\n"
"  -s, --seed SEED          generator seed (1): same seed, same events\n"
"  -b, --batch B            events per request (100)\n"
"  -c, --concurrency C      requests in flight (4)\n"
"  -r, --retries R          re-sends of a failed batch before giving up (60)\n"
"  -u, --url URL            publish URL (AGGREGATOR_URL;\n"
"                           " CLIENT_DEFAULT_URL ")\n"
"  -t, --token TOKEN        bearer token (AGG_TOKEN)\n"
"  -q, --quiet              no progress, retry notices or summary\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"With no URL given and standard output not a terminal, the generated\n"
"events go to standard output as NDJSON.  \"-\" or files: ship NDJSON.\n";

static _Noreturn void
usage(int status)
{
	fputs(usage_text, status ? stderr : stdout);
	exit(status);
}

static uint64_t
num_arg(int ch, const char *s, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *s < '0' || *s > '9' || *end || v < min || v > max) {
		warnx("-%c: not a number from %" PRIu64 " to %" PRIu64 ": %s",
		    ch, min, max, s);
		usage(2);
	}
	return v;
}

static double
share_arg(const char *s)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(s, &end);
	if (end != s && *end == '%')
		d /= 100, end++;
	/* Plain decimals only: strtod would also take " 0.2", "-0", "0x.8". */
	if (errno || end == s || *end || !(d >= 0 && d < 1) ||
	    s[strspn(s, "0123456789.%")] != '\0') {
		warnx("-d: not a share from 0 to below 1: %s", s);
		usage(2);
	}
	return d;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "count", 1, NULL, 'n' }, { "duplicates", 1, NULL, 'd' },
		{ "topics", 1, NULL, 'T' }, { "seed", 1, NULL, 's' },
		{ "batch", 1, NULL, 'b' }, { "concurrency", 1, NULL, 'c' },
		{ "retries", 1, NULL, 'r' }, { "url", 1, NULL, 'u' },
		{ "token", 1, NULL, 't' }, { "quiet", 0, NULL, 'q' },
		{ "help", 0, NULL, 'h' }, { "version", 0, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	*o = (struct opts){ .count = 5000, .share = 0.2, .topics = 10,
	    .seed = 1, .batch = 100, .conc = 4, .retries = 60 };
	argv[0] = "aggpub";	/* getopt's messages name argv[0] */
	while ((ch = getopt_long(argc, argv, "n:d:T:s:b:c:r:u:t:qhV", lopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n': o->count = num_arg(ch, optarg, 0, COUNT_MAX); break;
		case 'd': o->share = share_arg(optarg); break;
		case 'T': o->topics = num_arg(ch, optarg, 1, TOPICS_MAX); break;
		case 's': o->seed = num_arg(ch, optarg, 0, UINT64_MAX); break;
		case 'b': o->batch = num_arg(ch, optarg, 1, BATCH_MAX); break;
		case 'c': o->conc = num_arg(ch, optarg, 1, CONC_MAX); break;
		case 'r': o->retries = num_arg(ch, optarg, 0, RETRIES_MAX);
			break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(0); break;
		case 'V': puts("aggpub " AGG_VERSION); exit(0);
		default: usage(2);	/* getopt said why */
		}
		o->gen_flags |= strchr("ndTs", ch) != NULL;
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles > 0 && o->gen_flags) {
		warnx("-n, -d, -T and -s are for generated events, not input");
		usage(2);
	}
}

/* Modes (a) and (c): generate or read, and send. */
static int
ship(const struct opts *o)
{
	struct sender s;
	int rc = 1;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		errx(1, "cannot initialise libcurl");
	if (sender_init(&s, o) == -1)
		warnx("out of memory");
	else {
		rc = send_all(&s) == -1 || s.rd.bad > 0;
		summary(&s);
	}
	sender_free(&s);
	curl_global_cleanup();
	return rc;
}

/* Mode (b): the generated events as NDJSON on standard output. */
static int
to_stdout(const struct opts *o)
{
	struct gen g;
	struct buf b;
	uint64_t n, start = ev_clock_ms();
	int rc = 0;

	gen_init(&g, o);
	buf_init(&b);
	while (rc == 0 && g.pos < g.n) {
		n = g.n - g.pos < OUT_CHUNK ? g.n - g.pos : OUT_CHUNK;
		b.len = 0;
		if (gen_batch(&g, &b, n) == -1)
			rc = -1, errno = ENOMEM;
		else if (fwrite(b.data, 1, b.len, stdout) != b.len)
			rc = -1;
	}
	buf_free(&b);
	if (rc == -1 || fflush(stdout) == EOF) {
		if (errno == EPIPE)
			return 0;	/* the reader had enough, as | head does */
		warn("stdout");
		return 1;
	}
	if (!o->quiet)
		fprintf(stderr, "aggpub: wrote %" PRIu64 " events: %" PRIu64
		    " unique, %" PRIu64 " duplicates, %.2f s\n", g.n,
		    g.n - g.dups, g.dups,
		    (double)(ev_clock_ms() - start) / 1000);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o;
	const char *env = getenv("AGGREGATOR_URL");

	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);	/* EPIPE instead: a message, or exit 0 */
	if (o.nfiles == 0 && o.url == NULL && (env == NULL || *env == '\0') &&
	    !isatty(STDOUT_FILENO))
		return to_stdout(&o);
	return ship(&o);
}
