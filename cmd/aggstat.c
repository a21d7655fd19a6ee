/*
 * aggstat - prints aggd's GET /stats for people, scripts and Prometheus.
 *
 * One request, one answer: the reply is checked to be a JSON object, then
 * written out in one of three formats (key value lines, the JSON as served,
 * or Prometheus text exposition), either to standard output or atomically
 * to a file (temp file in the same folder, fsync, rename), so a reader such
 * as node_exporter's textfile collector sees the old file or the new one,
 * never half of one.  Nothing is written unless the whole answer is good.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"
#include "client.h"
#include "json.h"
#include "rfc3339.h"
#include "vocab.h"

#define STAT_TIMEOUT	30		/* seconds for the whole request */
#define PATH_MAX_LEN	4096

enum format { FMT_TEXT, FMT_JSON, FMT_PROM };
enum { OPT_TOKEN_FILE = 256 };

struct opts {
	const char	*url;		/* -u, else AGGREGATOR_URL */
	const char	*token;		/* -k, else AGG_TOKEN */
	char		 token_buf[CLI_TOKEN_MAX + 1];	/* --token-file */
	const char	*topic;		/* -t */
	const char	*output;	/* -o */
	int		 watch;		/* -w: seconds, 0 once */
	enum format	 format;
};

static const char usage_text[] =
"usage: aggstat [-jp] [-w seconds] [-o file] [-t topic] [-u url] [-k token]\n"
"  -j, --json              the JSON as served\n"
"  -p, --prometheus        Prometheus text exposition\n"
"  -o, --output FILE       write FILE atomically instead of standard output\n"
"  -t, --topic TOPIC       only the figures of TOPIC\n"
"  -w, --watch SECONDS     show the figures anew every SECONDS, in place\n"
"  -u, --url URL           aggd's URL (AGGREGATOR_URL; "
    CLIENT_DEFAULT_URL ")\n"
"  -k, --token TOKEN       bearer token (AGG_TOKEN)\n"
"      --token-file FILE   the token is FILE's first line (-k shows in ps)\n"
"  -h, --help              this text\n"
"  -V, --version           print the version\n";

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "topic", required_argument, NULL, 't' },
		{ "watch", required_argument, NULL, 'w' },
		{ "url", required_argument, NULL, 'u' },
		{ "token", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	opterr = 0;
	/* T: the letter of 1.1 for the token. */
	while ((ch = getopt_long(argc, argv, ":jpo:t:w:u:k:hVT:", longopts,
	    NULL)) != -1)
		switch (ch) {
		case 'j': o->format = FMT_JSON; break;
		case 'p': o->format = FMT_PROM; break;
		case 'o': o->output = optarg; break;
		case 't': o->topic = optarg; break;
		case 'w': o->watch = (int)cli_number("aggstat", "-w", optarg, 1,
		    86400); break;
		case 'u': o->url = optarg; break;
		case 'T': cli_old_letter("aggstat", ch, "-k (--token)");
			/* FALLTHROUGH */
		case 'k': o->token = optarg; break;
		case OPT_TOKEN_FILE: o->token = cli_token_file("aggstat",
		    optarg, o->token_buf, sizeof(o->token_buf)); break;
		case 'h': fputs(usage_text, stdout); exit(0);
		case 'V': printf("aggstat %s\n", AGG_VERSION); exit(0);
		default: cli_bad_option("aggstat", argv, ch, longopts);
		}
	if (optind != argc)
		cli_usage_error("aggstat", "unexpected argument: %s",
		    argv[optind]);
	if (o->topic && *o->topic == '\0')
		cli_usage_error("aggstat", "-t: empty topic");
	if (o->output && *o->output == '\0')
		cli_usage_error("aggstat", "-o: empty file name");
	if (o->watch && o->output)
		cli_usage_error("aggstat", "-w shows the figures in place; -o"
		    " writes a file once");
}

