/*
 * ingest.c - queue and writer thread; see ingest.h.
 *
 * Two threads make a pipeline: the writer applies each group of jobs in a
 * transaction the store commits without making it durable; the syncer
 * makes it durable (store_sync: for SQLite, an fdatasync of the WAL) and
 * only then hands the jobs back, so one sync covers every transaction
 * committed while the previous one ran, and the writer never waits for
 * the disk.  With --relaxed, or a store whose commits are
 * durable already, there is no syncer: answers follow the commit.  A
 * third thread does the store's background work (store_maintain: for
 * SQLite, checkpoints of the WAL into the database and the memory the
 * dedup index grows into), so no commit waits for that either.
 *
 * Locking: one mutex guards the queue, the groups, the done list and the
 * statistics.  The store's SQL is used by the writer only (store_sync is
 * safe from the syncer).  The eventfd is written once per batch of
 * answers for the loop.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "ingest.h"
#include "log.h"

const double ingest_bucket_le[INGEST_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
	10,
};

/* Jobs of one transaction, from its commit to their answers. */
struct group {
	struct group	*next;
	struct ingest_job *jobs;
	size_t		 events;
	double		 t0;		/* transaction start */
	int		 rc;		/* the first failure, or 0 */
	uint64_t	 last_seq;	/* the store's, after the commit */
	uint64_t	 expired_through;	/* likewise */
	int		 expiry;	/* a step of retention, no jobs */
	size_t		 index_bytes;	/* of the dedup index, likewise */
	struct tally_changes changes;	/* the counters it changed */
};

struct ingest {
	struct store	*store;
	struct ev_loop	*loop;
	int		 efd;
	int		 durable;	/* fsync before answering */
	pthread_t	 writer, syncer, checkpointer;
	pthread_mutex_t	 mu;
	pthread_cond_t	 work, synced, room, finished, ckpt;
	struct ingest_job *head, *tail;		/* queued */
	struct group	*unsynced;		/* committed, not yet on disk */
	struct ingest_job *done_head, *done_tail;	/* back to the loop */
	struct tally	 readable;	/* counters as of the last group finished */
	struct topic_ids changed;	/* since ingest_take_changes */
	unsigned char	*is_changed;	/* by topic id, for changed */
	size_t		 is_changed_cap;
	size_t		 taken_topics;	/* readable.n at the last take */
	int		 stopping, writer_gone;
	int		 queued;	/* loop only: ingest_queue since the kick */
	double		 down_since;	/* when the store went away */
	uint64_t	 expire_at;	/* writer only: the next step of
					   retention (ev_clock_ms), 0 none */
	int		 expire_failed;	/* the last step: wait for the retry */
	struct ingest_stats st;
};

/* Called with the lock held, once the group is durable (or committed, -r). */
static void
record_commit(struct ingest *in, const struct group *g)
{
	double secs = mono_seconds() - g->t0;
	int i;

	in->st.commits++;
	in->st.commit_failures += g->rc != 0;
	in->st.commit_seconds += secs;
	for (i = 0; i < INGEST_BUCKETS; i++)
		if (secs <= ingest_bucket_le[i])
			in->st.buckets[i]++;
	in->st.index_bytes = g->index_bytes;
	/* other aggd's commits (ingest_follow) may have moved it further */
	if (g->last_seq > in->st.last_seq)
		in->st.last_seq = g->last_seq;
}

/*
 * Whether the store can be reached, as the last commit or look found it:
 * one log line when it goes away and one when it is back, not one per
 * request that fails meanwhile.  Called with the lock held.
 */
static void
note_reach(struct ingest *in, int rc, const char *why)
{
	double now = mono_seconds();

	if (rc == STORE_UNAVAILABLE && !in->st.unavailable) {
		in->st.unavailable = 1;
		in->st.outages++;
		in->down_since = now;
		log_warnx("the store is unavailable: %s; answering 503 and"
		    " trying again", why);
	} else if (rc != STORE_UNAVAILABLE && in->st.unavailable) {
		in->st.unavailable = 0;
		log_warnx("the store is back after %.1f s", now -
		    in->down_since);
	}
}

