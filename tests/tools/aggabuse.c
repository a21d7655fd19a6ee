/*
 * aggabuse - abusive and normal HTTP clients for tests/0700-aggd-abuse.bats
 * and tests/0600-aggd-faults.bats.  Standalone (libc only), so a test can
 * build it with `cc -O2 -o X tests/tools/aggabuse.c`.
 *
 *   aggabuse idle HOST:PORT N SECONDS
 *	opens N connections that never send a byte, then acts as a normal
 *	client for SECONDS (publish one new event, GET /stats, GET /events,
 *	one request in 20 on a new connection); prints
 *	idle_open= requests= ok= p50_ms= p99_ms= max_ms= codes=...
 *   aggabuse slowhead HOST:PORT	a header block, 1 byte every 2 s
 *   aggabuse slowbody HOST:PORT	a body, 1 KiB every 2 s (5 KiB per 10 s)
 *	print status= seconds= (from the first byte of the slow part)
 *	closed=1|0 (the server closed within 3 s of its answer)
 *   aggabuse bigcl HOST:PORT BYTES	headers announcing BYTES, no body
 *   aggabuse chunked HOST:PORT MIB	a chunked body of MIB MiB
 *   aggabuse bighdr HOST:PORT BYTES	one header line of BYTES bytes
 *	send while reading, stop sending at the answer; print status=
 *	seconds= sent= (bytes of body or header sent when it came)
 *   aggabuse steadybody HOST:PORT KIB
 *	one event padded to KIB KiB, 4 KiB every 0.1 s; print status= seconds=
 *   aggabuse halfclose HOST:PORT BYTES
 *	100 pipelined GET /healthz of BYTES in all, sent while a long poll
 *	holds the connection, then a FIN; print answered= (of 100)
 *   aggabuse headeronly HOST:PORT N BYTES
 *	N connections announce a body of BYTES and send none; then one
 *	GET /healthz on a new connection; print status=
 *   aggabuse pipeline HOST:PORT REQUESTS GOFILE OUTFILE [MORE]
 *	sends REQUESTS on one connection, reads until 64 KiB of answers
 *	came, prints "reading", waits until GOFILE exists, sends MORE, then
 *	reads the rest 64 KiB every 5 ms into OUTFILE (everything received);
 *	prints end=eof|reset|timeout bytes=N
 *   aggabuse halfpost HOST:PORT BODYFILE GOFILE
 *	POST /publish of BODYFILE (NDJSON): the head and half the body,
 *	prints "sent", waits until GOFILE exists, sends the rest; prints
 *	status= and the answer's body on a line of its own
 *   aggabuse replies - FILE
 *	reads a stream of HTTP responses saved in FILE; prints replies=N
 *	(whole ones) rest=N (bytes after the last whole one) close=1|0 (the
 *	last says Connection: close) statuses=S,S,...
 *   aggabuse waitmetric HOST:PORT NAME OP VALUE
 *	GET /metrics every 10 ms until metric NAME is OP (>= or <=) VALUE
 *	(exit 0) or 60 s have passed (exit 1); with $AGG_TOKEN when set
 *   aggabuse freeport HOST:0
 *	prints a port that was free a moment ago
 *   aggabuse serve HOST:0 SECONDS RESPONSE
 *	a fake aggd: prints its port, then answers every request for SECONDS
 *	with RESPONSE (status line, headers and body, as given) and closes
 *
 * Exit 0 when the client ran (whatever the server said), 1 on a local or
 * connection error.  status=0 means no answer came.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in addr;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
dial(void)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Reads one response into buf (NUL-terminated); returns its status, 0 when
 * the connection ended first, -1 on timeout.
 */
