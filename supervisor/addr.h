/*
 * supervisor/addr.h: the addresses avwarden listens on, as `listen`
 * entries write them, and the networks a TCP listener lets in.
 */
#ifndef AVW_ADDR_H
#define AVW_ADDR_H

#include <stddef.h>

/* A network of an allow= list. */
struct sup_cidr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};
#define SUP_LISTEN_ALLOW_MAX 16
/* One `listen` entry, with its options (see sup_listen_parse). */
struct sup_listen_spec {
	int is_unix;
	char path[108];           /* unix */
	unsigned mode;            /* unix: socket permissions (0666) */
	char owner[64], group[64];
	char host[64];            /* tcp: IPv4, or IPv6 without brackets */
	int port;
	struct sup_cidr allow[SUP_LISTEN_ALLOW_MAX];  /* tcp: clients allowed (none: all) */
	unsigned nallow;
	int wire;                 /* streams arrive in SMTP wire form (use_wire_rep) */
	int errors_close;         /* errors=close: an error clamd never sends closes, unanswered */
	int unscannable;          /* unscannable=reject|tempfail|pass; -1: unscannable_action */
};
/*
 * "unix:/path [mode=0660] [owner=USER] [group=GROUP] [wire] [errors=reply|close]" or
 * "tcp:ADDRESS:PORT [allow=CIDR,CIDR...] [wire] [errors=reply|close]". 0, or -1 with err.
 */
int sup_listen_parse(const char *s, struct sup_listen_spec *out, char *err, size_t errlen);
/* A shared_cache value: "redis://IPV4:PORT" or "redis://[IPV6]:PORT" (port
 * 6379 if none). An address, never a name: no DNS lookup on the loop. */
int sup_redis_parse(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen);
/* A metrics_listen value: "tcp:ADDRESS:PORT [allow=CIDR,CIDR...]". 0, or -1 with err. */
int sup_metrics_listen_parse(const char *s, struct sup_listen_spec *out, char *err, size_t errlen);
/*
 * What a clamd-protocol client is told of an UNSCANNABLE verdict, as
 * Momentum's `action`: reject (NAME FOUND, the default), tempfail (an
 * ERROR, so the MTA defers) or pass (OK). Parsed from "reject",
 * "tempfail", "pass" (-1 if none of them).
 */
enum sup_unscannable { SUP_UNSCANNABLE_REJECT = 0, SUP_UNSCANNABLE_TEMPFAIL, SUP_UNSCANNABLE_PASS };
int sup_unscannable_parse(const char *s);
const char *sup_unscannable_name(int action);

struct sockaddr;
/* 1 when the address is inside the network (IPv4 clients of a dual-stack
 * socket included, as ::ffff:a.b.c.d). */
int sup_cidr_match(const struct sup_cidr *c, const struct sockaddr *sa);

#endif
