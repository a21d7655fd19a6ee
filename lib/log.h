/*
 * log.h - diagnostics for the daemon, prefixed with the program name.
 *
 * log_warn appends strerror(errno); log_warnx does not; fatal and fatalx
 * do the same and exit 1.  Messages are single lines on standard error:
 * "aggd: 2026-12-07T09:40:49.275Z message", without the time when
 * standard error is the systemd journal.
 */
#ifndef AGG_LOG_H
#define AGG_LOG_H

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

void	log_init(const char *progname);
void	log_info(const char *, ...) LOG_PRINTF(1, 2);
void	log_warn(const char *, ...) LOG_PRINTF(1, 2);
void	log_warnx(const char *, ...) LOG_PRINTF(1, 2);
void	fatal(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));
void	fatalx(const char *, ...) LOG_PRINTF(1, 2) __attribute__((noreturn));

#endif
