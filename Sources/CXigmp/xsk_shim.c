// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* xsk_shim.c - ethtool and packet-socket helpers for the XDP port. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include "cxigmp.h"

int cxigmp_rx_queue_count(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	int fd, n;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = (void *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		int err = errno;

		close(fd);
		return err == EOPNOTSUPP ? 1 : -err;
	}
	close(fd);
	n = ch.rx_count > ch.combined_count ? ch.rx_count : ch.combined_count;
	return n > 0 ? n : 1;
}

int cxigmp_allmulti_socket(int ifindex)
{
	struct packet_mreq mr = {
		.mr_ifindex = ifindex,
		.mr_type = PACKET_MR_ALLMULTI,
	};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

int cxigmp_driver_name(const char *ifname, char *buf, size_t cap)
{
	struct ethtool_drvinfo info = { .cmd = ETHTOOL_GDRVINFO };
	struct ifreq ifr;
	int fd;

	if (cap == 0)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = (void *)&info;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	close(fd);
	strncpy(buf, info.driver, cap - 1);
	buf[cap - 1] = '\0';
	return 0;
}
