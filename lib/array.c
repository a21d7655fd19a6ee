/*
 * array.c - room in growable arrays; see array.h.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

int
array_grow(void *arrayp, size_t *cap, size_t need, size_t size,
    size_t first)
{
	size_t n = *cap ? *cap : first;
	char *v;

	if (need <= *cap)
		return 0;
	if (need > SIZE_MAX / 2 / size)
		return -1;
	while (n < need)
		n *= 2;
	/* The caller's pointer is read and written as bytes: any type. */
	memcpy(&v, arrayp, sizeof(v));
	if ((v = realloc(v, n * size)) == NULL)
		return -1;
	memset(v + *cap * size, 0, (n - *cap) * size);
	memcpy(arrayp, &v, sizeof(v));
	*cap = n;
	return 0;
}
