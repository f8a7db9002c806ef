"""singer-sdk's standard tap tests, against the Gong sandbox."""

from __future__ import annotations

import atexit
import json

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from gong_sandbox import GongSandbox
from tap_gong.tap import TapGong
from tests.support import discovered_catalog, sandbox_settings, tap_config

# The SDK builds the test class at import, so the sandbox must already be serving.
SANDBOX = GongSandbox(sandbox_settings())
SANDBOX.start()
atexit.register(SANDBOX.stop)


def every_stream_selected() -> dict:
    """The catalog with every stream selected, as Meltano's `select: ['*.*']` writes it.

    The SDK's dry run forces every stream selected, but its schema tests read a fresh
    tap's: a stream not selected by default (audit_logs...) would have no properties there.
    """
    catalog = json.loads(discovered_catalog())
    for entry in catalog["streams"]:
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = True
    return dict(catalog)


TestTapGong = get_tap_test_class(
    tap_class=TapGong,
    config=tap_config(SANDBOX),
    suite_config=SuiteConfig(max_records_limit=200),
    catalog=every_stream_selected(),
)
