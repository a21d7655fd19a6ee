/*
 * aggd - the agg daemon: collects events over HTTP (and from standard
 * input), drops duplicates by (topic, event_id) for good, and serves what
 * arrived.  main owns every long-lived object; it sets them up in order,
 * runs the loop, and on SIGTERM/SIGINT/SIGQUIT takes them down in reverse:
 * stop accepting, answer what is in flight, commit, close, exit 0.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aggd.h"
#include "cli.h"
#include "log.h"
#include "units.h"

/* "host:port" or "[v6]:port"; the host may be empty (all addresses). */
static int
split_addr(const char *addr, char *host, size_t hostsz, const char **port)
{
	const char *colon, *h = addr;
	size_t hlen;

	if ((colon = strrchr(addr, ':')) == NULL || colon[1] == '\0')
		return -1;
	hlen = (size_t)(colon - addr);
	if (*addr == '[') {
		if (hlen < 2 || addr[hlen - 1] != ']')
			return -1;
		h++;
		hlen -= 2;
	}
	if (hlen >= hostsz)
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = colon + 1;
	return 0;
}

/*
 * A listen address that cannot be one is a usage error, found before
 * anything starts: HOST:PORT with a port from 0 (any free one) to 65535.
 */
static void
check_listen(const char *addr)
{
	char host[256];
	const char *port;
	unsigned long v;
	char *end;

	if (split_addr(addr, host, sizeof(host), &port) == -1)
		cli_usage_error("aggd", "listen address %s: expected HOST:PORT",
		    addr);
	errno = 0;
	v = strtoul(port, &end, 10);
	if (*port < '0' || *port > '9' || *end || errno || v > 65535)
		cli_usage_error("aggd", "listen address %s: the port must be a"
		    " number from 0 to 65535", addr);
}

static const char usage_text[] =
"usage: aggd [-x] [-l addr:port] [-d store] [-k token] [--token-file file]\n"
"            [--relaxed] [--max-body bytes] [--queue events] [--max-conns n]\n"
"            [--max-topics n] [--retain duration] [--max-store size]\n"
"       aggd [-d store] --backup file | --restore file | --check |\n"
"            --salvage file\n"
"  -l, --listen ADDR:PORT   listen address (AGG_LISTEN; 127.0.0.1:8080)\n"
"  -d, --db STORE           store: an SQLite file, or a postgresql:// URI\n"
"                           for many aggd on one database (DEDUP_DB_PATH;\n"
"                           data/dedup.db)\n"
"  -k, --token TOKEN        require Authorization: Bearer TOKEN (AGG_TOKEN);\n"
"                           shows in ps(1): prefer AGG_TOKEN or --token-file\n"
"      --token-file FILE    the token is FILE's first line\n"
"  -x, --exit-on-eof        exit once standard input is stored\n"
"      --relaxed            do not fsync each commit: faster, but a power\n"
"                           loss may lose the last acknowledged events\n"
"                           (SQLite; PostgreSQL's commits are its own)\n"
"      --max-body BYTES     largest request body (16M); K, M, G suffixes\n"
"      --queue EVENTS       ingest queue size before 503 (65536)\n"
"      --max-conns N        open connections (10000)\n"
"      --max-topics N       topics the store takes; a request that would\n"
"                           pass it is refused with 422 (100000)\n"
"      --retain DURATION    remove events older than DURATION: 45s, 30m,\n"
"                           12h, 90d (AGG_RETAIN; keep all); their\n"
"                           identities stay, so a re-send is a duplicate\n"
"      --max-store SIZE     remove the oldest events while the store is\n"
"                           larger than SIZE: 500M, 10G (AGG_MAX_STORE;\n"
"                           no limit); identities stay likewise\n"
"      --backup FILE        copy the store to FILE while aggd runs, exit\n"
"      --restore FILE       replace the stopped store by backup FILE, exit\n"
"      --check              verify every row of the store, print each\n"
"                           problem, exit 0 when there is none, else 1\n"
"      --salvage FILE       write the store's sound rows to FILE, a store\n"
"                           for --restore; say what was dropped, exit\n"
"  -h, --help               this text\n"
"  -V, --version            print the version\n";

