#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (committed; rerun after changing a
target's control prefix). Needs python3 and the openssl command (CMS signing, ClientHellos).

Seeds are small and realistic: the MDM requests of tests/unit/http/mdm_corpus.hpp, typical upstream
responses, the golden configs of tests/unit/config/golden, XML and binary plists, signed profiles,
and ClientHellos of openssl s_client. Files are named after what they hold."""

import os
import plistlib
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def cxx_strings(path):
    """inline const std::string NAME = "..." "...";  ->  {NAME: text} (simple escapes only)."""
    src = open(path, encoding="utf-8").read()
    out = {}
    for m in re.finditer(r"inline const std::string (\w+) =\s*((?:\"(?:[^\"\\]|\\.)*\"\s*)+);", src):
        parts = re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(2))
        text = "".join(parts)
        text = re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t", "r": "\r"}.get(e.group(1), e.group(1)), text)
        out[m.group(1)] = text
    return out


def with_length(head, body):
    return head + "Content-Length: %d\r\n\r\n" % len(body.encode()) + body


def http_seeds():
    c = cxx_strings(os.path.join(ROOT, "tests/unit/http/mdm_corpus.hpp"))
    sig = c["mdm_signature"]
    common = ("Host: mdm.example.com\r\nMdm-Signature: " + sig + "\r\nAccept: */*\r\n"
              "Accept-Language: en-GB,en;q=0.9\r\nAccept-Encoding: gzip, deflate, br\r\n"
              "User-Agent: MDM/1.0\r\nConnection: keep-alive\r\n")
    checkin = with_length("PUT /mdm/checkin HTTP/1.1\r\nContent-Type: application/x-apple-aspen-mdm-checkin\r\n" + common,
                          c["checkin_plist"])
    poll = with_length("PUT /mdm/server HTTP/1.1\r\nContent-Type: application/x-apple-aspen-mdm\r\n" + common,
                       c["command_poll_plist"])
    chunked_body = c["command_poll_plist"]
    chunked = ("POST /mdm/server HTTP/1.1\r\nHost: mdm.example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
               + "%x\r\n%s\r\n" % (40, chunked_body[:40]) + "%x\r\n%s\r\n" % (len(chunked_body) - 40, chunked_body[40:])
               + "0\r\nX-Trailer: 1\r\n\r\n")
    requests = {
        "checkin": checkin,
        "command_poll": poll,
        "pipelined_checkin_poll": checkin + poll,
        "get_enroll": "GET /mdm/enroll?udid=1 HTTP/1.1\r\nHost: mdm.example.com\r\nAccept: */*\r\n\r\n",
        "head": "HEAD / HTTP/1.1\r\nHost: mdm.example.com:8443\r\n\r\n",
        "options_star": "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
        "http10_keepalive": "GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /y HTTP/1.0\r\n\r\n",
        "expect_continue": "PUT /mdm/checkin HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
        "chunked_trailer": chunked,
        "scep_get": "GET /scep?operation=GetCACert&message=CA HTTP/1.1\r\nHost: scep.example.com\r\n\r\n",
        "smuggling_cl_te": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    }
    # Control prefix: mode, header_bytes (u16), counts, split (u16). Mode 0: default limits, whole.
    for name, raw in requests.items():
        write("request_parser", name, b"\x00\x00\x00\x00\x00\x00" + raw.encode())
    # Small limits: 1 + 0x00ff % 2048 = 256 head bytes, 4 fields, 64-byte bodies; split at 100, pieces of 3.
    for name in ("checkin", "get_enroll", "chunked_trailer"):
        write("request_parser", name + "_small_limits", b"\x05\x00\xff\x44\x00\x64" + requests[name].encode())

    plist_body = c["command_poll_plist"]
    responses = {
        "ok_plist": ("HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n\r\n"
                     % len(plist_body)) + plist_body,
        "ok_chunked": ("HTTP/1.1 200 OK\r\nContent-Type: application/x-apple-aspen-config\r\nTransfer-Encoding: chunked\r\n\r\n"
                       + "%x\r\n%s\r\n0\r\n\r\n" % (len(plist_body), plist_body)),
        "continue_then_ok": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "no_content": "HTTP/1.1 204 No Content\r\nServer: legacy\r\n\r\n",
        "not_modified": "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
        "http10_until_close": "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"url\":\"http://mdm.example.com/\"}",
        "redirect": "HTTP/1.1 302 Found\r\nLocation: http://mdm.example.com/enroll\r\nContent-Length: 0\r\n\r\n",
        "unauthorized": "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"mdm\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    }
    # Control prefix: mode (bit0 HEAD, bit1 small limits, bit2 finish()), header bytes, count, split.
    for name, raw in responses.items():
        write("response_parser", name, b"\x04\x00\x00\x00\x00\x00" + raw.encode())
    write("response_parser", "head_response", b"\x05\x00\x00\x00\x00\x00" + responses["ok_plist"].encode()[:120])
    write("response_parser", "ok_plist_small_limits", b"\x16\x00\x80\x03\x00\x30" + responses["ok_plist"].encode())

    # url_guard: mode (bit0 small budget), budget (u16), split.
    bodies = {
        "checkin_plist_dtd": c["checkin_plist"],
        "profile_urls": open(os.path.join(HERE, "seed_profile.xml"), encoding="utf-8").read(),
        "json": "{\"ServerURL\":\"http://mdm.example.com\\/mdm\",\"scep\":\"http://ca.example.com/cgi-bin/pkiclient.exe\"}",
        "mixed_case": "HTTP://MDM.EXAMPLE.COM/x hTtP://scep.example.com/scep hhttp://a.example.com http:/no",
    }
    for name, body in bodies.items():
        write("url_guard", name, b"\x00\x00\x00\x80" + body.encode())
    write("url_guard", "json_budget_40", b"\x07\x00\x28\x40" + bodies["json"].encode())


def path_seeds():
    # path: mode (bit0: the line before '\n' is one more route prefix; bits 1-2: GET POST OPTIONS PUT),
    # then [PREFIX "\n"] TARGET.
    targets = {
        "root": "/",
        "checkin": "/mdm/checkin",
        "scep_getcacaps": "/scep?operation=GetCACaps",
        "scep_escape": "/scep/../mdm/checkin?operation=GetCACert",
        "scep_escape_encoded": "/scep/%2e%2E/mdm/checkin?operation=GetCACert",
        "scep_lookalike": "/scepfoo?operation=GetCACert",
        "encoded_slash": "/scep/..%2Fmdm/checkin",
        "backslash": "/scep\\..\\mdm",
        "encoded_backslash": "/scep/..%5Cmdm",
        "tomcat_param": "/scep/..;/mdm/checkin",
        "above_root": "/../etc/passwd",
        "nul": "/a%00.json",
        "iis_unicode": "/a/%u002e%u002e/b",
        "double_encoded": "/%252e%252e/x",
        "merged_slashes": "//mdm///enroll/./x/../y/",
        "unreserved_encoded": "/%6d%64%6D/%7Euser?q=%2f%2e",
        "query_dots": "/a?x=/../b/./c#",
        "asterisk": "*",
        "trailing_dotdot": "/a/b/..",
        "sticky_key": "/enroll//device-7/../device-8/step",
    }
    for name, t in targets.items():
        write("path", name, b"\x00" + t.encode())
    write("path", "options_asterisk", b"\x04*")
    write("path", "post_scep", b"\x02/scep/pkiclient.exe?message=x&operation=PKIOperation")
    write("path", "extra_prefix", b"\x01/mdm//x/\n/mdm/x/./y")
    write("path", "extra_prefix_unnormalisable", b"\x01/a%2Fb\n/a%2Fb/c")


def config_seeds():
    golden = os.path.join(ROOT, "tests/unit/config/golden")
    for f in sorted(os.listdir(golden)):
        if f.endswith(".toml"):
            shutil.copy(os.path.join(golden, f), os.path.join(CORPUS, "config", f))
    shutil.copy(os.path.join(ROOT, "deploy/demo/atsgate.toml"), os.path.join(CORPUS, "config", "demo.toml"))


def plist_seeds():
    c = cxx_strings(os.path.join(ROOT, "tests/unit/http/mdm_corpus.hpp"))
    write("plist", "checkin.xml", c["checkin_plist"])
    write("plist", "command_poll.xml", c["command_poll_plist"])
    profile = open(os.path.join(HERE, "seed_profile.xml"), "rb").read()
    write("plist", "profile.xml", profile)
    value = plistlib.loads(profile)
    write("plist", "profile.bplist", plistlib.dumps(value, fmt=plistlib.FMT_BINARY))
    import datetime
    scalars = {"int": -5, "big": 2 ** 62, "real": 1.5, "true": True, "false": False,
               "date": datetime.datetime(2026, 1, 1, 12, 0, 0), "data": b"\x00\x01binary",
               "unicode": "Gr\u00fc\u00dfe \U0001F600", "nested": [[{"a": [1, 2, {"b": "http://x.example"}]}]],
               "uid": plistlib.UID(3)}
    write("plist", "scalars.xml", plistlib.dumps({k: v for k, v in scalars.items() if k != "uid"}))
    write("plist", "scalars.bplist", plistlib.dumps(scalars, fmt=plistlib.FMT_BINARY))
    write("plist", "entities_cdata.xml",
          "<?xml version=\"1.0\"?>\n<plist version=\"1.0\"><dict><key>a&amp;b</key><string>&lt;&#x41;&#66;"
          "<![CDATA[<raw>]]><!-- c --></string><key>e</key><array/><key>n</key><integer>0x7f</integer>"
          "<key>r</key><real>-1e3</real><key>d</key><date>2026-01-01T00:00:00Z</date></dict></plist>\n")


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw).stdout


def profile_seeds():
    profile = open(os.path.join(HERE, "seed_profile.xml"), "rb").read()
    write("profile", "unsigned.mobileconfig", profile)
    write("profile", "unsigned_binary.mobileconfig",
          plistlib.dumps(plistlib.loads(profile), fmt=plistlib.FMT_BINARY))
    with tempfile.TemporaryDirectory() as t:
        key, cert, src = (os.path.join(t, n) for n in ("k.pem", "c.pem", "p.xml"))
        open(src, "wb").write(profile)
        sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", key, "-out", cert, "-subj", "/CN=Profile Signer/O=atsgate fuzz", "-days", "3650")
        sign = ["openssl", "cms", "-sign", "-binary", "-nodetach", "-signer", cert, "-inkey", key, "-in", src]
        write("profile", "signed_der.mobileconfig", sh(*sign, "-outform", "DER"))
        write("profile", "signed_pem.mobileconfig", sh(*sign, "-outform", "PEM"))
        write("profile", "signed_pkcs7_pem.mobileconfig",
              sh("openssl", "smime", "-sign", "-binary", "-nodetach", "-signer", cert, "-inkey", key, "-in", src,
                 "-outform", "PEM"))
        write("profile", "detached_der.mobileconfig",
              sh("openssl", "cms", "-sign", "-binary", "-signer", cert, "-inkey", key, "-in", src, "-outform", "DER"))
        bsrc = os.path.join(t, "p.bplist")
        open(bsrc, "wb").write(plistlib.dumps(plistlib.loads(profile), fmt=plistlib.FMT_BINARY))
        write("profile", "signed_binary_der.mobileconfig",
              sh("openssl", "cms", "-sign", "-binary", "-nodetach", "-signer", cert, "-inkey", key, "-in", bsrc,
                 "-outform", "DER"))


def capture_client_hello(args):
    """The first TLS record(s) `openssl s_client <args>` sends."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    got = {}

    def serve():
        conn, _ = srv.accept()
        conn.settimeout(5)
        data = b""
        while len(data) < 5 or len(data) < 5 + struct.unpack(">H", data[3:5])[0]:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        got["data"] = data
        conn.close()

    th = threading.Thread(target=serve)
    th.start()
    subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port] + args,
                   stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    th.join()
    srv.close()
    return got.get("data", b"")


