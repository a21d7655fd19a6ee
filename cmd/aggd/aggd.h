/*
 * aggd.h - what the daemon's parts share: its configuration and the
 * narrow handles main gives each of them.
 */
#ifndef AGGD_H
#define AGGD_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cli.h"
#include "ev.h"
#include "httpd.h"
#include "service.h"

#define AGGD_QUEUE_DEFAULT	65536	/* events */
#define AGGD_TOPICS_DEFAULT	100000	/* --max-topics */
#define AGGD_GRACE_MS		8000	/* SIGTERM: time to finish requests */

struct aggd_config {
	const char	*listen;
	const char	*db_path;
	const char	*token;		/* NULL: no auth */
	char		 token_buf[CLI_TOKEN_MAX + 1];	/* --token-file */
	const char	*backup, *restore;	/* a copy to make, then exit */
	int		 check;		/* --check: verify the store, exit */
	const char	*salvage;	/* --salvage: its sound rows to this */
	int		 relaxed;
	int		 exit_on_eof;
	size_t		 queue;
	size_t		 max_topics;
	struct store_retention retain;	/* --retain, --max-store */
	struct httpd_config http;
};

/* The HTTP API's view (api.c): the token and where requests go. */
struct api {
	const char	*token;
	struct service	*svc;
	struct httpd	*httpd;
};

/* api.c */
extern const struct httpd_handlers api_http_handlers;

/* metrics.c: the /metrics text into b; 0 or -1. */
int	metrics_text(struct buf *b, const struct service_health *,
	    size_t conns, size_t buffered);

/* feed.c: NDJSON on standard input, lines of max_line bytes at most;
   finished is called on the loop's thread once it is all stored (failed:
   a read error). */
struct feed;
struct feed *feed_start(struct ev_loop *, struct service *, size_t max_line,
	    void (*finished)(void *arg, int failed), void *arg);
void	feed_stop(struct feed *);

#endif
