// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* netdev_shim.c - NETDEV_CMD_DEV_GET over a plain generic-netlink socket:
 * an interface's XDP features without attaching a program (libbpf 1.1's
 * bpf_xdp_query predates the "netdev" family, and libnl is not a
 * dependency). */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include "cxigmp_netdev.h"

/* From include/uapi/linux/netdev.h (kernel 6.3+); Debian 12's 6.1 headers
 * lack the file.  The numbers are ABI: the kernel only appends. */
#define CXIGMP_NETDEV_FAMILY_NAME	"netdev"
#define CXIGMP_NETDEV_FAMILY_VERSION	1
#define CXIGMP_NETDEV_CMD_DEV_GET	1
#define CXIGMP_NETDEV_A_DEV_IFINDEX	1
#define CXIGMP_NETDEV_A_DEV_XDP_FEATURES	3
#define CXIGMP_NETDEV_A_DEV_XDP_ZC_MAX_SEGS	4

/* Both replies are a few hundred bytes (the GETFAMILY one lists the
 * family's ops and groups); 8 KiB leaves room for a family that grows, and
 * a reply that still does not fit is reported, not silently cut. */
#define CXIGMP_NL_BUF	8192

union cxigmp_nl_buf {
	struct nlmsghdr hdr;	/* for alignment */
	char raw[CXIGMP_NL_BUF];
};

struct cxigmp_nl_req {
	struct nlmsghdr n;
	struct genlmsghdr g;
	/* One attribute at most: a family name or an ifindex. */
	char attrs[NLA_HDRLEN + NLA_ALIGN(GENL_NAMSIZ)];
};

static void nl_req_init(struct cxigmp_nl_req *req, uint16_t type, uint8_t cmd,
			uint8_t version, uint32_t seq)
{
	memset(req, 0, sizeof(*req));
	req->n.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	req->n.nlmsg_type = type;
	/* No NLM_F_ACK: a "do" request gets exactly one answer, the reply or
	 * an NLMSG_ERROR, so there is no trailing ack to wait for. */
	req->n.nlmsg_flags = NLM_F_REQUEST;
	req->n.nlmsg_seq = seq;
	req->g.cmd = cmd;
	req->g.version = version;
}

static void nl_req_put(struct cxigmp_nl_req *req, uint16_t type,
		       const void *data, uint16_t len)
{
	struct nlattr *nla = (struct nlattr *)((char *)req +
					       NLMSG_ALIGN(req->n.nlmsg_len));

	nla->nla_type = type;
	nla->nla_len = NLA_HDRLEN + len;
	memcpy((char *)nla + NLA_HDRLEN, data, len);
	req->n.nlmsg_len = NLMSG_ALIGN(req->n.nlmsg_len) + NLA_ALIGN(nla->nla_len);
}

/* Sends req and waits for the message answering it.  Returns a pointer
 * into buf to a reply of type req->nlmsg_type whose length has been checked
 * to hold a genlmsghdr, or NULL with errno set (the kernel's own error for
 * an NLMSG_ERROR answer). */
static const struct nlmsghdr *nl_transact(int fd, const struct cxigmp_nl_req *req,
					  union cxigmp_nl_buf *buf)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	if (sendto(fd, req, req->n.nlmsg_len, 0, (struct sockaddr *)&kernel,
		   sizeof(kernel)) < 0)
		return NULL;

	for (;;) {
		struct sockaddr_nl from;
		socklen_t fromlen = sizeof(from);
		const struct nlmsghdr *n;
		ssize_t len;
		size_t off;

		/* MSG_TRUNC makes recvfrom return the datagram's real size,
		 * so an oversized reply is detected instead of parsed cut. */
		len = recvfrom(fd, buf->raw, sizeof(buf->raw), MSG_TRUNC,
			       (struct sockaddr *)&from, &fromlen);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if ((size_t)len > sizeof(buf->raw)) {
			errno = EMSGSIZE;
			return NULL;
		}
		/* Only the kernel (port 0) answers; anything else is noise. */
		if (fromlen != sizeof(from) || from.nl_family != AF_NETLINK ||
		    from.nl_pid != 0)
			continue;

		/* Walked by offset rather than NLMSG_OK/NEXT, whose int
		 * arithmetic mixes signs; a length that overruns the
		 * datagram is an error, not the end of the walk. */
		for (off = 0; off + NLMSG_HDRLEN <= (size_t)len;
		     off += NLMSG_ALIGN(n->nlmsg_len)) {
			n = (const struct nlmsghdr *)(buf->raw + off);
			if (n->nlmsg_len < NLMSG_HDRLEN ||
			    n->nlmsg_len > (size_t)len - off) {
				errno = EPROTO;
				return NULL;
			}
			if (n->nlmsg_seq != req->n.nlmsg_seq)
				continue;
			if (n->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(n);

				if (n->nlmsg_len < NLMSG_LENGTH(sizeof(e->error))) {
					errno = EPROTO;
					return NULL;
				}
				/* error 0 is an ack, which we did not ask
				 * for; the reply proper is still to come. */
				if (e->error == 0)
					continue;
				errno = -e->error;
				return NULL;
			}
			if (n->nlmsg_type != req->n.nlmsg_type)
				continue;
			if (n->nlmsg_len < NLMSG_LENGTH(GENL_HDRLEN)) {
				errno = EPROTO;
				return NULL;
			}
			return n;
		}
	}
}

