/*
 * service.c - aggd's domain; see service.h.
 *
 * A page request is read on the reader thread; when it finds nothing and
 * may wait, it parks on the list of its topic (all topics have a list of
 * their own, topics the store does not have yet another).  Before the loop
 * sleeps, the topics that commits changed since the last look are taken
 * from ingest, and only the pages parked on them (and on all topics) are
 * read again: what a commit costs does not grow with the pages parked on
 * other topics.  A parked page that times out is answered with the empty
 * page it read last.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "log.h"
#include "pages.h"
#include "worker.h"
#include "service.h"

struct page_list {
	struct page_request *head;
};

struct page_request {
	struct work	 job;		/* first: the job is the request */
	struct service	*svc;
	struct page_query q;
	service_done_fn	*done;
	void		*arg;
	struct buf	 body;
	int		 count;		/* of the last read; -1 failed */
	int		 status;	/* when it failed: 500 or 503 */
	int64_t		 topic_id;	/* 0 all, -1 not in the store yet */
	int		 parked, now;
	uint64_t	 deadline;	/* of the wait, set once */
	struct page_request *prev, *next;	/* on a page_list */
};

struct stats_request {
	struct work	 job;
	struct service	*svc;
	service_done_fn	*done;
	void		*arg;
	uint64_t	 uptime_s;
	int		 topics_limit;	/* /topics; 0: /stats */
	char		 name[EVENT_FIELD_MAX + 1];	/* /topics: after it; /stats: it alone */
	struct buf	 body;
	int		 rc;
	int		 status;	/* when rc is -1: 500 or 503 */
};

struct service {
	struct ev_loop	*loop;
	struct ingest	*ingest;
	struct worker	*reads;		/* on the store_reader */
	struct store_reader *reader;
	struct worker	*parser;	/* large bodies */
	struct reading	 rd;
	int		 stopping;
	uint64_t	 started;
	struct page_list all, unknown;	/* parked on all topics, on new ones */
	struct page_list *by_topic;	/* parked, by topic id */
	size_t		 by_topic_cap;
	size_t		 parked;
	struct topic_ids changed;
};

static void	page_read(struct service *, struct page_request *);

static void
list_add(struct page_list *l, struct page_request *p)
{
	p->prev = NULL;
	p->next = l->head;
	if (l->head)
		l->head->prev = p;
	l->head = p;
}

static struct page_list *
list_of(struct service *s, int64_t topic_id)
{
	if (topic_id == 0)
		return &s->all;
	if (topic_id < 0)
		return &s->unknown;
	return &s->by_topic[topic_id];
}

static void
unpark(struct service *s, struct page_request *p)
{
	struct page_list *l = list_of(s, p->topic_id);

	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->parked = 0;
	s->parked--;
}

/*
 * On the reader thread, a read that failed: body gets the one line its
 * asker sees, the reader's word when a row failed its checksum (then it
 * is logged too: a damaged store needs its operator) or the database
 * could not be reached (503: a retry later may do).  Returns the status.
 */
static int
read_failed(struct buf *body, void *reader)
{
	const struct store_reader *r = reader;

	body->len = 0;
	if (*r->unavailable) {
		(void)buf_printf(body, "the store is unavailable (%s), retry"
		    " later", r->unavailable);
		return 503;
	}
	if (*r->damage) {
		log_warnx("store damaged: %s; see aggd --check", r->damage);
		(void)buf_printf(body, "store damaged: %s (aggd --check tells"
		    " more)", r->damage);
	} else
		(void)buf_puts(body, "cannot read the store");
	return 500;
}

static void
deliver(struct page_request *p)
{
	if (p->count < 0) {
		p->done(p->arg, p->status ? p->status : 500, &p->body);
	} else
		p->done(p->arg, 200, &p->body);
	buf_free(&p->body);
	free(p);
}

/* -1 when memory for the topic's list runs out. */
static int
park(struct service *s, struct page_request *p)
{
	if (p->topic_id > 0 && array_grow(&s->by_topic, &s->by_topic_cap,
	    (size_t)p->topic_id + 1, sizeof(*s->by_topic), 64) == -1)
		return -1;
	list_add(list_of(s, p->topic_id), p);
	p->parked = 1;
	s->parked++;
	return 0;
}

