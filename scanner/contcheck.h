/*
 * scanner/contcheck.h: containers checked in the worker for what libclamav
 * 1.4 skips, cuts or cannot read in them while it answers CLEAN: zips
 * (zipcheck.c), and tar, gzip, bzip2, xz, TNEF and mail (contcheck.c).
 * Called on the layers the engine inspects (layers.c); a finding makes the
 * message UNSCANNABLE unless something in it is found infected.
 */
#ifndef AVW_CONTCHECK_H
#define AVW_CONTCHECK_H

#include <stddef.h>
#include <stdint.h>

/* What was found; layers.c maps these onto the Momentum codes. */
enum cont_code {
	ZC_OK = 0,
	ZC_MALFORMED,        /* cut short, damaged directory, headers that disagree, hidden or overlapping members */
	ZC_ENCRYPTED,
	ZC_EXTRACT_FAILED,   /* a method the engine cannot decompress, zip64 local sizes, masked headers */
	ZC_MAX_EXTRACT_SIZE, /* a member past max_extract_size: the engine cuts it without a word */
	ZC_MAX_SCAN_SIZE,
	ZC_MAX_FILES,
	ZC_SPLIT,            /* a multi-disk archive */
	ZC_PARTIAL_MESSAGE,  /* a message/partial fragment: the rest is elsewhere */
	ZC_UNKNOWN_ALGORITHM, /* an encoding the engine does not decode (yEnc) */
	ZC_OUT_OF_MEMORY,
};

/* The engine's limits, as configured (0: none). */
struct cont_limits {
	uint64_t max_file_size, max_scan_size;
	uint64_t max_files;
};

struct cont_finding {
	enum cont_code code;  /* the first finding, ZC_OK for none */
	char reason[160];
	uint64_t members;    /* directory entries read */
};

/*
 * Checks a layer of libclamav's type ("CL_TYPE_POSIX_TAR", "CL_TYPE_GZ",
 * ...; zips too, through zip_check) and, in any other layer, a zip inside
 * it (an SFX or appended archive). Returns f->code; ZC_OK for a type it
 * does not check.
 */
int cont_check(const char *type, const unsigned char *b, size_t len, const struct cont_limits *lim,
    struct cont_finding *f);

#endif
