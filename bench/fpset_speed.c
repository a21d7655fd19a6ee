/*
 * fpset_speed - adds N random fingerprints to an empty fingerprint set,
 * as the writer does over a store's life, and prints the rate, the worst
 * window of 10,000 adds (a growth, the first touch of a new table) and
 * the peak RSS.
 *
 * usage: fpset_speed [N]	(default 30000000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "clock.h"
#include "fpset.h"

#define WINDOW	10000

int
main(int argc, char **argv)
{
	struct fpset s;
	struct rusage ru;
	uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 30000000, i;
	uint64_t x = 88172645463325252ULL;
	double t0, tw, worst = 0, w;

	if (fpset_init(&s, 0) == -1)
		return 1;
	t0 = tw = mono_seconds();
	for (i = 1; i <= n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (fpset_add(&s, x, i) == -1)
			return 1;
		if (i % WINDOW == 0) {
			w = mono_seconds() - tw;
			if (w > worst)
				worst = w;
			tw = mono_seconds();
		}
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("adds=%llu adds_per_s=%.0f worst_%d_adds_ms=%.1f rss_mb=%.0f"
	    " table_mb=%.0f\n", (unsigned long long)n,
	    (double)n / (mono_seconds() - t0),
	    WINDOW, worst * 1e3, ru.ru_maxrss / 1024.0,
	    fpset_bytes(&s) / 1048576.0);
	fpset_free(&s);
	return 0;
}
