#!/bin/bash
# make fuzz's runner: the regression inputs and seeds once (any crash
# there fails at once), then libFuzzer in fork mode with JOBS workers for
# SECONDS, then the figures: execs, exec/s, coverage, corpus, crashes.
# Usage: tests/fuzz/run.sh FUZZER FUZZ_DIR SECONDS JOBS MAXLEN
set -u
BIN=${1:?fuzzer}
D=${2:?fuzz dir}
SECONDS_=${3:-60}
JOBS=${4:-2}
MAXLEN=${5:-262144}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$D/corpus" "$D/crashes"
log=$D/fuzz.log

# -close_fd_mask=3: ckpt's error lines would flood the log (sanitizer
# reports still get through, libFuzzer keeps a copy of stderr for them).
"$BIN" -runs=0 -close_fd_mask=3 "$D/seeds" "$top/tests/fuzz/regress" >"$D/regress.log" 2>&1 ||
	{ tail -40 "$D/regress.log"; echo "fuzz: a seed or regression input fails: see $D/regress.log"; exit 1; }

before=$(ls "$D/crashes" | wc -l)
start=$(date +%s)
"$BIN" -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	-max_total_time="$SECONDS_" -max_len="$MAXLEN" -timeout=20 -rss_limit_mb=4096 \
	-close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$D/crashes/" \
	"$D/corpus" "$D/seeds" >"$log" 2>&1
status=$?
secs=$(( $(date +%s) - start ))
after=$(ls "$D/crashes" | wc -l)

# Fork mode's progress lines: "#EXECS: cov: C ft: F corp: N exec/s: R ...".
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
echo "fuzz: $secs s, $JOBS jobs: $last"
echo "fuzz: ${execs:-0} execs, $(( ${execs:-0} / (secs > 0 ? secs : 1) )) exec/s overall," \
	"$(ls "$D/corpus" | wc -l) inputs in $D/corpus," \
	"$((after - before)) new crashes in $D/crashes (log: $log)"
grep -E '^(==[0-9]+==ERROR|SUMMARY|.*broken promise)' "$log" | sort | uniq -c | head -20
[ "$after" -eq "$before" ] && [ "$status" -eq 0 ]
