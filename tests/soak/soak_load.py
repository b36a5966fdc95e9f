#!/usr/bin/env python3
"""One kind of client for the soak run, kept busy until its time is up.

soak_load.py KIND --seconds S --out FILE [--targets A,B] [--concurrency N]
             [--size BYTES] [--sha256 HEX] [--socks HOST:PORT] [--dns HOST:PORT]
soak_load.py serve-echo PORT

Kinds (every target in turn, each op on a new connection or socket):
  http      GET /small from port 80, body "hello\\n"
  download  GET /file10m from port 80, checked against --sha256
  echo      --size random bytes to the echo port 7 while reading them back;
            both directions' sha256 must agree
  udp       a stream of 200 datagrams to the UDP echo port 7777, four in
            flight, each matched to its reply byte for byte
  socks     through the SOCKS5 server --socks: CONNECT to a target's port 7
            and an echo of --size bytes, then CONNECT to web.sgtest:80 by
            name and GET /small
  socks-udp through --socks: UDP ASSOCIATE and 50 datagrams to port 7777
  dns       A queries to --dns: new names (n<random>.soak.sgdns) and one
            kept name, each answered 10.9.7.1 or SERVFAIL, never nothing
  idle      --concurrency connections to port 7 held open, each sent 16
            bytes every 20 s and expecting them back; a lost one is counted
            and opened again
  slow      GET /file10m read at 32 KB/s with a 32 KB receive buffer: data
            waits in every buffer on the way (the router's memory), sha256
            checked when it completes
  flood     from --source, --concurrency connections to port 7 opened and
            held, one after another: past sockgated's per-client limit they
            are reset ("shed"), and tried again a second later

Every wait has a limit (--stall, 30 s): a wait that reaches it is a "hang",
the one failure that must never happen (sockgated's own timeouts are a few
seconds). Other failures are counted by kind: reset, refused, early_eof (the
connection ended before all bytes came), socks_reply_N, servfail, lost
datagrams. Bytes that come back different are "corrupt". The results are
written as JSON when the time is up and the ops under way have ended.

serve-echo runs the echo server: every byte back to its sender, and the
connection closed once the sender has closed its side and all is sent.
"""
import argparse
import asyncio
import collections
import errno
import hashlib
import ipaddress
import json
import os
import random
import socket
import struct
import sys
import time

ECHO_PORT = 7
UDP_PORT = 7777
DNS_ANSWER = "10.9.7.1"


class Hang(Exception):
    """A wait that reached the stall limit, dated when the wait began:
    that is when whatever caused it was under way."""

    def __init__(self, since):
        super().__init__(since)
        self.since = since


class Corrupt(Exception):
    pass


class Cut(Exception):
    """An op the end of the run stopped (a slow download): neither a
    success nor a failure."""


class Failed(Exception):
    """A failure the client could see, by kind."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


class Results:
    def __init__(self, kind):
        self.kind = kind
        self.ops = 0
        self.ok = 0
        self.corrupt = 0
        self.cut = 0
        self.failures = collections.Counter()
        self.bytes = 0
        self.datagrams_sent = 0
        self.datagrams_lost = 0
        self.slowest = 0.0
        self.events = []  # (wall clock, kind) of each failure and lost datagram

    def fail(self, kind, when=None, began=None):
        """Counts a failure, dated when (now by default); began, when the op
        it ended began, lets the report tie a slow read's late end to the
        upstream's death during it."""
        self.failures[kind] += 1
        event = [round(when if when is not None else time.time(), 3), kind]
        if began is not None:
            event.append(round(began, 3))
        self.events.append(event)

    def hang(self, exc, began=None):
        self.fail("hang", exc.since, began)

    def lost(self):
        self.datagrams_lost += 1
        self.events.append((round(time.time(), 3), "lost_datagram"))

    def as_dict(self):
        return {
            "kind": self.kind,
            "ops": self.ops,
            "ok": self.ok,
            "corrupt": self.corrupt,
            "cut": self.cut,
            "failures": dict(self.failures),
            "bytes": self.bytes,
            "datagrams_sent": self.datagrams_sent,
            "datagrams_lost": self.datagrams_lost,
            "slowest_s": round(self.slowest, 3),
            "events": self.events,
        }


