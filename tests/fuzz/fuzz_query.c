/*
 * fuzz_query.c - http_query_param with the names /events reads ("topic",
 * "after", "limit", "wait") over an arbitrary query string, checked
 * against a plain reference: the first pair whose name matches exactly
 * wins, its value percent-decoded with '+' as a space; a bad escape or a
 * value that does not fit is -1.  The output is NUL terminated.
 */
#include <string.h>

#include "fuzz.h"
#include "http.h"

static int
hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The reference, written the obvious way. */
static int
ref_param(const char *q, size_t qlen, const char *name, char *out,
    size_t outsz, size_t *outlen)
{
	size_t i = 0, start, eq, nlen = strlen(name), o;

	while (i <= qlen) {
		start = i;
		while (i < qlen && q[i] != '&')
			i++;
		/* The pair is q[start..i). */
		for (eq = start; eq < i && q[eq] != '='; eq++)
			;
		if (i > start && eq - start == nlen &&
		    memcmp(q + start, name, nlen) == 0) {
			size_t v = eq < i ? eq + 1 : i;

			for (o = 0; v < i; v++) {
				int ch = q[v];

				if (ch == '+')
					ch = ' ';
				else if (ch == '%') {
					if (i - v < 3 || hex(q[v + 1]) < 0 ||
					    hex(q[v + 2]) < 0)
						return -1;
					ch = hex(q[v + 1]) * 16 + hex(q[v + 2]);
					v += 2;
				}
				if (o + 1 >= outsz)
					return -1;
				out[o++] = (char)ch;
			}
			if (outsz == 0)
				return -1;
			out[o] = '\0';
			*outlen = o;
			return 1;
		}
		i++;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "topic", "after", "limit", "wait" };
	static const size_t sizes[] = { 1, 8, 24, 256 };
	char got[256], want[256];
	char *q = malloc(size ? size : 1);
	size_t i, j, glen, wlen;
	int rg, rw;

	FUZZ_CHECK(q != NULL);
	memcpy(q, data, size);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
			glen = wlen = (size_t)-1;
			rg = http_query_param(q, size, names[i], got, sizes[j],
			    &glen);
			rw = ref_param(q, size, names[i], want, sizes[j], &wlen);
			FUZZ_CHECK(rg == rw);
			if (rg == 1) {
				FUZZ_CHECK(glen == wlen && glen < sizes[j]);
				FUZZ_CHECK(got[glen] == '\0');
				FUZZ_CHECK(memcmp(got, want, glen) == 0);
			}
		}
	/* An absent query, as http_parse_request gives it. */
	FUZZ_CHECK(http_query_param(NULL, 0, "topic", got, sizeof(got),
	    &glen) == 0);
	free(q);
	return 0;
}
