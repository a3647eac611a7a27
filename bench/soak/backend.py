#!/usr/bin/env python3
"""The soak's backend: plain HTTP/1.1 on loopback with deterministic bodies and injected faults.

Python standard library only (asyncio). bench/soak/soak starts it, switches its fault mode through
a control port and restarts it (by PID) while traffic runs. Endpoints (every response carries
"X-Soak-Id: ID" when the request named one):

  GET  /small?id=ID                     200, body soak_proto.small_body(ID)
  GET  /dl?id=ID&n=N[&chunked=1]        200, N bytes of soak_proto.pattern_body(ID, N), Content-Length
                                        or chunked (random chunk sizes)
  PUT|POST /up?id=ID                    reads the body (Content-Length or chunked) and answers
                                        soak_proto.upload_answer(ID, sha256, length)
  GET  /health                          200 "up" (atsgate's active health checks)
  anything else                         404

Control port (one command per line, answered "ok ..." or "error ..."):

  ping                     liveness
  mode normal              no faults
  mode slow                every response waits 50-800 ms before its head, downloads pause once
                           50-500 ms mid-body: all of it inside atsgate's timeouts (must not fail)
  mode stall P S           each request with probability P waits S seconds before its head or,
                           for downloads, mid-body (beyond response_timeout: 504 or a cut body)
  mode reset P             each request with probability P has its connection reset (RST) after its
                           head was read, during an upload, or mid-body; new connections are reset on
                           accept with probability P/4
  mode corrupt P           each response body with probability P has one byte flipped: a broken
                           backend no proxy can detect, so the soak must report it (--prove-detection)
  stats                    counters as JSON

SIGTERM: stop accepting, let requests in progress finish (up to 5 s), exit 0. SIGKILL is the
abrupt restart the soak also uses. Every fault it applies and every request it receives is
appended to --events as a JSON line ({"t": CLOCK_MONOTONIC seconds, "ev": ..., "id": ...}), so the
soak can tie a client's failure to the fault that caused it.
"""

import argparse
import asyncio
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import soak_proto  # noqa: E402

HEAD_LIMIT = 65536
IDLE_TIMEOUT = 120.0  # longer than atsgate's upstream keepalive_timeout: atsgate closes idle ones first
IO_TIMEOUT = 60.0     # any single read or write; bounds a connection whose peer vanished


class Reset(Exception):
    """This connection is to be reset now (fault injection)."""


