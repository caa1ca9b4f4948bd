// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * igmp_egress.bpf.c - TC egress filter: IGMP reports and leaves leave the
 * interface only for groups the policy allows.
 *
 * v1/v2 reports and leaves name one group: passed or dropped.  A v3 report
 * naming only allowed groups passes untouched, one naming none is dropped,
 * and one naming both kinds passes with each disallowed record blanked in
 * place (see v3_verdict).
 *
 * The host's own IGMP stack (net/ipv4/igmp.c) builds its reports inside
 * the kernel, with no socket anyone could filter; on clsact egress this
 * program sees them on their way to the driver, so the kernel's IGMP code
 * runs unchanged while xigmp decides what reaches the network (goIGMP's
 * "only report when a user actually wants the stream").
 *
 * Everything that is not IPv4 protocol 2 leaves after the ethertype and
 * protocol checks, uncounted.  xigmp's own sends carry XIGMP_OWN_MARK and
 * pass unexamined; AF_XDP transmissions never get here (they leave through
 * __dev_direct_xmit, past the qdisc layer).
 *
 * "Pass" is TC_ACT_UNSPEC, not TC_ACT_OK: in a tc filter chain OK ends
 * classification, so every filter behind this one (a higher pref on the
 * same hook) would stop seeing traffic.  UNSPEC hands the packet on to the
 * next filter, and with none left it is sent as usual.  Only drops are
 * final.
 */
#include <linux/pkt_cls.h>
#include "xigmp_parse.h"
#include "xigmp_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define IGMP_V1_REPORT	0x12
#define IGMP_V2_REPORT	0x16
#define IGMP_V2_LEAVE	0x17
#define IGMP_V3_REPORT	0x22

/* Not judged here: the next filter, or the device, gets it. */
#define PASS		TC_ACT_UNSPEC

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XIGMP_EGRESS_MAX_PREFIXES);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* required for LPM tries */
	__type(key, struct xigmp_egress_key);
	__type(value, __u8);
} xigmp_eg_allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XIGMP_EGR__MAX);
	__type(key, __u32);
	__type(value, __u64);
} xigmp_eg_counts SEC(".maps");

/* RFC 3376 §4.2.4: a group record's fixed part, then nsrc source
 * addresses and aux_words 32-bit words of auxiliary data. */
struct v3_record {
	__u8 type;
	__u8 aux_words;
	__be16 nsrc;
	__be32 group;
};

/* State of the v3 record walk, shared with the bpf_loop callback. */
struct v3_walk {
	struct __sk_buff *skb;
	__u32 off;	/* next record, in bytes from skb->data */
	__u32 end;	/* end of the IGMP message (IPv4 Total Length) */
	__u32 csum;	/* the IGMP checksum, in bytes from skb->data */
	__u32 allowed;	/* records whose group is allowed */
	__u32 hidden;	/* records blanked (group not allowed) */
	__u32 failed;	/* 0, or why the walk stopped: XIGMP_EGR_MALFORMED,
			 * or XIGMP_EGR_DROPPED when a record could not be
			 * blanked */
};

static __always_inline void count_n(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&xigmp_eg_counts, &idx);

	if (v)
		*v += n;	/* per-CPU slot: no atomics needed */
}

static __always_inline void count(__u32 idx)
{
	count_n(idx, 1);
}

static __always_inline int group_allowed(__be32 group)
{
	struct xigmp_egress_key key = { .prefixlen = 32, .addr = group };

	return bpf_map_lookup_elem(&xigmp_eg_allow, &key) != NULL;
}

/* Blanks the record at w->off: Record Type 0, Multicast Address 0.0.0.0;
 * Aux Data Len and Number of Sources stay, so the record keeps its length
 * and receivers step over it.  The IGMP checksum (no pseudo-header) is
 * fixed incrementally for the two changed fields; the kernel computes it
 * in full when building the report (never CHECKSUM_PARTIAL, for which
 * this helper would leave the field alone). */
