#!/usr/bin/python3
# A plain python3 job for ckpt (Debian's interpreter, nothing of ours in
# it): counts to N keeping its state in objects, a dict and a list.  It
# creates $CKPT_READY after about 1.5 s of work and keeps working, so it
# is dumped while it runs; at the end it waits for $CKPT_GO, checks its
# state against closed forms and prints the totals.  It also reports the
# longest pause between two checks of the clock (the dump and restore,
# seen from inside) and at which count it was.  It counts to N or to 3
# times the count it was ready at, whichever is less (and says which): the
# work left after the dump is about 3 s of this machine's, however slow.
# Usage: loop.py [N]
import os
import sys
import time


class Acc:
    def __init__(self, key):
        self.key = key
        self.n = 0
        self.total = 0
        self.by_rest = {}

    def add(self, i):
        self.n += 1
        self.total += i
        r = i % 7
        self.by_rest[r] = self.by_rest.get(r, 0) + 1


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 14000000
    ready_file = os.environ.get("CKPT_READY")
    go_file = os.environ.get("CKPT_GO")
    accs = [Acc(k) for k in range(13)]
    words = {}
    recent = []
    t0 = last = time.monotonic()
    ready_at = 0
    pause, pause_at = 0.0, 0

    for i in range(1, n + 1):
        if i > n:
            break
        accs[i % 13].add(i)
        w = "w%d" % (i % 1000)
        words[w] = words.get(w, 0) + i
        recent.append(i)
        if len(recent) > 100:
            del recent[:50]
        if i % 1000 == 0:
            now = time.monotonic()
            if now - last > pause:
                pause, pause_at = now - last, i
            last = now
            if not ready_at and now - t0 >= 1.5:
                ready_at = i
                n = min(n, 3 * i)
                if ready_file:
                    open(ready_file, "w").close()
    while go_file and not os.path.exists(go_file):
        time.sleep(0.01)

    fail = []
    want = n * (n + 1) // 2
    if sum(a.n for a in accs) != n:
        fail.append("counts add up to %d" % sum(a.n for a in accs))
    if sum(a.total for a in accs) != want:
        fail.append("totals add up to %d" % sum(a.total for a in accs))
    for a in accs:
        if sum(a.by_rest.values()) != a.n or a.n != len(range(a.key or 13, n + 1, 13)):
            fail.append("accumulator %d holds %d" % (a.key, a.n))
    if sum(words.values()) != want or len(words) != 1000:
        fail.append("words: %d keys, sum %d" % (len(words), sum(words.values())))
    m = n // 1000
    if words["w0"] != 1000 * m * (m + 1) // 2:
        fail.append("w0 is %d" % words["w0"])
    if recent[-1] != n or recent != list(range(recent[0], n + 1)):
        fail.append("recent list is wrong")
    sys.stderr.write("python: ready at %d, longest pause %.3f s at %d of %d\n"
                     % (ready_at, pause, pause_at, n))
    for f in fail:
        sys.stderr.write("python: FAIL: %s\n" % f)
    print("python: total %d words %d n %d" % (sum(a.total for a in accs), len(words), n))
    return 1 if fail else 0


sys.exit(main())