/* GET /stats into body; 0, or -1 after saying why. */
static int
fetch_stats(const struct opts *o, struct buf *body)
{
	char url[CLIENT_URL_MAX], err[CURL_ERROR_SIZE + 64], *q;
	size_t len;
	CURL *c;
	long status;

	if ((c = curl_easy_init()) == NULL) {
		fprintf(stderr, "aggstat: cannot start libcurl\n");
		return -1;
	}
	/* -t: that topic's figures alone, wherever it sorts among all. */
	q = o->topic ? curl_easy_escape(c, o->topic, 0) : NULL;
	if (client_url(o->url, "/stats", url, sizeof(url)) == -1 ||
	    (o->topic && (q == NULL || (len = strlen(url)) + 7 + strlen(q) >=
	    sizeof(url) || snprintf(url + len, sizeof(url) - len, "?topic=%s",
	    q) < 0))) {
		fprintf(stderr, "aggstat: URL too long\n");
		curl_free(q);
		curl_easy_cleanup(c);
		return -1;
	}
	curl_free(q);
	status = client_get(c, url, client_token(o->token), STAT_TIMEOUT, body,
	    err, sizeof(err));
	curl_easy_cleanup(c);
	if (status != 200) {
		if (status != -1)
			client_error_message(body, status, err, sizeof(err));
		fprintf(stderr, "aggstat: GET %s: %s\n", url, err);
		return -1;
	}
	return 0;
}

/* A member that must be a whole number; -1 when missing or not one. */
static int
get_count(struct json_object *obj, const char *key, uint64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_uint64(v);
	return 0;
}

/*
 * The figures of the whole store or of one topic, as /stats names them:
 * the three counters, then the rate and the last arrival, which an aggd
 * older than 1.2 does not send.
 */
struct figures {
	uint64_t	 count[3];
	double		 rate;		/* events/s over the last minute */
	const char	*last;		/* RFC 3339, or NULL: none */
	int		 has_rate;
};

static const char *const count_keys[3] = { VOCAB_RECEIVED, VOCAB_UNIQUE,
	VOCAB_DUPLICATES };

static int
get_figures(struct json_object *obj, struct figures *f)
{
	struct json_object *v;
	size_t k;

	memset(f, 0, sizeof(*f));
	for (k = 0; k < 3; k++)
		if (get_count(obj, count_keys[k], &f->count[k]) == -1)
			return -1;
	if (json_object_object_get_ex(obj, VOCAB_RATE, &v) &&
	    (json_object_is_type(v, json_type_double) ||
	    json_object_is_type(v, json_type_int))) {
		f->rate = json_object_get_double(v);
		f->has_rate = 1;
	}
	if (json_object_object_get_ex(obj, VOCAB_LAST, &v) &&
	    json_object_is_type(v, json_type_string))
		f->last = json_object_get_string(v);
	return 0;
}

/* The by_topic entry of topic, or NULL. */
static struct json_object *
topic_object(struct json_object *stats, const char *topic)
{
	struct json_object *by, *t;

	if (!json_object_object_get_ex(stats, "by_topic", &by) ||
	    !json_object_is_type(by, json_type_object) ||
	    !json_object_object_get_ex(by, topic, &t) ||
	    !json_object_is_type(t, json_type_object))
		return NULL;
	return t;
}

/* The names in "topics" (an empty list when absent). */
static size_t
topics_listed(struct json_object *stats)
{
	struct json_object *a;

	if (!json_object_object_get_ex(stats, "topics", &a) ||
	    !json_object_is_type(a, json_type_array))
		return 0;
	return json_object_array_length(a);
}

/* How many topics the store has: topic_count, or the list's length from
   an aggd before 1.2 (which listed all). */
static uint64_t
topics_all(struct json_object *stats)
{
	uint64_t n;

	return get_count(stats, "topic_count", &n) == 0 ? n :
	    topics_listed(stats);
}

static const char *
topic_name(struct json_object *stats, size_t i)
{
	struct json_object *a, *t;

	if (!json_object_object_get_ex(stats, "topics", &a) ||
	    (t = json_object_array_get_idx(a, i)) == NULL ||
	    !json_object_is_type(t, json_type_string))
		return NULL;
	return json_object_get_string(t);
}

