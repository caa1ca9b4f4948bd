// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * igmp_classify.bpf.c - XDP classifier: IGMP to the control plane, the rest
 * to the kernel untouched.
 *
 * Every frame that is not IPv4 protocol 2 leaves with XDP_PASS after the
 * ethertype and protocol checks and one per-CPU counter increment.  IGMP is
 * classified by type and handled per (ingress ifindex, class) from the action
 * map: redirect to the AF_XDP socket of this RX queue (falling back to
 * XDP_PASS when none is bound), pass, or drop.
 *
 * Multicast forwarding (off per interface unless enabled in xigmp_fwd_ifs):
 * IPv4 multicast data (224.0.0.0/4 but not 224.0.0.0/24, not IGMP) is
 * looked up by (ingress, S, G) then (ingress, *, G) and redirected through
 * the xigmp_fwd_ports devmap, whose program xigmp_fwd_out (below, same
 * object) filters per egress, decrements TTL and rewrites the source MAC.
 * The non-multicast path pays one first-octet test, before any lookup.
 * Routes on the TC path pass here and are replicated by xigmp_fwd_tc
 * (xigmp_fwd_tc.h, same object, same maps) on the ingress's TC hook.
 */
#include "xigmp_parse.h"
#include "xigmp_abi.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIGMP_MAX_ACTIONS);
	__type(key, struct xigmp_action_key);
	__type(value, struct xigmp_action_value);
} xigmp_actions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XIGMP_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} xigmp_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XIGMP_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xigmp_xsks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xigmp_limit_config);
} xigmp_limits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XIGMP_MAX_BUCKETS);
	__type(key, __u32);	/* source IPv4, network order */
	__type(value, struct xigmp_bucket);
} xigmp_buckets SEC(".maps");

/* ---- multicast forwarding maps (xigmp_abi.h, "Multicast forwarding") ---- */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIGMP_FWD_MAX_ROUTES);
	__type(key, struct xigmp_fwd_key);
	__type(value, struct xigmp_fwd_route);
} xigmp_fwd_route SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, XIGMP_FWD_MAX_PORTS);
	__type(key, __u32);	/* egress ifindex */
	__type(value, struct bpf_devmap_val);
} xigmp_fwd_ports SEC(".maps");

/* Member devmaps (xigmp_abi.h, XIGMP_FWD_MEMBER_MAPS): one route's ports
 * each. */
#define XIGMP_FWD_MEMBER_MAP(n)						\
	struct {							\
		__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);			\
		__uint(max_entries, XIGMP_FWD_MAX_PORTS);		\
		__type(key, __u32);	/* egress ifindex */		\
		__type(value, struct bpf_devmap_val);			\
	} xigmp_fwd_m##n SEC(".maps");
XIGMP_FWD_MEMBER_LIST(XIGMP_FWD_MEMBER_MAP)

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XIGMP_FWD_MAX_IFS);
	__type(key, __u32);	/* ifindex */
	__type(value, struct xigmp_fwd_if);
} xigmp_fwd_ifs SEC(".maps");

/* Slot 0: how many interfaces have forwarding on.  An array lookup the
 * verifier inlines, so multicast data on a classifier without forwarding
 * pays no hash lookup. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xigmp_fwd_on SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, XIGMP_FWD_MAX_ROUTES);
	__type(key, struct xigmp_fwd_key);
	__type(value, struct xigmp_fwd_stats);
} xigmp_fwd_stats SEC(".maps");

/* Slot 0: XIGMP_ABI_VERSION, written by the loader; bound to the classifier
 * program (BPF_PROG_BIND_MAP) with xigmp_fwd_slots, which only the TC
 * program reads, so both are among the classifier's map ids. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} xigmp_abi SEC(".maps");

/* Slot -> egress ifindex, for the TC path (xigmp_fwd_tc.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XIGMP_FWD_MAX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} xigmp_fwd_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XIGMP_FWD_CNT__MAX);
	__type(key, __u32);
	__type(value, __u64);
} xigmp_fwd_cnt SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&xigmp_counters, &idx);

	if (v)
		*v += 1;	/* per-CPU slot: no atomics needed */
}

static __always_inline __u32 igmp_class(__u8 type)
{
	switch (type) {
	case 0x11: return XIGMP_CLASS_QUERY;
	case 0x12: return XIGMP_CLASS_V1_REPORT;
	case 0x16: return XIGMP_CLASS_V2_REPORT;
	case 0x17: return XIGMP_CLASS_V2_LEAVE;
	case 0x22: return XIGMP_CLASS_V3_REPORT;
	default:   return XIGMP_CLASS_OTHER;
	}
}

