/*
 * failsync.so - an LD_PRELOAD shim for tests/0600-aggd-faults.bats: makes
 * the disk fail a sync once the file named by $AGG_FAILSYNC holds a word:
 *
 *   wal		fdatasync and fsync of the store's WAL fail with EIO
 *   writeback	sync_file_range (the checkpointer's writeback) fails with EIO
 *
 * Build: cc -shared -fPIC -o failsync.so tests/tools/failsync.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The test asked for this failure (the file is read at every call). */
static int
armed(const char *word)
{
	const char *path = getenv("AGG_FAILSYNC");
	char buf[64] = "";
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL)
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, word) != NULL;
}

static int
is_wal(int fd)
{
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, "-wal") == 0;
}

/* The real call named, unless the test has made the WAL's syncs fail. */
static int
wal_sync(const char *name, int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);

	if (is_wal(fd) && armed("wal")) {
		errno = EIO;
		return -1;
	}
	return real(fd);
}

int
fdatasync(int fd)
{
	return wal_sync("fdatasync", fd);
}

int
fsync(int fd)
{
	return wal_sync("fsync", fd);
}

int
sync_file_range(int fd, off_t off, off_t n, unsigned int flags)
{
	int (*real)(int, off_t, off_t, unsigned int) = (int (*)(int, off_t,
	    off_t, unsigned int))dlsym(RTLD_NEXT, "sync_file_range");

	if (armed("writeback")) {
		errno = EIO;
		return -1;
	}
	return real(fd, off, n, flags);
}
