/* test_units.c - sizes and durations: units, bounds, refusals. */
#include <stdint.h>

#include "t.h"
#include "units.h"

static void
test_size(void)
{
	uint64_t v = 7;

	CHECK_EQ(units_size("0", &v), 0);
	CHECK_EQ(v, 0);
	CHECK_EQ(units_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(units_size("16M", &v), 0);
	CHECK_EQ(v, 16ULL << 20);
	CHECK_EQ(units_size("500m", &v), 0);
	CHECK_EQ(v, 500ULL << 20);
	CHECK_EQ(units_size("10G", &v), 0);
	CHECK_EQ(v, 10ULL << 30);
	CHECK_EQ(units_size("2T", &v), 0);
	CHECK_EQ(v, 2ULL << 40);
	CHECK_EQ(units_size("1k", &v), 0);
	CHECK_EQ(v, 1024);
	/* 2^62 is the bound: 4194304T is 2^62, one more K is not */
	CHECK_EQ(units_size("4194304T", &v), 0);
	CHECK_EQ(units_size("4194305T", &v), -1);
	CHECK_EQ(units_size("99999999999999999999", &v), -1);
	v = 7;
	CHECK_EQ(units_size("", &v), -1);
	CHECK_EQ(units_size("M", &v), -1);
	CHECK_EQ(units_size("-1M", &v), -1);
	CHECK_EQ(units_size(" 1M", &v), -1);
	CHECK_EQ(units_size("1MB", &v), -1);
	CHECK_EQ(units_size("1.5G", &v), -1);
	CHECK_EQ(units_size("1P", &v), -1);
	CHECK_EQ(units_size("1@", &v), -1);
	CHECK_EQ(units_size("1 M", &v), -1);
	CHECK_EQ(v, 7);		/* untouched by a refusal */
}

static void
test_duration(void)
{
	uint64_t v = 7;

	CHECK_EQ(units_duration_ms("45s", &v), 0);
	CHECK_EQ(v, 45000);
	CHECK_EQ(units_duration_ms("30m", &v), 0);
	CHECK_EQ(v, 30 * 60000ULL);
	CHECK_EQ(units_duration_ms("12h", &v), 0);
	CHECK_EQ(v, 12 * 3600000ULL);
	CHECK_EQ(units_duration_ms("90d", &v), 0);
	CHECK_EQ(v, 90 * 86400000ULL);
	CHECK_EQ(units_duration_ms("0s", &v), 0);
	CHECK_EQ(v, 0);
	v = 7;
	CHECK_EQ(units_duration_ms("30", &v), -1);	/* 30 what? */
	CHECK_EQ(units_duration_ms("", &v), -1);
	CHECK_EQ(units_duration_ms("s", &v), -1);
	CHECK_EQ(units_duration_ms("1.5h", &v), -1);
	CHECK_EQ(units_duration_ms("1w", &v), -1);
	CHECK_EQ(units_duration_ms("1S", &v), -1);
	CHECK_EQ(units_duration_ms("1ms", &v), -1);
	CHECK_EQ(units_duration_ms("-1d", &v), -1);
	CHECK_EQ(units_duration_ms("10h30m", &v), -1);
	CHECK_EQ(units_duration_ms("99999999999999999d", &v), -1);
	CHECK_EQ(v, 7);
}

int
main(void)
{
	T_RUN(test_size);
	T_RUN(test_duration);
	return t_done();
}
