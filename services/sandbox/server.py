"""Serves a :class:`Sandbox` over real HTTP/1.1 on loopback, with keep-alive.

Standard library only (``http.server.ThreadingHTTPServer``): one thread per connection, which
is what a ``requests.Session`` with a few pooled connections needs.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from .http import Request

if TYPE_CHECKING:
    from .core import Sandbox


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "closeout-sandbox"
    sys_version = ""
    # The headers and the body go out in two writes; with Nagle on, the body then waits for
    # the client's delayed ACK (~40 ms on Linux) and every request costs that much.
    disable_nagle_algorithm = True
    sandbox: Sandbox

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request.from_target(self.command, self.path, dict(self.headers.items()), body)
        resp = self.sandbox.handle(req)
        if resp is None:
            # Injected network failure: vanish without an answer.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload, content_type = resp.encoded()
        # send_response_only: the sandbox sets Date itself (simulated time), not the wall clock.
        self.send_response_only(resp.status)
        self.send_header("Server", "closeout-sandbox")
        for name, value in resp.headers.items():
            self.send_header(name, value)
        if content_type and resp.status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the sandbox's recorder keeps what tests need, and tokens stay out of logs."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Open connections, so that an outage can cut the kept-alive ones too.
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def open_count(self) -> int:
        with self._open_lock:
            return len(self._open)

    def drop_connections(self) -> None:
        with self._open_lock:
            open_now = list(self._open)
        for conn in open_now:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (a timeout test, a stopped run) is not the sandbox's error;
        # socketserver would print a traceback for it on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        handler = type("SandboxHandler", (_Handler,), {"sandbox": sandbox})
        self._httpd = _Server((host, port), handler)
        bound_host, self.port = self._httpd.server_address[:2]
        # An AF_INET server's address is (str, int); typeshed widens the host to str | bytes
        # for the socket families that name themselves in bytes, which this server never is.
        self.host = cast(str, bound_host)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="closeout-sandbox",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def connections_open(self) -> int:
        """Connections accepted and not yet closed: each is being served or kept alive."""
        return self._httpd.open_count()

    def stop(self, *, drop_connections: bool = False) -> None:
        """Stop listening (new connections are refused); ``drop_connections`` also cuts the
        open ones, as a network outage does."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if drop_connections:
            self._httpd.drop_connections()
        self._thread.join(timeout=5)
