/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cxigmp_netdev.h - an interface's XDP features, read from the kernel's
 * "netdev" generic-netlink family without attaching a program. */
#ifndef CXIGMP_NETDEV_H
#define CXIGMP_NETDEV_H

#include <stdint.h>

/* XDP feature bits (enum netdev_xdp_act of linux/netdev.h, kernel 6.3+),
 * redefined here because Debian 12's headers lack them.  The values are
 * kernel ABI and will not change. */
enum {
	CXIGMP_XDP_ACT_BASIC = 1,		/* ABORTED, DROP, PASS, TX */
	CXIGMP_XDP_ACT_REDIRECT = 2,		/* XDP_REDIRECT out of this rx */
	CXIGMP_XDP_ACT_NDO_XMIT = 4,		/* can be a redirect target */
	CXIGMP_XDP_ACT_XSK_ZEROCOPY = 8,	/* AF_XDP zero-copy */
	CXIGMP_XDP_ACT_HW_OFFLOAD = 16,
	CXIGMP_XDP_ACT_RX_SG = 32,		/* multi-buffer frames on rx */
	CXIGMP_XDP_ACT_NDO_XMIT_SG = 64,	/* multi-buffer redirect target */
};

/* Fills *features with the NETDEV_A_DEV_XDP_FEATURES bitmask of ifindex, as
 * seen from the calling thread's network namespace; nothing is attached or
 * changed.  *zc_max_segs (may be NULL) gets NETDEV_A_DEV_XDP_ZC_MAX_SEGS, or
 * 0 when the kernel does not send it: it is sent only for XSK_ZEROCOPY
 * devices, and only since 6.6.  Returns 0, or -1 with errno: ENOENT when the
 * kernel has no "netdev" family (before 6.3), ENODEV when there is no such
 * interface (or ifindex <= 0), EPROTO for a malformed reply, or the
 * socket/netlink error otherwise. */
int cxigmp_xdp_features(int ifindex, uint64_t *features, uint32_t *zc_max_segs);

#endif /* CXIGMP_NETDEV_H */
