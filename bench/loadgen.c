/*
 * loadgen - the benchmark's load generator: keep-alive HTTP/1.1 POSTs of
 * pre-built event batches over N connections, closed loop (as fast as
 * answers come) or open loop at a fixed request rate, with per-request
 * latency.  Bodies are built before the clock starts so that generating
 * them does not compete with aggd for the two cores.
 *
 * Events: 36-char random UUIDv4 ids, 10 topics, ~70-byte payload; an exact
 * share of them re-send an earlier event of the same run, byte for byte.
 *
 * usage: loadgen -a HOST:PORT [-c conns] [-b batch] [-n requests]
 *        [-D share] [-r rate] [-s seed] [-o offset]
 *        loadgen -w FILE [-b batch] [-n requests] [-D share] [-s seed] [-o offset]
 * (-w: the same request bodies, one a line, into FILE instead: for
 * bench/pgdirect, which writes them into PostgreSQL without aggd)
 * prints one line: key=value pairs (events_per_s, req_per_s, p50_ms, ...,
 * and cpu_us_per_req, loadgen's own CPU time, so that the benchmark can
 * tell how much of the two cores the server had)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"

struct conn {
	int		 fd;
	size_t		 req;		/* index of the request in flight */
	int		 busy;
	size_t		 sent;
	char		 in[4096];
	size_t		 inlen;
	double		 start;
};

struct run {
	struct buf	*bodies;
	size_t		 nreq;
	size_t		 next;		/* next request to send */
	size_t		 done;
	double		*lat;
	double		 rate, t0;
	unsigned long long unique, dups, errors;
	char		 head[256];
};