static __always_inline __u32 lookup_action(__u32 ifindex, __u32 cls)
{
	struct xigmp_action_key key = { .ifindex = ifindex, .igmp_class = cls };
	struct xigmp_action_value *v;

	v = bpf_map_lookup_elem(&xigmp_actions, &key);
	if (!v) {
		key.ifindex = 0;	/* wildcard row */
		v = bpf_map_lookup_elem(&xigmp_actions, &key);
	}
	return v ? v->action : XIGMP_ACTION_PASS;
}

/* Takes one frame's cost from the source's bucket; false when it has not
 * enough credit.  Buckets are shared across CPUs without locks: two CPUs
 * may both spend the same credit, so the limit is approximate by at most
 * one frame per CPU, which is fine for a flood guard. */
static __always_inline int within_rate(__u32 saddr)
{
	__u32 zero = 0;
	struct xigmp_limit_config *cfg = bpf_map_lookup_elem(&xigmp_limits, &zero);
	struct xigmp_bucket *b, fresh;
	__u64 now, credit;

	if (!cfg || !cfg->cost_ns)
		return 1;
	now = bpf_ktime_get_ns();
	b = bpf_map_lookup_elem(&xigmp_buckets, &saddr);
	if (!b) {
		/* A new source starts with a full bucket, less this frame. */
		fresh.last_ns = now;
		fresh.credit_ns = cfg->burst_ns > cfg->cost_ns ? cfg->burst_ns - cfg->cost_ns : 0;
		bpf_map_update_elem(&xigmp_buckets, &saddr, &fresh, BPF_ANY);
		return 1;
	}
	credit = b->credit_ns + (now - b->last_ns);
	if (credit > cfg->burst_ns)
		credit = cfg->burst_ns;
	b->last_ns = now;
	if (credit < cfg->cost_ns) {
		b->credit_ns = credit;
		return 0;
	}
	b->credit_ns = credit - cfg->cost_ns;
	return 1;
}

static __always_inline void fwd_count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&xigmp_fwd_cnt, &idx);

	if (v)
		*v += 1;
}

#include "xigmp_prov.h"

/* The route for (ingress, S, G), else (ingress, *, G), else NULL. */
/* Broadcast over member devmap members - 1; -1 when members is 0 or out of
 * range. */
