/*
 * supervisor/addr.c: `listen` entries and the networks of their allow=
 * lists, parsed and matched (see addr.h). Pure: no sockets are opened here.
 */
#include "addr.h"

#include <errno.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_cidr(const char *s, struct sup_cidr *c)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long bits;
	char *end;

	if (n == 0 || n >= sizeof(addr))
		return -1;
	memcpy(addr, s, n);
	addr[n] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, addr, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, addr, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	bits = c->family == AF_INET ? 32 : 128;
	if (slash != NULL) {
		long b = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || b < 0 || b > bits)
			return -1;
		bits = b;
	}
	c->bits = (unsigned)bits;
	return 0;
}

int sup_cidr_match(const struct sup_cidr *c, const struct sockaddr *sa)
{
	const unsigned char *a;
	unsigned char mapped[16];
	unsigned full, rest;

	if (sa->sa_family == AF_INET && c->family == AF_INET) {
		a = (const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = (const unsigned char *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
		if (c->family == AF_INET) {
			/* An IPv4 client on a dual-stack socket: ::ffff:a.b.c.d. */
			static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
			if (memcmp(a, v4mapped, 12) != 0)
				return 0;
			memcpy(mapped, a + 12, 4);
			a = mapped;
		}
	} else {
		return 0;
	}
	full = c->bits / 8;
	rest = c->bits % 8;
	if (memcmp(a, c->addr, full) != 0)
		return 0;
	return rest == 0 || ((a[full] ^ c->addr[full]) & (0xffu << (8 - rest)) & 0xff) == 0;
}

static int parse_name(const char *v, char *out, size_t len)
{
	size_t n = strlen(v);

	if (n == 0 || n >= len || strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != n)
		return -1;
	memcpy(out, v, n + 1);
	return 0;
}

static int parse_unix(const char *tok, struct sup_listen_spec *o, char *err, size_t errlen)
{
	o->is_unix = 1;
	if (strlen(tok + 5) >= sizeof(o->path) - 8) {
		snprintf(err, errlen, "socket path too long (at most %zu bytes)", sizeof(o->path) - 9);
		return -1;
	}
	strcpy(o->path, tok + 5);
	return 0;
}

/* tcp:ADDRESS:PORT, ADDRESS IPv4 or [IPv6]; tok is modified. */
/*
 * "ADDRESS:PORT" or "[IPV6]:PORT", split in place (the address as written,
 * never a name: no DNS lookup on the event loop). *portstr is set whenever
 * there is a port to complain about.
 */
enum { HP_NOPORT = -1, HP_BADPORT = -2, HP_NOT4 = -3, HP_NOT6 = -4 };
static int split_host_port(char *s, char **host, char **portstr, int *port)
{
	char *colon = strrchr(s, ':'), *end;
	unsigned char tmp[16];
	long p;

	if (colon == NULL || colon == s)
		return HP_NOPORT;
	*colon = '\0';
	*portstr = colon + 1;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p <= 0 || p >= 65536)
		return HP_BADPORT;
	*host = s;
	if (s[0] == '[' && s[strlen(s) - 1] == ']') {
		s[strlen(s) - 1] = '\0';
		*host = s + 1;
		if (inet_pton(AF_INET6, *host, tmp) != 1)
			return HP_NOT6;
	} else if (inet_pton(AF_INET, s, tmp) != 1) {
		return HP_NOT4;
	}
	*port = (int)p;
	return 0;
}

static int parse_tcp(char *tok, struct sup_listen_spec *o, char *err, size_t errlen)
{
	char *host = tok + 4, *port = NULL;
	int p;

	switch (split_host_port(tok + 4, &host, &port, &p)) {
	case 0:
		break;
	case HP_NOPORT:
		snprintf(err, errlen, "expected tcp:ADDRESS:PORT");
		return -1;
	case HP_BADPORT:
		snprintf(err, errlen, "port %s: expected 1 to 65535", port);
		return -1;
	case HP_NOT6:
		snprintf(err, errlen, "%s: not an IPv6 address", host);
		return -1;
	default:
		snprintf(err, errlen, "%s: not an IPv4 address (IPv6 goes in brackets: tcp:[::1]:3310)", host);
		return -1;
	}
	snprintf(o->host, sizeof(o->host), "%s", host);
	o->port = p;
	return 0;
}

static int parse_allow(char *list, struct sup_listen_spec *o, char *err, size_t errlen)
{
	char *save = NULL, *net;

	for (net = strtok_r(list, ",", &save); net != NULL; net = strtok_r(NULL, ",", &save)) {
		if (o->nallow == SUP_LISTEN_ALLOW_MAX) {
			snprintf(err, errlen, "allow=: at most %d networks", SUP_LISTEN_ALLOW_MAX);
			return -1;
		}
		if (parse_cidr(net, &o->allow[o->nallow]) < 0) {
			snprintf(err, errlen, "allow=%s: not an address or ADDRESS/BITS network", net);
			return -1;
		}
		o->nallow++;
	}
	if (o->nallow == 0) {
		snprintf(err, errlen, "allow=: no network given");
		return -1;
	}
	return 0;
}

/* One option after the address. */
static int parse_option(char *tok, struct sup_listen_spec *o, char *err, size_t errlen)
{
	if (strcmp(tok, "wire") == 0) {
		o->wire = 1;
	} else if (strcmp(tok, "errors=reply") == 0 || strcmp(tok, "errors=close") == 0) {
		o->errors_close = tok[7] == 'c';
	} else if (strncmp(tok, "unscannable=", 12) == 0) {
		if ((o->unscannable = sup_unscannable_parse(tok + 12)) < 0) {
			snprintf(err, errlen, "%s: expected unscannable=reject, tempfail or pass", tok);
			return -1;
		}
	} else if (strncmp(tok, "errors=", 7) == 0) {
		snprintf(err, errlen, "%s: expected errors=reply (the default) or errors=close", tok);
		return -1;
	} else if (o->is_unix && strncmp(tok, "mode=", 5) == 0) {
		char *end;
		unsigned long m = strtoul(tok + 5, &end, 8);
		if (tok[5] != '0' || *end != '\0' || m > 0777 || (m & 0600) != 0600) {
			snprintf(err, errlen, "%s: expected an octal mode with owner read/write, e.g. mode=0660", tok);
			return -1;
		}
		o->mode = (unsigned)m;
	} else if (o->is_unix && strncmp(tok, "owner=", 6) == 0) {
		if (parse_name(tok + 6, o->owner, sizeof(o->owner)) < 0) {
			snprintf(err, errlen, "%s: not a user name", tok);
			return -1;
		}
	} else if (o->is_unix && strncmp(tok, "group=", 6) == 0) {
		if (parse_name(tok + 6, o->group, sizeof(o->group)) < 0) {
			snprintf(err, errlen, "%s: not a group name", tok);
			return -1;
		}
	} else if (!o->is_unix && strncmp(tok, "allow=", 6) == 0) {
		return parse_allow(tok + 6, o, err, errlen);
	} else {
		snprintf(err, errlen, "%s: unknown option (unix: mode=, owner=, group=, wire, errors=, unscannable=; tcp: allow=, wire, errors=, unscannable=)", tok);
		return -1;
	}
	return 0;
}

/*
 * "unix:/path [mode=0660] [owner=USER] [group=GROUP] [wire] [errors=reply|close]" or
 * "tcp:ADDRESS:PORT [allow=CIDR,CIDR...] [wire] [errors=...]", ADDRESS IPv4 or [IPv6].
 */
int sup_listen_parse(const char *s, struct sup_listen_spec *o, char *err, size_t errlen)
{
	char buf[1024], *save = NULL, *tok;
	int rc;

	memset(o, 0, sizeof(*o));
	o->mode = 0666;  /* clamd's LocalSocketMode in Debian: MTAs run as other users */
	o->unscannable = -1;
	if (strlen(s) >= sizeof(buf)) {
		snprintf(err, errlen, "too long");
		return -1;
	}
	strcpy(buf, s);
	tok = strtok_r(buf, " \t", &save);
	if (tok == NULL) {
		snprintf(err, errlen, "empty");
		return -1;
	}
	if (strncmp(tok, "unix:/", 6) == 0)
		rc = parse_unix(tok, o, err, errlen);
	else if (strncmp(tok, "tcp:", 4) == 0)
		rc = parse_tcp(tok, o, err, errlen);
	else {
		snprintf(err, errlen, "expected \"unix:/absolute/path\", \"tcp:ADDRESS:PORT\" or \"tcp:[IPv6]:PORT\"");
		return -1;
	}
	while (rc == 0 && (tok = strtok_r(NULL, " \t", &save)) != NULL)
		rc = parse_option(tok, o, err, errlen);
	return rc;
}

int sup_redis_parse(const char *s, char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
	char buf[128], *h = NULL, *portstr = NULL;
	const char *a = s + 8;
	size_t n;
	int rc;

	if (strncmp(s, "redis://", 8) != 0) {
		snprintf(err, errlen, "expected \"redis://ADDRESS:PORT\"");
		return -1;
	}
	n = strlen(a);
	if (n == 0 || n + sizeof(":6379") > sizeof(buf)) {
		snprintf(err, errlen, "no address");
		return -1;
	}
	/* No port (an IPv4 address without a colon, or [IPv6] alone): Redis's. */
	snprintf(buf, sizeof(buf), "%s%s", a, (a[0] == '[' ? a[n - 1] == ']' : strchr(a, ':') == NULL) ? ":6379" : "");
	rc = split_host_port(buf, &h, &portstr, port);
	if (rc == HP_NOPORT || rc == HP_BADPORT) {
		snprintf(err, errlen, "bad port %s", portstr ? portstr : "");
		return -1;
	}
	if (rc < 0 || strlen(h) >= hostlen) {
		snprintf(err, errlen, "%s is not an IP address (IPv6 goes in brackets; a name would need a DNS lookup "
		    "on the event loop)", h ? h : a);
		return -1;
	}
	snprintf(host, hostlen, "%s", h);
	return 0;
}

int sup_metrics_listen_parse(const char *s, struct sup_listen_spec *o, char *err, size_t errlen)
{
	const char *p;

	if (strncmp(s, "tcp:", 4) != 0) {
		snprintf(err, errlen, "metrics are served over TCP only: expected \"tcp:ADDRESS:PORT [allow=CIDR,...]\"");
		return -1;
	}
	if (sup_listen_parse(s, o, err, errlen) < 0)
		return -1;
	/* After the address, allow= only: the clamd listeners' options mean nothing here. */
	for (p = s + strcspn(s, " \t"); *p != '\0';) {
		p += strspn(p, " \t");
		if (*p != '\0' && strncmp(p, "allow=", 6) != 0) {
			snprintf(err, errlen, "%.*s: allow= is the only option of metrics_listen", (int)strcspn(p, " \t"), p);
			return -1;
		}
		p += strcspn(p, " \t");
	}
	return 0;
}

int sup_unscannable_parse(const char *s)
{
	static const char *const names[] = { "reject", "tempfail", "pass" };

	for (int i = 0; s != NULL && i < 3; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}
