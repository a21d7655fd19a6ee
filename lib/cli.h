/*
 * cli.h - what the tools share on their command lines: a usage error is
 * one line that ends with where to look (exit 2), and the option letters
 * of 1.1 that changed keep working for one release, with a warning.
 *
 * The letters, one meaning each across the suite (agg(7) has the table):
 * -k token, -u url, -t topic, -n count of events, -b events per request,
 * -o output, -q quiet, -d store, -l listen address.
 */
#ifndef AGG_CLI_H
#define AGG_CLI_H

#include <stddef.h>

/* "PROG: MSG; try 'PROG --help'" on standard error, then exit(2). */
void	cli_usage_error(const char *prog, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

struct option;

/*
 * The usage error for what getopt_long returned as ch ('?' or ':', with
 * an optstring that starts with ':' and opterr 0) over the long options
 * opts: an unknown or ambiguous option, one without its value, or one
 * given a value it does not take.
 */
void	cli_bad_option(const char *prog, char **argv, int ch,
	    const struct option *opts) __attribute__((noreturn));

/* Warns that -OLD is now spelled NOW (which also says the long name). */
void	cli_old_letter(const char *prog, int old, const char *now);

/*
 * A whole number from min to max, as given to option name: decimal
 * digits only; otherwise a usage error that names the range.
 */
unsigned long long cli_number(const char *prog, const char *name,
	    const char *s, unsigned long long min, unsigned long long max);

/*
 * --token-file: the token is the file's first line (a final newline, and
 * CR LF, dropped), so that it does not show in ps(1) as -k would.  Read
 * into buf[size]; a usage error when the file cannot be read, is empty,
 * or is longer than CLI_TOKEN_MAX bytes.
 */
#define CLI_TOKEN_MAX	1024
const char *cli_token_file(const char *prog, const char *path, char *buf,
	    size_t size);

#endif
