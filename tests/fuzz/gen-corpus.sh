#!/bin/bash
# The seeds of tests/fuzz: small real images, made here and now by
# dumping test targets (tests/targets) with this tree's ckpt, plus the
# crafted ones of mkseeds (no ptrace needed for those).  Real images are
# made at build time rather than committed: they are tens of KiB each,
# and they must match this machine's vdso for the restore plan to get
# past its vdso checks.
#
# Usage: tests/fuzz/gen-corpus.sh BUILD_DIR MKSEEDS OUT_DIR
#   BUILD_DIR  the normal build (ckpt and targets/), e.g. build/x86_64
#   MKSEEDS    the mkseeds program (tests/fuzz/mkseeds.c)
#   OUT_DIR    emptied, then OUT_DIR/fuzz_image gets single images and
#              OUT_DIR/fuzz_chain images followed by their parents
#              (fuzz_chain.c's input)
# Without ptrace (a container, Yama) only the real images are missing:
# the script says so and goes on.
set -u
O=${1:?build dir}
MKSEEDS=${2:?mkseeds}
OUT=${3:?output dir}
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
CKPT=$top/$O/ckpt
TARGETS=$top/$O/targets
work=$(mktemp -d)
pids=()
# descendants PID: its children, theirs..., by PID (a tree target whose
# dump failed is not ended by --kill: its children must go too).
descendants() {
	local c
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}
cleanup() {
	local p all
	for p in "${pids[@]}"; do
		all=$(descendants "$p")
		kill -9 "$p" $all 2>/dev/null
		wait "$p" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT

rm -rf "$OUT"
CHAIN=$OUT/fuzz_chain
OUT=$OUT/fuzz_image
mkdir -p "$OUT" "$CHAIN"
"$MKSEEDS" "$OUT" || exit 1

# start NAME ARGS...: a target, in the background, until it is ready.
start() {
	local name=$1
	shift
	rm -f "$work/ready"
	(
		# only 0-2: a pipe the caller inherited would make dump refuse
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		CKPT_READY=$work/ready CKPT_GO=$work/go exec "$TARGETS/$name" "$@" \
			</dev/null >/dev/null 2>&1
	) &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		[ -e "$work/ready" ] && return 0
		sleep 0.05
	done
	echo "gen-corpus: $name did not start" >&2
	return 1
}

# dump NAME ARGS... -- DUMP_OPTIONS: one image per call into $OUT/NAME.img
dump() {
	local out=$1
	shift
	"$CKPT" dump "$pid" --no-sync -o "$OUT/$out.img" "$@" 2>"$work/err" ||
		{ echo "gen-corpus: dump for $out failed: $(cat "$work/err")" >&2; return 1; }
}

made=0
if start counter 1000000000; then
	for c in none zlib zstd lz4; do
		dump "counter-$c" --compress "$c" && made=$((made + 1))
	done
	# An incremental chain: a full image tracking writes, then a child
	# that leaves most pages to it (IN_PARENT runs, HASHES, PARENT).
	# The parent named relative to the child, as fuzz_chain needs.
	dump chain-0 --track && sleep 0.2 && (cd "$OUT" && dump chain-1 --parent chain-0.img) &&
		made=$((made + 2))
fi
start threads && dump threads --compress zstd && made=$((made + 1))
start signals && dump signals && made=$((made + 1))
mkdir -p "$work/ghost"
start fd_deleted "$work/ghost" && dump fd-deleted && made=$((made + 1))
# Removed files (GHOST state: extents, a further open by inode_of, a
# deleted file mapped as MEMFD; a removed directory and cwd)
for c in holes twonames dir cwd; do
	mkdir -p "$work/removed-$c"
	start fd_removed "$work/removed-$c" "$c" && dump "removed-$c" && made=$((made + 1))
done
# Files only mapped (no fd): a memfd and a deleted file as FILEs no FD
# names (CKPT_FILEF_MAPPED), their mappings MEMFD (root; else anonymous)
mkdir -p "$work/mapped"
start fd_mapped "$work/mapped" both && dump fd-mapped && made=$((made + 1))
start spin && dump spin --compress zlib && made=$((made + 1))
# Trees (TREE and COW sections, a zombie, shared memory): dumped with
# --kill, which ends and reaps every process of the tree.
for t in tree_basic tree_shm; do
	start "$t" && dump "${t/_/-}" --kill && made=$((made + 1))
done
# unix connections made through listeners between two processes, one
# end of two of them closed (CKPT_FILEF_ACCEPTED, CONNECTED), named
# datagram sockets connected to each other
mkdir -p "$work/unix"
start tree_unix "$work/unix" && dump tree-unix --kill && made=$((made + 1))
# file locks of every kind: a LOCKS section
mkdir -p "$work/locks"
start fd_locks "$work/locks" && dump fd-locks && made=$((made + 1))
# an established TCP connection with bytes in flight (kind TCP; root only)
start fd_tcp small && dump fd-tcp && made=$((made + 1))
# TCP connections after a FIN: CLOSE_WAIT, FIN_WAIT1/2, LAST_ACK, CLOSING
# (CKPT_FILEF_FIN_IN, FIN_OUT; root only)
start fd_tcp_fin loop && dump fd-tcp-fin && made=$((made + 1))
# Chains for fuzz_chain: the newest image first, then its parents.
cat "$OUT/crafted-child.img" "$OUT/crafted-full.img" >"$CHAIN/crafted-chain"
[ -e "$OUT/chain-1.img" ] && cat "$OUT/chain-1.img" "$OUT/chain-0.img" >"$CHAIN/chain"
cp "$OUT/crafted-full.img" "$CHAIN/"
if [ "$made" -eq 0 ]; then
	echo "gen-corpus: no real images (no ptrace here?): crafted seeds only" >&2
fi
echo "gen-corpus: $(ls "$OUT" | wc -l) images, $(du -sk "$OUT" | cut -f1) KiB in $OUT ($made real ones);" \
	"$(ls "$CHAIN" | wc -l) chains in $CHAIN"
