// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc_shim.c - tc (clsact) attachment for the egress filter: LIBBPF_OPTS
 * adapters around bpf_tc_*, two rtnetlink dumps that look at a qdisc and
 * its filters without making the kernel log errors, and the SCHED_CLS
 * test run.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/pkt_sched.h>
#include <linux/pkt_cls.h>
#include "cxigmp.h"

static enum bpf_tc_attach_point tc_point(bool egress)
{
	return egress ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

int cxigmp_tc_hook_create(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	return bpf_tc_hook_create(&hook);
}

int cxigmp_tc_hook_destroy(int ifindex)
{
	/* Both points together name the qdisc itself; one alone would only
	 * flush that hook's filters. */
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	return bpf_tc_hook_destroy(&hook);
}

int cxigmp_tc_attach(int ifindex, bool egress, int prog_fd, uint32_t handle,
		     uint32_t priority, bool replace, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = tc_point(egress));
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = prog_fd, .handle = handle,
		    .priority = priority,
		    .flags = replace ? BPF_TC_F_REPLACE : 0);
	int err = bpf_tc_attach(&hook, &opts);

	if (err)
		return err;
	*prog_id = opts.prog_id;
	return 0;
}

int cxigmp_tc_detach(int ifindex, bool egress, uint32_t handle,
		     uint32_t priority)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = tc_point(egress));
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = handle, .priority = priority);
	return bpf_tc_detach(&hook, &opts);
}

/* ---- rtnetlink dumps ---- */

typedef void (*dump_fn)(const struct tcmsg *tc, const struct rtattr *attrs,
			int len, void *cookie);

/* Sends one RTM_GET* dump request for ifindex/parent and hands every
 * answer of type `want` to fn.  0 or -errno. */
static int tc_dump(uint16_t type, uint16_t want, int ifindex, uint32_t parent,
		   dump_fn fn, void *cookie)
{
	struct {
		struct nlmsghdr nh;
		struct tcmsg tc;
	} req;
	uint32_t buf[4096];	/* aligned for the NLMSG_* walk */
	int fd, ret = 0;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	memset(&req, 0, sizeof(req));
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg));
	req.nh.nlmsg_type = type;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = 1;
	req.tc.tcm_family = AF_UNSPEC;
	req.tc.tcm_ifindex = ifindex;
	req.tc.tcm_parent = parent;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		ssize_t len = recv(fd, buf, sizeof(buf), 0);

		if (len < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (len == 0)
			goto out;
		for (; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
			struct tcmsg *tc = NLMSG_DATA(nh);

			if (nh->nlmsg_type == NLMSG_DONE)
				goto out;
			if (nh->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
				goto out;
			}
			if (nh->nlmsg_type != want)
				continue;
			fn(tc, (struct rtattr *)((char *)tc + NLMSG_ALIGN(sizeof(*tc))),
			   (int)nh->nlmsg_len - NLMSG_LENGTH(sizeof(*tc)), cookie);
		}
	}
out:
	close(fd);
	return ret;
}

static bool attr_is_string(const struct rtattr *a, const char *s)
{
	size_t n = strlen(s) + 1;

	return RTA_PAYLOAD(a) >= n && memcmp(RTA_DATA(a), s, n) == 0;
}

struct clsact_search {
	int ifindex;
	bool found;
};

static void find_clsact(const struct tcmsg *tc, const struct rtattr *a,
			int len, void *cookie)
{
	struct clsact_search *s = cookie;

	/* Without strict checking the kernel dumps every device's qdiscs. */
	if (tc->tcm_ifindex != s->ifindex)
		return;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == TCA_KIND && attr_is_string(a, "clsact"))
			s->found = true;
}

int cxigmp_tc_has_clsact(int ifindex)
{
	struct clsact_search s = { .ifindex = ifindex };
	int err = tc_dump(RTM_GETQDISC, RTM_NEWQDISC, ifindex, 0, find_clsact, &s);

	return err ? err : s.found;
}

