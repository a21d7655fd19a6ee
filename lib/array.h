/*
 * array.h - room in growable arrays of any element type.
 */
#ifndef AGG_ARRAY_H
#define AGG_ARRAY_H

#include <stddef.h>

/*
 * Makes the array *arrayp (a pointer to the array's pointer), of *cap
 * elements of size bytes, hold at least need: the capacity doubles from
 * first (or from *cap) until it does, and new elements are zeroed.  0, or
 * -1 when out of memory or past SIZE_MAX, leaving both as they were.
 */
int	array_grow(void *arrayp, size_t *cap, size_t need, size_t size,
	    size_t first);

#endif
