"""singer-sdk's standard tap tests, against the Gong sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_gong.sandbox import GongSandbox
from tap_gong.tap import TapGong
from tests.support import sandbox_settings, tap_config

# The SDK builds the test class at import, so the sandbox must already be serving.
SANDBOX = GongSandbox(sandbox_settings())
SANDBOX.start()
atexit.register(SANDBOX.stop)

TestTapGong = get_tap_test_class(
    tap_class=TapGong,
    config=tap_config(SANDBOX),
    suite_config=SuiteConfig(max_records_limit=200),
)
