/*
 * sync_speed - what one durable write costs on a folder's disk, by each
 * way Linux offers: pwrite + fdatasync (over blocks written before, or
 * appended), O_DIRECT + fdatasync, O_DIRECT | O_DSYNC, and pwritev2 with
 * RWF_DSYNC; 4 KiB and 16 KiB writes (a WAL commit of a few single events
 * is 4-6 pages).  Prints writes/s, mean, p50 and p99 of each, so that a
 * cheaper primitive than the WAL's fdatasync would show.  It takes a few
 * seconds and leaves nothing behind.
 *
 * usage: sync_speed [DIR] [N]	(default: the current folder, 2000)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define FILE_SIZE	(64 << 20)
#define CHUNK		(1 << 20)

enum way { OVERWRITE, APPEND, DIRECT, DIRECT_DSYNC, RWF };

static const char *const way_name[] = {
	"pwrite + fdatasync, overwrite", "pwrite + fdatasync, append",
	"O_DIRECT + fdatasync", "O_DIRECT | O_DSYNC", "pwritev2 RWF_DSYNC",
};

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The file, written and synced in full first, so later writes overwrite. */
static void
prepare(const char *path, const char *block)
{
	off_t off;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		fatal("%s", path);
	for (off = 0; off < FILE_SIZE; off += CHUNK)
		if (pwrite(fd, block, CHUNK, off) != CHUNK)
			fatal("write %s", path);
	if (fsync(fd) == -1 || close(fd) == -1)
		fatal("fsync %s", path);
}

static int
open_for(enum way w, const char *path)
{
	int flags = O_WRONLY;

	if (w == APPEND)
		flags |= O_TRUNC;
	if (w == DIRECT || w == DIRECT_DSYNC)
		flags |= O_DIRECT;
	if (w == DIRECT_DSYNC)
		flags |= O_DSYNC;
	return open(path, flags);
}

static void
one_write(enum way w, int fd, const char *block, size_t size, off_t off)
{
	struct iovec iov = { (void *)block, size };

	if (w == RWF) {
		if (pwritev2(fd, &iov, 1, off, RWF_DSYNC) != (ssize_t)size)
			fatal("pwritev2");
		return;
	}
	if (pwrite(fd, block, size, off) != (ssize_t)size)
		fatal("pwrite");
	if (w != DIRECT_DSYNC && fdatasync(fd) == -1)
		fatal("fdatasync");
}

static void
measure(enum way w, const char *path, const char *block, size_t size, int n,
    double *lat)
{
	double t0, t;
	off_t off = 0;
	int fd, i;

	if ((fd = open_for(w, path)) == -1)
		fatal("%s", path);
	t0 = mono_seconds();
	for (i = 0; i < n; i++) {
		if (off + (off_t)size > FILE_SIZE)
			off = 0;
		t = mono_seconds();
		one_write(w, fd, block, size, off);
		lat[i] = mono_seconds() - t;
		off += (off_t)size;
	}
	t = mono_seconds() - t0;
	close(fd);
	qsort(lat, (size_t)n, sizeof(*lat), by_value);
	printf("%-32s %5zu KiB %8.0f /s  mean %4.0f  p50 %4.0f  p99 %5.0f us\n",
	    way_name[w], size / 1024, n / t, t / n * 1e6, lat[n / 2] * 1e6,
	    lat[n * 99 / 100] * 1e6);
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	int n = argc > 2 ? atoi(argv[2]) : 2000;
	static const size_t sizes[] = { 4096, 16384 };
	char path[4096], *block;
	double *lat;
	size_t s;
	int w;

	log_init("sync_speed");
	if (n < 100)
		fatalx("N must be 100 or more");
	if (snprintf(path, sizeof(path), "%s/sync_speed.%d", dir,
	    (int)getpid()) >= (int)sizeof(path))
		fatalx("folder name too long");
	if (posix_memalign((void **)&block, 4096, CHUNK) != 0 ||
	    (lat = malloc((size_t)n * sizeof(*lat))) == NULL)
		fatalx("out of memory");
	memset(block, 'x', CHUNK);
	for (s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		for (w = OVERWRITE; w <= RWF; w++) {
			prepare(path, block);
			measure((enum way)w, path, block, sizes[s], n, lat);
		}
	unlink(path);
	free(lat);
	free(block);
	return 0;
}
