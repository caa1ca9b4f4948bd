// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* rtnl_shim.c - the rtnetlink socket of LinkMonitor: open and subscribe,
 * dump requests, one non-blocking read.  Parsing stays in Swift; the
 * constants it uses are checked here against the kernel's headers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include "cxigmp_rtnl.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

_Static_assert(CXIGMP_NLMSG_HDRLEN == NLMSG_HDRLEN, "NLMSG_HDRLEN");
_Static_assert(CXIGMP_NLMSG_ALIGNTO == NLMSG_ALIGNTO, "NLMSG_ALIGNTO");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_type) == 4, "nlmsg_type");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_flags) == 6, "nlmsg_flags");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_seq) == 8, "nlmsg_seq");
_Static_assert(offsetof(struct nlmsghdr, nlmsg_pid) == 12, "nlmsg_pid");
_Static_assert(CXIGMP_NLMSG_NOOP == NLMSG_NOOP, "NLMSG_NOOP");
_Static_assert(CXIGMP_NLMSG_ERROR == NLMSG_ERROR, "NLMSG_ERROR");
_Static_assert(CXIGMP_NLMSG_DONE == NLMSG_DONE, "NLMSG_DONE");
_Static_assert(CXIGMP_NLMSG_OVERRUN == NLMSG_OVERRUN, "NLMSG_OVERRUN");
_Static_assert(CXIGMP_NLM_F_MULTI == NLM_F_MULTI, "NLM_F_MULTI");
_Static_assert(CXIGMP_NLM_F_DUMP_INTR == NLM_F_DUMP_INTR, "NLM_F_DUMP_INTR");

_Static_assert(CXIGMP_RTM_NEWLINK == RTM_NEWLINK, "RTM_NEWLINK");
_Static_assert(CXIGMP_RTM_DELLINK == RTM_DELLINK, "RTM_DELLINK");
_Static_assert(CXIGMP_RTM_GETLINK == RTM_GETLINK, "RTM_GETLINK");
_Static_assert(CXIGMP_RTM_NEWADDR == RTM_NEWADDR, "RTM_NEWADDR");
_Static_assert(CXIGMP_RTM_DELADDR == RTM_DELADDR, "RTM_DELADDR");
_Static_assert(CXIGMP_RTM_GETADDR == RTM_GETADDR, "RTM_GETADDR");

_Static_assert(CXIGMP_IFINFOMSG_LEN == sizeof(struct ifinfomsg), "ifinfomsg");
_Static_assert(CXIGMP_IFINFOMSG_FAMILY == offsetof(struct ifinfomsg, ifi_family),
	       "ifi_family");
_Static_assert(CXIGMP_IFINFOMSG_TYPE == offsetof(struct ifinfomsg, ifi_type),
	       "ifi_type");
_Static_assert(CXIGMP_IFINFOMSG_INDEX == offsetof(struct ifinfomsg, ifi_index),
	       "ifi_index");
_Static_assert(CXIGMP_IFINFOMSG_FLAGS == offsetof(struct ifinfomsg, ifi_flags),
	       "ifi_flags");
_Static_assert(CXIGMP_IFADDRMSG_LEN == sizeof(struct ifaddrmsg), "ifaddrmsg");
_Static_assert(CXIGMP_IFADDRMSG_FAMILY == offsetof(struct ifaddrmsg, ifa_family),
	       "ifa_family");
_Static_assert(CXIGMP_IFADDRMSG_PREFIXLEN ==
	       offsetof(struct ifaddrmsg, ifa_prefixlen), "ifa_prefixlen");
_Static_assert(CXIGMP_IFADDRMSG_INDEX == offsetof(struct ifaddrmsg, ifa_index),
	       "ifa_index");

_Static_assert(CXIGMP_NLA_HDRLEN == NLA_HDRLEN, "NLA_HDRLEN");
_Static_assert(CXIGMP_NLA_TYPE_MASK == (uint16_t)NLA_TYPE_MASK, "NLA_TYPE_MASK");
_Static_assert(CXIGMP_IFLA_ADDRESS == IFLA_ADDRESS, "IFLA_ADDRESS");
_Static_assert(CXIGMP_IFLA_IFNAME == IFLA_IFNAME, "IFLA_IFNAME");
_Static_assert(CXIGMP_IFLA_MTU == IFLA_MTU, "IFLA_MTU");
_Static_assert(CXIGMP_IFLA_MASTER == IFLA_MASTER, "IFLA_MASTER");
_Static_assert(CXIGMP_IFLA_WIRELESS == IFLA_WIRELESS, "IFLA_WIRELESS");
_Static_assert(CXIGMP_IFLA_OPERSTATE == IFLA_OPERSTATE, "IFLA_OPERSTATE");
_Static_assert(CXIGMP_IFLA_LINKINFO == IFLA_LINKINFO, "IFLA_LINKINFO");
_Static_assert(CXIGMP_IFLA_INFO_KIND == IFLA_INFO_KIND, "IFLA_INFO_KIND");
_Static_assert(CXIGMP_IFLA_INFO_DATA == IFLA_INFO_DATA, "IFLA_INFO_DATA");
_Static_assert(CXIGMP_IFLA_BR_MCAST_SNOOPING == IFLA_BR_MCAST_SNOOPING, "IFLA_BR_MCAST_SNOOPING");
_Static_assert(CXIGMP_IFA_ADDRESS == IFA_ADDRESS, "IFA_ADDRESS");
_Static_assert(CXIGMP_IFA_LOCAL == IFA_LOCAL, "IFA_LOCAL");
_Static_assert(CXIGMP_IFF_UP == IFF_UP, "IFF_UP");
_Static_assert(CXIGMP_IFF_LOWER_UP == IFF_LOWER_UP, "IFF_LOWER_UP");

