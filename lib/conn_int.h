/*
 * conn_int.h - what conn.c (one connection) and conn_pool.c (accepting,
 * limits, deadlines, the flush before each wait) share.  Not for
 * protocols: they see conn.h only.
 */
#ifndef AGG_CONN_INT_H
#define AGG_CONN_INT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "ev.h"

struct conn {
	struct conn_pool *p;
	struct conn	*prev, *next;	/* all of the pool's */
	struct conn	*pend_next;	/* with output to write before the wait */
	int		 pending;
	int		 fd;
	struct buf	 in, out;
	size_t		 out_off;
	struct buf	 tail;		/* output adopted after out (conn_give) */
	size_t		 tail_off;
	size_t		 expect;	/* conn_expect */
	size_t		 progress;	/* bytes read since conn_take_progress */
	int		 reading;	/* the protocol wants input */
	int		 input_waits;	/* input came while not reading */
	int		 blocked;	/* a write met EAGAIN: wait for EV_WRITE */
	int		 eof;		/* the peer's FIN */
	int		 gone;		/* unreachable: free when not held */
	int		 doomed;	/* conn_close from inside a callback */
	int		 finishing;	/* conn_finish: end once output left */
	int		 lingering;	/* write side shut, draining input */
	int		 refusing;	/* past max_conns: drained once, closed */
	int		 busy;		/* inside an event or a callback */
	int		 held;
	size_t		 charged;	/* conn_charge, until conn_release */
	int		 hung_up;	/* the protocol was told it is gone */
	uint64_t	 deadline, write_deadline, idle_since;
	int		 unsent;	/* kernel's send queue at the last look */
	void		*data;
};

struct conn_pool {
	struct ev_loop	*loop;
	int		 lfd;
	int		 accept_paused;
	struct conn_config cfg;
	const struct conn_ops *ops;
	void		*arg;
	struct conn	*conns, *pending;
	size_t		 nconns, buffered;
	size_t		 big_round;	/* read into large buffers this round */
};

/* Frees c: the protocol's last word first. */
void	conn_destroy(struct conn *);
/* After an event or a callback: what was asked inside it takes effect. */
void	conn_settle(struct conn *);
/* Queued output goes out as far as the socket takes it. */
void	conn_write_out(struct conn *);
/* 1 when the kernel's send queue shrank since the last look. */
int	conn_peer_took(struct conn *);
void	conn_event(struct ev_loop *, int, unsigned, void *);

#endif
