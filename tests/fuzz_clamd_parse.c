/*
 * tests/fuzz_clamd_parse.c: libFuzzer target for the clamd command parser,
 * sup_clamd_parse() in supervisor/clamd.c.
 *
 * The input is a client's byte stream. It is parsed the way listen.c's
 * conn_commands() does: parse, drop `consumed` bytes, parse again, until the
 * parser wants more input (0) or gives up (-1). Every parse gets its own
 * exactly-sized heap copy, not NUL-terminated, so ASan reports any read past
 * `len`. Each result is checked against the contract in clamd.h and the
 * comments in clamd.c, and against what the parser says about shorter
 * prefixes of the same bytes (a command that is complete stays the same
 * command however much more input arrives behind it).
 *
 * Build and run: `make fuzz-short` / `make fuzz` (see the Makefile).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../supervisor/clamd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_clamd_parse: %s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
		fprintf(stderr, __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} \
} while (0)

enum arg_kind { A_NONE, A_PATH, A_OPTIONAL };

/*
 * Every command clamd.h declares, with the argument it takes (the comments
 * on enum sup_cmd). Checked against sup_clamd_command_list() at start-up, so
 * a command added to clamd.c without being added here stops the fuzzer at
 * once instead of being reported as a parser bug later.
 */
static const struct {
	enum sup_cmd cmd;
	const char *name;
	enum arg_kind arg;
} known[] = {
	{ SUP_CMD_PING, "PING", A_NONE },
	{ SUP_CMD_VERSION, "VERSION", A_NONE },
	{ SUP_CMD_INSTREAM, "INSTREAM", A_NONE },
	{ SUP_CMD_SHUTDOWN, "SHUTDOWN", A_NONE },
	{ SUP_CMD_SHUTDOWN, "QUIT", A_NONE },  /* its old name */
	{ SUP_CMD_RELOAD, "RELOAD", A_NONE },
	{ SUP_CMD_VERSIONCOMMANDS, "VERSIONCOMMANDS", A_NONE },
	{ SUP_CMD_STATS, "STATS", A_NONE },
	{ SUP_CMD_IDSESSION, "IDSESSION", A_NONE },
	{ SUP_CMD_END, "END", A_NONE },
	{ SUP_CMD_FILDES, "FILDES", A_NONE },
	{ SUP_CMD_SCAN, "SCAN", A_PATH },
	{ SUP_CMD_CONTSCAN, "CONTSCAN", A_PATH },
	{ SUP_CMD_MULTISCAN, "MULTISCAN", A_PATH },
	{ SUP_CMD_ALLMATCHSCAN, "ALLMATCHSCAN", A_PATH },
	{ SUP_CMD_AVWINSTREAM, "AVWINSTREAM", A_OPTIONAL },
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

static int known_index(enum sup_cmd cmd)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (known[i].cmd == cmd)
			return (int)i;
	return -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *list = sup_clamd_command_list();
	size_t words = 0;

	(void)argc;
	(void)argv;
	/* Same set of names, both ways. */
	for (const char *p = list; *p != '\0';) {
		size_t n = strcspn(p, " ");
		int found = 0;
		for (size_t i = 0; i < NKNOWN; i++)
			if (strlen(known[i].name) == n && memcmp(known[i].name, p, n) == 0)
				found = 1;
		CHECK(found, "command \"%.*s\" from sup_clamd_command_list() is unknown to this harness: add it to known[]",
		    (int)n, p);
		words++;
		p += n;
		p += strspn(p, " ");
	}
	/* QUIT is not listed: clamd does not list it either. */
	CHECK(words + 1 == NKNOWN, "sup_clamd_command_list() has %zu names, the harness %zu", words, NKNOWN);
	return 0;
}

/* An exactly-sized copy: nothing readable after buf[len - 1]. For len 0,
 * ASan's malloc(0) is a live pointer with no readable byte at all. */
static char *copy_exact(const uint8_t *src, size_t len)
{
	char *p = malloc(len);

	CHECK(p != NULL || len == 0, "out of memory");
	if (len > 0)
		memcpy(p, src, len);
	return p;
}

/*
 * Parses len bytes from an exactly-sized place: copied to the end of the
 * session's scratch allocation (as big as the whole input), so a read past
 * len runs off the allocation without a malloc per parse.
 */
static char *scratch;
static size_t scratch_size;

static int parse_exact(const uint8_t *src, size_t len, struct sup_cmd_req *req)
{
	char *buf = scratch + scratch_size - len;

	CHECK(len <= scratch_size, "scratch too small");
	if (len > 0)
		memcpy(buf, src, len);
	/* Poison the whole request: the parser must fill what it returns. */
	memset(req, 0xa5, sizeof(*req));
	return sup_clamd_parse(buf, len, req);
}

