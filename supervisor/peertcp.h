/*
 * supervisor/peertcp.h: the owner of a loopback TCP client, so that path
 * scans over TCP from this host (Exim's `av_scanner = clamd:127.0.0.1 3310
 * local`) open files with that user's credentials, as unix sockets do with
 * SO_PEERCRED. Clients from any other address have no owner we can know.
 */
#ifndef AVW_PEERTCP_H
#define AVW_PEERTCP_H

#include "peerfs.h"

/*
 * fd: an accepted TCP connection. 0 with out set (the uid that owns the
 * client's socket; gid SUP_PEER_GID_OF_UID: that account's primary group,
 * looked up by peerfs.c), or -errno: -EREMOTE not from a loopback address,
 * -ENOENT/-ESRCH/-ENOTCONN when the kernel reports no connected socket.
 */
int sup_tcp_peer_owner(int fd, struct sup_peer *out);

#endif
