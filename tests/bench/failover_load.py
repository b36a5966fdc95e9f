#!/usr/bin/env python3
"""Load for the failover benchmark: THREADS clients each doing short HTTP
GETs to HOST:80, one connection each (2 s timeout), for SECONDS; every
request's start and end (time.time_ns) and whether it got a 200, one line
each, to OUT."""
import socket
import sys
import threading
import time

host, threads, seconds, out = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
records = []
lock = threading.Lock()
stop_at = time.monotonic() + seconds


def client():
    mine = []
    while time.monotonic() < stop_at:
        t0 = time.time_ns()
        ok = 0
        try:
            with socket.create_connection((host, 80), timeout=2) as s:
                s.sendall(b"GET /small HTTP/1.0\r\nHost: x\r\n\r\n")
                got = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
                ok = got.startswith(b"HTTP/1.1 200")
        except OSError:
            ok = 0
        mine.append((t0, time.time_ns(), 1 if ok else 0))
    with lock:
        records.extend(mine)


workers = [threading.Thread(target=client) for _ in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
with open(out, "w") as f:
    for r in sorted(records):
        f.write("%d %d %d\n" % r)
