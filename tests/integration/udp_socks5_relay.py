#!/usr/bin/env python3
"""A SOCKS5 upstream for UDP ASSOCIATE only, answering with the relay
address a server behind NAT or with a careless config gives, to test how
sockgated picks where to send datagrams.

udp_socks5_relay.py ADDR PORT MODE [SOURCE]

TCP and UDP both on ADDR:PORT. The reply's BND.ADDR is 0.0.0.0 (MODE
"zero") or 192.0.2.1, an address nobody reaches (MODE "bogus"); BND.PORT
is PORT. Datagrams (RFC 1928 section 7 header, IPv4 only) are relayed to
their destination from port PORT+1 (all addresses) and whatever arrives
there, from anyone (full cone), goes back with the header naming the
sender (or, hostile, SOURCE "ADDR:PORT" whoever sent it), to the client
address that sent last."""
import selectors
import socket
import struct
import sys


def main():
    addr, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    spoof = None
    if len(sys.argv) > 4:
        host, sport = sys.argv[4].rsplit(":", 1)
        spoof = (host, int(sport))
    bnd = b"\x00\x00\x00\x00" if mode == "zero" else socket.inet_aton("192.0.2.1")
    sel = selectors.DefaultSelector()
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.bind((addr, port))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind(("0.0.0.0", port + 1))
    sel.register(srv, selectors.EVENT_READ, "accept")
    sel.register(relay, selectors.EVENT_READ, "relay")
    sel.register(out, selectors.EVENT_READ, "out")
    client = None
    while True:
        for key, _ in sel.select():
            sock, what = key.fileobj, key.data
            if what == "accept":
                conn, _ = srv.accept()
                sel.register(conn, selectors.EVENT_READ, "control")
            elif what == "control":
                data = b""
                try:
                    data = sock.recv(512)
                except OSError:
                    pass
                if not data:
                    sel.unregister(sock)
                    sock.close()
                elif data[:2] == b"\x05\x01" and len(data) == 3:
                    sock.sendall(b"\x05\x00")
                elif data[:3] == b"\x05\x03\x00":
                    sock.sendall(b"\x05\x00\x00\x01" + bnd + struct.pack("!H", port))
                elif data[:5] == b"\x05\x01\x00\x05\x03":  # pipelined
                    sock.sendall(b"\x05\x00" + b"\x05\x00\x00\x01" + bnd + struct.pack("!H", port))
                else:
                    sel.unregister(sock)
                    sock.close()
            elif what == "relay":
                data, client = relay.recvfrom(65536)
                if len(data) < 10 or data[:4] != b"\x00\x00\x00\x01":
                    continue
                dst = (socket.inet_ntoa(data[4:8]), struct.unpack("!H", data[8:10])[0])
                out.sendto(data[10:], dst)
            elif what == "out":
                data, src = out.recvfrom(65536)
                src = spoof or src
                if client:
                    hdr = b"\x00\x00\x00\x01" + socket.inet_aton(src[0]) + struct.pack("!H", src[1])
                    relay.sendto(hdr + data, client)


main()
