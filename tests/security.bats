#!/usr/bin/env bats
# Images are untrusted input (docs/security.md).  An ordinary user forges
# their own image the way anyone who reads image/format.h can (imgtool set:
# fields edited, every length, count and checksum made right) and asks
# root to restore it: each forged privilege is refused in one line before
# anything is made, or the process is restored with its owner's rights
# only.  Root's own images (signed with this machine's key) restore as
# they are; moved to another machine they need `ckpt sign` or --trust.
# And no descriptor of ckpt restore's own reaches the restored process.
#
# Arch-independent (refusals of forged images and trust checks, made in C
# before anything is restored; creds.bats and unpriv.bats run the credential
# paths in the guest): the host runs it; the arm64 guest leaves this file out
# (tests/run-checks.sh).
# bats file_tags=arch-independent

load test_helper

# One user (and a second group it is in) for the whole file.
setup_file() {
	local f=$BATS_FILE_TMPDIR/user name=ckpt-sec-$$
	[ "$(id -u)" = 0 ] || return 0
	if command -v useradd >/dev/null && command -v groupadd >/dev/null; then
		groupadd "$name" && groupadd "$name-2" &&
			useradd -M -N -s /bin/sh -g "$name" -G "$name-2" "$name" || return 0
		echo "$name useradd $(id -u "$name") $(getent group "$name" | cut -d: -f3)" \
			"$(getent group "$name-2" | cut -d: -f3)" >"$f"
	elif mkdir -p /etc 2>/dev/null && touch /etc/passwd /etc/group 2>/dev/null &&
	     ! grep -q '^[^:]*:[^:]*:4242:' /etc/passwd; then
		# busybox (the arm64 guest, which has no /etc): the databases by hand
		echo "ckpt-sec:x:4242:4242::/:/bin/sh" >>/etc/passwd
		printf 'ckpt-sec:x:4242:\nckpt-sec-2:x:4243:ckpt-sec\n' >>/etc/group
		echo "ckpt-sec byhand 4242 4242 4243" >"$f"
	fi
}

teardown_file() {
	local name how
	[ -s "$BATS_FILE_TMPDIR/user" ] || return 0
	read -r name how _ <"$BATS_FILE_TMPDIR/user"
	if [ "$how" = useradd ]; then
		userdel "$name" 2>/dev/null
		groupdel "$name-2" 2>/dev/null
		groupdel "$name" 2>/dev/null
	else
		sed -i '/^ckpt-sec[:-]/d' /etc/passwd /etc/group
	fi
	true
}

need_user() {
	skip_unless_root
	skip_unless_ptrace
	[ -s "$BATS_FILE_TMPDIR/user" ] || skip "cannot make a test user (no useradd, and /etc/passwd cannot be written)"
	read -r SEC_NAME _ SEC_UID SEC_GID SEC_GID2 <"$BATS_FILE_TMPDIR/user"
	chmod 755 "$T"
}

as_user() {
	setpriv --reuid="$SEC_UID" --regid="$SEC_GID" --groups="$SEC_GID2" "$@"
}

# start_as_user NAME [ARGS]: a target run by the test user; $T/out and
# $T/err are its, its ready file is in $T/u.
start_as_user() {
	mkdir -p "$T/u"
	touch "$T/out" "$T/err"
	chown "$SEC_UID:$SEC_GID" "$T/u" "$T/out" "$T/err"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/u/ready CKPT_GO=$T/go
		exec setpriv --reuid="$SEC_UID" --regid="$SEC_GID" --groups="$SEC_GID2" sh -c \
			't=$0 d=$1; shift; exec "$t" "$@" >>"$d/out" 2>>"$d/err" </dev/null' \
			"$CKPT_TARGETS/$1" "$T" "${@:2}"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/u/ready"
}

# The user dumps their own process: an image without a MAC (only root's
# dumps have one), in a file of theirs ($T is theirs for that).
user_image() {
	chown "$SEC_UID:$SEC_GID" "$T"
	run as_user "$CKPT" dump "$TPID" -o "$T/img" --kill
	echo "$output"
	[ "$status" -eq 0 ]
	reap "$TPID"
	IMGPID=$TPID
	[ "$(stat -c %u:%a "$T/img")" = "$SEC_UID:600" ]
}

