/*
 * client/proto.h: libavwarden's protocol pieces as pure functions over
 * buffers (no sockets, no allocation, no clock), so they are unit-tested on
 * their own: the address syntax, the reply parser, the wire-form un-stuffer.
 *
 * Internal to the library: the avw__ prefix, hidden from the shared
 * library's symbol table. Nothing here may keep state outside its arguments
 * (handles are used from many threads).
 */
#ifndef AVW_CLIENT_PROTO_H
#define AVW_CLIENT_PROTO_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "avwarden.h"

/* The longest reply line accepted, delimiter included. */
#define AVW__REPLY_MAX 1024
/* The longest VERSIONCOMMANDS answer read when asking what a server speaks. */
#define AVW__PROBE_MAX 4096

struct avw__addr {
	socklen_t len;
	union {
		struct sockaddr sa;
		struct sockaddr_un un;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
	} u;
};

/* "unix:/path", "tcp:IPv4:PORT", "tcp:[IPv6]:PORT". 0, or -1 if malformed. */
int avw__parse_address(const char *s, struct avw__addr *a);

/* Fills r with an error (status ERROR) from this library. */
void avw__client_error(struct avw_result *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses one reply: len bytes at buf, which must be exactly one line ending
 * in delim (and at most AVW__REPLY_MAX bytes). Accepts avwarden's
 * "avw: STATUS CODE ENGINE INFO" and clamd's "stream: OK",
 * "stream: NAME FOUND", "stream: REASON ERROR",
 * "INSTREAM size limit exceeded. ERROR". Fills r either way: a reply that is
 * none of these gives ERROR, code AVW_CODE_MALFORMED, "malformed reply: ...".
 * Returns 0 when the reply was understood, -1 when it was malformed.
 */
int avw__parse_reply(const char *buf, size_t len, char delim, struct avw_result *r);

/*
 * The answer to VERSIONCOMMANDS (len bytes, delimiter included): 1 when it
 * lists AVWINSTREAM, 0 when it does not (or the server does not know
 * VERSIONCOMMANDS: "UNKNOWN COMMAND"), -1 when it is neither.
 */
int avw__probe_speaks_avw(const char *buf, size_t len, char delim);

/*
 * SMTP wire form to message, a piece at a time, with the same result as the
 * daemon's un-stuffing of the whole: a dot that starts a line is removed,
 * and so is a final "\r\n.\r\n" end-of-data line (its CRLF stays).
 * Up to 3 bytes are held back between calls: out needs room for n + 3.
 */
struct avw__unstuff {
	int bol;                /* at the beginning of a line */
	unsigned held;          /* 1: ".", 2: ".\r", 3: ".\r\n" held at a line start */
	int may_end;            /* that dot may start the end-of-data line */
	unsigned char last[2];  /* the last two input bytes */
	size_t seen;            /* input bytes so far */
};

void avw__unstuff_init(struct avw__unstuff *u);
/* Returns the number of bytes written to out. */
size_t avw__unstuff_feed(struct avw__unstuff *u, const unsigned char *in, size_t n, unsigned char *out);
/* At end of input: writes what is still held (at most 3 bytes). */
size_t avw__unstuff_end(struct avw__unstuff *u, unsigned char *out);

#endif
