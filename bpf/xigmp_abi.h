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

/* The version of this contract.  Bumped whenever a key, value, counter
 * index or map changes meaning.  The classifier object carries it in its
 * xigmp_abi map (bound to the program, so a control plane that finds an
 * attached classifier can read it) and the loader refuses any other. */
#define XIGMP_ABI_VERSION	4
#define XIGMP_MAP_ABI		"xigmp_abi"

/* Program and map names as the kernel reports them (BPF_OBJ_NAME_LEN is 16,
 * so each stays under 16 bytes).  The control plane recognises "ours" by the
 * program name. */
#define XIGMP_PROG_CLASSIFY	"xigmp_classify"
#define XIGMP_PROG_PASS		"xigmp_pass"	/* xdp_pass.bpf.c, the cost baseline */
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
	/* Provisional forwarding entries written or widened by a report on
	 * this interface (one per group joined; "Provisional forwarding"). */
	XIGMP_CNT_PROV_INSTALLED = 15,
	XIGMP_CNT__MAX = 16,
};

/* The classifier counts class c in counter slot c: the two enums must line
 * up for the classes it counts. */
_Static_assert((int)XIGMP_CNT_QUERY == (int)XIGMP_CLASS_QUERY, "class/counter");
_Static_assert((int)XIGMP_CNT_V1_REPORT == (int)XIGMP_CLASS_V1_REPORT, "class/counter");
_Static_assert((int)XIGMP_CNT_V2_REPORT == (int)XIGMP_CLASS_V2_REPORT, "class/counter");
_Static_assert((int)XIGMP_CNT_V2_LEAVE == (int)XIGMP_CLASS_V2_LEAVE, "class/counter");
_Static_assert((int)XIGMP_CNT_V3_REPORT == (int)XIGMP_CLASS_V3_REPORT, "class/counter");
_Static_assert((int)XIGMP_CNT_OTHER_IGMP == (int)XIGMP_CLASS_OTHER, "class/counter");

/* ---- TC egress filter (igmp_egress.bpf.c) ----
 *
 * Sees every packet leaving the interface it is attached to (clsact
 * egress) and drops IGMP reports and leaves for groups the policy has not
 * allowed (or, in a v3 report that also names allowed groups, blanks their
 * records), so the host's own IGMP stack can run unchanged while xigmp
 * decides what reaches the network. */
#define XIGMP_PROG_EGRESS	"xigmp_egress"
#define XIGMP_MAP_EGRESS_ALLOW	"xigmp_eg_allow"
#define XIGMP_MAP_EGRESS_COUNTS	"xigmp_eg_counts"

/* skb->mark of xigmp's own sends (SO_MARK on its raw socket; 'xigp'):
 * they pass unexamined, the policy already chose them. */
#define XIGMP_OWN_MARK		0x78696770u

/* Prefixes the allow list holds (an LPM trie). */
#define XIGMP_EGRESS_MAX_PREFIXES	1024

/* Key of the allow list: BPF_MAP_TYPE_LPM_TRIE's layout, a prefix length
 * in bits (0..32) then the address, network byte order.  The value is a
 * __u8, 1 for "allowed"; its presence is what counts. */
struct xigmp_egress_key {
	__u32 prefixlen;
	__u32 addr;		/* network byte order */
};

/* Per-CPU counter slots of the egress filter (PERCPU_ARRAY of __u64).
 *
 * IGMP counts every IPv4 protocol-2 packet the filter saw; each lands in
 * exactly one of OWN, FRAGMENT, OTHER, ALLOWED, DROPPED, MALFORMED and
 * REWRITTEN, so IGMP is their sum.  RECORDS_HIDDEN is no outcome: it counts
 * group records inside REWRITTEN reports.  Packets that are not IGMP are
 * not counted. */
enum xigmp_egress_counter {
	XIGMP_EGR_IGMP = 0,
	/* Carried XIGMP_OWN_MARK: passed unexamined. */
	XIGMP_EGR_OWN = 1,
	/* Fragments: no IGMP header to judge (IGMP is never fragmented):
	 * passed. */
	XIGMP_EGR_FRAGMENT = 2,
	/* Queries and every type that is not a report or leave: passed. */
	XIGMP_EGR_OTHER = 3,
	/* Reports and leaves whose every group is allowed: passed. */
	XIGMP_EGR_ALLOWED = 4,
	/* Reports and leaves naming a group not allowed (for a v3 report:
	 * naming no allowed group): dropped. */
	XIGMP_EGR_DROPPED = 5,
	/* IGMP that does not parse (bad IHL or lengths, a message shorter
	 * than its type needs, v3 records running past its end): dropped. */
	XIGMP_EGR_MALFORMED = 6,
	/* v3 reports naming allowed and disallowed groups: passed with each
	 * disallowed record neutralised (Record Type 0, group 0.0.0.0). */
	XIGMP_EGR_REWRITTEN = 7,
	/* Records neutralised in those reports (not a packet outcome). */
	XIGMP_EGR_RECORDS_HIDDEN = 8,
	XIGMP_EGR__MAX = 9,
};