# forge KEY=VALUE...: the user edits their own image; no privilege needed.
forge() {
	as_user "$CKPT_TARGETS/imgtool" set "$T/img" "$@"
}

# Nothing of the image's process exists (neither it nor a restore stub).
no_leftover() {
	local comm
	comm=$(cat "/proc/$IMGPID/comm" 2>/dev/null) || return 0
	case $comm in counter|creds|ckpt-stub|fd_other_high|fd_setuid|tree_basic)
		echo "process $IMGPID ($comm) was left behind"
		kill -KILL "$IMGPID"
		return 1 ;;
	esac
}

# refused PATTERN [ARGS]: root's restore of $T/img fails with one line
# "ckpt: restore $T/img: PATTERN" (a glob) and leaves nothing behind.
refused() {
	local pat=$1
	shift
	run --separate-stderr timeout 60 "$CKPT" restore "$T/img" "$@"
	echo "status $status, stderr: $stderr"
	[ "$status" -eq 1 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: "$pat ]]
	no_leftover
}

# detached [ARGS]: root restores $T/img with --detach; RPID is the process.
detached() {
	run --separate-stderr timeout 60 "$CKPT" restore "$T/img" --detach "$@"
	echo "status $status, stdout: $output, stderr: $stderr"
	[ "$status" -eq 0 ]
	RPID=$output
	PIDS+=("$RPID")
}

NOT_SIGNED="and the image is not signed by this machine's key"

# --- root restores a user's image: only what the user may have -----------

@test "root restores a user's unsigned image as that user, with the groups the group database gives" {
	need_user
	start_as_user creds
	user_image
	restore_go
	[ "$status" -eq 0 ]
}

@test "forged uid 0: refused in one line, nothing made" {
	# Before: restored as root (setresuid(0, 0, 0) by the root stub).
	need_user
	start_as_user counter
	user_image
	forge uid=0
	refused "real uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
}

@test "forged effective uid 0: refused" {
	# Before: restored with euid 0.
	need_user
	start_as_user counter
	user_image
	forge euid=0
	refused "effective uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
}

@test "forged fsuid 0 with a root-only file open: refused (the file is never opened)" {
	# Before: files_open switched to the image's credentials only for a
	# fsuid other than 0: root's file was opened, as root, for writing
	# (fd 1), and handed over.
	need_user
	: >"$T/secret"
	chmod 600 "$T/secret"
	start_as_user counter
	user_image
	forge fsuid=0 fd.1.path="$T/secret"
	refused "filesystem uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
}

@test "a root-only file in a user's image: not opened (the owner's credentials)" {
	# Already so before: opened with the image's (the user's) fsuid.
	need_user
	: >"$T/secret"	# as long as the file it replaces: only its mode stops it
	chmod 600 "$T/secret"
	start_as_user counter
	user_image
	forge fd.1.path="$T/secret"
	refused "file \"$T/secret\" (fd 1) cannot be reopened with the process's own credentials*: Permission denied"
}

@test "a lease forged onto a file that is not the owner's: refused (only a file's owner may take a lease)" {
	# Before: the stub, still root, took the lease on root's file (it can
	# hold back every writer of that file for lease-break-time).
	need_user
	mkdir -p "$T/u/d"
	chown "$SEC_UID:$SEC_GID" "$T/u/d"
	: >"$T/rootfile"	# as long as the user's leased file: empty
	chmod 644 "$T/rootfile"
	start_as_user fd_locks "$T/u/d" lease
	user_image
	forge fd.15.path="$T/rootfile"
	refused "fd 15 (\"$T/rootfile\"): cannot take its lease again: the file is not the image owner's (uid $SEC_UID), $NOT_SIGNED"
}

@test "forged gid 0 and forged supplementary groups: refused" {
	# Before: restored with gid 0, and with any group (setgroups by root).
	need_user
	start_as_user counter
	user_image
	cp "$T/img" "$T/orig"
	forge gid=0
	refused "real gid 0 refused: not a group of its owner $SEC_NAME (uid $SEC_UID), $NOT_SIGNED"
	cp "$T/orig" "$T/img"
	forge fsgid=0
	refused "filesystem gid 0 refused: not a group of its owner $SEC_NAME (uid $SEC_UID), $NOT_SIGNED"
	cp "$T/orig" "$T/img"
	forge groups="$SEC_GID2,0"
	refused "supplementary group 0 refused: not a group of its owner $SEC_NAME (uid $SEC_UID), $NOT_SIGNED"
	cp "$T/orig" "$T/img"
	forge groups=42
	refused "supplementary group 42 refused: not a group of its owner $SEC_NAME (uid $SEC_UID), $NOT_SIGNED"
}

@test "forged capabilities: refused" {
	# Before: restored, without them (capabilities are not restored yet):
	# now refused by name, before a later ckpt restores them.
	need_user
	start_as_user counter
	user_image
	forge cap_prm=1ffffffffff cap_eff=1ffffffffff
	refused "capabilities (permitted 0x1ffffffffff, effective 0x1ffffffffff, inheritable 0, ambient 0) refused: an unprivileged user's process has none, $NOT_SIGNED"
}

@test "forged mapping at address 0: refused" {
	# Before: mapped by the root stub (CAP_SYS_RAWIO passes vm.mmap_min_addr).
	need_user
	start_as_user counter
	user_image
	forge vma.add=0,0x1000,3
	refused "mapping 0-0x1000 refused: only root may map below vm.mmap_min_addr (*), $NOT_SIGNED"
}

@test "forged working directory inside a root-only directory: refused" {
	# Before: the root stub's chdir() went through $T/vault (mode 700).
	need_user
	mkdir -p "$T/vault/inner"
	chmod 700 "$T/vault"
	start_as_user counter
	user_image
	forge cwd="$T/vault/inner"
	refused "working directory \"$T/vault/inner\" cannot be entered with the process's credentials: Permission denied"
}

@test "forged root directory (chroot): refused in one line, nothing made" {
	# A root the image chose could hold set-user-ID programs and a
	# password file of its own: only on root's word.
	need_user
	start_as_user counter
	user_image
	forge root="$T"
	refused "process $IMGPID had its root directory changed to \"$T\" (chroot): only root restores that, from an image it vouches for (signed by this machine's key, or --trust)"
}

@test "forged pipe at fd 300: /dev/null there, never ckpt restore's fd 300 (300<secret)" {
	# Before: the process got ckpt restore's fd 300, root's secret.
	need_user
	echo secret >"$T/secret"
	chmod 600 "$T/secret"
	start_as_user counter
	user_image
	# policy 1, INHERIT: "led outside the image, give it restore's own"
	forge fd.2.fd=300 fd.300.policy=1
	detached 300<"$T/secret"
	[[ "$stderr" == *"fd 300 ($T/err, "*") led outside the image and ckpt restore has no fd 300 to give it: it is /dev/null"* ]]
	[ "$(readlink "/proc/$RPID/fd/300")" = /dev/null ]
}

@test "forged executable the user cannot open: restored without it" {
	# Already so before: the exe was opened with the user's fsuid.
	need_user
	mkdir -p "$T/vault"
	cp "$CKPT_TARGETS/counter" "$T/vault/prog"
	chmod 700 "$T/vault"
	start_as_user counter
	user_image
	forge exe="$T/vault/prog"
	detached
	[[ "$stderr" == *"executable \"$T/vault/prog\": Permission denied; /proc/PID/exe will not point to it"* ]]
	[ "$(readlink "/proc/$RPID/exe")" != "$T/vault/prog" ]
}

@test "forged real-time scheduling and limits: the process gets only what its owner may set" {
	# Before: SCHED_FIFO 99 and RLIMIT_RTPRIO 99, set by the root stub.
	need_user
	start_as_user counter
	user_image
	forge sched=1,99 rlimit.14=99,99
	detached
	[ "$(awk '{ print $41 }' "/proc/$RPID/stat")" = 0 ]	# SCHED_OTHER
	hard=$(ulimit -H -r)
	[ "$hard" = unlimited ] ||
		[ "$(awk '/^Max realtime priority/ { print $5 }' "/proc/$RPID/limits")" -le "$hard" ]
	[[ "$stderr" == *"cannot set the scheduling policy 1 of thread"* ]]
}

@test "a user's image that others may write, or that a pipe brings: refused unless --trust" {
	need_user
	start_as_user counter
	user_image
	chmod 666 "$T/img"
	# ("not signed", or "this machine has no key yet" when no root dump made it)
	refused "image is not signed by this machine's key (*) and its file may be written by others than its owner (uid $SEC_UID, mode 666): restore it with --trust if you trust it"
	chmod 600 "$T/img"
	run --separate-stderr bash -c 'cat "$1" | "$2" restore -' - "$T/img" "$CKPT"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "ckpt: restore -: image is not signed by this machine's key ("*") and comes from a pipe, whose writer is unknown: root restores it only with --trust" ]]
	no_leftover
	# From the user's file on stdin: the file's owner's, as by name.
	forge uid=0
	run --separate-stderr "$CKPT" restore - <"$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: restore -: real uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED" ]
	no_leftover
}