static __always_inline int blank_record(struct v3_walk *w, struct v3_record *rec)
{
	struct v3_record blank = *rec;

	blank.type = 0;
	blank.group = 0;
	/* Type and Aux Data Len form the record's first 16-bit word. */
	if (bpf_l4_csum_replace(w->skb, w->csum, *(__u16 *)rec,
				*(__u16 *)&blank, 2) < 0 ||
	    bpf_l4_csum_replace(w->skb, w->csum, rec->group, 0, 4) < 0 ||
	    bpf_skb_store_bytes(w->skb, w->off, &blank, sizeof(blank), 0) < 0)
		return -1;
	return 0;
}

/* One group record per call.  bpf_skb_load_bytes checks every read
 * against the packet itself, so the walk needs no packet-pointer proofs
 * and works on paged data without linearising the skb (a write makes the
 * touched bytes linear and private, as any tc rewrite does). */
static long walk_record(__u64 index, void *ctx)
{
	struct v3_walk *w = ctx;
	struct v3_record rec;
	__u32 len;

	if (w->off + sizeof(rec) > w->end ||
	    bpf_skb_load_bytes(w->skb, w->off, &rec, sizeof(rec)) < 0)
		goto malformed;
	len = sizeof(rec) + ((__u32)bpf_ntohs(rec.nsrc) + rec.aux_words) * 4;
	if (w->off + len > w->end)
		goto malformed;
	if (group_allowed(rec.group)) {
		w->allowed++;
	} else {
		if (blank_record(w, &rec) < 0) {
			w->failed = XIGMP_EGR_DROPPED;
			return 1;
		}
		w->hidden++;
	}
	w->off += len;
	return 0;
malformed:
	w->failed = XIGMP_EGR_MALFORMED;
	return 1;
}

/* A v3 report: ALLOWED (passed untouched) when every record's group is
 * allowed, DROPPED when none is (or it has records and none allowed),
 * REWRITTEN (passed, *hidden records blanked) when it names both kinds.
 *
 * The mixed case matters: the kernel sends one record per state change,
 * so joins and leaves are judged group by group, but its answer to a
 * general query lists every group in one report (RFC 3376 §5.2).  Dropped
 * whole, that answer would cost a host holding one disallowed group all
 * its allowed memberships upstream.  Cutting the disallowed records out
 * would mean moving the records behind them and shrinking the packet;
 * instead each is blanked where it stands: Record Type 0, which receivers
 * MUST silently ignore (RFC 3376 §4.2.12), and Multicast Address 0.0.0.0,
 * so the group does not leak.  Its source list stays (sources, with no
 * group to belong to).  Blanking happens during the walk; if the report
 * then turns out malformed or all disallowed, it is dropped anyway.
 *
 * Records running past the message end make it malformed: dropped, as a
 * lenient receiver could still read a group out of it.  The walk goes by
 * the record count in the header, however many that is: a host in many
 * groups answers a general query with one record per group, up to ~180 in
 * a 1500-byte packet, so a fixed cap (say 64) would drop honest reports. */
static __always_inline __u32 v3_verdict(struct __sk_buff *skb, __u32 l4,
					__u32 end, __u16 nrec, __u32 *hidden)
{
	__u32 first = l4 + 8;
	struct v3_walk w = {
		.skb = skb, .off = first, .end = end,
		.csum = l4 + 2,	/* RFC 3376 §4.2.2 */
	};

	/* Every record takes at least 8 bytes: a count that cannot fit is
	 * malformed, and the loop stays bounded by the packet length. */
	if ((__u32)nrec * sizeof(struct v3_record) > end - first)
		return XIGMP_EGR_MALFORMED;
	if (bpf_loop(nrec, walk_record, &w, 0) < 0)
		return XIGMP_EGR_MALFORMED;	/* not checked: not passed */
	if (w.failed)
		return w.failed;
	if (!w.hidden)
		return XIGMP_EGR_ALLOWED;
	if (!w.allowed)
		return XIGMP_EGR_DROPPED;
	*hidden = w.hidden;
	return XIGMP_EGR_REWRITTEN;
}

