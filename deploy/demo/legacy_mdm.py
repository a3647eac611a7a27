#!/usr/bin/env python3
"""A stand-in for a legacy on-prem MDM server: plain HTTP/1.1, no TLS, Python standard library only.

atsgate's demo puts it behind https://127.0.0.1:8443; the integration tests use it as the real
backend. Endpoints:

  PUT  /mdm/checkin          MDM check-in (Authenticate / TokenUpdate / CheckOut plist): 200 + ack plist
  PUT  /mdm/server           command poll: 200 + a DeviceInformation command plist
  GET  /mdm/enroll           a tiny enrollment profile (application/x-apple-aspen-config)
  GET  /.well-known/...      404 (the legacy server predates account-driven enrollment)

  ANY  /echo                 echoes the request body with the request's Content-Type
  ANY  /sha256               reads the body, answers "<sha256 hex> <length>"
  ANY  /early                answers 200 "early" at once, then reads the body, then closes
  GET  /bytes/N[?chunked=1]  N bytes of a fixed pattern (Content-Length, or chunked)
  GET  /headers              the request head as JSON: {"method","target","headers":[[name,value]...]}
  GET  /redirect?to=URL      302 with Location: URL
  GET  /slow?ms=N            waits N ms, then 200 "slow"
  GET  /close                HTTP/1.0-style body delimited by closing the connection
  ANY  /hangup               reads the request, then closes the connection without answering
  ANY  /reset                reads the request, then resets the connection (TCP RST, no answer)
  ANY  /garbage              answers bytes that are no HTTP response, then closes
  GET  /status/N             empty response with status N
  GET/POST /scep?operation=OP SCEP stand-in: GetCACaps -> capabilities (text/plain); any other
                             operation -> the request head as JSON, like /headers
  GET  /plist?url=URL        an XML plist (application/xml) whose ServerURL string is URL
  GET  /health               200 "up" while healthy, 503 "down" after /health/down
  GET  /health/down|up       switches what /health answers (for health-check tests)

Every request line it receives is appended to --log (if given), so tests can prove that a
refused request never reached the backend. With --name NAME every response carries
"X-Backend: NAME", so tests running several backends can tell which one answered. With
--tls-cert/--tls-key it serves HTTPS instead (an https:// upstream member; TLS 1.2+).
"""

import argparse
import hashlib
import json
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

PATTERN = bytes(range(256)) * 256  # 64 KiB, repeated for /bytes/N

CHECKIN_ACK = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Status</key>
  <string>Acknowledged</string>
  <key>Server</key>
  <string>legacy-mdm-demo</string>
</dict>
</plist>
"""

COMMAND = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>CommandUUID</key>
  <string>0B5A1B7C-6E2D-4C42-9B59-2F8E3C1D0A11</string>
  <key>Command</key>
  <dict>
    <key>RequestType</key>
    <string>DeviceInformation</string>
    <key>Queries</key>
    <array><string>OSVersion</string><string>SerialNumber</string></array>
  </dict>
</dict>
</plist>
"""

PROFILE = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>PayloadDisplayName</key><string>Legacy MDM demo enrollment</string>
  <key>PayloadIdentifier</key><string>com.example.legacy-mdm.enroll</string>
  <key>PayloadType</key><string>Configuration</string>
  <key>PayloadUUID</key><string>9C1C6E0B-3C0F-4E5A-A1A9-5D7D2C0E6F10</string>
  <key>PayloadVersion</key><integer>1</integer>
  <key>PayloadContent</key><array/>
