/*
 * rfc3339.h - RFC 3339 date-times: the events' timestamps, the query's
 * since and until, and the received_at that aggd gives each event.
 */
#ifndef AGG_RFC3339_H
#define AGG_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* "2025-10-21T10:00:00.123Z": what rfc3339_format writes, and its NUL. */
#define RFC3339_MS_LEN	25

/*
 * YYYY-MM-DDTHH:MM:SS[.F+](Z|+HH:MM|-HH:MM) filling s[0..len), a real
 * calendar date and time (no leap second: POSIX time has no 23:59:60).
 * 0 and, when ms is not NULL, milliseconds since 1970 in *ms (fractions
 * cut, not rounded); -1 when s is not one.
 */
int	rfc3339_parse(const char *s, size_t len, int64_t *ms);

/* ms since 1970 as UTC with milliseconds into out[RFC3339_MS_LEN]. */
void	rfc3339_format(int64_t ms, char *out);

#endif
