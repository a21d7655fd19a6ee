/*
 * service.h - aggd's domain: what it does with events, whoever asks.
 *
 * Three verbs, for every front door (the HTTP API, standard input, and
 * the bulk endpoint to come): publish a validated batch, read a page of
 * events, read the figures.  The rule that readers see only durable
 * events and the counters of the same commits lives here and nowhere
 * else: every read is bounded by the last durable seq, which it passes to
 * the store as the upper end of the range it reads.  Reads run on a
 * thread of their own (worker.h) and answer on the loop's thread; a page
 * that finds nothing may wait for events (a long poll), and is woken only
 * by commits to its topic.  The answers are JSON bodies: the domain is
 * what knows JSON; the caller decides how they travel.
 */
#ifndef AGGD_SERVICE_H
#define AGGD_SERVICE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"
#include "event.h"
#include "ingest.h"
#include "proto.h"
#include "store.h"
#include "worker.h"

struct service;

struct service_config {
	size_t		 queue;		/* events the ingest queue takes */
	int		 durable;	/* answer only after an fsync */
};

struct service	*service_start(struct ev_loop *, struct store *,
		    struct store_reader *, const struct service_config *);
/* The end: parked pages answered, reads and commits finished, joined. */
void		 service_stop(struct service *);
/* SIGTERM came: parked pages are answered now, none parks from now on. */
void		 service_shutdown(struct service *);

/*
 * publish: queues job (its batch validated, its done set) for the next
 * group commit; done is called on the loop's thread once the commit is
 * durable (or failed: job->status).  -1 at once when the queue is full.
 * service_publish_wait: the same from a thread of its own, waiting for
 * room and for the commit (the stdin feed).
 */
int		 service_publish(struct service *, struct ingest_job *);
int		 service_publish_wait(struct service *, struct ingest_job *);

/*
 * A body to parse into a batch before it is published: a front door's
 * parse (event_parse_json, event_parse_ndjson, or its own) fills
 * job.batch from body[0..len) and returns an EVENT_ status into rc.
 */
struct parse_job;
typedef int	parse_fn(struct event_batch *, const char *body, size_t len);
typedef void	parsed_fn(struct parse_job *);

struct parse_job {
	struct work	 work;		/* the parser thread's */
	struct ingest_job job;		/* the batch, then its commit */
	parse_fn	*parse;
	const char	*body;		/* the caller's, until parsed */
	size_t		 len;
	int		 rc;
	parsed_fn	*parsed;	/* on the loop's thread */
};

/*
 * Parses p->body: at once up to 1 MiB, else on the parser thread, so that
 * a large body (16 MiB takes 25 ms to 1 s) delays no other client;
 * p->parsed follows on the loop's thread either way, maybe before this
 * returns.
 */
void		 service_parse(struct service *, struct parse_job *);
/* rc of a parse that aggd stopped before it ran: answer 503. */
#define PARSE_SKIPPED	(-100)

/* What a page asks for (GET /events). */
struct page_query {
	char		 topic[EVENT_FIELD_MAX + 1];
	char		 event_id[EVENT_FIELD_MAX + 1];
	size_t		 event_id_len;
	int		 has_topic, has_event_id;
	int64_t		 after;		/* seqs above */
	int64_t		 before;	/* seqs below; INT64_MAX: none */
	int		 newest;	/* the newest limit below before */
	int64_t		 since_ms;	/* arrived at or after; -1: none */
	int64_t		 until_ms;	/* arrived before; -1: none */
	int		 limit;
	int		 wait_ms;	/* when nothing is found: hold it */
};

/*
 * The answer: status 200 with the page in body, or 500 with a one-line
 * message in body; body is the callee's to take (it is freed after).
 */
typedef void	service_done_fn(void *arg, int status, struct buf *body);

struct page_request;

/* Reads (and maybe waits for) a page; done is called once, on the loop. */
struct page_request *service_page(struct service *, const struct page_query *,
		    service_done_fn *, void *arg);
/* The asker went, or needs no more waiting: a parked page is answered now. */
void		 service_page_now(struct page_request *);

/* /stats: the counters, rates and the first topics (PROTO_STATS_TOPICS),
   or topic's alone (not NULL), as of the last durable commit. */
int		 service_stats(struct service *, const char *topic,
		    service_done_fn *, void *arg);
/* /topics: at most limit topic names after after ("": from the first). */
int		 service_topics(struct service *, const char *after, int limit,
		    service_done_fn *, void *arg);

/* What /metrics shows of the service. */
struct service_health {
	struct ingest_stats ingest;
	struct store_counts counts;	/* as readers see them */
	size_t		 parked;	/* pages waiting for events */
	uint64_t	 uptime_s;
};
void		 service_health(struct service *, struct service_health *);

#endif
