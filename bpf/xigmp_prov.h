/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xigmp_prov.h - provisional forwarding entries (the (*,G) route an
 * inside's classifier writes at a join, ahead of the control plane's),
 * compiled into igmp_classify.bpf.c after its maps.
 *
 * Writer: the classifier on an inside interface, at a report, for each
 * group the control plane allows there (xigmp_prov_acl).  Readers: the
 * forwarders on the outside (fwd_multicast, xigmp_fwd_out, xigmp_fwd_tc).
 * Both reach the same LRU hash through slot 0 of their own instance's
 * xigmp_fwd_prov, which the control plane fills with one shared table
 * (xigmp_abi.h, "Provisional forwarding").
 */
#ifndef XIGMP_PROV_H
#define XIGMP_PROV_H

/* Both templates only give the inner maps' shape; the control plane
 * creates the shared maps themselves and puts them in slot 0.  Sizes,
 * not types: clang leaves a struct seen only through a pointer here as a
 * BTF forward declaration, whose size libbpf cannot tell. */
struct xigmp_prov_table_def {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XIGMP_PROV_MAX_ENTRIES);
	__uint(key_size, sizeof(struct xigmp_fwd_key));
	__uint(value_size, sizeof(struct xigmp_prov_entry));
};

struct xigmp_prov_flag_def {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xigmp_prov_table_def);
} xigmp_fwd_prov SEC(".maps");

/* Slot 0 -> one __u32: non-zero while provisional entries may exist (set
 * by the classifier at an install, cleared by the control plane before it
 * deletes them), so multicast data pays two array reads and no hash
 * lookup the rest of the time. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct xigmp_prov_flag_def);
} xigmp_prov_gate SEC(".maps");

/* (inside ifindex, group prefix) -> what a join there provisions. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XIGMP_PROV_MAX_ACL);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* LPM tries require it */
	__type(key, struct xigmp_prov_acl_key);
	__type(value, struct xigmp_prov_acl);
} xigmp_prov_acl SEC(".maps");

static __always_inline __u32 *prov_flag(void)
{
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&xigmp_prov_gate, &zero);

	return inner ? bpf_map_lookup_elem(inner, &zero) : NULL;
}

/* The live provisional entry for (ingress, *, group), or NULL: none, the
 * gate closed, or older than XIGMP_PROV_MAX_AGE_NS (a control plane that
 * died leaves entries the LRU bounds and this ignores). */
static __always_inline struct xigmp_prov_entry *
prov_lookup(__u32 ingress, __u32 group)
{
	struct xigmp_fwd_key key = { .ifindex = ingress, .group = group };
	struct xigmp_prov_entry *p;
	__u32 zero = 0, *on = prov_flag();
	void *table;

	if (!on || !*on)
		return NULL;
	table = bpf_map_lookup_elem(&xigmp_fwd_prov, &zero);
	if (!table)
		return NULL;
	p = bpf_map_lookup_elem(table, &key);
	if (!p || bpf_ktime_get_ns() - p->stamp_ns > XIGMP_PROV_MAX_AGE_NS)
		return NULL;
	return p;
}

/* The provisional mask to add on `path` to a route's (or to nothing),
 * 0 when there is none. */
static __always_inline __u64 prov_mask(__u32 ingress, __u32 group, __u32 path)
{
	struct xigmp_prov_entry *p = prov_lookup(ingress, group);

	return p && p->route.path == path ? p->route.out_mask : 0;
}

/* A join for `group` heard on `inside`: create the provisional entry, or
 * add the inside's slot bit to it.  Two insides joining one group on two
 * CPUs at once both land: the bit goes in with an atomic OR. */
