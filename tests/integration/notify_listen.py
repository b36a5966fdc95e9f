#!/usr/bin/env python3
"""Stands in for systemd's notification socket: receives sd_notify
datagrams at PATH and writes one line per message to stdout (flushed):
milliseconds since start, then the message with newlines as spaces. On
the first READY=1 it also writes "listening PORT yes|no": whether a TCP
socket of this network namespace listens on PORT at that moment."""
import os
import socket
import sys
import time


def listening(port):
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        return True
        except FileNotFoundError:
            pass
    return False


def main():
    path, port = sys.argv[1], int(sys.argv[2])
    if os.path.exists(path):
        os.unlink(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    start = time.monotonic()
    ready_seen = False
    while True:
        msg = sock.recv(4096).decode(errors="replace")
        print("%d %s" % ((time.monotonic() - start) * 1000, msg.replace("\n", " ")), flush=True)
        if not ready_seen and "READY=1" in msg.split("\n"):
            ready_seen = True
            print("listening %d %s" % (port, "yes" if listening(port) else "no"), flush=True)


if __name__ == "__main__":
    main()
