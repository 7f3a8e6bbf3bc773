/*
 * tests/inproc_scan.c: the reference avwarden is compared against:
 * libclamav in-process, same database, same options and classification
 * (scanner/engine.c), no sandbox, no IPC.
 *
 *   inproc-scan DATABASE FILE...   prints "FILE: <clamd-style reply>"
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../scanner/scan.h"

int main(int argc, char **argv)
{
	struct cl_engine *e;
	char err[512];
	unsigned sigs;

	if (argc < 3) {
		fprintf(stderr, "usage: inproc-scan DATABASE FILE...\n");
		return 2;
	}
	e = scan_engine_load(argv[1], argv[1], NULL, NULL, &sigs, err, sizeof(err));
	if (e == NULL) {
		fprintf(stderr, "inproc-scan: %s\n", err);
		return 1;
	}
	for (int i = 2; i < argc; i++) {
		struct ipc_result r;
		struct stat st;
		void *p = NULL;
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fstat(fd, &st) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (st.st_size > 0 && (p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
			perror(argv[i]);
			return 1;
		}
		memset(&r, 0, sizeof(r));
		scan_buffer(e, p, (size_t)st.st_size, &r);
		if (p != NULL)
			munmap(p, (size_t)st.st_size);
		close(fd);
		switch (r.status) {
		case IPC_CLEAN: printf("%s: stream: OK\n", argv[i]); break;
		case IPC_INFECTED:
		case IPC_UNSCANNABLE: printf("%s: stream: %s FOUND\n", argv[i], r.name); break;
		default: printf("%s: stream: %s ERROR\n", argv[i], ipc_engine_strerror(r.engine_code)); break;
		}
	}
	cl_engine_free(e);
	return 0;
}
