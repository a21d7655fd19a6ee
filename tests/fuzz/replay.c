/*
 * replay.c - runs a fuzz target over files without libFuzzer, so the
 * corpus and every saved crash can be replayed by a plain build (any C
 * compiler, with or without sanitizers).  Each file is read into a buffer
 * of its exact size, as libFuzzer does, so a read past the end is caught.
 * Prints nothing on success; exits 1 if a file cannot be read.  A broken
 * invariant aborts, as under the fuzzer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static int
replay(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL, *p;
	size_t len = 0, cap = 0, n;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if ((p = realloc(data, cap)) == NULL) {
				perror(path);
				free(data);
				fclose(f);
				return -1;
			}
			data = p;
		}
		if ((n = fread(data + len, 1, cap - len, f)) == 0)
			break;
		len += n;
	}
	if (ferror(f)) {
		perror(path);
		free(data);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* Exact size, so ASan sees one byte too far. */
	if ((p = malloc(len ? len : 1)) == NULL) {
		free(data);
		return -1;
	}
	if (len)
		memcpy(p, data, len);
	free(data);
	LLVMFuzzerTestOneInput(p, len);
	free(p);
	return 0;
}

int
main(int argc, char **argv)
{
	int i, rc = 0;

	for (i = 1; i < argc; i++)
		if (replay(argv[i]) == -1)
			rc = 1;
	return rc;
}