</dict>
</plist>
"""


PLIST_WITH_URL = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>ServerURL</key>
  <string>@URL@</string>
</dict>
</plist>
"""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LegacyMDM/1.0"
    disable_nagle_algorithm = True  # head and body are separate writes; don't let Nagle delay the body
    log_lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------------------------
    def setup(self):
        # TLS: the handshake runs here, on the request's own thread, so a slow or broken client
        # never blocks the accept loop.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def end_headers(self):
        if self.server.name:
            self.send_header("X-Backend", self.server.name)
        super().end_headers()

    def log_message(self, fmt, *args):  # quiet unless --verbose
        if self.server.verbose:
            sys.stderr.write("legacy-mdm: " + (fmt % args) + "\n")

    def record(self):
        if self.server.request_log:
            with Handler.log_lock, open(self.server.request_log, "a", encoding="utf-8") as f:
                f.write(self.requestline + "\n")

    def body_chunks(self):
        """Yields the request body in pieces (Content-Length or chunked)."""
        te = self.headers.get("Transfer-Encoding", "")
        if te.lower() == "chunked":
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left:
                    piece = self.rfile.read(min(left, 1 << 20))
                    if not piece:
                        raise ConnectionError("truncated chunk")
                    left -= len(piece)
                    yield piece
                self.rfile.readline(3)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                piece = self.rfile.read(min(left, 1 << 20))
                if not piece:
                    raise ConnectionError("truncated body")
                left -= len(piece)
                yield piece

    def read_body(self):
        return b"".join(self.body_chunks())

    def reply(self, status, body=b"", ctype="text/plain; charset=utf-8", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    # -- routing -------------------------------------------------------------------------------
    def handle_any(self):
        self.record()
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        if path == "/sha256":
            h, n = hashlib.sha256(), 0
            for piece in self.body_chunks():
                h.update(piece)
                n += len(piece)
            return self.reply(200, f"{h.hexdigest()} {n}\n".encode())
        if path == "/early":
            self.close_connection = True
            self.reply(200, b"early\n", extra=[("Connection", "close")])
            try:  # drain the body after answering, so that closing sends no reset
                for _ in self.body_chunks():
                    pass
            except (ConnectionError, OSError):
                pass
            return None
        body = self.read_body()
        if path == "/mdm/checkin" and self.command == "PUT":
            return self.reply(200, CHECKIN_ACK, "application/xml")
        if path == "/mdm/server" and self.command == "PUT":
            return self.reply(200, COMMAND, "application/xml")
        if path == "/mdm/enroll":
            return self.reply(200, PROFILE, "application/x-apple-aspen-config")
        if path == "/echo":
            return self.reply(200, body, self.headers.get("Content-Type", "application/octet-stream"))
        if path.startswith("/bytes/"):
            return self.send_bytes(int(path[len("/bytes/"):]), query.get("chunked") == ["1"])
        if path == "/scep" and query.get("operation") == ["GetCACaps"]:
            return self.reply(200, b"POSTPKIOperation\nSHA-256\nAES\n")
        if path == "/headers" or (path == "/scep" and "operation" in query):
            doc = {"method": self.command, "target": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                   "body_length": len(body)}
            return self.reply(200, json.dumps(doc).encode(), "application/json")
        if path == "/redirect":
            return self.reply(302, b"", extra=[("Location", query.get("to", ["/"])[0])])
        if path == "/slow":
            time.sleep(int(query.get("ms", ["1000"])[0]) / 1000.0)
            return self.reply(200, b"slow\n")
        if path == "/close":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"closed-delimited body\n")
            self.close_connection = True
            return None
        if path == "/hangup":
            self.close_connection = True  # not one byte of a response
            return None
        if path == "/garbage":
            self.wfile.write(b"\x00\x01 this is not HTTP\r\n\r\n")
            self.close_connection = True
            return None
        if path == "/reset":
            # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return None
        if path.startswith("/status/"):
            return self.reply(int(path[len("/status/"):]), b"")
        if path == "/plist":
            url = escape(query.get("url", ["http://example.com/"])[0])
            doc = PLIST_WITH_URL.replace(b"@URL@", url.encode())
            return self.reply(200, doc, "application/xml")
        if path == "/health":
            up = self.server.healthy
            return self.reply(200 if up else 503, b"up\n" if up else b"down\n")
        if path in ("/health/down", "/health/up"):
            self.server.healthy = path == "/health/up"
            return self.reply(200, b"ok\n")
        return self.reply(404, b"not found\n")

    def send_bytes(self, n, chunked):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        left = n
        while left:
            piece = PATTERN[: min(left, len(PATTERN))]
            if chunked:
                self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            left -= len(piece)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_OPTIONS = do_PATCH = handle_any


class Server(socketserver.ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    tls = None  # ssl.SSLContext when serving HTTPS

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--log", help="append every request line to this file")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--name", default="", help="send X-Backend: NAME with every response")
    ap.add_argument("--tls-cert", help="serve HTTPS with this PEM chain (needs --tls-key)")
    ap.add_argument("--tls-key", help="PEM private key for --tls-cert")
    args = ap.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    srv = Server((args.address, args.port), Handler)
    srv.request_log = args.log
    srv.verbose = args.verbose
    srv.name = args.name
    srv.healthy = True
    if args.tls_cert:
        srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        srv.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        srv.tls.load_cert_chain(args.tls_cert, args.tls_key)
    scheme = "https" if srv.tls else "http"
    print(f"legacy-mdm: listening on {scheme}://{args.address}:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
