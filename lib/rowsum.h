/*
 * rowsum.h - checksums of what the store keeps, checked wherever it is
 * read back, so that a flipped byte on disk is an error that names its
 * row, never a wrong answer: an event served as invalid JSON, dedup
 * silently off, an identity stored twice.  SQLite's own checks cover its
 * page structure, not the values in the rows.
 *
 * A fast word-at-a-time mix (rowsum.c says why not SipHash or crc32):
 * integrity against damage, not authenticity against someone who can
 * write the file.
 */
#ifndef AGG_ROWSUM_H
#define AGG_ROWSUM_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* An event row: everything it holds but the topic's name (whose own row
   has a sum), and the fingerprint the dedup index keeps for it. */
int64_t	rowsum_event(int64_t seq, int64_t topic_id, uint64_t fp,
	    int64_t received_ms, const struct event_fields *);
/* A row of a kind (a tag of the caller's): its id and its bytes. */
int64_t	rowsum_bytes(uint64_t tag, int64_t id, const void *, size_t);

#endif
