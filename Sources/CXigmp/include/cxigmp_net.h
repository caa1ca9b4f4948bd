/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cxigmp_net.h - socket-level shims for the kernel-path port: the cmsg
 * macros (CMSG_FIRSTHDR/NXTHDR/DATA do not import into Swift), recvmmsg
 * (glibc hides it and struct mmsghdr without _GNU_SOURCE), the mroute
 * setsockopts (linux/mroute.h clashes with netinet/in.h in one module),
 * and a tun opener for tests and demos.  Each returns what the syscall
 * returns (-1 with errno set on failure) and does nothing but adapt.
 */
#ifndef CXIGMP_NET_H
#define CXIGMP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Layout-identical to glibc's struct mmsghdr (checked in net_shim.c). */
struct cxigmp_mmsghdr {
	struct msghdr msg_hdr;
	unsigned int msg_len;
};

/* recvmmsg(2) without a timeout. */
int cxigmp_recvmmsg(int fd, struct cxigmp_mmsghdr *vec, unsigned int vlen,
		    int flags);

/* What the control buffer of one received message says. */
struct cxigmp_rx_meta {
	uint64_t timestamp_ns;	/* SCM_TIMESTAMPNS, CLOCK_REALTIME; 0: none */
	uint32_t ifindex;	/* IP_PKTINFO ipi_ifindex; 0: no pktinfo */
	uint32_t dst_addr;	/* IP_PKTINFO ipi_addr, network byte order */
};

/* Walks msg's control buffer (CMSG_FIRSTHDR/CMSG_NXTHDR) and fills out;
 * fields without a matching cmsg are zero. */
void cxigmp_rx_meta(const struct msghdr *msg, struct cxigmp_rx_meta *out);

/* Control-buffer bytes one message needs for IP_PKTINFO + SO_TIMESTAMPNS. */
size_t cxigmp_rx_control_space(void);

/* Attaches a classic BPF socket filter that drops packets whose
 * skb->pkt_type is PACKET_LOOPBACK: multicast this host sent and looped
 * back to itself (its own IGMP stack's reports, or another local socket's
 * sends with IP_MULTICAST_LOOP on).  SO_ATTACH_FILTER's return value. */
int cxigmp_attach_drop_looped(int fd);

/* ---- AF_PACKET IGMP tap ---- */

/* Opens the kernel path's receive socket on ifindex: AF_PACKET, SOCK_DGRAM
 * (data starts at the IP header on Ethernet and tun alike), non-blocking,
 * with a classic BPF filter that keeps IPv4 protocol 2 and drops looped-back
 * packets, PACKET_IGNORE_OUTGOING, and PACKET_MR_ALLMULTI (the kernel drops
 * it when the socket closes, even after kill -9).  Sees every IGMP message
 * on the interface, whatever groups the host joined, on any kernel; needs
 * CAP_NET_RAW.  Returns the fd, or -1 with errno and *stage saying which
 * step failed: 0 socket, 1 SO_ATTACH_FILTER, 2 PACKET_IGNORE_OUTGOING,
 * 3 PACKET_ADD_MEMBERSHIP, 4 bind. */
int cxigmp_igmp_tap_open(int ifindex, int *stage);

/* ---- multicast routing (linux/mroute.h) ---- */

/* setsockopt(MRT_INIT, 1) on a raw IGMP socket: makes it the namespace's
 * (default table's) multicast router socket.  EADDRINUSE: one exists. */
int cxigmp_mrt_init(int fd);
/* setsockopt(MRT_ADD_VIF) with VIFF_USE_IFINDEX, threshold 1, no limit. */
int cxigmp_mrt_add_vif(int fd, uint16_t vifi, int ifindex);
/* setsockopt(MRT_DONE): drops every VIF and MFC entry of the socket. */
int cxigmp_mrt_done(int fd);
/* setsockopt(MRT_DEL_VIF). */
int cxigmp_mrt_del_vif(int fd, uint16_t vifi);
/* MAXVIFS: VIF indices are 0 ..< this. */
enum { CXIGMP_MAXVIFS = 32 };
/* setsockopt(MRT_ADD_MFC): (origin, group) -> parent VIF with per-VIF TTL
 * thresholds ttls[0..<nttls] (0 or 255: not an output; n: forward packets
 * whose TTL > n).  origin 0 makes a (*,G) entry.  Addresses in network
 * byte order.  MRT_ADD_MFC (not _PROXY) matches an existing entry by
 * (origin, group) whatever its parent and replaces parent and TTLs. */
int cxigmp_mrt_add_mfc(int fd, uint32_t origin, uint32_t group,
		       uint16_t parent, const uint8_t *ttls, size_t nttls);
/* setsockopt(MRT_DEL_MFC): the (origin, group) entry, whatever its parent. */
int cxigmp_mrt_del_mfc(int fd, uint32_t origin, uint32_t group);
/* ioctl(SIOCGETSGCNT) on the mroute socket: counters of the resolved
 * (origin, group) entry (origin 0: the (*,G) entry).  ENXIO: no entry. */
struct cxigmp_sg_count {
	uint64_t packets;
	uint64_t bytes;
	uint64_t wrong_if;
};
int cxigmp_mrt_sg_count(int fd, uint32_t origin, uint32_t group,
			struct cxigmp_sg_count *out);
/* Attaches a classic BPF socket filter that drops everything (for an
 * mroute socket nobody reads: IGMP and upcalls would only fill it). */
int cxigmp_attach_drop_all(int fd);
/* IGMPMSG_* upcall types put on the mroute socket (struct igmpmsg, whose
 * byte 9, the IP protocol of a real packet, is always 0). */
enum {
	CXIGMP_IGMPMSG_NOCACHE = 1,
	CXIGMP_IGMPMSG_WRONGVIF = 2,
	CXIGMP_IGMPMSG_WHOLEPKT = 3,
};

/* ---- kernel configuration ---- */

/* Looks `name` (e.g. "CONFIG_NET_SCH_INGRESS") up in /proc/config.gz, else
 * /boot/config-RELEASE.  1 and its value ("y", "m", ...) copied into value,
 * 0 when the file has no such line (not set), -1 when neither file can be
 * read (unknown). */
int cxigmp_kconfig(const char *name, char *value, size_t cap);

/* ---- start-up signals ---- */

/* Until the daemon's own signal handling runs, SIGTERM, SIGINT and SIGHUP
 * only record which arrived last (the default action would end the process
 * half set up, leaving what it attached).  Install before anything else. */
void cxigmp_startup_signals_install(void);
/* The last of them that arrived since install (0: none). */
int cxigmp_startup_signal(void);

/* ---- tun ---- */

/* Opens /dev/net/tun and attaches IFF_TUN|IFF_NO_PI device `name` (created
 * in the calling thread's network namespace; gone when the fd closes).
 * Returns the fd (O_NONBLOCK, O_CLOEXEC) or -1 with errno set. */
int cxigmp_tun_open(const char *name);


#endif /* CXIGMP_NET_H */