static void
page_run(struct work *j, void *reader)
{
	struct page_request *p = (struct page_request *)j;
	struct reading rd = p->svc->rd;

	rd.reader = reader;
	if ((p->count = page_build(&rd, &p->q, &p->body, &p->topic_id)) < 0)
		p->status = read_failed(&p->body, reader);
}

/* Back on the loop: the page goes to its asker, or waits for events. */
static void
page_done(struct work *j)
{
	struct page_request *p = (struct page_request *)j;
	struct service *s = p->svc;
	uint64_t t = ev_now(s->loop);

	if (j->skipped) {
		p->count = -1;
		p->body.len = 0;
		(void)buf_puts(&p->body, "aggd is stopping");
		deliver(p);
		return;
	}
	if (p->deadline == 0)
		p->deadline = t + (uint64_t)p->q.wait_ms;
	if (p->count != 0 || p->q.wait_ms == 0 || s->stopping || p->now ||
	    t >= p->deadline || park(s, p) == -1)
		deliver(p);
}

static void
page_read(struct service *s, struct page_request *p)
{
	p->job.run = page_run;
	p->job.done = page_done;
	worker_submit(s->reads, &p->job);
}

struct page_request *
service_page(struct service *s, const struct page_query *q,
    service_done_fn *done, void *arg)
{
	struct page_request *p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->svc = s;
	p->q = *q;
	p->done = done;
	p->arg = arg;
	buf_init(&p->body);
	page_read(s, p);
	return p;
}

void
service_page_now(struct page_request *p)
{
	if (p->parked) {
		unpark(p->svc, p);
		deliver(p);
	} else
		p->now = 1;	/* answered when its read comes back */
}

/* Every page parked on list l is read again. */
static void
wake(struct service *s, struct page_list *l)
{
	struct page_request *p;

	while ((p = l->head) != NULL) {
		unpark(s, p);
		page_read(s, p);
	}
}

/* Before the loop sleeps: the pages of the topics commits changed. */
static void
wake_changed(struct ev_loop *loop, void *arg)
{
	struct service *s = arg;
	size_t i;
	int64_t id;
	int grew;

	(void)loop;
	ingest_kick(s->ingest);
	if (s->parked == 0)
		return;
	(void)ingest_take_changes(s->ingest, &s->changed, &grew);
	if (s->changed.n == 0)
		return;
	for (i = 0; i < s->changed.n; i++)
		if ((id = s->changed.v[i]) > 0 && (size_t)id < s->by_topic_cap)
			wake(s, &s->by_topic[id]);
	wake(s, &s->all);
	if (grew)
		wake(s, &s->unknown);
}

static void
expire_list(struct service *s, struct page_list *l, uint64_t t, int all)
{
	struct page_request *p, *next;

	for (p = l->head; p; p = next) {
		next = p->next;
		if (all || t >= p->deadline) {
			unpark(s, p);
			deliver(p);
		}
	}
}

/* Parked pages past their wait (all of them: at shutdown). */
static void
expire(struct service *s, int all)
{
	uint64_t t = ev_now(s->loop);
	size_t i;

	if (s->parked == 0)
		return;
	expire_list(s, &s->all, t, all);
	expire_list(s, &s->unknown, t, all);
	for (i = 0; i < s->by_topic_cap && s->parked > 0; i++)
		expire_list(s, &s->by_topic[i], t, all);
}

static void
on_tick(struct ev_loop *loop, void *arg)
{
	(void)loop;
	expire(arg, 0);
}

static void
stats_run(struct work *j, void *reader)
{
	struct stats_request *r = (struct stats_request *)j;
	struct reading rd = r->svc->rd;

	rd.reader = reader;
	r->rc = r->topics_limit ? topics_build(&rd, r->name, r->topics_limit,
	    &r->body) : stats_build(&rd, ev_clock_ms(), r->uptime_s,
	    *r->name ? r->name : NULL, &r->body);
	if (r->rc == -1)
		r->status = read_failed(&r->body, reader);
}

static void
stats_done(struct work *j)
{
	struct stats_request *r = (struct stats_request *)j;

	if (j->skipped) {
		r->rc = -1;
		r->body.len = 0;
		(void)buf_puts(&r->body, "aggd is stopping");
	}
	r->done(r->arg, r->rc == -1 ? (r->status ? r->status : 500) : 200,
	    &r->body);
	buf_free(&r->body);
	free(r);
}