static void
usage(void)
{
	fputs(usage_text, stdout);
	exit(0);
}

static size_t
size_arg(const char *name, const char *s)
{
	uint64_t v;

	if (units_size(s, &v) == -1 || v == 0 || v > (1ULL << 40))
		cli_usage_error("aggd", "%s: not a whole number from 1 to 2^40:"
		    " %s", name, s);
	return (size_t)v;
}

/* --retain, AGG_RETAIN: a duration, "0s" or "" for none. */
static uint64_t
retain_arg(const char *name, const char *s)
{
	uint64_t ms = 0;

	if (*s != '\0' && units_duration_ms(s, &ms) == -1)
		cli_usage_error("aggd", "%s: not a duration such as 45s, 30m,"
		    " 12h or 90d: %s", name, s);
	return ms;
}

/* --max-store, AGG_MAX_STORE: a size, at least 1M, "0" or "" for none. */
static uint64_t
max_store_arg(const char *name, const char *s)
{
	uint64_t bytes = 0;

	if (*s != '\0' && (units_size(s, &bytes) == -1 ||
	    (bytes != 0 && bytes < (1ULL << 20))))
		cli_usage_error("aggd", "%s: not a size of 1M or more, such as"
		    " 500M or 10G: %s", name, s);
	return bytes;
}

/* Options without a letter of their own; the letters of 1.1 map here. */
enum { OPT_RELAXED = 256, OPT_MAX_BODY, OPT_QUEUE, OPT_MAX_CONNS,
	OPT_BACKUP, OPT_RESTORE, OPT_TOKEN_FILE, OPT_CHECK, OPT_SALVAGE,
	OPT_MAX_TOPICS, OPT_RETAIN, OPT_MAX_STORE };

static void
parse_args(int argc, char **argv, struct aggd_config *c)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "db", required_argument, NULL, 'd' },
		{ "token", required_argument, NULL, 'k' },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "relaxed", no_argument, NULL, OPT_RELAXED },
		{ "exit-on-eof", no_argument, NULL, 'x' },
		{ "max-body", required_argument, NULL, OPT_MAX_BODY },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
		{ "max-topics", required_argument, NULL, OPT_MAX_TOPICS },
		{ "retain", required_argument, NULL, OPT_RETAIN },
		{ "max-store", required_argument, NULL, OPT_MAX_STORE },
		{ "backup", required_argument, NULL, OPT_BACKUP },
		{ "restore", required_argument, NULL, OPT_RESTORE },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "salvage", required_argument, NULL, OPT_SALVAGE },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	/* t, r, b, q, c: the letters of 1.1, which mean other things in
	   the other tools now. */
	while ((ch = getopt_long(argc, argv, ":l:d:k:xhVt:rb:q:c:", opts,
	    NULL)) != -1) {
		switch (ch) {
		case 't': cli_old_letter("aggd", ch, "-k (--token)"); break;
		case 'r': cli_old_letter("aggd", ch, "--relaxed"); break;
		case 'b': cli_old_letter("aggd", ch, "--max-body"); break;
		case 'q': cli_old_letter("aggd", ch, "--queue"); break;
		case 'c': cli_old_letter("aggd", ch, "--max-conns"); break;
		}
		switch (ch) {
		case 'l': c->listen = optarg; break;
		case 'd': c->db_path = optarg; break;
		case 't':
		case 'k': c->token = optarg; break;
		case OPT_TOKEN_FILE: c->token = cli_token_file("aggd", optarg,
		    c->token_buf, sizeof(c->token_buf)); break;
		case 'r':
		case OPT_RELAXED: c->relaxed = 1; break;
		case 'x': c->exit_on_eof = 1; break;
		case 'b':
		case OPT_MAX_BODY: c->http.max_body = size_arg("--max-body",
		    optarg); break;
		case 'q':
		case OPT_QUEUE: c->queue = size_arg("--queue", optarg); break;
		case 'c':
		case OPT_MAX_CONNS: c->http.max_conns = size_arg("--max-conns",
		    optarg); break;
		case OPT_MAX_TOPICS: c->max_topics = size_arg("--max-topics",
		    optarg); break;
		case OPT_RETAIN: c->retain.max_age_ms = retain_arg("--retain",
		    optarg); break;
		case OPT_MAX_STORE: c->retain.max_bytes = max_store_arg(
		    "--max-store", optarg); break;
		case OPT_BACKUP: c->backup = optarg; break;
		case OPT_RESTORE: c->restore = optarg; break;
		case OPT_CHECK: c->check = 1; break;
		case OPT_SALVAGE: c->salvage = optarg; break;
		case 'h': usage(); break;
		case 'V': printf("aggd %s\n", AGG_VERSION); exit(0);
		default: cli_bad_option("aggd", argv, ch, opts);
		}
	}
	if (optind != argc)
		cli_usage_error("aggd", "unexpected argument: %s", argv[optind]);
	if (c->token && *c->token == '\0')
		c->token = NULL;
	if (!!c->backup + !!c->restore + c->check + !!c->salvage > 1)
		cli_usage_error("aggd", "--backup, --restore, --check or"
		    " --salvage: one at a time");
	if (!c->backup && !c->restore && !c->check && !c->salvage)
		check_listen(c->listen);
}

