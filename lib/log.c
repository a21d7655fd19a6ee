/*
 * log.c - one-line diagnostics on standard error.
 *
 * The program name is set once by main before any thread starts and only
 * read afterwards; besides it, only log_exit's flag is process-wide.
 * Each message is formatted into one buffer and written with one write(2)
 * so that lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "agg";

void
log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	log_prog = slash ? slash + 1 : progname;
}

static void
log_vemit(int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char line[1024];
	int n, m;

	n = snprintf(line, sizeof(line), "%s: ", log_prog);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	if (m > 0)
		n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	if (with_errno)
		n += snprintf(line + n, sizeof(line) - (size_t)n, ": %s",
		    strerror(saved_errno));
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

#define LOG_BODY(with_errno) do {				\
	int saved = errno;					\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vemit(with_errno, saved, fmt, ap);			\
	va_end(ap);						\
	errno = saved;						\
} while (0)

/*
 * exit(3) called by two threads at once is undefined, and aggd's writer,
 * syncer and checkpointer can each meet a fatal error at the same moment:
 * the first caller exits, any later one waits for it to.
 */
static void __attribute__((noreturn))
log_exit(void)
{
	static int exiting;

	if (__atomic_exchange_n(&exiting, 1, __ATOMIC_SEQ_CST))
		for (;;)
			pause();
	exit(1);
}

void log_info(const char *fmt, ...) { LOG_BODY(0); }
void log_warn(const char *fmt, ...) { LOG_BODY(1); }
void log_warnx(const char *fmt, ...) { LOG_BODY(0); }
void fatal(const char *fmt, ...) { LOG_BODY(1); log_exit(); }
void fatalx(const char *fmt, ...) { LOG_BODY(0); log_exit(); }