static struct stats_request *
figures_request(struct service *s, service_done_fn *done, void *arg)
{
	struct stats_request *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->svc = s;
	r->done = done;
	r->arg = arg;
	buf_init(&r->body);
	r->job.run = stats_run;
	r->job.done = stats_done;
	return r;
}

int
service_topics(struct service *s, const char *after, int limit,
    service_done_fn *done, void *arg)
{
	struct stats_request *r;

	if ((r = figures_request(s, done, arg)) == NULL)
		return -1;
	snprintf(r->name, sizeof(r->name), "%s", after);
	r->topics_limit = limit;
	worker_submit(s->reads, &r->job);
	return 0;
}

int
service_stats(struct service *s, const char *topic, service_done_fn *done,
    void *arg)
{
	struct stats_request *r;

	if ((r = figures_request(s, done, arg)) == NULL)
		return -1;
	if (topic)
		snprintf(r->name, sizeof(r->name), "%s", topic);
	r->uptime_s = (ev_now(s->loop) - s->started) / 1000;
	worker_submit(s->reads, &r->job);
	return 0;
}

int
service_publish(struct service *s, struct ingest_job *j)
{
	return ingest_queue(s->ingest, j);
}

/* Bodies up to this are parsed on the loop: at ~690 MB/s under 1.5 ms,
   while the hand-off to the parser thread and back cost 1000-event
   batches (215 KB) 15% of their rate (measured, 2-core VM, 2026-12-07);
   larger ones, up to 25 ms to 1 s each, go to the parser. */
#define PARSE_INLINE_MAX	(1024 * 1024)

static void
parse_run(struct work *w, void *ctx)
{
	struct parse_job *p = (struct parse_job *)w;

	(void)ctx;
	p->rc = p->parse(&p->job.batch, p->body, p->len);
}

static void
parse_done(struct work *w)
{
	struct parse_job *p = (struct parse_job *)w;

	if (w->skipped)
		p->rc = PARSE_SKIPPED;
	p->parsed(p);
}

void
service_parse(struct service *s, struct parse_job *p)
{
	if (p->len <= PARSE_INLINE_MAX) {
		parse_run(&p->work, NULL);
		parse_done(&p->work);
		return;
	}
	p->work.run = parse_run;
	p->work.done = parse_done;
	worker_submit(s->parser, &p->work);
}

int
service_publish_wait(struct service *s, struct ingest_job *j)
{
	j->waited = 1;
	if (ingest_submit(s->ingest, j) == -1)
		return -1;
	ingest_wait(s->ingest, j);
	return 0;
}

void
service_health(struct service *s, struct service_health *h)
{
	ingest_get_stats(s->ingest, &h->ingest);
	(void)ingest_readable(s->ingest, 0, &h->counts);
	h->parked = s->parked;
	h->uptime_s = (ev_now(s->loop) - s->started) / 1000;
}

struct service *
service_start(struct ev_loop *loop, struct store *store,
    struct store_reader *reader, const struct service_config *cfg)
{
	struct service *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = loop;
	s->started = ev_now(loop);
	if ((s->ingest = ingest_start(store, loop, cfg->queue,
	    cfg->durable)) == NULL ||
	    (s->reads = worker_start(loop, "aggd-reader", reader)) == NULL ||
	    (s->parser = worker_start(loop, "aggd-parse", NULL)) == NULL ||
	    ev_add_before_wait(loop, wake_changed, s) == -1 ||
	    ev_add_tick(loop, 250, on_tick, s) == -1) {
		ingest_stop(s->ingest);
		free(s);
		return NULL;
	}
	s->rd.ingest = s->ingest;
	s->reader = reader;
	return s;
}

void
service_shutdown(struct service *s)
{
	s->stopping = 1;
	expire(s, 1);
}

void
service_stop(struct service *s)
{
	if (s == NULL)
		return;
	service_shutdown(s);
	worker_stop(s->parser);	/* what it parsed goes to ingest */
	worker_stop(s->reads);	/* answers what it read */
	store_reader_close(s->reader);
	expire(s, 1);
	ingest_stop(s->ingest);	/* commits and answers what is queued */
	free(s->by_topic);
	free(s->changed.v);
	free(s);
}
