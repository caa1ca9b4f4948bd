/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xigmp_fwd_tc.h - the TC forwarding path, compiled into igmp_classify.bpf.c
 * so it shares the forwarding maps (one route table for every path).
 *
 * xigmp_fwd_tc runs on an outside interface's TC ingress hook (tcx, or a
 * clsact qdisc on kernels before 6.6).  For a route on XIGMP_FWD_PATH_TC it
 * decrements TTL once (RFC 1624 update through bpf_l3_csum_replace), then
 * for each egress slot in the route's mask writes that port's MAC as the
 * source and bpf_clone_redirect()s a copy to its egress, and consumes the
 * original.  The egress can be any device: a Linux bridge (docker0) whose
 * own snooping, br_netfilter and port isolation then pick the member ports
 * (redirecting to the member ports directly would bypass them), a macvlan,
 * a vxlan, a veth without NAPI.  An ingress without Ethernet (tun, ppp:
 * xigmp_fwd_if.l3) gets a MAC header pushed first (bpf_skb_change_head),
 * destination 01:00:5e + the group's low 23 bits (RFC 1112 §6.4).  No
 * kernel multicast routing is involved.
 */
#ifndef XIGMP_FWD_TC_H
#define XIGMP_FWD_TC_H

#include <linux/pkt_cls.h>

#define XIGMP_TC_IP_CSUM_OFF	10	/* struct iphdr.check */
#define XIGMP_TC_IP_TTL_OFF	8

static __always_inline void fwd_add(__u32 idx, __u64 n)
{
	__u64 *v = bpf_map_lookup_elem(&xigmp_fwd_cnt, &idx);

	if (v)
		*v += n;
}

struct xigmp_tc_walk {
	struct __sk_buff *skb;
	__u64 mask;
	__u32 copies;
	__u32 errors;
};

/* bpf_loop callback, once per slot: for a slot in the mask, its MAC as
 * source, then a copy out of its device.  A callback is verified once,
 * where an unrolled 64-slot walk would be verified path by path. */
static long tc_copy(__u32 slot, void *ctx)
{
	struct xigmp_tc_walk *w = ctx;
	struct xigmp_fwd_if *out;
	__u32 *ifindex;

	if (slot >= 64 || !(w->mask >> slot))
		return 1;	/* no bit left: stop */
	if (!(w->mask & (1ULL << slot)))
		return 0;
	ifindex = bpf_map_lookup_elem(&xigmp_fwd_slots, &slot);
	if (!ifindex || !*ifindex)
		return 0;
	out = bpf_map_lookup_elem(&xigmp_fwd_ifs, ifindex);
	if (!out || !out->egress) {
		w->errors++;
		return 0;
	}
	if (bpf_skb_store_bytes(w->skb, ETH_ALEN, out->mac, ETH_ALEN, 0) ||
	    bpf_clone_redirect(w->skb, *ifindex, 0)) {
		w->errors++;
		return 0;
	}
	w->copies++;
	return 0;
}

