#!/bin/sh
# Install the Debian packages a group of make targets needs (as root), or
# print the exact apt-get command (otherwise).  Usage: deps.sh GROUP...
#   build: compile ckpt        test: run make check
set -e
pkgs=""
for group in "$@"; do
	case $group in
	build) pkgs="$pkgs gcc make pkg-config libc6-dev libelf-dev libcapstone-dev zlib1g-dev libzstd-dev liblz4-dev libssl-dev" ;;
	test)  pkgs="$pkgs bats bash-completion python3 perl procps gdb util-linux bsdutils tmux nodejs redis-server inotify-tools socat nftables openjdk-17-jdk-headless slurmctld slurmd slurm-client munge" ;;
	*) echo "deps.sh: unknown group $group" >&2; exit 2 ;;
	esac
done
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
cmd="apt-get install -y --no-install-recommends$missing"
if [ "$(id -u)" != 0 ]; then
	echo "ckpt: missing Debian packages; run as root:" >&2
	echo "  $cmd" >&2
	exit 1
fi
echo "ckpt: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: update once and retry.
$cmd -o DPkg::Lock::Timeout=600 >/dev/null 2>&1 ||
	{ apt-get update -o DPkg::Lock::Timeout=600 >/dev/null && $cmd -o DPkg::Lock::Timeout=600 >/dev/null; }
