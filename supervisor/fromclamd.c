/*
 * supervisor/fromclamd.c: `avwarden --from-clamd-conf FILE` (see fromclamd.h).
 *
 * Reads the clamd.conf as clamd does (clamdconf.c), writes the avwarden keys
 * that have a clamd counterpart (fromclamdmap.c), then accounts for every
 * other line: the same in avwarden, without effect in clamd too, or left
 * out with the reason. Nothing is dropped silently: every line of the input
 * is named in the output, and every one left out also on standard error.
 * Runs before anything else in main(): no daemon state, no privileges used.
 */
#define _GNU_SOURCE
#include "fromclamd.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fromclamdint.h"

static void title(FILE *out, const char *t)
{
	fprintf(out, "\n# ---- %s ", t);
	for (size_t n = strlen(t) + 7; n < 78; n++)
		fputc('-', out);
	fputc('\n', out);
}

void sup_fc_section(struct sup_fc *f, const char *t)
{
	title(f->body, t);
}

/* "# " lines of at most 78 columns (a longer word gets its own line). */
static void wrap(FILE *out, const char *text)
{
	size_t col = 0;

	for (const char *p = text; *p != '\0';) {
		size_t w = strcspn(p, " ");
		if (col > 0 && col + 1 + w > 78) {
			fputc('\n', out);
			col = 0;
		}
		if (col == 0) {
			fputc('#', out);
			col = 1;
		}
		fputc(' ', out);
		fwrite(p, 1, w, out);
		col += 1 + w;
		p += w;
		while (*p == ' ')
			p++;
	}
	if (col > 0)
		fputc('\n', out);
}

void sup_fc_comment(struct sup_fc *f, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	wrap(f->body, text);
}

void sup_fc_key(struct sup_fc *f, const char *key, const char *fmt, ...)
{
	va_list ap;

	fprintf(f->body, "%s = ", key);
	va_start(ap, fmt);
	vfprintf(f->body, fmt, ap);
	va_end(ap);
	fputc('\n', f->body);
}

void sup_fc_note(struct sup_fc *f, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(f->notes, fmt, ap);
	va_end(ap);
	fputc('\n', f->notes);
}

int sup_fc_fail(struct sup_fc *f, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(f->err, sizeof(f->err), "%s:%d: %s", f->c->path, line, msg);
	else
		snprintf(f->err, sizeof(f->err), "%s: %s", f->c->path, msg);
	return -1;
}

struct sup_cc_setting *sup_fc_get(const struct sup_fc *f, const char *name)
{
	return sup_cc_get(f->c, name);
}

