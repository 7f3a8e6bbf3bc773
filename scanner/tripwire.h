/*
 * scanner/tripwire.h: the resources a scan ran out of, as libc saw them.
 *
 * libclamav goes on when it cannot create, write or open a temp file, or
 * open a descriptor, and may then answer CLEAN for what it never read; in
 * some paths (a nested message it cannot open) it says nothing at all.
 * The scanner executable defines the libc functions libclamav imports for
 * files and descriptors (tripwire.c); each calls libc's own and, while a
 * scan runs, counts failures that mean a resource ran out (EMFILE, ENFILE,
 * ENOSPC, EDQUOT, EFBIG, ENOMEM, EIO). Any such failure makes the scan an
 * ERROR, never CLEAN (layers.c).
 *
 * Not in sanitizer builds: ASan defines these functions itself.
 */
#ifndef AVW_TRIPWIRE_H
#define AVW_TRIPWIRE_H

struct tripwire_hits {
	unsigned count;
	int first_errno;
	char first_call[16];
};

/* Resolves libc's functions; before the sandbox (dlsym may read files). */
void tripwire_init(void);
/* 1 if compiled in. */
int tripwire_available(void);
void tripwire_begin(void);
void tripwire_end(struct tripwire_hits *out);

#endif
