/*
 * supervisor/clamdconf.h: a clamd.conf read the way clamd 1.4 reads it, and
 * the table of clamd's options: the type of each, clamd's default, and what
 * avwarden makes of it. Used by --from-clamd-conf (fromclamd.c) only; the
 * daemon never reads clamd.conf.
 */
#ifndef AVW_CLAMDCONF_H
#define AVW_CLAMDCONF_H

#include <stddef.h>
#include <stdint.h>

enum sup_cc_type { CC_BOOL, CC_NUMBER, CC_SIZE, CC_STRING };

enum sup_cc_fate {
	CC_MAPPED,   /* carried into avwarden keys by fromclamd.c */
	CC_FIXED,    /* avwarden always behaves as `avw`: the same when the value is that, else left out */
	CC_NONE,     /* avwarden has nothing like it: left out whatever the value */
	CC_IGNORED,  /* clamd 1.4 ignores it too */
};

#define CC_MULTI        1u  /* may be given more than once (clamd keeps every value) */
#define CC_NOTE_DEFAULT 2u  /* when unset, clamd's default differs from what avwarden does: say so */

struct sup_cc_opt {
	const char *name;
	enum sup_cc_type type;
	unsigned flags;
	const char *dflt;       /* clamd's default as a clamd.conf value; NULL: off */
	enum sup_cc_fate fate;
	const char *avw;        /* CC_FIXED: what avwarden does, as a clamd.conf value */
	const char *only_with;  /* a BOOL option without which this one does nothing in clamd */
	const char *choices;    /* CC_STRING: "A|B|C", matched without case, as clamd does */
	const char *why;        /* what avwarden does instead (CC_FIXED, CC_NONE), or why clamd ignores it */
};

/* What the conversion made of one line. */
enum sup_cc_status {
	CC_OPEN,      /* not handled yet */
	CC_TO_KEY,    /* carried into `key` */
	CC_SAME,      /* avwarden already does this */
	CC_NO_EFFECT, /* does nothing in clamd either */
	CC_LEFT_OUT,  /* cannot be carried over: `why` */
};

struct sup_cc_setting {
	const struct sup_cc_opt *opt;  /* NULL: not a clamd option */
	char *name;
	char *value;                   /* as written, without its quotes */
	uint64_t num;                  /* BOOL 0/1, NUMBER, SIZE in bytes */
	int nolimit;                   /* SIZE 0 or past 2^63: clamd has no limit */
	int line;
	int first;                     /* a repeat of a single-valued option: the line clamd uses */
	enum sup_cc_status status;
	const char *key;               /* CC_TO_KEY: the avwarden key(s) */
	char why[320];
};

struct sup_cc_conf {
	const char *path;
	char *text;                    /* the file; names and values point into it */
	struct sup_cc_setting *s;      /* in file order */
	size_t n;
	char notes[4][200];            /* things clamd would have read differently than written */
	int nnotes;
};

/*
 * Reads path as clamd does: one `Option value` per line, `#` only at the
 * start of a line, values checked against the option's type. 0, or -1 with
 * "PATH:LINE: message" in err where clamd would refuse the file too.
 */
int sup_cc_read(const char *path, struct sup_cc_conf *c, char *err, size_t errlen);
void sup_cc_free(struct sup_cc_conf *c);

/* The table: every option clamd 1.4 accepts in clamd.conf. */
const struct sup_cc_opt *sup_cc_opts(size_t *n);
const struct sup_cc_opt *sup_cc_find(const char *name, int nocase);

/* The setting clamd uses for name (the first one), or NULL when unset. */
struct sup_cc_setting *sup_cc_get(const struct sup_cc_conf *c, const char *name);
/* A BOOL option's value, its default when unset. */
int sup_cc_bool(const struct sup_cc_conf *c, const char *name);

#endif
