/*
 * avwarden.h: libavwarden, the client library of avwarden.
 *
 * Scans a buffer, a file descriptor or a path with an avwarden daemon (or a
 * plain clamd) and returns one of four statuses with the engine's name and
 * code and a line of text. Link with `pkg-config --cflags --libs avwarden`.
 *
 *	struct avw_client *c = avw_client_new("unix:/run/avwarden/clamd.sock", 30000);
 *	struct avw_result r;
 *	if (avw_scan_path(c, "/var/spool/mail/123", &r) == AVW_INFECTED)
 *		printf("virus: %s (%s)\n", r.info, r.engine);
 *	avw_client_free(c);
 *
 * Errors: every scan function fills *r and returns r->status; there is no
 * errno to read and no other channel. A status of AVW_ERROR says why in
 * r->info, who decided in r->engine ("avwarden" for the daemon,
 * "avwarden-client" for this library, "ClamAV..." for the engine) and which
 * failure it was in r->code (the AVW_CODE_* list below).
 *
 * Threads: a client handle is used by one thread at a time; separate handles
 * are independent and may be used by different threads at once. The library
 * has no global state, never installs signal handlers and never raises
 * SIGPIPE. Every scan opens its own connection and closes it before it
 * returns, so a handle holds no descriptor between scans and survives a
 * daemon restart.
 *
 * Protocol: avwarden's AVWINSTREAM (clamd's INSTREAM framing, with a reply
 * that carries the status, the engine code and the engine name). The first
 * scan on a handle asks the daemon which commands it knows (VERSIONCOMMANDS)
 * and remembers the answer for the handle's life: against a plain clamd the
 * handle uses INSTREAM and maps clamd's replies, engine "ClamAV":
 *   "stream: OK"                     CLEAN, code 0
 *   "stream: NAME FOUND"             INFECTED, code 0, info NAME; UNSCANNABLE
 *                                    when NAME starts with
 *                                    Heuristics.Limits.Exceeded or
 *                                    Heuristics.Encrypted (clamd sends no code)
 *   "stream: REASON ERROR"           ERROR, code AVW_CODE_UNKNOWN (-1)
 *   "INSTREAM size limit exceeded. ERROR"  ERROR, code AVW_CODE_TOO_LARGE
 *   "UNKNOWN COMMAND"                ERROR, code AVW_CODE_UNKNOWN
 * Anything else, more than one line, a line over 1024 bytes or an answer
 * cut short is ERROR, code AVW_CODE_MALFORMED: never a verdict.
 */
#ifndef AVWARDEN_H
#define AVWARDEN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AVW_LIB_VERSION "0.1.0"

/* Used when avw_client_new() is given a timeout of 0: the daemon's default
 * scan timeout (60 s) twice, for a wait in its queue and the scan, plus 10 s
 * to move the bytes. */
#define AVW_TIMEOUT_DEFAULT_MS 130000u

enum avw_status {
	AVW_CLEAN = 1,        /* scanned completely, nothing found */
	AVW_INFECTED = 2,     /* info: the virus name */
	AVW_UNSCANNABLE = 3,  /* not fully scanned (limits exceeded, encrypted);
	                         info: the heuristic name; treat as not clean */
	AVW_ERROR = 4,        /* no verdict; info: the reason */
};

/*
 * Engine codes (avw_result.code). Below 100: libclamav's cl_error_t, as the
 * engine reported it (CL_EMAXFILES for an archive over max_file_count...) or,
 * with engine "avwarden-client", the one that best names a local failure.
 * From 100: decided by avwarden (engine "avwarden") or by this library
 * (engine "avwarden-client").
 */
#define AVW_CODE_NONE        0    /* CLEAN and INFECTED */
#define AVW_CODE_UNKNOWN     (-1) /* a plain clamd's ERROR: it sends no code */
#define AVW_CODE_NULLARG     2    /* CL_ENULLARG: a NULL client or argument */
#define AVW_CODE_ARG         3    /* CL_EARG: a path that is not a regular file */
#define AVW_CODE_OPEN        8    /* CL_EOPEN: the path cannot be opened */
#define AVW_CODE_READ        12   /* CL_EREAD: reading the fd or file failed */
#define AVW_CODE_ACCESS      16   /* CL_EACCES: permission denied on the path */
#define AVW_CODE_MEM         20   /* CL_EMEM: out of memory */
#define AVW_CODE_CRASH       100  /* the scanner crashed */
#define AVW_CODE_TIMEOUT     101  /* the daemon's scan timer, or this library's timeout */
#define AVW_CODE_VIOLATION   102  /* the scanner broke its sandbox */
#define AVW_CODE_UNAVAILABLE 103  /* no scanner; or the daemon cannot be reached */
#define AVW_CODE_QUEUE_FULL  104
#define AVW_CODE_TOO_LARGE   105  /* over the daemon's max_message_size */
#define AVW_CODE_MALFORMED   106  /* a result (scanner's or daemon's reply) that failed validation */
#define AVW_CODE_ENGINE_FAILED 107 /* the engine failed on a layer and went on: not fully scanned */
/* From 200: what the scanner found the engine could not read or ran out
 * of, by Momentum's decomposer and generic codes (avw_code_name()). */
