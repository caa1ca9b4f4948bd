/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xigmp_abi.h - the one contract between the BPF programs and the Swift
 * control plane.  The BPF C includes it directly; Swift imports it through
 * the CXigmp module.  Every map key/value layout, counter index and action
 * code lives here so the two sides cannot drift.
 *
 * Keep it plain C: fixed-width types from <linux/types.h>, no pointers, no
 * bitfields, explicit padding.
 */
#ifndef XIGMP_ABI_H
#define XIGMP_ABI_H

#include <linux/types.h>

/* Program and map names as the kernel reports them (BPF_OBJ_NAME_LEN is 16,
 * so each stays under 16 bytes).  The control plane recognises "ours" by the
 * program name. */
#define XIGMP_PROG_CLASSIFY	"xigmp_classify"
#define XIGMP_MAP_ACTIONS	"xigmp_actions"
#define XIGMP_MAP_COUNTERS	"xigmp_counters"
#define XIGMP_MAP_XSKS		"xigmp_xsks"
#define XIGMP_MAP_LIMITS	"xigmp_limits"
#define XIGMP_MAP_BUCKETS	"xigmp_buckets"

/* XSKMAP slots: one per RX queue; a frame on queue q goes to slot q. */
#define XIGMP_MAX_QUEUES	64

/* Entries in the action map: (ifindex, type) plus wildcard rows. */
#define XIGMP_MAX_ACTIONS	1024

/* IGMP message classes the classifier tells apart (index, not wire type). */
enum xigmp_igmp_class {
	XIGMP_CLASS_QUERY = 0,		/* 0x11 */
	XIGMP_CLASS_V1_REPORT = 1,	/* 0x12 */
	XIGMP_CLASS_V2_REPORT = 2,	/* 0x16 */
	XIGMP_CLASS_V2_LEAVE = 3,	/* 0x17 */
	XIGMP_CLASS_V3_REPORT = 4,	/* 0x22 */
	XIGMP_CLASS_OTHER = 5,		/* any other IGMP type (DVMRP, mtrace...) */
	XIGMP_CLASS__MAX = 6,
};

/* What to do with an IGMP frame of a class on an interface. */
enum xigmp_action {
	/* Hand it to the kernel's own IGMP stack. */
	XIGMP_ACTION_PASS = 0,
	/* Redirect to the AF_XDP socket bound to this RX queue; XDP_PASS when
	 * no socket is bound, so nothing is lost before the daemon starts. */
	XIGMP_ACTION_REDIRECT = 1,
	/* Drop it. */
	XIGMP_ACTION_DROP = 2,
	XIGMP_ACTION__MAX = 3,
};

/* Key of the action map.  ifindex 0 is the wildcard row, used when the
 * exact (ifindex, class) row is absent.  With neither, the frame passes. */
struct xigmp_action_key {
	__u32 ifindex;
	__u32 igmp_class;	/* enum xigmp_igmp_class */
};

struct xigmp_action_value {
	__u32 action;		/* enum xigmp_action */
	__u32 reserved;		/* zero; room for flags */
};

/* Per-source token bucket (RFC 3376 §9 asks routers to guard their state;
 * the FreeBSD IGMPv3 work rate-limits per host).  One row in the limits
 * array; cost_ns 0 turns the limiter off.  Each IGMP frame from a source
 * costs cost_ns of credit; credit refills with elapsed time up to burst_ns.
 * So rate = 1e9 / cost_ns frames per second, burst = burst_ns / cost_ns. */
struct xigmp_limit_config {
	__u64 cost_ns;
	__u64 burst_ns;
};

#define XIGMP_MAX_BUCKETS	65536	/* LRU: a flood of sources evicts the oldest */

struct xigmp_bucket {
	__u64 last_ns;
	__u64 credit_ns;
};

/* Per-CPU counter slots (BPF_MAP_TYPE_PERCPU_ARRAY of __u64).
 *
 * Class counters count IGMP frames by message class.  Action counters count
 * what was done with IGMP frames (redirected + passed + dropped equals the
 * sum of the class counters).  Malformed frames (claimed IPv4/IGMP but do
 * not parse) are passed to the kernel and counted only as malformed.
 * Non-IGMP frames are counted only in NON_IGMP. */
enum xigmp_counter {
	XIGMP_CNT_QUERY = 0,
	XIGMP_CNT_V1_REPORT = 1,
	XIGMP_CNT_V2_REPORT = 2,
	XIGMP_CNT_V2_LEAVE = 3,
	XIGMP_CNT_V3_REPORT = 4,
	XIGMP_CNT_OTHER_IGMP = 5,
	XIGMP_CNT_NON_IGMP = 6,
	XIGMP_CNT_MALFORMED = 7,
	XIGMP_CNT_REDIRECTED = 8,
	XIGMP_CNT_PASSED = 9,
	XIGMP_CNT_DROPPED = 10,
	/* IGMP without the RFC 2113 Router Alert option: accepted, counted. */
	XIGMP_CNT_NO_ROUTER_ALERT = 11,
	/* Redirect asked for but no AF_XDP socket on that queue: passed. */
	XIGMP_CNT_NO_SOCKET = 12,
	/* IGMP carried under one or two VLAN tags. */
	XIGMP_CNT_VLAN = 13,
	/* IGMP over its source's token bucket: dropped (also in DROPPED). */
	XIGMP_CNT_RATE_LIMITED = 14,
	XIGMP_CNT__MAX = 15,
};

#endif /* XIGMP_ABI_H */
