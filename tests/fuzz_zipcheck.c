/*
 * tests/fuzz_zipcheck.c: libFuzzer harness for scanner/zipcheck.c, the zip
 * walker a worker runs on every zip layer of hostile mail. The input is
 * the layer, in an exactly sized allocation (ASan sees a byte past the
 * end); two limits from its first byte. Checked on every input: a code in
 * range, a NUL-terminated reason present exactly when there is a finding,
 * and the same answer twice (no state carried between calls).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../scanner/zipcheck.h"

#define CHECK(c, ...) do { if (!(c)) { fprintf(stderr, "fuzz_zipcheck: " __VA_ARGS__); \
	fprintf(stderr, "\n"); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zip_limits lim = { 0 };
	struct zip_finding f, g;
	unsigned char *buf;
	int rc;

	if (size == 0)
		return 0;
	/* The first byte picks the limits: none, small, or the defaults. */
	if (data[0] & 1)
		lim = (struct zip_limits){ .max_file_size = 1024, .max_scan_size = 4096, .max_files = 4 };
	else if (data[0] & 2)
		lim = (struct zip_limits){ .max_file_size = 100u << 20, .max_scan_size = 400u << 20, .max_files = 10000 };
	if ((buf = malloc(size - 1 + 1)) == NULL)
		return 0;
	memcpy(buf, data + 1, size - 1);
	rc = zip_check(buf, size - 1, &lim, &f);
	CHECK(rc == (int)f.code, "returned %d, finding %d", rc, (int)f.code);
	CHECK(f.code >= ZC_OK && f.code <= ZC_OUT_OF_MEMORY, "code %d out of range", (int)f.code);
	CHECK(memchr(f.reason, '\0', sizeof(f.reason)) != NULL, "reason not terminated");
	CHECK((f.code == ZC_OK) == (f.reason[0] == '\0'), "code %d with reason \"%s\"", (int)f.code, f.reason);
	CHECK(zip_check(buf, size - 1, &lim, &g) == rc && strcmp(f.reason, g.reason) == 0, "a second call differs");
	free(buf);
	return 0;
}
