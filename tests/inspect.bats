#!/usr/bin/env bats
# ckpt inspect: the summary of a real image, as text and as JSON.  The
# target (targets/spin.c) has three threads spinning in spin_here(), one
# in a copy of it in anonymous memory (its code is only in the image's
# page data), and a main thread asleep in clock_nanosleep.
#
# Tests tagged arch-independent (JSON, streams, damaged images and usage; the
# guest inspects registers, syscall and code of its own image) run on the host
# only: the arm64 guest leaves them out (tests/run-checks.sh).

load test_helper

# dump_spin [DUMP OPTIONS]: start the spin target and dump it (it keeps
# running) into $T/img.  Sets TIDS to its thread IDs.
dump_spin() {
	start_target spin
	TIDS=$(ls /proc/"$TPID"/task | sort -n | tr '\n' ' ')
	run "$CKPT" dump "$TPID" -o "$T/img" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "inspect: the PID, the thread count, spin_here and the code at its PC (compressed)" {
	skip_unless_ptrace
	dump_spin
	run --separate-stderr "$CKPT" inspect "$T/img"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	[[ "$output" == *"process   $TPID (spin)"* ]]
	grep -qx 'threads   5' <<<"$output"
	# Three workers in spin_here, each with its instruction marked; the
	# copy has no symbol, but its code is decoded from the page data.
	[ "$(grep -c '^  thread [0-9]* (spin): pc 0x[0-9a-f]* in spin_here+0x' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^    => 0x[0-9a-f]* <spin_here+0x[0-9a-f]*>:' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^    => 0x[0-9a-f]*:  ' <<<"$output")" -eq 1 ]
	! grep -q 'no code' <<<"$output" || false
	# The main thread sleeps in the kernel.
	grep -q '^    in syscall clock_nanosleep ([0-9]*)$' <<<"$output"
	grep -q '^mappings  [0-9]*: pages [0-9]* stored, [0-9]* present, [0-9]* total$' <<<"$output"
	grep -q ' \[stack\]$' <<<"$output"
	grep -q '^pages     [0-9]* stored in [0-9]* blocks, 0 in the parent image$' <<<"$output"
}

# check_json FILE TPID TIDS: the schema's promises about the spin target.
check_json() {
	python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
pid, tids = int(sys.argv[2]), sorted(int(t) for t in sys.argv[3].split())
for k in ("schema", "header", "process", "threads", "mappings", "files", "signals", "stats"):
    assert k in d, k
assert d["header"]["arch"] and d["header"]["page_size"] >= 4096
assert d["process"]["pid"] == pid, d["process"]
assert d["process"]["cmdline"][0].endswith("/spin"), d["process"]["cmdline"]
th = d["threads"]
assert isinstance(th, list) and sorted(t["tid"] for t in th) == tids, (th, tids)
assert th[0]["tid"] == pid
for t in th:
    for k in ("tid", "pc", "sp", "symbol", "syscall", "registers", "blocked", "code"):
        assert k in t, k
    assert int(t["pc"], 16) and int(t["registers"][next(iter(t["registers"]))], 16) >= 0
spin = [t for t in th if t["symbol"] and t["symbol"]["name"] == "spin_here"]
assert len(spin) == 3, [t["symbol"] for t in th]
jit = [t for t in th if t["mapping"] is None]
assert len(jit) == 1 and jit[0]["symbol"] is None, jit
for t in spin + jit:
    assert t["syscall"] is None
    at = [i for i in t["code"]["instructions"] if i["at_pc"]]
    assert len(at) == 1 and at[0]["addr"] == t["pc"], t["code"]
pc = int(jit[0]["pc"], 16)
v = [v for v in d["mappings"] if int(v["start"], 16) <= pc < int(v["end"], 16)]
assert len(v) == 1 and v[0]["perm"] == "r-xp" and v[0]["pages"]["stored"] == 1, v
assert th[0]["syscall"]["name"] == "clock_nanosleep", th[0]["syscall"]
m = d["mappings"]
assert isinstance(m, list) and len(m) > 5
for v in m:
    p = v["pages"]
    assert 0 <= p["stored"] <= p["present"] <= p["total"], v
    assert p["total"] * d["header"]["page_size"] == v["size"], v
assert any(v["path"] == "[stack]" for v in m)
assert sum(v["pages"]["stored"] for v in m) == d["stats"]["pages"]
assert [f["fd"] for f in d["files"]][:3] == [0, 1, 2], d["files"]
PY
}

# bats test_tags=arch-independent
@test "inspect --json: valid JSON, one object per thread, mappings with page counts" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_spin --compress none
	run --separate-stderr "$CKPT" inspect --json "$T/img"
	[ "$status" -eq 0 ]
	[ -z "$stderr" ]
	printf '%s\n' "$output" >"$T/json"
	run check_json "$T/json" "$TPID" "$TIDS"
	echo "$output"
	[ "$status" -eq 0 ]
}

# bats test_tags=arch-independent
@test "inspect - reads a stream once and says the same as for the file" {
	command -v python3 >/dev/null || skip "needs python3 (the arm64 guest has none)"
	skip_unless_ptrace
	dump_spin
	"$CKPT" inspect --json "$T/img" | sed '/"image":/d' >"$T/file.json"
	cat "$T/img" | "$CKPT" inspect --json - | sed '/"image":/d' >"$T/stream.json"
	diff "$T/file.json" "$T/stream.json"
	check_json "$T/stream.json" "$TPID" "$TIDS"
}

# bats test_tags=arch-independent
@test "inspect of a damaged image: exit 1, one line" {
	skip_unless_ptrace
	dump_spin
	head -c -1 "$T/img" >"$T/bad"
	run --separate-stderr "$CKPT" inspect "$T/bad"
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(wc -l <<<"$stderr")" -eq 1 ]
	[[ "$stderr" == "ckpt: inspect $T/bad: image is truncated: "* ]]
}

# bats test_tags=arch-independent
@test "inspect: usage errors exit 2" {
	run "$CKPT" inspect
	[ "$status" -eq 2 ]
	run "$CKPT" inspect a b
	[ "$status" -eq 2 ]
	run "$CKPT" inspect --frob x
	[ "$status" -eq 2 ]
}