def strip_extension(record, ext_type):
    """Removes one extension from a ClientHello record (lengths fixed up)."""
    body = bytearray(record[5:])
    p = 4 + 2 + 32
    p += 1 + body[p]                                  # session id
    p += 2 + struct.unpack(">H", body[p:p + 2])[0]    # cipher suites
    p += 1 + body[p]                                  # compression methods
    ext_len_at = p
    end = p + 2 + struct.unpack(">H", body[p:p + 2])[0]
    p += 2
    while p < end:
        t, n = struct.unpack(">HH", body[p:p + 4])
        if t == ext_type:
            del body[p:p + 4 + n]
            shrink = 4 + n
            struct.pack_into(">H", body, ext_len_at, struct.unpack(">H", body[ext_len_at:ext_len_at + 2])[0] - shrink)
            hs_len = int.from_bytes(body[1:4], "big") - shrink
            body[1:4] = hs_len.to_bytes(3, "big")
            return record[:3] + struct.pack(">H", len(body)) + bytes(body)
        p += 4 + n
    return record


def client_hello_seeds():
    variants = {
        "tls13_sni": ["-tls1_3", "-servername", "mdm.example.com"],
        "tls12_sni": ["-tls1_2", "-servername", "mdm.example.com"],
        "tls12_wildcard_sni": ["-tls1_2", "-servername", "a.example.net"],
        "any_unknown_sni": ["-servername", "other.example.org"],
        "tls12_rsa_kx": ["-tls1_2", "-cipher", "AES128-GCM-SHA256", "-servername", "mdm.example.com"],
        "tls12_ffdhe_only": ["-tls1_2", "-groups", "ffdhe2048", "-servername", "mdm.example.com"],
        "tls13_p384": ["-tls1_3", "-groups", "P-384", "-noservername"],
        "tls11": ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-noservername"],
    }
    for name, args in variants.items():
        hello = capture_client_hello(args)
        if not hello:
            print("no ClientHello for", name, file=sys.stderr)
            continue
        write("client_hello", name, hello)
        if name == "tls12_sni":
            write("client_hello", "tls12_sni_no_ems", strip_extension(hello, 23))


