#!/usr/bin/env python3
"""An HTTP/1.1 origin for the HTTP proxy tests: keep-alive, GET /small
answers "origin", POST /sha answers the sha256 of the body it read
(Content-Length or chunked, after 100 Continue when asked), and every
request is logged as "PEER METHOD PATH" so a test can tell what reached it.
Usage: http_origin.py PORT (IPv4 and IPv6)."""
import hashlib
import http.server
import socket
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def note(self):
        print(self.client_address[0], self.command, self.path, flush=True)

    def reply(self, body, status=200):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        self.note()
        if self.path.startswith("/small"):
            self.reply(b"origin\n")
        elif self.path.startswith("/chunked"):
            # a chunked response with a trailer
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Done")
            self.end_headers()
            for part in (b"chun", b"ked\n"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Done: yes\r\n\r\n")
        elif self.path.startswith("/headers"):
            self.reply("".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode())
        else:
            self.reply(b"no\n", 404)

    do_HEAD = do_GET

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_POST(self):
        self.note()
        self.reply((hashlib.sha256(self.read_body()).hexdigest() + "\n").encode())

    do_PUT = do_POST


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


if __name__ == "__main__":
    Server(("::", int(sys.argv[1])), Handler).serve_forever()
