"""Gong's paging: opaque cursors bound to their filter, and each filter's results cached.

Not thread-safe: the sandbox answers one request at a time under its lock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from gong_sandbox.data.dataset import Dataset
from gong_sandbox.protocol import Reply, dumps, error_reply
from gong_sandbox.settings import SandboxSettings

CACHED_FILTERS = 64
CURSOR_MISMATCH = "cursor does not match the request filter"
# Gong's cursors are JWTs with an `exp`; the words of its 400 for an expired one are not
# documented or observed (gong-api-beyond.md §5): these are the sandbox's.
CURSOR_EXPIRED = "cursor has expired"
T = TypeVar("T")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Pager:
    """Serves one page of a filter's results at a time, as Gong does."""

    def __init__(self, settings: SandboxSettings, dataset: Dataset) -> None:
        self._settings = settings
        self._dataset = dataset
        self._cursor_key = hashlib.sha256(f"gong-sandbox-cursor:{settings.seed}".encode()).digest()
        self._results: OrderedDict[str, tuple[tuple[int, object], Sequence[Any]]] = OrderedDict()

    def page(
        self,
        request_id: str,
        digest: str,
        *,
        cursor: str | None,
        items_key: str,
        compute_items: Callable[[], Sequence[T]],
        not_found: str,
        render: Callable[[T], bytes] | None = None,
        top_level: dict[str, Any] | None = None,
        freshness: object = None,
    ) -> Reply:
        """One page of a filter's results; results are cached per filter for later pages.

        Items are cached as computed; `render` turns the page's items into JSON (default: the
        items are JSON already), so costly content is only built for the page served.
        `top_level` fields go next to the items; `freshness` is what besides the data set's
        version invalidates the cache (e.g. how many reviews the clock has revealed).
        """
        settings = self._settings
        offset = 0
        if cursor:
            content = self._cursor_content(cursor)
            if content is None or content["filter"] != digest:
                return error_reply(400, request_id, [CURSOR_MISMATCH])
            ttl = settings.cursor_ttl_seconds
            if ttl is not None and time.monotonic() - content["issued"] > ttl:
                return error_reply(400, request_id, [CURSOR_EXPIRED])
            offset = content["offset"]
        items = self._filter_results(digest, compute_items, freshness)
        if not items:
            return error_reply(404, request_id, [not_found])
        page_size = settings.page_size
        page_items = items[offset : offset + page_size]
        page = [render(item) for item in page_items] if render else cast("list[bytes]", page_items)
        records: dict[str, Any] = {
            "totalRecords": len(items),
            "currentPageSize": len(page),
            "currentPageNumber": offset // page_size,
        }
        if offset + len(page) < len(items):
            records["cursor"] = self._cursor(digest, offset + len(page))
        envelope: dict[str, Any] = {"requestId": request_id, "records": records}
        envelope.update(top_level or {})
        if settings.odd_payloads and "cursor" not in records:
            del envelope["records"]
        head = dumps(envelope)[:-1]
        body = b"".join((head, b',"', items_key.encode(), b'":[', b",".join(page), b"]}"))
        return Reply(200, body)

    def _filter_results(
        self, digest: str, compute_items: Callable[[], Sequence[T]], freshness: object = None
    ) -> Sequence[T]:
        version = (self._dataset.version, freshness)
        cached = self._results.get(digest)
        if cached is None or cached[0] != version:
            cached = (version, compute_items())
            self._results[digest] = cached
        self._results.move_to_end(digest)
        if len(self._results) > CACHED_FILTERS:
            self._results.popitem(last=False)
        return cached[1]

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._cursor_key, payload.encode(), hashlib.sha256).digest()[:18])

    def _cursor(self, digest: str, offset: int) -> str:
        # Issued on the real clock: the sandbox's own may be frozen. It also makes every
        # cursor new, as Gong's (a JWT with `exp`) are.
        content = {"filter": digest, "offset": offset, "issued": round(time.monotonic(), 6)}
        payload = _b64(dumps(content))
        return f"{payload}.{self._sign(payload)}"

    def _cursor_content(self, cursor: str) -> dict[str, Any] | None:
        """What a cursor says (its filter, offset, when it was issued); None if forged."""
        payload, _, signature = cursor.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        # A valid signature means this sandbox wrote the payload, so it decodes cleanly.
        content: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        )
        return content
