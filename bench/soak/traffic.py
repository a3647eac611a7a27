"""The soak's clients: TLS over asyncio sockets (ssl.MemoryBIO, so sessions can be resumed) and a
strict HTTP/1.1 exchange that checks every byte of every response.

Every operation ends in exactly one outcome: "ok", an expected cut-off (slow clients), or a
failure with a cause from CAUSES. Nothing here sleeps to synchronise: waits are for bytes, each
bounded by a deadline (asyncio.timeout_at).
"""

import asyncio
import hashlib
import socket
import ssl

import soak_proto

# Client-visible failure causes. Which injected faults can explain which is decided in the soak
# driver (EXPLAINS); the last group is never explained by a fault: it is a defect.
CAUSES = {
    "status_502": "atsgate answered 502 (backend unreachable or broke before the response head)",
    "status_504": "atsgate answered 504 (backend did not answer in response_timeout)",
    "closed_before_head": "connection closed or reset before a complete response head",
    "truncated_body": "connection closed or reset inside the response body",
    "upload_aborted": "connection closed or reset while the request body was being sent",
    "connect": "TCP connect to atsgate failed",
    "handshake": "TLS handshake with atsgate failed",
    "client_timeout": "no complete response within the client's deadline",
    "status_other": "a status other than 200/502/504",
    "corrupt_body": "a body complete by its framing but not what the backend sent",
    "wrong_id": "a response that belongs to another request (X-Soak-Id)",
    "bad_response": "a response head or framing that is not valid HTTP/1.1",
    "tls_error": "a TLS error after the handshake (bad record, unexpected alert)",
    "cut_early": "a slow client cut off before the configured timeout",
    "cut_late": "a slow client not cut off within the configured timeout + slack",
}


class Failure(Exception):
    def __init__(self, cause, detail=""):
        super().__init__(f"{cause}: {detail}")
        self.cause = cause
        self.detail = detail


class PeerGone(Exception):
    """The peer closed (EOF) or reset the TCP connection."""


class TlsConn:
    """One client TLS connection on a non-blocking socket driven by the running event loop."""

    def __init__(self, sock, obj, inc, out, recv_size):
        self.sock, self.obj, self.inc, self.out = sock, obj, inc, out
        self.recv_size = recv_size
        self.loop = asyncio.get_running_loop()
        self.eof = False

    @classmethod
    async def open(cls, port, ctx, session=None, recv_size=65536):
        """Connects to 127.0.0.1:port and completes the handshake. Raises Failure(connect|handshake);
        the caller bounds the time (asyncio.timeout_at)."""
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await loop.sock_connect(sock, ("127.0.0.1", port))
        except OSError as e:
            sock.close()
            raise Failure("connect", repr(e))
        inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(inc, out, server_hostname="localhost", session=session)
        conn = cls(sock, obj, inc, out, recv_size)
        try:
            for _ in range(64):  # a handshake is a few flights; bounded all the same
                try:
                    obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await conn._flush()
                    if not await conn._fill():
                        raise Failure("handshake", "connection closed during the handshake")
            else:
                raise Failure("handshake", "handshake did not finish in 64 flights")
            await conn._flush()
        except Failure:
            conn.close()
            raise
        except (ssl.SSLError, OSError, PeerGone) as e:
            conn.close()
            raise Failure("handshake", repr(e))
        except BaseException:
            conn.close()
            raise
        return conn

    async def _flush(self):
        data = self.out.read()
        if data:
            try:
                await self.loop.sock_sendall(self.sock, data)
            except OSError as e:
                raise PeerGone(repr(e))

    async def _fill(self):
        """Reads from the socket into the TLS engine; False at EOF."""
        try:
            data = await self.loop.sock_recv(self.sock, self.recv_size)
        except OSError as e:
            raise PeerGone(repr(e))
        if not data:
            self.inc.write_eof()
            return False
        self.inc.write(data)
        return True

    async def send(self, data):
        """Raises PeerGone when the peer closed or reset."""
        view = memoryview(data)
        for pos in range(0, len(view), 16384):
            try:
                self.obj.write(view[pos:pos + 16384])
            except ssl.SSLError as e:
                raise PeerGone(repr(e))
            await self._flush()

    async def recv(self):
        """Plaintext bytes; b"" at the end of the stream (close_notify or TCP EOF). Raises PeerGone
        on a reset and Failure(tls_error) on a TLS error."""
        for _ in range(1 << 16):
            if self.eof:
                return b""
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                await self._flush()  # e.g. a key update answer
                if not await self._fill():
                    continue  # the next read raises EOF
            except ssl.SSLZeroReturnError:
                self.eof = True
            except ssl.SSLEOFError:
                self.eof = True  # TCP EOF without close_notify: an end all the same
            except ssl.SSLError as e:
                raise Failure("tls_error", repr(e))
        raise Failure("tls_error", "no application data in 65536 TLS reads")

    @property
    def version(self):
        return self.obj.version()

    @property
    def resumed(self):
        return self.obj.session_reused

    def close(self):
        try:
            self.obj.unwrap()
        except (ssl.SSLError, ValueError, OSError):
            pass
        try:
            data = self.out.read()
            if data:
                self.sock.send(data)
        except OSError:
            pass
        self.sock.close()