/* Commits one group; jobs get their results.  Runs unlocked. */
static int
commit_group(struct ingest *in, struct group *g)
{
	struct event_batch *batch[256];
	struct store_counts res[256];
	struct ingest_job *j, *first;
	size_t n;
	int rc, failed = 0;

	/* Groups of up to 256 requests per transaction, in queue order. */
	for (j = g->jobs; j; ) {
		first = j;
		for (n = 0; j && n < 256; j = j->next, n++)
			batch[n] = &j->batch;
		char err[160] = "";
		rc = store_commit(in->store, batch, n, res, err, sizeof(err));
		if (rc == STORE_IOERR)
			fatalx("commit of %zu request%s failed (%s) after it may"
			    " have reached the WAL: a restart recovers what it"
			    " stored", n, n == 1 ? "" : "s", err);
		if (rc == 0 && store_topic_counts(in->store, 0, tally_note,
		    &g->changes) == -1)
			fatalx("out of memory");
		failed = failed ? failed : rc;
		for (n = 0, j = first; j && n < 256; j = j->next, n++) {
			j->status = rc == 0 && res[n].refused ? STORE_TOPICS :
			    rc;
			j->counts = res[n];
			if (rc != 0)
				memcpy(j->err, err, sizeof(j->err));
			else if (res[n].refused)
				snprintf(j->err, sizeof(j->err), "a new topic"
				    " would pass the limit of %zu topics"
				    " (--max-topics); nothing of this request"
				    " was stored", in->store->max_topics);
		}
		pthread_mutex_lock(&in->mu);
		note_reach(in, rc, err);
		pthread_mutex_unlock(&in->mu);
		if (rc != 0 && rc != STORE_UNAVAILABLE)
			log_warnx("commit of %zu request%s failed: %s", n,
			    n == 1 ? "" : "s", err);
	}
	return failed;
}

/* The group's topics among those changed since the loop last looked. */
static int
note_changes(struct ingest *in, const struct tally_changes *ch)
{
	size_t i, id;

	for (i = 0; i < ch->n; i++) {
		id = (size_t)ch->v[i].id;
		if (array_grow(&in->is_changed, &in->is_changed_cap, id + 1, 1,
		    64) == -1 || array_grow(&in->changed.v, &in->changed.cap,
		    in->changed.n + 1, sizeof(*in->changed.v), 64) == -1)
			return -1;
		if (!in->is_changed[id]) {
			in->is_changed[id] = 1;
			in->changed.v[in->changed.n++] = (int64_t)id;
		}
	}
	return 0;
}

/*
 * Hands a group's jobs to their owners.  Called with the lock held.  The
 * loop hears of every group, stdin's too, since long polls wait for the
 * events it made readable (ingest_readable).
 */
static void
finish(struct ingest *in, struct group *g)
{
	struct ingest_job *j, *next;
	uint64_t one = 1;

	if (!g->expiry)
		record_commit(in, g);
	if (g->expired_through > in->st.expired_through)
		in->st.expired_through = g->expired_through;
	if (tally_apply(&in->readable, &g->changes, ev_clock_ms()) == -1 ||
	    note_changes(in, &g->changes) == -1)
		fatalx("out of memory");
	tally_changes_free(&g->changes);
	in->st.depth -= g->events;
	for (j = g->jobs; j; j = next) {
		next = j->next;
		j->next = NULL;
		j->finished = 1;
		if (j->waited)
			continue;
		if (in->done_tail)
			in->done_tail->next = j;
		else
			in->done_head = j;
		in->done_tail = j;
	}
	free(g);
	pthread_cond_broadcast(&in->finished);
	pthread_cond_broadcast(&in->room);
	(void)!write(in->efd, &one, sizeof(one));
}

/*
 * A committed group waits for the syncer.  Failed jobs wait too: a group
 * may hold several transactions, and the answers keep one path.
 */
