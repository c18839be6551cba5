#!/bin/bash
# A pipeline with bytes in flight (issue 12): seq 1 N | awk summing
# i % 7.  bash, seq and awk are the tree; the pipe between seq and awk
# holds up to its 64 KiB of numbers.  Once awk has read a quarter of them
# it says $CKPT_READY and waits for $CKPT_GO (a sleep at a time), while
# seq fills the pipe and blocks: a dump takes both mid-stream with the
# pipe full.  After restore awk must get every number exactly once: the
# total is that of an uninterrupted run.
# Usage: pipeline.sh DIR [N]
dir=$1 n=${2:-2000000}
seq 1 "$n" | awk -v q=$((n / 4)) -v ready="$CKPT_READY" -v go="$CKPT_GO" '
	NR == q && ready != "" {
		printf "" > ready
		close(ready)
		while ((getline x < go) < 0)
			system("sleep 0.05")
		close(go)
	}
	{ s += $1 % 7 }
	END { print NR, s }'