def gate_seeds():
    write("handshake_gate", "zeros", bytes(64))
    write("handshake_gate", "ones", b"\xff" * 96)
    write("handshake_gate", "counting", bytes(range(128)))


def dict_entry(token):
    return '"' + "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02X" % ord(c) for c in token) + '"'


def write_dict(target, tokens):
    d = os.path.join(HERE, "dict")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary for fuzz_%s (written by make_seeds.py)\n" % target)
        for t in sorted(set(tokens)):
            f.write(dict_entry(t) + "\n")


def dictionaries():
    http = ["\r\n", "\r\n\r\n", " HTTP/1.1\r\n", "HTTP/1.0", "HTTP/1.1 ", "Host: ", "Content-Length: ",
            "Transfer-Encoding: chunked", "Connection: close", "Connection: keep-alive", "Expect: 100-continue",
            "Upgrade: h2c", "0\r\n\r\n", "GET ", "PUT ", "POST ", "HEAD ", "OPTIONS ", "CONNECT ", "PRI * HTTP/2.0",
            ";ext=1", "Trailer: ", " 100 Continue", " 200 OK", " 204 ", " 304 ", " 101 ", "\t", ":"]
    write_dict("request_parser", http)
    write_dict("response_parser", http)
    write_dict("path", ["/", "//", "/./", "/../", "/.", "/..", "..", "..;", ".;", ";", "?", "#", "%", "%2e", "%2E",
                        "%2f", "%2F", "%5c", "%5C", "%00", "%25", "%3F", "%7e", "%u002e", "\\", "*", "\n", "/scep",
                        "/mdm", "/mdm/checkin", "/enroll/", "operation=", "&operation=", "?operation=GetCACert"])
    write_dict("url_guard", ["http://", "HTTP://", "https://", "scep", "pkiclient.exe", "http://www.apple.com/DTDs/",
                             "<string>", "</string>", "\\/", "\""])
    src = open(os.path.join(ROOT, "config/loader.cpp"), encoding="utf-8").read()
    keys = []
    for m in re.finditer(r"std::string_view \w+\[\] = \{([^}]*)\}", src):
        keys += re.findall(r'"([^"]+)"', m.group(1))
    toml = ["[[listener]]", "[[upstream]]", "[[listener.route]]", "[[listener.certificate]]", "[server]", "[limits]",
            "[timeouts]", "[admin]", " = ", "\"30s\"", "\"500ms\"", "\"64KiB\"", "\"4GiB\"", "\"certs/mdm.pem\"",
            "\"certs/mdm.key\"", "\"files/admin.token\"", "\"http://127.0.0.1:8080\"", "\"::\"", "\"0.0.0.0\"",
            "true", "false", "[]", "{}", "'''", "\"\"\"", "1979-05-27T07:32:00Z", "inf", "nan", "0x1F", "1e3"]
    write_dict("config", keys + toml)
    write_dict("plist", ["<plist>", "</plist>", "<dict>", "</dict>", "<key>", "</key>", "<array>", "</array>",
                         "<string>", "</string>", "<integer>", "</integer>", "<real>", "</real>", "<true/>", "<false/>",
                         "<date>", "</date>", "<data>", "</data>", "<![CDATA[", "]]>", "<!--", "-->", "<!DOCTYPE",
                         "<?xml", "?>", "&amp;", "&#x", "bplist00", "PayloadType", "com.apple.security.scep", "URL",
                         "http://", "https://"])


def main():
    # Overwrites the seeds it writes; leaves everything else (crash reproducers) in place.
    os.makedirs(os.path.join(CORPUS, "config"), exist_ok=True)
    http_seeds()
    path_seeds()
    config_seeds()
    plist_seeds()
    profile_seeds()
    client_hello_seeds()
    gate_seeds()
    dictionaries()


if __name__ == "__main__":
    main()