static void
config_defaults(struct aggd_config *c)
{
	const char *v;

	memset(c, 0, sizeof(*c));
	httpd_config_defaults(&c->http);
	c->listen = (v = getenv("AGG_LISTEN")) && *v ? v : "127.0.0.1:8080";
	c->db_path = (v = getenv("DEDUP_DB_PATH")) && *v ? v : "data/dedup.db";
	c->token = getenv("AGG_TOKEN");
	c->queue = AGGD_QUEUE_DEFAULT;
	c->max_topics = AGGD_TOPICS_DEFAULT;
	if ((v = getenv("AGG_RETAIN")) != NULL)
		c->retain.max_age_ms = retain_arg("AGG_RETAIN", v);
	if ((v = getenv("AGG_MAX_STORE")) != NULL)
		c->retain.max_bytes = max_store_arg("AGG_MAX_STORE", v);
}

/* A listening socket on ai, or -1 with *saved set to why not. */
static int
bind_listen(const struct addrinfo *ai, int *saved)
{
	int fd, one = 1, zero = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		*saved = errno;
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* "::" then takes IPv4 too, whatever the system's default. */
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
	    listen(fd, 4096) == 0)
		return fd;
	*saved = errno;
	close(fd);
	return -1;
}

/*
 * An empty host is every address: IPv6's wildcard first, which serves
 * IPv4 as well, then (a system without IPv6) IPv4's.
 */
static int
listen_on(const char *addr)
{
	struct addrinfo hints, *res, *ai;
	char host[256];
	const char *port;
	int fd = -1, rc, saved = 0;

	(void)split_addr(addr, host, sizeof(host), &port);	/* checked */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(*host ? host : NULL, port, &hints, &res)) != 0) {
		/* A name that is no address is the caller's mistake; a
		   resolver that fails now may succeed later. */
		if (rc == EAI_AGAIN || rc == EAI_MEMORY || rc == EAI_SYSTEM)
			fatalx("listen address %s: %s", addr, gai_strerror(rc));
		cli_usage_error("aggd", "listen address %s: %s", addr,
		    gai_strerror(rc));
	}
	for (ai = res; ai && fd == -1 && !*host; ai = ai->ai_next)
		if (ai->ai_family == AF_INET6)
			fd = bind_listen(ai, &saved);
	for (ai = res; ai && fd == -1; ai = ai->ai_next)
		fd = bind_listen(ai, &saved);
	freeaddrinfo(res);
	if (fd == -1) {
		errno = saved;
		fatal("listen %s", addr);
	}
	return fd;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 &&
	    (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
	    (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
	    in6->sin6_addr.s6_addr[12] == 127));
}

/*
 * The start line, which tells where aggd listens and what it serves (the
 * tests read the port from it), and a warning when anyone who can reach
 * a public address may publish and read.
 */
