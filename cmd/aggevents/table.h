/*
 * table.h - aggevents -H: events as a table for people, its columns sized
 * from the first page's values and the terminal's width.
 */
#ifndef AGGEVENTS_TABLE_H
#define AGGEVENTS_TABLE_H

#include <stdint.h>

#include "buf.h"
#include "event.h"

/* Column widths, set from the first page and kept for the run. */
struct table {
	int		 seq, time, topic, id, source, payload;
};

/* Widens the columns to an event of the first page. */
void	table_measure(struct table *, const struct event_fields *,
	    int64_t seq);
/* Fits the measured columns into width (never wider). */
void	table_fit(struct table *, int width);
int	table_header(struct buf *, const struct table *);
int	table_row(struct buf *, const struct table *,
	    const struct event_fields *, int64_t seq);

#endif
