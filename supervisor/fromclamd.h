/*
 * supervisor/fromclamd.h: `avwarden --from-clamd-conf FILE`: an avwarden
 * configuration equivalent to a clamd.conf, so an operator can replace
 * clamd on the same sockets without touching the MTA.
 */
#ifndef AVW_FROMCLAMD_H
#define AVW_FROMCLAMD_H

#include <stdio.h>

/*
 * Reads the clamd.conf at path and prints a complete avwarden configuration
 * on out (every clamd option accounted for in its comments), and on err
 * every option that could not be carried over, with the reason, and the
 * differences an operator should know of. Returns the exit status: 0 when
 * converted (even with options left out), 1 when the file cannot be read
 * or clamd would refuse it too (the message names the file and line).
 */
int sup_fromclamd(const char *path, FILE *out, FILE *err);

#endif
