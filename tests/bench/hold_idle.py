#!/usr/bin/env python3
"""Opens N connections to HOST:80, completes one HTTP request on each so the
flow is fully relayed, then holds them idle until stdin closes or a signal.
Prints "ready N" once all are established."""
import socket
import sys


def main():
    host, count = sys.argv[1], int(sys.argv[2])
    socks = []
    request = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"
    for _ in range(count):
        s = socket.create_connection((host, 80), timeout=30)
        s.sendall(request)
        socks.append(s)
    ok = 0
    for s in socks:
        data = b""
        while b"hello" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        ok += b"hello" in data
    print(f"ready {ok}", flush=True)
    sys.stdin.read()


main()