def failure_kind(exc):
    if isinstance(exc, Failed):
        return exc.kind
    if isinstance(exc, asyncio.IncompleteReadError):
        return "early_eof"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


async def limit(aw, stall):
    """Awaits aw; a wait of stall seconds or more is a hang."""
    since = time.time()
    try:
        return await asyncio.wait_for(aw, stall)
    except asyncio.TimeoutError:
        raise Hang(since) from None


async def run_op(res, op):
    start, began = time.monotonic(), time.time()
    res.ops += 1
    try:
        await op()
        res.ok += 1
    except Corrupt:
        res.corrupt += 1
        res.events.append((round(time.time(), 3), "corrupt"))
    except Cut:
        res.cut += 1
    except Hang as exc:
        res.hang(exc, began)
    except Exception as exc:  # every other way an op ends is a failure by kind
        res.fail(failure_kind(exc), began=began)
    res.slowest = max(res.slowest, time.monotonic() - start)


# A slow reader's own buffers: small, so that what it reads next was sent
# only seconds ago and an upstream's end reaches it within seconds, as it
# would reach a phone on a slow link
SLOW_RCVBUF = 32768
SLOW_STREAM_LIMIT = 16384


async def open_tcp(host, port, stall, small_buffers=False):
    if not small_buffers:
        return await limit(asyncio.open_connection(host, port), stall)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        # before connect, so the window scale is chosen for it
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_RCVBUF)
        sock.setblocking(False)
        await limit(asyncio.get_running_loop().sock_connect(sock, (host, port)), stall)
        return await asyncio.open_connection(sock=sock, limit=SLOW_STREAM_LIMIT)
    except BaseException:
        sock.close()
        raise


def close_writer(writer):
    try:
        writer.transport.abort()
    except Exception:
        pass


async def http_get(a, res, target, path, want_len, want_sha=None, want_body=None, pace=None):
    reader, writer = await open_tcp(target, 80, a.stall, small_buffers=pace is not None)
    try:
        writer.write(b"GET %s HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n" % path)
        head = await limit(reader.readuntil(b"\r\n\r\n"), a.stall)
        if not head.startswith(b"HTTP/1.1 200"):
            raise Failed("http_status")
        length = None
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        if length != want_len:
            raise Corrupt()
        digest = hashlib.sha256()
        body = b""
        got = 0
        while got < length:
            chunk = await limit(reader.read(min(16384 if pace else 1 << 16, length - got)), a.stall)
            if not chunk:
                raise Failed("early_eof")
            digest.update(chunk)
            if want_body is not None:
                body += chunk
            got += len(chunk)
            res.bytes += len(chunk)
            if pace:
                if time.monotonic() >= a.deadline:
                    raise Cut()
                await asyncio.sleep(pace)
        if want_body is not None and body != want_body:
            raise Corrupt()
        if want_sha and digest.hexdigest() != want_sha:
            raise Corrupt()
    finally:
        close_writer(writer)


async def echo_both_ways(a, res, reader, writer, size):
    """Sends size random bytes while reading them back; the sha256 of what
    went and what came must agree."""
    sent_hash, back_hash = hashlib.sha256(), hashlib.sha256()

    async def send():
        left = size
        while left:
            chunk = os.urandom(min(1 << 16, left))
            sent_hash.update(chunk)
            writer.write(chunk)
            await limit(writer.drain(), a.stall)
            left -= len(chunk)
        writer.write_eof()

    async def receive():
        got = 0
        while got < size:
            chunk = await limit(reader.read(1 << 16), a.stall)
            if not chunk:
                raise Failed("early_eof")
            back_hash.update(chunk)
            got += len(chunk)
            res.bytes += len(chunk)

    sender = asyncio.ensure_future(send())
    try:
        await receive()
        await sender
    finally:
        if not sender.done():
            sender.cancel()
            try:
                await sender
            except BaseException:
                pass
    if sent_hash.digest() != back_hash.digest():
        raise Corrupt()


