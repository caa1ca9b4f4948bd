// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * floor_xdp.bpf.c - the translation bench's floor: the cheapest forwarder
 * of a unicast IGMP message to the outside that this topology allows.
 *
 * Attached (generic XDP, as xigmp's classifier is on veth) to the proxy's
 * inside interface, it does in the kernel, with no user space, what xigmp's
 * unicast translation does: an IGMP message addressed to the inside address
 * leaves the outside interface to 224.0.0.22 from the outside address, TTL
 * 1, the IGMP bytes unchanged. No policy, no limits, no counters: it is not
 * a datapath, it is what the machine spends on the packets alone (generator,
 * two veth hops, sink). Any datapath's machine-wide cost per message is at
 * least this, so the kernel path's cost over it bounds the machine-wide
 * ratio any datapath could reach on this bench.
 *
 * Compiled by bench/e2e/translation.sh with the topology's values:
 *   -DIN_ADDR=0x..   inside address (host order)
 *   -DOUT_ADDR=0x..  outside address (host order)
 *   -DOUT_IFINDEX=n  outside interface
 *   -DOUT_MAC=0x..   outside interface's MAC (48 bits)
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* RFC 1071 over the header's `words` 16-bit words (at most 30: IHL 15). */
static __always_inline int ip_checksum(const __u16 *p, int words, void *end, __u16 *out)
{
	__u32 sum = 0;
	for (int i = 0; i < 30; i++) {
		if (i >= words)
			break;
		if ((void *)(p + i + 1) > end)
			return -1;
		sum += p[i];
	}
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*out = (__u16)~sum;
	return 0;
}

SEC("xdp")
int floor_translate(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (ip->protocol != 2 || ip->daddr != bpf_htonl(IN_ADDR))
		return XDP_PASS;
	int ihl = ip->ihl;
	if (ihl < 5 || ihl > 15 || (void *)ip + ihl * 4 > end)
		return XDP_PASS;
	/* 01:00:5e:00:00:16 (224.0.0.22) from the outside interface. */
	__u8 dst[ETH_ALEN] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x16};
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
	for (int i = 0; i < ETH_ALEN; i++)
		eth->h_source[i] = (__u8)((__u64)OUT_MAC >> (8 * (ETH_ALEN - 1 - i)));
	ip->saddr = bpf_htonl(OUT_ADDR);
	ip->daddr = bpf_htonl(0xe0000016);
	ip->ttl = 1;
	ip->check = 0;
	__u16 check;
	if (ip_checksum((const __u16 *)ip, ihl * 2, end, &check))
		return XDP_DROP;
	ip->check = check;
	return bpf_redirect(OUT_IFINDEX, 0);
}
