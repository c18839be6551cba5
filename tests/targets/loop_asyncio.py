#!/usr/bin/env python3
# python3's asyncio at work: its loop wakes through a socketpair of its
# own (the self-pipe call_soon_threadsafe writes to), worker threads hand
# results back that way, and two coroutines talk over asyncio streams on
# a unix socketpair (a producer writes numbered lines, a consumer sums
# them and answers each).  It says it is ready at once (CKPT_READY) and
# prints one line when done:
#   python asyncio: 300 lines, sum 45150, 400 thread results, sum 21413400
# whatever happened to it meanwhile: a dump mid-work, a kill, a restore.
import asyncio, os, socket, threading, time

LINES, JOBS = 300, 400

async def producer(reader, writer):
    acks = 0
    for i in range(1, LINES + 1):
        writer.write(f"{i}\n".encode())
        await writer.drain()
        if i % 10 == 0:
            await asyncio.sleep(0.01)
    writer.write_eof()
    while await reader.readline():
        acks += 1
    return acks

async def consumer(reader, writer):
    total = 0
    while line := await reader.readline():
        total += int(line)
        writer.write(b"ok\n")
    writer.close()
    return total

def worker(loop, fut_list, first):
    for i in range(first, JOBS + 1, 2):
        time.sleep(0.01)
        loop.call_soon_threadsafe(fut_list.append, i * i)

async def main():
    loop = asyncio.get_running_loop()
    a, b = socket.socketpair()
    ra, wa = await asyncio.open_unix_connection(sock=a)
    rb, wb = await asyncio.open_unix_connection(sock=b)
    results = []
    threads = [threading.Thread(target=worker, args=(loop, results, k)) for k in (1, 2)]
    for t in threads:
        t.start()
    if os.environ.get("CKPT_READY"):
        open(os.environ["CKPT_READY"], "w").close()
    acks, total = await asyncio.gather(producer(ra, wa), consumer(rb, wb))
    while len(results) < JOBS:
        await asyncio.sleep(0.01)
    for t in threads:
        t.join()
    print(f"python asyncio: {acks} lines, sum {total}, {len(results)} thread results, "
          f"sum {sum(results)}", flush=True)

asyncio.run(main())
