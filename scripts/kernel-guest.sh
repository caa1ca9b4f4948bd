#!/usr/bin/env bash
# kernel-guest.sh - run a command as root inside a second kernel that has
# kernel multicast routing (CONFIG_IP_MROUTE=y: MRT_INIT, the MFC), for hosts
# whose own kernel lacks it. Boots Debian's linux-image-amd64 (6.1) with
# virtme-ng under QEMU software emulation (TCG; KVM is never used) over the
# host's own filesystem.
#
#   scripts/kernel-guest.sh install         install what is missing (root; idempotent)
#   scripts/kernel-guest.sh run -- CMD...   run CMD in the guest, in the current directory
#   scripts/kernel-guest.sh kernel          print the kernel image `run` would boot
#
# In the guest / is the host's (9p), read-only, with throwaway overlays on /etc
# /usr /var /tmp ...; only the working directory is shared read-write, so CMD's
# results land on the host. CMD runs under bash as root with the caller's
# environment (PATH included), stdin /dev/null, bpffs on /sys/fs/bpf. Exits
# with CMD's status, or 124 if the guest outlives GUEST_TIMEOUT seconds
# (default 3000; qemu is killed).
# Env: GUEST_TIMEOUT, GUEST_MEM (2G), GUEST_CPUS (2), GUEST_KERNEL (a vmlinuz
# path, overrides the choice), GUEST_VERBOSE=1 (show the guest's boot log).
# Expect 35-75 s for a trivial CMD, code ~5-10x slower than on the host and
# file access (exec, imports) 10-100x slower.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "kernel-guest: $*" >&2; exit 1; }
usage() { echo 'usage:' >&2; sed -n '8,10s/^#//p' "$0" >&2; exit 2; }

