#!/bin/bash
# make fuzz's runner, for one target: its regression inputs and seeds
# once (any crash there fails at once), then libFuzzer in fork mode with
# JOBS workers for SECONDS, then the figures: execs, exec/s, coverage,
# corpus, crashes.
# Usage: tests/fuzz/run.sh TARGET FUZZ_DIR SECONDS JOBS MAXLEN
#   the fuzzer is FUZZ_DIR/fuzz/TARGET, its seeds FUZZ_DIR/seeds/TARGET,
#   its regression inputs tests/fuzz/regress/TARGET
set -u
T=${1:?target}
D=${2:?fuzz dir}
SECONDS_=${3:-60}
JOBS=${4:-2}
MAXLEN=${5:-262144}
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$D/fuzz/$T
corpus=$D/corpus/$T crashes=$D/crashes/$T seeds=$D/seeds/$T regress=$top/tests/fuzz/regress/$T
mkdir -p "$corpus" "$crashes" "$seeds" "$regress"
log=$D/$T.log

# -close_fd_mask=3: ckpt's error lines would flood the log (sanitizer
# reports still get through, libFuzzer keeps a copy of stderr for them).
"$BIN" -runs=0 -close_fd_mask=3 "$seeds" "$regress" >"$D/$T.regress.log" 2>&1 ||
	{ tail -40 "$D/$T.regress.log"; echo "$T: a seed or regression input fails: see $D/$T.regress.log"; exit 1; }

# Artifacts by kind: crash- and leak- fail the run; oom- (an allocation
# over -rss_limit_mb) and timeout- are listed for a look.
count() { ls "$crashes" | grep -cE "^($1)-" ; }
before=$(count 'crash|leak')
start=$(date +%s)
"$BIN" -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
	-max_total_time="$SECONDS_" -max_len="$MAXLEN" -timeout=20 -rss_limit_mb=4096 -malloc_limit_mb=512 \
	-close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$crashes/" \
	"$corpus" "$seeds" >"$log" 2>&1
status=$?
secs=$(( $(date +%s) - start ))
after=$(count 'crash|leak')

# Fork mode's progress lines: "#EXECS: cov: C ft: F corp: N exec/s: R ...".
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
echo "$T: $secs s, $JOBS jobs: $last"
echo "$T: ${execs:-0} execs, $(( ${execs:-0} / (secs > 0 ? secs : 1) )) exec/s overall," \
	"$(ls "$corpus" | wc -l) inputs in $corpus," \
	"$((after - before)) new crashes in $crashes (log: $log)"
others=$(ls "$crashes" | grep -E '^(oom|timeout|slow-unit)-')
[ -n "$others" ] && echo "$T: out-of-memory and timeout inputs, not counted as crashes:" $others
grep -E '^(==[0-9]+==ERROR|SUMMARY|.*broken promise)' "$log" | sort | uniq -c | head -20
[ "$after" -eq "$before" ] && [ "$status" -eq 0 ]
