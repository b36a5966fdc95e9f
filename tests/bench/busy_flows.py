#!/usr/bin/env python3
"""busy_flows.py HOST COUNT

Opens COUNT connections to HOST:80, asks each for /file10m and reads it
slowly (4 KB per connection every 200 ms), so every flow has bytes in
flight and its reader is slower than the network: what a proxy must buffer
for busy, slow clients. Prints "ready K" once K connections have their
first bytes, then keeps reading until stdin closes."""
import asyncio
import sys


async def reader(host, started):
    try:
        r, w = await asyncio.open_connection(host, 80)
        w.write(b"GET /file10m HTTP/1.1\r\nHost: bench\r\n\r\n")
        await w.drain()
        await r.read(4096)
        started.append(1)
        while True:
            await asyncio.sleep(0.2)
            if not await r.read(4096):
                return
    except (OSError, asyncio.IncompleteReadError):
        return


async def main():
    host, count = sys.argv[1], int(sys.argv[2])
    started = []
    tasks = [asyncio.create_task(reader(host, started)) for _ in range(count)]
    for _ in range(300):
        if len(started) >= count:
            break
        await asyncio.sleep(0.1)
    print(f"ready {len(started)}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for t in tasks:
        t.cancel()


asyncio.run(main())