static int same_req(const struct sup_cmd_req *a, const struct sup_cmd_req *b)
{
	return a->cmd == b->cmd && a->delim == b->delim && a->legacy == b->legacy &&
	    a->consumed == b->consumed && a->arg_off == b->arg_off && a->arg_len == b->arg_len;
}

/* The checks on one complete command (rc == 1) at the start of buf. */
static void check_command(const uint8_t *buf, size_t len, const struct sup_cmd_req *r)
{
	size_t start, line_end, end;
	char term;
	int legacy;

	/* What clamd.h promises about any complete command. */
	CHECK(r->consumed > 0 && r->consumed <= len, "consumed %zu, len %zu", r->consumed, len);
	CHECK(r->consumed <= SUP_CLAMD_CMD_MAX, "consumed %zu > SUP_CLAMD_CMD_MAX", r->consumed);
	CHECK(r->delim == '\0' || r->delim == '\n', "delim 0x%02x", (unsigned char)r->delim);
	CHECK(r->legacy == 0 || r->legacy == 1, "legacy %d", r->legacy);
	CHECK(r->cmd == SUP_CMD_UNKNOWN || known_index(r->cmd) >= 0, "cmd %d is not a sup_cmd", (int)r->cmd);

	/* The framing the header describes: "zCMD\0", "nCMD\n"; legacy "CMD"
	 * ends at the first '\n' or '\0', or is whatever has arrived. */
	legacy = !(buf[0] == 'z' || buf[0] == 'n');
	term = buf[0] == 'z' ? '\0' : '\n';
	start = legacy ? 0 : 1;
	CHECK(r->legacy == legacy, "legacy %d for first byte 0x%02x", r->legacy, buf[0]);
	CHECK(r->delim == term, "delim 0x%02x for first byte 0x%02x", (unsigned char)r->delim, buf[0]);
	CHECK(r->consumed > start, "consumed %zu does not cover the prefix", r->consumed);
	if (legacy) {
		const uint8_t *nl = memchr(buf, '\n', r->consumed - 1), *nul = memchr(buf, '\0', r->consumed - 1);
		char last = (char)buf[r->consumed - 1];
		/* The first '\n' or '\0', not a later one. */
		CHECK(nl == NULL && nul == NULL, "consumed %zu skips an earlier terminator", r->consumed);
		if (last == '\n' || last == '\0') {
			line_end = r->consumed - 1;
		} else {
			CHECK(r->consumed == (len < SUP_CLAMD_CMD_MAX ? len : SUP_CLAMD_CMD_MAX),
			    "unterminated legacy command of %zu bytes, %zu buffered", r->consumed, len);
			line_end = r->consumed;
		}
	} else {
		line_end = r->consumed - 1;
		CHECK((char)buf[line_end] == term, "the line ends in 0x%02x, not its terminator", buf[line_end]);
		/* The first terminator, not a later one. */
		CHECK(memchr(buf + start, term, line_end - start) == NULL, "consumed %zu skips an earlier terminator",
		    r->consumed);
	}

	/* The line as clamd sees it: trailing CR and LF chomped (clamd.c). */
	end = line_end;
	while (end > start && (buf[end - 1] == '\r' || buf[end - 1] == '\n'))
		end--;

	if (r->cmd == SUP_CMD_UNKNOWN) {
		/*
		 * Not recognized. For the prefixed forms every listed command is
		 * accepted, so the line must not be exactly a well-formed one.
		 * (The legacy form refuses some commands, as clamd: not checked.)
		 */
		if (legacy)
			return;
		for (size_t i = 0; i < NKNOWN; i++) {
			size_t n = strlen(known[i].name);
			if (end - start < n || memcmp(buf + start, known[i].name, n) != 0)
				continue;
			if (end - start == n)
				CHECK(known[i].arg == A_PATH, "\"%s\" alone was not recognized", known[i].name);
			else if (known[i].arg != A_NONE && buf[start + n] == ' ' && end - start > n + 1)
				CHECK(memchr(buf + start + n + 1, '\0', end - start - n - 1) != NULL,
				    "\"%s ARG\" was not recognized", known[i].name);
		}
		return;
	}

	/* Recognized: the chomped line is NAME, or NAME SP ARG (a command may
	 * have two names: the one the line starts with). */
	int k = known_index(r->cmd);
	for (size_t i = (size_t)k; i < NKNOWN; i++)
		if (known[i].cmd == r->cmd && end - start >= strlen(known[i].name) &&
		    memcmp(buf + start, known[i].name, strlen(known[i].name)) == 0)
			k = (int)i;
	size_t n = strlen(known[k].name);
	CHECK(end - start >= n && memcmp(buf + start, known[k].name, n) == 0,
	    "cmd %s but the line does not start with it", known[k].name);
	if (r->arg_len == 0) {
		CHECK(known[k].arg != A_PATH, "%s without a path", known[k].name);
		CHECK(end - start == n, "%s with trailing bytes and no argument", known[k].name);
	} else {
		CHECK(known[k].arg != A_NONE, "%s has an argument (%zu bytes)", known[k].name, r->arg_len);
		CHECK(end - start > n + 1 && buf[start + n] == ' ', "%s: no space before the argument",
		    known[k].name);
		CHECK(r->arg_off == start + n + 1, "%s: arg_off %zu, expected %zu", known[k].name, r->arg_off,
		    start + n + 1);
		CHECK(r->arg_off + r->arg_len == end, "%s: argument ends at %zu, the line at %zu", known[k].name,
		    r->arg_off + r->arg_len, end);
		/* listen.c strndup()s it: a NUL inside would cut the path short. */
		CHECK(memchr(buf + r->arg_off, '\0', r->arg_len) == NULL, "%s: NUL inside the argument",
		    known[k].name);
	}
	/* Whatever the command, an argument lies inside the line. */
	CHECK(r->arg_off + r->arg_len <= line_end, "argument [%zu, +%zu) runs past the line (%zu)", r->arg_off,
	    r->arg_len, line_end);
}

