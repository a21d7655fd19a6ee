/*
 * aggd.h - what the daemon's parts share: its configuration and the
 * state main owns for the life of the process.
 */
#ifndef AGGD_H
#define AGGD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "httpd.h"
#include "ingest.h"
#include "store.h"

#define AGGD_QUEUE_DEFAULT	65536	/* events */
#define AGGD_PAGE_DEFAULT	1000
#define AGGD_PAGE_MAX		10000
#define AGGD_WAIT_MAX		60	/* seconds of long polling */
#define AGGD_PAGE_BYTES		(4 << 20)	/* a page ends past this */
#define AGGD_BODY_KEEP		(1 << 20)	/* larger reply buffers are freed */
#define AGGD_GRACE_MS		8000	/* SIGTERM: time to finish requests */

struct aggd_config {
	const char	*listen;
	const char	*db_path;
	const char	*token;		/* NULL: no auth */
	const char	*backup, *restore;	/* a copy to make, then exit */
	int		 relaxed;
	int		 exit_on_eof;
	size_t		 queue;
	struct httpd_config http;
};

struct waiter;
struct feed;

struct aggd {
	const struct aggd_config *cfg;
	struct ev_loop	*loop;
	struct httpd	*httpd;
	struct ingest	*ingest;
	struct store	*store;		/* for store_candidates only */
	struct store_reader *reader;
	struct feed	*feed;
	struct waiter	*waiters;	/* parked GET /events?wait= */
	size_t		 nwaiters;
	uint64_t	 started;	/* ev_now at start */
	uint64_t	 stop_deadline;	/* 0 while running */
	int		 exit_code;
	uint64_t	 seen_seq;	/* readable when waiters last looked */
	struct buf	 body;		/* reply scratch */
};

/* api.c */
int	api_head_check(const struct http_request *, struct httpd_refusal *,
	    void *aggd);
void	api_handle(struct httpd_req *, void *aggd);
void	api_job_done(struct ingest_job *, void *aggd);
void	api_tick(struct ev_loop *, void *aggd);
void	api_before_wait(struct ev_loop *, void *aggd);
void	api_shutdown(struct aggd *);

/* feed.c: NDJSON on standard input */
struct feed *feed_start(struct aggd *);
void	feed_stop(struct feed *);

/* main.c */
void	aggd_begin_stop(struct aggd *, const char *why);

#endif