static void
committed(struct ingest *in, struct group *g)
{
	struct group **pp;

	if (!in->durable) {
		finish(in, g);
		return;
	}
	for (pp = &in->unsynced; *pp; pp = &(*pp)->next)
		;
	*pp = g;
	pthread_cond_signal(&in->synced);
}

/*
 * Counts the group's events and, before the commit, makes room so that
 * noting and applying its counters cannot fail after it: each event
 * changes at most one topic, and makes at most one.  Called with the lock
 * held.
 */
static int
reserve_counts(struct ingest *in, struct group *g)
{
	struct ingest_job *j;

	for (j = g->jobs; j; j = j->next)
		g->events += j->batch.n;
	return tally_changes_reserve(&g->changes, g->events) == -1 ||
	    tally_reserve(&in->readable, store_topics(in->store) + g->events) ==
	    -1 ? -1 : 0;
}

/*
 * Retention runs on the writer's thread, between groups: a step removes
 * at most EXPIRE_STEP events, so a commit waits for at most one step
 * however many events must go.  Soak at 162k events/s, p99 median of
 * 100-event requests: 500 a step 21 ms, 2000 32-96 ms, 10000 155 ms
 * (9.3 ms without retention; bench/NOTES.md).  When nothing is due, the
 * next look is EXPIRE_LOOK_MS later; after a failure, EXPIRE_RETRY_MS.
 */
#define EXPIRE_STEP	500
#define EXPIRE_LOOK_MS	1000
#define EXPIRE_RETRY_MS	60000

static int
expire_due(const struct ingest *in)
{
	return in->expire_at != 0 && ev_clock_ms() >= in->expire_at;
}

/* One step of retention as a group without jobs.  Runs unlocked. */
static void
expire_step(struct ingest *in)
{
	struct group *g;
	int rc;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    tally_changes_reserve(&g->changes, store_topics(in->store)) == -1)
		fatalx("out of memory");
	g->expiry = 1;
	rc = store_expire(in->store, wall_ms(), EXPIRE_STEP);
	if (rc == STORE_IOERR)
		fatalx("a step of retention failed after it may have reached"
		    " the WAL: a restart recovers what it removed");
	if (rc >= 0 && store_topic_counts(in->store, 0, tally_note,
	    &g->changes) == -1)
		fatalx("out of memory");
	g->last_seq = store_last_seq(in->store);
	g->index_bytes = store_index_bytes(in->store);
	g->expired_through = store_expired_through(in->store);
	in->expire_failed = rc < 0;
	in->expire_at = ev_clock_ms() + (rc == 1 ? 0 : rc == 0 ?
	    EXPIRE_LOOK_MS : EXPIRE_RETRY_MS);
	pthread_mutex_lock(&in->mu);
	if (tally_reserve(&in->readable, store_topics(in->store)) == -1)
		fatalx("out of memory");
	committed(in, g);
	pthread_mutex_unlock(&in->mu);
}

/* Waits for work, or until retention's next step is due. */
static void
wait_work(struct ingest *in)
{
	struct timespec until;
	uint64_t ms;

	if (in->expire_at == 0) {
		pthread_cond_wait(&in->work, &in->mu);
		return;
	}
	ms = in->expire_at - ev_clock_ms();
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ms / 1000);
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&in->work, &in->mu, &until);
}

