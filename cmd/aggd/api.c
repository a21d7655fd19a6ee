/*
 * api.c - aggd's HTTP API: routes, the token, what a request's head and
 * query mean, and the answers, mapped onto the service's verbs
 * (service.h).  It reads no socket (httpd does) and no store (the
 * service does).  A publish is answered when its commit is durable, a
 * read when the reader thread has built its page.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aggd.h"
#include "json.h"
#include "log.h"
#include "rfc3339.h"

#define RETRY	"Retry-After: 1\r\n"

struct route {
	const char	*path;
	const char	*method;
	const char	*allow;		/* a 405's header */
	void		(*fn)(struct api *, struct httpd_req *);
};

/* {"error": msg}, the API's words for any failure. */
static const char *
error_body(struct buf *b, int status, const char *msg, void *arg)
{
	(void)status;
	(void)arg;
	return buf_puts(b, "{\"error\":") == 0 &&
	    json_write_string(b, msg, strlen(msg)) == 0 &&
	    buf_puts(b, "}\n") == 0 ? "application/json" : NULL;
}

static void
reply_error(struct httpd_req *r, int status, const char *msg,
    const char *hdrs)
{
	httpd_reply_error(r, status, msg, hdrs);
}

static int
streq_len(const char *a, size_t alen, const char *b)
{
	return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

/* Constant time, so the token cannot be found a byte at a time. */
static int
token_ok(const struct api *a, const struct http_request *hr)
{
	const struct http_header *h = http_header_find(hr, "Authorization");
	const char *tok = a->token;
	size_t tlen = strlen(tok), i;
	unsigned char diff = 0;

	if (h == NULL || h->value_len != 7 + tlen ||
	    strncasecmp(h->value, "Bearer ", 7) != 0)
		return 0;
	for (i = 0; i < tlen; i++)
		diff |= (unsigned char)(h->value[7 + i] ^ tok[i]);
	return diff == 0;
}

static int
is_ndjson(const struct http_request *hr)
{
	const struct http_header *h = http_header_find(hr, "Content-Type");
	static const char nd[] = "application/x-ndjson";

	return h && h->value_len >= sizeof(nd) - 1 &&
	    strncasecmp(h->value, nd, sizeof(nd) - 1) == 0 &&
	    (h->value_len == sizeof(nd) - 1 || h->value[sizeof(nd) - 1] == ';' ||
	    h->value[sizeof(nd) - 1] == ' ');
}

static void
reply_counts(struct httpd_req *r, const struct store_counts *c)
{
	struct buf *b = httpd_body_buf(r);

	if (buf_printf(b, "{\"accepted\":%llu,\"unique\":%llu,\"duplicates\":"
	    "%llu}\n", (unsigned long long)c->received,
	    (unsigned long long)c->unique,
	    (unsigned long long)c->duplicates) == -1) {
		reply_error(r, 500, "out of memory", NULL);
		return;
	}
	httpd_reply_buf(r, 200, NULL, NULL);
}

/* 422: every listed violation, and how many there were in all. */
static int
invalid_body(struct buf *b, const struct event_batch *eb)
{
	const struct event_error *e;
	size_t i;

	if (buf_printf(b, "{\"error\":\"%zu violation%s of the event rules;"
	    " nothing was stored\",\"violations\":%zu,\"detail\":[", eb->nbad,
	    eb->nbad == 1 ? "" : "s", eb->nbad) == -1)
		return -1;
	for (i = 0; i < eb->nerr; i++) {
		e = &eb->err[i];
		if (buf_printf(b, "%s{\"index\":%zu,", i ? "," : "",
		    e->index) == -1 || (e->line && buf_printf(b,
		    "\"line\":%ld,", e->line) == -1) ||
		    buf_puts(b, "\"field\":") == -1 ||
		    (e->field ? json_write_string(b, e->field,
		    strlen(e->field)) : buf_puts(b, "null")) == -1 ||
		    buf_puts(b, ",\"msg\":") == -1 ||
		    json_write_string(b, e->msg, strlen(e->msg)) == -1 ||
		    buf_putc(b, '}') == -1)
			return -1;
	}
	return buf_puts(b, "]}\n");
}

/* 400: the syntax problem, and its NDJSON line. */
static int
syntax_body(struct buf *b, const struct event_batch *eb)
{
	return buf_puts(b, "{\"error\":") == -1 ||
	    json_write_string(b, eb->syntax, strlen(eb->syntax)) == -1 ||
	    (eb->syntax_line && buf_printf(b, ",\"line\":%ld",
	    eb->syntax_line) == -1) || buf_puts(b, "}\n") == -1 ? -1 : 0;
}

static void
reply_refused(struct httpd_req *r, int status, const struct event_batch *b)
{
	struct buf *body = httpd_body_buf(r);

	if ((status == 422 ? invalid_body(body, b) : syntax_body(body, b)) ==
	    -1) {
		reply_error(r, 500, "out of memory", NULL);
		return;
	}
	httpd_reply_buf(r, status, NULL, NULL);
}

/* A publish in flight: its parse, then its commit. */
struct publish {
	struct parse_job p;		/* first */
	struct api	*api;
	struct httpd_req *r;
};

static void
publish_free(struct publish *pb)
{
	event_batch_free(&pb->p.job.batch);
	free(pb);
}

/* The commit is durable (or failed): the request is answered. */
static void
publish_done(struct ingest_job *j)
{
	struct publish *pb = j->owner;

	if (j->status == 0)
		reply_counts(pb->r, &j->counts);
	else if (j->status == STORE_TOPICS)
		reply_error(pb->r, 422, j->err, NULL);
	else if (j->status == STORE_FULL)
		reply_error(pb->r, 507, "the store's disk is full; nothing of"
		    " this request was stored", NULL);
	else if (j->status == STORE_UNAVAILABLE) {
		char msg[sizeof(j->err) + 120];

		snprintf(msg, sizeof(msg), "the store is unavailable (%s);"
		    " send the request again later: what was stored of it"
		    " counts as duplicates", j->err);
		reply_error(pb->r, 503, msg, RETRY);
	} else
		reply_error(pb->r, 500, j->err, NULL);
	publish_free(pb);
}

/* The body is parsed: refused, empty, or on to the next group commit. */
static void
publish_parsed(struct parse_job *p)
{
	struct publish *pb = (struct publish *)p;
	struct store_counts none;
	struct httpd_req *r = pb->r;

	memset(&none, 0, sizeof(none));
	if (p->rc == EVENT_SYNTAX || p->rc == EVENT_INVALID)
		reply_refused(r, p->rc == EVENT_INVALID ? 422 : 400,
		    &p->job.batch);
	else if (p->rc == PARSE_SKIPPED)
		reply_error(r, 503, "aggd is stopping, retry later", RETRY);
	else if (p->rc != EVENT_OK)
		reply_error(r, 503, "out of memory, retry later", RETRY);
	else if (p->job.batch.n == 0)
		reply_counts(r, &none);
	else {
		/* Also after SIGTERM: a request that began before it is in
		   flight, and is finished, not refused. */
		p->job.owner = pb;
		p->job.done = publish_done;
		if (service_publish(pb->api->svc, &p->job) == 0)
			return;
		reply_error(r, 503, "ingest queue is full, retry later", RETRY);
	}
	publish_free(pb);
}

static void
api_publish(struct api *a, struct httpd_req *r)
{
	struct publish *pb;
	const char *body;
	size_t len;

	body = httpd_body(r, &len);
	/* The parsed events are a second copy of the body, about its size. */
	if (httpd_charge(r, len) == -1) {
		reply_error(r, 503, "server busy, retry later", RETRY);
		return;
	}
	if ((pb = calloc(1, sizeof(*pb))) == NULL) {
		reply_error(r, 503, "out of memory, retry later", RETRY);
		return;
	}
	event_batch_init(&pb->p.job.batch);
	pb->api = a;
	pb->r = r;
	pb->p.parse = is_ndjson(httpd_request(r)) ? event_parse_ndjson :
	    event_parse_json;
	pb->p.body = body;
	pb->p.len = len;
	pb->p.parsed = publish_parsed;
	service_parse(a->svc, &pb->p);
}

/* A page or the figures are built: the answer. */
static void
read_done(void *arg, int status, struct buf *body)
{
	struct httpd_req *r = arg;

	if (status != 200) {
		reply_error(r, status, body->len && buf_cstr(body) == 0 ?
		    body->data : "failed", status == 503 ? RETRY : NULL);
		return;
	}
	httpd_reply_with(r, 200, NULL, NULL, body);
}

/*
 * A parameter's decoded value into v[0..sz), NUL-terminated: 0 absent, 1
 * set, -1 malformed (a bad escape, too long, or a NUL in it, which would
 * cut the value short for whatever reads it as a string).
 */
static int
query_text(const struct http_request *hr, const char *name, char *v,
    size_t sz, size_t *len)
{
	int rc = http_query_param(hr->query, hr->query_len, name, v, sz, len);

	return rc == 1 && memchr(v, '\0', *len) != NULL ? -1 : rc;
}

/*
 * A whole-number parameter: 0 absent, 1 set, -1 malformed or < min.  All
 * digits and above max (however many) counts as max.
 */
static int
query_number(const struct http_request *hr, const char *name, long long min,
    long long max, long long *out)
{
	char v[256];
	size_t len, i;
	int rc;

	if ((rc = query_text(hr, name, v, sizeof(v), &len)) != 1)
		return rc;
	if (len == 0)
		return -1;
	for (*out = 0, i = 0; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (*out <= max)
			*out = *out > (LLONG_MAX - (v[i] - '0')) / 10 ? max :
			    *out * 10 + (v[i] - '0');
	}
	if (*out > max)
		*out = max;
	return *out < min ? -1 : 1;
}

/* A time parameter in ms since 1970: 0 absent, 1 set, -1 malformed. */
static int
query_time(const struct http_request *hr, const char *name, int64_t *ms)
{
	char v[64];
	size_t len;
	int rc;

	if ((rc = query_text(hr, name, v, sizeof(v), &len)) != 1)
		return rc;
	return rfc3339_parse(v, len, ms) == 0 ? 1 : -1;
}

/* topic= and event_id=: NULL, or why not. */
static const char *
query_identity(const struct http_request *hr, struct page_query *q)
{
	size_t len;
	int rc;

	rc = query_text(hr, "topic", q->topic, sizeof(q->topic), &len);
	if (rc == -1 || (rc == 1 && event_text_problem(q->topic, len)))
		return "topic must be 1 to 255 bytes of UTF-8 without control"
		    " characters";
	q->has_topic = rc == 1;
	rc = query_text(hr, "event_id", q->event_id, sizeof(q->event_id),
	    &q->event_id_len);
	if (rc == -1 || (rc == 1 && event_text_problem(q->event_id,
	    q->event_id_len)))
		return "event_id must be 1 to 255 bytes of UTF-8 without"
		    " control characters";
	q->has_event_id = rc == 1;
	return q->has_event_id && !q->has_topic ? "event_id needs a topic" :
	    NULL;
}

/* The query of GET /events; NULL, or why it is a 400. */
static const char *
events_query(const struct http_request *hr, struct page_query *q)
{
	long long after = 0, before = LLONG_MAX, limit = PROTO_PAGE_DEFAULT;
	long long secs = 0;
	const char *bad;

	memset(q, 0, sizeof(*q));
	q->since_ms = q->until_ms = -1;
	if ((bad = query_identity(hr, q)) != NULL)
		return bad;
	if (query_number(hr, "after", 0, LLONG_MAX, &after) == -1)
		return "after must be a whole number from 0";
	if ((q->newest = query_number(hr, "before", 1, LLONG_MAX,
	    &before)) == -1)
		return "before must be a whole number from 1";
	if (query_number(hr, "limit", 1, PROTO_PAGE_MAX, &limit) == -1)
		return "limit must be a whole number from 1";
	if (query_number(hr, "wait", 0, PROTO_WAIT_MAX, &secs) == -1)
		return "wait must be a whole number of seconds from 0";
	if (query_time(hr, "since", &q->since_ms) == -1)
		return "since must be an RFC 3339 date-time";
	if (query_time(hr, "until", &q->until_ms) == -1)
		return "until must be an RFC 3339 date-time";
	q->after = after;
	q->before = before;
	q->limit = (int)limit;
	q->wait_ms = (int)secs * 1000;
	return NULL;
}

static void
api_events(struct api *a, struct httpd_req *r)
{
	struct page_request *p;
	struct page_query q;
	const char *bad;

	if ((bad = events_query(httpd_request(r), &q)) != NULL) {
		reply_error(r, 400, bad, NULL);
		return;
	}
	if ((p = service_page(a->svc, &q, read_done, r)) == NULL) {
		reply_error(r, 503, "out of memory, retry later", RETRY);
		return;
	}
	httpd_set_data(r, p);	/* for its client's hangup */
}

/* The client of a long poll went: the page it waits for, empty, now. */
static void
api_hangup(struct httpd_req *r, void *arg)
{
	struct page_request *p = httpd_data(r);

	(void)arg;
	if (p != NULL) {
		httpd_set_data(r, NULL);
		service_page_now(p);
	}
}

static void
api_stats(struct api *a, struct httpd_req *r)
{
	struct page_query q;

	memset(&q, 0, sizeof(q));
	if (query_identity(httpd_request(r), &q) != NULL) {
		reply_error(r, 400, "topic must be 1 to 255 bytes of UTF-8"
		    " without control characters", NULL);
		return;
	}
	if (service_stats(a->svc, q.has_topic ? q.topic : NULL, read_done,
	    r) == -1)
		reply_error(r, 503, "out of memory, retry later", RETRY);
}

/* GET /topics?after=NAME&limit=N: the names in name order, paged. */
static void
api_topics(struct api *a, struct httpd_req *r)
{
	const struct http_request *hr = httpd_request(r);
	char after[EVENT_FIELD_MAX + 1] = "";
	long long limit = PROTO_TOPICS_DEFAULT;
	size_t len;

	if (query_text(hr, "after", after, sizeof(after), &len) == -1) {
		reply_error(r, 400, "after must be a topic name", NULL);
		return;
	}
	if (query_number(hr, "limit", 1, PROTO_TOPICS_MAX, &limit) == -1) {
		reply_error(r, 400, "limit must be a whole number from 1", NULL);
		return;
	}
	if (service_topics(a->svc, after, (int)limit, read_done, r) == -1)
		reply_error(r, 503, "out of memory, retry later", RETRY);
}

static void
api_healthz(struct api *a, struct httpd_req *r)
{
	struct service_health h;

	service_health(a->svc, &h);
	if (h.ingest.unavailable)
		httpd_reply(r, 503, NULL, RETRY,
		    "{\"status\":\"unavailable\"}\n", 25);
	else
		httpd_reply(r, 200, NULL, NULL, "{\"status\":\"ok\"}\n", 16);
}

static void
api_metrics(struct api *a, struct httpd_req *r)
{
	struct service_health h;
	struct buf *b = httpd_body_buf(r);

	service_health(a->svc, &h);
	if (metrics_text(b, &h, httpd_conns(a->httpd),
	    httpd_buffered(a->httpd)) == -1) {
		reply_error(r, 500, "out of memory", NULL);
		return;
	}
	httpd_reply_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    NULL);
}

