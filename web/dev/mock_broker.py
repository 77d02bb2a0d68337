#!/usr/bin/env python3
"""A stand-in for `sealdrop serve`, for developing the web app without the Rust broker.

Python standard library only. It serves `dist/` with the production Content
Security Policy, the `/api/v1` JSON API (same wire format as `crates/api`), and a
tiny S3-like store on a second port (another origin, with CORS), so the app runs
its real code path: presigned single PUT and multipart uploads, downloads with
Range resumption, CSE V3 materials with a real HKDF key commitment.

It is NOT a security boundary: "KMS" keeps data keys in memory and "presigned"
URLs carry a random capability instead of a SigV4 signature. Development aids:

* `POST /dev/tamper?key=K`          flips one byte of stored object K;
* `POST /dev/fail?count=N&status=S` answers the next N storage PUTs with S;
* `POST /dev/expire`                invalidates every issued token (next call 401);
* `POST /dev/expire-urls?count=N`   the next N presigned URLs are issued already expired;
* `POST /dev/cut?bytes=N`           the next storage GET stops after N bytes (a broken stream).

Usage: python3 web/dev/mock_broker.py [--port 8080] [--dist dist] [--token dev-token]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKET = "sealdrop"
PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = 16 * 1024 * 1024
MAX_OBJECT = 64 * 1024 * 1024 * 1024
TTL = 900
TAG_LEN = 16
MIME = {".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm",
        ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png"}


def b64(data):
    return base64.b64encode(data).decode()


def hkdf_sha512(salt, ikm, info, length):
    prk = hmac.new(salt, ikm, hashlib.sha512).digest()
    block, out, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha512).digest()
        out += block
        counter += 1
    return out[:length]


class State:
    def __init__(self, root, token, user):
        self.root = root
        self.tokens = {token: user}
        self.objects = {}   # key -> dict(meta, path, size, mode, dk, sse, modified, ctype, etag)
        self.uploads = {}   # upload_id -> dict(key, parts{n: path}, info)
        self.caps = {}      # capability -> (method, key, upload_id, part, expires)
        self.fail = []      # statuses to answer the next storage PUTs with
        self.cut = None     # bytes after which the next storage GET breaks off
        self.expire_next = 0  # presigned URLs still to issue already expired
        self.pending_single = {}  # key -> info of single PUTs not yet received
        self.lock = threading.Lock()

    def path(self):
        return os.path.join(self.root, secrets.token_hex(16))


def make_handler(state, dist, csp, storage_base):
    class Api(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send_json(self, status, body, extra=None):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (extra or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, code, message, extra=None):
            self.send_json(status, {"error": {"code": code, "message": message}}, extra)

        def user(self):
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else ""
            return state.tokens.get(token)

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(n) or b"{}")

        def presign(self, method, key, upload_id=None, part=None, headers=None):
            cap = secrets.token_urlsafe(18)
            expires = time.time() + TTL
            if state.expire_next > 0:
                state.expire_next -= 1
                expires = 0
            state.caps[cap] = (method, key, upload_id, part, expires, headers or {})
            q = {"cap": cap}
            if upload_id:
                q.update(uploadId=upload_id, partNumber=str(part))
            url = f"{storage_base}/{BUCKET}/{urllib.parse.quote(key)}?{urllib.parse.urlencode(q)}"
            return {"method": method, "url": url, "headers": {"host": storage_base.split('//')[1], **(headers or {})}}

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            if url.path.startswith("/api/v1/"):
                return self.api("GET", url)
            self.static(url.path)

        def do_POST(self):
            url = urllib.parse.urlparse(self.path)
            if url.path.startswith("/dev/"):
                return self.dev(url)
            self.api("POST", url)

        def do_DELETE(self):
            self.api("DELETE", urllib.parse.urlparse(self.path))

        def static(self, path):
            rel = path.lstrip("/") or "index.html"
            full = os.path.realpath(os.path.join(dist, rel))
            if not full.startswith(os.path.realpath(dist)) or not os.path.isfile(full):
                full = os.path.join(dist, "index.html")
            with open(full, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("Content-Type", MIME.get(os.path.splitext(full)[1], "application/octet-stream"))
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            self.wfile.write(data)

        def dev(self, url):
            q = dict(urllib.parse.parse_qsl(url.query))
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            if url.path == "/dev/tamper":
                obj = state.objects[q["key"]]
                with open(obj["path"], "r+b") as f:
                    f.seek(int(q.get("offset", obj["size"] // 2)))
                    b = f.read(1)
                    f.seek(-1, 1)
                    f.write(bytes([b[0] ^ 1]))
            elif url.path == "/dev/fail":
                state.fail = [int(q.get("status", 503))] * int(q.get("count", 1))
            elif url.path == "/dev/expire":
                state.tokens.clear()
            elif url.path == "/dev/expire-urls":
                state.expire_next = int(q.get("count", 1))
            elif url.path == "/dev/cut":
                state.cut = int(q["bytes"])
            self.send_json(200, {"ok": True})

        def info(self, key):
            o = state.objects[key]
            user, name = key.split("/", 1)
            enc = {"mode": o["mode"]}
            if o["mode"] == "cse-v3":
                enc.update(kms_key_id="local", key_wrapping="kms+context",
                           encryption_context=json.loads(o["meta"]["x-amz-t"]))
            elif o["mode"] == "sse-kms":
                enc.update(kms_key_id="local", server_side_encryption="aws:kms")
            stored = o["size"]
            size = stored - TAG_LEN if o["mode"] == "cse-v3" else stored
            return {"key": key, "name": name, "stored_size": stored, "size": size,
                    "last_modified": o["modified"], "content_type": o["ctype"], "etag": o["etag"],
                    "encryption": enc}

        def api(self, method, url):
            user = self.user()
            if user is None:
                return self.error(401, "unauthenticated", "missing, invalid or expired token")
            q = dict(urllib.parse.parse_qsl(url.query))
            route = url.path[len("/api/v1"):]
            prefix = f"{user}/"
            if (method, route) == ("GET", "/me"):
                return self.send_json(200, {"user": user, "prefix": prefix, "auth": "token", "kms_key_id": "local",
                                            "limits": {"max_object_size": MAX_OBJECT,
                                                       "multipart_threshold": MULTIPART_THRESHOLD,
                                                       "presign_ttl_secs": TTL}})
            if (method, route) == ("POST", "/uploads"):
                return self.create_upload(user, self.body())
            if (method, route) == ("POST", "/uploads/parts"):
                b = self.body()
                up = state.uploads.get(b["upload_id"])
                if not up:
                    return self.error(404, "not_found", "no such upload")
                parts = [{"part_number": n, "request": self.presign("PUT", up["key"], b["upload_id"], n)}
                         for n in b["part_numbers"]]
                return self.send_json(200, {"parts": parts})
            if (method, route) == ("POST", "/uploads/complete"):
                b = self.body()
                up = state.uploads.pop(b["upload_id"], None)
                if not up:
                    return self.error(404, "not_found", "no such upload")
                path = state.path()
                with open(path, "wb") as out:
                    for p in b["parts"]:
                        if up["parts"].get(p["part_number"], (None, None))[1] != p["etag"]:
                            return self.error(400, "bad_request", f"part {p['part_number']} etag mismatch")
                        with open(up["parts"][p["part_number"]][0], "rb") as f:
                            shutil.copyfileobj(f, out)
                self.store(up["key"], up["info"], path)
                return self.send_json(200, {"key": up["key"], "etag": state.objects[up["key"]]["etag"]})
            if (method, route) == ("POST", "/uploads/abort"):
                state.uploads.pop(self.body()["upload_id"], None)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if (method, route) == ("GET", "/objects"):
                keys = sorted(k for k in state.objects if k.startswith(prefix))
                start = int(q.get("cursor", 0))
                limit = int(q.get("limit", 100))
                page = keys[start:start + limit]
                nxt = str(start + limit) if start + limit < len(keys) else None
                body = {"objects": [self.info(k) for k in page]}
                if nxt:
                    body["next_cursor"] = nxt
                return self.send_json(200, body)
            if (method, route) == ("DELETE", "/objects"):
                state.objects.pop(q.get("key"), None)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if (method, route) == ("POST", "/objects/open"):
                key = self.body()["key"]
                if not key.startswith(prefix):
                    return self.error(403, "forbidden", "not your object")
                if key not in state.objects:
                    return self.error(404, "not_found", "no such object")
                o = state.objects[key]
                body = {"object": self.info(key), "download": self.presign("GET", key)}
                if o["mode"] == "cse-v3":
                    body["cse"] = {"data_key": b64(o["dk"]), "metadata": o["meta"]}
                return self.send_json(200, body)
            self.error(404, "not_found", f"no route {method} {route}")

        def create_upload(self, user, b):
            key = f"{user}/{b['name']}"
            if key in state.objects and not b.get("overwrite"):
                return self.error(409, "conflict", f"an object named {b['name']!r} already exists")
            if b["size"] > MAX_OBJECT:
                return self.error(413, "too_large", "object too large")
            cse = b["mode"] == "cse"
            stored = b["size"] + (TAG_LEN if cse else 0)
            info = {"ctype": b.get("content_type") or "application/octet-stream", "mode": "sse-kms"}
            headers = {"content-type": info["ctype"]}
            resp = {"key": key, "mode": b["mode"], "size": b["size"], "stored_size": stored}
            if cse:
                dk, mid = secrets.token_bytes(32), secrets.token_bytes(28)
                commit = hkdf_sha512(mid, dk, b"\x00\x73COMMITKEY", 28)
                context = {"aws:x-amz-cek-alg": "115", "sealdrop:key": key}
                meta = {"x-amz-c": "115", "x-amz-3": b64(secrets.token_bytes(60)), "x-amz-w": "12",
                        "x-amz-t": json.dumps(context, separators=(",", ":")), "x-amz-d": b64(commit),
                        "x-amz-i": b64(mid)}
                info.update(mode="cse-v3", dk=dk, meta=meta)
                headers.update({f"x-amz-meta-{k}": v for k, v in meta.items()})
                resp["cse"] = {"format": "v3", "data_key": b64(dk), "message_id": b64(mid), "kms_key_id": "local",
                               "encryption_context": {"sealdrop:key": key}, "metadata": meta}
            else:
                headers.update({"x-amz-server-side-encryption": "aws:kms"})
                resp["sse"] = {"algorithm": "aws:kms", "kms_key_id": "local"}
            info["headers"] = headers
            if stored >= MULTIPART_THRESHOLD:
                upload_id = secrets.token_hex(8)
                count = max(1, -(-stored // PART_SIZE)) if not cse else max(1, -(-b["size"] // PART_SIZE))
                state.uploads[upload_id] = {"key": key, "parts": {}, "info": info}
                parts = [{"part_number": n, "request": self.presign("PUT", key, upload_id, n)}
                         for n in range(1, min(count, 4) + 1)]
                resp["transfer"] = {"kind": "multipart", "upload_id": upload_id, "part_size": PART_SIZE,
                                    "part_count": count, "parts": parts}
            else:
                resp["transfer"] = {"kind": "single", "request": self.presign("PUT", key, headers=headers)}
                state.pending_single[key] = info
            self.send_json(200, resp)

        def store(self, key, info, path):
            size = os.path.getsize(path)
            md5 = hashlib.md5()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    md5.update(chunk)
            state.objects[key] = {**info, "path": path, "size": size, "etag": f'"{md5.hexdigest()}"',
                                  "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  "sse": info["mode"] == "sse-kms"}

    class Storage(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle(self):
            try:
                super().handle()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the browser aborted a request (pause, cancel)

        def log_message(self, fmt, *args):
            pass

        def cors(self):
            origin = self.headers.get("Origin")
            if origin:
                self.send_header("Access-Control-Allow-Origin", origin)
                self.send_header("Vary", "Origin")
                self.send_header("Access-Control-Expose-Headers",
                                 "ETag, x-amz-server-side-encryption, x-amz-server-side-encryption-aws-kms-key-id, Content-Range, Content-Length")

        def s3_error(self, status, code, message):
            data = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
            self.send_response(status)
            self.cors()
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_OPTIONS(self):
            self.send_response(204)
            self.cors()
            self.send_header("Access-Control-Allow-Methods", "GET, PUT, HEAD")
            self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers", ""))
            self.send_header("Access-Control-Max-Age", "600")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def capability(self, method):
            url = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(url.query))
            cap = state.caps.get(q.get("cap", ""))
            key = urllib.parse.unquote(url.path[len(BUCKET) + 2:])
            if not cap or cap[0] != method or cap[1] != key:
                self.s3_error(403, "SignatureDoesNotMatch", "bad capability")
                return None
            if cap[4] < time.time():
                self.s3_error(403, "AccessDenied", "Request has expired")
                return None
            for name, value in cap[5].items():
                if name != "host" and self.headers.get(name) != value:
                    self.s3_error(403, "SignatureDoesNotMatch", f"header {name} differs from the signed one")
                    return None
            return cap

        def do_PUT(self):
            n = int(self.headers.get("Content-Length") or 0)
            if state.fail:
                status = state.fail.pop()
                self.rfile.read(n)
                return self.s3_error(status, "SlowDown", "injected failure")
            cap = self.capability("PUT")
            if not cap:
                self.rfile.read(n)
                return
            _, key, upload_id, part, _, _ = cap
            path = state.path()
            md5 = hashlib.md5()
            with open(path, "wb") as f:
                left = n
                while left:
                    chunk = self.rfile.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    md5.update(chunk)
                    f.write(chunk)
                    left -= len(chunk)
            etag = f'"{md5.hexdigest()}"'
            if upload_id:
                up = state.uploads.get(upload_id)
                if not up:
                    return self.s3_error(404, "NoSuchUpload", "no such upload")
                up["parts"][part] = (path, etag)
            else:
                info = state.pending_single.pop(key)
                size = os.path.getsize(path)
                state.objects[key] = {**info, "path": path, "size": size, "etag": etag,
                                      "modified": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                      "sse": info["mode"] == "sse-kms"}
            self.send_response(200)
            self.cors()
            self.send_header("ETag", etag)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):
            if not self.capability("GET"):
                return
            key = urllib.parse.unquote(urllib.parse.urlparse(self.path).path[len(BUCKET) + 2:])
            obj = state.objects.get(key)
            if not obj:
                return self.s3_error(404, "NoSuchKey", "no such key")
            size = obj["size"]
            start, status = 0, 200
            rng = self.headers.get("Range", "")
            if rng.startswith("bytes=") and rng.endswith("-"):
                start, status = int(rng[6:-1]), 206
            self.send_response(status)
            self.cors()
            self.send_header("Content-Length", str(size - start))
            self.send_header("Content-Type", obj["ctype"])
            self.send_header("ETag", obj["etag"])
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            if obj["sse"]:
                self.send_header("x-amz-server-side-encryption", "aws:kms")
                self.send_header("x-amz-server-side-encryption-aws-kms-key-id", "local")
            self.end_headers()
            with open(obj["path"], "rb") as f:
                f.seek(start)
                cut, state.cut = state.cut, None
                if cut is not None:
                    self.wfile.write(f.read(cut))
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                shutil.copyfileobj(f, self.wfile, 1 << 20)

    return Api, Storage


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--dist", default="dist")
    parser.add_argument("--token", default="dev-token")
    parser.add_argument("--user", default="alice")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="sealdrop-mock-")
    state = State(root, args.token, args.user)
    storage_base = f"http://127.0.0.1:{args.port + 1}"
    csp = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
           f"connect-src 'self' {storage_base}; img-src 'self' data:; style-src 'self'; object-src 'none'; "
           "base-uri 'none'; frame-ancestors 'none'")
    api, storage = make_handler(state, os.path.abspath(args.dist), csp, storage_base)
    servers = [ThreadingHTTPServer(("127.0.0.1", args.port), api),
               ThreadingHTTPServer(("127.0.0.1", args.port + 1), storage)]
    for s in servers[1:]:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    print(f"sealdrop mock: http://127.0.0.1:{args.port}/#token={args.token}  (storage {storage_base}, data {root})",
          flush=True)
    try:
        servers[0].serve_forever()
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