/* One pass over a session's bytes; whole is an exactly-sized copy of them. */
static void session(const char *whole, size_t size)
{
	const uint8_t *data = (const uint8_t *)whole;
	size_t off = 0;

	/* Commands back to back, as conn_commands() runs them. */
	for (;;) {
		const uint8_t *buf = data + off;
		size_t len = size - off;
		struct sup_cmd_req r, r2;
		int rc;

		/* The rest of the session ends where the allocation ends. */
		memset(&r, 0xa5, sizeof(r));
		rc = sup_clamd_parse(whole + off, len, &r);

		CHECK(rc == -1 || rc == 0 || rc == 1, "returned %d", rc);
		if (rc == 0) {
			/* More input can still make it a command. */
			CHECK(len < SUP_CLAMD_CMD_MAX, "0 (need more) with %zu bytes buffered", len);
			/* A legacy command is whatever has arrived, except a bare
			 * "FILDES", which waits for its descriptor's byte (clamd). */
			if (len > 0 && buf[0] != 'z' && buf[0] != 'n')
				CHECK(len == 6 && memcmp(buf, "FILDES", 6) == 0, "an unterminated legacy command waits");
			/* And less input cannot have made it one (a shorter legacy
			 * word is answered at once). */
			else if (len > 0)
				CHECK(parse_exact(buf, len - 1, &r2) == 0, "a prefix of a partial command did not ask for more");
			return;
		}
		if (rc < 0) {
			/* Cannot become a command: no terminator within the limit. */
			CHECK(len >= SUP_CLAMD_CMD_MAX, "-1 with only %zu bytes", len);
			size_t start = buf[0] == 'z' || buf[0] == 'n' ? 1 : 0;
			CHECK(memchr(buf + start, buf[0] == 'z' ? '\0' : '\n', SUP_CLAMD_CMD_MAX - start) == NULL,
			    "-1 although a terminator is within the first SUP_CLAMD_CMD_MAX bytes");
			if (len > SUP_CLAMD_CMD_MAX) {
				int rc2 = parse_exact(buf, SUP_CLAMD_CMD_MAX, &r2);
				CHECK(rc2 == -1, "-1 for %zu bytes but %d for the first SUP_CLAMD_CMD_MAX", len, rc2);
			}
			return;
		}
		check_command(buf, len, &r);
		/* The command depends on its own bytes only ... */
		CHECK(parse_exact(buf, r.consumed, &r2) == 1 && same_req(&r, &r2),
		    "parsing exactly the %zu consumed bytes gave a different command", r.consumed);
		/* ... and a prefixed one is not complete one byte earlier (a
		 * legacy one is: it is taken as it arrives). */
		if (!r.legacy)
			CHECK(parse_exact(buf, r.consumed - 1, &r2) == 0, "the command was already complete at %zu bytes",
			    r.consumed - 1);
		off += r.consumed;
		if (off == size)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *whole = copy_exact(data, size);

	scratch = copy_exact(data, size);
	scratch_size = size;
	session(whole, size);
	free(scratch);
	free(whole);
	return 0;
}
