/*
 * fuzz_chunked.c - http_chunked_decode fed the input in two calls, split
 * at a point taken from the first byte, against one call over the whole.
 *
 * Invariants (lib/http.h): a call never writes more body bytes than it
 * was given raw bytes; HTTP_INCOMPLETE means every raw byte was used;
 * when the body ends, the bytes that followed it are moved, unchanged,
 * right after the decoded ones; the decoded body and the verdict do not
 * depend on where the input was split.
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

/* Decodes buf[0..n) in place in one call; the verdict, *out the body. */
static ssize_t
decode(struct http_chunked *ch, uint8_t *buf, size_t n, size_t *out)
{
	uint8_t *orig = malloc(n ? n : 1);
	size_t len = n;
	ssize_t r;

	FUZZ_CHECK(orig != NULL);
	if (n)
		memcpy(orig, buf, n);
	r = http_chunked_decode(ch, (char *)buf, &len);
	FUZZ_CHECK(r == HTTP_INCOMPLETE || r == HTTP_BAD || r >= 0);
	if (r != HTTP_BAD)
		FUZZ_CHECK(len <= n);
	if (r >= 0) {
		FUZZ_CHECK(len + (size_t)r <= n);
		FUZZ_CHECK(memcmp(buf + len, orig + n - (size_t)r,
		    (size_t)r) == 0);
	}
	free(orig);
	*out = len;
	return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_chunked whole, split;
	uint8_t *a, *b;
	size_t n, cut, alen, blen, out = 0, len;
	ssize_t ra, rb;

	if (size < 1)
		return 0;
	n = size - 1;
	cut = n ? data[0] % (n + 1) : 0;

	/* The reference: the whole input in one call. */
	a = malloc(n ? n : 1);
	FUZZ_CHECK(a != NULL);
	memcpy(a, data + 1, n);
	http_chunked_init(&whole);
	ra = decode(&whole, a, n, &alen);

	/* The same bytes in two calls, each in a buffer of its exact size. */
	b = malloc(n ? n : 1);
	FUZZ_CHECK(b != NULL);
	http_chunked_init(&split);
	memcpy(b, data + 1, cut);
	rb = decode(&split, b, cut, &len);
	out = len;
	if (rb == HTTP_INCOMPLETE) {
		uint8_t *second = malloc(n - cut ? n - cut : 1);

		FUZZ_CHECK(second != NULL);
		memcpy(second, data + 1 + cut, n - cut);
		rb = decode(&split, second, n - cut, &blen);
		if (rb != HTTP_BAD) {
			memmove(b + out, second, blen + (rb > 0 ? (size_t)rb : 0));
			out += blen;
		}
		free(second);
	} else if (rb >= 0) {
		/* Done within the first part: the rest follows untouched. */
		memcpy(b + out + (size_t)rb, data + 1 + cut, n - cut);
		rb += (ssize_t)(n - cut);
	}
	FUZZ_CHECK((ra == HTTP_BAD) == (rb == HTTP_BAD));
	if (ra != HTTP_BAD) {
		FUZZ_CHECK(ra == rb);
		FUZZ_CHECK(alen == out);
		FUZZ_CHECK(memcmp(a, b, alen + (ra > 0 ? (size_t)ra : 0)) == 0);
	}
	free(a);
	free(b);
	return 0;
}
