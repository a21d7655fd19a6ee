/*
 * test_httpd.c - HTTP framing over connections, with one end of a
 * socketpair as the client, the loop run a round at a time and a clock
 * the test moves: timeouts of seconds take none.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httpd.h"
#include "t.h"

#define GOT_MAX	(1 << 20)

struct rig {
	struct ev_loop	*loop;
	struct httpd	*h;
	uint64_t	 clock;		/* ms, moved by the test */
	int		 client;
	int		 handled;
	int		 defer;		/* the handler keeps the request */
	struct httpd_req *held;
	char		 last_path[64];
	size_t		 last_body;
	char		*got;		/* what the client has read; on the
					   heap: clang inlines every test
					   into main, and ASan's redzones
					   around a rig each pass the stack */
	size_t		 ngot;
};

static uint64_t
rig_clock(void *arg)
{
	return ((struct rig *)arg)->clock;
}

static void
handle(struct httpd_req *r, void *arg)
{
	struct rig *g = arg;
	const struct http_request *hr = httpd_request(r);
	size_t len;

	g->handled++;
	snprintf(g->last_path, sizeof(g->last_path), "%.*s",
	    (int)hr->path_len, hr->path);
	(void)httpd_body(r, &len);
	g->last_body = len;
	if (g->defer) {
		g->held = r;
		return;
	}
	httpd_reply(r, 200, "text/plain", NULL, g->last_path,
	    strlen(g->last_path));
}

static int
check(const struct http_request *hr, struct httpd_refusal *ref, void *arg)
{
	(void)arg;
	if (hr->path_len == 7 && memcmp(hr->path, "/secret", 7) == 0) {
		*ref = (struct httpd_refusal){ 401, "no", NULL };
		return 1;
	}
	return 0;
}

static const char *
error_body(struct buf *b, int status, const char *msg, void *arg)
{
	(void)arg;
	return buf_printf(b, "E%d %s", status, msg) == 0 ? "text/x-test" :
	    NULL;
}

static const struct httpd_handlers handlers = {
	.handle = handle, .check = check, .error_body = error_body,
};

static void
rig_open(struct rig *g, size_t max_body)
{
	struct httpd_config cfg;
	int sv[2];

	memset(g, 0, sizeof(*g));
	g->clock = 1000000;
	httpd_config_defaults(&cfg);
	cfg.max_body = max_body;
	cfg.clock = rig_clock;
	cfg.clock_arg = g;
	g->loop = ev_new();
	g->h = httpd_new(g->loop, -1, &cfg, &handlers, g);
	CHECK(g->loop != NULL && g->h != NULL);
	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	CHECK_EQ(httpd_adopt(g->h, sv[0]), 0);
	g->client = sv[1];
	CHECK((g->got = malloc(GOT_MAX)) != NULL);
}

static void
rig_close(struct rig *g)
{
	httpd_free(g->h);
	ev_free(g->loop);
	close(g->client);
	free(g->got);
}

/* A few rounds of the loop, then what the client can read. */
static void
pump(struct rig *g)
{
	ssize_t n;
	int i;

	for (i = 0; i < 4; i++)
		CHECK_EQ(ev_run_once(g->loop, 0), 0);
	while ((n = read(g->client, g->got + g->ngot,
	    GOT_MAX - 1 - g->ngot)) > 0)
		g->ngot += (size_t)n;
	g->got[g->ngot] = '\0';
}

static void
send_str(struct rig *g, const char *s)
{
	CHECK_EQ(write(g->client, s, strlen(s)), (ssize_t)strlen(s));
}

/* 1 when the server has closed its end (EOF after what was read). */
static int
closed(struct rig *g)
{
	char b;

	pump(g);
	return read(g->client, &b, 1) == 0;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (; (hay = strstr(hay, needle)) != NULL; hay++)
		n++;
	return n;
}

