#!/usr/bin/env python3
"""A name server that knows one name: answers A queries for NAME with ADDR,
NXDOMAIN for everything else. For testing that sockgated follows a changed
/etc/resolv.conf. Usage: tiny_dns.py LISTEN_ADDR NAME ADDR [--silent LOG]
--silent: answers nothing, and writes one line per query to LOG."""
import socket
import struct
import sys


def main():
    listen, name, addr = sys.argv[1], sys.argv[2].lower().rstrip("."), sys.argv[3]
    silent = open(sys.argv[5], "a", buffering=1) if sys.argv[4:5] == ["--silent"] else None
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((listen, 53))
    while True:
        query, peer = sock.recvfrom(512)
        if silent:
            silent.write("query\n")
            continue
        if len(query) < 12:
            continue
        qid, flags, qdcount = struct.unpack(">HHH", query[:6])
        # the question: labels, then QTYPE and QCLASS
        pos, labels = 12, []
        while pos < len(query) and query[pos]:
            labels.append(query[pos + 1:pos + 1 + query[pos]].decode(errors="replace"))
            pos += 1 + query[pos]
        pos += 1
        if pos + 4 > len(query):
            continue
        qtype = struct.unpack(">H", query[pos:pos + 2])[0]
        question = query[12:pos + 4]
        known = ".".join(labels).lower() == name
        answers = b""
        if known and qtype == 1:
            answers = (b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4)
                       + socket.inet_aton(addr))
        rcode = 0 if known else 3
        header = struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, 1 if answers else 0, 0, 0)
        sock.sendto(header + question + answers, peer)


if __name__ == "__main__":
    main()