static void
print_listening(int fd, const struct aggd_config *cfg, uint64_t events)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV], addr[NI_MAXHOST + NI_MAXSERV + 4];
	char store[1024];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
	    sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		return;
	snprintf(addr, sizeof(addr), "%s%s%s:%s", ss.ss_family == AF_INET6 ?
	    "[" : "", host, ss.ss_family == AF_INET6 ? "]" : "", port);
	store_display(cfg->db_path, store, sizeof(store));
	log_info("listening on %s, store %s with %llu event%s", addr,
	    store, (unsigned long long)events, events == 1 ? "" : "s");
	if (cfg->token == NULL && !is_loopback(&ss))
		log_warnx("warning: %s is reachable from other hosts and no"
		    " token is set: anyone who reaches it may publish and read"
		    " (set AGG_TOKEN)", addr);
}

/*
 * As many descriptors as allowed: each connection needs one, and the
 * store, the loop and the standard streams FD_RESERVE at most (about 20).
 */
#define FD_RESERVE	64

static void
raise_fd_limit(struct aggd_config *c)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	rl.rlim_cur = rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == RLIM_INFINITY ||
	    c->http.max_conns + FD_RESERVE <= rl.rlim_cur)
		return;
	if (rl.rlim_cur <= FD_RESERVE)
		fatalx("the descriptor limit of %llu leaves no room for connections"
		    " (aggd keeps %d for itself)",
		    (unsigned long long)rl.rlim_cur, FD_RESERVE);
	c->http.max_conns = rl.rlim_cur - FD_RESERVE;
	log_warnx("only %zu connections: the descriptor limit is %llu",
	    c->http.max_conns, (unsigned long long)rl.rlim_cur);
}

/* What main runs: the loop and the parts it serves, and how it ends. */
struct daemon {
	const struct aggd_config *cfg;
	struct ev_loop	*loop;
	struct httpd	*httpd;
	struct service	*svc;
	struct feed	*feed;
	struct api	 api;
	uint64_t	 stop_deadline;	/* 0 while running */
	int		 exit_code;
};

static void
begin_stop(struct daemon *d, const char *why)
{
	if (d->stop_deadline)
		return;
	log_info("%s: finishing requests in flight", why);
	d->stop_deadline = ev_now(d->loop) + AGGD_GRACE_MS;
	httpd_shutdown(d->httpd);
	service_shutdown(d->svc);
}

