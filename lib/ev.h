/*
 * ev.h - a tiny, protocol-free event loop: readiness callbacks on file
 * descriptors (epoll behind this seam), a few periodic ticks for timeouts,
 * and a hook that runs before each wait.  Single-threaded: only the
 * thread that runs the loop may call these functions.
 */
#ifndef AGG_EV_H
#define AGG_EV_H

#include <stdint.h>

#define EV_READ		1u
#define EV_WRITE	2u
#define EV_ERROR	4u	/* hang-up or error; always reported */

struct ev_loop;

typedef void	ev_fd_fn(struct ev_loop *, int fd, unsigned events, void *arg);
typedef void	ev_fn(struct ev_loop *, void *arg);

struct ev_loop	*ev_new(void);
void		 ev_free(struct ev_loop *);

/* Watches fd for mask (EV_READ|EV_WRITE, may be 0); replaces an older watch. */
int		 ev_watch(struct ev_loop *, int fd, unsigned mask, ev_fd_fn *, void *);
/* What fd is watched for now: 0 when it is not watched. */
unsigned	 ev_watching(const struct ev_loop *, int fd);
void		 ev_unwatch(struct ev_loop *, int fd);

/* Periodic callbacks, at most EV_MAX_TICKS; for timeouts, not precision. */
#define EV_MAX_TICKS	4
int		 ev_add_tick(struct ev_loop *, int ms, ev_fn *, void *);

/*
 * Callbacks run, in the order added, before each wait, at most
 * EV_MAX_HOOKS: where work gathered in a round goes out (replies flushed,
 * a writer woken).  A hook that leaves work for the next round calls
 * ev_again, and the wait that follows does not sleep.
 */
#define EV_MAX_HOOKS	4
int		 ev_add_before_wait(struct ev_loop *, ev_fn *, void *);
void		 ev_again(struct ev_loop *);

/* Runs until ev_stop; returns 0, or -1 if epoll_wait failed. */
int		 ev_run(struct ev_loop *);
/* One round: the hooks, a wait of at most ms (-1: until an event), the
   callbacks of what happened, the ticks that are due.  For tests. */
int		 ev_run_once(struct ev_loop *, int ms);
void		 ev_stop(struct ev_loop *);

/* Monotonic milliseconds, refreshed each time the loop wakes. */
uint64_t	 ev_now(const struct ev_loop *);
uint64_t	 ev_clock_ms(void);

#endif