@test "a user's incremental image with a parent that is not theirs: refused" {
	# Before: the pages of the parent (anyone's) went into the process.
	need_user
	start_as_user counter
	run "$CKPT" dump "$TPID" -o "$T/base" --track
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	dump_kill --parent "$T/base"
	IMGPID=$TPID
	"$CKPT_TARGETS/imgtool" set "$T/img" mac=strip
	"$CKPT_TARGETS/imgtool" set "$T/base" mac=strip
	chown "$SEC_UID:$SEC_GID" "$T/img"
	refused "parent image \"$T/base\" is not its owner's alone (uid 0, mode 600): an image not signed by this machine's key takes pages only from files of its owner (uid $SEC_UID)"
	chown "$SEC_UID:$SEC_GID" "$T/base"
	restore_go
	[ "$status" -eq 0 ]
}

@test "a user's image: securebits, a login id, a lower oom_score_adj are what only root may set" {
	# restore/attrs.c and caps.c give them as root would, on root's word only
	need_user
	start_as_user counter
	user_image
	cp "$T/img" "$T/good"
	forge attrs.securebits=1
	refused "the process's securebits (0x1) differ from ckpt's (0*): only root can set them"
	cp "$T/good" "$T/img"
	forge attrs.loginuid=12345
	refused "the process's audit login id (loginuid) was 12345, ckpt's is *: only root (CAP_AUDIT_CONTROL) can set it, $NOT_SIGNED"
	cp "$T/good" "$T/img"
	forge attrs.oom=-1000
	refused "the process's oom_score_adj was -1000, below ckpt's own *: only root (CAP_SYS_RESOURCE) can lower it, $NOT_SIGNED"
	# its own login id (its login session's) is no spoof
	cp "$T/good" "$T/img"
	forge attrs.loginuid="$SEC_UID"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "$COUNTER_SUM" "$T/out"
}

