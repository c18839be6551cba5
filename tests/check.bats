#!/usr/bin/env bats
# ckpt check: one line per feature, exit 0 when dump and restore can work.
#
# Tests tagged arch-independent (usage errors) run on the host only: the arm64
# guest leaves them out (tests/run-checks.sh).

load test_helper

FEATURES=(
	"ptrace attach" "process_vm_readv" "PR_SET_MM_MAP" "memfd exec"
	"clone3 set_tid" "PAGEMAP_SCAN" "userfaultfd WP async" "userfaultfd restore" "soft-dirty"
	"vdso layout" "yama ptrace_scope" "CAP_SYS_PTRACE" "CAP_SYS_ADMIN"
	"CAP_CHECKPOINT_RESTORE" "CAP_SYS_RESOURCE" "TCP_REPAIR" "nftables"
)

# The line of feature $1 in $output: "NAME  STATE  [what/why]".
feature_line() {
	local line
	while IFS= read -r line; do
		if [[ $line =~ ^$1\ +(ok|missing|limited|error)( |$) ]]; then
			printf '%s\n' "$line"
			return 0
		fi
	done <<<"$output"
	return 1
}

# run_unprivileged CMD...: run as nobody, without capabilities, or skip.
run_unprivileged() {
	local as
	skip_unless_root
	if setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
		as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	elif runuser -u nobody -- true 2>/dev/null; then
		as=(runuser -u nobody --)
	else
		skip "cannot run a command as nobody (setpriv, runuser)"
	fi
	"${as[@]}" test -x "$1" || skip "nobody cannot run $1"
	run "${as[@]}" "$@"
}

@test "check: a line for every feature, with its state; exit 0 here" {
	skip_unless_ptrace
	run --separate-stderr "$CKPT" check
	echo "$output"
	echo "$stderr"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	for f in "${FEATURES[@]}"; do
		feature_line "$f" || { echo "no line for $f"; false; }
	done
	[ "${#lines[@]}" -eq "${#FEATURES[@]}" ]
}

@test "check: the essentials are ok, and no probe fails" {
	skip_unless_ptrace
	run "$CKPT" check
	echo "$output"
	for f in "ptrace attach" "PR_SET_MM_MAP" "memfd exec"; do
		[[ $(feature_line "$f") =~ \ (ok|limited)( |$) ]]
	done
	[[ $(feature_line "process_vm_readv") =~ \ (ok|limited)( |$) ]]
	! grep -E '^.{23}error' <<<"$output" || false
}

@test "check: what is missing or limited says what ckpt does without it" {
	run "$CKPT" check
	echo "$output"
	local line
	while IFS= read -r line; do
		if [[ $line =~ ^.{23}(missing|limited) ]] && [[ ! $line =~ ^.{23}(missing|limited)\ +[a-z] ]]; then
			echo "no consequence: $line"
			return 1
		fi
	done <<<"$output"
}

@test "check: the vdso line lists the special mappings in maps order" {
	run "$CKPT" check
	local want
	want=$(grep -oE '\[(vvar|vvar_vclock|vdso)\]$' /proc/self/maps | paste -sd' ')
	line=$(feature_line "vdso layout")
	echo "$line; want $want"
	got=$(grep -oE '\[(vvar|vvar_vclock|vdso)\]' <<<"$line" | paste -sd' ')
	[ "$got" = "$want" ]
}

# bats test_tags=arch-independent
@test "check: usage errors exit 2" {
	run "$CKPT" check extra
	[ "$status" -eq 2 ]
	run "$CKPT" check --frobnicate
	[ "$status" -eq 2 ]
	run "$CKPT" check -h
	[ "$status" -eq 0 ]
	[[ $output == "usage: ckpt check"* ]]
}

@test "check as nobody: clone3 set_tid is missing, the essentials still work" {
	run_unprivileged "$CKPT" check
	echo "$output"
	[[ $(feature_line "clone3 set_tid") =~ \ missing\ +restored\ processes\ get\ new\ PIDs ]]
	[[ $(feature_line "CAP_SYS_ADMIN") =~ \ missing\  ]]
	[[ $(feature_line "PR_SET_MM_MAP") =~ \ limited\  ]]
	[ "$status" -eq 0 ]
}
