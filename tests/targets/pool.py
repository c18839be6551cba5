#!/usr/bin/env python3
# python3 multiprocessing Pool (issue 12): 4 workers (forked) summing
# i * i % 1000 over 64 chunks of the range 0..N; the parent collects the
# chunks as they come (imap_unordered) and prints the total.  The pool's
# queues are pipes and its locks POSIX semaphores (shared memory) between
# the parent, its helper threads and the workers.  $CKPT_READY once 16
# chunks are in, so a dump takes the pool mid-work; after restore the
# total must be the known one.
# Usage: pool.py DIR [N]
import multiprocessing as mp
import os
import sys

N = int(sys.argv[2]) if len(sys.argv) > 2 else 6_400_000
CHUNKS = 64


def part(k):
    lo, hi = k * N // CHUNKS, (k + 1) * N // CHUNKS
    return sum(i * i % 1000 for i in range(lo, hi))


if __name__ == '__main__':
    mp.set_start_method('fork')
    total = 0
    with mp.Pool(4) as pool:
        for n, s in enumerate(pool.imap_unordered(part, range(CHUNKS), chunksize=1), 1):
            total += s
            if n == 16 and os.environ.get('CKPT_READY'):
                open(os.environ['CKPT_READY'], 'w').close()
    print(total)
