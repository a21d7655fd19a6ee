/*
 * fuzz.h - what the libFuzzer targets share: an assertion that names the
 * broken invariant and aborts, so the fuzzer (and replay) report it with a
 * stack trace, and the entry point every target defines.
 */
#ifndef AGG_FUZZ_H
#define AGG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#endif