static int yes(const char *v)
{
	return strcasecmp(v, "yes") == 0 || strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

uint64_t sup_fc_num(const struct sup_fc *f, const char *name, int *nolimit)
{
	const struct sup_cc_setting *s = sup_fc_get(f, name);
	const struct sup_cc_opt *o = sup_cc_find(name, 0);
	uint64_t v = 0;

	*nolimit = s != NULL && s->nolimit;
	if (s != NULL)
		return s->num;
	if (o == NULL || o->dflt == NULL)
		return 0;
	if (o->type == CC_BOOL)
		return (uint64_t)yes(o->dflt);
	if (o->type == CC_SIZE)
		(void)plat_parse_size(o->dflt, &v);
	else
		v = strtoull(o->dflt, NULL, 10);
	return v;
}

const char *sup_fc_src(const struct sup_fc *f, const char *name, char *buf, size_t len)
{
	const struct sup_cc_setting *s = sup_fc_get(f, name);
	const struct sup_cc_opt *o = sup_cc_find(name, 0);

	if (s != NULL)
		snprintf(buf, len, "%s %s", name, s->value);
	else if (o != NULL && o->dflt != NULL)
		snprintf(buf, len, "%s (not set: clamd's default, %s)", name, o->dflt);
	else
		snprintf(buf, len, "%s (not set)", name);
	return buf;
}

const char *sup_fc_at(const struct sup_fc *f, const char *name, char *buf, size_t len)
{
	const struct sup_cc_setting *s = sup_fc_get(f, name);

	if (s != NULL)
		snprintf(buf, len, "%s:%d", f->c->path, s->line);
	else
		snprintf(buf, len, "%s", f->c->path);
	return buf;
}

void sup_fc_took(struct sup_fc *f, const char *name, const char *key)
{
	for (size_t i = 0; i < f->c->n; i++) {
		struct sup_cc_setting *s = &f->c->s[i];
		if (s->opt != NULL && strcmp(s->opt->name, name) == 0 && s->first == 0 && s->status == CC_OPEN) {
			s->status = CC_TO_KEY;
			s->key = key;
		}
	}
}

static void PLAT_PRINTF(3, 0) mark(struct sup_cc_setting *s, enum sup_cc_status st, const char *fmt, va_list ap)
{
	s->status = st;
	vsnprintf(s->why, sizeof(s->why), fmt, ap);
}

void sup_fc_left(struct sup_cc_setting *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mark(s, CC_LEFT_OUT, fmt, ap);
	va_end(ap);
}

void sup_fc_noeffect(struct sup_cc_setting *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mark(s, CC_NO_EFFECT, fmt, ap);
	va_end(ap);
}

static void PLAT_PRINTF(2, 3) same(struct sup_cc_setting *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	mark(s, CC_SAME, fmt, ap);
	va_end(ap);
}

void sup_fc_size(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "GMK";

	for (int i = 0; i < 3; i++) {
		uint64_t u = 1ull << (10 * (3 - i));
		if (v >= u && v % u == 0) {
			snprintf(buf, len, "%llu%c", (unsigned long long)(v / u), units[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

void sup_fc_quote(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	if (len < 3) {
		buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (; *s != '\0' && o + 3 < len; s++) {
		if (*s == '"' || *s == '\\')
			buf[o++] = '\\';
		buf[o++] = *s;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}

/* A CC_FIXED option's value against what avwarden does. */
static int is_avw_value(const struct sup_cc_setting *s)
{
	const char *a = s->opt->avw;
	uint64_t v = 0;

	switch (s->opt->type) {
	case CC_BOOL:
		return (s->num != 0) == yes(a);
	case CC_NUMBER:
		return s->num == strtoull(a, NULL, 10);
	case CC_SIZE:
		if (strcmp(a, "0") == 0)
			return s->nolimit;
		return !s->nolimit && plat_parse_size(a, &v) == 0 && s->num == v;
	case CC_STRING:
		break;
	}
	return strcasecmp(s->value, a) == 0;
}

/* Whether the option another depends on is on (BOOL) or set (others). */
static int parent_on(const struct sup_fc *f, const char *name)
{
	const struct sup_cc_opt *o = sup_cc_find(name, 0);

	if (o != NULL && o->type == CC_BOOL)
		return sup_cc_bool(f->c, name);
	return sup_fc_get(f, name) != NULL;
}

/* One line the keys did not take. */
static void classify(struct sup_fc *f, struct sup_cc_setting *s)
{
	const struct sup_cc_opt *o = s->opt, *near;

	if (o == NULL) {
		near = sup_cc_find(s->name, 1);
		if (near != NULL)
			sup_fc_left(s, "not a clamd option: clamd's names are case sensitive (%s?) and clamd 1.4 "
			    "refuses to start with this one", near->name);
		else
			sup_fc_left(s, "not a clamd option: clamd 1.4 refuses to start with it");
	} else if (s->first != 0) {
		sup_fc_noeffect(s, "given again: clamd uses the first, on line %d, and so does this conversion",
		    s->first);
		sup_fc_note(f, "%s:%d: %s is given again; clamd ignores all but the first (line %d)",
		    f->c->path, s->line, s->name, s->first);
	} else if (o->fate == CC_IGNORED) {
		sup_fc_noeffect(s, "%s", o->why);
	} else if (o->only_with != NULL && !parent_on(f, o->only_with)) {
		sup_fc_noeffect(s, "does nothing while %s is %s", o->only_with,
		    sup_cc_find(o->only_with, 0)->type == CC_BOOL ? "off" : "not set");
	} else if (o->fate == CC_FIXED && is_avw_value(s)) {
		same(s, "%s", o->why);
	} else if (o->fate == CC_FIXED || o->fate == CC_NONE) {
		sup_fc_left(s, "%s", o->why);
	} else {
		sup_fc_left(s, "not converted (a bug in avwarden --from-clamd-conf)");
	}
}

/*
 * Where clamd's default, when the file does not set an option, differs from
 * what avwarden always does, in a way the MTA sees.
 */
static void default_notes(struct sup_fc *f)
{
	if (sup_fc_get(f, "AlertExceedsMax") == NULL && sup_fc_get(f, "BlockMax") == NULL)
		sup_fc_note(f, "%s: AlertExceedsMax is not set, so clamd answered OK for content past its limits "
		    "(MaxFileSize, MaxScanSize, MaxRecursion, MaxFiles); avwarden always answers "
		    "Heuristics.Limits.Exceeded.* FOUND, so such mail is refused now (raise max_extract_size, "
		    "max_cumulative_extract_size, max_extract_depth, max_file_count to let more through)", f->c->path);
	if (sup_fc_get(f, "AlertEncrypted") == NULL && sup_fc_get(f, "AlertEncryptedArchive") == NULL &&
	    sup_fc_get(f, "AlertEncryptedDoc") == NULL && sup_fc_get(f, "ArchiveBlockEncrypted") == NULL)
		sup_fc_note(f, "%s: AlertEncrypted is not set, so clamd answered OK for encrypted archives and "
		    "documents it could not look into; avwarden always answers Heuristics.Encrypted.* FOUND, "
		    "so such mail is refused now", f->c->path);
}

/* The output's closing sections: every line the keys did not take, by what became of it. */
static void print_rest(struct sup_fc *f, FILE *out, enum sup_cc_status st, const char *t, const char *intro)
{
	int any = 0;

	for (size_t i = 0; i < f->c->n; i++) {
		const struct sup_cc_setting *s = &f->c->s[i];
		char text[800];
		if (s->status != st)
			continue;
		if (!any++) {
			title(out, t);
			wrap(out, intro);
		}
		if (st == CC_TO_KEY)
			snprintf(text, sizeof(text), "line %d: %s %s: %s", s->line, s->name, s->value, s->key);
		else
			snprintf(text, sizeof(text), "line %d: %s %s: %s", s->line, s->name, s->value, s->why);
		wrap(out, text);
	}
}

static void print_notes(struct sup_fc *f, FILE *out, FILE *err)
{
	char *p = f->notes_buf;

	if (f->notes_len == 0)
		return;
	title(out, "Differences to know of");
	while (p != NULL && *p != '\0') {
		char *nl = strchr(p, '\n');
		*nl = '\0';
		wrap(out, p);
		fprintf(err, "avwarden: note: %s\n", p);
		p = nl + 1;
	}
}

static void print_all(struct sup_fc *f, FILE *out, FILE *err)
{
	unsigned n[CC_LEFT_OUT + 1] = { 0 };

	fprintf(out, "# avwarden configuration converted from %s\n", f->c->path);
	fprintf(out, "# by avwarden --from-clamd-conf (avwarden %s). Check it with\n", AVW_VERSION);
	fprintf(out, "#   avwarden -c FILE --check-config\n");
	wrap(out, "Above each key, the clamd.conf lines it comes from; at the end, every other line "
	    "of the clamd.conf and what became of it. Options not named here have avwarden's "
	    "defaults (see avwarden.conf(5)).");
	fwrite(f->body_buf, 1, f->body_len, out);
	print_rest(f, out, CC_TO_KEY, "Carried over", "clamd.conf lines and the keys above that took them:");
	print_rest(f, out, CC_SAME, "Nothing to set: avwarden already does this",
	    "clamd.conf lines that ask for what avwarden always does:");
	print_rest(f, out, CC_NO_EFFECT, "No effect in clamd either", "clamd.conf lines clamd itself does not act on:");
	print_rest(f, out, CC_LEFT_OUT, "Not carried over",
	    "clamd.conf lines avwarden cannot honour, and why (also printed on standard error):");
	for (size_t i = 0; i < f->c->n; i++) {
		const struct sup_cc_setting *s = &f->c->s[i];
		n[s->status]++;
		if (s->status == CC_LEFT_OUT)
			fprintf(err, "avwarden: %s:%d: %s %s: not carried over: %s\n", f->c->path, s->line,
			    s->name, s->value, s->why);
	}
	print_notes(f, out, err);
	fprintf(err, "avwarden: %s: %u lines carried over, %u already what avwarden does, "
	    "%u without effect in clamd either, %u not carried over\n",
	    f->c->path, n[CC_TO_KEY], n[CC_SAME], n[CC_NO_EFFECT], n[CC_LEFT_OUT]);
}

static void convert(struct sup_fc *f)
{
	for (int i = 0; i < f->c->nnotes; i++)
		sup_fc_note(f, "%s", f->c->notes[i]);
	if (sup_fc_map_sockets(f) < 0)
		return;
	sup_fc_map_load(f);
	sup_fc_map_limits(f);
	sup_fc_map_database(f);
	sup_fc_map_logging(f);
	sup_fc_map_scanners(f);
	for (size_t i = 0; i < f->c->n; i++)
		if (f->c->s[i].status == CC_OPEN)
			classify(f, &f->c->s[i]);
	default_notes(f);
}

int sup_fromclamd(const char *path, FILE *out, FILE *err)
{
	struct sup_cc_conf c;
	struct sup_fc f;
	char msg[512];
	int rc = 1;

	if (sup_cc_read(path, &c, msg, sizeof(msg)) < 0) {
		fprintf(err, "avwarden: %s\n", msg);
		return 1;
	}
	memset(&f, 0, sizeof(f));
	f.c = &c;
	f.body = open_memstream(&f.body_buf, &f.body_len);
	f.notes = open_memstream(&f.notes_buf, &f.notes_len);
	if (f.body == NULL || f.notes == NULL)
		fatal("fromclamd", "reason=\"out of memory\"");
	convert(&f);
	if (fclose(f.body) != 0 || fclose(f.notes) != 0)
		fatal("fromclamd", "reason=\"out of memory\"");
	if (f.err[0] != '\0') {
		fprintf(err, "avwarden: %s\n", f.err);
	} else {
		print_all(&f, out, err);
		if (fflush(out) == 0 && !ferror(out))
			rc = 0;
		else
			fprintf(err, "avwarden: --from-clamd-conf: cannot write the output\n");
	}
	free(f.body_buf);
	free(f.notes_buf);
	sup_cc_free(&c);
	return rc;
}
