#!/usr/bin/env python3
"""Opens up to N connections to HOST:80 and completes one HTTP request on
each, so every flow is fully relayed, then holds them idle until stdin
closes. Prints "ready K": how many were relayed (a proxy out of fds resets
or refuses the rest)."""
import socket
import sys


def main():
    host, count = sys.argv[1], int(sys.argv[2])
    socks = []
    request = b"GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"
    for _ in range(count):
        try:
            s = socket.create_connection((host, 80), timeout=10)
            s.sendall(request)
            socks.append(s)
        except OSError:
            break
    ok = 0
    for s in socks:
        data = b""
        try:
            while b"hello" not in data:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        except OSError:
            pass
        ok += b"hello" in data
    print(f"ready {ok}", flush=True)
    sys.stdin.read()


main()