class Request:
    """One request and everything its response must be."""

    def __init__(self, rid, method, target, body=None, chunked=False, expect=False, expected=b""):
        self.rid, self.method, self.target = rid, method, target
        self.body, self.chunked, self.expect = body, chunked, expect
        self.expected = expected

    def head(self):
        h = [f"{self.method} {self.target} HTTP/1.1", "Host: localhost", "User-Agent: atsgate-soak"]
        if self.body is not None:
            h.append("Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {len(self.body)}")
            h.append("Content-Type: application/octet-stream")
            if self.expect:
                h.append("Expect: 100-continue")
        return ("\r\n".join(h) + "\r\n\r\n").encode()

    def framed_body(self, rng):
        if self.body is None:
            return b""
        if not self.chunked:
            return self.body
        out, pos = bytearray(), 0
        while pos < len(self.body):
            n = rng.randint(1, 128 * 1024)
            piece = self.body[pos:pos + n]
            out += b"%x\r\n%s\r\n" % (len(piece), piece)
            pos += len(piece)
        out += b"0\r\n\r\n"
        return bytes(out)


class Exchange:
    """HTTP/1.1 over one TlsConn: requests out, responses parsed and checked."""

    def __init__(self, conn, slow_read=None):
        self.conn = conn
        self.buf = bytearray()
        self.slow_read = slow_read  # (rng, min pause s, max pause s) between reads of the body

    async def _more(self):
        data = await self.conn.recv()
        if not data:
            return False
        self.buf += data
        return True

    async def read_head(self):
        """(status, {lower name: value}); raises Failure."""
        for _ in range(1 << 12):
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 65536:
                raise Failure("bad_response", "response head over 64 KiB")
            try:
                more = await self._more()
            except PeerGone as e:
                raise Failure("closed_before_head", "reset: " + str(e))
            if not more:
                raise Failure("closed_before_head", f"EOF after {len(self.buf)} bytes of head")
        else:
            raise Failure("bad_response", "no response head in 4096 reads")
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or parts[0] != "HTTP/1.1" or not parts[1].isdigit() or len(parts[1]) != 3:
            raise Failure("bad_response", f"status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise Failure("bad_response", f"header line {line!r}")
            key = name.lower()
            if key in headers and key in ("content-length", "transfer-encoding", "x-soak-id"):
                raise Failure("bad_response", f"duplicate {name}")
            headers[key] = value.strip()
        return int(parts[1]), headers

    async def read_body(self, method, status, headers, sink):
        """Feeds the body to sink(bytes); returns the byte count. Raises Failure(truncated_body) when
        the stream ends inside it, Failure(bad_response) on invalid framing."""
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            return 0
        te = headers.get("transfer-encoding")
        cl = headers.get("content-length")
        if te is not None and cl is not None:
            raise Failure("bad_response", "both Content-Length and Transfer-Encoding")
        got = 0

        async def need(n_or_pred):
            for _ in range(1 << 20):
                if n_or_pred(self.buf):
                    return
                if self.slow_read:
                    rng, lo, hi = self.slow_read
                    await asyncio.sleep(rng.uniform(lo, hi))  # the slow reader's pause (not synchronisation)
                try:
                    more = await self._more()
                except PeerGone as e:
                    raise Failure("truncated_body", f"reset after {got} body bytes: {e}")
                if not more:
                    raise Failure("truncated_body", f"EOF after {got} body bytes")
            raise Failure("bad_response", "body did not progress in 2^20 reads")

        if te is not None:
            if te.lower() != "chunked":
                raise Failure("bad_response", f"Transfer-Encoding {te!r}")
            for _ in range(1 << 20):
                await need(lambda b: b.find(b"\r\n") >= 0 or len(b) > 1024)
                eol = self.buf.find(b"\r\n")
                if eol < 0:
                    raise Failure("bad_response", "chunk size line over 1 KiB")
                line = bytes(self.buf[:eol]).split(b";", 1)[0]
                try:
                    size = int(line, 16)
                except ValueError:
                    raise Failure("bad_response", f"chunk size {line!r}")
                del self.buf[:eol + 2]
                if size == 0:
                    for _ in range(64):
                        await need(lambda b: b.find(b"\r\n") >= 0)
                        eol = self.buf.find(b"\r\n")
                        del self.buf[:eol + 2]
                        if eol == 0:
                            return got
                    raise Failure("bad_response", "over 64 trailer lines")
                left = size
                while left:
                    await need(lambda b: len(b) > 0)
                    piece = bytes(self.buf[:left])
                    del self.buf[:len(piece)]
                    left -= len(piece)
                    got += len(piece)
                    sink(piece)
                await need(lambda b: len(b) >= 2)
                if self.buf[:2] != b"\r\n":
                    raise Failure("bad_response", "chunk not followed by CRLF")
                del self.buf[:2]
            raise Failure("bad_response", "over 2^20 chunks")
        if cl is not None:
            if not cl.isdigit():
                raise Failure("bad_response", f"Content-Length {cl!r}")
            left = int(cl)
            while left:
                await need(lambda b: len(b) > 0)
                piece = bytes(self.buf[:left])
                del self.buf[:len(piece)]
                left -= len(piece)
                got += len(piece)
                sink(piece)
            return got
        # Close-delimited.
        for _ in range(1 << 20):
            if self.buf:
                got += len(self.buf)
                sink(bytes(self.buf))
                self.buf.clear()
            try:
                if not await self._more():
                    return got
            except PeerGone as e:
                raise Failure("truncated_body", f"reset in a close-delimited body after {got} bytes: {e}")
        raise Failure("bad_response", "close-delimited body over 2^20 reads")

    async def send_request(self, rq, rng):
        """Sends rq (head and body; with Expect: 100-continue, waits for the interim answer).
        Returns (status, headers) when a final response arrived before the body was sent, else None."""
        try:
            if rq.body is None or not rq.expect:
                await self.conn.send(rq.head() + rq.framed_body(rng))
                return None
            await self.conn.send(rq.head())
        except PeerGone as e:
            raise Failure("closed_before_head" if rq.body is None else "upload_aborted", str(e))
        status, headers = await self.read_head()
        if status != 100:
            return status, headers  # a final answer before the body (e.g. 502): handled by the caller
        try:
            await self.conn.send(rq.framed_body(rng))
        except PeerGone as e:
            raise Failure("upload_aborted", str(e))
        return None

    async def read_response(self, rq, early=None):
        """Reads and checks rq's response. Returns whether the connection may carry another request."""
        for _ in range(8):
            status, headers = early if early else await self.read_head()
            early = None
            if status >= 200:
                break
            if status == 101:
                raise Failure("bad_response", "101 without Upgrade")
        else:
            raise Failure("bad_response", "over 8 interim responses")
        keep = "close" not in headers.get("connection", "").lower()
        if status != 200:
            # Read what there is of the body so the detail says what atsgate answered.
            text = bytearray()
            try:
                await self.read_body(rq.method, status, headers, lambda b: text.extend(b[:200 - len(text)]))
            except Failure:
                pass
            cause = {502: "status_502", 504: "status_504"}.get(status, "status_other")
            raise Failure(cause, f"{status} {bytes(text[:120])!r}")
        if headers.get("x-soak-id") != rq.rid:
            raise Failure("wrong_id", f"X-Soak-Id {headers.get('x-soak-id')!r} for request {rq.rid}")
        exp = rq.expected
        state = {"pos": 0, "bad": None}

        def sink(piece):
            p = state["pos"]
            if state["bad"] is None and exp[p:p + len(piece)] != piece:
                mism = next((i for i in range(min(len(piece), len(exp) - p)) if piece[i] != exp[p + i]),
                            min(len(piece), max(0, len(exp) - p)))
                state["bad"] = p + mism
            state["pos"] = p + len(piece)

        n = await self.read_body(rq.method, status, headers, sink)
        if state["bad"] is not None or n != len(exp):
            at = state["bad"] if state["bad"] is not None else min(n, len(exp))
            raise Failure("corrupt_body", f"{n} bytes, expected {len(exp)}; first difference at byte {at}")
        return keep


def expected_for(rid, path, n=0, upload=None):
    if path == "/small":
        return soak_proto.small_body(rid)
    if path == "/dl":
        return soak_proto.pattern_body(rid, n)
    if path == "/up":
        return soak_proto.upload_answer(rid, hashlib.sha256(upload).hexdigest(), len(upload))
    raise ValueError(path)


def small_request(rid):
    return Request(rid, "GET", f"/small?id={rid}", expected=expected_for(rid, "/small"))


def download_request(rid, n, chunked):
    return Request(rid, "GET", f"/dl?id={rid}&n={n}" + ("&chunked=1" if chunked else ""),
                   expected=expected_for(rid, "/dl", n))


def upload_request(rid, n, method, chunked, expect):
    body = soak_proto.upload_body(rid, n)
    return Request(rid, method, f"/up?id={rid}", body=body, chunked=chunked, expect=expect,
                   expected=expected_for(rid, "/up", upload=body))