/* What a person who opens aggd's address in a browser or curl sees. */
static void
api_root(struct api *a, struct httpd_req *r)
{
	static const char body[] = "{\"service\":\"aggd\",\"version\":\""
	    AGG_VERSION "\",\"endpoints\":[\"POST /publish\",\"GET /events\","
	    "\"GET /stats\",\"GET /topics\",\"GET /healthz\",\"GET /metrics\"],\"manual\":"
	    "\"man aggd\"}\n";

	(void)a;
	httpd_reply(r, 200, NULL, NULL, body, sizeof(body) - 1);
}

static const struct route routes[] = {
	{ "/", "GET", "Allow: GET, HEAD\r\n", api_root },
	{ "/publish", "POST", "Allow: POST\r\n", api_publish },
	{ "/events", "GET", "Allow: GET, HEAD\r\n", api_events },
	{ "/stats", "GET", "Allow: GET, HEAD\r\n", api_stats },
	{ "/topics", "GET", "Allow: GET, HEAD\r\n", api_topics },
	{ "/healthz", "GET", "Allow: GET, HEAD\r\n", api_healthz },
	{ "/metrics", "GET", "Allow: GET, HEAD\r\n", api_metrics },
};

/*
 * The route of a request, or, when its head alone refuses it, NULL with
 * the refusal: 401, 404 or 405.
 */