static void
on_signal(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct daemon *d = arg;
	struct signalfd_siginfo si;

	(void)loop;
	(void)events;
	if (read(fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	begin_stop(d, strsignal((int)si.ssi_signo));
}

/* Stops the loop once everything is answered, or at the deadline. */
static void
on_tick(struct ev_loop *loop, void *arg)
{
	struct daemon *d = arg;

	if (d->stop_deadline && (httpd_conns(d->httpd) == 0 ||
	    ev_now(loop) >= d->stop_deadline))
		ev_stop(loop);
}

/* Standard input is all stored: with -x, that is the end. */
static void
feed_finished(void *arg, int failed)
{
	struct daemon *d = arg;

	if (!d->cfg->exit_on_eof)
		return;
	if (failed)
		d->exit_code = 1;
	begin_stop(d, "end of standard input");
}

static int
stdin_is_data(void)
{
	struct stat st;

	return fstat(STDIN_FILENO, &st) == 0 &&
	    (S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode));
}

static int
watch_signals(struct daemon *d, const sigset_t *mask)
{
	int fd = signalfd(-1, mask, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd == -1 || ev_watch(d->loop, fd, EV_READ, on_signal, d) == -1)
		fatal("signalfd");
	return fd;
}

/* --backup and --restore: one copy, one line that says so; exit 0 or 1. */
static int
copy_store(const struct aggd_config *c)
{
	uint64_t events;
	char err[512];
	int rc;

	if (c->backup)
		rc = store_backup(c->db_path, c->backup, &events, err,
		    sizeof(err));
	else
		rc = store_restore(c->restore, c->db_path, &events, err,
		    sizeof(err));
	if (rc == -1) {
		fprintf(stderr, "aggd: %s failed: %s\n", c->backup ? "backup" :
		    "restore", err);
		return 1;
	}
	fprintf(stderr, "aggd: %s %s to %s: %llu events\n", c->backup ?
	    "backed up" : "restored", c->backup ? c->db_path : c->restore,
	    c->backup ? c->backup : c->db_path, (unsigned long long)events);
	return 0;
}

static void
print_problem(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

/* --check: the problems on standard output, one line on standard error. */
static int
check_store(const struct aggd_config *c)
{
	uint64_t events;
	char err[512];
	long n;

	if ((n = store_check(c->db_path, print_problem, NULL, &events, err,
	    sizeof(err))) == -1) {
		fprintf(stderr, "aggd: check failed: %s\n", err);
		return 1;
	}
	fflush(stdout);
	fprintf(stderr, "aggd: checked %s: %llu events, %ld problem%s%s\n",
	    c->db_path, (unsigned long long)events, n, n == 1 ? "" : "s",
	    n ? "; aggd(8) RECOVERY says what to do" : "");
	return n ? 1 : 0;
}

/* --salvage FILE: what was dropped on standard output, then one line. */
static int
salvage_store(const struct aggd_config *c)
{
	uint64_t kept;
	char err[512];
	long n;

	if ((n = store_salvage(c->db_path, c->salvage, print_problem, NULL,
	    &kept, err, sizeof(err))) == -1) {
		fprintf(stderr, "aggd: salvage failed: %s\n", err);
		return 1;
	}
	fflush(stdout);
	fprintf(stderr, "aggd: salvaged %s into %s: %llu events kept, %ld"
	    " dropped; with aggd stopped, aggd --restore %s puts it in place\n",
	    c->db_path, c->salvage, (unsigned long long)kept, n, c->salvage);
	return 0;
}

int
main(int argc, char **argv)
{
	struct service_config scfg;
	struct aggd_config cfg;
	struct daemon d;
	struct store *store;
	struct store_reader *reader;
	struct service_health h;
	sigset_t mask;
	char err[512];
	int lfd, sfd;

	log_init(argv[0]);
	config_defaults(&cfg);
	parse_args(argc, argv, &cfg);
	if (cfg.check)
		return check_store(&cfg);
	if (cfg.salvage)
		return salvage_store(&cfg);
	if (cfg.backup || cfg.restore)
		return copy_store(&cfg);
	/* logrotate's HUP and a stray USR1/USR2 must not kill a daemon that
	 * keeps no log file to reopen and has no second meaning to give. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGUSR2, SIG_IGN);
	/* Blocked before any thread starts, so only signalfd sees them;
	 * QUIT stops as TERM does, rather than dumping core mid-request. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	raise_fd_limit(&cfg);

	lfd = listen_on(cfg.listen);
	if ((store = store_open(cfg.db_path, err, sizeof(err))) == NULL ||
	    (reader = store_reader_open(store, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	store->max_topics = cfg.max_topics;
	store->retain = cfg.retain;
	memset(&d, 0, sizeof(d));
	d.cfg = &cfg;
	if ((d.loop = ev_new()) == NULL)
		fatal("event loop");
	sfd = watch_signals(&d, &mask);
	scfg.queue = cfg.queue;
	scfg.durable = !cfg.relaxed;
	d.api.token = cfg.token;
	if ((d.svc = service_start(d.loop, store, reader, &scfg)) == NULL ||
	    (d.httpd = httpd_new(d.loop, lfd, &cfg.http, &api_http_handlers,
	    &d.api)) == NULL || ev_add_tick(d.loop, 250, on_tick, &d) == -1)
		fatal("start");
	d.api.svc = d.svc;
	d.api.httpd = d.httpd;
	service_health(d.svc, &h);
	print_listening(lfd, &cfg, h.counts.unique);
	if (stdin_is_data() && (d.feed = feed_start(d.loop, d.svc,
	    cfg.http.max_body, feed_finished, &d)) == NULL)
		fatal("standard input");
	if (cfg.exit_on_eof && d.feed == NULL)
		begin_stop(&d, "no input on standard input");

	if (ev_run(d.loop) == -1)
		log_warn("event loop");
	feed_stop(d.feed);
	service_stop(d.svc);	/* answers what is read and committed */
	httpd_free(d.httpd);
	store_close(store);
	close(sfd);
	ev_free(d.loop);
	log_info("stopped");
	return d.exit_code;
}
