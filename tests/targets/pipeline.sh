#!/bin/bash
# A pipeline with bytes in flight (issue 12): seq 1 N | awk summing
# i % 7.  bash, seq and awk are the tree; the pipe between seq and awk
# holds up to its 64 KiB of numbers at any moment.  $CKPT_READY from awk
# once it has read a quarter of them (seq is blocked on the full pipe or
# writing), so a dump takes both mid-stream; after restore awk must get
# every number exactly once: the total is that of an uninterrupted run.
# Usage: pipeline.sh DIR [N]
dir=$1 n=${2:-2000000}
seq 1 "$n" | awk -v q=$((n / 4)) -v ready="$CKPT_READY" '
	NR == q && ready != "" { printf "" > ready; close(ready) }
	{ s += $1 % 7 }
	END { print NR, s }'
