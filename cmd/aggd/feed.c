/*
 * feed.c - NDJSON on standard input, when it is a pipe or a file.
 *
 * A thread reads lines, validates each with the same rules as POST
 * /publish, reports a bad line with its number and skips it, and submits
 * the good ones through the service (service_publish_wait), waiting for
 * room rather than refusing (a pipe can wait; a network client is told
 * 503).  One batch is in flight at a time, so input order is seq order.
 * A line is held whole, so it is capped as a body is (--max-body): a
 * longer one is reported by its number and skipped to its newline, and
 * memory stays within the cap plus one read.
 * A batch whose commit fails is retried: every good line goes in.  At the
 * end the thread tells the loop through an eventfd, and the loop tells
 * whoever started the feed.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "aggd.h"
#include "log.h"

#define FEED_READ	(1024 * 1024)
#define FEED_BATCH	10000		/* events per commit at most */

struct feed {
	struct ev_loop	*loop;
	struct service	*svc;
	void		(*finished)(void *, int);
	void		*arg;
	pthread_t	 thread;
	int		 stop_fd;	/* main -> thread */
	int		 done_fd;	/* thread -> loop */
	struct ingest_job job;
	size_t		 max_line;
	long		 line;
	int		 skipping;	/* the rest of an over-long line */
	uint64_t	 bad;
	struct store_counts total;
	int		 failed;	/* read error */
};

/* Waits for input or for stop; 1: input (or EOF) is there, 0: stop. */
static int
feed_poll(struct feed *f)
{
	struct pollfd p[2] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = f->stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		return p[1].revents ? 0 : 1;
	}
}

/* Commits the batch, retrying every second; 0 when stored, -1 on stop. */
static int
feed_commit(struct feed *f)
{
	struct ingest_job *j = &f->job;
	struct pollfd p = { .fd = f->stop_fd, .events = POLLIN };

	while (j->batch.n > 0) {
		if (service_publish_wait(f->svc, j) == -1)
			return -1;
		if (j->status == 0) {
			f->total.received += j->counts.received;
			f->total.unique += j->counts.unique;
			f->total.duplicates += j->counts.duplicates;
			event_batch_reset(&j->batch);
			return 0;
		}
		if (j->status == STORE_TOPICS) {	/* no retry will do */
			log_warnx("stdin: %zu events before line %ld: %s",
			    j->batch.n, f->line + 1, j->err);
			f->bad += j->batch.n;
			event_batch_reset(&j->batch);
			return 0;
		}
		/* an outage of the store is told once, by ingest */
		if (j->status != STORE_UNAVAILABLE)
			log_warnx("stdin: %s; retrying", j->err);
		if (poll(&p, 1, 1000) > 0)
			return -1;
	}
	return 0;
}

static int
too_long(struct feed *f)
{
	log_warnx("stdin:%ld: longer than %zu bytes (--max-body): skipped",
	    f->line, f->max_line);
	f->bad++;
	return 0;
}

static int
feed_line(struct feed *f, const char *s, size_t len)
{
	size_t i;
	int rc;

	f->line++;
	if (len > f->max_line)
		return too_long(f);
	for (i = 0; i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'); i++)
		;
	if (i == len)
		return 0;
	rc = event_parse_line(&f->job.batch, s, len);
	if (rc == -1) {
		log_warnx("stdin:%ld: out of memory", f->line);
		return -1;
	}
	if (rc != EVENT_OK) {
		log_warnx("stdin:%ld: %s", f->line, f->job.batch.syntax);
		f->bad++;
	}
	if (f->job.batch.n >= FEED_BATCH)
		return feed_commit(f);
	return 0;
}

/* Feeds the complete lines of b, keeps the partial last one. */
static int
feed_lines(struct feed *f, struct buf *b, int eof)
{
	char *p = b->data, *end = b->data + b->len, *nl;

	if (f->skipping) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			b->len = 0;
			return 0;
		}
		f->skipping = 0;
		p = nl + 1;
	}
	while (p < end && (nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if (feed_line(f, p, (size_t)(nl - p)) == -1)
			return -1;
		p = nl + 1;
	}
	if (eof && p < end) {
		if (feed_line(f, p, (size_t)(end - p)) == -1)
			return -1;
		p = end;
	}
	if ((size_t)(end - p) > f->max_line) {	/* no newline in sight */
		f->line++;
		(void)too_long(f);
		f->skipping = 1;
		p = end;
	}
	buf_consume(b, (size_t)(p - b->data));
	return feed_commit(f);
}

static void *
feed_main(void *arg)
{
	struct feed *f = arg;
	struct buf in;
	ssize_t n = 1;
	uint64_t one = 1;

	buf_init(&in);
	while (n > 0 && feed_poll(f) == 1) {
		if (buf_reserve(&in, FEED_READ) == -1) {
			log_warnx("stdin: out of memory");
			break;
		}
		n = read(STDIN_FILENO, in.data + in.len, FEED_READ);
		if (n == -1 && errno == EINTR) {
			n = 1;
			continue;
		}
		if (n == -1) {
			log_warn("stdin");
			f->failed = 1;
		}
		if (n >= 0)
			in.len += (size_t)n;
		if (feed_lines(f, &in, n == 0) == -1)
			break;
	}
	buf_free(&in);
	(void)!write(f->done_fd, &one, sizeof(one));
	return NULL;
}

/* Loop side: the input is all stored (or the feed stopped). */
static void
feed_finished(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct feed *f = arg;

	(void)events;
	ev_unwatch(loop, fd);
	log_info("stdin: %ld lines, %llu events stored (%llu new, %llu"
	    " duplicates), %llu bad lines skipped", f->line,
	    (unsigned long long)f->total.received,
	    (unsigned long long)f->total.unique,
	    (unsigned long long)f->total.duplicates, (unsigned long long)f->bad);
	f->finished(f->arg, f->failed);
}

struct feed *
feed_start(struct ev_loop *loop, struct service *svc, size_t max_line,
    void (*finished)(void *, int), void *arg)
{
	struct feed *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->loop = loop;
	f->svc = svc;
	f->max_line = max_line;
	f->finished = finished;
	f->arg = arg;
	f->stop_fd = eventfd(0, EFD_CLOEXEC);
	f->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	event_batch_init(&f->job.batch);
	if (f->stop_fd == -1 || f->done_fd == -1 ||
	    ev_watch(loop, f->done_fd, EV_READ, feed_finished, f) == -1 ||
	    pthread_create(&f->thread, NULL, feed_main, f) != 0) {
		ev_unwatch(loop, f->done_fd);
		if (f->stop_fd != -1)
			close(f->stop_fd);
		if (f->done_fd != -1)
			close(f->done_fd);
		free(f);
		return NULL;
	}
	(void)pthread_setname_np(f->thread, "aggd-stdin");
	return f;
}

/* Stops reading; what was read and validated is committed first. */
void
feed_stop(struct feed *f)
{
	uint64_t one = 1;

	if (f == NULL)
		return;
	(void)!write(f->stop_fd, &one, sizeof(one));
	pthread_join(f->thread, NULL);
	ev_unwatch(f->loop, f->done_fd);
	close(f->stop_fd);
	close(f->done_fd);
	event_batch_free(&f->job.batch);
	free(f);
}
