/*
 * failsync.so - an LD_PRELOAD shim for tests/0600-aggd-faults.bats: makes
 * the disk fail a sync once the file named by $AGG_FAILSYNC holds a word:
 *
 *   wal		fdatasync and fsync of the store's WAL fail with EIO
 *   writeback	sync_file_range (the checkpointer's writeback) fails with EIO
 *   shm		growing the WAL's index fails with ENOSPC (SQLite grows the
 *		-shm file by writing one byte into each new page)
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

/* 1 when fd's file name ends with suffix, 4 characters. */
static int
named(int fd, const char *suffix)
{
	char link[64], path[4096];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	if ((n = readlink(link, path, sizeof(path) - 1)) < 4)
		return 0;
	path[n] = '\0';
	return strcmp(path + n - 4, suffix) == 0;
}

/* The real call named, unless the test has made the WAL's syncs fail. */
static int
wal_sync(const char *name, int fd)
{
	int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, name);

	if (named(fd, "-wal") && armed("wal")) {
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

/* The real pwrite named, unless the test has filled the -shm's disk. */
static ssize_t
shm_write(const char *name, int fd, const void *buf, size_t n, off_t off)
{
	ssize_t (*real)(int, const void *, size_t, off_t) = (ssize_t (*)(int,
	    const void *, size_t, off_t))dlsym(RTLD_NEXT, name);

	if (n == 1 && named(fd, "-shm") && armed("shm")) {
		errno = ENOSPC;
		return -1;
	}
	return real(fd, buf, n, off);
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
	return shm_write("pwrite", fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
	return shm_write("pwrite64", fd, buf, n, off);
}
