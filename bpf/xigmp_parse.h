/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xigmp_parse.h - header cursor helpers for the classifier.
 *
 * One bounds check per header, in the style of xdp-tools'
 * parsing_helpers.h: each helper advances the cursor past the header it
 * parsed, or returns a negative code without moving it.
 */
#ifndef XIGMP_PARSE_H
#define XIGMP_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define XIGMP_IPPROTO_IGMP	2
#define XIGMP_ETH_P_8021Q	0x8100
#define XIGMP_ETH_P_8021AD	0x88A8
#define XIGMP_IPOPT_END		0
#define XIGMP_IPOPT_NOOP	1
#define XIGMP_IPOPT_RA		0x94	/* RFC 2113: copied flag | class 0 | 20 */
#define XIGMP_IP_MF		0x2000
#define XIGMP_IP_OFFSET		0x1fff
#define XIGMP_IGMP_MINLEN	8
#define XIGMP_RA_SCAN		8	/* options examined for Router Alert */

/* Result of a parse step that found the frame broken. */
#define XIGMP_PARSE_MALFORMED	(-1)

struct xigmp_cursor {
	void *pos;
	void *end;
};

struct xigmp_vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* Parse Ethernet and up to two VLAN tags (802.1Q or 802.1ad, stacked as
 * QinQ).  Returns the inner ethertype in network order, or MALFORMED when
 * the frame ends inside a header.  *vlans receives the number of tags. */
static __always_inline int xigmp_parse_eth(struct xigmp_cursor *c,
					   __be16 *proto, int *vlans)
{
	struct ethhdr *eth = c->pos;
	struct xigmp_vlan_hdr *vh;
	__be16 p;
	int i;

	if ((void *)(eth + 1) > c->end)
		return XIGMP_PARSE_MALFORMED;
	p = eth->h_proto;
	vh = (void *)(eth + 1);
	*vlans = 0;

#pragma unroll
	for (i = 0; i < 2; i++) {
		if (p != bpf_htons(XIGMP_ETH_P_8021Q) &&
		    p != bpf_htons(XIGMP_ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > c->end)
			return XIGMP_PARSE_MALFORMED;
		p = vh->encap_proto;
		vh++;
		*vlans = i + 1;
	}
	c->pos = vh;
	*proto = p;
	return 0;
}

/* Does the IPv4 option area (opt_len bytes at opt) hold a Router Alert
 * option?  Walks the TLVs (RFC 791 §3.1): END stops, NOOP is one byte,
 * everything else has a length byte >= 2.  It looks at the first
 * XIGMP_RA_SCAN options only: a full 40-step walk makes the verifier
 * explore every NOOP/option interleaving (over its 1M-instruction budget),
 * and every stack seen (Linux, FreeBSD, scapy, switches) puts Router Alert
 * first.  The count this feeds is informational; user space re-checks the
 * whole option area when it decodes the frame.  The option-area limit is
 * kept as an integer and packet bounds as pointers: clang folds pointer
 * comparisons against both into one the verifier cannot follow. */
static __always_inline int xigmp_has_router_alert(void *opt, __u32 opt_len,
						  void *data_end)
{
	__u32 off = 0;
	int i;

#pragma unroll
	for (i = 0; i < XIGMP_RA_SCAN; i++) {
		__u8 *p;
		__u8 kind, len;

		if (off >= opt_len)
			return 0;
		p = opt + (off & 63);
		if ((void *)(p + 1) > data_end)
			return 0;
		kind = p[0];
		if (kind == XIGMP_IPOPT_END)
			return 0;
		if (kind == XIGMP_IPOPT_NOOP) {
			off++;
			continue;
		}
		if (off + 2 > opt_len)
			return 0;
		if (kind == XIGMP_IPOPT_RA)
			return 1;
		if ((void *)(p + 2) > data_end)
			return 0;
		len = p[1];
		if (len < 2)
			return 0;	/* broken option list: stop looking */
		off += len;
	}
	return 0;
}

/* RFC 1624 eqn. 3 incremental checksum update: the header checksum
 * *csum (network order, as in the packet) after one 16-bit word of the
 * header changed from old to new (both as in the packet).
 * HC' = ~(~HC + ~m + m'), folded in one's complement. */
static __always_inline void xigmp_csum_replace16(__u16 *csum, __u16 old,
						 __u16 new)
{
	__u32 sum = (__u16)~*csum;

	sum += (__u16)~old;
	sum += new;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*csum = (__u16)~sum;
}

/* A 16-bit field read from the packet, with bounds the verifier can see.
 * Verifiers before Linux 6.3 lose all bounds of a byte swap (`be16` gives
 * an unbounded scalar), so pointer arithmetic on bpf_ntohs() fails there
 * ("math between pkt pointer and register with unbounded min value"); the
 * empty asm keeps the compiler from folding the mask as redundant. */
static __always_inline __u32 xigmp_ntohs_bounded(__be16 v)
{
	__u32 x = bpf_ntohs(v);

	asm volatile("" : "+r"(x));
	return x & 0xffff;
}

/* Is the IPv4 destination (network order) in 224.0.0.0/4?  One byte test
 * on the first octet: cheap enough for the classifier's non-IGMP path. */
static __always_inline int xigmp_is_multicast(const struct iphdr *iph)
{
	return (((const __u8 *)&iph->daddr)[0] & 0xf0) == 0xe0;
}

/* 224.0.0.0/24: link-local control (RFC 5771), never forwarded. */
static __always_inline int xigmp_is_link_local_group(__u32 daddr)
{
	return (bpf_ntohl(daddr) & 0xffffff00) == 0xe0000000;
}

#endif /* XIGMP_PARSE_H */