async def echo_op(a, res, target):
    reader, writer = await open_tcp(target, ECHO_PORT, a.stall)
    try:
        await echo_both_ways(a, res, reader, writer, a.size)
    finally:
        close_writer(writer)


def socks_addr(host, port):
    try:
        ip = ipaddress.ip_address(host)
        return (b"\x01" if ip.version == 4 else b"\x04") + ip.packed + struct.pack(">H", port)
    except ValueError:
        name = host.encode()
        return b"\x03" + bytes([len(name)]) + name + struct.pack(">H", port)


async def read_socks_addr(reader, stall):
    atyp = (await limit(reader.readexactly(1), stall))[0]
    if atyp == 1:
        raw = await limit(reader.readexactly(6), stall)
        return str(ipaddress.IPv4Address(raw[:4])), struct.unpack(">H", raw[4:])[0]
    if atyp == 4:
        raw = await limit(reader.readexactly(18), stall)
        return str(ipaddress.IPv6Address(raw[:16])), struct.unpack(">H", raw[16:])[0]
    if atyp == 3:
        n = (await limit(reader.readexactly(1), stall))[0]
        raw = await limit(reader.readexactly(n + 2), stall)
        return raw[:n].decode(), struct.unpack(">H", raw[n:])[0]
    raise Failed("socks_bad_reply")


async def socks_request(a, cmd, host, port):
    """A SOCKS5 session (no authentication) with one request; the reader,
    the writer and the bound address of a granted request."""
    server, sport = a.socks.rsplit(":", 1)
    reader, writer = await open_tcp(server.strip("[]"), int(sport), a.stall)
    try:
        writer.write(b"\x05\x01\x00")
        if await limit(reader.readexactly(2), a.stall) != b"\x05\x00":
            raise Failed("socks_method")
        writer.write(b"\x05" + bytes([cmd]) + b"\x00" + socks_addr(host, port))
        rep = await limit(reader.readexactly(3), a.stall)
        if rep[1] != 0:
            raise Failed("socks_reply_%d" % rep[1])
        bound = await read_socks_addr(reader, a.stall)
        return reader, writer, bound
    except BaseException:
        close_writer(writer)
        raise


