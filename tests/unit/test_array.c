/* test_array.c - growable arrays: doubling, zeroed room, refusals. */
#include <stdint.h>
#include <stdlib.h>

#include "array.h"
#include "t.h"

static void
test_grow(void)
{
	int *v = NULL;
	size_t cap = 0, i;
	int zero = 1;

	CHECK_EQ(array_grow(&v, &cap, 0, sizeof(*v), 16), 0);
	CHECK(v == NULL);
	CHECK_EQ(array_grow(&v, &cap, 1, sizeof(*v), 16), 0);
	CHECK_EQ(cap, 16);
	v[15] = 7;
	CHECK_EQ(array_grow(&v, &cap, 17, sizeof(*v), 16), 0);
	CHECK_EQ(cap, 32);
	CHECK_EQ(v[15], 7);
	for (i = 16; i < cap; i++)
		zero &= v[i] == 0;
	CHECK(zero);
	CHECK_EQ(array_grow(&v, &cap, 1000, sizeof(*v), 16), 0);
	CHECK_EQ(cap, 1024);
	/* past what size_t can count: refused, nothing changed */
	CHECK_EQ(array_grow(&v, &cap, SIZE_MAX / 2, sizeof(*v), 16), -1);
	CHECK_EQ(cap, 1024);
	CHECK_EQ(v[15], 7);
	free(v);
}

int
main(void)
{
	T_RUN(test_grow);
	return t_done();
}
