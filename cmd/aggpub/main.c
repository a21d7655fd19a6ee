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
 * Decisions made here (also in man/aggpub.1):
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
#include "cli.h"
#include "client.h"
#include "ev.h"

static const char usage_text[] =
"usage: aggpub [-q] [-n count] [-D share] [-T topics] [-s seed] [-b batch]\n"
"              [-c conns] [-r retries] [-u url] [-k token] [-o file]\n"
"       aggpub [-q] [-b batch] [-c conns] [-r retries] [-u url] [-k token]\n"
"              - | file ...\n"
"  -n, --count N            events to generate (5000)\n"
"  -D, --duplicates SHARE   share of them that re-send earlier ones, from 0\n"
"                           to below 1, as 0.2 or 20% (0.2)\n"
"  -T, --topics T           topics to spread them over (10)\n"
"  -s, --seed SEED          generator seed (1): same seed, same events\n"
"  -b, --batch B            events per request (100)\n"
"  -c, --concurrency C      requests in flight (4)\n"
"  -r, --retries R          re-sends of a failed batch before giving up (60)\n"
"  -u, --url URL            aggd's URL (AGGREGATOR_URL;\n"
"                           " CLIENT_DEFAULT_URL ")\n"
"  -k, --token TOKEN        bearer token (AGG_TOKEN)\n"
"      --token-file FILE    the token is FILE's first line (-k shows in ps)\n"
"  -o, --output FILE        write the generated events to FILE as NDJSON\n"
"                           instead of sending them (-: standard output)\n"
"  -q, --quiet              no progress, retry notices or summary\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n"
"\"-\" or files: ship NDJSON read from them.\n";

enum { OPT_TOKEN_FILE = 256 };

static uint64_t
num_arg(int ch, const char *s, uint64_t min, uint64_t max)
{
	char name[3] = { '-', (char)ch, '\0' };

	return cli_number("aggpub", name, s, min, max);
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
	    s[strspn(s, "0123456789.%")] != '\0')
		cli_usage_error("aggpub", "-D: not a share from 0 to below 1: %s",
		    s);
	return d;
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "count", 1, NULL, 'n' }, { "duplicates", 1, NULL, 'D' },
		{ "topics", 1, NULL, 'T' }, { "seed", 1, NULL, 's' },
		{ "batch", 1, NULL, 'b' }, { "concurrency", 1, NULL, 'c' },
		{ "retries", 1, NULL, 'r' }, { "url", 1, NULL, 'u' },
		{ "token", 1, NULL, 'k' }, { "output", 1, NULL, 'o' },
		{ "token-file", 1, NULL, OPT_TOKEN_FILE },
		{ "quiet", 0, NULL, 'q' }, { "help", 0, NULL, 'h' },
		{ "version", 0, NULL, 'V' }, { NULL, 0, NULL, 0 }
	};
	int ch;

	*o = (struct opts){ .count = 5000, .share = 0.2, .topics = 10,
	    .seed = 1, .batch = 100, .conc = 4, .retries = 60 };
	opterr = 0;
	/* d and t: the letters of 1.1 for the share and the token. */
	while ((ch = getopt_long(argc, argv, ":n:D:T:s:b:c:r:u:k:o:qhVd:t:",
	    lopts, NULL)) != -1) {
		switch (ch) {
		case 'n': o->count = num_arg(ch, optarg, 0, COUNT_MAX); break;
		case 'd': cli_old_letter("aggpub", ch, "-D (--duplicates)");
			/* FALLTHROUGH */
		case 'D': o->share = share_arg(optarg); break;
		case 'T': o->topics = num_arg(ch, optarg, 1, TOPICS_MAX); break;
		case 's': o->seed = num_arg(ch, optarg, 0, UINT64_MAX); break;
		case 'b': o->batch = num_arg(ch, optarg, 1, BATCH_MAX); break;
		case 'c': o->conc = num_arg(ch, optarg, 1, CONC_MAX); break;
		case 'r': o->retries = num_arg(ch, optarg, 0, RETRIES_MAX);
			break;
		case 'u': o->url = optarg; break;
		case 't': cli_old_letter("aggpub", ch, "-k (--token)");
			/* FALLTHROUGH */
		case 'k': o->token = optarg; break;
		case OPT_TOKEN_FILE: o->token = cli_token_file("aggpub", optarg,
		    o->token_buf, sizeof(o->token_buf)); break;
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': puts("aggpub " AGG_VERSION); exit(0);
		default: cli_bad_option("aggpub", argv, ch, lopts);
		}
		/* ch < 128: strchr would match (char)256, a long option, at the NUL */
		o->gen_flags |= ch < 128 && strchr("ndDTs", ch) != NULL;
	}
	o->files = argv + optind;
	o->nfiles = argc - optind;
	if (o->nfiles > 0 && o->gen_flags)
		cli_usage_error("aggpub", "-n, -D, -T and -s are for generated"
		    " events, not input");
	if (o->nfiles > 0 && o->output)
		cli_usage_error("aggpub", "-o writes generated events; input"
		    " files are sent");
	if (o->output && *o->output == '\0')
		cli_usage_error("aggpub", "-o: empty file name");
}

static volatile sig_atomic_t interrupted;

static void
on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

/*
 * Modes (a) and (c): generate or read, and send.  SIGINT or SIGTERM
 * stops it: what aggd acknowledged so far is in the summary, exit 1.
 */
static int
ship(struct opts *o)
{
	struct sigaction sa;
	struct sender s;
	int rc = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;	/* no SA_RESTART: polls end early */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	o->interrupted = &interrupted;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		errx(1, "cannot initialise libcurl");
	if (sender_init(&s, o) == 0) {
		rc = send_all(&s) < 0 || s.rd.bad > 0;
		summary(&s);
	}
	sender_free(&s);
	curl_global_cleanup();
	return rc;
}

/*
 * Mode (b), -o: the generated events as NDJSON, on standard output or in
 * a file (made anew; an error leaves it incomplete, and exit 1 says so).
 */
static int
to_output(const struct opts *o)
{
	struct gen g;
	struct buf b;
	uint64_t n, start = ev_clock_ms();
	int stdout_ = strcmp(o->output, "-") == 0, rc = 0;
	FILE *f = stdout_ ? stdout : fopen(o->output, "w");

	if (f == NULL) {
		warn("%s", o->output);
		return 1;
	}
	gen_init(&g, o);
	buf_init(&b);
	while (rc == 0 && g.pos < g.n) {
		n = g.n - g.pos < OUT_CHUNK ? g.n - g.pos : OUT_CHUNK;
		b.len = 0;
		if (gen_batch(&g, &b, n) == -1)
			rc = -1, errno = ENOMEM;
		else if (fwrite(b.data, 1, b.len, f) != b.len)
			rc = -1;
	}
	buf_free(&b);
	if (rc == -1 || fflush(f) == EOF || (!stdout_ && fclose(f) == EOF)) {
		if (errno == EPIPE)
			return 0;	/* the reader had enough, as | head does */
		warn("%s", stdout_ ? "stdout" : o->output);
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

	parse_args(argc, argv, &o);
	signal(SIGPIPE, SIG_IGN);	/* EPIPE instead: a message, or exit 0 */
	return o.output ? to_output(&o) : ship(&o);
}