async def socks_op(a, res, target, by_name):
    if by_name:
        reader, writer, _ = await socks_request(a, 1, "web.sgtest", 80)
        try:
            writer.write(b"GET /small HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            data = await limit(reader.read(), a.stall)
            res.bytes += len(data)
            if not data.startswith(b"HTTP/1.1 200"):
                raise Failed("early_eof" if not data else "http_status")
            if not data.endswith(b"\r\n\r\nhello\n"):
                raise Corrupt()
        finally:
            close_writer(writer)
        return
    reader, writer, _ = await socks_request(a, 1, target, ECHO_PORT)
    try:
        await echo_both_ways(a, res, reader, writer, a.size)
    finally:
        close_writer(writer)


class DatagramQueue(asyncio.DatagramProtocol):
    def __init__(self):
        self.queue = asyncio.Queue()

    def datagram_received(self, data, addr):
        self.queue.put_nowait((data, addr))

    def error_received(self, exc):
        pass  # an ICMP error: the datagram is counted lost when its time runs out


async def datagram_stream(a, res, transport, proto, count, wrap, unwrap):
    """Sends count numbered datagrams, four in flight; each reply must carry
    its datagram's bytes. Lost ones are counted, not failed."""
    stream = random.getrandbits(32)
    outstanding = {}
    loop = asyncio.get_running_loop()
    next_seq, done = 0, 0
    while done < count:
        while next_seq < count and len(outstanding) < 4:
            payload = struct.pack(">IIQ", stream, next_seq, 0) + os.urandom(232)
            outstanding[next_seq] = (payload, loop.time() + 2.0)
            wrap(transport, payload)
            res.datagrams_sent += 1
            next_seq += 1
        deadline = min(d for _, d in outstanding.values())
        try:
            data, addr = await asyncio.wait_for(proto.queue.get(), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            now = loop.time()
            for seq in [s for s, (_, d) in outstanding.items() if d <= now]:
                del outstanding[seq]
                res.lost()
                done += 1
            continue
        payload = unwrap(data, addr)
        if payload is None or len(payload) < 16:
            raise Corrupt()
        got_stream, seq = struct.unpack(">II", payload[:8])
        if got_stream != stream or seq not in outstanding:
            continue  # a late reply of one already counted lost
        if outstanding.pop(seq)[0] != payload:
            raise Corrupt()
        res.bytes += len(payload)
        done += 1


async def udp_op(a, res, target):
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(DatagramQueue, remote_addr=(target, UDP_PORT))
    try:
        await datagram_stream(a, res, transport, proto, 200, lambda t, p: t.sendto(p), lambda d, addr: d)
    finally:
        transport.close()


async def socks_udp_op(a, res, target):
    family = socket.AF_INET6 if ":" in a.socks.rsplit(":", 1)[0] else socket.AF_INET
    reader, writer, relay = await socks_request(a, 3, "::" if family == socket.AF_INET6 else "0.0.0.0", 0)
    loop = asyncio.get_running_loop()
    transport = None
    try:
        transport, proto = await loop.create_datagram_endpoint(DatagramQueue, remote_addr=relay)
        header = b"\x00\x00\x00" + socks_addr(target, UDP_PORT)

        def unwrap(data, addr):
            return data[len(header):] if data.startswith(header) else None

        await datagram_stream(a, res, transport, proto, 50, lambda t, p: t.sendto(header + p), unwrap)
    finally:
        if transport:
            transport.close()
        close_writer(writer)


def dns_query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)


def dns_answer_address(msg, query):
    """RCODE and the first A record's address of a reply to query."""
    if len(msg) < len(query) or msg[:2] != query[:2] or msg[12:len(query)] != query[12:]:
        raise Corrupt()
    rcode = msg[3] & 0x0F
    ancount = struct.unpack(">H", msg[6:8])[0]
    pos = len(query)
    for _ in range(ancount):
        if msg[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while msg[pos]:
                pos += msg[pos] + 1
            pos += 1
        rtype, _, _, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        if rtype == 1 and rdlen == 4:
            return rcode, str(ipaddress.IPv4Address(msg[pos:pos + 4]))
        pos += rdlen
    return rcode, None


async def dns_op(a, res, name):
    host, port = a.dns.rsplit(":", 1)
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(DatagramQueue, remote_addr=(host.strip("[]"), int(port)))
    try:
        query = dns_query(random.getrandbits(16), name)
        transport.sendto(query)
        try:
            data, _ = await asyncio.wait_for(proto.queue.get(), a.stall)
        except asyncio.TimeoutError:
            raise Failed("no_answer") from None
        res.bytes += len(data)
        try:
            rcode, addr = dns_answer_address(data, query)
        except (IndexError, struct.error):
            raise Corrupt() from None
        if rcode == 2:
            raise Failed("servfail")
        if rcode != 0 or addr != DNS_ANSWER:
            raise Corrupt()
    finally:
        transport.close()


async def worker(a, res, deadline, make_op, n):
    i = n
    while time.monotonic() < deadline:
        await run_op(res, make_op(i))
        i += a.concurrency


async def idle_holder(a, res, deadline, target):
    """One connection kept open and probed every 20 s until the deadline.
    Between probes a read waits on it, so a connection that dies is counted
    when it dies, not at the next probe."""
    conn = None
    while time.monotonic() < deadline:
        if conn is None:
            res.ops += 1
            try:
                conn = await open_tcp(target, ECHO_PORT, a.stall)
                res.ok += 1
            except Hang as exc:
                res.hang(exc)
            except Exception as exc:
                res.fail(failure_kind(exc))
                await asyncio.sleep(1.0)
                continue
        reader, writer = conn
        try:
            wait = min(20.0, max(0.0, deadline - time.monotonic()))
            try:
                early = await asyncio.wait_for(reader.read(1), wait)
            except asyncio.TimeoutError:
                early = None  # idle, as it should be
            if early is not None:
                raise Failed("early_eof") if not early else Corrupt()
            probe = os.urandom(16)
            res.ops += 1
            writer.write(probe)
            if await limit(reader.readexactly(16), a.stall) != probe:
                raise Corrupt()
            res.ok += 1
            continue
        except Corrupt:
            res.corrupt += 1
            res.events.append((round(time.time(), 3), "corrupt"))
        except Hang as exc:
            res.hang(exc)
        except Exception as exc:
            res.fail(failure_kind(exc))
        close_writer(writer)
        conn = None
    if conn is not None:
        close_writer(conn[1])


async def flood_holder(a, res, deadline, target):
    """One connection from --source held open; reset, it is counted as shed
    and tried again a second later."""
    while time.monotonic() < deadline:
        res.ops += 1
        writer = None
        try:
            reader, writer = await limit(asyncio.open_connection(target, ECHO_PORT, local_addr=(a.source, 0)),
                                         a.stall)
            res.ok += 1
            left = deadline - time.monotonic()
            try:
                await asyncio.wait_for(reader.read(1), max(0.0, left))
                res.fail("shed")
            except asyncio.TimeoutError:
                pass  # held to the end
        except Hang as exc:
            res.hang(exc)
        except Exception as exc:
            res.fail("shed" if failure_kind(exc) == "reset" else failure_kind(exc))
        if writer:
            close_writer(writer)
        await asyncio.sleep(1.0)


async def run(a):
    res = Results(a.label or a.kind)
    deadline = a.deadline = time.monotonic() + a.seconds
    targets = a.targets.split(",")

    def pick(i):
        return targets[i % len(targets)]

    makers = {
        "http": lambda i: lambda: http_get(a, res, pick(i), b"/small", 6, want_body=b"hello\n"),
        "download": lambda i: lambda: http_get(a, res, pick(i), b"/file10m", a.size, want_sha=a.sha256),
        "slow": lambda i: lambda: http_get(a, res, pick(i), b"/file10m", a.size, want_sha=a.sha256, pace=0.5),
        "echo": lambda i: lambda: echo_op(a, res, pick(i)),
        "udp": lambda i: lambda: udp_op(a, res, pick(i)),
        "socks": lambda i: lambda: socks_op(a, res, pick(i), i % 2 == 1),
        "socks-udp": lambda i: lambda: socks_udp_op(a, res, pick(i)),
        "dns": lambda i: lambda: dns_op(a, res, "kept.soak.sgdns" if i % 4 == 0 else "n%08x.soak.sgdns" % random.getrandbits(32)),
    }
    if a.kind == "idle":
        tasks = [idle_holder(a, res, deadline, pick(i)) for i in range(a.concurrency)]
    elif a.kind == "flood":
        tasks = [flood_holder(a, res, deadline, pick(i)) for i in range(a.concurrency)]
    else:
        tasks = [worker(a, res, deadline, makers[a.kind], n) for n in range(a.concurrency)]
    await asyncio.gather(*tasks)
    return res


async def serve_echo(port):
    async def one(reader, writer):
        try:
            while True:
                data = await reader.read(1 << 16)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    servers = [await asyncio.start_server(one, "0.0.0.0", port, backlog=1024, reuse_address=True),
               await asyncio.start_server(one, "::", port, backlog=1024, reuse_address=True,
                                          family=socket.AF_INET6)]
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve-echo":
        asyncio.run(serve_echo(int(sys.argv[2])))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["http", "download", "echo", "udp", "socks", "socks-udp", "dns", "idle", "slow",
                                       "flood"])
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--label")
    ap.add_argument("--targets", default="")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--sha256")
    ap.add_argument("--socks")
    ap.add_argument("--dns")
    ap.add_argument("--source")
    ap.add_argument("--stall", type=float, default=30.0)
    a = ap.parse_args()
    res = asyncio.run(run(a))
    with open(a.out, "w") as f:
        json.dump(res.as_dict(), f)
        f.write("\n")


if __name__ == "__main__":
    main()
