# A python3 program holding what was removed: a tempfile.TemporaryFile
# (O_TMPFILE: never had a name) made sparse (1 GiB, a line written at
# 512 MiB), and a working directory it made and removed.  After GO it
# says how each behaves, on one line; the test compares it with what an
# uninterrupted run prints.
# Usage: python3 removed_files.py DIR
import os, sys, tempfile, time

d = sys.argv[1]
f = tempfile.TemporaryFile(dir=d)
f.seek(512 << 20)
f.write(b"sparse line\n")
f.truncate(1 << 30)
f.flush()
os.mkdir(os.path.join(d, "wd"))
os.chdir(os.path.join(d, "wd"))
os.rmdir(os.path.join(d, "wd"))
open(os.environ["CKPT_READY"], "w").close()
while not os.path.exists(os.environ["CKPT_GO"]):
    time.sleep(0.05)

st = os.fstat(f.fileno())
f.seek(512 << 20)
line = f.readline().decode().strip()
f.seek(0)
hole = f.read(4096) == bytes(4096)
try:
    open("new", "w")
    made = "made a file in the removed cwd"
except FileNotFoundError:
    made = "no file in the removed cwd"
print("python: %s, size %d, hole %s, sparse %s, %s, cwd %s" % (
    line, st.st_size, hole, st.st_blocks * 512 <= (1 << 20), made,
    os.readlink("/proc/self/cwd").endswith("wd (deleted)")))