static int
read_response(int fd, char *buf, size_t cap, int timeout_ms)
{
	size_t len = 0, need = 0;
	double end = now() + timeout_ms / 1000.0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;
	char *h, *cl;

	for (;;) {
		int left = (int)((end - now()) * 1000);
		if (left <= 0 || poll(&p, 1, left) == 0)
			return -1;
		n = read(fd, buf + len, cap - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = 0;
		if (need == 0 && (h = strstr(buf, "\r\n\r\n")) != NULL) {
			cl = strcasestr(buf, "\r\nContent-Length:");
			need = (size_t)(h + 4 - buf) +
			    (cl && cl < h ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (need && len >= need)
			break;
		if (len == cap - 1)
			break;
	}
	buf[len] = 0;
	if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0)
		return 0;
	return atoi(buf + 9);
}

/* 1 when the peer closes within ms, 0 otherwise. */
static int
closed_within(int fd, int ms)
{
	char b[4096];
	double end = now() + ms / 1000.0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		int left = (int)((end - now()) * 1000);
		if (left <= 0 || poll(&p, 1, left) == 0)
			return 0;
		n = read(fd, b, sizeof(b));
		if (n <= 0)
			return 1;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
normal_request(int *fd, unsigned long k, int fresh, char *resp, size_t cap)
{
	char req[1024], body[512];
	int blen, rlen, st;

	if (fresh || *fd == -1) {
		if (*fd != -1)
			close(*fd);
		if ((*fd = dial()) == -1)
			return 0;
	}
	switch (k % 3) {
	case 0:
		blen = snprintf(body, sizeof(body), "{\"topic\":\"normal\","
		    "\"event_id\":\"n%d-%lu\",\"timestamp\":\"2025-10-21T10:00:00Z\","
		    "\"source\":\"aggabuse\",\"payload\":{\"k\":%lu}}",
		    (int)getpid(), k, k);
		rlen = snprintf(req, sizeof(req), "POST /publish HTTP/1.1\r\n"
		    "Host: t\r\nContent-Type: application/json\r\n"
		    "Content-Length: %d\r\n\r\n%s", blen, body);
		break;
	case 1:
		rlen = snprintf(req, sizeof(req),
		    "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n");
		break;
	default:
		rlen = snprintf(req, sizeof(req),
		    "GET /events?topic=normal&limit=10 HTTP/1.1\r\nHost: t\r\n\r\n");
		break;
	}
	if (write_all(*fd, req, (size_t)rlen) == -1) {
		close(*fd);
		*fd = -1;
		return 0;
	}
	st = read_response(*fd, resp, cap, 5000);
	if (st <= 0 || strcasestr(resp, "\r\nConnection: close") != NULL) {
		close(*fd);
		*fd = -1;
	}
	return st;
}

static int
cmd_idle(int n, double seconds)
{
	int *idle = calloc((size_t)n + 1, sizeof(int)), fd = -1, st, open_ = 0;
	static char resp[1 << 20];
	size_t nlat = 0, cap = 1 << 20, i;
	double *lat = malloc(cap * sizeof(double)), t, end;
	unsigned long k = 0, ok = 0, codes[600] = { 0 };

	for (i = 0; i < (size_t)n; i++)
		if ((idle[i] = dial()) == -1) {
			fprintf(stderr, "aggabuse: connect %zu: %s\n", i,
			    strerror(errno));
			return 1;
		}
	sleep(1);	/* let aggd accept them all */
	end = now() + seconds;
	while (now() < end && nlat < cap) {
		t = now();
		st = normal_request(&fd, k, k % 20 == 19, resp, sizeof(resp));
		lat[nlat++] = now() - t;
		codes[st < 0 ? 0 : st % 600]++;
		if (st == 200)
			ok++;
		k++;
		usleep(2000);
	}
	for (i = 0; i < (size_t)n; i++) {
		struct pollfd p = { .fd = idle[i], .events = POLLIN };
		if (poll(&p, 1, 0) == 0)
			open_++;
	}
	qsort(lat, nlat, sizeof(double), cmp_double);
	printf("idle_open=%d requests=%zu ok=%lu p50_ms=%.3f p99_ms=%.3f"
	    " max_ms=%.3f codes=", open_, nlat, ok, lat[nlat / 2] * 1000,
	    lat[(size_t)((double)nlat * 0.99)] * 1000, lat[nlat - 1] * 1000);
	for (i = 0; i < 600; i++)
		if (codes[i])
			printf("%zu:%lu,", i, codes[i]);
	printf("\n");
	return 0;
}

/* Sends head, then body one piece of step bytes every 2 s. */
static int
cmd_slow(const char *head, size_t step)
{
	char buf[4096], piece[1024];
	int fd, st = 0;
	size_t i;
	double t0;
	struct pollfd p;

	memset(piece, 'x', sizeof(piece));
	if ((fd = dial()) == -1)
		return 1;
	if (write_all(fd, head, strlen(head)) == -1)
		return 1;
	t0 = now();
	for (i = 0; i < 100; i++) {
		if (step == 0) {
			/* header bytes: "X-Slow-i: i\r\n" one by one */
			static const char h[] = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
			if (write_all(fd, h + i % (sizeof(h) - 1), 1) == -1)
				break;
		} else if (write_all(fd, piece, step) == -1)
			break;
		p.fd = fd;
		p.events = POLLIN;
		if (poll(&p, 1, 2000) == 1)
			break;
	}
	st = read_response(fd, buf, sizeof(buf), 3000);
	printf("status=%d seconds=%.1f closed=%d\n", st < 0 ? 0 : st,
	    now() - t0, st > 0 ? closed_within(fd, 3000) : 0);
	return 0;
}

/*
 * Sends head, then total bytes produced by piece() (body or header), while
 * watching for the answer; stops sending when it comes.
 */
static int
cmd_push(const char *head, size_t total, int chunked, const char *tail)
{
	static char buf[65536 + 32], resp[8192];
	int fd, st = 0;
	size_t sent = 0, off = 0, len = 0;
	double t0;
	struct pollfd p;
	ssize_t n;

	if ((fd = dial()) == -1)
		return 1;
	if (write_all(fd, head, strlen(head)) == -1)
		return 1;
	t0 = now();
	for (;;) {
		if (off == len) {
			size_t c = total - sent < 65536 ? total - sent : 65536;
			if (sent == total && tail == NULL)
				break;
			if (c == 0) {
				len = (size_t)snprintf(buf, sizeof(buf), "%s", tail);
				tail = NULL;
			} else if (chunked) {
				len = (size_t)snprintf(buf, sizeof(buf), "%zx\r\n", c);
				memset(buf + len, 'x', c);
				memcpy(buf + len + c, "\r\n", 2);
				len += c + 2;
			} else {
				memset(buf, 'x', c);
				len = c;
			}
			sent += c;
			off = 0;
		}
		p.fd = fd;
		p.events = POLLIN | POLLOUT;
		if (poll(&p, 1, 10000) <= 0)
			break;
		if (p.revents & (POLLIN | POLLHUP | POLLERR))
			break;
		n = send(fd, buf + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			break;
		if (n > 0)
			off += (size_t)n;
	}
	st = read_response(fd, resp, sizeof(resp), 10000);
	if (st == 0 && errno)
		fprintf(stderr, "aggabuse: read: %s\n", strerror(errno));
	printf("status=%d seconds=%.2f sent=%zu\n", st < 0 ? 0 : st,
	    now() - t0, sent);
	return 0;
}

/* A body that moves steadily but slowly: 4 KiB every 0.1 s. */
static int
cmd_steady(size_t kib)
{
	static const char ev[] = "{\"topic\":\"steady\",\"event_id\":\"1\","
	    "\"timestamp\":\"2025-10-21T10:00:00Z\",\"source\":\"s\","
	    "\"payload\":{}}";
	char head[256], piece[4096], resp[4096];
	size_t total = kib << 10, sent = 0, n;
	double t0 = now();
	int fd, st;

	if ((fd = dial()) == -1)
		return 1;
	snprintf(head, sizeof(head), "POST /publish HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
	    total);
	if (write_all(fd, head, strlen(head)) == -1)
		return 1;
	while (sent < total) {
		n = total - sent < sizeof(piece) ? total - sent : sizeof(piece);
		memset(piece, ' ', n);
		if (sent == 0)
			memcpy(piece, ev, sizeof(ev) - 1);
		if (write_all(fd, piece, n) == -1)
			break;
		sent += n;
		if (sent < total)
			usleep(100000);
	}
	st = read_response(fd, resp, sizeof(resp), 5000);
	printf("status=%d seconds=%.1f\n", st < 0 ? 0 : st, now() - t0);
	return 0;
}

static int	cmd_waitmetric(const char *, const char *, double);

static int
cmd_halfclose(size_t bytes)
{
	static const char poll_req[] = "GET /events?after=999999999&wait=1"
	    " HTTP/1.1\r\nHost: t\r\n\r\n", fmt[] = "GET /healthz HTTP/1.1\r\n"
	    "Host: t\r\nX-Pad: %s\r\n\r\n";
	static char pad[4096], reqs[1 << 20], resp[1 << 20];
	size_t len = 0, per = bytes / 100, base = sizeof(fmt) - 3, n, got = 0;
	int fd, i, answered = 0;
	char *p;
	ssize_t r;

	if (bytes > sizeof(reqs) || per <= base || per - base >= sizeof(pad))
		return 2;
	for (i = 0; i < 100; i++) {
		n = i < 99 ? per - base : bytes - len - base;
		if (n >= sizeof(pad))
			return 2;
		memset(pad, 'a', n);
		pad[n] = 0;
		len += (size_t)snprintf(reqs + len, sizeof(reqs) - len, fmt, pad);
	}
	if ((fd = dial()) == -1 || write_all(fd, poll_req, sizeof(poll_req) - 1) ||
	    cmd_waitmetric("agg_http_long_polls", ">=", 1) != 0)
		return 1;
	if (write_all(fd, reqs, len) == -1 || shutdown(fd, SHUT_WR) == -1)
		return 1;
	while (got < sizeof(resp) - 1 && (r = read(fd, resp + got,
	    sizeof(resp) - 1 - got)) > 0)
		got += (size_t)r;
	resp[got] = 0;
	for (p = resp; (p = strstr(p, "{\"status\":\"ok\"}")) != NULL; p++)
		answered++;
	printf("answered=%d\n", answered);
	return 0;
}

static int
cmd_headeronly(int n, const char *bytes)
{
	char head[256], resp[4096];
	int fd, i, st;

	snprintf(head, sizeof(head), "POST /publish HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/json\r\nContent-Length: %s\r\n\r\n",
	    bytes);
	for (i = 0; i < n; i++)		/* left open until exit */
		if ((fd = dial()) == -1 || write_all(fd, head, strlen(head)))
			return 1;
	/* All accepted (the count has the /metrics request's own too). */
	if (cmd_waitmetric("agg_http_connections_open", ">=", n + 1) != 0)
		return 1;
	if ((fd = dial()) == -1 || write_all(fd, "GET /healthz HTTP/1.1\r\n"
	    "Host: t\r\n\r\n", 34) == -1)
		return 1;
	st = read_response(fd, resp, sizeof(resp), 5000);
	printf("status=%d\n", st < 0 ? 0 : st);
	return 0;
}

/* Waits up to 30 s for path to exist; 0 when it does. */
static int
wait_file(const char *path)
{
	double end = now() + 30;

	while (access(path, F_OK) == -1) {
		if (now() > end)
			return -1;
		usleep(10000);
	}
	return 0;
}

static int
cmd_pipeline(const char *reqs, const char *go, const char *outpath,
    const char *more)
{
	static char buf[64 * 1024];
	double end;
	size_t total = 0;
	ssize_t n;
	FILE *out;
	int fd;
	const char *how = "timeout";

	if ((out = fopen(outpath, "w")) == NULL || (fd = dial()) == -1 ||
	    write_all(fd, reqs, strlen(reqs)) == -1)
		return 1;
	while (total < sizeof(buf)) {
		if ((n = read(fd, buf, sizeof(buf) - total)) <= 0)
			return 1;
		fwrite(buf, 1, (size_t)n, out);
		total += (size_t)n;
	}
	printf("reading\n");
	fflush(stdout);
	if (wait_file(go) == -1 || (more && write_all(fd, more,
	    strlen(more)) == -1))
		return 1;
	for (end = now() + 30; now() < end; usleep(5000)) {
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n == -1 && errno == ECONNRESET)) {
			how = n == 0 ? "eof" : "reset";
			break;
		}
		if (n == -1)
			return 1;
		fwrite(buf, 1, (size_t)n, out);
		total += (size_t)n;
	}
	fclose(out);
	printf("end=%s bytes=%zu\n", how, total);
	return 0;
}

static int
cmd_halfpost(const char *bodypath, const char *go)
{
	static char body[16 << 20], resp[1 << 16];
	char head[256];
	size_t len;
	FILE *f;
	int fd, st;
	char *b;

	if ((f = fopen(bodypath, "r")) == NULL)
		return 1;
	len = fread(body, 1, sizeof(body), f);
	fclose(f);
	snprintf(head, sizeof(head), "POST /publish HTTP/1.1\r\nHost: t\r\n"
	    "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n"
	    "\r\n", len);
	if ((fd = dial()) == -1 || write_all(fd, head, strlen(head)) == -1 ||
	    write_all(fd, body, len / 2) == -1)
		return 1;
	printf("sent\n");
	fflush(stdout);
	if (wait_file(go) == -1 || write_all(fd, body + len / 2,
	    len - len / 2) == -1)
		return 1;
	st = read_response(fd, resp, sizeof(resp), 20000);
	b = strstr(resp, "\r\n\r\n");
	printf("status=%d\n%s\n", st < 0 ? 0 : st, b ? b + 4 : "");
	return 0;
}

static int
cmd_replies(const char *path)
{
	static char data[64 << 20];
	char statuses[4096] = "", *h, *cl, *p = data, *end;
	size_t len, n = 0, used = 0, clen;
	int last_close = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 1;
	len = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[len] = 0;
	end = data + len;
	while (p < end && strncmp(p, "HTTP/1.1 ", 9) == 0 &&
	    (h = strstr(p, "\r\n\r\n")) != NULL) {
		*h = 0;
		cl = strcasestr(p, "\r\nContent-Length:");
		clen = cl ? strtoul(cl + 17, NULL, 10) : 0;
		last_close = strcasestr(p, "\r\nConnection: close") != NULL;
		if ((size_t)(end - (h + 4)) < clen) {
			*h = '\r';
			break;
		}
		used += (size_t)snprintf(statuses + used, sizeof(statuses) - used,
		    "%s%.3s", n ? "," : "", p + 9);
		if (used >= sizeof(statuses))
			return 1;
		n++;
		p = h + 4 + clen;
	}
	printf("replies=%zu rest=%zu close=%d statuses=%s\n", n,
	    (size_t)(end - p), last_close, statuses);
	return 0;
}

/* The value of metric name in a /metrics text, or -1. */
static double
metric_value(const char *text, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	for (p = text; (p = strstr(p, name)) != NULL; p += n)
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atof(p + n + 1);
	return -1;
}

static int
cmd_waitmetric(const char *name, const char *op, double want)
{
	static char req[4096], resp[1 << 16];
	const char *token = getenv("AGG_TOKEN");
	double end = now() + 60, v;
	int fd, le = strcmp(op, "<=") == 0;

	if (!le && strcmp(op, ">=") != 0)
		return 2;
	snprintf(req, sizeof(req), "GET /metrics HTTP/1.1\r\nHost: t\r\n"
	    "%s%s%sConnection: close\r\n\r\n", token ? "Authorization: Bearer "
	    : "", token ? token : "", token ? "\r\n" : "");
	for (; now() < end; usleep(10000)) {
		if ((fd = dial()) == -1)
			continue;
		if (write_all(fd, req, strlen(req)) == 0 &&
		    read_response(fd, resp, sizeof(resp), 5000) == 200 &&
		    (v = metric_value(resp, name)) >= 0 &&
		    (le ? v <= want : v >= want)) {
			close(fd);
			return 0;
		}
		close(fd);
	}
	fprintf(stderr, "aggabuse: %s did not become %s %g in 60 s\n", name, op,
	    want);
	return 1;
}

static int
cmd_freeport(void)
{
	struct sockaddr_in a = addr;
	socklen_t alen = sizeof(a);
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) == -1)
		return 1;
	printf("%d\n", ntohs(a.sin_port));
	close(fd);
	return 0;
}

