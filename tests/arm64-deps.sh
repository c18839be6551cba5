#!/bin/bash
# Prepare this x86-64 Debian host for `make ARCH=aarch64` and
# `make check-arm64`: ../shared/arm64/setup (cross compiler, qemu, the
# arm64 kernel, busybox, bash, and arm64 libelf/zlib/zstd/capstone), plus
# liblz4 and libcrypto (OpenSSL), which ckpt needs and setup does not
# provide, the same way setup provides the others: installed as
# liblz4-dev:arm64 and libssl-dev:arm64 (multiarch), or unpacked into its
# sysroot (sysroot mode).  Idempotent; exit status 0 when the toolchain is
# ready.
# Usage: tests/arm64-deps.sh [DIR]   (the harness: DIR, $ARM64_DIR or ../shared/arm64)
set -euo pipefail
# Unless told otherwise, the arm64 -dev packages go into setup's sysroot
# rather than being installed: installing them as multiarch packages also
# upgrades some of the host's own (libc6-dev's dependencies, linux-libc-dev,
# see the harness's README), which a test run should not do to a machine.
export CKPT_ARM64_SYSROOT=${CKPT_ARM64_SYSROOT:-1}
top=$(cd "$(dirname "$0")/.." && pwd)
ARM64=${1:-${ARM64_DIR:-$top/../shared/arm64}}
CACHE=${CKPT_ARM64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ckpt-arm64}
# each package, and the static library it leaves in the sysroot
PKGS=(liblz4-dev:arm64 libssl-dev:arm64)
LIBS=(liblz4.a libcrypto.a)

[ -x "$ARM64/setup" ] || { echo "arm64-deps: no $ARM64/setup" >&2; exit 1; }
"$ARM64/setup"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ "$(cat "$CACHE/libmode")" = sysroot ]; then
	S=$CACHE/sysroot
	for i in "${!PKGS[@]}"; do
		[ -f "$S/usr/lib/aarch64-linux-gnu/${LIBS[$i]}" ] && continue
		tmp=$(mktemp -d)
		chmod 755 "$tmp"
		opts=()
		[ "$(id -u)" -eq 0 ] && opts=(-o APT::Sandbox::User=root)
		(cd "$tmp" && apt-get -q "${opts[@]}" download "${PKGS[$i]}") >&2
		dpkg-deb -x "$tmp"/"${PKGS[$i]%%:*}"_*.deb "$S"
		rm -rf "$tmp"
		echo "arm64-deps: unpacked ${PKGS[$i]} into $S" >&2
	done
else
	missing=()
	for p in "${PKGS[@]}"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && exit 0
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -q install -y \
		--no-install-recommends --no-remove "${missing[@]}" >&2
fi
