#!/usr/bin/env python3
# A python3 event loop of its own: a selector (epoll) waits on a
# self-pipe that worker threads write their results into, and on the
# pipe the signal module wakes it through (signal.set_wakeup_fd) for a
# periodic SIGALRM.  It says it is ready at once (CKPT_READY) and prints
# one line when done:
#   python selector loop: 400 jobs, sum 64240200, alarms ok
# whatever happened to it meanwhile: a dump mid-work, a kill, a restore.
import os, selectors, signal, struct, threading, time

JOBS = 400
sel = selectors.DefaultSelector()
results_r, results_w = os.pipe()
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
alarms = 0

def on_alarm(signo, frame):
    global alarms
    alarms += 1

signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)
sel.register(results_r, selectors.EVENT_READ, "result")
sel.register(wake_r, selectors.EVENT_READ, "wakeup")

def worker(first, step):
    for i in range(first, JOBS + 1, step):
        time.sleep(0.01)
        os.write(results_w, struct.pack("<QQ", i, i * i * 3))

if os.environ.get("CKPT_READY"):
    open(os.environ["CKPT_READY"], "w").close()
threads = [threading.Thread(target=worker, args=(k, 2)) for k in (1, 2)]
for t in threads:
    t.start()
done, total, buf = 0, 0, b""
while done < JOBS:
    for key, _ in sel.select(timeout=1.0):
        if key.data == "wakeup":
            os.read(wake_r, 4096)
            continue
        buf += os.read(results_r, 4096)
        while len(buf) >= 16:
            i, v = struct.unpack("<QQ", buf[:16])
            buf = buf[16:]
            done += 1
            total += v
for t in threads:
    t.join()
signal.setitimer(signal.ITIMER_REAL, 0, 0)
print(f"python selector loop: {done} jobs, sum {total}, alarms {'ok' if alarms > 0 else 'none'}", flush=True)
