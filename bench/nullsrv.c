/*
 * nullsrv - an HTTP server that answers at once, to measure a client's
 * own speed (aggpub) and the load generator's ceiling for aggd: every
 * POST /publish gets 200 {"accepted":N,...} with N the number of "topic"
 * members in the body, counted with memmem, not parsed; anything else
 * gets 200 {}.  Prints its port as aggd does ("nullsrv: listening on
 * 127.0.0.1:PORT") and, on SIGINT or SIGTERM, the events and requests it
 * saw.
 *
 * With -f FILE it is the least a durable server does: each request's
 * body is written to FILE and answered only after an fdatasync of FILE,
 * done by a second thread that covers, with one call, every body written
 * while its previous call ran (aggd's group commit without the parsing,
 * the SQLite transaction or the writer's hand-off).  With -i as well, the
 * loop's own thread calls fdatasync before it answers, and reads nothing
 * meanwhile.
 *
 *   nullsrv [-i] [-f FILE] [PORT]
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "ev.h"
#include "httpd.h"
#include "log.h"

/*
 * Rounds overwrite blocks written and synced before, round robin, as
 * SQLite reuses its WAL: appending would make every fdatasync also commit
 * the file's new size to the journal.
 */
#define BODY_FILE_SIZE	(64 << 20)

struct counts {
	unsigned long long	 events, requests;
};

/* Requests whose bodies are written, on their way through an fdatasync. */
struct held {
	struct httpd_req	**reqs;
	size_t			 n, cap;
};

struct syncer {
	int		 fd, efd;
	int		 inline_sync;	/* -i: fdatasync on the loop's thread */
	off_t		 off;		/* where the next round goes in fd */
	struct counts	*c;
	struct buf	 round;		/* bodies of this loop round */
	struct held	 loop;		/* this round's requests (loop only) */
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct held	 queued, done;	/* under mu */
	int		 quit;
	pthread_t	 thread;
};

struct server {
	struct counts	 c;
	struct syncer	*sync;		/* NULL: answer at once */
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = sig;
}

static void
on_tick(struct ev_loop *loop, void *arg)
{
	if (stop)
		ev_stop(loop);
}

static int
held_push(struct held *h, struct httpd_req *r)
{
	struct httpd_req **n;

	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 64;
		if ((n = realloc(h->reqs, h->cap * sizeof(*n))) == NULL)
			return -1;
		h->reqs = n;
	}
	h->reqs[h->n++] = r;
	return 0;
}

/* Moves every request of from to the end of to. */
static int
held_move(struct held *to, struct held *from)
{
	size_t i;

	for (i = 0; i < from->n; i++)
		if (held_push(to, from->reqs[i]) == -1)
			return -1;
	from->n = 0;
	return 0;
}

static void
answer(struct counts *c, struct httpd_req *r)
{
	const struct http_request *hr = httpd_request(r);
	const char *body, *p, *end;
	unsigned long long n = 0;
	char out[128];
	size_t len;
	int olen;

	body = httpd_body(r, &len);
	if (hr->method_len == 4 && memcmp(hr->method, "POST", 4) == 0)
		for (p = body, end = body + len;
		    (p = memmem(p, (size_t)(end - p), "\"topic\"", 7)) != NULL;
		    p += 7)
			n++;
	c->events += n;
	c->requests++;
	olen = snprintf(out, sizeof(out),
	    "{\"accepted\":%llu,\"unique\":%llu,\"duplicates\":0}", n, n);
	httpd_reply(r, 200, NULL, NULL, out, (size_t)olen);
}

static void
handle(struct httpd_req *r, void *arg)
{
	struct server *s = arg;
	const char *body;
	size_t len;

	if (s->sync == NULL) {
		answer(&s->c, r);
		return;
	}
	body = httpd_body(r, &len);
	if (buf_append(&s->sync->round, body, len) == -1 ||
	    held_push(&s->sync->loop, r) == -1)
		fatalx("out of memory");
}

/* Before the loop sleeps: write this round's bodies, queue its requests. */
static void
write_round(struct ev_loop *loop, void *arg)
{
	struct syncer *y = arg;
	size_t i;
	int rc;

	if (y->loop.n == 0)
		return;
	if (y->off + (off_t)y->round.len > BODY_FILE_SIZE)
		y->off = 0;
	if (pwrite(y->fd, y->round.data, y->round.len, y->off) !=
	    (ssize_t)y->round.len)
		fatal("write");
	y->off += (off_t)y->round.len;
	y->round.len = 0;
	if (y->inline_sync) {
		if (fdatasync(y->fd) == -1)
			fatal("fdatasync");
		for (i = 0; i < y->loop.n; i++)
			answer(y->c, y->loop.reqs[i]);
		y->loop.n = 0;
		return;
	}
	pthread_mutex_lock(&y->mu);
	rc = held_move(&y->queued, &y->loop);
	pthread_cond_signal(&y->cv);
	pthread_mutex_unlock(&y->mu);
	if (rc == -1)
		fatalx("out of memory");
}