class Backend:
    def __init__(self, args):
        self.args = args
        self.mode = "normal"
        self.p = 0.0
        self.stall_s = 0.0
        self.rng = random.Random(args.seed)
        self.events = open(args.events, "a", buffering=1, encoding="utf-8") if args.events else None
        self.conns = set()
        self.busy = 0
        self.stopping = False
        self.counters = {"connections": 0, "requests": 0, "resets": 0, "stalls": 0, "slowed": 0}

    # -- events -------------------------------------------------------------------------------
    def event(self, ev, **kw):
        if self.events:
            kw.update(t=round(time.monotonic(), 4), ev=ev, pid=os.getpid())
            self.events.write(json.dumps(kw, separators=(",", ":")) + "\n")

    # -- faults -------------------------------------------------------------------------------
    def draw(self, kinds):
        """None, or the fault to apply to the request now starting, given what it could suffer."""
        if self.mode == "reset" and self.rng.random() < self.p:
            return ("reset", self.rng.choice(kinds))
        if self.mode == "stall" and self.rng.random() < self.p:
            return ("stall", self.rng.choice([k for k in kinds if k != "upload"] or ["head"]))
        if self.mode == "slow":
            return ("slow", None)
        return None

    @staticmethod
    def reset_now(writer):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # SO_LINGER {on, 0}: close() sends RST and drops unsent data.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        raise Reset()

    # -- HTTP ---------------------------------------------------------------------------------
    async def handle(self, reader, writer):
        self.counters["connections"] += 1
        task = asyncio.current_task()
        self.conns.add(task)
        try:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.mode == "reset" and self.rng.random() < self.p / 4:
                self.counters["resets"] += 1
                self.event("reset", where="accept")
                self.reset_now(writer)
            for _ in range(1 << 20):  # requests per connection: bounded
                if self.stopping:
                    return
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), IDLE_TIMEOUT)
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                        ConnectionError):
                    return
                self.busy += 1
                try:
                    keep = await self.request(head, reader, writer)
                finally:
                    self.busy -= 1
                if not keep:
                    return
        except (Reset, ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
            return
        finally:
            self.conns.discard(task)
            if not writer.transport.is_closing():
                writer.close()

    async def write(self, writer, data):
        writer.write(data)
        await asyncio.wait_for(writer.drain(), IO_TIMEOUT)

    async def request(self, head, reader, writer):
        """Serves one request; returns whether the connection stays open."""
        self.counters["requests"] += 1
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        rid = q.get("id", "")
        close = headers.get("connection", "").lower() == "close" or version != "HTTP/1.1" or self.stopping
        if url.path != "/health":
            self.event("req", id=rid, m=method, p=url.path)

        kinds = {"/dl": ["head", "body"], "/up": ["head", "upload"]}.get(url.path, ["head"])
        fault = self.draw(kinds)
        if fault and fault[0] == "reset":
            self.counters["resets"] += 1
            if fault[1] != "upload":
                self.event("reset", id=rid, where=fault[1])
                if fault[1] == "head":
                    self.reset_now(writer)

        # The request body.
        digest, length = hashlib.sha256(), 0
        te = headers.get("transfer-encoding", "").lower()
        cl = headers.get("content-length")
        upload_cut = None
        if fault and fault[1] == "upload":
            upload_cut = self.rng.randint(0, 256 * 1024)
        async for piece in self.body(reader, te == "chunked", int(cl) if cl else 0):
            digest.update(piece)
            length += len(piece)
            if upload_cut is not None and length >= upload_cut:
                self.event("reset", id=rid, where="upload", at=length)
                self.reset_now(writer)
        if upload_cut is not None:  # the body was shorter than the cut: reset before the answer
            self.event("reset", id=rid, where="upload", at=length)
            self.reset_now(writer)

        # The response.
        chunked = False
        if url.path == "/small" and method == "GET":
            status, body = 200, soak_proto.small_body(rid)
        elif url.path == "/dl" and method == "GET":
            n = int(q.get("n", "0"))
            if not 0 <= n <= soak_proto.MAX_DOWNLOAD:
                status, body = 400, b"bad n\n"
            else:
                status, body = 200, soak_proto.pattern_body(rid, n)
                chunked = q.get("chunked") == "1"
        elif url.path == "/up" and method in ("PUT", "POST"):
            status, body = 200, soak_proto.upload_answer(rid, digest.hexdigest(), length)
        elif url.path == "/health":
            status, body = 200, b"up\n"
        else:
            status, body = 404, b"not found\n"

        if self.mode == "corrupt" and body and self.rng.random() < self.p:
            at = self.rng.randrange(len(body))
            body = body[:at] + bytes([body[at] ^ 0x20]) + body[at + 1:]
            self.event("corrupt", id=rid, at=at)
        stall_where = None
        if fault and fault[0] == "stall":
            self.counters["stalls"] += 1
            stall_where = fault[1]
            self.event("stall", id=rid, where=stall_where, s=self.stall_s)
        if fault and fault[0] == "slow":
            self.counters["slowed"] += 1
            await asyncio.sleep(self.rng.uniform(0.05, 0.8))
        if stall_where == "head":
            await asyncio.sleep(self.stall_s)

        hdr = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Error'}", "Content-Type: application/octet-stream"]
        if rid:
            hdr.append(f"X-Soak-Id: {rid}")
        hdr.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}")
        if close:
            hdr.append("Connection: close")
        await self.write(writer, ("\r\n".join(hdr) + "\r\n\r\n").encode("latin-1"))

        # The body, in pieces, with the mid-body faults at a random offset.
        cut = self.rng.randint(0, max(0, len(body) - 1)) if fault and fault[1] == "body" else None
        pause = None
        if fault and fault[0] == "slow" and len(body) >= 256 * 1024:
            pause = (self.rng.randint(0, len(body) - 1), self.rng.uniform(0.05, 0.5))
        pos = 0
        while pos < len(body) or chunked:
            step = self.rng.randint(1, 65536) if chunked else 65536
            end = min(len(body), pos + step)
            if cut is not None and pos <= cut < end:
                end = cut
            if pause is not None and pos <= pause[0] < end:
                end = pause[0]
            piece = body[pos:end]
            if piece:
                await self.write(writer, b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            pos = end
            if cut is not None and pos == cut:
                if fault[0] == "reset":
                    self.reset_now(writer)
                cut = None
                await asyncio.sleep(self.stall_s)  # stall mid-body
            if pause is not None and pos == pause[0]:
                pause = None
                await asyncio.sleep(self.rng.uniform(0.05, 0.5))
            if pos >= len(body) and chunked:
                await self.write(writer, b"0\r\n\r\n")
                break
        return not close

    async def body(self, reader, chunked, length):
        if chunked:
            for _ in range(1 << 20):  # bounded: at most a million chunks
                line = await asyncio.wait_for(reader.readuntil(b"\r\n"), IO_TIMEOUT)
                size = int(line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    for _ in range(64):  # trailer fields, then the empty line
                        if await asyncio.wait_for(reader.readuntil(b"\r\n"), IO_TIMEOUT) == b"\r\n":
                            return
                    raise ValueError("too many trailer lines")
                left = size
                while left:
                    piece = await asyncio.wait_for(reader.read(min(left, 65536)), IO_TIMEOUT)
                    if not piece:
                        raise ConnectionError("truncated chunk")
                    left -= len(piece)
                    yield piece
                if await asyncio.wait_for(reader.readexactly(2), IO_TIMEOUT) != b"\r\n":
                    raise ValueError("bad chunk end")
            raise ValueError("too many chunks")
        left = length
        while left:
            piece = await asyncio.wait_for(reader.read(min(left, 65536)), IO_TIMEOUT)
            if not piece:
                raise ConnectionError("truncated body")
            left -= len(piece)
            yield piece

    # -- control ------------------------------------------------------------------------------
    async def control(self, reader, writer):
        try:
            for _ in range(10000):
                line = await asyncio.wait_for(reader.readline(), 600)
                if not line:
                    return
                words = line.decode().split()
                answer = "error unknown command"
                if words == ["ping"]:
                    answer = f"ok {os.getpid()}"
                elif words == ["stats"]:
                    answer = "ok " + json.dumps(dict(self.counters, mode=self.mode, busy=self.busy))
                elif len(words) >= 2 and words[0] == "mode":
                    answer = self.set_mode(words[1:])
                writer.write((answer + "\n").encode())
                await writer.drain()
        except (ConnectionError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    def set_mode(self, words):
        try:
            if words == ["normal"] or words == ["slow"]:
                self.mode, self.p = words[0], 0.0
            elif words[0] == "stall" and len(words) == 3:
                self.mode, self.p, self.stall_s = "stall", float(words[1]), float(words[2])
            elif words[0] in ("reset", "corrupt") and len(words) == 2:
                self.mode, self.p = words[0], float(words[1])
            else:
                return "error usage: mode normal|slow|stall P S|reset P|corrupt P"
        except ValueError as e:
            return f"error {e}"
        self.event("mode", mode=self.mode, p=self.p, s=self.stall_s)
        return f"ok {self.mode}"


async def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control-port", type=int, required=True)
    ap.add_argument("--events", default="")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    be = Backend(args)
    server = await asyncio.start_server(be.handle, "127.0.0.1", args.port, reuse_address=True,
                                        limit=HEAD_LIMIT, backlog=512)
    control = await asyncio.start_server(be.control, "127.0.0.1", args.control_port, reuse_address=True)
    be.event("start")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    # Graceful: no new connections; requests in progress finish (bounded), idle connections close.
    be.stopping = True
    be.event("stopping")
    server.close()
    for _ in range(500):
        if be.busy == 0:
            break
        await asyncio.sleep(0.01)
    for task in list(be.conns):
        task.cancel()
    control.close()
    be.event("stop")


if __name__ == "__main__":
    asyncio.run(main())