#define AVW_CODE_MALFORMED_CONTAINER 201     /* DEC_RESULT_MALFORMED_CONTAINER_DETECTED */
#define AVW_CODE_ENCRYPTED_CONTAINER 202     /* DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED */
#define AVW_CODE_FILE_EXTRACT_FAILED 203     /* DEC_RESULT_FILE_EXTRACT_FAILED */
#define AVW_CODE_MAX_EXTRACT_SIZE 204        /* DEC_RESULT_MAXIMUM_EXTRACT_SIZE_EXCEEDED */
#define AVW_CODE_MAX_CUMULATIVE_SIZE 205     /* DEC_RESULT_MAXIMUM_CUMULATIVE_EXTRACT_SIZE_EXCEEDED */
#define AVW_CODE_MAX_FILES 206               /* DEC_RESULT_MAXIMUM_FILES_EXTRACTED */
#define AVW_CODE_FILE_SPLIT 207              /* DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS */
#define AVW_CODE_OUT_OF_MEMORY 208           /* GEN_RESULT_OUT_OF_MEMORY */
#define AVW_CODE_PARTIAL_MESSAGE 209         /* DEC_RESULT_PARTIAL_MESSAGE_DETECTED */
#define AVW_CODE_UNKNOWN_ALGORITHM 210       /* DEC_RESULT_CONTAINER_UNKNOWN_ALGORITHM */
#define AVW_CODE_TEMPFILE_ACCESS_FAILED 211  /* DEC_RESULT_TEMPFILE_ACCESS_FAILED */
#define AVW_CODE_FILE_ACCESS_FAILED 212      /* DEC_RESULT_FILE_ACCESS_FAILED */

/*
 * The name of a code: Momentum's for what the engine could not read or ran
 * out of (DEC_RESULT_..., GEN_RESULT_...; libclamav's limits CL_EMAXREC and
 * friends by the same names), AVW_... for avwarden's own causes (a crash, a
 * timeout, no scanner), "NONE" for 0, "UNKNOWN" otherwise. Never NULL; the
 * numbers never change meaning.
 */
const char *avw_code_name(int code);

struct avw_result {
	enum avw_status status;
	int code;          /* engine scan code, see AVW_CODE_* */
	char info[256];    /* virus or heuristic name, or the reason for an ERROR;
	                      "" for CLEAN; longer text is truncated */
	char engine[64];   /* "ClamAV/1.4.6", "avwarden", "avwarden-client", or
	                      "ClamAV" for a plain clamd's reply */
};

struct avw_client;

/*
 * A handle for the daemon at `address`: "unix:/path", "tcp:IPv4:PORT" or
 * "tcp:[IPv6]:PORT" (numeric addresses, as in the daemon's `listen`; no name
 * lookup, which could not honour the timeout). Nothing is connected yet.
 * timeout_ms bounds every scan from its start to its answer (connecting,
 * sending, reading the caller's fd, waiting for the verdict); 0 means
 * AVW_TIMEOUT_DEFAULT_MS. Make it longer than the daemon's `timeout`, or a
 * slow scan is reported as the client's timeout rather than the daemon's.
 * Returns NULL only when out of memory (errno ENOMEM) or when the address
 * is not in that syntax (errno EINVAL).
 */
struct avw_client *avw_client_new(const char *address, unsigned timeout_ms);

/* Frees the handle. NULL is ignored. */
void avw_client_free(struct avw_client *c);

/*
 * on != 0: the input of later scans is in SMTP wire form (CRLF line ends,
 * dot-stuffed, possibly ending with the "\r\n.\r\n" end-of-data line), and
 * is scanned as the message it stands for: the transparency dots and the
 * end-of-data line are removed first (by the daemon; by this library when
 * the server is a plain clamd). Off by default.
 */
void avw_client_set_wire(struct avw_client *c, int on);

/*
 * Scans len bytes at data (len 0 is a valid, empty message). Fills *r
 * (when r is not NULL) and returns r->status.
 */
enum avw_status avw_scan_buffer(struct avw_client *c, const void *data, size_t len, struct avw_result *r);

/*
 * Scans what fd gives from its current offset to end of file: regular
 * files, pipes, sockets, non-blocking descriptors. The fd is read, not
 * closed, and its offset is left wherever reading stopped. A source slower
 * than the timeout ends the scan with AVW_ERROR, code AVW_CODE_TIMEOUT.
 */
enum avw_status avw_scan_fd(struct avw_client *c, int fd, struct avw_result *r);

/*
 * Scans the regular file at path, opened here for reading (O_NOCTTY,
 * O_CLOEXEC, O_NONBLOCK so that opening never blocks). Anything else (a
 * directory, a device, a FIFO, a socket) is refused with AVW_ERROR, code
 * AVW_CODE_ARG, before it is opened: open FIFOs and devices yourself and
 * pass the descriptor to avw_scan_fd(). Errors opening or reading give
 * AVW_CODE_OPEN, AVW_CODE_ACCESS or AVW_CODE_READ with "cannot open PATH:
 * REASON" style text.
 */
enum avw_status avw_scan_path(struct avw_client *c, const char *path, struct avw_result *r);

/* "CLEAN", "INFECTED", "UNSCANNABLE", "ERROR"; "UNKNOWN" for other values.
 * A static string. */
const char *avw_status_name(enum avw_status s);

#ifdef __cplusplus
}
#endif

#endif