@test "a user's process tree: every process and every zombie held to its owner's rights" {
	# The tree restore (restore/plan.c, tree.c) makes each process from the
	# root stub: each must be checked, not only the first.
	need_user
	start_as_user tree_basic
	user_image
	cp "$T/img" "$T/good"
	forge proc=1 uid=0
	refused "real uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
	cp "$T/good" "$T/img"
	forge proc=2 fsuid=0
	refused "filesystem uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
	cp "$T/good" "$T/img"
	forge zombie.uid=0
	refused "zombie * uid 0 refused: the image's file belongs to uid $SEC_UID, $NOT_SIGNED"
	cp "$T/good" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
	grep -qx 'tree_basic: ok' "$T/out"
}

# --- root's own images ---------------------------------------------------

@test "root's signed image restores with its credentials; unsigned or forged, it is refused" {
	skip_unless_root
	skip_unless_ptrace
	start_target counter
	dump_kill
	IMGPID=$TPID
	run "$CKPT" verify "$T/img"
	[ "$output" = "$T/img: ok (${output#*ok (}" ]
	[[ "$output" == *"; signed by this machine's key)" ]]
	cp "$T/img" "$T/signed"
	# forged by someone who could write it: the MAC no longer matches
	"$CKPT_TARGETS/imgtool" set "$T/img" groups=42
	refused "image is not signed by this machine's key (signed by this machine's key, but changed since) and its file is root's, who may have copied it from anyone: sign it (ckpt sign) or restore it with --trust if you trust it"
	run --separate-stderr "$CKPT" verify "$T/img"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: verify $T/img: image was changed after it was signed by this machine's key (its checksums were made again: forged or edited)" ]
	# no MAC at all (an image from before signing, say)
	cp "$T/signed" "$T/img"
	"$CKPT_TARGETS/imgtool" set "$T/img" mac=strip
	refused "image is not signed by this machine's key (not signed) and its file is root's, who may have copied it from anyone: sign it (ckpt sign) or restore it with --trust if you trust it"
	# the caller vouches
	restore_go --trust
	[ "$status" -eq 0 ]
	grep -qx "$COUNTER_SUM" "$T/out"
}

