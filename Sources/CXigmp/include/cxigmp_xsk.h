/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cxigmp_xsk.h - shims for the XDP port: what Swift cannot reach directly
 * (ethtool ioctls with a pointer inside ifreq, packet_mreq). */
#ifndef CXIGMP_XSK_H
#define CXIGMP_XSK_H

#include <stddef.h>
#include <stdint.h>

/* Number of RX queues of an interface (ETHTOOL_GCHANNELS: max of rx and
 * combined counts), or -errno.  Drivers without the ioctl report 1. */
int cxigmp_rx_queue_count(const char *ifname);

/* An AF_PACKET socket (protocol 0: it receives nothing) holding a
 * PACKET_MR_ALLMULTI membership on ifindex.  The kernel counts such
 * memberships and drops them when the socket closes, so ALLMULTI is
 * restored even if the process dies.  Returns the fd or -errno. */
int cxigmp_allmulti_socket(int ifindex);

/* The interface's driver name (ETHTOOL_GDRVINFO), e.g. "veth"; -errno when
 * the driver does not answer. */
int cxigmp_driver_name(const char *ifname, char *buf, size_t cap);

/* Acquire-load of a ring index the kernel writes (Swift has no atomic
 * view of a plain uint32_t in shared memory). */
static inline uint32_t cxigmp_load_acquire_u32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

#endif /* CXIGMP_XSK_H */
