#!/usr/bin/env python3
"""A SOCKS5 client for what curl cannot show: raw reply codes, the absence
of any reply byte, UDP ASSOCIATE, BIND, connection limits. One check per
run; prints one line and exits 0 when the outcome is the expected one.

  socks_client.py SERVER PORT connect TARGET TPORT [--user U --password P]
        prints "REP n" (the SOCKS5 reply code) or "CLOSED" / "STATUS n";
        a TARGET "name:X" is sent as the domain name X, even an address
  socks_client.py SERVER PORT optimistic TARGET TPORT
        sends greeting, request and an HTTP GET in one segment (no waiting
        for replies); prints the replies' codes and the HTTP body
  socks_client.py SERVER PORT burst COUNT TARGET TPORT
        COUNT CONNECT requests at once (greeting and request in one
        segment); prints "REPLIES n REP r" once all are answered
  socks_client.py SERVER PORT silent [--source ADDR]
        prints "NO-REPLY" if the server closes without sending a byte
  socks_client.py SERVER PORT names-hangup COUNT PREFIX TPORT
        COUNT requests for PREFIXn.sgtest, each connection closed at once
  socks_client.py SERVER PORT burst-auth COUNT RIGHT USER PASSWORD [--source A]
        COUNT logins at once, only number RIGHT (from 0) with PASSWORD;
        prints "ACCEPTED n" for how many were let in
  socks_client.py SERVER PORT offer-password
        offers only username/password, sends RFC 1929 bytes regardless;
        prints "METHOD n" (the method the server chose)
  socks_client.py SERVER PORT auth USER PASSWORD [--source ADDR]
        prints "STATUS n CLOSED|OPEN"
  socks_client.py SERVER PORT command CMD
        prints "REP n" for a request with command byte CMD
  socks_client.py SERVER PORT udp TARGET TPORT PAYLOAD [--user U --password P]
        prints "ECHO <source> <payload>" for the datagram that came back
  socks_client.py SERVER PORT bind PEER BNDFILE
        writes BND to BNDFILE, waits for the peer, prints "BIND <peer> <data>"
  socks_client.py SERVER PORT hold COUNT
        opens COUNT connections that send nothing; prints how many the
        server closed within the next seconds: "CLOSED n OF COUNT AFTER s"
  socks_client.py SERVER PORT limit COUNT
        opens connections one by one (greeting each); prints "ACCEPTED n"
        for how many got a method reply before one was closed unanswered
"""
import ipaddress
import socket
import struct
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def encode_addr(target, port):
    if target.startswith("name:"):  # sent as a domain name, whatever it looks like
        name = target[5:].encode()
        return b"\x03" + bytes([len(name)]) + name + struct.pack(">H", port)
    try:
        ip = ipaddress.ip_address(target)
        if ip.version == 4:
            return b"\x01" + ip.packed + struct.pack(">H", port)
        return b"\x04" + ip.packed + struct.pack(">H", port)
    except ValueError:
        name = target.encode()
        return b"\x03" + bytes([len(name)]) + name + struct.pack(">H", port)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_addr(sock):
    atyp = read_exact(sock, 1)[0]
    if atyp == 1:
        ip = ipaddress.ip_address(read_exact(sock, 4))
    elif atyp == 4:
        ip = ipaddress.ip_address(read_exact(sock, 16))
    else:
        raise ValueError("reply ATYP %d" % atyp)
    port = struct.unpack(">H", read_exact(sock, 2))[0]
    return str(ip), port


