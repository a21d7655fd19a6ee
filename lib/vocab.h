/*
 * vocab.h - one name and one description for each figure that more than
 * one tool shows: aggd's /stats and /metrics, aggstat's lines and its
 * Prometheus text.  A docs test checks the man pages use the same words.
 */
#ifndef AGG_VOCAB_H
#define AGG_VOCAB_H

/* The counters, in /stats and its by_topic, and aggstat's lines. */
#define VOCAB_RECEIVED		"received"
#define VOCAB_UNIQUE		"unique_processed"
#define VOCAB_DUPLICATES	"duplicate_dropped"
#define VOCAB_STORED		"stored"	/* unique - expired */
#define VOCAB_EXPIRED		"expired"	/* removed by retention */
#define VOCAB_RATE		"events_per_second"
#define VOCAB_LAST		"last_event_at"

/* Their Prometheus names and help, in /metrics and aggstat -p. */
#define METRIC_RECEIVED		"agg_events_received_total"
#define METRIC_RECEIVED_HELP	"Events in accepted publish requests," \
				" duplicates included."
#define METRIC_UNIQUE		"agg_events_unique_total"
#define METRIC_UNIQUE_HELP	"Unique events stored (the first of their" \
				" identity)."
#define METRIC_DUPLICATES	"agg_events_duplicate_total"
#define METRIC_DUPLICATES_HELP	"Events dropped as duplicates."
#define METRIC_EXPIRED		"agg_events_expired_total"
#define METRIC_EXPIRED_HELP	"Unique events removed by retention (their" \
				" identities kept)."
#define METRIC_LAST		"agg_last_event_timestamp_seconds"
#define METRIC_LAST_HELP	"When the last event arrived (Unix time)."

#endif
