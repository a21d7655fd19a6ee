/* gen.c - the event generator: unique event k from the seed and k alone. */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggpub.h"
#include "client.h"
#include "ev.h"

uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Writers for the generator: no bounds checks, EVENT_MAX is reserved. */
#define PUT(p, lit)	\
	(memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)
#define PUTS(p, s)	mempcpy((p), (s), strlen(s))

static char *
put_u64(char *p, uint64_t v)
{
	char t[20];
	int n = 0;

	do
		t[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = t[--n];
	return p;
}

/* v in exactly n digits, zero-padded. */
static char *
put_fixed(char *p, uint64_t v, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--, v /= 10)
		p[i] = (char)('0' + v % 10);
	return p + n;
}

/* A UUIDv4 text; all 64 bits of a appear in it, so distinct a differ. */
static char *
put_uuid(char *p, uint64_t a, uint64_t b)
{
	static const char hex[] = "0123456789abcdef";
	char h[32];
	int i;

	for (i = 0; i < 16; i++) {
		h[i] = hex[(a >> (60 - 4 * i)) & 15];
		h[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
	}
	memcpy(p, h, 8);			/* a: nibbles 0-7 */
	p[8] = '-';
	memcpy(p + 9, h + 8, 4);		/* 8-11 */
	memcpy(p + 13, "-4", 2);		/* version 4 */
	memcpy(p + 15, h + 12, 3);		/* 12-14 */
	p[18] = '-';
	p[19] = hex[8 | (b & 3)];		/* variant 10xx */
	p[20] = h[15];				/* 15 */
	memcpy(p + 21, h + 16, 2);		/* then b */
	p[23] = '-';
	memcpy(p + 24, h + 18, 12);
	return p + 36;
}

/* RFC 3339 UTC with milliseconds; days to date after H. Hinnant. */
static char *
put_time(char *p, uint64_t ms)
{
	uint64_t s = ms / 1000, z = s / 86400 + 719468, sod = s % 86400;
	uint64_t era = z / 146097, doe = z - era * 146097;
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	uint64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);

	memcpy(p, "0000-00-00T00:00:00.000Z", 24);
	put_fixed(p, y, 4);
	put_fixed(p + 5, m, 2);
	put_fixed(p + 8, d, 2);
	put_fixed(p + 11, sod / 3600, 2);
	put_fixed(p + 14, sod / 60 % 60, 2);
	put_fixed(p + 17, sod % 60, 2);
	put_fixed(p + 20, ms % 1000, 3);
	return p + 24;
}

/* Topic i: "orders", ..., then "orders-2", ... past the 16 names. */
static char *
put_topic(char *p, uint64_t i)
{
	static const char *const names[16] = {
		"orders", "payments", "shipments", "refunds", "users",
		"sessions", "clicks", "searches", "carts", "inventory",
		"reviews", "emails", "logins", "invoices", "alerts", "metrics"
	};

	p = PUTS(p, names[i % 16]);
	if (i >= 16) {
		*p++ = '-';
		p = put_u64(p, i / 16 + 1);
	}
	return p;
}

/* A small object: ints, a float, strings, a nested object. */
static char *
put_payload(char *p, uint64_t k, uint64_t r)
{
	static const char *const cur[4] = { "EUR", "USD", "GBP", "JPY" };
	static const char *const cc[8] = {
		"DE", "FR", "US", "GB", "JP", "BR", "IN", "NL"
	};
	uint64_t cents = (r >> 32) % 100000;

	if (cents % 10 == 0)	/* no trailing zero: the text is canonical */
		cents++;
	p = put_u64(PUT(p, "{\"order_id\":"), k + 1);
	p = put_u64(PUT(p, ",\"user_id\":"), 1000 + r % 90000);
	p = put_u64(PUT(p, ",\"amount\":"), cents / 100);
	*p++ = '.';
	p = put_fixed(p, cents % 100, 2);
	p = put_u64(PUT(p, ",\"quantity\":"), 1 + (r >> 20) % 9);
	p = PUTS(PUT(p, ",\"currency\":\""), cur[(r >> 24) % 4]);
	p = PUTS(PUT(p, "\",\"meta\":{\"country\":\""), cc[(r >> 26) % 8]);
	p = put_u64(PUT(p, "\",\"attempt\":"), 1 + (r >> 29) % 3);
	return PUT(p, "}}");
}

/* Unique event k, from the seed and k alone. */
static char *
gen_event(const struct gen *g, uint64_t k, char *p)
{
	static const char *const sources[8] = {
		"checkout-1", "checkout-2", "checkout-3", "web-1", "web-2",
		"mobile-1", "billing-1", "warehouse-1"
	};
	uint64_t s = mix64(g->seed + k);
	uint64_t a = SM_NEXT(s), b = SM_NEXT(s), c = SM_NEXT(s);

	p = put_topic(PUT(p, "{\"topic\":\""), c % g->topics);
	p = put_uuid(PUT(p, "\",\"event_id\":\""), a, b);
	p = put_time(PUT(p, "\",\"timestamp\":\""),
	    BASE_MS + k * 10 + (c >> 32) % 10);
	p = PUTS(PUT(p, "\",\"source\":\""), sources[(c >> 40) % 8]);
	p = put_payload(PUT(p, "\",\"payload\":"), k, SM_NEXT(s));
	return PUT(p, "}");
}

void
gen_init(struct gen *g, const struct opts *o)
{
	*g = (struct gen){ .n = o->count, .seed = mix64(o->seed ^ GOLDEN),
	    .topics = o->topics };
	g->dups = (uint64_t)llround(o->share * (double)o->count);
	if (g->n > 0 && g->dups >= g->n)
		g->dups = g->n - 1;
}

/* The unique index of the next position: a new one or a re-send. */
static uint64_t
gen_pick(struct gen *g)
{
	uint64_t h, w;

	g->pos++;
	g->acc += g->dups;
	if (g->acc < g->n)
		return g->uniq++;
	g->acc -= g->n;
	h = mix64(g->seed ^ mix64(g->pos));
	w = g->uniq < DUP_WINDOW ? g->uniq : DUP_WINDOW;
	if (h & 1)
		return g->uniq - 1 - (h >> 1) % w;
	return (h >> 1) % g->uniq;
}

/* Appends count events as NDJSON lines. */
int
gen_batch(struct gen *g, struct buf *out, uint64_t count)
{
	char *p;
	uint64_t i;

	if (buf_reserve(out, count * (EVENT_MAX + 1)) == -1)
		return -1;
	p = out->data + out->len;
	for (i = 0; i < count; i++) {
		p = gen_event(g, gen_pick(g), p);
		*p++ = '\n';
	}
	out->len = (size_t)(p - out->data);
	return 0;
}

