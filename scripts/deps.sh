#!/usr/bin/env bash
# deps.sh [build|test|demo|bench] - install the Debian packages xigmp needs for a
# stage, only those missing.  Idempotent; runs `apt-get update` at most once.
set -euo pipefail
stage=${1:-build}

pkgs=(libbpf-dev libxdp-dev libelf-dev zlib1g-dev linux-libc-dev iproute2)
case $stage in
	test) pkgs+=(tshark python3-scapy ethtool bpftool) ;;
	demo) pkgs+=(python3-scapy) ;;
	bench) pkgs+=(python3-scapy python3-matplotlib igmpproxy tshark smcroute ethtool) ;;
	build) ;;
	*) echo "deps.sh: unknown stage '$stage' (build|test|demo|bench)" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		echo "xigmp needs these Debian packages: ${missing[*]}" >&2
		echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
		exit 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null; then
	echo "swift not found on PATH: xigmp needs the Swift 6 toolchain (swift.org)" >&2
	exit 1
fi