COUNTER_SUM='counter: 4499798217088'

@test "root's signed images in files others may write: read into private copies, checked as read" {
	# A file others may write can change between the check and the fill:
	# it is read with read(2) and its MAC checked again as it is filled.
	skip_unless_root
	skip_unless_ptrace
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/base" --track
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	dump_kill --parent "$T/base"
	IMGPID=$TPID
	chmod 666 "$T/img" "$T/base"
	cp "$T/img" "$T/img.good"
	cp "$T/base" "$T/base.good"
	# a page changed by one who may write it, its checksums made again
	"$CKPT_TARGETS/imgtool" set "$T/base" pagedata=flip
	refused "parent image \"$T/base\" is signed by this machine's key, but changed since: an image signed by this machine's key takes pages only from parents signed by it"
	# the same, the full image restored itself (a file others may write)
	cp "$T/base" "$T/img"
	refused "image does not match its MAC as a whole (signed by this machine's key, but changed since): its page data was changed after it was signed"
	cp "$T/base.good" "$T/base"
	cp "$T/img.good" "$T/img"
	[ "$(stat -c %a "$T/img"):$(stat -c %a "$T/base")" = 666:666 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "$COUNTER_SUM" "$T/out"
}

# restore/lazy.c: through userfaultfd the image is checked block by block as
# it is copied in; a MAC holds only for the whole image, so one root
# restores on its MAC's word is read to its end first, or, with a DIGESTS
# table (eager or --lazy), checked over that table (docs/image-format.md
# 5.29).  Eager: the blocks are walked, and a block whose CRCs were made
# again is not the block the table names: MAC_ALL fails before the process
# runs.  --lazy: the blocks are indexed from the table, and such a block is
# refused by name when it is first read, before a page of it reaches the
# process, which is killed (so is one changed with its CRC kept:
# lazy-signed.bats).  Before 2026-12-07 (branch lazyfast) the walk of every
# section header found it before the process ran, --lazy too.
@test "--lazy of root's signed images: the MAC of the whole image and of every parent holds before the process runs" {
	skip_unless_root
	skip_unless_ptrace
	"$CKPT" check | grep -q "^userfaultfd restore *ok" || skip "no userfaultfd restore here"
	start_target counter
	run "$CKPT" dump "$TPID" -o "$T/base" --track
	[ "$status" -eq 0 ] || skip "dump --track: $output"
	dump_kill --parent "$T/base"
	IMGPID=$TPID
	cp "$T/img" "$T/img.good"
	cp "$T/base" "$T/base.good"
	# a page changed, its checksums made again: only the MAC tells
	"$CKPT_TARGETS/imgtool" set "$T/base" pagedata=flip
	refused "parent image \"$T/base\" is signed by this machine's key, but changed since: an image signed by this machine's key takes pages only from parents signed by it" --lazy
	refused "parent image \"$T/base\" is signed by this machine's key, but changed since: an image signed by this machine's key takes pages only from parents signed by it"
	cp "$T/base" "$T/img"
	refused "image was changed after it was signed: *page data section at offset * (memory 0x*-0x*) does not match its signed digest; the process was killed before it could use those pages" --lazy
	# --detach: the command returns once the process runs; the server
	# that fills it finds the block, says so and kills it, then exits
	run --separate-stderr timeout 60 "$CKPT" restore "$T/img" --lazy --detach
	echo "status $status, stdout $output, stderr: $stderr"
	[ "$status" -eq 0 ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "ckpt: restore $T/img: image was changed after it was signed: "*"page data section at offset "*" does not match its signed digest; the process was killed before it could use those pages" ]]
	# killed (then reaped by PID 1, which may be late: a zombie is gone)
	local i
	for i in $(seq 200); do
		[ -d "/proc/$output" ] && [ "$(proc_state "$output")" != Z ] || break
		sleep 0.05
	done
	[ ! -d "/proc/$output" ] || [ "$(proc_state "$output")" = Z ]
	# a file others may write is read into private copies: not lazily
	cp "$T/base.good" "$T/base"
	cp "$T/img.good" "$T/img"
	chmod 666 "$T/img"
	restore_go --lazy
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot restore lazily: the image is read into a private copy"* ]]
	grep -qx "$COUNTER_SUM" "$T/out"
	# root's own files: lazily (the parent's pages through userfaultfd)
	chmod 600 "$T/img"
	: >"$T/out"
	restore_go --lazy
	[ "$status" -eq 0 ]
	[[ "$output" != *"cannot restore lazily"* ]]
	grep -qx "$COUNTER_SUM" "$T/out"
}

