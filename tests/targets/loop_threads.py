#!/usr/bin/python3
# python3 threads (Debian's interpreter): three producers put numbered
# items on a queue.Queue, three consumers add them up under a lock; the
# GIL, the queue's condition variables and the lock are all futex waits
# with and without timeouts.  $CKPT_READY after about 1 s of work, so the
# dump finds them at it; at the end it waits for $CKPT_GO and checks each
# producer's total against the closed form.  Each producer puts N items,
# or 3 times as many as the most any had put when ready, whichever is
# less (printed): the work left after the dump is about 2 s of this
# machine's, however slow (an emulated CPU).
# Usage: loop_threads.py [N]
import os
import queue
import sys
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 600000
q = queue.Queue(maxsize=100)
lock = threading.Lock()
sums = {}
counts = {}


produced = [0, 0, 0]


def producer(k):
    i = 0
    while i < N:
        i += 1
        q.put((k, i))
        produced[k] = i


def consumer():
    while True:
        item = q.get()
        if item is None:
            return
        k, i = item
        with lock:
            sums[k] = sums.get(k, 0) + i
            counts[k] = counts.get(k, 0) + 1


threads = [threading.Thread(target=producer, args=(k,), name="prod-%d" % k) for k in range(3)]
threads += [threading.Thread(target=consumer, name="cons-%d" % k) for k in range(3)]
for t in threads:
    t.start()
time.sleep(1.0)
N = min(N, max(1000, 3 * max(produced)))
if os.environ.get("CKPT_READY"):
    open(os.environ["CKPT_READY"], "w").close()
for t in threads[:3]:
    t.join()
for _ in range(3):
    q.put(None)
for t in threads[3:]:
    t.join()
go = os.environ.get("CKPT_GO")
while go and not os.path.exists(go):
    time.sleep(0.01)

want = N * (N + 1) // 2
bad = [k for k in range(3) if sums.get(k) != want or counts.get(k) != N]
for k in bad:
    sys.stderr.write("python threads: FAIL: producer %d: %s items, sum %s, want %d, %d\n"
                     % (k, counts.get(k), sums.get(k), N, want))
print("python threads: %d items, sum %d n %d" % (sum(counts.values()), sum(sums.values()), N))
sys.exit(1 if bad else 0)