# The newest /boot/vmlinuz-* whose config has CONFIG_IP_MROUTE=y and whose modules are installed.
pick_kernel() {
	if [ -n "${GUEST_KERNEL:-}" ]; then
		[ -r "$GUEST_KERNEL" ] || die "GUEST_KERNEL=$GUEST_KERNEL is not a readable kernel image"
		echo "$GUEST_KERNEL"; return
	fi
	local k v
	for k in $(ls -1 /boot/vmlinuz-* 2>/dev/null | sort -rV); do
		v=${k#/boot/vmlinuz-}
		grep -qx 'CONFIG_IP_MROUTE=y' "/boot/config-$v" 2>/dev/null && [ -d "/lib/modules/$v" ] && { echo "$k"; return; }
	done
	return 1
}

do_install() {
	[ "$(id -u)" = 0 ] || die "install needs root: sudo $0 install"
	local pkgs=(linux-image-amd64 qemu-system-x86 busybox-static) missing=() p
	command -v vng >/dev/null || python3 -m pip --version >/dev/null 2>&1 || pkgs+=(python3-pip)
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if ((${#missing[@]})); then
		echo "kernel-guest: installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		# Package scripts must not start services (udev) on this host: policy-rc.d says no.
		local policy=""
		if [ ! -e /usr/sbin/policy-rc.d ]; then
			policy=/usr/sbin/policy-rc.d
			printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"
			trap 'rm -f /usr/sbin/policy-rc.d' EXIT
		fi
		apt-get update -qq
		apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/kernel-guest-apt.log 2>&1 ||
			die "apt-get install ${missing[*]} failed; see /tmp/kernel-guest-apt.log"
		[ -z "$policy" ] || { rm -f "$policy"; trap - EXIT; }
	fi
	if ! command -v vng >/dev/null; then
		echo "kernel-guest: installing virtme-ng (pip)"
		local brk=()
		# Debian's own python3 is "externally managed" (PEP 668); a pyenv one is not.
		[ ! -e "$(python3 "$here/pyinfo.py" stdlib)/EXTERNALLY-MANAGED" ] ||
			brk=(--break-system-packages)
		python3 -m pip install -q --root-user-action=ignore "${brk[@]}" virtme-ng ||
			die "pip install virtme-ng failed"
		hash -r; command -v pyenv >/dev/null && pyenv rehash || true
		command -v vng >/dev/null || die "virtme-ng installed but vng is not on PATH (pip's bin dir: add it to PATH)"
	fi
	pick_kernel >/dev/null || die "no /boot/vmlinuz-* with CONFIG_IP_MROUTE=y and /lib/modules installed after install"
	echo "kernel-guest: ready: $(pick_kernel), $(vng --version)"
}

do_run() {
	[ "${1:-}" = -- ] && shift
	(($#)) || usage
	[ "$(id -u)" = 0 ] || die "run needs root (the guest runs CMD as root over the host's files): sudo $0 run -- ..."
	command -v vng >/dev/null && command -v qemu-system-x86_64 >/dev/null || die "virtme-ng or qemu missing: run $0 install"
	local kernel; kernel=$(pick_kernel) || die "no /boot/vmlinuz-* with CONFIG_IP_MROUTE=y (and its /lib/modules): run $0 install"
	[ "$PWD" != / ] || die "run from a directory other than / (it is shared read-write with the guest)"
	local timeout=${GUEST_TIMEOUT:-3000} rc status
	tmp=$(mktemp -d /tmp/kernel-guest.XXXXXX)
	trap 'rm -rf "$tmp"' EXIT
	# The guest runs this script; its status file tells CMD's exit from a guest that died.
	{
		echo '#!/bin/bash'
		export -p | grep -vE '^declare -x (PWD|OLDPWD|SHLVL|HOSTNAME|_|TERM)(=|$)' || true
		# A pyenv shim costs ~15 s per call over the guest's 9p root: call the interpreter itself.
		if [[ $(command -v python3) == */shims/* ]]; then
			printf 'PATH=%q:$PATH\n' "$(dirname "$(python3 "$here/pyinfo.py" executable)")"
		fi
		echo 'mountpoint -q /sys/fs/bpf || mount -t bpf -o mode=700 bpf /sys/fs/bpf # vng does not'
		printf 'cd -- %q || exit 125\n' "$PWD"
		printf '%q ' "$@"; echo
		printf 'echo $? >%q\n' "$tmp/status"
	} >"$tmp/run.sh"
	local args=(--disable-kvm -r "$kernel" -m "${GUEST_MEM:-2G}" -p "${GUEST_CPUS:-2}" --user root
		--rwdir "$PWD" --rwdir "$tmp" -e "bash $tmp/run.sh")
	[ -z "${GUEST_VERBOSE:-}" ] || args+=(-v)
	echo "kernel-guest: booting ${kernel#/boot/} (TCG, ${GUEST_CPUS:-2} CPUs, ${GUEST_MEM:-2G}, timeout ${timeout}s): $*" >&2
	local start=$SECONDS
	# qemu reopens /proc/self/fd/{1,2} per virtio port; on a regular file these clobber each
	# other, so both always go through pipes. timeout signals its whole group (vng, qemu),
	# and is in a group of its own, so our own INT/TERM/HUP are passed on to it.
	timeout -k 10 "$timeout" vng "${args[@]}" </dev/null > >(cat) 2> >(cat >&2) &
	local vpid=$! stopped=
	trap 'stopped=1; kill -TERM "$vpid" 2>/dev/null' INT TERM HUP
	while :; do
		rc=0; wait "$vpid" || rc=$?
		kill -0 "$vpid" 2>/dev/null || break
	done
	trap - INT TERM HUP
	wait # for the output pipes to drain
	local took=$((SECONDS - start))
	status=$(cat "$tmp/status" 2>/dev/null || true)
	if [ -n "$status" ]; then
		echo "kernel-guest: guest took ${took}s; CMD exited $status" >&2
		exit "$status"
	fi
	[ -z "$stopped" ] || { echo "kernel-guest: interrupted after ${took}s; qemu was stopped" >&2; exit 130; }
	case $rc in
		124 | 137)
			echo "kernel-guest: timed out after ${took}s (GUEST_TIMEOUT=${timeout}); qemu was killed. Raise GUEST_TIMEOUT, or look for a hang in CMD" >&2
			exit 124 ;;
		*) die "guest ended after ${took}s before CMD finished (vng exit $rc): qemu or kernel failure; rerun with GUEST_VERBOSE=1 to see the boot log" ;;
	esac
}

case ${1:-} in
	install) do_install ;;
	run) shift; do_run "$@" ;;
	kernel) pick_kernel || die "no kernel with CONFIG_IP_MROUTE=y installed: run $0 install" ;;
	*) usage ;;
esac
