/* cli.c - command-line errors shared by the tools; see cli.h. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void
cli_usage_error(const char *prog, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s; try '%s --help'\n", prog, msg, prog);
	exit(2);
}

/* The long options that name[0..len) abbreviates, ", "-separated. */
static int
matches(const struct option *opts, const char *name, size_t len, char *out,
    size_t outsz)
{
	size_t used = 0;
	int n = 0;

	for (; opts->name; opts++)
		if (strncmp(opts->name, name, len) == 0) {
			if (strlen(opts->name) == len)
				return 1;	/* exact: no ambiguity */
			used += (size_t)snprintf(out + used, outsz > used ?
			    outsz - used : 0, "%s--%s", n ? ", " : "",
			    opts->name);
			n++;
		}
	return n;
}

void
cli_bad_option(const char *prog, char **argv, int ch,
    const struct option *opts)
{
	const char *arg = argv[optind - 1];
	size_t len = strcspn(arg, "=");
	char names[256] = "";

	/* A long option is named as typed; a short one by its letter. */
	if (strncmp(arg, "--", 2) == 0 && len > 2) {
		if (ch == ':')
			cli_usage_error(prog, "option %.*s needs a value",
			    (int)len, arg);
		if (matches(opts, arg + 2, len - 2, names, sizeof(names)) > 1)
			cli_usage_error(prog, "option %.*s is ambiguous: %s",
			    (int)len, arg, names);
		if (optopt != 0)
			cli_usage_error(prog, "option %.*s takes no value",
			    (int)len, arg);
		cli_usage_error(prog, "unknown option %.*s", (int)len, arg);
	}
	if (ch == ':')
		cli_usage_error(prog, "option -%c needs a value", optopt);
	if (optopt > ' ' && optopt < 0x7f)
		cli_usage_error(prog, "unknown option -%c", optopt);
	cli_usage_error(prog, "unknown option %s", arg);
}

void
cli_old_letter(const char *prog, int old, const char *now)
{
	fprintf(stderr, "%s: -%c is %s now; -%c goes away in agg 2.0\n",
	    prog, old, now, old);
}

unsigned long long
cli_number(const char *prog, const char *name, const char *s,
    unsigned long long min, unsigned long long max)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *s < '0' || *s > '9' || *end || v < min || v > max)
		cli_usage_error(prog, "%s: not a whole number from %llu to %llu:"
		    " %s", name, min, max, s);
	return v;
}

const char *
cli_token_file(const char *prog, const char *path, char *buf, size_t size)
{
	FILE *f;
	size_t n;
	int e;

	if ((f = fopen(path, "r")) == NULL)
		cli_usage_error(prog, "--token-file %s: %s", path,
		    strerror(errno));
	n = fread(buf, 1, size, f);
	e = ferror(f) ? errno : 0;
	fclose(f);
	if (e)
		cli_usage_error(prog, "--token-file %s: %s", path, strerror(e));
	if (memchr(buf, '\n', n))
		n = (size_t)((char *)memchr(buf, '\n', n) - buf);
	else if (n == size)
		cli_usage_error(prog, "--token-file %s: longer than %zu bytes",
		    path, size - 1);
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if (n == 0 || memchr(buf, '\0', n))
		cli_usage_error(prog, "--token-file %s: %s", path, n == 0 ?
		    "no token on its first line" : "a NUL in the token");
	buf[n] = '\0';
	return buf;
}
