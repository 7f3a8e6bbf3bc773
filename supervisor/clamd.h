/*
 * supervisor/clamd.h: the clamd wire protocol, as pure functions over
 * buffers (no sockets, no allocation) so it can be unit-tested and fuzzed.
 *
 * Framing follows clamd: "zCMD\0" replies end in '\0', "nCMD\n" and the
 * legacy unprefixed "CMD\n" replies end in '\n'.
 */
#ifndef AVW_CLAMD_H
#define AVW_CLAMD_H

#include <stddef.h>
#include <stdint.h>

#include "../ipc/ipc.h"

/* clamd's command buffer: PATH_MAX + 8. Longer input is never a command. */
#define SUP_CLAMD_CMD_MAX 4104

enum sup_cmd {
	SUP_CMD_UNKNOWN = 0,
	SUP_CMD_PING,
	SUP_CMD_VERSION,
	SUP_CMD_INSTREAM,
	SUP_CMD_SHUTDOWN,
	SUP_CMD_RELOAD,
	SUP_CMD_VERSIONCOMMANDS,
	SUP_CMD_STATS,
	SUP_CMD_IDSESSION,
	SUP_CMD_END,
	SUP_CMD_FILDES,
	SUP_CMD_SCAN,          /* a path: stop at the first virus */
	SUP_CMD_CONTSCAN,      /* a path: report every virus */
	SUP_CMD_MULTISCAN,     /* a path: as CONTSCAN, files in parallel */
	SUP_CMD_ALLMATCHSCAN,  /* a path: every signature that matches */
	SUP_CMD_AVWINSTREAM,   /* avwarden's INSTREAM: "avw:" reply; arg WIRE */
};

struct sup_cmd_req {
	enum sup_cmd cmd;
	char delim;        /* reply terminator: '\0' or '\n' */
	int legacy;        /* sent without a z/n prefix */
	size_t consumed;   /* bytes of input the command line used */
	size_t arg_off;    /* the argument (a path, "WIRE"): buf[arg_off, +arg_len) */
	size_t arg_len;
};

/* The command names avwarden accepts, for VERSIONCOMMANDS. */
const char *sup_clamd_command_list(void);

/*
 * Looks for one command at the start of buf. Returns 1 with req filled when a
 * whole command line is there, 0 when more input is needed, -1 when the input
 * cannot become a command (no terminator within SUP_CLAMD_CMD_MAX bytes).
 * An unknown or malformed command is returned as SUP_CMD_UNKNOWN (answered
 * "UNKNOWN COMMAND"), like clamd.
 */
int sup_clamd_parse(const char *buf, size_t len, struct sup_cmd_req *req);

/* INSTREAM framing: 4-byte big-endian chunk lengths, a zero length ends it. */
struct sup_instream {
	unsigned char *base;  /* job data; needs cap + SUP_INSTREAM_SLACK bytes */
	size_t cap;           /* most data bytes accepted (max_message_size) */
	size_t len;           /* data bytes stored at base */
	uint32_t chunk_left;  /* bytes of the current chunk still to come */
	size_t fed;           /* input bytes consumed so far (framing included) */
	unsigned hdr_have;
	unsigned char hdr[4];
	int done;
	uint32_t refused;     /* SUP_INSTREAM_TOO_LARGE: the chunk length that passed cap */
};
#define SUP_INSTREAM_SLACK 4

enum {
	SUP_INSTREAM_MORE = 0,
	SUP_INSTREAM_DONE = 1,
	SUP_INSTREAM_TOO_LARGE = -1,
};

void sup_instream_init(struct sup_instream *s, unsigned char *base, size_t cap);
/*
 * Where the next read() should land and how much it may bring. Reading there
 * stores chunk data in place (the only copy is the kernel's), and never
 * brings data from beyond the next chunk header, so nothing is moved.
 */
void sup_instream_next(const struct sup_instream *s, unsigned char **p, size_t *n);
/* Consumes n bytes at src (anywhere, including where next() pointed). On
 * DONE, bytes after the end marker are not consumed: `fed` tells how many
 * were, so a session can go on with the next command. */
int sup_instream_feed(struct sup_instream *s, const unsigned char *src, size_t n);

/*
 * SMTP wire form to message (Momentum's use_wire_rep): removes the
 * transparency dot that starts a line ("..x" -> ".x", RFC 5321 4.5.2) and
 * the end-of-data line "\r\n.\r\n" if the data ends with it. In place;
 * returns the new length. Line ends are left as they are.
 */
size_t sup_unstuff(unsigned char *buf, size_t len);

/* ---- replies ---- */

struct sup_verdict {
	enum ipc_status status;
	int32_t engine_code;
	char name[IPC_NAME_MAX];   /* virus or heuristic name */
	char reason[160];          /* ERROR: why, e.g. "scanner crashed: SIGSEGV" */
};

/* Applies an unscannable action (addr.h) to v in place: tempfail makes it
 * an ERROR naming what was not scanned, pass a CLEAN. 1 if v changed. */
int sup_unscannable_apply(int action, struct sup_verdict *v);

/* "stream: OK", "stream: NAME FOUND", "stream: REASON ERROR" + delim.
 * Returns the length written (always < buflen), or -1 if it does not fit. */
int sup_clamd_format_result(const struct sup_verdict *v, char delim, char *buf, size_t buflen);
/* The same verdict for a file: "PATH: OK" etc., no delimiter. */
int sup_clamd_format_path(const struct sup_verdict *v, const char *path, char *buf, size_t buflen);
/* AVWINSTREAM's reply: "avw: STATUS CODE ENGINE INFO" + delim. */
int sup_avw_format_result(const struct sup_verdict *v, const char *engine, char delim, char *buf, size_t buflen);

#endif
