#!/usr/bin/env python3
"""Sends raw bytes to an HTTP proxy and reports what came back: the status
code of the first response line (or NONE) and whether the proxy closed the
connection (CLOSED) or kept it (OPEN). The bytes are given with Python
escapes (\\r\\n, \\x00). Usage: http_raw.py HOST PORT BYTES"""
import socket
import sys

host, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
data = text.encode("latin-1").decode("unicode_escape").encode("latin-1")
s = socket.create_connection((host, port), timeout=5)
s.sendall(data)
got, state = b"", "OPEN"
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            state = "CLOSED"
            break
        got += chunk
except socket.timeout:
    pass
except ConnectionResetError:
    state = "CLOSED"
parts = got.split(b" ", 2)
status = parts[1].decode() if len(parts) > 1 and got.startswith(b"HTTP/1.") else "NONE"
print(status, state)
