"""A local fake of Gong's API for tests, demos and benchmarks; it imports nothing from the
tap, so it can stand as an oracle of Gong's behaviour.

    from gong_sandbox import GongSandbox, SandboxSettings

    with GongSandbox(SandboxSettings(calls=500, requests_per_second=3)) as sandbox:
        ...  # point the tap at sandbox.url with the demo credentials

Without a server, `GongSandbox.handle(Request(...))` answers one request in-process.
See GongSandbox for the knobs, fault scripting and the request log.
"""

from gong_sandbox.protocol import Reply, Request
from gong_sandbox.request_log import RequestLogEntry
from gong_sandbox.sandbox import GongSandbox
from gong_sandbox.settings import SandboxSettings

__all__ = ["GongSandbox", "Reply", "Request", "RequestLogEntry", "SandboxSettings"]
