"""The sandbox on the wire: an HTTP/1.1 server on 127.0.0.1 whose every request is
answered by `GongSandbox.handle`, with the faults a network has (drops, truncation, delay)."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from typing_extensions import override

from gong_sandbox.protocol import Reply, Request
from gong_sandbox.settings import SandboxSettings

# Gong counts a request against its rolling second as it arrives. Here a handler thread
# stamps it once it holds Python's lock, which threads building answers hand on only every
# switch interval (5 ms by default, and several may queue): stamps came up to 20 ms late,
# a jitter of the sandbox's own that Gong's edge does not have. While a sandbox serves, the
# process switches threads this often (and back to its own interval after the last stops).
ARRIVAL_SWITCH_INTERVAL_SECONDS = 0.0005


class _SwitchInterval:
    """The process's thread switch interval, shortened while any sandbox serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serving = 0
        self._before = sys.getswitchinterval()

    def serving(self) -> None:
        with self._lock:
            if self._serving == 0:
                self._before = sys.getswitchinterval()
                sys.setswitchinterval(min(self._before, ARRIVAL_SWITCH_INTERVAL_SECONDS))
            self._serving += 1

    def stopped(self) -> None:
        with self._lock:
            self._serving -= 1
            if self._serving == 0:
                sys.setswitchinterval(self._before)


_switch_interval = _SwitchInterval()


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        port: int,
        answer: Callable[[Request], Reply],
        settings: SandboxSettings,
    ) -> None:
        self.answer = answer
        self.settings = settings  # live knobs: the idle timeout, logging requests
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_background(self) -> threading.Thread:
        thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name="gong-sandbox",
            daemon=True,
        )
        _switch_interval.serving()
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self._close_connections()
        self.server_close()
        _switch_interval.stopped()

    @override
    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    @override
    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def _close_connections(self) -> None:
        """Wake handler threads idling on keep-alive connections so stop() really stops."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)

    @override
    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (timeouts, drops) are routine here; anything else is a bug to show.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GongSandbox/1"
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes
    server: SandboxHTTPServer

    @override
    def setup(self) -> None:
        super().setup()
        # Reading the next request times out after this long: the connection is closed.
        self.connection.settimeout(self.server.settings.idle_timeout_seconds)

    @override
    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            self.close_connection = True  # the client went away; nothing to tell anyone

    @override
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.settings.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        arrived = time.monotonic()
        request = Request(
            method=self.command,
            target=self.path,
            headers=dict(self.headers.items()),
            body=self._read_body(),
            arrived=arrived,
        )
        self._send(self.server.answer(request))

    def _read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if reply.retry_after is not None:
            self.send_header("Retry-After", str(reply.retry_after))
        self.end_headers()
        if reply.truncate:
            # Full Content-Length promised, half delivered: the client sees a broken body.
            self.wfile.write(reply.body[: len(reply.body) // 2])
            self.close_connection = True
        else:
            self.wfile.write(reply.body)
