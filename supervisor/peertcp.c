/*
 * supervisor/peertcp.c: who is on the other end of a loopback TCP
 * connection (see peertcp.h).
 *
 * The kernel knows the owner of every socket on this host; sock_diag
 * (NETLINK_SOCK_DIAG, inet_diag) reports it for one exact 4-tuple: the
 * client's socket, whose local address and port are our peer's and whose
 * remote end is our own. Only a full socket in a connected state counts:
 * a TIME_WAIT remnant reports uid 0 and is refused, as is anything not
 * from a loopback address (another host's uid means nothing here).
 */
#define _GNU_SOURCE
#include "peertcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "../platform/plat.h"

/* 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104, as AF_INET where it is one. */
static int loopback(const struct sockaddr_storage *ss, int *family, uint32_t addr[4], uint16_t *port)
{
	memset(addr, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		*family = AF_INET;
		addr[0] = in->sin_addr.s_addr;
		*port = in->sin_port;
		return (ntohl(addr[0]) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		*port = in6->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			*family = AF_INET;
			memcpy(&addr[0], &in6->sin6_addr.s6_addr[12], 4);
			return (ntohl(addr[0]) >> 24) == 127;
		}
		*family = AF_INET6;
		memcpy(addr, &in6->sin6_addr, 16);
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return 0;
}

/* The owner of the socket at local src:sport, remote dst:dport; -errno. */
static int diag_owner(int family, const uint32_t src[4], uint16_t sport, const uint32_t dst[4], uint16_t dport,
    uid_t *uid)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 r;
	} req;
	union {
		struct nlmsghdr nlh;
		char buf[1024];
	} resp;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 1 };
	ssize_t n;
	int fd, rc = -ENOENT;

	memset(&req, 0, sizeof(req));
	req.nlh.nlmsg_len = sizeof(req);
	req.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	req.nlh.nlmsg_flags = NLM_F_REQUEST;
	req.nlh.nlmsg_seq = 1;
	req.r.sdiag_family = (uint8_t)family;
	req.r.sdiag_protocol = IPPROTO_TCP;
	req.r.idiag_states = ~0u;
	req.r.id.idiag_sport = sport;
	req.r.id.idiag_dport = dport;
	memcpy(req.r.id.idiag_src, src, 16);
	memcpy(req.r.id.idiag_dst, dst, 16);
	req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;

	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
		return -errno;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (PLAT_RETRY(sendto(fd, &req, sizeof(req), 0, (struct sockaddr *)&kernel, sizeof(kernel))) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	n = PLAT_RETRY(recv(fd, &resp, sizeof(resp), 0));
	close(fd);
	if (n < 0)
		return -errno;
	for (struct nlmsghdr *h = &resp.nlh; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);
			return h->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error < 0 ? e->error : -EPROTO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			continue;
		const struct inet_diag_msg *m = NLMSG_DATA(h);
		/* The very socket asked for, a full one (not TIME_WAIT's uid 0). */
		if (m->id.idiag_sport != sport || m->id.idiag_dport != dport ||
		    memcmp(m->id.idiag_src, src, family == AF_INET ? 4 : 16) != 0 ||
		    memcmp(m->id.idiag_dst, dst, family == AF_INET ? 4 : 16) != 0)
			return -ESRCH;
		if (m->idiag_state != TCP_ESTABLISHED && m->idiag_state != TCP_FIN_WAIT1 &&
		    m->idiag_state != TCP_FIN_WAIT2 && m->idiag_state != TCP_CLOSE_WAIT)
			return -ENOTCONN;
		*uid = (uid_t)m->idiag_uid;
		return 0;
	}
	return rc;
}

int sup_tcp_peer_owner(int fd, struct sup_peer *out)
{
	struct sockaddr_storage peer, self;
	socklen_t pl = sizeof(peer), sl = sizeof(self);
	uint32_t paddr[4], saddr[4];
	uint16_t pport, sport;
	int pfam, sfam, rc;
	uid_t uid = (uid_t)-1;

	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 || getsockname(fd, (struct sockaddr *)&self, &sl) < 0)
		return -errno;
	if (!loopback(&peer, &pfam, paddr, &pport) || !loopback(&self, &sfam, saddr, &sport) || pfam != sfam)
		return -EREMOTE;
	/* The client's socket: local = our peer, remote = us. */
	if ((rc = diag_owner(pfam, paddr, pport, saddr, sport, &uid)) < 0)
		return rc;
	/* The account's group is looked up where files are opened (peerfs.c,
	 * off the loop: a directory service may be slow). */
	*out = (struct sup_peer){ .uid = uid, .gid = SUP_PEER_GID_OF_UID, .pid = 0 };
	return 0;
}
