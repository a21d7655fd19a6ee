/* rfc3339.c - parsing and writing RFC 3339 date-times; see rfc3339.h. */
#include <stdio.h>

#include "rfc3339.h"

/* n decimal digits at s into *v; 0 if one is not a digit. */
static int
digits(const char *s, size_t n, int *v)
{
	size_t i;

	for (*v = 0, i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (s[i] - '0');
	}
	return 1;
}

static int
month_days(int y, int m)
{
	static const int days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

	return m == 2 && leap ? 29 : days[m - 1];
}

/* "Z", "z" or "+HH:MM" / "-HH:MM" filling s[0..n) exactly; *secs east. */
static int
offset(const char *s, size_t n, int *secs)
{
	int h, m;

	*secs = 0;
	if (n == 1)
		return s[0] == 'Z' || s[0] == 'z';
	if (n != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
	    !digits(s + 1, 2, &h) || !digits(s + 4, 2, &m) || h > 23 || m > 59)
		return 0;
	*secs = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant's). */
static int64_t
days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
rfc3339_parse(const char *s, size_t len, int64_t *ms)
{
	int y, mo, d, h, mi, sec, off, frac = 0, scale = 100;
	size_t i = 19, f;

	if (len < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' ||
	    s[16] != ':' || (s[10] != 'T' && s[10] != 't'))
		return -1;
	if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
	    !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) ||
	    !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	if (s[i] == '.') {
		for (f = ++i; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			if (scale > 0) {
				frac += (s[i] - '0') * scale;
				scale /= 10;
			}
		if (i == f)
			return -1;
	}
	if (!offset(s + i, len - i, &off))
		return -1;
	if (ms)
		*ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		    sec - off) * 1000) + frac;
	return 0;
}

void
rfc3339_format(int64_t ms, char *out)
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
	int64_t rem = secs - days * 86400, z, era, doe, yoe, doy, mp, y;
	int m, d;

	/* civil_from_days, the inverse of days_from_civil */
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (int)(doy - (153 * mp + 2) / 5 + 1);
	m = (int)(mp < 10 ? mp + 3 : mp - 9);
	y += m <= 2;
	snprintf(out, RFC3339_MS_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	    (unsigned)(y % 10000) % 10000, (unsigned)m % 13, (unsigned)d % 32,
	    (unsigned)(rem / 3600) % 24, (unsigned)(rem / 60 % 60) % 60,
	    (unsigned)(rem % 60) % 60, (unsigned)(ms - secs * 1000) % 1000);
}
