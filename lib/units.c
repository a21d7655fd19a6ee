/*
 * units.c - sizes and durations (units.h).  One parser for every option
 * that takes one, so that "16M" means the same everywhere.
 */
#include <string.h>

#include "units.h"

#define UNITS_MAX	(1ULL << 62)

/* Leading digits of s into *v, *rest past them: -1 when none or too big. */
static int
digits(const char *s, uint64_t *v, const char **rest)
{
	uint64_t n = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (n > (UNITS_MAX - 9) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
	}
	*v = n;
	*rest = s;
	return 0;
}

/* v times unit into *out, -1 past UNITS_MAX. */
static int
scaled(uint64_t v, uint64_t unit, uint64_t *out)
{
	if (unit != 0 && v > UNITS_MAX / unit)
		return -1;
	*out = v * unit;
	return 0;
}

int
units_size(const char *s, uint64_t *bytes)
{
	static const char suffix[] = "KMGT";
	const char *rest, *p;
	uint64_t v;
	int upper;

	if (digits(s, &v, &rest) == -1)
		return -1;
	if (*rest == '\0')
		return scaled(v, 1, bytes);
	upper = *rest & ~0x20;
	if (rest[1] != '\0' || upper == '\0' ||
	    (p = strchr(suffix, upper)) == NULL)
		return -1;
	return scaled(v, 1ULL << (10 * (p - suffix + 1)), bytes);
}

int
units_duration_ms(const char *s, uint64_t *ms)
{
	const char *rest;
	uint64_t v, unit;

	if (digits(s, &v, &rest) == -1 || rest[0] == '\0' || rest[1] != '\0')
		return -1;
	switch (*rest) {
	case 's': unit = 1000; break;
	case 'm': unit = 60 * 1000; break;
	case 'h': unit = 3600 * 1000; break;
	case 'd': unit = 86400 * 1000; break;
	default: return -1;
	}
	return scaled(v, unit, ms);
}
