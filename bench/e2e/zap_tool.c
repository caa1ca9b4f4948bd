// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * zap_tool.c - the traffic programs of bench/e2e/zap.sh and
 * netns-tests/test_zap_storm.sh, compiled by them with the system cc
 * into their temp dir (nothing is installed).  Two commands, each run in the
 * caller's network namespace (`ip netns exec`):
 *
 *   zap_tool source IFNAME SRC_IP PPS SECONDS [--warm G[,G...]]
 *                   [--cold A.B.C.D/LEN] [--log FILE] [--drift-ppm N]
 *
 * The upstream: every PPS tick it sends one Ethernet/IPv4/UDP frame (TTL 8,
 * to G:5000, source MAC = IFNAME's, AF_PACKET with PACKET_QDISC_BYPASS) for
 * each active group.  --warm groups are active from the start; a group in
 * the --cold prefix becomes active when an IGMP report heard on IFNAME
 * joins it (its first frame goes out at once) and inactive when one leaves
 * it: "the upstream starts the stream on the proxy's report".  Every payload
 * carries "XZAP", the group's index, a sequence number and CLOCK_MONOTONIC
 * ns taken just before the send (one clock for every namespace), so a
 * receiver can tell a packet sent after an instant from one sent before.
 * IGMP heard on IFNAME (kernel receive timestamps, SO_TIMESTAMPNS, i.e.
 * CLOCK_REALTIME) is logged to FILE, one line per message and per record:
 *   M REAL_NS IGMP_TYPE NRECORDS SRC_IP
 *   R REAL_NS J|L GROUP
 * and cold starts and stops as `S MONO_NS GROUP` / `P MONO_NS GROUP`.
 * --drift-ppm N lengthens the period by N parts per million.  A real
 * source keeps its own clock, so the phase between its frames and a host's
 * report is random; in one VM both run on one clock, and at a rate that
 * divides the kernel tick (10 kpps, HZ 250) every report the tick releases
 * meets the frames at the same phase, join after join.  1000 ppm (9990 pps
 * at 10 kpps) sweeps that phase through a whole period every 0.1 s.
 * On exit: one JSON line (frames sent, IGMP messages heard).
 *
 *   zap_tool storm PREFIX NHOSTS SECONDS ZAPS_PER_S LOG G[,G...]
 *                  [--seed N] [--leave-ms 5] [--join-ms 50]
 *
 * The hosts: interfaces PREFIX1..PREFIXn of this namespace, each with its
 * own address, are n IGMP hosts (the kernel's IGMP state is per interface).
 * Each watches one of the groups and changes channel ZAPS_PER_S times a
 * second (IP_DROP_MEMBERSHIP of the old, IP_ADD_MEMBERSHIP of the new, on
 * one UDP socket per host; the hosts staggered over the period, +-10 %
 * jitter).  One AF_PACKET socket (ETH_P_ALL, unbound: every interface of
 * the namespace, both directions, SO_TIMESTAMPNS) sees each host's reports
 * leave and the data arrive, on one kernel clock.  Per zap, in LOG:
 *   Z HOST ZAP_MONO OLD NEW JOIN_TS FIRST_TS LEAVE_TS OLD_LAST_TS EARLY
 * JOIN_TS: the first report leaving the host that joins NEW after the zap;
 * FIRST_TS: the first frame of NEW arriving at the host that was sent
 * (payload stamp) after JOIN_TS; LEAVE_TS: the first report leaving that
 * leaves OLD; OLD_LAST_TS: the last frame of OLD arriving before the next
 * zap; EARLY: frames of NEW that arrived before the join was on the wire.
 * *_TS are CLOCK_REALTIME ns (kernel stamps), 0 when none; OLD -1 on the
 * first join.  On exit one JSON line: zaps, misses by the --join-ms and
 * --leave-ms bounds, frames of groups the host neither watches nor just
 * left (`stray`), capture drops.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXG 256
#define MAXHOSTS 512
#define PAYLOAD 64
#define MAGIC "XZAP"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static int64_t clk(clockid_t c)
{
	struct timespec ts;
	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
static int64_t mono(void) { return clk(CLOCK_MONOTONIC); }
/* CLOCK_REALTIME - CLOCK_MONOTONIC, read back to back: kernel packet
 * stamps are realtime, payload stamps monotonic. */
static int64_t real_minus_mono(void)
{
	int64_t a = mono(), r = clk(CLOCK_REALTIME), b = mono();
	return r - (a + b) / 2;
}

/* This process's CPU seconds (user + system) so far. */
static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static uint16_t csum(const uint8_t *p, int len)
{
	uint32_t s = 0;
	for (int i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static int parse_groups(char *list, uint32_t *out, int max)
{
	int n = 0;
	for (char *t = strtok(list, ","); t && n < max; t = strtok(NULL, ",")) {
		struct in_addr a;
		if (!inet_aton(t, &a)) {
			fprintf(stderr, "zap_tool: bad group %s\n", t);
			exit(2);
		}
		out[n++] = ntohl(a.s_addr);
	}
	return n;
}

/* The groups an IGMP message (IPv4 header first) joins and leaves. */
struct igmp_rec { uint32_t group; int join; };
static int igmp_parse(const uint8_t *p, int len, int *type, struct igmp_rec *recs, int max)
{
	if (len < 28 || p[0] >> 4 != 4 || p[9] != 2)
		return -1;
	int ihl = (p[0] & 15) * 4;
	if (len < ihl + 8)
		return -1;
	const uint8_t *g = p + ihl;
	int glen = len - ihl, n = 0;
	*type = g[0];
	uint32_t grp = (uint32_t)g[4] << 24 | g[5] << 16 | g[6] << 8 | g[7];
	switch (g[0]) {
	case 0x12: case 0x16:
		recs[n++] = (struct igmp_rec){grp, 1};
		return n;
	case 0x17:
		recs[n++] = (struct igmp_rec){grp, 0};
		return n;
	case 0x22: {
		int nrec = g[6] << 8 | g[7], off = 8;
		for (int i = 0; i < nrec && n < max; i++) {
			if (off + 8 > glen)
				break;
			int rt = g[off], aux = g[off + 1], ns = g[off + 2] << 8 | g[off + 3];
			uint32_t ga = (uint32_t)g[off + 4] << 24 | g[off + 5] << 16 | g[off + 6] << 8 | g[off + 7];
			/* IS_EX, TO_EX, or ALLOW/IS_IN/TO_IN with sources: a join;
			 * TO_IN{} / IS_IN{}: a leave (RFC 3376 §4.2.12); BLOCK: neither here. */
			if (rt == 2 || rt == 4 || ((rt == 1 || rt == 3 || rt == 5) && ns > 0))
				recs[n++] = (struct igmp_rec){ga, 1};
			else if ((rt == 1 || rt == 3) && ns == 0)
				recs[n++] = (struct igmp_rec){ga, 0};
			off += 8 + 4 * ns + 4 * aux;
		}
		return n;
	}
	default:
		return 0;
	}
}

static int64_t cmsg_ts(struct msghdr *m)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			struct timespec ts;
			memcpy(&ts, CMSG_DATA(c), sizeof ts);
			return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
		}
	return 0;
}

static void ipstr(uint32_t a, char *buf)
{
	struct in_addr x = {htonl(a)};
	inet_ntop(AF_INET, &x, buf, 16);
}

/* ------------------------------------------------------------------ source */

struct group_tx {
	uint32_t group;
	int active, warm;
	uint64_t seq, sent;
	uint8_t frame[14 + 20 + 8 + PAYLOAD];
};

static int cmd_source(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: zap_tool source IFNAME SRC_IP PPS SECONDS [--warm G,..] [--cold PFX/LEN] [--log FILE] [--drift-ppm N]\n");
		return 2;
	}
	const char *ifname = argv[0];
	struct in_addr src;
	if (!inet_aton(argv[1], &src)) { fprintf(stderr, "zap_tool: bad source\n"); return 2; }
	double pps = atof(argv[2]), seconds = atof(argv[3]);
	uint32_t warm[MAXG];
	int nwarm = 0;
	uint32_t cold_net = 0, cold_mask = 0;
	int cold = 0;
	FILE *log = NULL;
	double drift_ppm = 0;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "--drift-ppm") && i + 1 < argc) {
			drift_ppm = atof(argv[++i]);
			if (drift_ppm < 0 || drift_ppm > 100000) { fprintf(stderr, "zap_tool: --drift-ppm 0..100000\n"); return 2; }
		} else if (!strcmp(argv[i], "--warm") && i + 1 < argc) {
			nwarm = parse_groups(argv[++i], warm, MAXG);
		} else if (!strcmp(argv[i], "--cold") && i + 1 < argc) {
			char *s = argv[++i], *slash = strchr(s, '/');
			int bits = slash ? atoi(slash + 1) : 32;
			if (slash) *slash = 0;
			struct in_addr a;
			if (!inet_aton(s, &a) || bits < 1 || bits > 32) { fprintf(stderr, "zap_tool: bad --cold\n"); return 2; }
			cold_mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
			cold_net = ntohl(a.s_addr) & cold_mask;
			cold = 1;
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			log = fopen(argv[++i], "w");
			if (!log) { perror("zap_tool: --log"); return 1; }
		} else {
			fprintf(stderr, "zap_tool: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (pps <= 0 || pps > 200000) { fprintf(stderr, "zap_tool: PPS 1..200000\n"); return 2; }

	int tx = socket(AF_PACKET, SOCK_RAW, 0);
	int rx = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (tx < 0 || rx < 0) { perror("zap_tool: socket"); return 1; }
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(tx, SIOCGIFHWADDR, &ifr) < 0) { perror("zap_tool: SIOCGIFHWADDR"); return 1; }
	int one = 1, rcvbuf = 4 << 20;
	setsockopt(tx, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);
	setsockopt(rx, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
	setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	struct sockaddr_ll sll = {0};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	if (!sll.sll_ifindex) { perror("zap_tool: if_nametoindex"); return 1; }
	if (bind(tx, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("zap_tool: bind"); return 1; }
	sll.sll_protocol = htons(ETH_P_IP);
	if (bind(rx, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("zap_tool: bind rx"); return 1; }

	static struct group_tx gs[MAXG];
	int ng = 0;
	for (int i = 0; i < nwarm; i++) {
		gs[ng].group = warm[i];
		gs[ng].active = gs[ng].warm = 1;
		ng++;
	}
	for (int i = 0; i < MAXG; i++) {	/* frame templates */
		uint8_t *f = gs[i].frame;
		memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
		f[12] = 0x08; f[13] = 0x00;
		uint8_t *ip = f + 14;
		ip[0] = 0x45;
		ip[2] = (20 + 8 + PAYLOAD) >> 8; ip[3] = (20 + 8 + PAYLOAD) & 0xff;
		ip[6] = 0x40; ip[8] = 8; ip[9] = 17;
		memcpy(ip + 12, &src.s_addr, 4);
		uint8_t *udp = ip + 20;
		udp[0] = 5001 >> 8; udp[1] = 5001 & 0xff;
		udp[2] = 5000 >> 8; udp[3] = 5000 & 0xff;
		udp[4] = (8 + PAYLOAD) >> 8; udp[5] = (8 + PAYLOAD) & 0xff;
		memcpy(udp + 8, MAGIC, 4);
	}
#define SET_GROUP(i) do { \
		uint32_t g_ = gs[i].group, n_ = htonl(g_); uint8_t *f_ = gs[i].frame; \
		uint8_t d_[6] = {0x01, 0x00, 0x5e, (g_ >> 16) & 0x7f, (g_ >> 8) & 0xff, g_ & 0xff}; \
		memcpy(f_, d_, 6); memcpy(f_ + 14 + 16, &n_, 4); \
		uint32_t ix_ = htonl((uint32_t)(i)); memcpy(f_ + 14 + 28 + 4, &ix_, 4); \
	} while (0)
	for (int i = 0; i < ng; i++)
		SET_GROUP(i);

	struct mmsghdr msgs[MAXG];
	struct iovec iov[MAXG];
	uint64_t sent = 0, igmp_msgs = 0, failed = 0;
	int ip_id = 0;
	/* Stamps and sends every active group's next frame (or only group only). */
	void send_batch(int only)
	{
		int n = 0;
		int64_t t = mono();
		for (int i = 0; i < ng; i++) {
			if (!gs[i].active || (only >= 0 && i != only))
				continue;
			uint8_t *ip = gs[i].frame + 14;
			ip[4] = (ip_id >> 8) & 0xff; ip[5] = ip_id & 0xff; ip_id++;
			ip[10] = ip[11] = 0;
			uint16_t c = csum(ip, 20);
			ip[10] = c >> 8; ip[11] = c & 0xff;
			uint64_t seq = gs[i].seq++;
			memcpy(ip + 28 + 8, &seq, 8);
			memcpy(ip + 28 + 16, &t, 8);
			iov[n].iov_base = gs[i].frame;
			iov[n].iov_len = sizeof gs[i].frame;
			memset(&msgs[n], 0, sizeof msgs[n]);
			msgs[n].msg_hdr.msg_iov = &iov[n];
			msgs[n].msg_hdr.msg_iovlen = 1;
			gs[i].sent++;
			n++;
		}
		if (!n)
			return;
		int r = sendmmsg(tx, msgs, n, 0);
		if (r > 0) sent += r; else failed++;
	}
	void drain(void)
	{
		uint8_t buf[2048];
		char cbuf[256];
		for (;;) {
			struct iovec v = {buf, sizeof buf};
			struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
			ssize_t len = recvmsg(rx, &m, MSG_DONTWAIT);
			if (len < 0)
				return;
			struct igmp_rec recs[64];
			int type = 0, n = igmp_parse(buf, (int)len, &type, recs, 64);
			if (n < 0 || type == 0x11)
				continue;
			int64_t ts = cmsg_ts(&m);
			igmp_msgs++;
			char s[16], g[16];
			ipstr(ntohl(*(uint32_t *)(buf + 12)), s);
			if (log)
				fprintf(log, "M %lld %d %d %s\n", (long long)ts, type, n, s);
			for (int k = 0; k < n; k++) {
				ipstr(recs[k].group, g);
				if (log)
					fprintf(log, "R %lld %c %s\n", (long long)ts, recs[k].join ? 'J' : 'L', g);
				if (!cold || (recs[k].group & cold_mask) != cold_net)
					continue;
				int i;
				for (i = 0; i < ng && gs[i].group != recs[k].group; i++)
					;
				if (i == ng) {
					if (!recs[k].join || ng == MAXG)
						continue;
					gs[ng].group = recs[k].group;
					SET_GROUP(ng);
					ng++;
				}
				if (gs[i].warm)
					continue;
				if (recs[k].join && !gs[i].active) {
					gs[i].active = 1;
					send_batch(i);	/* the first frame at once */
					if (log)
						fprintf(log, "S %lld %s\n", (long long)mono(), g);
				} else if (!recs[k].join && gs[i].active) {
					gs[i].active = 0;
					if (log)
						fprintf(log, "P %lld %s\n", (long long)mono(), g);
				}
			}
		}
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	int64_t period = (int64_t)(1e9 / pps * (1 + drift_ppm / 1e6)), start = mono(), end = start + (int64_t)(seconds * 1e9);
	int64_t next = start;
	struct pollfd pfd = {rx, POLLIN, 0};
	while (!stop) {
		int64_t t = mono();
		if (t >= end)
			break;
		if (t >= next) {
			send_batch(-1);
			next += period;
			if (t - next > 50 * period)	/* fell far behind (descheduled): no burst */
				next = t + period;
			continue;
		}
		int64_t w = next - t;
		struct timespec to = {w / 1000000000LL, w % 1000000000LL};
		if (ppoll(&pfd, 1, &to, NULL) > 0)
			drain();
	}
	drain();
	if (log)
		fclose(log);
	printf("{\"sent\": %llu, \"failed_calls\": %llu, \"igmp_messages\": %llu, \"groups\": %d, \"seconds\": %.3f, "
	       "\"cpu_s\": %.3f}\n",
	       (unsigned long long)sent, (unsigned long long)failed, (unsigned long long)igmp_msgs, ng,
	       (mono() - start) / 1e9, cpu_seconds());
	return 0;
}

/* ------------------------------------------------------------------- storm */

struct host {
	int ifindex, sock, cur, old;
	int64_t next_zap, zap_mono, join_ts, first_ts, leave_ts, old_last_ts;
	uint64_t early, zaps;
};

static uint32_t rng = 2463534242u;
static uint32_t xr(void) { rng ^= rng << 13; rng ^= rng >> 17; rng ^= rng << 5; return rng; }

static int cmd_storm(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: zap_tool storm PREFIX NHOSTS SECONDS ZAPS_PER_S LOG G[,G..] [--seed N] [--leave-ms 5] [--join-ms 50]\n");
		return 2;
	}
	const char *prefix = argv[0];
	int nh = atoi(argv[1]);
	double seconds = atof(argv[2]), zps = atof(argv[3]);
	FILE *log = fopen(argv[4], "w");
	if (!log) { perror("zap_tool: LOG"); return 1; }
	uint32_t groups[MAXG];
	int ng = parse_groups(argv[5], groups, MAXG);
	double leave_ms = 5, join_ms = 50;
	for (int i = 6; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seed")) rng = (uint32_t)strtoul(argv[i + 1], NULL, 0) | 1;
		else if (!strcmp(argv[i], "--leave-ms")) leave_ms = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--join-ms")) join_ms = atof(argv[i + 1]);
		else { fprintf(stderr, "zap_tool: unknown option %s\n", argv[i]); return 2; }
	}
	if (nh < 1 || nh > MAXHOSTS || ng < 2 || zps <= 0) {
		fprintf(stderr, "zap_tool: 1..%d hosts, 2+ groups, ZAPS_PER_S > 0\n", MAXHOSTS);
		return 2;
	}
	static struct host hs[MAXHOSTS];
	static short by_ifindex[65536];
	memset(by_ifindex, -1, sizeof by_ifindex);
	int64_t t_begin = mono(), period = (int64_t)(1e9 / zps), start = t_begin + 200000000LL;
	for (int i = 0; i < nh; i++) {
		char name[IFNAMSIZ];
		snprintf(name, sizeof name, "%s%d", prefix, i + 1);
		hs[i].ifindex = (int)if_nametoindex(name);
		if (!hs[i].ifindex || hs[i].ifindex >= 65536) { fprintf(stderr, "zap_tool: no interface %s\n", name); return 1; }
		by_ifindex[hs[i].ifindex] = (short)i;
		hs[i].sock = socket(AF_INET, SOCK_DGRAM, 0);
		if (hs[i].sock < 0) { perror("zap_tool: socket"); return 1; }
		hs[i].cur = hs[i].old = -1;
		hs[i].next_zap = start + period * i / nh;
	}
	int cap = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	if (cap < 0) { perror("zap_tool: capture socket"); return 1; }
	int one = 1, rcvbuf = 16 << 20;
	setsockopt(cap, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
	setsockopt(cap, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);

	uint64_t zaps = 0, join_miss = 0, leave_miss = 0, no_report = 0, no_data = 0, stray = 0, frames = 0;
	uint64_t leave_checked = 0;
	int64_t off = real_minus_mono();
	void finalize(struct host *h, int hi)
	{
		if (h->zap_mono == 0)
			return;
		fprintf(log, "Z %d %lld %d %d %lld %lld %lld %lld %llu\n", hi, (long long)h->zap_mono, h->old, h->cur,
			(long long)h->join_ts, (long long)h->first_ts, (long long)h->leave_ts, (long long)h->old_last_ts,
			(unsigned long long)h->early);
		zaps++;
		if (!h->join_ts) { no_report++; join_miss++; }
		else if (!h->first_ts) { no_data++; join_miss++; }
		else if (h->first_ts - h->join_ts > (int64_t)(join_ms * 1e6)) join_miss++;
		if (h->old >= 0 && h->leave_ts) {
			leave_checked++;
			if (h->old_last_ts > h->leave_ts + (int64_t)(leave_ms * 1e6))
				leave_miss++;
		}
	}
	void zap(struct host *h, int hi, int64_t now)
	{
		finalize(h, hi);
		int nw = (int)(xr() % (uint32_t)ng);
		if (nw == h->cur)
			nw = (nw + 1 + (int)(xr() % (uint32_t)(ng - 1))) % ng;
		struct ip_mreqn mr = {0};
		mr.imr_ifindex = h->ifindex;
		if (h->cur >= 0) {
			mr.imr_multiaddr.s_addr = htonl(groups[h->cur]);
			if (setsockopt(h->sock, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mr, sizeof mr) < 0)
				perror("zap_tool: IP_DROP_MEMBERSHIP");
		}
		mr.imr_multiaddr.s_addr = htonl(groups[nw]);
		if (setsockopt(h->sock, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof mr) < 0)
			perror("zap_tool: IP_ADD_MEMBERSHIP");
		h->old = h->cur;
		h->cur = nw;
		h->zap_mono = now;
		h->join_ts = h->first_ts = h->leave_ts = h->old_last_ts = 0;
		h->early = 0;
		h->zaps++;
	}
	void frame(const uint8_t *p, int len, int64_t ts, const struct sockaddr_ll *a)
	{
		if (a->sll_ifindex <= 0 || a->sll_ifindex >= 65536 || by_ifindex[a->sll_ifindex] < 0)
			return;
		if (len < 20 || p[0] >> 4 != 4)
			return;
		int hi = by_ifindex[a->sll_ifindex];
		struct host *h = &hs[hi];
		if (h->zap_mono == 0)
			return;
		int64_t zap_real = h->zap_mono + off;
		if (a->sll_pkttype == PACKET_OUTGOING) {
			struct igmp_rec recs[64];
			int type, n = igmp_parse(p, len, &type, recs, 64);
			if (ts < zap_real)
				return;
			for (int k = 0; k < n; k++) {
				if (recs[k].join && !h->join_ts && recs[k].group == groups[h->cur])
					h->join_ts = ts;
				if (!recs[k].join && !h->leave_ts && h->old >= 0 && recs[k].group == groups[h->old])
					h->leave_ts = ts;
			}
			return;
		}
		int ihl = (p[0] & 15) * 4;
		if (p[9] != 17 || len < ihl + 8 + 24 || memcmp(p + ihl + 8, MAGIC, 4))
			return;
		frames++;
		uint32_t gi;
		int64_t sent;
		memcpy(&gi, p + ihl + 12, 4);
		memcpy(&sent, p + ihl + 24, 8);
		gi = ntohl(gi);
		uint32_t dst = (uint32_t)p[16] << 24 | p[17] << 16 | p[18] << 8 | p[19];
		if (dst == groups[h->cur]) {
			if (!h->join_ts)
				h->early++;
			else if (!h->first_ts && sent + off >= h->join_ts)
				h->first_ts = ts;
		} else if (h->old >= 0 && dst == groups[h->old]) {
			if (ts > h->old_last_ts)
				h->old_last_ts = ts;
		} else {
			stray++;
		}
		(void)gi;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	int64_t end = start + (int64_t)(seconds * 1e9), tail = end + 300000000LL;
	enum { B = 64 };
	static uint8_t bufs[B][256];
	static char cbufs[B][64];
	struct mmsghdr mm[B];
	struct iovec iv[B];
	struct sockaddr_ll addrs[B];
	struct pollfd pfd = {cap, POLLIN, 0};
	while (!stop) {
		int64_t t = mono();
		if (t >= tail)
			break;
		int64_t next = tail;
		if (t < end) {
			for (int i = 0; i < nh; i++) {
				if (hs[i].next_zap <= t) {
					zap(&hs[i], i, t);
					/* +-10 % jitter so the hosts never fall into lockstep */
					int64_t j = (int64_t)(xr() % 2001) - 1000;
					hs[i].next_zap += period + period * j / 10000;
				}
				if (hs[i].next_zap < next)
					next = hs[i].next_zap;
			}
			off = real_minus_mono();
		}
		int64_t w = next - mono();
		if (w < 0)
			w = 0;
		struct timespec to = {w / 1000000000LL, w % 1000000000LL};
		if (ppoll(&pfd, 1, &to, NULL) <= 0)
			continue;
		for (;;) {
			for (int k = 0; k < B; k++) {
				iv[k] = (struct iovec){bufs[k], sizeof bufs[k]};
				memset(&mm[k], 0, sizeof mm[k]);
				mm[k].msg_hdr = (struct msghdr){.msg_name = &addrs[k], .msg_namelen = sizeof addrs[k],
					.msg_iov = &iv[k], .msg_iovlen = 1, .msg_control = cbufs[k], .msg_controllen = sizeof cbufs[k]};
			}
			int r = recvmmsg(cap, mm, B, MSG_DONTWAIT, NULL);
			if (r <= 0)
				break;
			for (int k = 0; k < r; k++)
				frame(bufs[k], (int)mm[k].msg_len, cmsg_ts(&mm[k].msg_hdr), &addrs[k]);
			if (r < B)
				break;
		}
	}
	for (int i = 0; i < nh; i++)
		finalize(&hs[i], i);
	struct tpacket_stats st = {0};
	socklen_t sl = sizeof st;
	getsockopt(cap, SOL_PACKET, PACKET_STATISTICS, &st, &sl);
	fclose(log);
	printf("{\"hosts\": %d, \"groups\": %d, \"zaps\": %llu, \"join_misses\": %llu, \"join_no_report\": %llu, "
	       "\"join_no_data\": %llu, \"leave_checked\": %llu, \"leave_misses\": %llu, \"stray_frames\": %llu, "
	       "\"data_frames\": %llu, \"capture_drops\": %u, \"start_mono\": %lld, \"end_mono\": %lld, "
	       "\"cpu_s\": %.3f, \"seconds\": %.3f}\n",
	       nh, ng, (unsigned long long)zaps, (unsigned long long)join_miss, (unsigned long long)no_report,
	       (unsigned long long)no_data, (unsigned long long)leave_checked, (unsigned long long)leave_miss,
	       (unsigned long long)stray, (unsigned long long)frames, st.tp_drops, (long long)start, (long long)end,
	       cpu_seconds(), (mono() - t_begin) / 1e9);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "source"))
		return cmd_source(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "storm"))
		return cmd_storm(argc - 2, argv + 2);
	fprintf(stderr, "usage: zap_tool source|storm ... (see the comment at the top of zap_tool.c)\n");
	return 2;
}
