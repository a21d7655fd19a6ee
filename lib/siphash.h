/*
 * siphash.h - SipHash-2-4, a keyed 64-bit hash.  Keyed so that nobody who
 * does not know the store's key can choose event ids that collide in the
 * dedup set and slow it down.
 */
#ifndef AGG_SIPHASH_H
#define AGG_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

struct siphash_key {
	uint64_t k0, k1;
};

uint64_t	siphash(const struct siphash_key *, const void *, size_t);

#endif
