/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* cxigmp_net.h - socket-level shims (cmsg macros, mroute structs) for the
 * kernel-path port. */
#ifndef CXIGMP_NET_H
#define CXIGMP_NET_H

#endif /* CXIGMP_NET_H */