static void *
writer_main(void *arg)
{
	struct ingest *in = arg;
	struct group *g;

	pthread_mutex_lock(&in->mu);
	for (;;) {
		while (in->head == NULL && !in->stopping && !expire_due(in))
			wait_work(in);
		if (in->head == NULL && in->stopping)
			break;
		if (in->head == NULL) {
			pthread_mutex_unlock(&in->mu);
			expire_step(in);
			pthread_mutex_lock(&in->mu);
			continue;
		}
		if ((g = calloc(1, sizeof(*g))) == NULL) {
			pthread_mutex_unlock(&in->mu);
			fatalx("out of memory");
		}
		g->jobs = in->head;
		in->head = in->tail = NULL;
		if (reserve_counts(in, g) == -1) {
			pthread_mutex_unlock(&in->mu);
			fatalx("out of memory");
		}
		pthread_mutex_unlock(&in->mu);

		g->t0 = mono_seconds();
		g->rc = commit_group(in, g);
		g->last_seq = store_last_seq(in->store);
		g->index_bytes = store_index_bytes(in->store);
		g->expired_through = store_expired_through(in->store);

		pthread_mutex_lock(&in->mu);
		committed(in, g);
		/* a store bounded by size is looked at after each commit */
		if (in->store->retain.max_bytes > 0 && in->expire_at != 0 &&
		    !in->expire_failed)
			in->expire_at = ev_clock_ms();
		if (expire_due(in)) {
			pthread_mutex_unlock(&in->mu);
			expire_step(in);
			pthread_mutex_lock(&in->mu);
		}
	}
	in->writer_gone = 1;
	pthread_cond_signal(&in->synced);
	pthread_cond_signal(&in->ckpt);
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/*
 * After an fsync error the kernel may have dropped the dirty pages, so
 * what SQLite believes committed may not be on disk: stop, and let the
 * restart recover from what the disk really holds.  Nothing that was not
 * synced has been acknowledged.
 */
static void *
syncer_main(void *arg)
{
	struct ingest *in = arg;
	struct group *list, *g;
	double t0;

	pthread_mutex_lock(&in->mu);
	for (;;) {
		while (in->unsynced == NULL && !in->writer_gone)
			pthread_cond_wait(&in->synced, &in->mu);
		if (in->unsynced == NULL)
			break;
		list = in->unsynced;
		in->unsynced = NULL;
		pthread_mutex_unlock(&in->mu);
		t0 = mono_seconds();
		if (store_sync(in->store) == -1)
			fatal("fdatasync of the store's WAL");
		pthread_mutex_lock(&in->mu);
		in->st.wal_syncs++;
		in->st.wal_sync_seconds += mono_seconds() - t0;
		while ((g = list) != NULL) {
			list = g->next;
			finish(in, g);
		}
	}
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/*
 * Small rounds, often: for SQLite, the database fsync that ends a
 * checkpoint round flushes what the round wrote, and the WAL syncs that
 * answers wait for queue behind it.  100-event requests at half the
 * maximum rate, p99: 25-83 ms with 200 ms rounds, 12-50 ms with 20 ms
 * (same 1000-event throughput; the project's 2-core VM, 1.1).
 */
#define MAINTAIN_MS	20

/*
 * What other aggd committed to a shared store (store_follow), made
 * readable here as if this aggd had committed it: counters, the last seq,
 * and the long polls of the topics it touched woken.  Counters never go
 * back: tally_apply keeps the newer of two looks.
 */
static void
follow(struct ingest *in)
{
	struct tally_changes ch = { NULL, 0, 0 };
	uint64_t seq = 0, one = 1;
	char err[200] = "";
	int rc;

	rc = store_follow(in->store, &seq, tally_note, &ch, err, sizeof(err));
	pthread_mutex_lock(&in->mu);
	note_reach(in, rc, err);
	if (rc == 1) {
		if (tally_apply(&in->readable, &ch, ev_clock_ms()) == -1 ||
		    note_changes(in, &ch) == -1)
			fatalx("out of memory");
		if (seq > in->st.last_seq)
			in->st.last_seq = seq;
		if (store_expired_through(in->store) > in->st.expired_through)
			in->st.expired_through =
			    store_expired_through(in->store);
		(void)!write(in->efd, &one, sizeof(one));
	}
	pthread_mutex_unlock(&in->mu);
	tally_changes_free(&ch);
}

/* The store's background work (store_maintain): checkpoints, for SQLite. */
static void *
maintainer_main(void *arg)
{
	struct ingest *in = arg;
	struct timespec until;
	int rc = 0;

	pthread_mutex_lock(&in->mu);
	while (!in->writer_gone) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (rc == 1 ? 1 : MAINTAIN_MS) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&in->ckpt, &in->mu, &until);
		pthread_mutex_unlock(&in->mu);
		/* As for the WAL's fdatasync in syncer_main. */
		if ((rc = store_maintain(in->store)) == STORE_IOERR)
			fatal("writing the WAL back into the store");
		follow(in);
		pthread_mutex_lock(&in->mu);
	}
	pthread_mutex_unlock(&in->mu);
	return NULL;
}