/* "PREFIXkey value" lines of f. */
static int
text_figures(struct buf *out, const char *prefix, const struct figures *f)
{
	size_t k;

	for (k = 0; k < 3; k++)
		if (buf_printf(out, "%s%s %llu\n", prefix, count_keys[k],
		    (unsigned long long)f->count[k]) == -1)
			return -1;
	return (f->has_rate && buf_printf(out, "%s" VOCAB_RATE " %.2f\n",
	    prefix, f->rate) == -1) ||
	    buf_printf(out, "%s" VOCAB_LAST " %s\n", prefix,
	    f->last ? f->last : "none") == -1 ? -1 : 0;
}

/* received unique_processed ... topic.NAME.received ... */
static int
format_text(struct json_object *stats, struct buf *out)
{
	struct json_object *t;
	struct figures f;
	const char *name;
	char prefix[300];
	uint64_t v;
	size_t i, n = topics_listed(stats);

	if (get_figures(stats, &f) == -1 || text_figures(out, "", &f) == -1)
		return -1;
	if (buf_printf(out, "topics %llu\n",
	    (unsigned long long)topics_all(stats)) == -1 ||
	    (get_count(stats, "uptime_seconds", &v) == 0 &&
	    buf_printf(out, "uptime_seconds %llu\n",
	    (unsigned long long)v) == -1))
		return -1;
	for (i = 0; i < n; i++) {
		if ((name = topic_name(stats, i)) == NULL)
			return -1;
		if ((t = topic_object(stats, name)) == NULL)
			continue;
		snprintf(prefix, sizeof(prefix), "topic.%s.", name);
		if (get_figures(t, &f) == -1 ||
		    text_figures(out, prefix, &f) == -1)
			return -1;
	}
	return 0;
}

/* -t: one topic's figures as lines (or one JSON object). */
static int
format_topic(struct json_object *t, const char *topic, enum format fmt,
    struct buf *out)
{
	struct figures f;
	size_t k;

	if (get_figures(t, &f) == -1)
		return -1;
	if (fmt != FMT_JSON)
		return text_figures(out, "", &f);
	if (buf_puts(out, "{\"topic\":") == -1 ||
	    json_write_string(out, topic, strlen(topic)) == -1)
		return -1;
	for (k = 0; k < 3; k++)
		if (buf_printf(out, ",\"%s\":%llu", count_keys[k],
		    (unsigned long long)f.count[k]) == -1)
			return -1;
	return (f.has_rate && buf_printf(out, ",\"" VOCAB_RATE "\":%.2f",
	    f.rate) == -1) || buf_puts(out, ",\"" VOCAB_LAST "\":") == -1 ||
	    (f.last ? json_write_string(out, f.last, strlen(f.last)) :
	    buf_puts(out, "null")) == -1 || buf_puts(out, "}\n") == -1 ? -1 : 0;
}

/* A label value with \\, \" and \n escaped, as the exposition format asks. */
static int
prom_label(struct buf *out, const char *s)
{
	for (; *s; s++) {
		if ((*s == '\\' || *s == '"' ? buf_putc(out, '\\') : 0) == -1 ||
		    (*s == '\n' ? buf_puts(out, "\\n") : buf_putc(out, *s)) == -1)
			return -1;
	}
	return 0;
}

