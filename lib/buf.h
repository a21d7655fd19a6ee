/*
 * buf.h - a growable byte buffer.
 *
 * Invariant: data[0..len) is valid; cap >= len; data is NULL only while cap
 * is 0.  Every grow is checked; on allocation failure the buffer is left as
 * it was and -1 is returned.
 */
#ifndef AGG_BUF_H
#define AGG_BUF_H

#include <stddef.h>

/* A buffer of this capacity and more is a mapping of its own (buf.c). */
#define BUF_BIG		(2u << 20)

struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};

void	buf_init(struct buf *);
void	buf_free(struct buf *);
int	buf_reserve(struct buf *, size_t extra);
/* Sets the capacity to cap, which must be >= len (0 frees); from 2 MiB up
   rounded up to a multiple of 2 MiB. */
int	buf_resize(struct buf *, size_t cap);
int	buf_append(struct buf *, const void *, size_t);
int	buf_putc(struct buf *, char);
int	buf_puts(struct buf *, const char *);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	buf_consume(struct buf *, size_t);
/* NUL-terminates without counting the NUL in len. */
int	buf_cstr(struct buf *);

#endif
