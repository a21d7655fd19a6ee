/*
 * pages.h - the JSON readers are shown (pages.c), built on the reader
 * thread from what struct reading names.
 */
#ifndef AGGD_PAGES_H
#define AGGD_PAGES_H

#include <stdint.h>

#include "buf.h"
#include "ingest.h"
#include "service.h"
#include "store.h"

/* What a read needs: the store's reader and the counters' source. */
struct reading {
	struct store_reader *reader;
	struct ingest	*ingest;
};

/*
 * The page of q into body; its count, or -1.  *topic_id: the topic's (0
 * all topics, -1 one the store does not have yet), for waking it later.
 */
int	page_build(const struct reading *, const struct page_query *q,
	    struct buf *body, int64_t *topic_id);
/* The /stats body; now is the monotonic clock in ms, for the rates; with
   a topic (not NULL), topics and by_topic hold that one alone. */
int	stats_build(const struct reading *, uint64_t now, uint64_t uptime_s,
	    const char *topic, struct buf *body);
/* A /topics page: at most limit names after after (""), and next. */
int	topics_build(const struct reading *, const char *after, int limit,
	    struct buf *body);

#endif