def dial(server, port, source=None, timeout=10):
    """A TCP connection to the server, from source when one is given."""
    sock = socket.socket(family_of(server), socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source:
        sock.bind((source, 0))
    sock.connect((server, port))
    return sock


def open_session(server, port, user=None, password=None, source=None):
    """Connects and negotiates; returns the socket or prints why not."""
    try:
        # a refused client is reset, which may show at the connect already
        sock = dial(server, port, source)
        sock.sendall(b"\x05\x01" + (b"\x02" if user else b"\x00"))
        ver, method = read_exact(sock, 2)
    except (EOFError, ConnectionResetError, BrokenPipeError):
        print("CLOSED")
        sys.exit(1)
    if method == 0xFF:
        print("NO-ACCEPTABLE-METHOD")
        sys.exit(1)
    if method == 2:
        u, p = user.encode(), password.encode()
        sock.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        status = read_exact(sock, 2)[1]
        if status != 0:
            print("STATUS %d" % status)
            sys.exit(1)
    return sock


def request(sock, cmd, target, port):
    sock.sendall(b"\x05" + bytes([cmd]) + b"\x00" + encode_addr(target, port))
    ver, rep, rsv = read_exact(sock, 3)
    return rep, read_addr(sock)


def opt(args, name):
    return args[args.index(name) + 1] if name in args else None


def main():
    server, port, what, args = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
    user, password = opt(args, "--user"), opt(args, "--password")

    if what == "connect":
        sock = open_session(server, port, user, password)
        try:
            rep, _ = request(sock, 1, args[0], int(args[1]))
        except EOFError:
            print("CLOSED")
            return 1
        print("REP %d" % rep)
        return 0

    if what == "optimistic":
        sock = dial(server, port)
        get = b"GET /small HTTP/1.0\r\nHost: x\r\n\r\n"
        sock.sendall(b"\x05\x01\x00" + b"\x05\x01\x00" + encode_addr(args[0], int(args[1])) + get)
        method = read_exact(sock, 2)[1]
        rep = read_exact(sock, 3)[1]
        read_addr(sock)
        body = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            body += chunk
        print("METHOD %d REP %d BODY %s" % (method, rep, body.split(b"\r\n\r\n", 1)[-1].decode().strip()))
        return 0

    if what == "burst":
        count, target, tport = int(args[0]), args[1], int(args[2])
        msg = b"\x05\x01\x00\x05\x01\x00" + encode_addr(target, tport)
        socks = []
        for _ in range(count):
            s = dial(server, port)
            s.sendall(msg)
            socks.append(s)
        reps = set()
        for s in socks:
            data = b""
            while len(data) < 4:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
            reps.add(data[3] if len(data) >= 4 else -1)
            s.close()
        print("REPLIES %d REP %s" % (len(socks), ",".join(str(r) for r in sorted(reps))))
        return 0

    if what == "command":
        sock = open_session(server, port)
        rep, _ = request(sock, int(args[0], 0), "10.0.0.1", 80)
        print("REP %d" % rep)
        return 0

    if what == "silent":
        try:
            # the reset of a refused client may show at the connect already
            sock = dial(server, port, opt(args, "--source"), timeout=5)
            sock.sendall(b"\x05\x01\x00")
            data = sock.recv(16)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        print("NO-REPLY" if data == b"" else "GOT %r" % data)
        return 0 if data == b"" else 1

    if what == "names-hangup":
        # COUNT requests for fresh names, each connection closed right after
        # its request is sent; prints "SENT n"
        count, prefix, tport = int(args[0]), args[1], int(args[2])
        for i in range(count):
            sock = dial(server, port)
            sock.sendall(b"\x05\x01\x00\x05\x01\x00" + encode_addr("name:%s%d.sgtest" % (prefix, i), tport))
            sock.close()
        print("SENT %d" % count)
        return 0

    if what == "burst-auth":
        # COUNT logins sent at once (greeting and RFC 1929 request in one
        # segment, no waiting), the right password at position RIGHT only
        count, right, user, good = int(args[0]), int(args[1]), args[2], args[3]
        socks = []
        for i in range(count):
            u = user.encode()
            p = (good if i == right else "wrong-%d" % i).encode()
            try:
                # past max_conns_per_client a connection is reset, which
                # may show at the connect already: not accepted
                sock = dial(server, port, opt(args, "--source"))
                sock.sendall(b"\x05\x01\x02" + b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
            except (ConnectionResetError, BrokenPipeError):
                continue
            socks.append(sock)
        accepted = 0
        for sock in socks:
            try:
                data = b""
                while len(data) < 4:
                    chunk = sock.recv(4 - len(data))
                    if not chunk:
                        break
                    data += chunk
                if len(data) == 4 and data[1] == 2 and data[3] == 0:
                    accepted += 1
            except OSError:
                pass
            sock.close()
        print("ACCEPTED %d" % accepted)
        return 0

    if what == "offer-password":
        # RFC 1928 lets a client offer username/password alone; a server
        # with no passwords must refuse it (0xFF), and survive the RFC 1929
        # bytes that follow anyway
        sock = dial(server, port)
        sock.sendall(b"\x05\x01\x02")
        method = read_exact(sock, 2)[1]
        try:
            sock.sendall(b"\x01\x01u\x01p")
            sock.recv(16)
        except OSError:
            pass
        print("METHOD %d" % method)
        return 0

    if what == "auth":
        sock = dial(server, port, opt(args, "--source"))
        sock.sendall(b"\x05\x01\x02")
        read_exact(sock, 2)
        u, p = args[0].encode(), args[1].encode()
        sock.sendall(b"\x01" + bytes([len(u)]) + u + bytes([len(p)]) + p)
        status = read_exact(sock, 2)[1]
        try:
            sock.settimeout(2)
            closed = sock.recv(1) == b""
        except socket.timeout:
            closed = False
        except ConnectionResetError:
            closed = True
        print("STATUS %d %s" % (status, "CLOSED" if closed else "OPEN"))
        return 0

    if what == "udp":
        target, tport, payload = args[0], int(args[1]), args[2].encode()
        ctl = open_session(server, port, user, password)
        udp = socket.socket(family_of(server), socket.SOCK_DGRAM)
        udp.bind((ctl.getsockname()[0], 0))
        rep, (bnd, bport) = request(ctl, 3, udp.getsockname()[0], udp.getsockname()[1])
        if rep != 0:
            print("REP %d" % rep)
            return 1
        udp.settimeout(2)
        # a stranger's datagram (wrong port) must be ignored, not relayed
        stranger = socket.socket(family_of(server), socket.SOCK_DGRAM)
        stranger.bind((ctl.getsockname()[0], 0))
        stranger.sendto(b"\x00\x00\x00" + encode_addr(target, tport) + b"stranger", (bnd, bport))
        for attempt in range(3):
            udp.sendto(b"\x00\x00\x00" + encode_addr(target, tport) + payload, (bnd, bport))
            # a fragment must be dropped
            udp.sendto(b"\x00\x00\x01" + encode_addr(target, tport) + b"fragment", (bnd, bport))
            try:
                data, _ = udp.recvfrom(65535)
            except socket.timeout:
                continue
            if data[:3] != b"\x00\x00\x00":
                print("BAD-HEADER %r" % data[:4])
                return 1
            atyp = data[3]
            alen = 4 if atyp == 1 else 16
            src = ipaddress.ip_address(data[4:4 + alen])
            sport = struct.unpack(">H", data[4 + alen:6 + alen])[0]
            body = data[6 + alen:]
            print("ECHO %s:%d %s" % (src, sport, body.decode(errors="replace")))
            try:
                stranger.settimeout(0.5)
                stranger.recvfrom(65535)
                print("STRANGER-GOT-A-REPLY")
                return 1
            except socket.timeout:
                pass
            # the association ends with its TCP connection
            ctl.close()
            time.sleep(0.3)
            udp.sendto(b"\x00\x00\x00" + encode_addr(target, tport) + b"after", (bnd, bport))
            try:
                udp.settimeout(1)
                udp.recvfrom(65535)
                print("RELAYED-AFTER-CLOSE")
                return 1
            except (socket.timeout, ConnectionRefusedError):
                pass
            return 0
        print("NO-ECHO")
        return 1

    if what == "bind":
        peer, bndfile = args[0], args[1]
        sock = open_session(server, port)
        rep, (bnd, bport) = request(sock, 2, peer, 0)
        if rep != 0:
            print("REP %d" % rep)
            return 1
        with open(bndfile + ".tmp", "w") as f:
            f.write("%s %d\n" % (bnd, bport))
        import os
        os.rename(bndfile + ".tmp", bndfile)
        sock.settimeout(15)
        rep, (paddr, pport) = (read_exact(sock, 3)[1], read_addr(sock))
        if rep != 0:
            print("SECOND-REP %d" % rep)
            return 1
        data = read_exact(sock, len("hello-from-peer"))
        sock.sendall(b"hello-from-client\n")
        print("BIND %s %s" % (paddr, data.decode()))
        return 0

    if what == "hold":
        count = int(args[0])
        socks = []
        closed = set()
        for i in range(count):
            s = socket.socket(family_of(server), socket.SOCK_STREAM)
            try:
                s.connect((server, port))
            except ConnectionResetError:
                closed.add(i)  # refused past max_conns_per_client: reset at once
            s.setblocking(False)
            socks.append(s)
        t0 = time.time()
        while time.time() - t0 < float(opt(args, "--within") or 8) and len(closed) < count:
            for i, s in enumerate(socks):
                if i in closed:
                    continue
                try:
                    if s.recv(1) == b"":
                        closed.add(i)
                except BlockingIOError:
                    pass
                except ConnectionResetError:
                    closed.add(i)
            time.sleep(0.1)
        print("CLOSED %d OF %d AFTER %.1f" % (len(closed), count, time.time() - t0))
        return 0

    if what == "limit":
        count = int(args[0])
        held = []
        for i in range(count):
            s = socket.socket(family_of(server), socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                # a refused one is reset: it may show at the connect already
                s.connect((server, port))
                # both methods: the server picks one and waits for more
                s.sendall(b"\x05\x02\x00\x02")
                if len(s.recv(2)) != 2:
                    break
            except (ConnectionResetError, BrokenPipeError, socket.timeout):
                break
            held.append(s)
        print("ACCEPTED %d" % len(held))
        return 0

    print("unknown check " + what, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
