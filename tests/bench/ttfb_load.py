#!/usr/bin/env python3
"""Time to first byte for make bench: short HTTP GETs, a new connection each,
from the start of the TCP connect to the first byte of the response.
Usage: ttfb_load.py HOST PORT PATH COUNT CONCURRENCY
prints: p50_ms N / p99_ms N / failed N"""
import asyncio
import statistics
import sys
import time

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count, concurrency = int(sys.argv[4]), int(sys.argv[5])
request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()


async def one():
    t0 = time.monotonic()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 10)
    writer.write(request)
    await writer.drain()
    first = await asyncio.wait_for(reader.read(1), 10)
    t1 = time.monotonic()
    await reader.read()
    writer.close()
    if not first:
        raise ConnectionError("no response")
    return (t1 - t0) * 1000


async def main():
    times, failed, left = [], 0, count

    async def worker():
        nonlocal failed, left
        while left > 0:
            left -= 1
            try:
                times.append(await one())
            except Exception:
                failed += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    times.sort()
    print("p50_ms %.2f" % (statistics.median(times) if times else 0))
    print("p99_ms %.2f" % (times[int(len(times) * 0.99) - 1] if times else 0))
    print("failed %d" % failed)


asyncio.run(main())
