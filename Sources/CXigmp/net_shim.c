// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/* net_shim.c - cmsg walking, recvmmsg, the own-packet socket filter, the
 * AF_PACKET IGMP tap, mroute setsockopts, tun open. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/mroute.h>
#include <time.h>
#include "cxigmp_net.h"

_Static_assert(sizeof(struct cxigmp_mmsghdr) == sizeof(struct mmsghdr),
	       "cxigmp_mmsghdr must match struct mmsghdr");
_Static_assert(offsetof(struct cxigmp_mmsghdr, msg_len) ==
	       offsetof(struct mmsghdr, msg_len),
	       "cxigmp_mmsghdr must match struct mmsghdr");

int cxigmp_recvmmsg(int fd, struct cxigmp_mmsghdr *vec, unsigned int vlen,
		    int flags)
{
	return recvmmsg(fd, (struct mmsghdr *)vec, vlen, flags, NULL);
}

void cxigmp_rx_meta(const struct msghdr *msg, struct cxigmp_rx_meta *out)
{
	struct cmsghdr *c;

	memset(out, 0, sizeof(*out));
	/* CMSG_NXTHDR takes a non-const msghdr; it only reads it. */
	for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR((struct msghdr *)msg, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
		    c->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			out->ifindex = (uint32_t)pi.ipi_ifindex;
			out->dst_addr = pi.ipi_addr.s_addr;
		} else if (c->cmsg_level == SOL_SOCKET &&
			   c->cmsg_type == SCM_TIMESTAMPNS &&
			   c->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
			struct timespec ts;

			memcpy(&ts, CMSG_DATA(c), sizeof(ts));
			out->timestamp_ns = (uint64_t)ts.tv_sec * 1000000000ull +
					    (uint64_t)ts.tv_nsec;
		}
	}
}

size_t cxigmp_rx_control_space(void)
{
	return CMSG_SPACE(sizeof(struct in_pktinfo)) +
	       CMSG_SPACE(sizeof(struct timespec));
}

int cxigmp_attach_drop_looped(int fd)
{
	/* skb->pkt_type is not in the packet: only the SKF_AD_PKTTYPE
	 * ancillary load reaches it (Documentation/networking/filter.rst). */
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_LOOPBACK, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

/* PACKET_IGNORE_OUTGOING arrived in 4.20; Debian's headers have it, older
 * ones may not. */
#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

int cxigmp_igmp_tap_open(int ifindex, int *stage)
{
	/* SOCK_DGRAM: the filter and the reader see the packet from its IP
	 * header on, whether the device has an Ethernet header or none (tun).
	 * Offsets below are relative to it. */
	struct sock_filter code[] = {
		/* This interface only (see bind below). */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_IFINDEX),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (__u32)ifindex, 0, 7),
		/* Multicast this host looped back to itself: never input. */
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_PKTTYPE),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PACKET_LOOPBACK, 5, 0),
		/* IPv4 ... */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x40, 0, 2),
		/* ... protocol 2 (IGMP); the rest of the header is checked in
		 * Swift, where a malformed one is counted. */
		BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 9),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_IGMP, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffff),
	};
	struct sock_fprog prog = {
		.len = sizeof(code) / sizeof(code[0]),
		.filter = code,
	};
	struct packet_mreq mr;
	struct sockaddr_ll sll;
	int one = 1, fd, saved;

	*stage = 0;
	/* Protocol 0: nothing is queued until bind() below, after the filter
	 * is in place, so no foreign packet gets in first. */
	fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	*stage = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)))
		goto fail;
	*stage = 2;
	/* This host's own sends (xigmp's and its IGMP stack's) are not input. */
	if (setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one)))
		goto fail;
	*stage = 3;
	/* ALLMULTI that the kernel takes back when the socket closes, however
	 * the process ends: a NIC's multicast filter would otherwise drop
	 * reports to groups nobody on this host joined. */
	memset(&mr, 0, sizeof(mr));
	mr.mr_ifindex = ifindex;
	mr.mr_type = PACKET_MR_ALLMULTI;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)))
		goto fail;
	*stage = 4;
	/* Bound to the protocol on every interface, not to the device: a
	 * device-bound tap sits behind the IP handler in the delivery order,
	 * so IP would receive a shared skb and clone every packet (measured:
	 * 16 % fewer packets/s into IP on a veth, bench/e2e/tap_cost.sh); a
	 * protocol tap runs first and hands the skb back unshared.  The
	 * filter's ifindex check keeps other interfaces out. */
	memset(&sll, 0, sizeof(sll));
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_ifindex = 0;
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)))
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int cxigmp_mrt_init(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_IP, MRT_INIT, &one, sizeof(one));
}