/* Loop side: the writer finished jobs. */
static void
on_done(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
	struct ingest *in = arg;
	struct ingest_job *j, *next;
	uint64_t n;

	(void)loop;
	(void)events;
	(void)!read(fd, &n, sizeof(n));
	pthread_mutex_lock(&in->mu);
	j = in->done_head;
	in->done_head = in->done_tail = NULL;
	pthread_mutex_unlock(&in->mu);
	for (; j; j = next) {
		next = j->next;
		j->done(j);
	}
}

struct ingest *
ingest_start(struct store *store, struct ev_loop *loop, size_t capacity,
    int durable)
{
	struct ingest *in;

	if ((in = calloc(1, sizeof(*in))) == NULL)
		return NULL;
	in->store = store;
	in->loop = loop;
	in->durable = durable && store_sync_needed(store);
	in->st.capacity = capacity;
	in->st.last_seq = store_last_seq(store);
	in->st.index_bytes = store_index_bytes(store);
	in->st.expired_through = store_expired_through(store);
	if (store->retain.max_age_ms > 0 || store->retain.max_bytes > 0)
		in->expire_at = ev_clock_ms();	/* what a shorter retention
						   leaves over, at once */
	tally_init(&in->readable);
	if (store_topic_counts(store, 1, tally_set_fn, &in->readable) == -1 ||
	    (in->taken_topics = in->readable.n, 0)) {
		tally_free(&in->readable);
		free(in);
		return NULL;
	}
	pthread_mutex_init(&in->mu, NULL);
	pthread_cond_init(&in->work, NULL);
	pthread_cond_init(&in->room, NULL);
	pthread_cond_init(&in->finished, NULL);
	pthread_cond_init(&in->synced, NULL);
	pthread_cond_init(&in->ckpt, NULL);
	if ((in->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	if (ev_watch(loop, in->efd, EV_READ, on_done, in) == -1 ||
	    pthread_create(&in->syncer, NULL, syncer_main, in) != 0) {
		ev_unwatch(loop, in->efd);
		close(in->efd);
		goto fail;
	}
	if (pthread_create(&in->writer, NULL, writer_main, in) != 0 ||
	    pthread_create(&in->checkpointer, NULL, maintainer_main, in) != 0)
		fatalx("cannot start the store's threads");
	/* Names for top -H, perf and make bench; cosmetic, so unchecked. */
	(void)pthread_setname_np(in->syncer, "aggd-sync");
	(void)pthread_setname_np(in->writer, "aggd-writer");
	(void)pthread_setname_np(in->checkpointer, "aggd-maint");
	return in;
fail:
	tally_free(&in->readable);
	free(in);
	return NULL;
}

void
ingest_stop(struct ingest *in)
{
	if (in == NULL)
		return;
	pthread_mutex_lock(&in->mu);
	in->stopping = 1;
	pthread_cond_broadcast(&in->work);
	pthread_cond_broadcast(&in->room);
	pthread_mutex_unlock(&in->mu);
	pthread_join(in->writer, NULL);
	pthread_join(in->syncer, NULL);
	pthread_join(in->checkpointer, NULL);
	/* Answer what the last commit finished. */
	on_done(in->loop, in->efd, EV_READ, in);
	ev_unwatch(in->loop, in->efd);
	close(in->efd);
	pthread_mutex_destroy(&in->mu);
	pthread_cond_destroy(&in->work);
	pthread_cond_destroy(&in->room);
	pthread_cond_destroy(&in->finished);
	pthread_cond_destroy(&in->synced);
	pthread_cond_destroy(&in->ckpt);
	tally_free(&in->readable);
	free(in->changed.v);
	free(in->is_changed);
	free(in);
}

/* blocking: a thread of its own, which waits for room and wakes the writer */
static int
enqueue(struct ingest *in, struct ingest_job *j, int blocking)
{
	size_t n = j->batch.n;

	pthread_mutex_lock(&in->mu);
	while (!in->stopping && in->st.depth > 0 &&
	    in->st.depth + n > in->st.capacity) {
		if (!blocking) {
			pthread_mutex_unlock(&in->mu);
			return -1;
		}
		pthread_cond_wait(&in->room, &in->mu);
	}
	if (in->stopping) {
		pthread_mutex_unlock(&in->mu);
		return -1;
	}
	j->next = NULL;
	j->finished = 0;
	if (in->tail)
		in->tail->next = j;
	else
		in->head = j;
	in->tail = j;
	in->st.depth += n;
	if (blocking)
		pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->mu);
	return 0;
}

int
ingest_submit(struct ingest *in, struct ingest_job *j)
{
	return enqueue(in, j, 1);
}

int
ingest_queue(struct ingest *in, struct ingest_job *j)
{
	if (enqueue(in, j, 0) == -1)
		return -1;
	in->queued = 1;
	return 0;
}

/* Called every loop round: no lock unless the round queued something. */
void
ingest_kick(struct ingest *in)
{
	if (!in->queued)
		return;
	in->queued = 0;
	pthread_mutex_lock(&in->mu);
	pthread_cond_signal(&in->work);
	pthread_mutex_unlock(&in->mu);
}

void
ingest_wait(struct ingest *in, struct ingest_job *j)
{
	pthread_mutex_lock(&in->mu);
	while (!j->finished)
		pthread_cond_wait(&in->finished, &in->mu);
	pthread_mutex_unlock(&in->mu);
}

uint64_t
ingest_readable(struct ingest *in, int64_t topic_id, struct store_counts *c)
{
	uint64_t seq;

	pthread_mutex_lock(&in->mu);
	seq = in->st.last_seq;
	if (c)
		tally_get(&in->readable, topic_id, c);
	pthread_mutex_unlock(&in->mu);
	return seq;
}

/* Allocates outside the lock, which the writer and the syncer wait for. */
int
ingest_readable_all(struct ingest *in, struct tally *copy)
{
	size_t n;

	tally_init(copy);
	for (;;) {
		pthread_mutex_lock(&in->mu);
		if ((n = in->readable.n) <= copy->cap && n <= copy->rate_cap)
			break;
		pthread_mutex_unlock(&in->mu);
		if (tally_reserve(copy, n) == -1)
			return -1;
	}
	copy->sum = in->readable.sum;
	copy->sum_rate = in->readable.sum_rate;
	copy->n = n;
	if (n > 0) {
		memcpy(copy->topic, in->readable.topic, n * sizeof(*copy->topic));
		memcpy(copy->rate, in->readable.rate, n * sizeof(*copy->rate));
	}
	pthread_mutex_unlock(&in->mu);
	return 0;
}

int
ingest_take_changes(struct ingest *in, struct topic_ids *ids, int *grew)
{
	struct topic_ids mine;
	size_t i;

	ids->n = 0;
	pthread_mutex_lock(&in->mu);
	*grew = in->readable.n > in->taken_topics;
	in->taken_topics = in->readable.n;
	for (i = 0; i < in->changed.n; i++)
		in->is_changed[in->changed.v[i]] = 0;
	/* the lists trade places: the next changes go to the caller's old */
	mine = in->changed;
	in->changed = *ids;
	*ids = mine;
	in->changed.n = 0;
	pthread_mutex_unlock(&in->mu);
	return 0;
}

void
ingest_get_stats(struct ingest *in, struct ingest_stats *st)
{
	pthread_mutex_lock(&in->mu);
	*st = in->st;
	pthread_mutex_unlock(&in->mu);
}

uint64_t
ingest_expired_through(struct ingest *in)
{
	uint64_t seq;

	pthread_mutex_lock(&in->mu);
	seq = in->st.expired_through;
	pthread_mutex_unlock(&in->mu);
	return seq;
}