static const struct route *
route_of(struct api *a, const struct http_request *hr,
    struct httpd_refusal *ref)
{
	const struct route *rt = NULL;
	const char *method = hr->method;
	size_t i, mlen = hr->method_len;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (streq_len(hr->path, hr->path_len, routes[i].path))
			rt = &routes[i];
	/* HEAD is GET without the body, which httpd leaves out. */
	if (streq_len(method, mlen, "HEAD"))
		method = "GET", mlen = 3;
	if (a->token && !token_ok(a, hr) && !(rt && rt->fn == api_healthz &&
	    streq_len(method, mlen, "GET")))
		*ref = (struct httpd_refusal){ 401, "missing or wrong bearer"
		    " token", "WWW-Authenticate: Bearer\r\n" };
	else if (rt == NULL)
		*ref = (struct httpd_refusal){ 404, "no such path", NULL };
	else if (!streq_len(method, mlen, rt->method))
		*ref = (struct httpd_refusal){ 405, "method not allowed",
		    rt->allow };
	else
		return rt;
	return NULL;
}

/*
 * Where httpd would answer for a body unread (100 Continue, 413): a client
 * without the token, or sending to a path or with a method that has no
 * use for the body, learns so at once, not after uploading it, nor from a
 * 413 that hides the 401.
 */
static int
head_check(const struct http_request *hr, struct httpd_refusal *ref,
    void *arg)
{
	return route_of(arg, hr, ref) == NULL;
}

static void
handle(struct httpd_req *r, void *arg)
{
	struct api *a = arg;
	struct httpd_refusal ref;
	const struct route *rt = route_of(a, httpd_request(r), &ref);

	if (rt == NULL)
		reply_error(r, ref.status, ref.msg, ref.headers);
	else
		rt->fn(a, r);
}

const struct httpd_handlers api_http_handlers = {
	.handle = handle, .check = head_check, .error_body = error_body,
	.hangup = api_hangup,
};
