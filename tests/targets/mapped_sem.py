# A python3 program whose multiprocessing.Lock is a POSIX semaphore that
# only its mapping holds (sem_open, then sem_unlink and close: a deleted
# file of /dev/shm mapped MAP_SHARED, no fd), taken before the dump.
# After GO it says on one line how the lock behaves and whether the
# mapping is still that file; the test compares it with what an
# uninterrupted run prints.
# Usage: python3 mapped_sem.py
import multiprocessing, os, time

lock = multiprocessing.Lock()
lock.acquire()
open(os.environ["CKPT_READY"], "w").close()
while not os.path.exists(os.environ["CKPT_GO"]):
    time.sleep(0.05)

held = not lock.acquire(block=False)
lock.release()
again = lock.acquire(block=False)
with open("/proc/self/maps") as m:
    sem = any("/dev/shm/sem." in l and l.rstrip().endswith("(deleted)") and " rw-s " in l
              for l in m)
print("python: lock held %s, taken again once released %s, still a mapping of its deleted file %s"
      % (held, again, sem))