int cxigmp_rtnl_open(int rcvbuf, uint32_t *port_id, int *stage)
{
	struct sockaddr_nl addr;
	socklen_t len = sizeof(addr);
	int groups[] = { RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR };
	int fd, saved;
	size_t i;

	*stage = 0;
	*port_id = 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    NETLINK_ROUTE);
	if (fd < 0)
		return -1;
	*stage = 1;
	/* FORCE passes net.core.rmem_max, whose default (208 KiB) a burst of
	 * a few hundred links overruns; without CAP_NET_ADMIN it fails and
	 * the capped SO_RCVBUF is what there is. */
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)))
		goto fail;
	*stage = 2;
	/* Port 0: the kernel picks a unique one (autobind). */
	memset(&addr, 0, sizeof(addr));
	addr.nl_family = AF_NETLINK;
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		goto fail;
	/* Joined before any dump is asked for: a change that lands between
	 * the dump and the subscription would otherwise be missed for good. */
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		*stage = 3 + (int)i;
		if (setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP,
			       &groups[i], sizeof(groups[i])))
			goto fail;
	}
	*stage = 5;
	memset(&addr, 0, sizeof(addr));
	if (getsockname(fd, (struct sockaddr *)&addr, &len))
		goto fail;
	*port_id = addr.nl_pid;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int cxigmp_rtnl_rcvbuf(int fd)
{
	int value = 0;
	socklen_t len = sizeof(value);

	if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, &len))
		return -1;
	return value;
}

int cxigmp_rtnl_request_dump(int fd, uint16_t type, uint8_t family,
			     uint32_t seq)
{
	struct {
		struct nlmsghdr n;
		union {
			struct ifinfomsg ifi;
			struct ifaddrmsg ifa;
		};
		/* One attribute at most: IFLA_EXT_MASK. */
		char attrs[NLA_HDRLEN + NLA_ALIGN(sizeof(uint32_t))];
	} req;
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	ssize_t sent;

	memset(&req, 0, sizeof(req));
	req.n.nlmsg_type = type;
	req.n.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.n.nlmsg_seq = seq;
	if (type == RTM_GETLINK) {
		struct nlattr *nla;
		uint32_t mask = RTEXT_FILTER_SKIP_STATS;

		req.ifi.ifi_family = family;
		req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifi));
		/* Statistics are most of a link message and nothing here
		 * reads them: leaving them out makes the dump several times
		 * smaller.  A kernel that predates the bit ignores it. */
		nla = (struct nlattr *)((char *)&req + NLMSG_ALIGN(req.n.nlmsg_len));
		nla->nla_type = IFLA_EXT_MASK;
		nla->nla_len = NLA_HDRLEN + sizeof(mask);
		memcpy((char *)nla + NLA_HDRLEN, &mask, sizeof(mask));
		req.n.nlmsg_len = NLMSG_ALIGN(req.n.nlmsg_len) +
				  NLA_ALIGN(nla->nla_len);
	} else if (type == RTM_GETADDR) {
		req.ifa.ifa_family = family;
		req.n.nlmsg_len = NLMSG_LENGTH(sizeof(req.ifa));
	} else {
		errno = EINVAL;
		return -1;
	}
	do {
		sent = sendto(fd, &req, req.n.nlmsg_len, 0,
			      (struct sockaddr *)&kernel, sizeof(kernel));
	} while (sent < 0 && errno == EINTR);
	return sent < 0 ? -1 : 0;
}

ssize_t cxigmp_rtnl_recv(int fd, void *buf, size_t cap, uint32_t *sender)
{
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = buf, .iov_len = cap };
	struct msghdr msg;
	ssize_t n;

	memset(&from, 0, sizeof(from));
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	/* MSG_TRUNC: the return value is the datagram's real length, so a
	 * cut one is detected (and resynchronised) instead of parsed short. */
	do {
		n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_TRUNC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (msg.msg_namelen >= sizeof(from) && from.nl_family == AF_NETLINK)
		*sender = from.nl_pid;
	else
		*sender = UINT32_MAX;
	if ((msg.msg_flags & MSG_TRUNC) && (size_t)n <= cap)
		n = (ssize_t)cap + 1;
	return n;
}