@test "an image signed on another machine: refused until ckpt sign here, or --trust" {
	skip_unless_root
	skip_unless_ptrace
	start_target counter
	CKPT_KEY_FILE=$T/other.key dump_kill
	IMGPID=$TPID
	[ "$(stat -c %a "$T/other.key")" = 600 ]
	refused "image is not signed by this machine's key (signed with another machine's key) and its file is root's, *"
	run "$CKPT" inspect --json "$T/img"
	[[ "$output" == *'"signature": {'*'"status": "other-key",'* ]]
	run "$CKPT" sign "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "$T/img: signed by this machine's key" ]
	[ "$(stat -c %u:%a "$T/img")" = 0:600 ]
	restore_go
	[ "$status" -eq 0 ]
	grep -qx "$COUNTER_SUM" "$T/out"
}

@test "ckpt sign: root only, damaged images refused, the owner and mode kept" {
	skip_unless_root
	skip_unless_ptrace
	start_target counter
	dump_kill
	"$CKPT_TARGETS/imgtool" set "$T/img" mac=strip
	chown 65534:65534 "$T/img"
	chmod 640 "$T/img"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups "$CKPT" sign "$T/img"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "ckpt: sign: only root can sign images: the key is root's ("*")" ]]
	run "$CKPT" sign "$T/img"
	[ "$status" -eq 0 ]
	[ "$(stat -c %u:%g:%a "$T/img")" = 65534:65534:640 ]
	run "$CKPT" verify "$T/img"
	[[ "$output" == *"; signed by this machine's key)" ]]
	"$CKPT_TARGETS/imgtool" flip "$T/img" $((300 * 8))
	run --separate-stderr "$CKPT" sign "$T/img"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "ckpt: sign $T/img: image is corrupted: "* ]]
	[ ! -e "$T/img.ckpt-sign" ]
}

@test "the key file: made 0600 on first use; one others may read is refused" {
	skip_unless_root
	skip_unless_ptrace
	start_target counter
	CKPT_KEY_FILE=$T/k dump_kill
	[ "$(stat -c %a:%s "$T/k")" = 600:32 ]
	chmod 644 "$T/k"
	start_target counter
	run --separate-stderr env CKPT_KEY_FILE="$T/k" "$CKPT" dump "$TPID" -o "$T/img2"
	[ "$status" -eq 1 ]
	[ "$stderr" = "ckpt: dump $TPID: key file \"$T/k\" may be read or written by others (mode 644): it cannot be trusted (chmod 600, then make a new key if others read it)" ]
	[ ! -e "$T/img2" ]
	run --separate-stderr env CKPT_KEY_FILE="$T/k" "$CKPT" restore "$T/img"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"may be read or written by others"* ]]
}

# --- files opened with credentials the process no longer has -------------

# fd_setuid, started by root: opens $T/secret (root's, mode 600) at fd 50,
# maps it, then becomes the test user (a daemon's way).  $T/out and $T/err
# are the user's, its ready file is in $T/u.
start_setuid() {
	printf 'secret: only root may read this\n' >"$T/secret"
	chmod 600 "$T/secret"
	mkdir -p "$T/u"
	touch "$T/out" "$T/err"
	chown "$SEC_UID:$SEC_GID" "$T/u" "$T/out" "$T/err"
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/u/ready CKPT_GO=$T/go
		exec "$CKPT_TARGETS/fd_setuid" "$T/secret" "$SEC_UID" "$SEC_GID" \
			>>"$T/out" 2>>"$T/err" </dev/null
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/u/ready"
}

