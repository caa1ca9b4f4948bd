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
	if (iph->protocol != XIGMP_IPPROTO_IGMP)
		goto not_igmp;

	/* From here the frame claims to be IGMP: anything that does not parse
	 * is malformed, goes to the kernel, and is counted. */
	if (iph->version != 4 || iph->ihl < 5)
		goto malformed;
	ihl_bytes = (__u32)iph->ihl * 4;	/* 20..60 */
	igmp = (__u8 *)iph + ihl_bytes;
	if ((void *)(igmp + XIGMP_IGMP_MINLEN) > data_end)
		goto malformed;
	tot_len = bpf_ntohs(iph->tot_len);
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