/* The first attribute of type in a genetlink reply, or NULL.  Lengths are
 * checked against the message so a malformed attribute ends the walk. */
static const struct nlattr *genl_attr(const struct nlmsghdr *n, uint16_t type)
{
	const char *p = (const char *)NLMSG_DATA(n) + GENL_HDRLEN;
	const char *end = (const char *)n + n->nlmsg_len;

	while (end - p >= NLA_HDRLEN) {
		const struct nlattr *nla = (const struct nlattr *)p;

		if (nla->nla_len < NLA_HDRLEN || nla->nla_len > end - p)
			return NULL;
		if ((nla->nla_type & NLA_TYPE_MASK) == type)
			return nla;
		p += NLA_ALIGN(nla->nla_len);
	}
	return NULL;
}

static int nla_payload(const struct nlattr *nla, void *out, size_t len)
{
	if (!nla || nla->nla_len < NLA_HDRLEN + len)
		return -1;
	/* memcpy: a u64 attribute is only 4-byte aligned in the stream. */
	memcpy(out, (const char *)nla + NLA_HDRLEN, len);
	return 0;
}

int cxigmp_xdp_features(int ifindex, uint64_t *features, uint32_t *zc_max_segs)
{
	/* A stuck kernel must not hang the caller forever; both answers are
	 * queued before sendto returns, so this never fires in practice. */
	struct timeval tv = { .tv_sec = 2 };
	struct cxigmp_nl_req req;
	union cxigmp_nl_buf buf;
	const struct nlmsghdr *n;
	uint32_t idx = (uint32_t)ifindex;
	uint16_t family;
	uint32_t segs = 0;
	uint64_t feat;
	int fd, err;

	*features = 0;
	if (zc_max_segs)
		*zc_max_segs = 0;
	/* The kernel's policy rejects ifindex 0 with EINVAL; to the caller
	 * it is just an interface that does not exist. */
	if (ifindex <= 0) {
		errno = ENODEV;
		return -1;
	}

	/* The socket's netns is fixed at creation: the calling thread's. */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		goto fail;

	/* A kernel without the family answers ENOENT, which is exactly what
	 * the caller is told for "kernel < 6.3". */
	nl_req_init(&req, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, 1);
	nl_req_put(&req, CTRL_ATTR_FAMILY_NAME, CXIGMP_NETDEV_FAMILY_NAME,
		   sizeof(CXIGMP_NETDEV_FAMILY_NAME));
	n = nl_transact(fd, &req, &buf);
	if (!n)
		goto fail;
	if (nla_payload(genl_attr(n, CTRL_ATTR_FAMILY_ID), &family,
			sizeof(family)) < 0) {
		errno = EPROTO;
		goto fail;
	}

	nl_req_init(&req, family, CXIGMP_NETDEV_CMD_DEV_GET,
		    CXIGMP_NETDEV_FAMILY_VERSION, 2);
	nl_req_put(&req, CXIGMP_NETDEV_A_DEV_IFINDEX, &idx, sizeof(idx));
	n = nl_transact(fd, &req, &buf);
	if (!n)
		goto fail;
	if (nla_payload(genl_attr(n, CXIGMP_NETDEV_A_DEV_XDP_FEATURES), &feat,
			sizeof(feat)) < 0) {
		errno = EPROTO;
		goto fail;
	}
	/* Sent only for zero-copy devices, and only since 6.6. */
	nla_payload(genl_attr(n, CXIGMP_NETDEV_A_DEV_XDP_ZC_MAX_SEGS), &segs,
		    sizeof(segs));

	close(fd);
	*features = feat;
	if (zc_max_segs)
		*zc_max_segs = segs;
	return 0;

fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}
