/*
 * aggpub.h - what the parts of aggpub share: options, the generator, the
 * NDJSON reader and the sender.  See main.c for the design.
 */
#ifndef AGGPUB_H
#define AGGPUB_H

#include <curl/curl.h>
#include <signal.h>
#include <stdint.h>

#include "buf.h"
#include "cli.h"
#include "client.h"
#include "event.h"

#define COUNT_MAX	1000000000000ULL	/* keeps years below 10000 */
#define BATCH_MAX	100000
#define CONC_MAX	256
#define TOPICS_MAX	1000000
#define RETRIES_MAX	1000000
#define BACKOFF_MIN_MS	100
#define BACKOFF_MAX_MS	2000
#define RETRY_AFTER_MAX	60		/* seconds */
#define CONNECT_TIMEOUT	10L		/* seconds */
#define REQUEST_TIMEOUT	60L		/* seconds */
#define FLUSH_MS	200		/* partial batch from a stream */
#define LINE_MAX_BYTES	(1024 * 1024)
#define READ_CHUNK	65536
#define EVENT_MAX	512		/* bytes of one generated event */
#define DUP_WINDOW	64		/* "recent" originals */
#define OUT_CHUNK	1024		/* events per write in NDJSON mode */
#define BASE_MS		1761040800000ULL	/* 2025-10-21T10:00:00Z */
#define GOLDEN		0x9e3779b97f4a7c15ULL

/* splitmix64: a bijective mixer; SM_NEXT steps a generator by GOLDEN. */
#define SM_NEXT(s)	mix64((s) += GOLDEN)

struct opts {
	uint64_t	 count, seed, topics, batch, conc, retries;
	double		 share;
	const char	*url, *token, *output;
	char		 token_buf[CLI_TOKEN_MAX + 1];	/* --token-file */
	volatile sig_atomic_t *interrupted;
	int		 quiet, gen_flags, nfiles;
	char		**files;
};

struct gen {
	uint64_t	 n, dups, seed, topics;
	uint64_t	 pos, uniq, acc;	/* Bresenham over positions */
};

struct reader {
	char		**files;
	int		 nfiles, next, fd;	/* fd -1 between files */
	const char	*name;			/* the path, or "stdin" */
	long		 line;
	struct buf	 in;		/* bytes not yet taken as lines */
	struct event_batch pend;	/* parsed, not yet handed out */
	uint64_t	 first_ms;	/* when pend got its first event */
	unsigned long	 bad;		/* lines skipped, files unreadable */
};

enum { NEXT_BATCH, NEXT_WAIT, NEXT_EOF, NEXT_ERR };

enum { SLOT_IDLE, SLOT_WAIT, SLOT_BUSY };

struct slot {
	CURL		*h;
	struct buf	 body, resp;
	uint64_t	 nev, tries;	/* events in body, sends of it */
	uint64_t	 due;		/* clock ms of the next send */
	int		 state;
	char		 err[CURL_ERROR_SIZE];
};

struct sender {
	int		 reading;	/* the reader, else the generator */
	struct gen	 gen;
	struct reader	 rd;
	int		 wfd, wms;	/* input to wait for, how long; or -1 */
	size_t		 batch;
	CURLM		*multi;
	struct slot	*slot;
	size_t		 nslot, active;	/* slots, those not idle */
	struct curl_slist *hdrs;
	char		 url[CLIENT_URL_MAX];
	uint64_t	 max_retries, total, rng, start, shown_at;
	uint64_t	 sent, unique, dups, retries;
	int		 quiet, tty, shown, healthy;
	volatile sig_atomic_t *interrupted;	/* by SIGINT or SIGTERM */
};


/* gen.c */
uint64_t	mix64(uint64_t);
void		gen_init(struct gen *, const struct opts *);
int		gen_batch(struct gen *, struct buf *, uint64_t count);

/* reader.c */
int		reader_next(struct reader *, size_t max, struct buf *body,
		    uint64_t *nev, int *wfd, int *wms);
void		reader_close(struct reader *);

/* send.c */
int		sender_init(struct sender *, const struct opts *);
void		sender_free(struct sender *);
int		send_all(struct sender *);
void		summary(struct sender *);

#endif
