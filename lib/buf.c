/* buf.c - growable byte buffer; see buf.h for the invariants. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/mman.h>

#include "buf.h"

/*
 * Buffers of BIG_BUF and more live in their own mapping of transparent
 * huge pages: the first touch of a 16 MiB body costs 8 page faults of
 * 2 MiB instead of 4096 of 4 KiB (1.5 ms instead of 50 ms on the 2-core
 * VM, 2026-12-07), and that touch happens on the event loop as the body
 * is read.  They grow by mremap, which moves page tables instead of
 * copying (and touching) what they hold.  cap >= BIG_BUF if and only if
 * data is such a mapping.
 * (AddressSanitizer does not watch these: the small ones it does.)
 */
#define BIG_BUF		BUF_BIG

static char *
big_alloc(size_t cap)
{
	size_t span = cap + BIG_BUF;
	char *p, *a;

	p = mmap(NULL, span, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	/* aligned to a huge page, the rest given back */
	a = (char *)(((uintptr_t)p + BIG_BUF - 1) & ~((uintptr_t)BIG_BUF - 1));
	if (a > p)
		munmap(p, (size_t)(a - p));
	if (a + cap < p + span)
		munmap(a + cap, (size_t)(p + span - (a + cap)));
	(void)madvise(a, cap, MADV_HUGEPAGE);	/* a hint: fine without */
	return a;
}

static void
data_free(char *data, size_t cap)
{
	if (cap >= BIG_BUF)
		munmap(data, cap);
	else
		free(data);
}

/* Moves b to storage of exactly cap (already rounded when big). */
static int
move_to(struct buf *b, size_t cap)
{
	char *p;

	if (cap < BIG_BUF && b->cap < BIG_BUF) {
		if ((p = realloc(b->data, cap)) == NULL)
			return -1;
	} else if (cap >= BIG_BUF && b->cap >= BIG_BUF) {
		p = mremap(b->data, b->cap, cap, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			return -1;
		if (cap > b->cap)
			(void)madvise(p + b->cap, cap - b->cap, MADV_HUGEPAGE);
	} else {
		if ((p = cap >= BIG_BUF ? big_alloc(cap) : malloc(cap)) == NULL)
			return -1;
		if (b->len)
			memcpy(p, b->data, b->len);
		data_free(b->data, b->cap);
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

static size_t
round_cap(size_t cap)
{
	if (cap < BIG_BUF || cap > SIZE_MAX - BIG_BUF)
		return cap;
	return (cap + BIG_BUF - 1) & ~((size_t)BIG_BUF - 1);
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	data_free(b->data, b->cap);
	buf_init(b);
}

int
buf_reserve(struct buf *b, size_t extra)
{
	size_t need, cap;

	if (extra > SIZE_MAX - b->len)
		return -1;
	need = b->len + extra;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	return move_to(b, round_cap(cap));
}

int
buf_resize(struct buf *b, size_t cap)
{

	if (cap < b->len)
		return -1;
	if (cap == 0) {
		buf_free(b);
		return 0;
	}
	cap = round_cap(cap);
	return cap == b->cap ? 0 : move_to(b, cap);
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_putc(struct buf *b, char c)
{
	if (b->len == b->cap && buf_reserve(b, 1) == -1)
		return -1;
	b->data[b->len++] = c;
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_reserve(b, (size_t)n + 1) == -1)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

int
buf_cstr(struct buf *b)
{
	if (buf_reserve(b, 1) == -1)
		return -1;
	b->data[b->len] = '\0';
	return 0;
}
