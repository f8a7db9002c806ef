"""A local fake of Gong's API for tests, demos and benchmarks.

    from tap_gong.sandbox import GongSandbox, SandboxSettings

    with GongSandbox(SandboxSettings(calls=500, requests_per_second=3)) as sandbox:
        ...  # point the tap at sandbox.url with the demo credentials

See GongSandbox for the knobs, fault scripting and the request log.
"""

from tap_gong.sandbox.server import GongSandbox, RequestLogEntry, SandboxSettings

__all__ = ["GongSandbox", "RequestLogEntry", "SandboxSettings"]