static int
prom_head(struct buf *out, const char *name, const char *type,
    const char *help)
{
	return buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* The Unix time of f's last arrival, or -1 when none (or unreadable). */
static long long
last_seconds(const struct figures *f)
{
	int64_t ms;

	return f->last && rfc3339_parse(f->last, strlen(f->last), &ms) == 0 ?
	    ms / 1000 : -1;
}

/* The per-topic families, in the order of prom_family's k. */
static const char *const topic_metric[4] = {
	"agg_topic_events_received_total", "agg_topic_events_unique_total",
	"agg_topic_events_duplicate_total",
	"agg_topic_last_event_timestamp_seconds" };
static const char *const topic_help[4] = {
	("Events of the topic in accepted publish requests, duplicates"
	" included."), "Unique events of the topic stored.",
	"Events of the topic dropped as duplicates.",
	"When the topic's last event arrived (Unix time)." };

/* Figure k of f as a sample of metric name with the label, if any. */
static int
prom_sample(struct buf *out, const char *name, const char *topic,
    const struct figures *f, size_t k)
{
	long long v = k < 3 ? (long long)f->count[k] : last_seconds(f);

	if (v < 0)
		return 0;	/* no event yet: no sample */
	return buf_puts(out, name) == -1 || (topic && (buf_puts(out,
	    "{topic=\"") == -1 || prom_label(out, topic) == -1 ||
	    buf_puts(out, "\"}") == -1)) ||
	    buf_printf(out, " %lld\n", v) == -1 ? -1 : 0;
}

/* One per-topic family: every topic (or only the one asked for). */
static int
prom_topic_family(struct json_object *stats, const char *only, size_t k,
    struct buf *out)
{
	struct json_object *t;
	struct figures f;
	const char *name;
	size_t i, n = topics_listed(stats);

	if (prom_head(out, topic_metric[k], k < 3 ? "counter" : "gauge",
	    topic_help[k]) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((name = topic_name(stats, i)) == NULL)
			return -1;
		if ((only && strcmp(name, only) != 0) ||
		    (t = topic_object(stats, name)) == NULL)
			continue;
		if (get_figures(t, &f) == -1 ||
		    prom_sample(out, topic_metric[k], name, &f, k) == -1)
			return -1;
	}
	return 0;
}

/* The totals (unless only one topic is asked for), then per topic. */
static int
format_prom(struct json_object *stats, const char *only, struct buf *out)
{
	static const char *const names[4] = { METRIC_RECEIVED, METRIC_UNIQUE,
	    METRIC_DUPLICATES, METRIC_LAST };
	static const char *const helps[4] = { METRIC_RECEIVED_HELP,
	    METRIC_UNIQUE_HELP, METRIC_DUPLICATES_HELP, METRIC_LAST_HELP };
	struct figures f;
	uint64_t v;
	size_t k;

	if (get_figures(stats, &f) == -1)
		return -1;
	for (k = 0; !only && k < 4; k++)
		if (prom_head(out, names[k], k < 3 ? "counter" : "gauge",
		    helps[k]) == -1 || prom_sample(out, names[k], NULL, &f, k) ==
		    -1)
			return -1;
	if (!only && (prom_head(out, "agg_topics", "gauge",
	    "Topics with at least one event.") == -1 ||
	    buf_printf(out, "agg_topics %llu\n",
	    (unsigned long long)topics_all(stats)) == -1))
		return -1;
	if (!only && get_count(stats, "uptime_seconds", &v) == 0 &&
	    (prom_head(out, "agg_uptime_seconds", "gauge",
	    "Seconds since aggd started.") == -1 ||
	    buf_printf(out, "agg_uptime_seconds %llu\n",
	    (unsigned long long)v) == -1))
		return -1;
	for (k = 0; k < 4; k++)
		if (prom_topic_family(stats, only, k, out) == -1)
			return -1;
	return 0;
}

/* The answer in the chosen format; -1 after saying why. */
static int
format_stats(const struct opts *o, const struct buf *body, struct buf *out)
{
	struct json_object *stats = NULL, *t = NULL;
	struct json_tokener *tok;
	size_t end = 0;
	int rc = -1;

	/* The whole answer, not a prefix that happens to parse. */
	if ((tok = json_tokener_new()) != NULL) {
		stats = json_tokener_parse_ex(tok, body->data, (int)body->len);
		end = json_tokener_get_parse_end(tok);
		json_tokener_free(tok);
	}
	while (end < body->len && memchr(" \t\r\n", body->data[end], 4))
		end++;
	if (stats == NULL || end != body->len ||
	    !json_object_is_type(stats, json_type_object)) {
		fprintf(stderr, "aggstat: /stats: the answer is not a JSON "
		    "object\n");
		goto done;
	}
	if (o->topic && (t = topic_object(stats, o->topic)) == NULL) {
		fprintf(stderr, "aggstat: %s: no such topic\n", o->topic);
		goto done;
	}
	if (t)
		rc = o->format == FMT_PROM ? format_prom(stats, o->topic, out) :
		    format_topic(t, o->topic, o->format, out);
	else if (o->format == FMT_JSON)
		rc = buf_append(out, body->data, body->len) == -1 ||
		    (body->len && body->data[body->len - 1] != '\n' &&
		    buf_putc(out, '\n') == -1) ? -1 : 0;
	else
		rc = o->format == FMT_PROM ? format_prom(stats, NULL, out) :
		    format_text(stats, out);
	if (rc == -1)
		fprintf(stderr, "aggstat: /stats: unexpected answer (or out of "
		    "memory)\n");
done:
	json_object_put(stats);
	return rc;
}

static int
write_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* fsync the folder holding path, so the rename itself is durable. */
static int
sync_dir(const char *path)
{
	char dir[PATH_MAX_LEN];
	const char *slash = strrchr(path, '/');
	int fd, rc;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", slash == path ? 1 :
		    (int)(slash - path), path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) == -1)
		return -1;
	rc = fsync(fd);
	close(fd);
	return rc;
}

