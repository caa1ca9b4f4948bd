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

#endif /* CXIGMP_XSK_H */
