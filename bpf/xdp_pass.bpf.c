// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xdp_pass.bpf.c - the one-line baseline the classifier is measured against
 * (BPF_PROG_TEST_RUN cost and veth throughput): whatever the classifier
 * adds is the difference to this.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int xigmp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