/* ---- Multicast forwarding (igmp_classify.bpf.c) ----
 *
 * The classifier's fast path for IPv4 multicast data (224.0.0.0/4 minus
 * the link-local 224.0.0.0/24, any protocol but IGMP), off unless the
 * control plane enables it per ingress interface in xigmp_fwd_ifs.  A
 * frame is looked up as (ingress, S, G), then (ingress, 0.0.0.0, G); a hit
 * is redirected through the xigmp_fwd_ports DEVMAP_HASH to one egress
 * (by ifindex), or with BPF_F_BROADCAST|BPF_F_EXCLUDE_INGRESS to every port
 * of the route's member devmap (xigmp_fwd_m0..31, below) or, without one,
 * to every port; the devmap program xigmp_fwd_out keeps only the ports whose
 * slot bit is in the route's mask, decrements TTL (RFC 1624 checksum
 * update) and writes the egress MAC as source.
 *
 * Names: every map name stays under 16 bytes (BPF_OBJ_NAME_LEN), so
 * "xigmp_fwd_route" rather than "xigmp_fwd_routes". */
#define XIGMP_PROG_FWD_OUT	"xigmp_fwd_out"
#define XIGMP_PROG_FWD_TC	"xigmp_fwd_tc"
#define XIGMP_MAP_FWD_SLOTS	"xigmp_fwd_slots"
#define XIGMP_MAP_FWD_ROUTES	"xigmp_fwd_route"
#define XIGMP_MAP_FWD_PORTS	"xigmp_fwd_ports"
#define XIGMP_MAP_FWD_IFS	"xigmp_fwd_ifs"
#define XIGMP_MAP_FWD_STATS	"xigmp_fwd_stats"
/* Member devmaps: XIGMP_FWD_MEMBER_MAPS DEVMAP_HASH maps named
 * "xigmp_fwd_m0".."xigmp_fwd_m31" (ifindex -> struct bpf_devmap_val with
 * xigmp_fwd_out), each lent by the control plane to one XDP-path route
 * with two or more egress ports and holding exactly its ports; the route's
 * `members` field names it (n + 1).  A BPF_F_BROADCAST redirect over it
 * clones a frame once per member instead of once per port of the whole
 * forwarder.  Separate maps picked by a switch, not a map of maps: every
 * write to a map of maps from user space waits for an RCU grace period
 * (milliseconds, tens under load), which a channel change cannot afford.
 * 32 because a program may use at most 64 maps (MAX_USED_MAPS) and the
 * classifier has about 20 others.
 * The control plane adds a port to a member devmap before the route's mask
 * gains its bit and removes it after the bit is gone; xigmp_fwd_out still
 * filters by mask, so a member devmap may briefly hold a port too many
 * (or another route's, just after it was lent again), never one too few.
 * A route with members 0 (one port, no member devmap free, or a
 * provisional merge) broadcasts over xigmp_fwd_ports as before. */
#define XIGMP_FWD_MEMBER_MAPS	32
#define XIGMP_MAP_FWD_MEMBER_PREFIX	"xigmp_fwd_m"
#define XIGMP_FWD_MEMBER_LIST(X) \
	X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15) \
	X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23) X(24) X(25) X(26) X(27) X(28) X(29) X(30) X(31)

#define XIGMP_MAP_FWD_COUNTERS	"xigmp_fwd_cnt"
/* ARRAY of one __u32: the number of interfaces with ingress forwarding on
 * (kept by the control plane); 0 skips every other forwarding lookup. */
#define XIGMP_MAP_FWD_ON	"xigmp_fwd_on"

#define XIGMP_FWD_MAX_ROUTES	16384
/* Egress ports: one bit each in a route's 64-bit mask. */
#define XIGMP_FWD_MAX_PORTS	64
/* Interfaces with forwarding settings and/or an egress slot. */
#define XIGMP_FWD_MAX_IFS	256

/* Key of the route map and of the per-route statistics.  source 0 is the
 * (*,G) row.  Addresses in network byte order. */
struct xigmp_fwd_key {
	__u32 ifindex;		/* ingress */
	__u32 source;		/* network byte order; 0: any source */
	__u32 group;		/* network byte order */
};

/* Which path forwards a route's frames.  Every path reads the same row, so
 * a route moves between paths by rewriting one value. */
