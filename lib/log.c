/*
 * log.c - one-line diagnostics on standard error.
 *
 * The program name, and whether lines get a time, are set once by main
 * before any thread starts and only read afterwards; besides them, only
 * log_exit's flag is process-wide.  Lines carry the time (UTC, after the
 * name) unless standard error is the systemd journal, which stamps them
 * itself: systemd names the stream it gives a service in JOURNAL_STREAM.
 * Each message is formatted into one buffer and written with one write(2)
 * so that lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "rfc3339.h"

static const char *log_prog = "agg";
static int log_stamp;

/* Standard error is the stream systemd gave the service: dev:inode. */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	return v && sscanf(v, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *progname)
{
	const char *slash = strrchr(progname, '/');

	log_prog = slash ? slash + 1 : progname;
	log_stamp = !stderr_is_journal();
}

static void
log_vemit(int with_errno, int saved_errno, const char *fmt, va_list ap)
{
	char line[1024], at[RFC3339_MS_LEN] = "";
	struct timespec ts;
	int n, m;

	if (log_stamp) {
		clock_gettime(CLOCK_REALTIME, &ts);
		rfc3339_format((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
		    at);
	}
	n = snprintf(line, sizeof(line), "%s: %s%s", log_prog, at,
	    log_stamp ? " " : "");
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
