#!/usr/bin/env python3
"""An HTTP server that sends its body slowly: the crash test's long download.

trickle_server.py PORT

Every request gets a 200 with a body of 10,000,000 bytes sent 50 KB every
50 ms (so it takes ten seconds and little of it waits in buffers), with
Content-Length, or for a path starting /nolength without: the end of the
connection is the end of the body, as HTTP/1.0 allows."""
import socket
import sys
import threading
import time

SIZE = 10_000_000
CHUNK = 50_000


def serve(conn):
    with conn:
        try:
            request = conn.recv(4096)
            length = b"" if b" /nolength" in request else b"Content-Length: %d\r\n" % SIZE
            conn.sendall(b"HTTP/1.1 200 OK\r\n" + length + b"Connection: close\r\n\r\n")
            sent = 0
            while sent < SIZE:
                conn.sendall(b"x" * min(CHUNK, SIZE - sent))
                sent += CHUNK
                time.sleep(0.05)
        except OSError:
            pass


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", int(sys.argv[1])))
    ls.listen(64)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