enum xigmp_fwd_path {
	/* The classifier redirects through the xigmp_fwd_ports devmap (every
	 * egress can transmit XDP frames). */
	XIGMP_FWD_PATH_XDP = 0,
	/* The classifier passes the frame; xigmp_fwd_tc on the ingress's TC
	 * hook clones it to each egress (bridges such as docker0, macvlan,
	 * vxlan, anything native XDP cannot transmit to; L3 ingress devices).
	 * Needs no kernel multicast routing. */
	XIGMP_FWD_PATH_TC = 1,
	/* The classifier passes the frame to the kernel's MFC (mode kernel). */
	XIGMP_FWD_PATH_KERNEL = 2,
};

/* A route: the egress ports by slot bit, their number, and (when there is
 * exactly one) its ifindex, so the common single-egress case needs no
 * broadcast.  out_count 0 is a blocking row on every path: matched,
 * forwarded nowhere, dropped (an IGMPv3 EXCLUDEd source under a (*,G)
 * route). */
struct xigmp_fwd_route {
	__u64 out_mask;		/* bit n: the port in slot n */
	__u32 out_count;
	__u32 single_ifindex;	/* the egress when out_count == 1 */
	__u32 path;		/* enum xigmp_fwd_path */
	__u32 members;		/* n + 1: member devmap n holds the egress
				 * ports (XDP path, 2+ ports); 0: none */
};

/* What to do with multicast data that matches no route. */
enum xigmp_fwd_unmatched {
	XIGMP_FWD_UNMATCHED_PASS = 0,	/* to the kernel (default) */
	XIGMP_FWD_UNMATCHED_DROP = 1,
};

/* The kernel-shared layouts the control plane writes byte for byte. */
_Static_assert(sizeof(struct xigmp_fwd_route) == 24, "xigmp_fwd_route layout");
_Static_assert(sizeof(struct xigmp_fwd_key) == 12, "xigmp_fwd_key layout");

/* Per-interface row of xigmp_fwd_ifs, keyed by ifindex.  One map holds
 * both roles an interface can have: ingress settings (read by the
 * classifier) and egress slot + MAC (read by the devmap program).  Being
 * one map referenced by the classifier, every map the devmap program uses
 * is reachable from the classifier's map ids, so a control plane that
 * finds an attached classifier can load a fresh copy of the devmap
 * program sharing all of them. */
struct xigmp_fwd_if {
	__u8 ingress;		/* 1: forward multicast data arriving here */
	__u8 unmatched;		/* enum xigmp_fwd_unmatched */
	__u8 egress;		/* 1: slot and mac are valid */
	__u8 slot;		/* 0..XIGMP_FWD_MAX_PORTS-1 */
	__u8 mac[6];		/* the egress interface's MAC, the new source */
	__u8 l3;		/* 1: no Ethernet header (tun, ppp) */
	__u8 reserved;
};

/* ARRAY of XIGMP_FWD_MAX_PORTS __u32: the ifindex of each egress slot (0:
 * free), for the TC path, which walks a route's mask instead of a devmap. */

_Static_assert(sizeof(struct xigmp_fwd_if) == 12, "xigmp_fwd_if layout");

/* Per-route statistics (PERCPU_HASH, key xigmp_fwd_key): frames the
 * classifier forwarded for that route and their IPv4 bytes (total
 * length), counted once per frame whatever the number of egress ports. */
struct xigmp_fwd_stats {
	__u64 packets;
	__u64 bytes;
};

/* Per-CPU counter slots of the forwarder (PERCPU_ARRAY of __u64, separate
 * from xigmp_counters so those keep their layout).  Multicast data is also
 * counted as NON_IGMP there, as before forwarding existed. */
enum xigmp_fwd_counter {
	/* Redirected to the egress port(s) (per frame, not per copy). */
	XIGMP_FWD_CNT_FORWARDED = 0,
	/* Matched a route with TTL <= 1: dropped. */
	XIGMP_FWD_CNT_TTL_EXPIRED = 1,
	/* No route; the ingress says pass / drop. */
	XIGMP_FWD_CNT_UNMATCHED_PASSED = 2,
	XIGMP_FWD_CNT_UNMATCHED_DROPPED = 3,
	/* Matched a blocking row (out_count 0): dropped. */
	XIGMP_FWD_CNT_BLOCKED = 4,
	/* Single egress not in xigmp_fwd_ports: passed to the kernel. */
	XIGMP_FWD_CNT_NO_EGRESS = 5,
	/* Devmap program: copies sent on an egress port... */
	XIGMP_FWD_CNT_EGRESS_SENT = 6,
	/* ...and copies dropped because the port's bit is not in the route
	 * (a broadcast reaching a port the route does not name, or a route
	 * changed in flight). */
	XIGMP_FWD_CNT_EGRESS_FILTERED = 7,
	/* Matched a TC- or kernel-path row: passed on to TC / the MFC. */
	XIGMP_FWD_CNT_KERNEL_PATH = 8,
	/* xigmp_fwd_tc: frames replicated (once per frame)... */
	XIGMP_FWD_CNT_TC_FORWARDED = 9,
	/* ...copies sent, one per egress... */
	XIGMP_FWD_CNT_TC_COPIES = 10,
	/* ...and copies or frames the kernel refused (bpf_clone_redirect or
	 * bpf_skb_change_head failed: an egress gone, no memory). */
	XIGMP_FWD_CNT_TC_ERRORS = 11,
	/* Frames whose egress set came (wholly or partly) from a provisional
	 * entry, on the XDP or the TC path (also counted as forwarded). */
	XIGMP_FWD_CNT_PROVISIONAL = 12,
	XIGMP_FWD_CNT__MAX = 13,
};

