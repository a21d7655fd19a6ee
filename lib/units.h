/*
 * units.h - sizes and durations as people write them on a command line
 * or in a variable: "16M", "10G"; "45s", "30m", "12h", "90d".
 */
#ifndef AGG_UNITS_H
#define AGG_UNITS_H

#include <stdint.h>

/*
 * Decimal digits and at most one of the suffixes K, M, G, T (either case;
 * powers of 1024; none: bytes) into *bytes.  -1 when s is anything else
 * or the value passes 2^62.
 */
int	units_size(const char *s, uint64_t *bytes);

/*
 * Decimal digits and one of the suffixes s, m, h, d (seconds, minutes,
 * hours, days) into *ms.  -1 when s is anything else, has no suffix
 * (30 what?), or the value passes 2^62 ms.
 */
int	units_duration_ms(const char *s, uint64_t *ms);

#endif
