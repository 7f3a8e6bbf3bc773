/*
 * supervisor/fromclamdint.h: shared by fromclamd.c (the conversion's frame:
 * helpers, what is left over, the output) and fromclamdmap.c (the clamd
 * options avwarden has keys for). Not for anyone else.
 */
#ifndef AVW_FROMCLAMDINT_H
#define AVW_FROMCLAMDINT_H

#include <stdint.h>
#include <stdio.h>

#include "../platform/plat.h"
#include "clamdconf.h"

/* The conversion of one file. */
struct sup_fc {
	struct sup_cc_conf *c;
	FILE *body;             /* the keys, each under comments saying where it comes from */
	char *body_buf;
	size_t body_len;
	FILE *notes;            /* one line each: on stderr, and at the end of the output */
	char *notes_buf;
	size_t notes_len;
	char err[512];          /* set: give up, exit 1 */
};

/* Output: a section title, "# " comment lines wrapped at 78 columns, a key. */
void sup_fc_section(struct sup_fc *f, const char *title);
void sup_fc_comment(struct sup_fc *f, const char *fmt, ...) PLAT_PRINTF(2, 3);
void sup_fc_key(struct sup_fc *f, const char *key, const char *fmt, ...) PLAT_PRINTF(3, 4);
/* A difference the operator should know of: on stderr and in the output. */
void sup_fc_note(struct sup_fc *f, const char *fmt, ...) PLAT_PRINTF(2, 3);
/* Gives up on the file: "PATH:LINE: message" (line 0: no line). Returns -1. */
int sup_fc_fail(struct sup_fc *f, int line, const char *fmt, ...) PLAT_PRINTF(3, 4);

/* The setting clamd uses for name, or NULL. */
struct sup_cc_setting *sup_fc_get(const struct sup_fc *f, const char *name);
/* What clamd reads for name: the setting, else its default (nolimit: a SIZE of 0). */
uint64_t sup_fc_num(const struct sup_fc *f, const char *name, int *nolimit);
/* "MaxThreads 12" as written, or "MaxThreads (not set: clamd's default, 10)". */
const char *sup_fc_src(const struct sup_fc *f, const char *name, char *buf, size_t len);
/* "PATH:LINE" of the setting clamd uses for name, or "PATH" when unset. */
const char *sup_fc_at(const struct sup_fc *f, const char *name, char *buf, size_t len);
/* Marks every setting of name as carried into key. */
void sup_fc_took(struct sup_fc *f, const char *name, const char *key);
/* Marks a setting left out (on stderr with why), or without effect. */
void sup_fc_left(struct sup_cc_setting *s, const char *fmt, ...) PLAT_PRINTF(2, 3);
void sup_fc_noeffect(struct sup_cc_setting *s, const char *fmt, ...) PLAT_PRINTF(2, 3);
/* Bytes as the shortest exact size string: "25M", "4G", "1000". */
void sup_fc_size(uint64_t v, char *buf, size_t len);
/* A string as an avwarden.conf string literal, quotes included. */
void sup_fc_quote(const char *s, char *buf, size_t len);

/* fromclamdmap.c: each writes its keys and marks the settings it used. 0 or -1 (sup_fc_fail). */
int sup_fc_map_sockets(struct sup_fc *f);
void sup_fc_map_load(struct sup_fc *f);
void sup_fc_map_limits(struct sup_fc *f);
void sup_fc_map_database(struct sup_fc *f);
void sup_fc_map_logging(struct sup_fc *f);
void sup_fc_map_scanners(struct sup_fc *f);

#endif
