/*
 * supervisor/conftext.h: reading the configuration file safely, blanking its
 * comments without moving a line, finding the line a key is set on, and the
 * one error of a load, as "FILE:LINE: message".
 */
#ifndef AVW_CONFTEXT_H
#define AVW_CONFTEXT_H

#include <stdarg.h>
#include <stddef.h>

#include "../platform/plat.h"

/* Starts a load of path; errors go to err (the first one wins). */
void sup_conftext_begin(const char *path, char *err, size_t errlen);
/* The file, NUL-terminated, comments blanked; NULL after an error. */
char *sup_conftext_read(size_t *len);
/* "PATH:LINE: message", or "PATH: message" for line 0. */
void sup_conftext_error(int line, const char *fmt, ...) PLAT_PRINTF(2, 3);
void sup_conftext_verror(int line, const char *fmt, va_list ap) PLAT_PRINTF(2, 0);
/* The line of the last `key =` or `key +=` in a comment-free text, or 0. */
int sup_conftext_key_line(const char *text, const char *key);
/* A key set twice with `=`: -1 with the error naming both lines. */
int sup_conftext_check_duplicates(const char *text);
/* The line of the first of two keys set in the text (0 if neither is). */
int sup_conftext_either_line(const char *text, const char *key1, const char *key2);

#endif
