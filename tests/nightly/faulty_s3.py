"""A small fault-injecting HTTP proxy for the local S3 server: some requests get 500/503 or a delay.

    with FaultyProxy("http://127.0.0.1:5000", every=5, budget=30) as proxy:
        ... point s3a at proxy.endpoint ...
    proxy.faults   # how many requests were answered with an error

Every `every`-th request (counting all) is answered 503 SlowDown or 500 InternalError (alternating)
until `budget` faults were given; every `slow_every`-th is delayed by `delay` seconds. It stops by
itself after `lifetime` seconds whatever happens, so a hung test cannot leave it running.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>injected by the test proxy</Message>'
    "<RequestId>faulty-proxy</RequestId></Error>"
)


class FaultyProxy:
    """The proxy's server thread and its counters."""

    def __init__(
        self,
        upstream: str,
        every: int = 5,
        budget: int = 30,
        slow_every: int = 11,
        delay: float = 0.5,
        lifetime: float = 900,
    ):
        target = urlparse(upstream)
        self.host, self.port = target.hostname, target.port
        self.every, self.budget, self.slow_every, self.delay = every, budget, slow_every, delay
        self.lifetime = lifetime
        self.requests = self.faults = self.delays = 0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"

    def verdict(self) -> str:
        """What to do with the next request: 'fault', 'slow' or 'pass'."""
        with self.lock:
            self.requests += 1
            if self.requests % self.every == 0 and self.faults < self.budget:
                self.faults += 1
                return "fault"
            if self.requests % self.slow_every == 0:
                self.delays += 1
                return "slow"
            return "pass"

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _relay(self) -> None:
                body = self._body()
                verdict = proxy.verdict()
                if verdict == "fault":
                    code = 503 if proxy.faults % 2 else 500
                    payload = ERROR_BODY.format(code="SlowDown" if code == 503 else "InternalError").encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                if verdict == "slow":
                    time.sleep(proxy.delay)
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "expect")}
                conn.request(self.command, self.path, body=body or None, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status, reply.reason)
                skip = ("transfer-encoding", "connection") + (() if self.command == "HEAD" else ("content-length",))
                for key, value in reply.getheaders():
                    if key.lower() not in skip:
                        self.send_header(key, value)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler

    def __enter__(self) -> FaultyProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.timer = threading.Timer(self.lifetime, self.server.shutdown)
        self.timer.daemon = True
        self.timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self.timer.cancel()
        self.server.shutdown()
        self.server.server_close()
