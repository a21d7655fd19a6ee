/*
 * conn.h - connections on the event loop, apart from any protocol.
 *
 * A pool accepts on a listening socket (or adopts sockets it is given)
 * and owns each connection's descriptor and its two buffers, within one
 * memory budget for all of them.  It reads while the protocol wants
 * input and hands it the bytes; output the protocol queues is written
 * before the loop waits, or when the socket is writable again, and the
 * protocol hears when all of it has left; it keeps the deadlines, ends a
 * connection in order (linger: the write side shut, input read and
 * dropped, so that the close cannot reset replies the peer has not read),
 * and evicts idle connections past the connection limit.  It knows
 * nothing of what the bytes mean: the protocol (httpd.c) frames them.
 *
 * Single-threaded: every function from the loop's thread.
 */
#ifndef AGG_CONN_H
#define AGG_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ev.h"

struct conn;
struct conn_pool;

struct conn_config {
	size_t	 max_conns;	/* past it the longest idle one is closed */
	size_t	 max_buffered;	/* all connections' buffers together */
	int	 write_ms;	/* a reader that takes nothing for this long */
	int	 linger_ms;	/* the wait for the peer's close, at the end */
	/* Milliseconds of a monotonic clock: ev_now unless tests inject one. */
	uint64_t (*clock)(void *arg);
	void	*clock_arg;
};

/* What the protocol does with a connection; each may be called only
   from the loop's events and hooks, never from inside a conn_ call. */
struct conn_ops {
	/* A new connection: its protocol state (conn_set_data); -1 refuses. */
	int	(*opened)(struct conn *, void *arg);
	/* Input came (conn_in), or the peer's EOF (conn_eof), or the input
	   buffer could not grow within the budget (full). */
	void	(*input)(struct conn *, int full, void *arg);
	/* All queued output has left: the protocol may go on. */
	void	(*drained)(struct conn *, void *arg);
	/* The deadline set with conn_set_deadline has passed. */
	void	(*timeout)(struct conn *, void *arg);
	/* The connection is being freed (the peer went, a timeout, a
	   close): the last call, after which conn must not be used. */
	void	(*closed)(struct conn *, void *arg);
	/* One connection past max_conns with none to evict: queue a
	   refusal and conn_finish it (it is closed right after). */
	void	(*refused)(struct conn *, void *arg);
	/* While input is not wanted, the peer closed its side (FIN) or the
	   connection broke (conn_gone): a request held for later may be
	   answered now.  May be NULL. */
	void	(*hangup)(struct conn *, void *arg);
};

#define CONN_PROGRESS	(16 * 1024)	/* bytes that move a body deadline */

void		 conn_config_defaults(struct conn_config *);

/* Takes the listening socket (or -1: only conn_adopt). */
struct conn_pool *conn_pool_new(struct ev_loop *, int listen_fd,
		    const struct conn_config *, const struct conn_ops *,
		    void *arg);
/* Closes every connection (each gets closed) and the listener. */
void		 conn_pool_free(struct conn_pool *);
/* A connected, non-blocking socket as a connection; -1 on failure. */
int		 conn_adopt(struct conn_pool *, int fd);
/* Timeouts and evictions; the pool's tick calls it every 250 ms. */
void		 conn_pool_tick(struct conn_pool *);
/* Stops accepting (the listener is closed). */
void		 conn_pool_stop_accepting(struct conn_pool *);
size_t		 conn_pool_count(const struct conn_pool *);
size_t		 conn_pool_buffered(const struct conn_pool *);
uint64_t	 conn_pool_now(const struct conn_pool *);
/* Calls fn for every connection (it may close the one it is given). */
void		 conn_pool_each(struct conn_pool *, void (*fn)(struct conn *,
		    void *), void *arg);

void		 conn_set_data(struct conn *, void *);
void		*conn_data(const struct conn *);

/* The bytes read and not consumed yet; the buffer may move when it grows. */
struct buf	*conn_in(struct conn *);
void		 conn_consume(struct conn *, size_t n);
/*
 * A hint for the next reads: the input will be want bytes long in all (a
 * body of known length), so the buffer grows to that and no further in
 * one step; 0: no hint.
 */
void		 conn_expect(struct conn *, size_t want);
/* Reading on or off: off, input waits in the kernel. */
void		 conn_read(struct conn *, int on);
int		 conn_eof(const struct conn *);
/* Bytes read since the last call: what moves a body's deadline. */
size_t		 conn_take_progress(struct conn *);

/*
 * Room for len more bytes of output, within the budget: a pointer to
 * them, to be committed with conn_wrote; NULL when over the budget.
 * conn_write copies (0 or -1).
 */
char		*conn_out_reserve(struct conn *, size_t len);
void		 conn_wrote(struct conn *, size_t len);
int		 conn_write(struct conn *, const void *, size_t);
/*
 * b's bytes go out after what is queued, without a copy: the connection
 * takes its memory (b is left empty).  Over the budget, or behind
 * another given buffer, they are copied instead (and b freed); -1 when
 * that fails.
 */
int		 conn_give(struct conn *, struct buf *b);
size_t		 conn_queued(const struct conn *);
/*
 * A small message sent at once, bypassing the budget (the 503 that says
 * the budget is spent): only when nothing is queued before it.  -1 when
 * it cannot leave whole now.
 */
int		 conn_send_now(struct conn *, const void *, size_t);

/* The read deadline (0: none), on the pool's clock. */
void		 conn_set_deadline(struct conn *, uint64_t at);
/* Idle since (0: busy): idle connections are evicted past max_conns. */
void		 conn_set_idle(struct conn *, uint64_t since);
uint64_t	 conn_idle_since(const struct conn *);

/*
 * The end: once queued output has left, the write side is shut and input
 * dropped until the peer's EOF or linger_ms (then closed).  conn_close
 * ends it at once; conn_close_idle closes a connection with nothing
 * queued, lingering only when the peer's bytes wait unread (a close
 * over them would reset the connection).
 */
void		 conn_finish(struct conn *);
void		 conn_close(struct conn *);
void		 conn_close_idle(struct conn *);

/*
 * While the protocol holds a connection (a request being handled), it is
 * not freed: a peer that goes meanwhile marks it gone, and the free comes
 * at conn_release.  conn_gone says whether that happened.
 */
void		 conn_hold(struct conn *);
void		 conn_release(struct conn *);
/*
 * Counts n bytes that the protocol's handler holds for this connection
 * outside its buffers (a parsed copy of a body) against the budget, until
 * conn_release or the free; -1, and nothing counted, when over it.
 */
int		 conn_charge(struct conn *, size_t n);
int		 conn_gone(const struct conn *);

#endif