struct filter_search {
	uint32_t handle;
	uint32_t priority;
	struct cxigmp_tc_hook_state *out;
};

static void scan_filter(const struct tcmsg *tc, const struct rtattr *a,
			int len, void *cookie)
{
	struct filter_search *s = cookie;
	bool bpf = false;

	/* One message per chain head and one per filter: any at all means
	 * the hook is in use.  tcm_info holds the priority in its upper half. */
	s->out->entries++;
	if (tc->tcm_handle != s->handle || TC_H_MAJ(tc->tcm_info) >> 16 != s->priority)
		return;
	s->out->found = true;
	for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == TCA_KIND)
			bpf = attr_is_string(a, "bpf");
		if (a->rta_type == TCA_OPTIONS && bpf) {
			const struct rtattr *o = RTA_DATA(a);
			int olen = RTA_PAYLOAD(a);

			for (; RTA_OK(o, olen); o = RTA_NEXT(o, olen))
				if (o->rta_type == TCA_BPF_ID &&
				    RTA_PAYLOAD(o) >= sizeof(uint32_t))
					memcpy(&s->out->prog_id, RTA_DATA(o),
					       sizeof(uint32_t));
		}
	}
}

int cxigmp_tc_scan(int ifindex, bool egress, uint32_t handle,
		   uint32_t priority, struct cxigmp_tc_hook_state *out)
{
	struct filter_search s = { .handle = handle, .priority = priority, .out = out };
	uint32_t parent = TC_H_MAKE(TC_H_CLSACT, egress ? TC_H_MIN_EGRESS :
							   TC_H_MIN_INGRESS);

	memset(out, 0, sizeof(*out));
	return tc_dump(RTM_GETTFILTER, RTM_NEWTFILTER, ifindex, parent,
		       scan_filter, &s);
}

/* ---- test run ---- */

int cxigmp_tc_test_run(int prog_fd, const void *data, uint32_t size,
		       uint32_t mark, uint32_t *retval)
{
	struct __sk_buff ctx;
	int err;

	/* The kernel takes only a few __sk_buff fields from user space
	 * (mark among them) and wants the rest zero. */
	memset(&ctx, 0, sizeof(ctx));
	ctx.mark = mark;
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = size,
		.ctx_in = &ctx,
		.ctx_size_in = sizeof(ctx),
		.repeat = 1,
	);
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	*retval = opts.retval;
	return 0;
}

/* ---- tcx (Linux 6.6+) ----
 *
 * libbpf 1.1 and Debian 12's linux/bpf.h predate tcx, so the attach types
 * are spelled out here (enum bpf_attach_type of Linux 6.6) and the link is
 * made with the bpf(2) syscall directly.  A kernel that does not know the
 * attach type answers EINVAL; one that does looks the device up first. */
#define CXIGMP_BPF_TCX_INGRESS	46
#define CXIGMP_BPF_TCX_EGRESS	47

static int tcx_link_create(int prog_fd, int ifindex, bool egress)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.link_create.prog_fd = prog_fd;
	attr.link_create.target_ifindex = ifindex;
	attr.link_create.attach_type = egress ? CXIGMP_BPF_TCX_EGRESS :
						CXIGMP_BPF_TCX_INGRESS;
	return syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
}

int cxigmp_tcx_attach(int prog_fd, int ifindex, bool egress)
{
	return tcx_link_create(prog_fd, ifindex, egress);
}

int cxigmp_probe_tcx(void)
{
	/* A throwaway SCHED_CLS program (r0 = TC_ACT_OK; exit) and an ifindex
	 * no device has: a tcx kernel fails the device lookup (ENODEV), an
	 * older one the attach type (EINVAL).  Nothing is attached. */
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog, fd, err;

	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "xigmp_probe", "GPL",
			     insns, 2, NULL);
	if (prog < 0)
		return -1;
	fd = tcx_link_create(prog, 0x7ffffff0, false);
	err = errno;
	close(prog);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (err == ENODEV)
		return 1;
	if (err == EINVAL)
		return 0;
	errno = err;
	return -1;
}
