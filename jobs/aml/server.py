"""The HTTP server: `POST /` with `X-Amz-Target: AmazonML_20141212.<Operation>`, JSON 1.1 in and out.

A ThreadingHTTPServer with keep-alive (HTTP/1.1) and TCP_NODELAY so a Predict round trip costs well under a
millisecond of transport. Request bodies over the limit are refused (413) unread; errors are the service's
exception documents; nothing about credentials or headers is logged.
"""

from __future__ import annotations

import json
import socket
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Optional

from core.log import logger
from jobs.aml.auth import verify
from jobs.aml.operations import Context, call, dumps
from jobs.aml.protocol import CONTENT_TYPE, TARGET_PREFIX, AmlError

MAX_BODY = 1024 * 1024


class AmlServer(ThreadingHTTPServer):
    """The server with its operation context, credentials for SigV4 (or None) and body limit."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, ctx: Context, credentials: Optional[Dict[str, str]], max_body: int = MAX_BODY):
        super().__init__(address, Handler)
        self.ctx, self.credentials, self.max_body = ctx, credentials, max_body


class Handler(BaseHTTPRequestHandler):
    """One connection: each POST is one operation."""

    protocol_version = "HTTP/1.1"
    server: AmlServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args) -> None:
        logger.debug("aml %s", format % args)

    def send(self, status: int, body: bytes, close: bool = False) -> None:
        """One complete answer."""
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.send(404, dumps(AmlError("UnknownOperationException", "use POST / with X-Amz-Target").body()))

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.send(400, dumps(AmlError("InvalidInputException", "a bad Content-Length").body()), close=True)
            return
        if length > self.server.max_body:
            error = AmlError("InvalidInputException", f"request body over {self.server.max_body} bytes", 413)
            self.send(413, dumps(error.body()), close=True)
            return
        body = self.rfile.read(length)
        try:
            self.send(200, dumps(self.handle_operation(body)))
        except AmlError as error:
            self.send(error.status, dumps(error.body()))
        except Exception as error:  # a lakeml bug: the service's 500, the trace in the server log
            logger.error("aml: %s", traceback.format_exc())
            self.send(500, dumps(AmlError("InternalServerException", f"{type(error).__name__}: {error}").body()))

    def handle_operation(self, body: bytes) -> dict:
        """Check the signature (when required), parse, and run the operation."""
        if self.server.credentials is not None:
            verify(self.headers, body, self.server.credentials)
        target = self.headers.get("X-Amz-Target") or ""
        if not target.startswith(TARGET_PREFIX):
            raise AmlError("UnknownOperationException", f"X-Amz-Target must be {TARGET_PREFIX}<Operation>")
        try:
            params = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            raise AmlError("SerializationException", "the request body is not JSON") from None
        return call(self.server.ctx, target[len(TARGET_PREFIX) :], params)
