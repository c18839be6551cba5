#!/bin/bash
# A bash job for ckpt: counts to N in shell arithmetic with its state in
# an associative array and an indexed array.  Like loop.py: $CKPT_READY
# after about 1.5 s of work, dumped while it runs, then it waits for
# $CKPT_GO with sleep(1) (so the restored shell forks and waits for
# children), checks its state and prints the totals and the N it counted
# to: at most 3 times the count it was ready at, so the work left after
# the dump is about 3 s of this machine's, however slow (an emulated CPU).
# Usage: loop.sh [N]
n=${1:-400000}
declare -A words
declare -a last8
total=0 ready_at=0 pause=0 pause_at=0
usec() { local t=${EPOCHREALTIME/[.,]/}; echo $((10#$t)); }
t0=$(usec)
last=$t0
for ((i = 1; i <= n; i++)); do
	total=$((total + i))
	k=w$((i % 100))
	words[$k]=$((${words[$k]:-0} + i))
	last8[i % 8]=$i
	if ((i % 1000 == 0)); then
		now=${EPOCHREALTIME/[.,]/}
		now=$((10#$now))
		if ((now - last > pause)); then
			pause=$((now - last)) pause_at=$i
		fi
		last=$now
		if ((!ready_at && now - t0 >= 1500000)); then
			ready_at=$i
			((3 * i >= n)) || n=$((3 * i))
			[ -z "$CKPT_READY" ] || : >"$CKPT_READY"
		fi
	fi
done
while [ -n "$CKPT_GO" ] && [ ! -e "$CKPT_GO" ]; do
	sleep 0.01
done

fail=0
sum=0
for k in "${!words[@]}"; do
	sum=$((sum + words[$k]))
done
want=$((n * (n + 1) / 2))
if ((total != want || sum != want || ${#words[@]} != 100)); then
	echo "bash: FAIL: total $total, words sum $sum in ${#words[@]} keys, want $want" >&2
	fail=1
fi
for ((j = 0; j < 8; j++)); do
	if ((last8[(n - j) % 8] != n - j)); then
		echo "bash: FAIL: last8 holds ${last8[*]}" >&2
		fail=1
		break
	fi
done
printf 'bash: ready at %d, longest pause %d.%06d s at %d of %d\n' "$ready_at" \
	$((pause / 1000000)) $((pause % 1000000)) "$pause_at" "$n" >&2
echo "bash: total $total words ${#words[@]} n $n"
exit $fail
