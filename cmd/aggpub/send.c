/* send.c - the at-least-once sender over libcurl multi. */
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

#include <json-c/json.h>

#include "aggpub.h"
#include "client.h"
#include "ev.h"

static int
source_next(struct sender *s, struct buf *body, uint64_t *nev)
{
	struct gen *g = &s->gen;

	if (s->reading)
		return reader_next(&s->rd, s->batch, body, nev, &s->wfd,
		    &s->wms);
	if (g->pos == g->n)
		return NEXT_EOF;
	*nev = g->n - g->pos < s->batch ? g->n - g->pos : s->batch;
	body->len = 0;
	return gen_batch(g, body, *nev) == -1 ? NEXT_ERR : NEXT_BATCH;
}

static size_t
collect(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

int
sender_init(struct sender *s, const struct opts *o)
{
	struct slot *sl;
	size_t i;

	*s = (struct sender){ .reading = o->nfiles > 0, .batch = o->batch,
	    .rd = { .files = o->files, .nfiles = o->nfiles, .fd = -1 },
	    .max_retries = o->retries,
	    .total = o->nfiles > 0 ? 0 : o->count, .nslot = o->conc,
	    .quiet = o->quiet, .tty = !o->quiet && isatty(STDERR_FILENO),
	    .healthy = 1, .start = ev_clock_ms(), .interrupted = o->interrupted,
	    .rng = mix64(ev_clock_ms() ^ (uint64_t)getpid() << 32) };
	gen_init(&s->gen, o);
	event_batch_init(&s->rd.pend);
	if (client_url(o->url, "/publish", s->url, sizeof(s->url)) == -1) {
		warnx("URL too long");
		return -1;
	}
	/* NDJSON, not an array: an array would add a level of nesting, and
	   an event as deep as aggd takes would no longer fit. */
	s->hdrs = client_headers(client_token(o->token), "application/x-ndjson");
	s->multi = curl_multi_init();
	s->slot = calloc(s->nslot, sizeof(*s->slot));
	if (s->hdrs == NULL || s->multi == NULL || s->slot == NULL) {
		warnx("out of memory");
		return -1;
	}
	for (i = 0; i < s->nslot; i++) {
		sl = &s->slot[i];
		if ((sl->h = curl_easy_init()) == NULL) {
			warnx("out of memory");
			return -1;
		}
		curl_easy_setopt(sl->h, CURLOPT_URL, s->url);
		curl_easy_setopt(sl->h, CURLOPT_HTTPHEADER, s->hdrs);
		curl_easy_setopt(sl->h, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(sl->h, CURLOPT_WRITEDATA, &sl->resp);
		curl_easy_setopt(sl->h, CURLOPT_ERRORBUFFER, sl->err);
		curl_easy_setopt(sl->h, CURLOPT_PRIVATE, sl);
		curl_easy_setopt(sl->h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(sl->h, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(sl->h, CURLOPT_CONNECTTIMEOUT,
		    CONNECT_TIMEOUT);
		curl_easy_setopt(sl->h, CURLOPT_TIMEOUT, REQUEST_TIMEOUT);
		curl_easy_setopt(sl->h, CURLOPT_HTTP_VERSION,
		    (long)CURL_HTTP_VERSION_1_1);
	}
	return 0;
}

void
sender_free(struct sender *s)
{
	size_t i;

	for (i = 0; s->slot && i < s->nslot; i++) {
		if (s->slot[i].state == SLOT_BUSY)
			curl_multi_remove_handle(s->multi, s->slot[i].h);
		if (s->slot[i].h)
			curl_easy_cleanup(s->slot[i].h);
		buf_free(&s->slot[i].body);
		buf_free(&s->slot[i].resp);
	}
	free(s->slot);
	if (s->multi)
		curl_multi_cleanup(s->multi);
	curl_slist_free_all(s->hdrs);
	reader_close(&s->rd);
	buf_free(&s->rd.in);
	event_batch_free(&s->rd.pend);
}

/* Clears the progress line before other output. */
static void
progress_clear(struct sender *s)
{
	if (s->shown)
		fputs("\r\033[K", stderr);
	s->shown = 0;
}

/*
 * The progress line on a terminal, redrawn in place at most every 250 ms:
 * events acknowledged, their share of all and the time left at the rate
 * so far (when the total is known), retries, rate.
 */
static void
progress(struct sender *s)
{
	uint64_t now = ev_clock_ms(), ms = now - s->start;
	double rate = (double)s->sent * 1000 / (double)(ms ? ms : 1);

	if (!s->tty || ms < 1000 || now - s->shown_at < 250)
		return;
	s->shown_at = now;
	s->shown = 1;
	fprintf(stderr, "\raggpub: %" PRIu64, s->sent);
	if (s->total)
		fprintf(stderr, "/%" PRIu64 " events (%.0f%%)", s->total,
		    (double)s->sent * 100 / (double)s->total);
	else
		fputs(" events", stderr);
	fprintf(stderr, ", %" PRIu64 " retries, %.0f events/s", s->retries,
	    rate);
	if (s->total && rate > 0)
		fprintf(stderr, ", %.0f s left", (double)(s->total - s->sent) /
		    rate);
	fputs("\033[K", stderr);
}

/* How long max retries of one batch can take: the sum of the backoffs. */
static uint64_t
retry_seconds(uint64_t retries)
{
	uint64_t ms = 0, d = BACKOFF_MIN_MS, t;

	for (t = 0; t < retries && t < 100; t++, d *= 2)
		ms += d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
	ms += (retries > t ? retries - t : 0) * BACKOFF_MAX_MS;
	return (ms + 999) / 1000;
}

/*
 * The notice at the start of an outage (one per outage, not per retry):
 * a refused connection before anything was acknowledged most likely means
 * aggd is not running there, so it says that.
 */
static void
outage_notice(struct sender *s, long status, const char *why)
{
	char base[CLIENT_URL_MAX];

	progress_clear(s);
	if (status == 0 && s->sent == 0 && strcmp(why, "connection refused") ==
	    0 && client_base_url(s->url, base, sizeof(base)) == 0)
		warnx("POST %s: %s: is aggd running at %s? retrying for up to"
		    " %" PRIu64 " s", s->url, why, base,
		    retry_seconds(s->max_retries));
	else
		warnx("POST %s: %s; retrying", s->url, why);
}

/*
 * Adds up aggd's {"accepted":N,"unique":U,"duplicates":D}.  -1 when the
 * answer is not that, with N the batch's events: whatever answered 2xx
 * (another server at a wrong URL, a proxy's page) did not take them.
 */
static int
count_reply(struct sender *s, struct slot *sl)
{
	static const char *const key[3] = { "accepted", "unique", "duplicates" };
	struct json_object *o = NULL, *m;
	int64_t v[3];
	int i;

	if (buf_cstr(&sl->resp) == 0)
		o = json_tokener_parse(sl->resp.data);
	for (i = 0; i < 3; i++) {
		if (o == NULL || !json_object_object_get_ex(o, key[i], &m) ||
		    !json_object_is_type(m, json_type_int)) {
			json_object_put(o);
			return -1;
		}
		v[i] = json_object_get_int64(m);
	}
	json_object_put(o);
	if (v[0] != (int64_t)sl->nev || v[1] < 0 || v[2] < 0 ||
	    v[1] + v[2] != v[0])
		return -1;
	s->sent += (uint64_t)v[0];
	s->unique += (uint64_t)v[1];
	s->dups += (uint64_t)v[2];
	return 0;
}

/*
 * Schedules a re-send: exponential from BACKOFF_MIN_MS to BACKOFF_MAX_MS
 * with +-25% jitter, and never sooner than a Retry-After (capped).
 */
static int
retry_later(struct sender *s, struct slot *sl, long status, const char *why)
{
	uint64_t d = BACKOFF_MIN_MS, t;
	curl_off_t ra = 0;

	if (sl->tries > s->max_retries) {
		progress_clear(s);
		warnx("POST %s: %s; gave up after %" PRIu64 " tries", s->url,
		    why, sl->tries);
		return -1;
	}
	if (s->healthy && !s->quiet)
		outage_notice(s, status, why);
	s->healthy = 0;
	for (t = 1; t < sl->tries && d < BACKOFF_MAX_MS; t++)
		d *= 2;
	d = d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
	d = d * 3 / 4 + SM_NEXT(s->rng) % (d / 2 + 1);
	if (status > 0 &&
	    curl_easy_getinfo(sl->h, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK)
		ra = ra < 0 ? 0 : ra > RETRY_AFTER_MAX ? RETRY_AFTER_MAX : ra;
	if ((uint64_t)ra * 1000 > d)
		d = (uint64_t)ra * 1000;
	sl->due = ev_clock_ms() + d;
	sl->state = SLOT_WAIT;
	s->retries++;
	return 0;
}

/* A request ended: the batch is done, waits for a retry, or fails all. */
static int
slot_done(struct sender *s, struct slot *sl, CURLcode cc)
{
	long status = 0;
	char msg[300];

	curl_multi_remove_handle(s->multi, sl->h);
	sl->state = SLOT_WAIT;
	if (cc != CURLE_OK) {
		client_failure_reason(sl->h, cc, sl->err, msg, sizeof(msg));
		if (!client_curl_permanent(cc))
			return retry_later(s, sl, 0, msg);
		progress_clear(s);
		warnx("POST %s: %s", s->url, msg);
		return -1;
	}
	curl_easy_getinfo(sl->h, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		if (count_reply(s, sl) == -1) {
			progress_clear(s);
			warnx("POST %s: %ld, but not aggd's answer for %" PRIu64
			    " events: is it aggd's URL?", s->url, status,
			    sl->nev);
			return -1;
		}
		sl->state = SLOT_IDLE;
		s->active--;
		s->healthy = 1;
		return 0;
	}
	client_error_message(&sl->resp, status, msg, sizeof(msg));
	if (client_status_transient(status))
		return retry_later(s, sl, status, msg);
	progress_clear(s);
	warnx("POST %s: %s", s->url, msg);
	return -1;
}

/* Gives every idle slot a batch while the source has one. */
static int
fill(struct sender *s)
{
	struct slot *sl;
	size_t i;
	int rc = NEXT_WAIT;

	for (i = 0; i < s->nslot; i++) {
		if ((sl = &s->slot[i])->state != SLOT_IDLE)
			continue;
		if ((rc = source_next(s, &sl->body, &sl->nev)) != NEXT_BATCH)
			return rc;
		sl->state = SLOT_WAIT;
		sl->tries = sl->due = 0;
		s->active++;
	}
	return rc;
}

/* Starts the waiting slots that are due; the ms until the next one. */
static int
launch(struct sender *s, int ms)
{
	uint64_t now = ev_clock_ms();
	struct slot *sl;
	size_t i;

	for (i = 0; i < s->nslot; i++) {
		if ((sl = &s->slot[i])->state != SLOT_WAIT)
			continue;
		if (sl->due > now) {
			if (sl->due - now < (uint64_t)ms)
				ms = (int)(sl->due - now);
			continue;
		}
		sl->resp.len = 0;
		sl->err[0] = '\0';
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDS, sl->body.data);
		curl_easy_setopt(sl->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)sl->body.len);
		if (curl_multi_add_handle(s->multi, sl->h) != CURLM_OK)
			return -1;
		sl->state = SLOT_BUSY;
		sl->tries++;
	}
	return ms;
}

/* Runs the transfers; 1 when a slot finished, 0 not, -1 on failure. */
static int
pump(struct sender *s)
{
	struct CURLMsg *m;
	struct slot *sl;
	int running, left, done = 0;

	if (curl_multi_perform(s->multi, &running) != CURLM_OK)
		return -1;
	while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &sl);
		if (slot_done(s, sl, m->data.result) == -1)
			return -1;
		done = 1;
	}
	return done;
}

int
send_all(struct sender *s)
{
	struct curl_waitfd wfd;
	int eof = 0, rc = NEXT_WAIT, ms;

	for (;;) {
		if (*s->interrupted)
			return -2;
		s->wfd = s->wms = -1;
		if (!eof && (rc = fill(s)) == NEXT_ERR) {
			warnx("out of memory");
			return -1;
		}
		if ((eof = eof || rc == NEXT_EOF) && s->active == 0)
			return 0;
		ms = s->wms >= 0 && s->wms < 1000 ? s->wms : 1000;
		if ((ms = launch(s, s->tty && ms > 250 ? 250 : ms)) == -1 ||
		    (rc = pump(s)) == -1)
			return -1;
		progress(s);
		if (rc == 1)
			continue;
		wfd = (struct curl_waitfd){ .fd = s->wfd,
		    .events = CURL_WAIT_POLLIN };
		if (curl_multi_poll(s->multi, &wfd, s->wfd >= 0, ms, NULL) !=
		    CURLM_OK)
			return -1;
	}
}

void
summary(struct sender *s)
{
	uint64_t ms = ev_clock_ms() - s->start;

	progress_clear(s);
	if (s->quiet)
		return;
	fprintf(stderr, "aggpub: %ssent %" PRIu64 " events: %" PRIu64
	    " unique, %" PRIu64 " duplicates, %" PRIu64 " retries, %.2f s, "
	    "%.0f events/s", *s->interrupted ? "interrupted; " : "", s->sent, s->unique, s->dups, s->retries,
	    (double)ms / 1000, (double)s->sent * 1000 / (double)(ms ? ms : 1));
	if (s->rd.bad)
		fprintf(stderr, ", %lu bad lines or files", s->rd.bad);
	fputc('\n', stderr);
}

