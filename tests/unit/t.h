/*
 * t.h - the smallest unit-test harness that prints TAP.
 *
 * A test file defines functions and runs them with T_RUN(fn) from main,
 * then returns t_done().  CHECK records a failure with its file and line
 * and carries on, so one run shows every broken assertion.
 */
#ifndef AGG_T_H
#define AGG_T_H

#include <stdio.h>
#include <string.h>

static int t_count, t_failures, t_cur_failed;

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		printf("#   %s:%d: CHECK(%s) failed\n",			\
		    __FILE__, __LINE__, #cond);				\
		t_cur_failed = 1;					\
	}								\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long t_a_ = (long long)(a), t_b_ = (long long)(b);	\
	if (t_a_ != t_b_) {						\
		printf("#   %s:%d: %s == %lld, want %lld\n",		\
		    __FILE__, __LINE__, #a, t_a_, t_b_);		\
		t_cur_failed = 1;					\
	}								\
} while (0)

#define CHECK_STR(got, gotlen, want) do {				\
	size_t t_wl_ = strlen(want);					\
	if ((size_t)(gotlen) != t_wl_ ||				\
	    memcmp((got), (want), t_wl_) != 0) {			\
		printf("#   %s:%d: got \"%.*s\", want \"%s\"\n",	\
		    __FILE__, __LINE__, (int)(gotlen), (got), (want));	\
		t_cur_failed = 1;					\
	}								\
} while (0)

#define T_RUN(fn) do {							\
	t_cur_failed = 0;						\
	fn();								\
	t_count++;							\
	if (t_cur_failed)						\
		t_failures++;						\
	printf("%sok %d - %s\n", t_cur_failed ? "not " : "",		\
	    t_count, #fn);						\
} while (0)

static inline int
t_done(void)
{
	printf("1..%d\n", t_count);
	return t_failures ? 1 : 0;
}

#endif