int cxigmp_mrt_add_vif(int fd, uint16_t vifi, int ifindex)
{
	struct vifctl vc;

	memset(&vc, 0, sizeof(vc));
	vc.vifc_vifi = vifi;
	vc.vifc_flags = VIFF_USE_IFINDEX;
	vc.vifc_threshold = 1;
	vc.vifc_lcl_ifindex = ifindex;
	return setsockopt(fd, IPPROTO_IP, MRT_ADD_VIF, &vc, sizeof(vc));
}

int cxigmp_mrt_done(int fd)
{
	return setsockopt(fd, IPPROTO_IP, MRT_DONE, NULL, 0);
}

int cxigmp_mrt_del_vif(int fd, uint16_t vifi)
{
	struct vifctl vc;

	memset(&vc, 0, sizeof(vc));
	vc.vifc_vifi = vifi;
	return setsockopt(fd, IPPROTO_IP, MRT_DEL_VIF, &vc, sizeof(vc));
}

_Static_assert(CXIGMP_MAXVIFS == MAXVIFS, "MAXVIFS");

int cxigmp_mrt_add_mfc(int fd, uint32_t origin, uint32_t group,
		       uint16_t parent, const uint8_t *ttls, size_t nttls)
{
	struct mfcctl mc;

	memset(&mc, 0, sizeof(mc));
	mc.mfcc_origin.s_addr = origin;
	mc.mfcc_mcastgrp.s_addr = group;
	mc.mfcc_parent = parent;
	if (nttls > MAXVIFS)
		nttls = MAXVIFS;
	if (ttls && nttls)
		memcpy(mc.mfcc_ttls, ttls, nttls);
	return setsockopt(fd, IPPROTO_IP, MRT_ADD_MFC, &mc, sizeof(mc));
}

int cxigmp_mrt_del_mfc(int fd, uint32_t origin, uint32_t group)
{
	struct mfcctl mc;

	memset(&mc, 0, sizeof(mc));
	mc.mfcc_origin.s_addr = origin;
	mc.mfcc_mcastgrp.s_addr = group;
	return setsockopt(fd, IPPROTO_IP, MRT_DEL_MFC, &mc, sizeof(mc));
}

int cxigmp_mrt_sg_count(int fd, uint32_t origin, uint32_t group,
			struct cxigmp_sg_count *out)
{
	struct sioc_sg_req req;

	memset(&req, 0, sizeof(req));
	req.src.s_addr = origin;
	req.grp.s_addr = group;
	if (ioctl(fd, SIOCGETSGCNT, &req) < 0)
		return -1;
	out->packets = req.pktcnt;
	out->bytes = req.bytecnt;
	out->wrong_if = req.wrong_if;
	return 0;
}

int cxigmp_attach_drop_all(int fd)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = {
		.len = 1,
		.filter = code,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog));
}

_Static_assert(CXIGMP_IGMPMSG_NOCACHE == IGMPMSG_NOCACHE, "IGMPMSG_NOCACHE");
_Static_assert(CXIGMP_IGMPMSG_WRONGVIF == IGMPMSG_WRONGVIF, "IGMPMSG_WRONGVIF");
_Static_assert(CXIGMP_IGMPMSG_WHOLEPKT == IGMPMSG_WHOLEPKT, "IGMPMSG_WHOLEPKT");

int cxigmp_tun_open(const char *name)
{
	struct ifreq ifr;
	int fd, saved;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}


/* ---- kernel configuration ---- */

#include <zlib.h>
#include <sys/utsname.h>

int cxigmp_kconfig(const char *name, char *value, size_t cap)
{
	char path[128], line[512];
	struct utsname u;
	size_t n = strlen(name);
	gzFile f;

	/* /proc/config.gz (CONFIG_IKCONFIG_PROC) first, then the distribution's
	 * copy; zlib reads an uncompressed file as is. */
	f = gzopen("/proc/config.gz", "rb");
	if (!f && uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		f = gzopen(path, "rb");
	}
	if (!f)
		return -1;
	while (gzgets(f, line, sizeof(line))) {
		if (strncmp(line, name, n) == 0 && line[n] == '=') {
			size_t len = strcspn(line + n + 1, "\n");

			if (cap) {
				if (len >= cap)
					len = cap - 1;
				memcpy(value, line + n + 1, len);
				value[len] = 0;
			}
			gzclose(f);
			return 1;
		}
	}
	gzclose(f);
	return 0;
}

/* ---- start-up signals ---- */

#include <signal.h>

static volatile sig_atomic_t startup_signal;

static void note_signal(int sig)
{
	startup_signal = sig;
}

void cxigmp_startup_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = note_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

int cxigmp_startup_signal(void)
{
	return startup_signal;
}
