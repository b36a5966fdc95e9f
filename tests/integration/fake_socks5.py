#!/usr/bin/env python3
"""A SOCKS5 upstream that misbehaves on purpose, for what real servers do
only by chance: it reads the pipelined greeting + CONNECT request, checks
they came in one read, then writes the reply and the target's first bytes
("EARLY-BANNER") in a single send. Usage: fake_socks5.py ADDR PORT LOG"""
import socket
import sys


def main():
    addr, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.settimeout(5)
            first = conn.recv(4096)
            # greeting 05 01 00, then 05 01 00 01 <4 addr> <2 port>
            pipelined = len(first) == 13 and first[:3] == b"\x05\x01\x00" and first[3:5] == b"\x05\x01"
            with open(log, "a") as f:
                f.write(f"first read {len(first)} bytes, pipelined={pipelined}\n")
            if not pipelined:
                continue
            conn.sendall(b"\x05\x00" + b"\x05\x00\x00\x01\x0a\x00\x00\x01\x04\x38" + b"EARLY-BANNER\n")
            try:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    conn.sendall(data)
            except OSError:
                pass


main()