static __always_inline long member_redirect(__u32 members)
{
	switch (members) {
#define XIGMP_FWD_MEMBER_CASE(n)					\
	case n + 1:							\
		return bpf_redirect_map(&xigmp_fwd_m##n, 0,		\
					BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
	XIGMP_FWD_MEMBER_LIST(XIGMP_FWD_MEMBER_CASE)
#undef XIGMP_FWD_MEMBER_CASE
	}
	return -1;
}

static __always_inline struct xigmp_fwd_route *
fwd_lookup(struct xigmp_fwd_key *key)
{
	struct xigmp_fwd_route *r = bpf_map_lookup_elem(&xigmp_fwd_route, key);

	if (!r && key->source) {
		key->source = 0;
		r = bpf_map_lookup_elem(&xigmp_fwd_route, key);
	}
	return r;
}

/* Multicast data (first octet already tested, not IGMP).  Counted as
 * NON_IGMP exactly as before forwarding existed; when forwarding is off
 * for this ingress the verdict is XDP_PASS, as before. */
static __always_inline int fwd_multicast(struct xdp_md *ctx, struct iphdr *iph,
					 int vlans)
{
	struct xigmp_fwd_key key;
	struct xigmp_fwd_route *route;
	struct xigmp_prov_entry *prov;
	struct xigmp_fwd_stats *st;
	struct xigmp_fwd_if *in;
	__u32 ifindex = ctx->ingress_ifindex, zero = 0, *on, tot_len;
	__u64 mask, extra = 0;
	int ret;

	count(XIGMP_CNT_NON_IGMP);
	on = bpf_map_lookup_elem(&xigmp_fwd_on, &zero);
	if (!on || !*on)
		return XDP_PASS;
	/* Tagged frames are the kernel's: their VLAN says nothing about the
	 * egress port's.  224.0.0.0/24 is link-local control. */
	if (vlans || xigmp_is_link_local_group(iph->daddr))
		return XDP_PASS;
	in = bpf_map_lookup_elem(&xigmp_fwd_ifs, &ifindex);
	if (!in || !in->ingress)
		return XDP_PASS;
	/* Not IPv4 we understand, or a length past the frame: the kernel
	 * judges (and drops) it; forwarding never copies a broken header. */
	if (iph->version != 4 || iph->ihl < 5)
		return XDP_PASS;
	tot_len = xigmp_ntohs_bounded(iph->tot_len);
	if (tot_len < (__u32)iph->ihl * 4 ||
	    (void *)iph + tot_len > (void *)(long)ctx->data_end)
		return XDP_PASS;

	key.ifindex = ifindex;
	key.source = iph->saddr;
	key.group = iph->daddr;
	route = fwd_lookup(&key);
	if (!route) {
		/* A join the control plane has not confirmed yet? */
		prov = prov_lookup(ifindex, iph->daddr);
		if (prov && prov->route.path != XIGMP_FWD_PATH_XDP) {
			fwd_count(XIGMP_FWD_CNT_KERNEL_PATH);	/* TC's */
			return XDP_PASS;
		}
		if (!prov) {
			if (in->unmatched == XIGMP_FWD_UNMATCHED_DROP) {
				fwd_count(XIGMP_FWD_CNT_UNMATCHED_DROPPED);
				return XDP_DROP;
			}
			fwd_count(XIGMP_FWD_CNT_UNMATCHED_PASSED);
			return XDP_PASS;
		}
		mask = 0;
		extra = prov->route.out_mask;
	} else {
		if (route->path != XIGMP_FWD_PATH_XDP) {
			/* TC's (xigmp_fwd_tc, blocking rows included) or the
			 * MFC's. */
			fwd_count(XIGMP_FWD_CNT_KERNEL_PATH);
			return XDP_PASS;
		}
		if (!route->out_count) {
			/* Blocking rows win over provisional (*,G) entries. */
			fwd_count(XIGMP_FWD_CNT_BLOCKED);
			return XDP_DROP;
		}
		mask = route->out_mask;
		/* Another inside joining a group already forwarded. */
		extra = prov_mask(ifindex, iph->daddr, XIGMP_FWD_PATH_XDP) & ~mask;
	}
	if (iph->ttl <= 1) {
		fwd_count(XIGMP_FWD_CNT_TTL_EXPIRED);
		return XDP_DROP;
	}
	if (route && !extra && route->out_count == 1) {
		/* Low bits of flags: the verdict when the port is missing. */
		ret = bpf_redirect_map(&xigmp_fwd_ports, route->single_ifindex,
				       XDP_PASS);
		if (ret != XDP_REDIRECT) {
			fwd_count(XIGMP_FWD_CNT_NO_EGRESS);
			return ret;
		}
	} else {
		/* The route's member devmap: one copy per member.  Without
		 * one, every port but the ingress gets a copy; xigmp_fwd_out
		 * drops the copies whose slot bit the route (with the
		 * provisional entry's bits) lacks.  A provisional entry goes
		 * the second way even with one bit: its single_ifindex is only
		 * the first inside's. */
		ret = -1;
		if (route && !extra)
			ret = member_redirect(route->members);
		if (ret < 0)
			ret = bpf_redirect_map(&xigmp_fwd_ports, 0,
					       BPF_F_BROADCAST | BPF_F_EXCLUDE_INGRESS);
	}
	if (extra)
		fwd_count(XIGMP_FWD_CNT_PROVISIONAL);
	fwd_count(XIGMP_FWD_CNT_FORWARDED);
	if (!route)
		return ret;	/* statistics start with the real route */
	/* key holds the row that matched (fwd_lookup zeroed the source for
	 * a (*,G) hit), which is the row the statistics are kept for. */
	st = bpf_map_lookup_elem(&xigmp_fwd_stats, &key);
	if (st) {
		st->packets += 1;
		st->bytes += tot_len;
	}
	return ret;
}

SEC("xdp")
int xigmp_classify(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct xigmp_cursor c = { .pos = data, .end = data_end };
	struct iphdr *iph;
	__u8 *igmp;
	__be16 proto;
	__u32 ihl_bytes, tot_len, cls, action;
	int vlans, ret;

	if (xigmp_parse_eth(&c, &proto, &vlans) < 0)
		goto not_igmp;	/* runt frame: not ours to judge */
	if (proto != bpf_htons(ETH_P_IP))
		goto not_igmp;

	iph = c.pos;
	if ((void *)(iph + 1) > data_end)
		goto not_igmp;	/* too short to say which protocol it is */
	if (iph->protocol != XIGMP_IPPROTO_IGMP) {
		/* The one test non-multicast traffic pays for forwarding. */
		if (xigmp_is_multicast(iph))
			return fwd_multicast(ctx, iph, vlans);
		goto not_igmp;
	}

	/* From here the frame claims to be IGMP: anything that does not parse
	 * is malformed, goes to the kernel, and is counted. */
	if (iph->version != 4 || iph->ihl < 5)
		goto malformed;
	ihl_bytes = (__u32)iph->ihl * 4;	/* 20..60 */
	igmp = (__u8 *)iph + ihl_bytes;
	if ((void *)(igmp + XIGMP_IGMP_MINLEN) > data_end)
		goto malformed;
	tot_len = xigmp_ntohs_bounded(iph->tot_len);
	if (tot_len < ihl_bytes + XIGMP_IGMP_MINLEN ||
	    (void *)iph + tot_len > data_end)
		goto malformed;
	/* IGMP is never fragmented; a fragment has no IGMP header to judge. */
	if (iph->frag_off & bpf_htons(XIGMP_IP_MF | XIGMP_IP_OFFSET))
		goto malformed;

	cls = igmp_class(igmp[0]);
	count(XIGMP_CNT_QUERY + cls);
	if (vlans)
		count(XIGMP_CNT_VLAN);
	if (ihl_bytes == 20 ||
	    !xigmp_has_router_alert(iph + 1, ihl_bytes - 20, data_end))
		count(XIGMP_CNT_NO_ROUTER_ALERT);

	if (!within_rate(iph->saddr)) {
		count(XIGMP_CNT_RATE_LIMITED);
		count(XIGMP_CNT_DROPPED);
		return XDP_DROP;
	}

	action = lookup_action(ctx->ingress_ifindex, cls);
	if (action == XIGMP_ACTION_DROP) {
		count(XIGMP_CNT_DROPPED);
		return XDP_DROP;
	}
	/* Joins get their provisional entries before the report starts its
	 * trip through the ring (xigmp_prov.h). */
	if (cls == XIGMP_CLASS_V1_REPORT || cls == XIGMP_CLASS_V2_REPORT ||
	    cls == XIGMP_CLASS_V3_REPORT)
		prov_report(ctx, igmp, cls, (__u32)(igmp - (__u8 *)data),
			    tot_len - ihl_bytes);
	if (action == XIGMP_ACTION_REDIRECT) {
		/* Low bits of flags are the verdict when the slot is empty. */
		ret = bpf_redirect_map(&xigmp_xsks, ctx->rx_queue_index,
				       XDP_PASS);
		if (ret == XDP_REDIRECT) {
			count(XIGMP_CNT_REDIRECTED);
			return XDP_REDIRECT;
		}
		count(XIGMP_CNT_NO_SOCKET);
	}
	count(XIGMP_CNT_PASSED);
	return XDP_PASS;

malformed:
	count(XIGMP_CNT_MALFORMED);
	return XDP_PASS;
not_igmp:
	count(XIGMP_CNT_NON_IGMP);
	return XDP_PASS;
}

/* Devmap program of every xigmp_fwd_ports entry: runs once per copy, on
 * the egress port's side (ctx->egress_ifindex), with ctx->ingress_ifindex
 * still the port the frame arrived on.  Keeps the copy only when this
 * port's slot bit is in the route's mask (the per-egress check a
 * BPF_F_BROADCAST redirect needs), then decrements TTL with an RFC 1624
 * checksum update and sets the source MAC to the egress port's.  libbpf
 * loads it with expected_attach_type BPF_XDP_DEVMAP from the SEC name,
 * which the kernel requires of a program in a devmap value. */
SEC("xdp/devmap")
int xigmp_fwd_out(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph;
	struct xigmp_fwd_key key;
	struct xigmp_fwd_route *route;
	struct xigmp_fwd_if *out;
	__u32 egress = ctx->egress_ifindex;
	__u64 mask = 0;
	__u16 old, new;

	iph = (void *)(eth + 1);
	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		goto filtered;	/* only the classifier redirects here */
	out = bpf_map_lookup_elem(&xigmp_fwd_ifs, &egress);
	if (!out || !out->egress)
		goto filtered;
	key.ifindex = ctx->ingress_ifindex;
	key.source = iph->saddr;
	key.group = iph->daddr;
	route = fwd_lookup(&key);
	if (route)
		mask = route->out_mask;
	/* The classifier added the provisional entry's bits unless the row
	 * blocks (out_count 0): the same merge here. */
	if (!route || route->out_count)
		mask |= prov_mask(ctx->ingress_ifindex, iph->daddr,
				  XIGMP_FWD_PATH_XDP);
	if (!(mask & (1ULL << (out->slot & 63))))
		goto filtered;
	if (iph->ttl <= 1)
		goto filtered;	/* the classifier checked; a changed frame? */

	old = *(__u16 *)&iph->ttl;	/* the (TTL, protocol) word */
	iph->ttl--;
	new = *(__u16 *)&iph->ttl;
	xigmp_csum_replace16(&iph->check, old, new);
	__builtin_memcpy(eth->h_source, out->mac, ETH_ALEN);
	fwd_count(XIGMP_FWD_CNT_EGRESS_SENT);
	return XDP_PASS;

filtered:
	fwd_count(XIGMP_FWD_CNT_EGRESS_FILTERED);
	return XDP_DROP;
}

#include "xigmp_fwd_tc.h"