static void *
sync_main(void *arg)
{
	struct syncer *y = arg;
	struct held batch = { NULL, 0, 0 };
	uint64_t one = 1;

	pthread_mutex_lock(&y->mu);
	for (;;) {
		while (y->queued.n == 0 && !y->quit)
			pthread_cond_wait(&y->cv, &y->mu);
		if (y->queued.n == 0)
			break;
		if (held_move(&batch, &y->queued) == -1)
			fatalx("out of memory");
		pthread_mutex_unlock(&y->mu);
		if (fdatasync(y->fd) == -1)
			fatal("fdatasync");
		pthread_mutex_lock(&y->mu);
		if (held_move(&y->done, &batch) == -1)
			fatalx("out of memory");
		if (write(y->efd, &one, sizeof(one)) != sizeof(one))
			fatal("eventfd");
	}
	pthread_mutex_unlock(&y->mu);
	free(batch.reqs);
	return NULL;
}

/* The syncer's eventfd: answer what is on disk. */
static void
on_synced(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct syncer *y = arg;
	struct held out;
	uint64_t n;
	size_t i;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&y->mu);
	out = y->done;
	y->done = (struct held){ NULL, 0, 0 };
	pthread_mutex_unlock(&y->mu);
	for (i = 0; i < out.n; i++)
		answer(y->c, out.reqs[i]);
	free(out.reqs);
}

static int
preallocate(int fd)
{
	static const char zeros[1 << 16];
	int i;

	for (i = 0; i < BODY_FILE_SIZE / (int)sizeof(zeros); i++)
		if (write(fd, zeros, sizeof(zeros)) != (ssize_t)sizeof(zeros))
			return -1;
	return fsync(fd);
}

static struct syncer *
syncer_start(struct ev_loop *loop, const char *path, int inline_sync,
    struct counts *c)
{
	struct syncer *y;

	if ((y = calloc(1, sizeof(*y))) == NULL)
		return NULL;
	y->c = c;
	buf_init(&y->round);
	y->inline_sync = inline_sync;
	y->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	y->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (y->fd == -1 || y->efd == -1 || preallocate(y->fd) == -1)
		fatal("%s", path);
	pthread_mutex_init(&y->mu, NULL);
	pthread_cond_init(&y->cv, NULL);
	if (ev_watch(loop, y->efd, EV_READ, on_synced, y) == -1 ||
	    pthread_create(&y->thread, NULL, sync_main, y) != 0)
		return NULL;
	if (ev_add_before_wait(loop, write_round, y) == -1)
		return NULL;
	return y;
}

static void
syncer_stop(struct syncer *y)
{
	pthread_mutex_lock(&y->mu);
	y->quit = 1;
	pthread_cond_signal(&y->cv);
	pthread_mutex_unlock(&y->mu);
	pthread_join(y->thread, NULL);
	close(y->fd);
	close(y->efd);
	buf_free(&y->round);
	free(y->loop.reqs);
	free(y->queued.reqs);
	free(y->done.reqs);
	pthread_mutex_destroy(&y->mu);
	pthread_cond_destroy(&y->cv);
	free(y);
}

static int
listen_port(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	fprintf(stderr, "nullsrv: listening on 127.0.0.1:%d\n",
	    ntohs(sin.sin_port));
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct httpd_handlers handlers = { .handle = handle };
	struct server s = { { 0, 0 }, NULL };
	struct httpd_config cfg;
	const char *file = NULL;
	int inline_sync = 0;
	struct ev_loop *loop;
	struct httpd *h;
	int fd, opt;

	log_init("nullsrv");
	while ((opt = getopt(argc, argv, "f:i")) != -1) {
		if (opt == 'f')
			file = optarg;
		else if (opt == 'i')
			inline_sync = 1;
		else {
			fputs("usage: nullsrv [-i] [-f FILE] [PORT]\n", stderr);
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if ((fd = listen_port(optind < argc ? atoi(argv[optind]) : 0)) == -1)
		fatal("listen");
	httpd_config_defaults(&cfg);
	cfg.max_body = 256u << 20;
	cfg.max_buffered = 1024u << 20;
	if ((loop = ev_new()) == NULL ||
	    (file != NULL &&
	    (s.sync = syncer_start(loop, file, inline_sync, &s.c)) == NULL) ||
	    (h = httpd_new(loop, fd, &cfg, &handlers, &s)) == NULL ||
	    ev_add_tick(loop, 100, on_tick, NULL) == -1)
		fatalx("out of memory");
	ev_run(loop);
	fprintf(stderr, "nullsrv: %llu events in %llu requests\n", s.c.events,
	    s.c.requests);
	if (s.sync != NULL)
		syncer_stop(s.sync);
	httpd_free(h);
	ev_free(loop);
	return 0;
}
