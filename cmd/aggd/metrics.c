/*
 * metrics.c - GET /metrics: Prometheus text exposition of the counters
 * (the same names and words as aggstat -p, vocab.h) and of aggd's health:
 * the queue, connections, long polls, commits and the WAL's syncs.
 */
#include "aggd.h"
#include "vocab.h"

static int
metric(struct buf *b, const char *name, const char *type, const char *help,
    unsigned long long v)
{
	return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help,
	    name, type, name, v);
}

static int
commit_histogram(struct buf *b, const struct ingest_stats *st)
{
	int i;

	if (buf_puts(b, "# HELP agg_commit_duration_seconds Time of one group"
	    " commit, fsync included.\n# TYPE agg_commit_duration_seconds"
	    " histogram\n") == -1)
		return -1;
	for (i = 0; i < INGEST_BUCKETS; i++)
		if (buf_printf(b, "agg_commit_duration_seconds_bucket{le=\"%g\"}"
		    " %llu\n", ingest_bucket_le[i],
		    (unsigned long long)st->buckets[i]) == -1)
			return -1;
	return buf_printf(b, "agg_commit_duration_seconds_bucket{le=\"+Inf\"}"
	    " %llu\nagg_commit_duration_seconds_sum %.6f\n"
	    "agg_commit_duration_seconds_count %llu\n",
	    (unsigned long long)st->commits, st->commit_seconds,
	    (unsigned long long)st->commits);
}

static int
commits(struct buf *b, const struct ingest_stats *st)
{
	return metric(b, "agg_commit_failures_total", "counter", "Group commits"
	    " that failed and were rolled back.", st->commit_failures) == -1 ||
	    commit_histogram(b, st) == -1 ||
	    metric(b, "agg_commit_wal_syncs_total", "counter", "fdatasyncs of"
	    " the WAL that answers waited for (none with --relaxed).",
	    st->wal_syncs) == -1 ||
	    buf_printf(b, "# HELP agg_commit_wal_sync_seconds_total Time in"
	    " those fdatasyncs.\n# TYPE agg_commit_wal_sync_seconds_total"
	    " counter\nagg_commit_wal_sync_seconds_total %.6f\n",
	    st->wal_sync_seconds) == -1 ? -1 : 0;
}

int
metrics_text(struct buf *b, const struct service_health *h, size_t conns,
    size_t buffered)
{
	const struct store_counts *t = &h->counts;
	const struct ingest_stats *st = &h->ingest;

	return metric(b, METRIC_RECEIVED, "counter", METRIC_RECEIVED_HELP,
	    t->received) == -1 ||
	    metric(b, METRIC_UNIQUE, "counter", METRIC_UNIQUE_HELP,
	    t->unique) == -1 ||
	    metric(b, METRIC_DUPLICATES, "counter", METRIC_DUPLICATES_HELP,
	    t->duplicates) == -1 ||
	    metric(b, METRIC_EXPIRED, "counter", METRIC_EXPIRED_HELP,
	    t->expired) == -1 ||
	    metric(b, METRIC_LAST, "gauge", METRIC_LAST_HELP,
	    t->last_ms / 1000) == -1 ||
	    metric(b, "agg_ingest_queue_depth", "gauge", "Events queued or"
	    " being committed.", st->depth) == -1 ||
	    metric(b, "agg_ingest_queue_capacity", "gauge", "Events the queue"
	    " takes before answering 503.", st->capacity) == -1 ||
	    metric(b, "agg_http_connections_open", "gauge", "Open client"
	    " connections.", conns) == -1 ||
	    metric(b, "agg_http_buffered_bytes", "gauge", "Bytes held in"
	    " connection buffers.", buffered) == -1 ||
	    metric(b, "agg_http_long_polls", "gauge", "GET /events requests"
	    " parked until an event arrives (wait=).", h->parked) == -1 ||
	    commits(b, st) == -1 ||
	    metric(b, "agg_dedup_index_bytes", "gauge", "Memory of the"
	    " in-memory dedup index.", st->index_bytes) == -1 ||
	    metric(b, "agg_uptime_seconds", "gauge", "Seconds since start.",
	    h->uptime_s) == -1 ? -1 : 0;
}
