#!/usr/bin/env python3
"""UDP echo client and server for the transparent UDP tests.

udp_echo.py --serve PORT
udp_echo.py HOST PORT COUNT [--burst] [--size N] [--window W] [--timeout S]
            [--hold S] [--port-file FILE] [--source ADDR]

--serve echoes every datagram to its sender, on PORT of every IPv4 and IPv6
address, from one process (a server forking per datagram, as socat does,
can lose its parent under load).

Sends COUNT datagrams, each with a unique payload, from one socket and
checks that every one comes back byte for byte, and from HOST:PORT itself
(the address the client sent to, as a transparent relay must make it).
--burst sends all of them before reading any; otherwise at most WINDOW are
outstanding at once. --hold keeps the socket open (and idle) for S seconds
afterwards; --port-file gets the local port. Exit 0 when all came back.
"""
import argparse
import os
import select
import socket
import sys
import time


def serve(port):
    socks = []
    for family, addr in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        s = socket.socket(family, socket.SOCK_DGRAM)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind((addr, port))
        socks.append(s)
    while True:
        for s in select.select(socks, [], [])[0]:
            data, src = s.recvfrom(65536)
            s.sendto(data, src)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]))
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("count", type=int)
    ap.add_argument("--burst", action="store_true")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--hold", type=float, default=0.0)
    ap.add_argument("--port-file")
    ap.add_argument("--source", default=None)
    a = ap.parse_args()

    family = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.bind((a.source or ("::" if family == socket.AF_INET6 else "0.0.0.0"), 0))
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write("%d\n" % s.getsockname()[1])
    want_from = socket.getaddrinfo(a.host, a.port, family, socket.SOCK_DGRAM)[0][4][:2]

    def payload(i):
        head = b"%d:" % i
        return head + os.urandom(max(0, a.size - len(head)))

    sent = {}
    got = 0
    wrong = 0
    next_i = 0
    deadline = time.monotonic() + a.timeout
    s.setblocking(False)
    while got < a.count and time.monotonic() < deadline:
        limit = a.count if a.burst else min(a.count, got + wrong + a.window)
        while next_i < limit:
            p = payload(next_i)
            sent[p.split(b":", 1)[0]] = p
            s.sendto(p, (a.host, a.port))
            next_i += 1
        r, _, _ = select.select([s], [], [], 0.5)
        if not r:
            # nothing for a while: whatever is outstanding is lost; keep
            # the window moving so the count shows what was lost
            if not a.burst and next_i < a.count:
                wrong += limit - got - wrong
            continue
        while True:
            try:
                data, src = s.recvfrom(65536)
            except BlockingIOError:
                break
            key = data.split(b":", 1)[0]
            if src[:2] != want_from:
                print("reply from %s, not %s" % (src[:2], want_from), file=sys.stderr)
                wrong += 1
            elif sent.pop(key, None) != data:
                wrong += 1
            else:
                got += 1
    print("%d/%d echoed, %d wrong or lost" % (got, a.count, wrong))
    if a.hold:
        time.sleep(a.hold)
    sys.exit(0 if got == a.count else 1)


if __name__ == "__main__":
    main()