/* ---- Provisional forwarding ----
 *
 * Between a host's join and the route the control plane writes lies one
 * trip through the AF_XDP ring, the policy and a map update (~0.5 ms).  To
 * cut it, the classifier on an inside interface writes a *provisional*
 * (*,G) entry itself when a v1/v2 report or a v3 (*,G) join record (IS_EX
 * or TO_EX with no sources) names a group the control plane allows on
 * that inside (xigmp_prov_acl), before it redirects the report to the
 * ring.  The forwarders (fwd_multicast, xigmp_fwd_out, xigmp_fwd_tc) use
 * it when the (S,G) and (*,G) routes miss, and OR its mask into a route
 * that hits and is not a blocking row; user space deletes the entries of
 * every batch of reports once it has written the real routes, so an entry
 * lives one loop turn.  Per-host limits are the control plane's: a refused
 * join loses its entry in that same turn.
 *
 * The entries live in one LRU hash shared by every classifier instance
 * (the inside's writes, the outside's reads): the control plane creates it
 * and puts it in slot 0 of each instance's xigmp_fwd_prov (an
 * ARRAY_OF_MAPS), likewise the gate array in xigmp_prov_gate.  Bounded
 * and LRU, a join flood can never fill the route map (the control plane
 * writes that one only for joins the policy accepted). */
#define XIGMP_MAP_PROV_ROUTES	"xigmp_fwd_prov"	/* outer: slot 0 -> table */
#define XIGMP_MAP_PROV_GATE	"xigmp_prov_gate"	/* outer: slot 0 -> gate */
#define XIGMP_MAP_PROV_ACL	"xigmp_prov_acl"
/* Names of the shared inner maps the control plane creates. */
#define XIGMP_MAP_PROV_TABLE	"xigmp_prov_rt"
#define XIGMP_MAP_PROV_FLAG	"xigmp_prov_on"

#define XIGMP_PROV_MAX_ENTRIES	4096
#define XIGMP_PROV_MAX_ACL	1024
/* v3 records examined per report for (*,G) joins (the rest are the
 * control plane's alone: a general query's answer lists every group). */
#define XIGMP_PROV_MAX_RECORDS	32
/* Forwarders ignore entries older than this (user space dead or slow). */
#define XIGMP_PROV_MAX_AGE_NS	100000000ULL

/* A provisional entry, keyed by struct xigmp_fwd_key {the OUTSIDE
 * ifindex, 0, group}.  route.out_mask gathers the slot bits of every
 * inside that joined (ORed atomically); route.out_count and
 * single_ifindex describe the first inside only and are not read by the
 * forwarders, which go by the mask. */
struct xigmp_prov_entry {
	struct xigmp_fwd_route route;
	__u64 stamp_ns;		/* bpf_ktime_get_ns() of the last report */
};

/* Key of xigmp_prov_acl (an LPM trie): prefixlen = 32 + the group
 * prefix's length, so the inside ifindex always matches whole. */
struct xigmp_prov_acl_key {
	__u32 prefixlen;
	__u32 ifindex;		/* the inside interface */
	__u32 group;		/* network byte order */
};

/* What a report on that inside for a group under the prefix provisions. */
struct xigmp_prov_acl {
	__u32 outside;		/* the ingress of the entry (active outside) */
	__u32 egress;		/* the inside's ifindex, as egress */
	__u32 slot;		/* its egress slot in the outside's maps */
	__u32 path;		/* enum xigmp_fwd_path: xdp or tc */
};

_Static_assert(sizeof(struct xigmp_prov_entry) == 32, "xigmp_prov_entry layout");
_Static_assert(sizeof(struct xigmp_prov_acl_key) == 12, "xigmp_prov_acl_key layout");
_Static_assert(sizeof(struct xigmp_prov_acl) == 16, "xigmp_prov_acl layout");

#endif /* XIGMP_ABI_H */
