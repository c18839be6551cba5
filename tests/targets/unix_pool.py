#!/usr/bin/env python3
# A pool of workers talking to their master over a unix socket (issue
# 12): the master listens on DIR/master.sock (multiprocessing.connection's
# Listener), forks 3 workers that connect to it (Client) and compute the
# chunks it sends them, i * i % 1000 summed over 64 chunks of 0..N.  Two
# chunks per worker are in flight (one being computed, one queued in its
# socket), so a dump finds bytes queued both ways.  $CKPT_READY once 16
# chunks are in; from then on no new chunk goes out before $CKPT_GO
# exists (the results of those out come in meanwhile), so the job is
# mid-work at the dump however slow the machine.  At the end a late
# worker connects to the listener (still listening after a restore) and
# computes chunk 0 once more.  Prints the total.
# Usage: unix_pool.py DIR [N]
import multiprocessing as mp
from multiprocessing.connection import Client, Listener, wait
import os
import sys

N = int(sys.argv[2]) if len(sys.argv) > 2 else 4_000_000
CHUNKS = 64
WORKERS = 3


def part(k):
    lo, hi = k * N // CHUNKS, (k + 1) * N // CHUNKS
    return sum(i * i % 1000 for i in range(lo, hi))


def worker(addr):
    with Client(addr, family='AF_UNIX') as c:
        while True:
            k = c.recv()
            if k is None:
                return
            c.send((k, part(k)))


if __name__ == '__main__':
    mp.set_start_method('fork')
    addr = os.path.join(sys.argv[1], 'master.sock')
    with Listener(addr, family='AF_UNIX') as listener:
        procs = [mp.Process(target=worker, args=(addr,)) for _ in range(WORKERS)]
        for p in procs:
            p.start()
        conns = [listener.accept() for _ in range(WORKERS)]
        todo = list(range(CHUNKS))
        total = done = 0
        for c in conns:
            for _ in range(2):
                c.send(todo.pop(0))
        go = os.environ.get('CKPT_GO')
        idle = []
        while done < CHUNKS:
            for c in wait(conns, 0.05):
                k, s = c.recv()
                total += s
                done += 1
                if done == 16 and os.environ.get('CKPT_READY'):
                    open(os.environ['CKPT_READY'], 'w').close()
                idle.append(c)
            while idle and todo and (done < 16 or not go or os.path.exists(go)):
                idle.pop(0).send(todo.pop(0))
        for c in conns:
            c.send(None)
        for p in procs:
            p.join()
        late = mp.Process(target=worker, args=(addr,))
        late.start()
        with listener.accept() as c:
            c.send(0)
            k, s = c.recv()
            c.send(None)
        late.join()
        if (k, s) != (0, part(0)):
            sys.exit('late worker: wrong answer %r' % ((k, s),))
    print(total)
