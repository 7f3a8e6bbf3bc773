/*
 * tests/fuzz_contcheck.c: libFuzzer harness for scanner/contcheck.c and
 * zipcheck.c, the container walkers a worker runs on every layer of hostile
 * mail. The first byte picks the layer's type (bits 2-7, modulo 9: zip, tar,
 * gz, bz2, xz, TNEF, mail, anything else, 7z) and the limits (bits 0-1); the rest is the
 * layer, in an exactly sized allocation (ASan sees a byte past the end).
 * Checked on every input: a code in range, a NUL-terminated reason present
 * exactly when there is a finding, the same answer twice (no state carried
 * between calls).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../scanner/contcheck.h"

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "fuzz_contcheck: " __VA_ARGS__); \
	fprintf(stderr, "\n"); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[9] = { "CL_TYPE_ZIP", "CL_TYPE_POSIX_TAR", "CL_TYPE_GZ", "CL_TYPE_BZ",
		"CL_TYPE_XZ", "CL_TYPE_TNEF", "CL_TYPE_MAIL", "CL_TYPE_MSEXE", "CL_TYPE_7Z" };
	struct cont_limits lim = { 0 };
	const char *type;
	struct cont_finding f, g;
	unsigned char *buf;
	int rc;

	if (size == 0)
		return 0;
	/* The first byte picks the limits: none, small, or the defaults. */
	if (data[0] & 1)
		lim = (struct cont_limits){ .max_file_size = 1024, .max_scan_size = 4096, .max_files = 4 };
	else if (data[0] & 2)
		lim = (struct cont_limits){ .max_file_size = 100u << 20, .max_scan_size = 400u << 20, .max_files = 10000 };
	type = types[(data[0] >> 2) % 9];
	if ((buf = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	rc = cont_check(type, buf, size - 1, &lim, &f);
	CHECK(rc == (int)f.code, "returned %d, finding %d", rc, (int)f.code);
	CHECK(f.code >= ZC_OK && f.code <= ZC_OUT_OF_MEMORY, "code %d out of range", (int)f.code);
	CHECK(memchr(f.reason, '\0', sizeof(f.reason)) != NULL, "reason not terminated");
	CHECK((f.code == ZC_OK) == (f.reason[0] == '\0'), "code %d with reason \"%s\"", (int)f.code, f.reason);
	CHECK(cont_check(type, buf, size - 1, &lim, &g) == rc && strcmp(f.reason, g.reason) == 0, "a second call differs");
	free(buf);
	return 0;
}
