// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * mcast_blast.c - the traffic generator of bench/e2e/forwarding.sh, compiled
 * by it with the system cc into its temp dir (nothing is installed).
 *
 *   mcast_blast IFNAME SRC_IP GROUP PAYLOAD SECONDS [PPS [BATCH]]
 *
 * Sends one prebuilt Ethernet/IPv4/UDP multicast frame (TTL 8, UDP to
 * GROUP:5000, PAYLOAD bytes of payload, source MAC = IFNAME's) out of IFNAME
 * for SECONDS through an AF_PACKET socket with PACKET_QDISC_BYPASS, in
 * sendmmsg(2) batches of BATCH (default 64) when PPS is 0 (flat out), else
 * one frame per tick paced with absolute clock_nanosleep at PPS (timer slack
 * 1 ns).  The IP ID and the UDP source port count up, so frames differ.
 * Prints one JSON line on exit: frames handed to the driver, failed calls,
 * elapsed seconds.  Runs in the caller's network namespace (`ip netns exec`).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXBATCH 256

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: %s IFNAME SRC_IP GROUP PAYLOAD SECONDS [PPS [BATCH]]\n", argv[0]);
		return 2;
	}
	const char *ifname = argv[1];
	struct in_addr src, grp;
	if (!inet_aton(argv[2], &src) || !inet_aton(argv[3], &grp)) {
		fprintf(stderr, "mcast_blast: bad address\n");
		return 2;
	}
	int payload = atoi(argv[4]);
	double seconds = atof(argv[5]);
	double pps = argc > 6 ? atof(argv[6]) : 0;
	int batch = argc > 7 ? atoi(argv[7]) : 64;
	if (payload < 8 || payload > 1400 || batch < 1 || batch > MAXBATCH) {
		fprintf(stderr, "mcast_blast: payload 8..1400, batch 1..%d\n", MAXBATCH);
		return 2;
	}

	int fd = socket(AF_PACKET, SOCK_RAW, 0);	/* protocol 0: sends only */
	if (fd < 0) { perror("mcast_blast: socket"); return 1; }
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) { perror("mcast_blast: SIOCGIFHWADDR"); return 1; }
	int one = 1;
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one) < 0)
		perror("mcast_blast: PACKET_QDISC_BYPASS (going on without)");
	struct sockaddr_ll sll = {0};
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = ETH_ALEN;
	if (!sll.sll_ifindex) { perror("mcast_blast: if_nametoindex"); return 1; }
	if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) { perror("mcast_blast: bind"); return 1; }

	/* One frame per batch slot, so each can carry its own ID and port. */
	int len = 14 + 20 + 8 + payload;
	static uint8_t frames[MAXBATCH][1514];
	uint32_t g = ntohl(grp.s_addr);
	for (int b = 0; b < batch; b++) {
		uint8_t *f = frames[b];
		uint8_t dmac[6] = {0x01, 0x00, 0x5e, (g >> 16) & 0x7f, (g >> 8) & 0xff, g & 0xff};
		memcpy(f, dmac, 6);
		memcpy(f + 6, ifr.ifr_hwaddr.sa_data, 6);
		f[12] = 0x08; f[13] = 0x00;
		uint8_t *ip = f + 14;
		ip[0] = 0x45; ip[1] = 0;
		ip[2] = (20 + 8 + payload) >> 8; ip[3] = (20 + 8 + payload) & 0xff;
		ip[6] = 0x40; ip[7] = 0;	/* DF */
		ip[8] = 8; ip[9] = 17;
		memcpy(ip + 12, &src.s_addr, 4);
		memcpy(ip + 16, &grp.s_addr, 4);
		uint8_t *udp = ip + 20;
		udp[2] = 5000 >> 8; udp[3] = 5000 & 0xff;
		udp[4] = (8 + payload) >> 8; udp[5] = (8 + payload) & 0xff;
		udp[6] = udp[7] = 0;	/* no UDP checksum (allowed for IPv4) */
		memset(udp + 8, 0x5a, payload);
		memcpy(udp + 8, "xigmp-fwd-bench", payload < 15 ? payload : 15);
	}
	struct iovec iov[MAXBATCH];
	struct mmsghdr msgs[MAXBATCH];
	memset(msgs, 0, sizeof msgs);
	for (int b = 0; b < batch; b++) {
		iov[b].iov_base = frames[b];
		iov[b].iov_len = len;
		msgs[b].msg_hdr.msg_iov = &iov[b];
		msgs[b].msg_hdr.msg_iovlen = 1;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	uint64_t sent = 0, failed = 0, seq = 0;
	double start = now(), end = start + seconds;
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	long step = pps > 0 ? (long)(1e9 / pps) : 0;
	int n = pps > 0 ? 1 : batch;
	while (!stop) {
		for (int b = 0; b < n; b++, seq++) {
			uint8_t *ip = frames[b] + 14;
			ip[4] = (seq >> 8) & 0xff; ip[5] = seq & 0xff;
			ip[10] = ip[11] = 0;
			uint16_t c = csum(ip, 20);
			ip[10] = c >> 8; ip[11] = c & 0xff;
			ip[20] = 0x80 | ((seq >> 8) & 0x3f); ip[21] = seq & 0xff;	/* UDP source port */
		}
		int r = sendmmsg(fd, msgs, n, 0);
		if (r > 0)
			sent += r;
		else if (r < 0 && errno != EINTR)
			failed++;
		if (step) {
			next.tv_nsec += step;
			while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
			if ((seq & 255) == 0 && now() >= end)
				break;
		} else if ((seq & 0x3fff) < (uint64_t)n && now() >= end) {
			break;
		}
	}
	double el = now() - start;
	printf("{\"sent\": %llu, \"failed_calls\": %llu, \"seconds\": %.3f, \"pps\": %.0f}\n",
	       (unsigned long long)sent, (unsigned long long)failed, el, sent / el);
	return 0;
}