static __always_inline void prov_install(__u32 inside, __u32 group)
{
	struct xigmp_prov_acl_key k = {
		.prefixlen = 64, .ifindex = inside, .group = group,
	};
	struct xigmp_fwd_key key = { .group = group };
	struct xigmp_prov_entry *p, fresh = {};
	struct xigmp_prov_acl *a;
	__u32 zero = 0, *on;
	void *table;
	__u64 bit;

	if ((bpf_ntohl(group) >> 28) != 0xe || xigmp_is_link_local_group(group))
		return;
	table = bpf_map_lookup_elem(&xigmp_fwd_prov, &zero);
	if (!table)
		return;
	a = bpf_map_lookup_elem(&xigmp_prov_acl, &k);
	if (!a)
		return;
	key.ifindex = a->outside;
	bit = 1ULL << (a->slot & 63);
	p = bpf_map_lookup_elem(table, &key);
	if (!p) {
		fresh.route.out_mask = bit;
		fresh.route.out_count = 1;
		fresh.route.single_ifindex = a->egress;
		fresh.route.path = a->path;
		fresh.stamp_ns = bpf_ktime_get_ns();
		if (!bpf_map_update_elem(table, &key, &fresh, BPF_NOEXIST))
			goto installed;
		p = bpf_map_lookup_elem(table, &key);	/* another CPU won */
		if (!p)
			return;
	}
	if (p->route.path != a->path)
		return;	/* another inside's path: the control plane's turn */
	__sync_fetch_and_or(&p->route.out_mask, bit);
	p->stamp_ns = bpf_ktime_get_ns();
installed:
	on = prov_flag();
	if (on && !*on)
		*on = 1;
	count(XIGMP_CNT_PROV_INSTALLED);
}

struct xigmp_prov_walk {
	struct xdp_md *ctx;
	__u32 off;	/* next record, in bytes from ctx->data */
	__u32 end;	/* end of the IGMP message */
	__u32 inside;
};

struct xigmp_prov_record {
	__u8 type;
	__u8 aux_words;
	__be16 nsrc;
	__be32 group;
};

/* One v3 group record per call (bpf_xdp_load_bytes checks each read, so
 * the walk needs no packet-pointer proofs and is verified once).  A (*,G)
 * join is IS_EX or TO_EX with no sources (RFC 3376 §4.2.12); anything
 * else is left to the control plane. */
static long prov_record(__u64 index, void *ctx)
{
	struct xigmp_prov_walk *w = ctx;
	struct xigmp_prov_record rec;
	__u32 nsrc;

	if (w->off + sizeof(rec) > w->end ||
	    bpf_xdp_load_bytes(w->ctx, w->off, &rec, sizeof(rec)) < 0)
		return 1;
	nsrc = bpf_ntohs(rec.nsrc);
	if ((rec.type == 2 || rec.type == 4) && nsrc == 0)
		prov_install(w->inside, rec.group);
	w->off += sizeof(rec) + (nsrc + rec.aux_words) * 4;
	return 0;
}

/* A report (class cls) at igmp, off bytes into the frame, len bytes of
 * IGMP: provisional entries for the groups it joins.  Costs one array
 * read when the control plane has not set provisioning up. */
static __always_inline void prov_report(struct xdp_md *ctx, __u8 *igmp,
					__u32 cls, __u32 off, __u32 len)
{
	struct xigmp_prov_walk w;
	__u32 zero = 0, nrec;
	void *table = bpf_map_lookup_elem(&xigmp_fwd_prov, &zero);

	if (!table)
		return;
	if (cls != XIGMP_CLASS_V3_REPORT) {
		prov_install(ctx->ingress_ifindex, *(__u32 *)(igmp + 4));
		return;
	}
	nrec = ((__u32)igmp[6] << 8) | igmp[7];
	if (nrec > XIGMP_PROV_MAX_RECORDS)
		nrec = XIGMP_PROV_MAX_RECORDS;
	w.ctx = ctx;
	w.off = off + 8;
	w.end = off + len;
	w.inside = ctx->ingress_ifindex;
	bpf_loop(nrec, prov_record, &w, 0);
}

#endif /* XIGMP_PROV_H */
