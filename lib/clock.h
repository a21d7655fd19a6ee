/*
 * clock.h - monotonic seconds, for backoffs, timeouts and the benchmarks'
 * measurements (never jumps with the wall clock), and the wall clock in
 * ms since 1970, for when events arrived.
 */
#ifndef AGG_CLOCK_H
#define AGG_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#endif
