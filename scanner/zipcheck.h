/*
 * scanner/zipcheck.h: a zip's structure checked in the worker, for what
 * libclamav 1.4 skips, cuts or cannot read in it while still answering
 * CLEAN (zipcheck.c). Called on every zip layer the engine inspects
 * (layers.c); a finding makes the message UNSCANNABLE unless something in
 * it is found infected.
 */
#ifndef AVW_ZIPCHECK_H
#define AVW_ZIPCHECK_H


#include "contcheck.h"

/* Checks the zip in b. Returns f->code. */
int zip_check(const unsigned char *b, size_t len, const struct cont_limits *lim, struct cont_finding *f);

#endif