/*
 * path atomically: ".NAME.XXXXXX" beside it (a name the textfile collector
 * ignores, as it does not end in .prom), mode 0666 less the umask, fsync,
 * rename.  On failure the old file is left as it was.
 */
static int
write_file(const char *path, const struct buf *data)
{
	char tmp[PATH_MAX_LEN];
	const char *slash = strrchr(path, '/');
	int fd, len, saved;
	mode_t mask;

	len = snprintf(tmp, sizeof(tmp), "%.*s.%s.XXXXXX", slash ?
	    (int)(slash - path + 1) : 0, path, slash ? slash + 1 : path);
	if (len < 0 || (size_t)len >= sizeof(tmp)) {
		fprintf(stderr, "aggstat: %s: name too long\n", path);
		return -1;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		fprintf(stderr, "aggstat: %s: %s\n", path, strerror(errno));
		return -1;
	}
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) == -1 ||
	    write_all(fd, data->data, data->len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		goto fail;
	}
	if (sync_dir(path) == -1)
		fprintf(stderr, "aggstat: %s: cannot sync its folder: %s\n",
		    path, strerror(errno));
	return 0;
fail:
	unlink(tmp);
	fprintf(stderr, "aggstat: %s: %s\n", path, strerror(saved));
	return -1;
}

static int
write_stdout(const struct buf *data)
{
	if (fwrite(data->data, 1, data->len, stdout) != data->len ||
	    fflush(stdout) == EOF) {
		fprintf(stderr, "aggstat: standard output: %s\n",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Once: the figures to standard output or the file; the exit status. */
static int
show_once(const struct opts *o, struct buf *body, struct buf *out)
{
	out->len = 0;
	if (fetch_stats(o, body) == -1 || buf_cstr(body) == -1 ||
	    format_stats(o, body, out) == -1 || buf_cstr(out) == -1)
		return 1;
	return (o->output ? write_file(o->output, out) :
	    write_stdout(out)) == 0 ? 0 : 1;
}

/*
 * -w: like watch(1), the screen cleared and the figures shown anew every
 * o->watch seconds, under a line that says when; an error is shown in
 * their place and the next round tries again.  Ends with SIGINT.
 */
static _Noreturn void
show_every(const struct opts *o, struct buf *body, struct buf *out)
{
	char when[32];
	time_t now;
	struct tm tm;

	for (;;) {
		now = time(NULL);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		    localtime_r(&now, &tm));
		printf("\033[H\033[2J" "every %d s: aggstat %s\n\n", o->watch,
		    when);
		fflush(stdout);
		(void)show_once(o, body, out);
		sleep((unsigned)o->watch);
	}
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct buf body, out;
	int rc;

	parse_args(argc, argv, &o);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fprintf(stderr, "aggstat: cannot start libcurl\n");
		return 1;
	}
	buf_init(&body);
	buf_init(&out);
	if (o.watch)
		show_every(&o, &body, &out);
	rc = show_once(&o, &body, &out);
	buf_free(&body);
	buf_free(&out);
	curl_global_cleanup();
	return rc;
}
