// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
/* shim.c - LIBBPF_OPTS adapters and the libbpf log capture. */
#include <errno.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cxigmp.h"

/* ---- log capture: keep the last LOG_CAP bytes of libbpf output ---- */

#define LOG_CAP (64 * 1024)
static char log_buf[LOG_CAP];
static size_t log_len;
static bool log_echo;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static int capture_print(enum libbpf_print_level level, const char *fmt,
			 va_list ap)
{
	char small[1024];
	char *line = small;
	int n;
	va_list ap2;

	/* The verifier log arrives as one message of up to several hundred
	 * KiB with the verdict at its end: size it first, never truncate. */
	va_copy(ap2, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return n;
	if ((size_t)n >= sizeof(small)) {
		line = malloc((size_t)n + 1);
		if (!line)
			return -ENOMEM;
		va_copy(ap2, ap);
		vsnprintf(line, (size_t)n + 1, fmt, ap2);
		va_end(ap2);
	}
	if (log_echo && level != LIBBPF_DEBUG)
		fputs(line, stderr);

	pthread_mutex_lock(&log_lock);
	{
		const char *src = line;
		size_t len = (size_t)n;

		if (len > LOG_CAP) {
			/* Keep the tail: the verifier's verdict is at the end. */
			src += len - LOG_CAP;
			len = LOG_CAP;
		}
		if (log_len + len > LOG_CAP) {
			size_t drop = log_len + len - LOG_CAP;

			memmove(log_buf, log_buf + drop, log_len - drop);
			log_len -= drop;
		}
		memcpy(log_buf + log_len, src, len);
		log_len += len;
	}
	pthread_mutex_unlock(&log_lock);
	if (line != small)
		free(line);
	return n;
}

void cxigmp_log_capture(bool echo)
{
	log_echo = echo;
	libbpf_set_print(capture_print);
}

size_t cxigmp_log_take(char *buf, size_t cap)
{
	size_t n;

	if (cap == 0)
		return 0;
	pthread_mutex_lock(&log_lock);
	n = log_len < cap - 1 ? log_len : cap - 1;
	/* Keep the tail when the caller's buffer is smaller. */
	memcpy(buf, log_buf + (log_len - n), n);
	buf[n] = '\0';
	log_len = 0;
	pthread_mutex_unlock(&log_lock);
	return n;
}

/* ---- LIBBPF_OPTS adapters ---- */

struct bpf_object *cxigmp_object_open_mem(const void *buf, size_t len,
					  const char *name)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
	return bpf_object__open_mem(buf, len, &opts);
}

int cxigmp_link_create_xdp(int prog_fd, int ifindex, uint32_t flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	return bpf_link_create(prog_fd, ifindex, BPF_XDP, &opts);
}

int cxigmp_xdp_query(int ifindex, struct cxigmp_xdp_state *out)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, opts);
	int err = bpf_xdp_query(ifindex, 0, &opts);

	if (err)
		return err;
	out->prog_id = opts.prog_id;
	out->drv_prog_id = opts.drv_prog_id;
	out->hw_prog_id = opts.hw_prog_id;
	out->skb_prog_id = opts.skb_prog_id;
	out->attach_mode = opts.attach_mode;
	return 0;
}

int cxigmp_xdp_detach(int ifindex, uint32_t flags)
{
	return bpf_xdp_detach(ifindex, flags, NULL);
}

int cxigmp_xdp_test_run(int prog_fd, const void *data, uint32_t size,
			void *out, uint32_t out_cap, uint32_t repeat,
			uint32_t ingress_ifindex, uint32_t rx_queue_index,
			struct cxigmp_test_run *res)
{
	struct xdp_md ctx = {
		.data = 0,
		.data_end = size,
		.ingress_ifindex = ingress_ifindex,
		.rx_queue_index = rx_queue_index,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = data,
		.data_size_in = size,
		.data_out = out,
		.data_size_out = out ? out_cap : 0,
		.repeat = repeat,
	);
	int err;

	/* The kernel only accepts an xdp_md context naming a real device;
	 * without one it runs the program on a loopback-like dummy rxq. */
	if (ingress_ifindex) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err;
	res->retval = opts.retval;
	res->duration_ns = opts.duration;
	res->data_size_out = opts.data_size_out;
	return 0;
}

int cxigmp_prog_info(int prog_fd, struct cxigmp_prog_info *out)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	memset(out, 0, sizeof(*out));
	info.nr_map_ids = sizeof(out->map_ids) / sizeof(out->map_ids[0]);
	info.map_ids = (__u64)(unsigned long)out->map_ids;
	err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
	if (err)
		return err;
	out->id = info.id;
	out->type = info.type;
	memcpy(out->name, info.name, sizeof(out->name));
	/* The kernel reports how many there are, even past the buffer. */
	out->nr_map_ids = info.nr_map_ids > sizeof(out->map_ids) / sizeof(out->map_ids[0])
		? sizeof(out->map_ids) / sizeof(out->map_ids[0]) : info.nr_map_ids;
	return 0;
}

int cxigmp_link_info(int link_fd, struct cxigmp_link_info *out)
{
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	memset(out, 0, sizeof(*out));
	err = bpf_obj_get_info_by_fd(link_fd, &info, &len);
	if (err)
		return err;
	out->id = info.id;
	out->type = info.type;
	out->prog_id = info.prog_id;
	if (info.type == BPF_LINK_TYPE_XDP)
		out->xdp_ifindex = info.xdp.ifindex;
	return 0;
}

int cxigmp_map_info(int map_fd, struct cxigmp_map_info *out)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);
	int err;

	memset(&info, 0, sizeof(info));
	memset(out, 0, sizeof(*out));
	err = bpf_obj_get_info_by_fd(map_fd, &info, &len);
	if (err)
		return err;
	out->id = info.id;
	out->type = info.type;
	out->key_size = info.key_size;
	out->value_size = info.value_size;
	out->max_entries = info.max_entries;
	memcpy(out->name, info.name, sizeof(out->name));
	return 0;
}

int cxigmp_name_thread(const char *name)
{
	return pthread_setname_np(pthread_self(), name);
}

int cxigmp_setns_net(int fd)
{
	return setns(fd, CLONE_NEWNET);
}

int cxigmp_has_capability(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
		.pid = 0,
	};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	if (cap < 0 || cap >= 64)
		return 0;
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}