/* Answers each connection's first request with resp, for seconds. */
static int
cmd_serve(double seconds, const char *resp)
{
	struct sockaddr_in a = addr;
	socklen_t alen = sizeof(a);
	char req[65536];
	double end = now() + seconds;
	struct pollfd p;
	int lfd, fd, one = 1;
	size_t len;
	ssize_t n;

	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(lfd, 16) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) == -1)
		return 1;
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	while (now() < end) {
		p.fd = lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 100) != 1 || (fd = accept(lfd, NULL, NULL)) == -1)
			continue;
		for (len = 0; len < sizeof(req) - 1; len += (size_t)n) {
			if ((n = read(fd, req + len, sizeof(req) - 1 - len)) <= 0)
				break;
			req[len + (size_t)n] = 0;
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		(void)write_all(fd, resp, strlen(resp));
		close(fd);
	}
	return 0;
}

int
main(int argc, char **argv)
{
	char head[1024], *colon;

	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && strcmp(argv[1], "replies") == 0)
		return cmd_replies(argv[3]);
	if (argc < 3 || (colon = strchr(argv[2], ':')) == NULL) {
		fprintf(stderr, "usage: aggabuse MODE HOST:PORT [ARGS]\n");
		return 2;
	}
	*colon = 0;
	addr.sin_family = AF_INET;
	addr.sin_port = htons((unsigned short)atoi(colon + 1));
	if (inet_pton(AF_INET, argv[2], &addr.sin_addr) != 1)
		return 2;
	if (strcmp(argv[1], "idle") == 0 && argc == 5)
		return cmd_idle(atoi(argv[3]), atof(argv[4]));
	if (strcmp(argv[1], "slowhead") == 0)
		return cmd_slow("POST /publish HTTP/1.1\r\nHost: t\r\n", 0);
	if (strcmp(argv[1], "slowbody") == 0)
		return cmd_slow("POST /publish HTTP/1.1\r\nHost: t\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: 1000000\r\n\r\n", 1024);
	if (strcmp(argv[1], "bigcl") == 0 && argc == 4) {
		snprintf(head, sizeof(head), "POST /publish HTTP/1.1\r\nHost: t\r\n"
		    "Content-Type: application/json\r\nContent-Length: %s\r\n\r\n",
		    argv[3]);
		return cmd_push(head, 0, 0, NULL);
	}
	if (strcmp(argv[1], "chunked") == 0 && argc == 4)
		return cmd_push("POST /publish HTTP/1.1\r\nHost: t\r\n"
		    "Content-Type: application/json\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n",
		    (size_t)atol(argv[3]) << 20, 1, "0\r\n\r\n");
	if (strcmp(argv[1], "bighdr") == 0 && argc == 4)
		return cmd_push("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ",
		    (size_t)atol(argv[3]), 0, "\r\n\r\n");
	if (strcmp(argv[1], "freeport") == 0)
		return cmd_freeport();
	if (strcmp(argv[1], "serve") == 0 && argc == 5)
		return cmd_serve(atof(argv[3]), argv[4]);
	if (strcmp(argv[1], "steadybody") == 0 && argc == 4)
		return cmd_steady((size_t)atol(argv[3]));
	if (strcmp(argv[1], "halfclose") == 0 && argc == 4)
		return cmd_halfclose((size_t)atol(argv[3]));
	if (strcmp(argv[1], "headeronly") == 0 && argc == 5)
		return cmd_headeronly(atoi(argv[3]), argv[4]);
	if (strcmp(argv[1], "pipeline") == 0 && (argc == 6 || argc == 7))
		return cmd_pipeline(argv[3], argv[4], argv[5],
		    argc == 7 ? argv[6] : NULL);
	if (strcmp(argv[1], "halfpost") == 0 && argc == 5)
		return cmd_halfpost(argv[3], argv[4]);
	if (strcmp(argv[1], "waitmetric") == 0 && argc == 6)
		return cmd_waitmetric(argv[3], argv[4], atof(argv[5]));
	fprintf(stderr, "aggabuse: bad mode or arguments\n");
	return 2;
}