/* CLOCK_MONOTONIC for latency, CLOCK_PROCESS_CPUTIME_ID for CPU used. */
static double
seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static void
put_event(struct buf *b, uint64_t seed, uint64_t k)
{
	static const char *topics[] = { "orders", "payments", "shipping",
	    "users", "carts", "search", "reviews", "stock", "refunds", "mail" };
	uint64_t a = mix(seed ^ mix(k)), c = mix(a);

	buf_printf(b, "{\"topic\":\"%s\",\"event_id\":\"%08x-%04x-4%03x-%04x-%012llx\","
	    "\"timestamp\":\"2025-10-21T10:%02u:%02u.%03uZ\",\"source\":\"bench-%u\","
	    "\"payload\":{\"amount\":%u.%02u,\"items\":%u,\"currency\":\"EUR\","
	    "\"customer\":{\"id\":%u,\"tier\":\"gold\"}}}",
	    topics[a % 10], (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
	    (unsigned)a & 0xfff, (unsigned)(0x8000 | ((c >> 48) & 0x3fff)),
	    (unsigned long long)(c & 0xffffffffffffULL),
	    (unsigned)(k / 60 % 60), (unsigned)(k % 60), (unsigned)(k % 1000),
	    (unsigned)(c % 8), (unsigned)(c % 1000), (unsigned)(c >> 10) % 100,
	    (unsigned)(c >> 20) % 10 + 1, (unsigned)(c >> 30) % 100000);
}

/* Event number i of the run: the share dup are re-sends of earlier ones. */
static void
build(struct run *r, size_t batch, double dup, uint64_t seed, uint64_t offset)
{
	uint64_t i, k = 0, orig = 0;
	size_t q, j;
	struct buf body;

	buf_init(&body);
	r->bodies = calloc(r->nreq, sizeof(*r->bodies));
	for (q = 0; q < r->nreq; q++) {
		body.len = 0;
		buf_putc(&body, '[');
		for (j = 0; j < batch; j++, k++) {
			i = k;
			if (orig > 0 && floor((double)(k + 1) * dup) >
			    floor((double)k * dup))
				i = offset + mix(seed + k) % orig;	/* a re-send */
			else
				i = offset + orig++;
			if (j)
				buf_putc(&body, ',');
			put_event(&body, seed, i);
		}
		buf_putc(&body, ']');
		buf_printf(&r->bodies[q], "POST /publish HTTP/1.1\r\nHost: bench\r\n"
		    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		    body.len);
		buf_append(&r->bodies[q], body.data, body.len);
	}
	buf_free(&body);
}

/* The bodies without their heads, one a line (they hold no newline). */
static int
write_bodies(const struct run *r, const char *path)
{
	FILE *f = fopen(path, "w");
	size_t q;
	char *body;

	if (f == NULL) {
		perror(path);
		return 1;
	}
	for (q = 0; q < r->nreq; q++) {
		body = (char *)memmem(r->bodies[q].data, r->bodies[q].len,
		    "\r\n\r\n", 4) + 4;
		fwrite(body, 1, r->bodies[q].len - (size_t)(body -
		    r->bodies[q].data), f);
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : 1;
}

static int
dial(const char *addr)
{
	struct sockaddr_in sin;
	char host[64];
	const char *colon = strrchr(addr, ':');
	int fd, one = 1;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static unsigned long long
field(const char *s, const char *name)
{
	const char *p = strstr(s, name);

	return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

/* Blocking send of a whole request: bodies are small next to socket buffers,
 * and a closed loop waits for the answer anyway. */
static int
send_req(struct run *r, struct conn *c, double t)
{
	struct buf *b = &r->bodies[r->next];
	ssize_t n;
	size_t off = 0;

	c->req = r->next++;
	c->busy = 1;
	c->inlen = 0;
	c->start = r->rate > 0 ? r->t0 + (double)c->req / r->rate : t;
	while (off < b->len) {
		n = send(c->fd, b->data + off, b->len - off, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* 1 when a whole response is in c->in. */
static int
recv_resp(struct run *r, struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
	char *end;
	size_t len;

	if (n <= 0)
		return -1;
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if ((end = strstr(c->in, "\r\n\r\n")) == NULL)
		return 0;
	len = (size_t)field(c->in, "Content-Length: ");
	if (c->inlen < (size_t)(end + 4 - c->in) + len)
		return 0;
	if (strncmp(c->in, "HTTP/1.1 200", 12) != 0) {
		if (r->errors++ < 3)
			fprintf(stderr, "loadgen: %.*s\n", (int)(strchr(c->in, '\r') - c->in), c->in);
	}
	r->unique += field(end, "\"unique\":");
	r->dups += field(end, "\"duplicates\":");
	return 1;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
pump(struct run *r, struct conn *cs, int nconn, int ep)
{
	struct epoll_event ev[64];
	struct timespec timeout;
	double t = seconds(CLOCK_MONOTONIC), wait;
	int i, n, idle = 0;

	for (i = 0; i < nconn; i++) {
		if (cs[i].busy)
			continue;
		if (r->next < r->nreq &&
		    (r->rate == 0 || t >= r->t0 + (double)r->next / r->rate)) {
			if (send_req(r, &cs[i], t) == -1) {
				perror("loadgen: send");
				exit(1);
			}
		} else
			idle++;
	}
	/*
	 * A timeout in whole milliseconds would be 0 for most gaps at rates
	 * above 1000/s, and the spinning would take a core from aggd.  With
	 * every connection busy only an answer can let the next request go
	 * (its latency counts from when it was due): wait for one, for the
	 * same reason.
	 */
	wait = r->rate > 0 && r->next < r->nreq && idle > 0 ?
	    r->t0 + (double)r->next / r->rate - t : 0.1;
	if (wait < 0)
		wait = 0;
	timeout.tv_sec = (time_t)wait;
	timeout.tv_nsec = (long)((wait - (double)timeout.tv_sec) * 1e9);
	n = epoll_pwait2(ep, ev, 64, &timeout, NULL);
	t = seconds(CLOCK_MONOTONIC);
	for (i = 0; i < n; i++) {
		struct conn *c = &cs[ev[i].data.u32];
		int rc = recv_resp(r, c);
		if (rc == -1) {
			fprintf(stderr, "loadgen: connection closed by server\n");
			exit(1);
		}
		if (rc == 1) {
			r->lat[r->done++] = t - c->start;
			c->busy = 0;
		}
	}
}

int
main(int argc, char **argv)
{
	const char *addr = NULL;
	const char *out = NULL;
	int nconn = 1, ch, i, ep;
	size_t batch = 1, events;
	double dup = 0.2, t1, cpu0, cpu1;
	uint64_t seed = 1, offset = 0;
	struct run r;
	struct conn *cs;
	struct epoll_event ee;

	memset(&r, 0, sizeof(r));
	r.nreq = 1000;
	while ((ch = getopt(argc, argv, "a:c:b:n:D:r:s:o:w:")) != -1)
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'w': out = optarg; break;
		case 'c': nconn = atoi(optarg); break;
		case 'b': batch = (size_t)atol(optarg); break;
		case 'n': r.nreq = (size_t)atol(optarg); break;
		case 'D': dup = atof(optarg); break;
		case 'r': r.rate = atof(optarg); break;
		case 's': seed = strtoull(optarg, NULL, 10); break;
		case 'o': offset = strtoull(optarg, NULL, 10); break;
		default:
			fprintf(stderr, "usage: loadgen -a HOST:PORT [-c conns] [-b batch]"
			    " [-n requests] [-D share] [-r rate] [-s seed] [-o offset]\n");
			return 2;
		}
	if (out != NULL && batch >= 1) {
		build(&r, batch, dup, seed, offset);
		return write_bodies(&r, out);
	}
	if (addr == NULL || nconn < 1 || batch < 1) {
		fprintf(stderr, "loadgen: -a HOST:PORT is required\n");
		return 2;
	}
	build(&r, batch, dup, seed, offset);
	r.lat = calloc(r.nreq, sizeof(double));
	cs = calloc((size_t)nconn, sizeof(*cs));
	ep = epoll_create1(0);
	for (i = 0; i < nconn; i++) {
		if ((cs[i].fd = dial(addr)) == -1) {
			perror("loadgen: connect");
			return 1;
		}
		ee.events = EPOLLIN;
		ee.data.u32 = (uint32_t)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, cs[i].fd, &ee);
	}
	cpu0 = seconds(CLOCK_PROCESS_CPUTIME_ID);
	r.t0 = seconds(CLOCK_MONOTONIC);
	while (r.done < r.nreq)
		pump(&r, cs, nconn, ep);
	t1 = seconds(CLOCK_MONOTONIC);
	cpu1 = seconds(CLOCK_PROCESS_CPUTIME_ID);
	qsort(r.lat, r.done, sizeof(double), cmp_double);
	events = r.nreq * batch;
	printf("events=%zu seconds=%.3f events_per_s=%.0f req_per_s=%.0f"
	    " p50_ms=%.3f p99_ms=%.3f unique=%llu duplicates=%llu errors=%llu"
	    " cpu_us_per_req=%.1f\n",
	    events, t1 - r.t0, (double)events / (t1 - r.t0),
	    (double)r.nreq / (t1 - r.t0), r.lat[r.done / 2] * 1000,
	    r.lat[(size_t)((double)r.done * 0.99)] * 1000, r.unique, r.dups,
	    r.errors, (cpu1 - cpu0) * 1e6 / (double)r.nreq);
	for (i = 0; i < nconn; i++)
		close(cs[i].fd);
	for (size_t q = 0; q < r.nreq; q++)
		buf_free(&r.bodies[q]);
	free(r.bodies);
	free(r.lat);
	free(cs);
	close(ep);
	return r.errors ? 1 : 0;
}
