/*
 * nullsrv - an HTTP server that answers at once, to measure a client's
 * own speed (aggpub): every POST /publish gets 200 {"accepted":N,...}
 * with N the number of "topic" members in the body, counted with
 * memmem, not parsed; anything else gets 200 {}.  Prints its port as
 * aggd does ("nullsrv: listening on 127.0.0.1:PORT") and, on SIGINT or
 * SIGTERM, the events and requests it saw.
 *
 *   nullsrv [PORT]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ev.h"
#include "httpd.h"

struct counts {
	unsigned long long	 events, requests;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	stop = sig;
}

static void
on_tick(struct ev_loop *loop, void *arg)
{
	if (stop)
		ev_stop(loop);
}

static void
handle(struct httpd_req *r, void *arg)
{
	const struct http_request *hr = httpd_request(r);
	struct counts *c = arg;
	const char *body, *p, *end;
	unsigned long long n = 0;
	char out[128];
	size_t len;
	int olen;

	body = httpd_body(r, &len);
	if (hr->method_len == 4 && memcmp(hr->method, "POST", 4) == 0)
		for (p = body, end = body + len;
		    (p = memmem(p, (size_t)(end - p), "\"topic\"", 7)) != NULL;
		    p += 7)
			n++;
	c->events += n;
	c->requests++;
	olen = snprintf(out, sizeof(out),
	    "{\"accepted\":%llu,\"unique\":%llu,\"duplicates\":0}", n, n);
	httpd_reply(r, 200, NULL, NULL, out, (size_t)olen);
}

static int
listen_port(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port),
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 1024) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return -1;
	}
	fprintf(stderr, "nullsrv: listening on 127.0.0.1:%d\n",
	    ntohs(sin.sin_port));
	return fd;
}

int
main(int argc, char **argv)
{
	struct httpd_config cfg;
	struct counts c = { 0, 0 };
	struct ev_loop *loop;
	struct httpd *h;
	int fd;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if ((fd = listen_port(argc > 1 ? atoi(argv[1]) : 0)) == -1) {
		perror("nullsrv: listen");
		return 1;
	}
	httpd_config_defaults(&cfg);
	cfg.max_body = 256u << 20;
	cfg.max_buffered = 1024u << 20;
	if ((loop = ev_new()) == NULL ||
	    (h = httpd_new(loop, fd, &cfg, handle, &c)) == NULL ||
	    ev_add_tick(loop, 100, on_tick, NULL) == -1) {
		fputs("nullsrv: out of memory\n", stderr);
		return 1;
	}
	ev_run(loop);
	fprintf(stderr, "nullsrv: %llu events in %llu requests\n", c.events,
	    c.requests);
	httpd_free(h);
	ev_free(loop);
	return 0;
}
