/*
 * clock.h - monotonic seconds, for backoffs, timeouts and the benchmarks'
 * measurements: never jumps with the wall clock.
 */
#ifndef AGG_CLOCK_H
#define AGG_CLOCK_H

#include <time.h>

static inline double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