static void
test_get_and_keep_alive(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	send_str(&g, "GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&g);
	CHECK_EQ(g.handled, 1);
	CHECK(strncmp(g.got, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK(strstr(g.got, "\r\nContent-Length: 2\r\n") != NULL);
	CHECK(strstr(g.got, "\r\nDate: ") != NULL);
	CHECK(strcmp(g.got + g.ngot - 6, "\r\n\r\n/a") == 0);
	send_str(&g, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
	pump(&g);
	CHECK_EQ(g.handled, 2);
	CHECK_EQ(count(g.got, "HTTP/1.1 200"), 2);
	CHECK(!closed(&g));
	rig_close(&g);
}

/* The next pipelined request is handled only once the reply before it
   is queued and has left, never from inside that reply. */
static void
test_pipelined_in_order(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	g.defer = 1;
	send_str(&g, "GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\n"
	    "Host: t\r\n\r\n");
	pump(&g);
	CHECK_EQ(g.handled, 1);
	CHECK_EQ(g.ngot, 0);
	httpd_reply(g.held, 200, NULL, NULL, "one", 3);
	CHECK_EQ(g.handled, 1);	/* not inside the reply */
	pump(&g);
	CHECK_EQ(g.handled, 2);
	CHECK(strcmp(g.last_path, "/2") == 0);
	CHECK(strstr(g.got, "one") != NULL);
	httpd_reply(g.held, 200, NULL, NULL, "two", 3);
	pump(&g);
	CHECK(strstr(g.got, "one") < strstr(g.got, "two"));
	rig_close(&g);
}

static void
test_header_timeout(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	send_str(&g, "GET /slow HTTP/1.1\r\nHost:");
	pump(&g);
	g.clock += 9999;
	httpd_tick(g.h);
	pump(&g);
	CHECK_EQ(g.ngot, 0);
	g.clock += 2;
	httpd_tick(g.h);
	pump(&g);
	CHECK(strncmp(g.got, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
	CHECK(strstr(g.got, "Content-Type: text/x-test\r\n") != NULL);
	CHECK(strstr(g.got, "\r\n\r\nE408 request timed out") != NULL);
	CHECK(strstr(g.got, "Connection: close\r\n") != NULL);
	shutdown(g.client, SHUT_WR);	/* the client's close ends the linger */
	CHECK(closed(&g));
	rig_close(&g);
}

static void
test_idle_timeout(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	g.clock += 59999;
	httpd_tick(g.h);
	CHECK(!closed(&g));
	g.clock += 2;
	httpd_tick(g.h);
	CHECK(closed(&g));
	CHECK_EQ(g.ngot, 0);	/* an idle close says nothing */
	rig_close(&g);
}

/* A body keeps its deadline moving while 16 KiB come within 10 s. */
static void
test_body_progress(void)
{
	static char chunk[16384];
	struct rig g;
	int i;

	rig_open(&g, 1 << 20);
	memset(chunk, 'x', sizeof(chunk));
	send_str(&g, "POST /p HTTP/1.1\r\nHost: t\r\nContent-Length: 100000"
	    "\r\n\r\n");
	pump(&g);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(write(g.client, chunk, sizeof(chunk)),
		    (ssize_t)sizeof(chunk));
		pump(&g);
		g.clock += 9000;
		httpd_tick(g.h);
		pump(&g);
		CHECK_EQ(g.ngot, 0);
	}
	g.clock += 1001;	/* 10 s since the last 16 KiB */
	httpd_tick(g.h);
	pump(&g);
	CHECK(strncmp(g.got, "HTTP/1.1 408", 12) == 0);
	CHECK_EQ(g.handled, 0);
	rig_close(&g);
}

static void
test_continue_and_chunked(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	send_str(&g, "POST /c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	pump(&g);
	CHECK(strcmp(g.got, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
	send_str(&g, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
	pump(&g);
	CHECK_EQ(g.handled, 1);
	CHECK_EQ(g.last_body, 11);
	CHECK(strstr(g.got, "HTTP/1.1 200 OK") != NULL);
	rig_close(&g);
}

/* The head check answers for a body not read: before 100 Continue, and
   before a 413 would hide it. */
static void
test_refusals_from_the_head(void)
{
	struct rig g;

	rig_open(&g, 100);
	send_str(&g, "POST /secret HTTP/1.1\r\nHost: t\r\nExpect: 100-continue"
	    "\r\nContent-Length: 10\r\n\r\n");
	pump(&g);
	CHECK(strncmp(g.got, "HTTP/1.1 401", 12) == 0);
	CHECK(strstr(g.got, "100 Continue") == NULL);
	CHECK_EQ(g.handled, 0);
	rig_close(&g);
	rig_open(&g, 100);
	send_str(&g, "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n");
	pump(&g);
	CHECK(strncmp(g.got, "HTTP/1.1 413", 12) == 0);
	CHECK(strstr(g.got, "E413 request body too large") != NULL);
	rig_close(&g);
	rig_open(&g, 100);
	send_str(&g, "BAD\r\n\r\n");
	pump(&g);
	CHECK(strncmp(g.got, "HTTP/1.1 400", 12) == 0);
	rig_close(&g);
}

/* The input buffer moves while a large body comes: the parse of the head
   is rebased, not redone, and still right. */
static void
test_rebased_head(void)
{
	static char body[300000];
	struct rig g;
	char head[256];
	size_t off = 0;
	ssize_t n;

	rig_open(&g, 1 << 20);
	memset(body, 'b', sizeof(body));
	snprintf(head, sizeof(head), "POST /moved?q=1 HTTP/1.1\r\nHost: t\r\n"
	    "X-Long: %0100d\r\nContent-Length: %zu\r\n\r\n", 7, sizeof(body));
	send_str(&g, head);
	pump(&g);
	while (off < sizeof(body)) {
		if ((n = write(g.client, body + off, sizeof(body) - off)) > 0)
			off += (size_t)n;
		pump(&g);
	}
	pump(&g);
	CHECK_EQ(g.handled, 1);
	CHECK(strcmp(g.last_path, "/moved") == 0);
	CHECK_EQ(g.last_body, sizeof(body));
	rig_close(&g);
}

/* A reader that takes nothing for write_ms is cut off. */
static void
test_write_timeout(void)
{
	struct rig g;
	int i;

	rig_open(&g, 1 << 20);
	g.defer = 1;
	send_str(&g, "GET /big HTTP/1.1\r\nHost: t\r\n\r\n");
	for (i = 0; i < 4; i++)
		CHECK_EQ(ev_run_once(g.loop, 0), 0);
	{
		static char big[8 << 20];

		memset(big, 'z', sizeof(big));
		httpd_reply(g.held, 200, NULL, NULL, big, sizeof(big));
	}
	for (i = 0; i < 4; i++)
		CHECK_EQ(ev_run_once(g.loop, 0), 0);
	CHECK_EQ(httpd_conns(g.h), 1);
	g.clock += 10001;
	httpd_tick(g.h);
	CHECK_EQ(httpd_conns(g.h), 0);
	rig_close(&g);
}

/* Connection: close: the reply, then the end once the client closes. */
static void
test_close_after_reply(void)
{
	struct rig g;

	rig_open(&g, 1 << 20);
	send_str(&g, "GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
	pump(&g);
	CHECK(strstr(g.got, "Connection: close\r\n") != NULL);
	CHECK(strcmp(g.got + g.ngot - 2, "/x") == 0);
	CHECK_EQ(httpd_conns(g.h), 1);	/* lingering */
	shutdown(g.client, SHUT_WR);
	CHECK(closed(&g));
	CHECK_EQ(httpd_conns(g.h), 0);
	rig_close(&g);
}

int
main(void)
{
	T_RUN(test_get_and_keep_alive);
	T_RUN(test_pipelined_in_order);
	T_RUN(test_header_timeout);
	T_RUN(test_idle_timeout);
	T_RUN(test_body_progress);
	T_RUN(test_continue_and_chunked);
	T_RUN(test_refusals_from_the_head);
	T_RUN(test_rebased_head);
	T_RUN(test_write_timeout);
	T_RUN(test_close_after_reply);
	return t_done();
}
