/* reader.c - NDJSON input: lines validated like aggd does, bad ones skipped. */
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

/* Opens the next input: 0, 1 when none is left, -1 (reported) on error. */
static int
reader_open(struct reader *r)
{
	const char *path;

	if (r->next >= r->nfiles)
		return 1;
	path = r->files[r->next++];
	r->line = 0;
	r->in.len = 0;
	r->name = strcmp(path, "-") == 0 ? "stdin" : path;
	r->fd = strcmp(path, "-") == 0 ? STDIN_FILENO :
	    open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd == -1) {
		warn("%s", path);
		r->bad++;
		return -1;
	}
	return 0;
}

void
reader_close(struct reader *r)
{
	if (r->fd > STDIN_FILENO)	/* stdin stays open for another "-" */
		close(r->fd);
	r->fd = -1;
}

/* One line: parsed into pend, or reported and skipped.  -1: no memory. */
static int
reader_line(struct reader *r, const char *s, size_t len)
{
	size_t n0 = r->pend.n;
	int rc;

	r->line++;
	if ((rc = event_parse_line(&r->pend, s, len)) == -1)
		return -1;
	if (rc != EVENT_OK) {
		warnx("%s:%ld: %s", r->name, r->line, r->pend.syntax);
		r->bad++;
	} else if (n0 == 0 && r->pend.n == 1)
		r->first_ms = ev_clock_ms();
	return 0;
}

/* Takes complete lines until pend holds max events. */
static int
reader_take(struct reader *r, size_t max)
{
	size_t off = 0;
	char *nl;

	while (r->pend.n < max && off < r->in.len &&
	    (nl = memchr(r->in.data + off, '\n', r->in.len - off)) != NULL) {
		if (reader_line(r, r->in.data + off,
		    (size_t)(nl - r->in.data) - off) == -1)
			return -1;
		off = (size_t)(nl + 1 - r->in.data);
	}
	buf_consume(&r->in, off);
	if (r->pend.n < max && r->in.len > LINE_MAX_BYTES) {
		warnx("%s:%ld: line longer than %d bytes; skipping the rest "
		    "of the file", r->name, r->line + 1, LINE_MAX_BYTES);
		r->bad++;
		r->in.len = 0;
		reader_close(r);
	}
	return 0;
}

/* 1 read something, 0 nothing ready, 2 this input ended, -1 no memory. */
static int
reader_read(struct reader *r)
{
	struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
	ssize_t n;

	if (poll(&pfd, 1, 0) == 0)
		return 0;
	if (buf_reserve(&r->in, READ_CHUNK) == -1)
		return -1;
	if ((n = read(r->fd, r->in.data + r->in.len, READ_CHUNK)) > 0) {
		r->in.len += (size_t)n;
		return 1;
	}
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == -1) {
		warn("%s", r->name);
		r->bad++;
	} else if (r->in.len > 0 &&
	    reader_line(r, r->in.data, r->in.len) == -1)
		return -1;		/* the last line had no newline */
	r->in.len = 0;
	reader_close(r);
	return 2;
}

/* Hands out pend as NDJSON. */
static int
reader_emit(struct reader *r, struct buf *body, uint64_t *nev)
{
	struct event_fields f;
	size_t i;

	body->len = 0;
	for (i = 0; i < r->pend.n; i++) {
		event_fields(&r->pend, i, &f);
		if (event_write_json(body, &f, NULL) == -1 ||
		    buf_putc(body, '\n') == -1)
			return NEXT_ERR;
	}
	*nev = r->pend.n;
	event_batch_reset(&r->pend);
	return NEXT_BATCH;
}

int
reader_next(struct reader *r, size_t max, struct buf *body, uint64_t *nev,
    int *wfd, int *wms)
{
	uint64_t age;
	int rc;

	for (;;) {
		if (reader_take(r, max) == -1)
			return NEXT_ERR;
		if (r->pend.n >= max)
			return reader_emit(r, body, nev);
		if (r->fd < 0 && (rc = reader_open(r)) != 0) {
			if (rc == -1)
				continue;
			return r->pend.n ? reader_emit(r, body, nev) : NEXT_EOF;
		}
		if ((rc = reader_read(r)) == -1)
			return NEXT_ERR;
		if (rc != 0)
			continue;
		*wfd = r->fd;
		if (r->pend.n == 0)
			return NEXT_WAIT;
		if ((age = ev_clock_ms() - r->first_ms) >= FLUSH_MS)
			return reader_emit(r, body, nev);
		*wms = (int)(FLUSH_MS - age);
		return NEXT_WAIT;
	}
}

