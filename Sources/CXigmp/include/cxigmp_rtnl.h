/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cxigmp_rtnl.h - the rtnetlink socket behind LinkMonitor: open it already
 * subscribed, ask for a dump, read one datagram.  The messages are parsed
 * in Swift (Datapath/Netlink/RtnlMessage.swift) with the numbers and offsets
 * below, each checked against the kernel's own headers in rtnl_shim.c, so
 * the two sides cannot drift.  Each call returns what the syscall returns
 * (-1 with errno set on failure) and does nothing but adapt.
 */
#ifndef CXIGMP_RTNL_H
#define CXIGMP_RTNL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Message types, flags, attribute types and fixed-header layouts of
 * linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h
 * and linux/if.h (kernel ABI: values never change). */
enum {
	/* struct nlmsghdr: 16 bytes; len u32 @0, type u16 @4, flags u16 @6,
	 * seq u32 @8, pid u32 @12.  Messages and attributes are 4-aligned. */
	CXIGMP_NLMSG_HDRLEN = 16,
	CXIGMP_NLMSG_ALIGNTO = 4,
	CXIGMP_NLMSG_NOOP = 1,
	CXIGMP_NLMSG_ERROR = 2,		/* payload: s32 -errno, then the request */
	CXIGMP_NLMSG_DONE = 3,		/* payload: s32 0 or -errno of the dump */
	CXIGMP_NLMSG_OVERRUN = 4,
	CXIGMP_NLM_F_MULTI = 2,
	CXIGMP_NLM_F_DUMP_INTR = 16,	/* the dump saw a change: redo it */

	CXIGMP_RTM_NEWLINK = 16,
	CXIGMP_RTM_DELLINK = 17,
	CXIGMP_RTM_GETLINK = 18,
	CXIGMP_RTM_NEWADDR = 20,
	CXIGMP_RTM_DELADDR = 21,
	CXIGMP_RTM_GETADDR = 22,

	/* struct ifinfomsg: 16 bytes; family u8 @0, type u16 @2 (ARPHRD_*),
	 * index s32 @4, flags u32 @8 (IFF_*), change u32 @12. */
	CXIGMP_IFINFOMSG_LEN = 16,
	CXIGMP_IFINFOMSG_FAMILY = 0,
	CXIGMP_IFINFOMSG_TYPE = 2,
	CXIGMP_IFINFOMSG_INDEX = 4,
	CXIGMP_IFINFOMSG_FLAGS = 8,
	/* struct ifaddrmsg: 8 bytes; family u8 @0, prefixlen u8 @1,
	 * flags u8 @2, scope u8 @3, index u32 @4. */
	CXIGMP_IFADDRMSG_LEN = 8,
	CXIGMP_IFADDRMSG_FAMILY = 0,
	CXIGMP_IFADDRMSG_PREFIXLEN = 1,
	CXIGMP_IFADDRMSG_INDEX = 4,

	/* struct nlattr: 4 bytes; len u16 @0 (header included), type u16 @2
	 * whose top two bits are NLA_F_NESTED and NLA_F_NET_BYTEORDER. */
	CXIGMP_NLA_HDRLEN = 4,
	CXIGMP_NLA_TYPE_MASK = 0x3fff,

	CXIGMP_IFLA_ADDRESS = 1,
	CXIGMP_IFLA_IFNAME = 3,
	CXIGMP_IFLA_MTU = 4,
	CXIGMP_IFLA_MASTER = 10,
	CXIGMP_IFLA_WIRELESS = 11,
	CXIGMP_IFLA_OPERSTATE = 16,
	CXIGMP_IFLA_LINKINFO = 18,
	CXIGMP_IFLA_INFO_KIND = 1,	/* nested in IFLA_LINKINFO */
	CXIGMP_IFLA_INFO_DATA = 2,	/* nested in IFLA_LINKINFO, per kind */
	CXIGMP_IFLA_BR_MCAST_SNOOPING = 23,	/* u8, in a bridge's IFLA_INFO_DATA */

	CXIGMP_IFA_ADDRESS = 1,		/* the peer on point-to-point links */
	CXIGMP_IFA_LOCAL = 2,		/* the interface's own address */

	CXIGMP_IFF_UP = 0x1,
	CXIGMP_IFF_LOWER_UP = 0x10000,
};

/* Opens a NETLINK_ROUTE socket (SOCK_RAW, non-blocking, close-on-exec) in
 * the calling thread's network namespace, subscribed to RTNLGRP_LINK and
 * RTNLGRP_IPV4_IFADDR before it returns, so a dump asked for afterwards
 * misses nothing.  rcvbuf > 0 sets the receive buffer (SO_RCVBUFFORCE,
 * which passes net.core.rmem_max with CAP_NET_ADMIN, else SO_RCVBUF; the
 * kernel doubles the value and enforces a minimum).  *port_id gets the
 * socket's netlink port: the kernel addresses dump replies to it.  Returns
 * the fd, or -1 with errno and *stage saying which step failed: 0 socket,
 * 1 receive buffer, 2 bind, 3 RTNLGRP_LINK, 4 RTNLGRP_IPV4_IFADDR,
 * 5 getsockname. */
int cxigmp_rtnl_open(int rcvbuf, uint32_t *port_id, int *stage);

/* The receive buffer the kernel granted (SO_RCVBUF), or -1. */
int cxigmp_rtnl_rcvbuf(int fd);

/* Sends a dump request (NLM_F_REQUEST | NLM_F_DUMP) with sequence number
 * seq: RTM_GETLINK (family AF_UNSPEC, without statistics) or RTM_GETADDR
 * (family e.g. AF_INET).  0, or -1 with errno (EINVAL for another type).
 * The answer comes as messages on the socket, not as the return value. */
int cxigmp_rtnl_request_dump(int fd, uint16_t type, uint8_t family,
			     uint32_t seq);

/* Reads one datagram without blocking (recvmsg, MSG_TRUNC).  Returns its
 * full length, which exceeds cap when it was cut (the rest is lost), or -1
 * with errno (EAGAIN: nothing pending; ENOBUFS: the socket overran and
 * notifications were dropped).  *sender gets the sending port (0 is the
 * kernel; UINT32_MAX when the address was not netlink). */
ssize_t cxigmp_rtnl_recv(int fd, void *buf, size_t cap, uint32_t *sender);

#endif /* CXIGMP_RTNL_H */