@test "a file opened as root before setuid: given back on root's word (signed, --trust), not on the owner's" {
	need_user
	start_setuid
	dump_kill
	IMGPID=$TPID
	cp "$T/img" "$T/signed"
	# only the user's word: the MAC stripped, the file the user's
	"$CKPT_TARGETS/imgtool" set "$T/img" mac=strip
	chown "$SEC_UID:$SEC_GID" "$T/img"
	refused "file \"$T/secret\" (fd 50) cannot be reopened with the process's own credentials (*"
	# root's word: its signed image, or --trust
	rm -f "$T/img"
	cp "$T/signed" "$T/img"
	restore_go
	[ "$status" -eq 0 ]
	"$CKPT_TARGETS/imgtool" set "$T/img" mac=strip
	refused "image is not signed by this machine's key (not signed) and its file is root's, *"
	restore_go --trust
	[ "$status" -eq 0 ]
}

# --- ckpt restore's own descriptors ---------------------------------------

@test "a descriptor ckpt restore was given (300<secret) does not reach the process" {
	# Before: fds above the highest one the child closed were inherited.
	skip_unless_ptrace
	echo secret >"$T/secret"
	start_target counter
	dump_kill
	detached 300<"$T/secret"
	[ ! -e "/proc/$RPID/fd/300" ]
	for fd in /proc/$RPID/fd/*; do
		[ "$(readlink "$fd")" != "$T/secret" ]
	done
}

@test "a pipe at fd 300 comes back as the process's pipe, never ckpt restore's fd 300" {
	# Before: the "substitute ckpt's own fd of that number" rule gave the
	# process ckpt's fd 300, here a file the caller holds.  Since the fd
	# model of version 2 the pipe is made again; the target checks that
	# neither 300 nor 301 is a regular file and that 300 reads nothing.
	skip_unless_ptrace
	echo secret >"$T/secret"
	start_target fd_other_high
	dump_kill
	touch "$T/go"
	run --separate-stderr timeout 60 "$CKPT" restore "$T/img" 300<"$T/secret"
	echo "status $status, stderr: $stderr"
	cat "$T/err"
	[ "$status" -eq 0 ]
	[[ "$stderr" != *"fd 300"* ]]
}

@test "an image naming fd 0, 1 or 2 as a pipe gets ckpt restore's own, and says so" {
	skip_unless_ptrace
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		export CKPT_READY=$T/ready CKPT_GO=$T/go
		# bash leaves the substitution's fd 63 open too: closed
		exec "$CKPT_TARGETS/counter" < <(sleep 600) 63<&- >"$T/out" 2>"$T/err"
	) &
	TPID=$!
	PIDS+=("$TPID")
	wait_file "$T/ready"
	# the pipe's writer (sleep) is the counter's child: not dumped
	spid=$(cat "/proc/$TPID/task/$TPID/children")
	PIDS+=(${spid})
	dump_kill --single
	detached </dev/zero
	[[ "$stderr" == *"fd 0 (pipe:"*") led outside the image: it gets ckpt restore's own fd 0"* ]]
	[ "$(readlink "/proc/$RPID/fd/0")" = /dev/zero ]
}

@test "forged owner 0:0 of a deleted setuid file: made again as the user's, never a setuid root file" {
	# The GHOST state's owner (docs/image-format.md 5.17) is the image's
	# word: root restoring the user's unsigned image makes the file with
	# the user's credentials, which cannot give it to root (fchown needs
	# CAP_CHOWN): a setuid root file of the image's contents, reachable
	# through /proc/PID/fd, would be root for the user.
	need_user
	start_as_user fd_removed "$T/u" owner "$SEC_UID" "$SEC_GID"
	user_image
	forge fd.10.state32.0=0 fd.10.state32.4=0
	# the target checks its file is still the user's, mode 04755
	restore_go
	[ "$status" -eq 0 ]
	[[ "$output" == *"cannot give it back its owner 0:0"*"it is $SEC_UID:$SEC_GID"* ]]
}