SEC("tc")
int xigmp_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct xigmp_cursor c = { .pos = data, .end = data_end };
	struct iphdr *iph, ip;
	__u8 igmp[8];
	__be16 proto;
	__u32 l3, l4, end, verdict, hidden = 0;
	int vlans;

	/* The stack builds every header in the skb's linear area, so direct
	 * reads decide most packets; the Ethernet header (and any tag not
	 * offloaded to skb->vlan_tci) always is there. */
	if (xigmp_parse_eth(&c, &proto, &vlans) < 0 ||
	    proto != bpf_htons(ETH_P_IP))
		return PASS;
	iph = c.pos;
	if ((void *)(iph + 1) <= data_end &&
	    iph->protocol != XIGMP_IPPROTO_IGMP)
		return PASS;

	/* IGMP (or an IPv4 header outside the linear area): copy what is
	 * needed with bpf_skb_load_bytes instead of pulling it in, which
	 * would make the skb writable and copy it when cloned. */
	l3 = sizeof(struct ethhdr) + (__u32)vlans * sizeof(struct xigmp_vlan_hdr);
	if (bpf_skb_load_bytes(skb, l3, &ip, sizeof(ip)) < 0 ||
	    ip.protocol != XIGMP_IPPROTO_IGMP)
		return PASS;

	count(XIGMP_EGR_IGMP);
	if (skb->mark == XIGMP_OWN_MARK) {
		count(XIGMP_EGR_OWN);
		return PASS;
	}
	/* IGMP is never fragmented; a later fragment has no header to judge
	 * and the first cannot be told from a whole message without it. */
	if (ip.frag_off & bpf_htons(XIGMP_IP_MF | XIGMP_IP_OFFSET)) {
		count(XIGMP_EGR_FRAGMENT);
		return PASS;
	}

	/* From here the packet claims to be IGMP.  What does not parse is
	 * dropped: the host's stack never sends it, and a filter that
	 * guarantees "no report for a group not allowed" cannot pass what
	 * it could not read. */
	if (ip.version != 4 || ip.ihl < 5)
		goto malformed;
	l4 = l3 + (__u32)ip.ihl * 4;
	end = l3 + bpf_ntohs(ip.tot_len);
	if (end > skb->len || end < l4 + sizeof(igmp) ||
	    bpf_skb_load_bytes(skb, l4, igmp, sizeof(igmp)) < 0)
		goto malformed;

	switch (igmp[0]) {
	case IGMP_V1_REPORT:
	case IGMP_V2_REPORT:
	case IGMP_V2_LEAVE:
		/* RFC 2236 §2.4: the group is bytes 4..7. */
		verdict = group_allowed(*(__be32 *)&igmp[4]) ?
			  XIGMP_EGR_ALLOWED : XIGMP_EGR_DROPPED;
		break;
	case IGMP_V3_REPORT:
		/* RFC 3376 §4.2: bytes 6..7 count the records behind the
		 * 8-byte header. */
		verdict = v3_verdict(skb, l4, end,
				     bpf_ntohs(*(__be16 *)&igmp[6]), &hidden);
		break;
	default:
		/* Queries (a host that is also a querier) and other types
		 * announce no membership. */
		count(XIGMP_EGR_OTHER);
		return PASS;
	}
	count(verdict);
	if (verdict == XIGMP_EGR_REWRITTEN) {
		count_n(XIGMP_EGR_RECORDS_HIDDEN, hidden);
		return PASS;
	}
	return verdict == XIGMP_EGR_ALLOWED ? PASS : TC_ACT_SHOT;

malformed:
	count(XIGMP_EGR_MALFORMED);
	return TC_ACT_SHOT;
}
