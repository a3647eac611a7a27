"""What the soak's backend must send for a request, so the client can check every byte it receives.

Shared by bench/soak/backend.py (which sends it) and bench/soak/soak (which checks it). A body
depends on the request's id, so a response delivered to the wrong request, a chunk from another
response, a repeated or skipped 64 KiB block, or a body cut short but framed as complete all show
as a mismatch at a known offset.
"""

import hashlib

BLOCK = 65536
MAX_DOWNLOAD = 64 * 1024 * 1024
_BASE = b"".join(hashlib.sha256(b"atsgate-soak-%d" % i).digest() for i in range(BLOCK // 32))


def _marker(rid, k):
    # 48 bytes naming the request and the block: every block of every body differs.
    return ("<%s:%d>" % (rid, k)).encode().ljust(48, b".")[:48]


def pattern_body(rid, n):
    """The n bytes GET /dl?id=rid&n=n answers with."""
    out = bytearray()
    k = 0
    while len(out) < n:
        m = _marker(rid, k)
        out += m + _BASE[len(m):]
        k += 1
    del out[n:]
    return bytes(out)


def upload_body(rid, n):
    """What the client uploads for request rid (any deterministic bytes would do)."""
    return pattern_body("up-" + rid, n)


def small_body(rid):
    return ("small %s\n" % rid).encode() + _BASE[:200]


def upload_answer(rid, sha256_hex, length):
    return ("%s %s %d\n" % (rid, sha256_hex, length)).encode()
