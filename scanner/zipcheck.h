/*
 * scanner/zipcheck.h: a zip's structure checked in the worker, for what
 * libclamav 1.4 skips, cuts or cannot read in it while still answering
 * CLEAN (zipcheck.c). Called on every zip layer the engine inspects
 * (layers.c); a finding makes the message UNSCANNABLE unless something in
 * it is found infected.
 */
#ifndef AVW_ZIPCHECK_H
#define AVW_ZIPCHECK_H

#include <stddef.h>
#include <stdint.h>

/* What was found; layers.c maps these onto the Momentum codes. */
enum zip_code {
	ZC_OK = 0,
	ZC_MALFORMED,        /* cut short, damaged directory, headers that disagree, hidden or overlapping members */
	ZC_ENCRYPTED,
	ZC_EXTRACT_FAILED,   /* a method the engine cannot decompress, zip64 local sizes, masked headers */
	ZC_MAX_EXTRACT_SIZE, /* a member past max_extract_size: the engine cuts it without a word */
	ZC_MAX_SCAN_SIZE,
	ZC_MAX_FILES,
	ZC_SPLIT,            /* a multi-disk archive */
	ZC_OUT_OF_MEMORY,
};

/* The engine's limits, as configured (0: none). */
struct zip_limits {
	uint64_t max_file_size, max_scan_size;
	uint64_t max_files;
};

struct zip_finding {
	enum zip_code code;  /* the first finding, ZC_OK for none */
	char reason[160];
	uint64_t members;    /* directory entries read */
};

/* Checks the zip in b. Returns f->code. */
int zip_check(const unsigned char *b, size_t len, const struct zip_limits *lim, struct zip_finding *f);

#endif