SEC("tc")
int xigmp_fwd_tc(struct __sk_buff *skb)
{
	struct xigmp_fwd_key key;
	struct xigmp_fwd_route *route;
	struct xigmp_fwd_stats *st;
	struct xigmp_fwd_if *in;
	struct xigmp_tc_walk w = { .skb = skb };
	__u64 extra;
	struct iphdr iph;
	__u32 ifindex = skb->ingress_ifindex, zero = 0, *on, off;
	__u16 old, new;

	/* Tagged frames are the kernel's, as on the XDP path: their VLAN says
	 * nothing about the egress port's. */
	if (skb->protocol != bpf_htons(ETH_P_IP) || skb->vlan_present)
		return TC_ACT_OK;
	on = bpf_map_lookup_elem(&xigmp_fwd_on, &zero);
	if (!on || !*on)
		return TC_ACT_OK;
	in = bpf_map_lookup_elem(&xigmp_fwd_ifs, &ifindex);
	if (!in || !in->ingress)
		return TC_ACT_OK;
	off = in->l3 ? 0 : sizeof(struct ethhdr);
	if (bpf_skb_load_bytes(skb, off, &iph, sizeof(iph)))
		return TC_ACT_OK;
	if (iph.version != 4 || iph.ihl < 5 ||
	    iph.protocol == XIGMP_IPPROTO_IGMP ||
	    (iph.daddr & bpf_htonl(0xf0000000)) != bpf_htonl(0xe0000000) ||
	    xigmp_is_link_local_group(iph.daddr))
		return TC_ACT_OK;
	key.ifindex = ifindex;
	key.source = iph.saddr;
	key.group = iph.daddr;
	route = fwd_lookup(&key);
	if (!route) {
		/* A join the control plane has not confirmed yet? */
		extra = prov_mask(ifindex, iph.daddr, XIGMP_FWD_PATH_TC);
		if (!extra)
			return TC_ACT_OK;	/* nobody's */
		w.mask = extra;
	} else {
		if (route->path != XIGMP_FWD_PATH_TC)
			return TC_ACT_OK;	/* XDP's or the MFC's */
		if (!route->out_count) {
			/* Blocking rows win over provisional entries. */
			fwd_count(XIGMP_FWD_CNT_BLOCKED);
			return TC_ACT_SHOT;
		}
		extra = prov_mask(ifindex, iph.daddr, XIGMP_FWD_PATH_TC) &
			~route->out_mask;
		w.mask = route->out_mask | extra;
	}
	if (iph.ttl <= 1) {
		fwd_count(XIGMP_FWD_CNT_TTL_EXPIRED);
		return TC_ACT_SHOT;
	}

	/* TTL - 1 once, for every copy: the (TTL, protocol) word changes. */
	old = *(__u16 *)&iph.ttl;
	iph.ttl--;
	new = *(__u16 *)&iph.ttl;
	if (bpf_l3_csum_replace(skb, off + XIGMP_TC_IP_CSUM_OFF, old, new, 2) ||
	    bpf_skb_store_bytes(skb, off + XIGMP_TC_IP_TTL_OFF, &iph.ttl, 1, 0))
		goto error;
	if (in->l3) {
		/* L3 in, L2 out: room for a MAC header, filled in below. */
		struct ethhdr eth = { .h_proto = bpf_htons(ETH_P_IP) };
		__u32 g = bpf_ntohl(iph.daddr);

		eth.h_dest[0] = 0x01;
		eth.h_dest[1] = 0x00;
		eth.h_dest[2] = 0x5e;
		eth.h_dest[3] = (g >> 16) & 0x7f;
		eth.h_dest[4] = (g >> 8) & 0xff;
		eth.h_dest[5] = g & 0xff;
		if (bpf_skb_change_head(skb, sizeof(eth), 0) ||
		    bpf_skb_store_bytes(skb, 0, &eth, sizeof(eth), 0))
			goto error;
	}
	bpf_loop(XIGMP_FWD_MAX_PORTS, tc_copy, &w, 0);
	/* Statistics start with the real route. */
	st = route ? bpf_map_lookup_elem(&xigmp_fwd_stats, &key) : NULL;
	if (st) {
		st->packets += 1;
		st->bytes += bpf_ntohs(iph.tot_len);
	}
	if (extra)
		fwd_count(XIGMP_FWD_CNT_PROVISIONAL);
	fwd_count(XIGMP_FWD_CNT_TC_FORWARDED);
	fwd_add(XIGMP_FWD_CNT_TC_COPIES, w.copies);
	if (w.errors)
		fwd_add(XIGMP_FWD_CNT_TC_ERRORS, w.errors);
	return TC_ACT_SHOT;	/* the copies are out; the original was ours */
error:
	fwd_count(XIGMP_FWD_CNT_TC_ERRORS);
	return TC_ACT_SHOT;
}

#endif /* XIGMP_FWD_TC_H */
