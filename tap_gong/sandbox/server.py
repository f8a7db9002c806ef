"""The Gong sandbox: a local HTTP fake of Gong's API with knobs for limits and faults."""

from __future__ import annotations

import base64
import bisect
import contextlib
import hashlib
import hmac
import json
import math
import random
import socket
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from typing_extensions import override

from tap_gong.sandbox.admin_endpoints import (
    ADMIN_ROUTES,
    SETTINGS_HISTORY_PATH,
    AdminEndpointsMixin,
    admin_scope,
)
from tap_gong.sandbox.dataset import Dataset
from tap_gong.sandbox.endpoints import ROUTES, EndpointsMixin
from tap_gong.sandbox.oauth import EXPIRED_TOKEN_MESSAGE, TOKEN_PATH, SandboxTokenIssuer
from tap_gong.sandbox.protocol import (
    Reply,
    dumps,
    epoch_microseconds,
    error_reply,
    filter_digest,
    parse_instant,
)
from tap_gong.sandbox.validation import setting_errors

CALLS_PATH = "/v2/calls"
STATS_PATH = "/v2/stats/interaction"
COUNTERS_PATH = "/_sandbox/counters"
# The API scope each endpoint needs (Gong's spec: "requires the scope ...").
ENDPOINT_SCOPES = {
    CALLS_PATH: "api:calls:read:basic",
    "/v2/calls/extensive": "api:calls:read:extensive",
    "/v2/calls/transcript": "api:calls:read:transcript",
    "/v2/users": "api:users:read",
    "/v2/workspaces": "api:workspaces:read",
    "/v2/settings/scorecards": "api:settings:scorecards:read",
    "/v2/settings/trackers": "api:settings:trackers:read",
    STATS_PATH: "api:stats:interaction",
    "/v2/stats/activity/scorecards": "api:stats:scorecards",
    "/v2/stats/activity/day-by-day": "api:stats:user-actions:detailed",
    "/v2/library/folders": "api:library:read",
    "/v2/library/folder-content": "api:library:read",
}
TIMEOUT_FAULT_SECONDS = 5.0
CACHED_FILTERS = 64
SERVER_ERROR_KINDS = ("500", "502", "503", "html500")
FAULT_KINDS = frozenset({*SERVER_ERROR_KINDS, "429", "quota", "drop", "truncate", "timeout"})
SERVER_ERROR_MESSAGES = {
    "500": "Failed to complete the operation due to an unexpected error",
    "502": "Bad gateway",
    "503": "Service temporarily unavailable",
}
HTML_500_BODY = (
    b"<html><head><title>500 Internal Server Error</title></head>"
    b"<body><h1>Internal Server Error</h1></body></html>"
)
CURSOR_MISMATCH = "cursor does not match the request filter"
# Gong's cursors are JWTs with an `exp`; the words of its 400 for an expired one are not
# documented or observed (gong-api-beyond.md §5): these are the sandbox's.
CURSOR_EXPIRED = "cursor has expired"
COUNTER_NAMES = ("requests", "429", "5xx", "404", "400", "dropped", "truncated")
# Past a second, an arrival no longer counts; kept a second longer for requests counted late.
ARRIVALS_KEPT_SECONDS = 2.0
T = TypeVar("T")


@dataclass
class SandboxSettings:
    seed: int = 7
    users: int = 8
    workspaces: int = 2
    calls: int = 500
    days: int = 30
    now: datetime | None = None  # None: the real clock
    time_zone: str = "America/Los_Angeles"
    access_key: str = "sandbox-key"
    access_key_secret: str = "sandbox-secret"
    access_token: str = "sandbox-token"
    # The OAuth app (token endpoint); `oauth.reauthorize()` replaces the refresh token.
    oauth_client_id: str = "sandbox-client"
    oauth_client_secret: str = "sandbox-client-secret"
    oauth_refresh_token: str = "sandbox-refresh-token"
    oauth_access_token_seconds: int = 3600
    # API scopes the key or OAuth app lacks: their endpoints answer `scope_refusal_status`
    # in Gong's words, which name the scope (401 or 403: which one Gong sends is unknown).
    withheld_scopes: frozenset[str] = frozenset()
    scope_refusal_status: int = 401
    page_size: int = 100
    requests_per_second: int | None = None
    retry_after_seconds: int = 1
    daily_quota: int | None = None
    error_rate: float = 0.0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    latency_seconds: float = 0.0
    # Up to this much more per answer, drawn at random: answers come back out of order.
    latency_jitter_seconds: float = 0.0
    # A keep-alive connection idle this long is closed, as web servers do; None: never.
    idle_timeout_seconds: float | None = None
    # A page cursor this many (real) seconds old is refused with a 400; None: never.
    cursor_ttl_seconds: float | None = None
    late_calls: int = 0
    transcript_sentences: int = 24  # sentences in each call's transcript
    odd_payloads: bool = False  # undocumented values, fields and nulls; no `records` on one page
    log_requests: bool = False  # request lines on stderr
    engage: bool = True  # False: a company without Gong Engage (403 to every /v2/flows)

    def __post_init__(self) -> None:
        errors = setting_errors(self)
        if errors:
            raise errors[0]


# These shape the data set when the sandbox is built; every other setting is a live knob.
DATA_SETTINGS = frozenset(
    {
        "seed",
        "users",
        "workspaces",
        "calls",
        "days",
        "now",
        "time_zone",
        "late_calls",
        "odd_payloads",
    }
)
KNOB_SETTINGS = frozenset(f.name for f in fields(SandboxSettings)) - DATA_SETTINGS


@dataclass(frozen=True)
class RequestLogEntry:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    status: int  # 0 when the connection was dropped without an answer
    at: float  # time.monotonic() on arrival
    auth: str | None  # "basic" or "bearer" when the credentials were valid; "expired" token


@dataclass(frozen=True)
class _ApiRequest:
    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    body_is_valid: bool
    auth: str | None
    arrived: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class GongSandbox(AdminEndpointsMixin, EndpointsMixin):
    """A running fake of Gong's API; see tap_gong/sandbox/__init__.py for usage."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._lock = threading.RLock()
        self._zone = ZoneInfo(self.settings.time_zone)
        self._frozen_now = self.settings.now
        self._clock_offset = timedelta()
        self._dataset = Dataset(
            seed=self.settings.seed,
            users=self.settings.users,
            workspaces=self.settings.workspaces,
            calls=self.settings.calls,
            days=self.settings.days,
            late_calls=self.settings.late_calls,
            now=self.now(),
            zone=self._zone,
            odd_payloads=self.settings.odd_payloads,
        )
        self._cursor_key = hashlib.sha256(
            f"gong-sandbox-cursor:{self.settings.seed}".encode()
        ).digest()
        self._fault_rng = random.Random(self.settings.seed)
        self._jitter_rng = random.Random(self.settings.seed)
        self._scripted_faults: deque[str] = deque()
        self._arrivals: list[float] = []  # time.monotonic(), sorted
        self._quota_day: date | None = None
        self._quota_used = 0
        self._request_count = 0
        self._results: OrderedDict[str, tuple[tuple[int, object], Sequence[Any]]] = OrderedDict()
        self._log: list[RequestLogEntry] = []
        self._counters = dict.fromkeys(COUNTER_NAMES, 0)
        self.oauth = SandboxTokenIssuer(self.settings, self.now)
        self._server: _SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (port 0: a free port) from a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = _SandboxHTTPServer(("127.0.0.1", port), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() waits for the loop to notice
            name="gong-sandbox",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> GongSandbox:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the sandbox is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def tap_config(self, **overrides: Any) -> dict[str, Any]:
        """A tap-gong config pointed at this sandbox: its URL, credentials and whole history."""
        config: dict[str, Any] = {
            "api_url": self.url,
            "access_key": self.settings.access_key,
            "access_key_secret": self.settings.access_key_secret,
            "start_date": (self.now() - timedelta(days=self.settings.days)).isoformat(),
        }
        config.update(overrides)
        return config

    def configure(self, **knobs: Any) -> None:
        """Change knobs (rates, limits, credentials, page size...) while serving."""
        not_knobs = set(knobs) - KNOB_SETTINGS
        if not_knobs:
            raise ValueError(f"not live knobs (data settings or unknown): {sorted(not_knobs)}")
        with self._lock:
            for name, value in knobs.items():
                setattr(self.settings, name, value)

    # -- clock -------------------------------------------------------------------------------

    @override
    def now(self) -> datetime:
        with self._lock:
            if self._frozen_now is not None:
                return self._frozen_now.astimezone(timezone.utc)
            return datetime.now(timezone.utc) + self._clock_offset

    def set_clock(self, instant: datetime) -> None:
        """Freeze the clock at an aware instant."""
        if instant.tzinfo is None:
            raise ValueError("the clock needs a timezone-aware datetime")
        with self._lock:
            self._frozen_now = instant

    def advance_clock(self, delta: timedelta) -> None:
        with self._lock:
            if self._frozen_now is not None:
                self._frozen_now += delta
            else:
                self._clock_offset += delta

    @override
    def company_today(self) -> date:
        return self.now().astimezone(self._zone).date()

    # -- data --------------------------------------------------------------------------------

    def calls(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        workspace_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Visible calls as the API returns them, filtered like the API (None: unbounded)."""
        with self._lock:
            calls = self._dataset.visible_calls(start, end, workspace_id)
        return [call.as_dict() for call in calls]

    def interaction_stats(self, day: date) -> list[dict[str, Any]]:
        """The API's peopleInteractionStats items for one company day, each with the answer's
        top-level `timeZone`, `fromDateTime` and `toDateTime` merged in (as the tap's records)."""
        with self._lock:
            next_day = day + timedelta(days=1)
            period = self._dataset.stats_period(day, next_day)
            return [{**item, **period} for item in self._dataset.stats_items(day, next_day)]

    def stats_days(self) -> list[date]:
        with self._lock:
            return self._dataset.stats_days()

    def add_calls(
        self, n: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Add `n` deterministic calls in [start, end) (default: the 24 h before now)."""
        with self._lock:
            end = end or self.now()
            start = start or end - timedelta(days=1)
            calls = self._dataset.add_calls(n, start, end)
        return [call.as_dict() for call in calls]

    def reveal_late_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            calls = self._dataset.reveal_late_calls()
        return [call.as_dict() for call in calls]

    # -- faults and the log ------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1) -> None:
        """Answer the next `count` API requests (past the limits) with a fault of `kind`."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        with self._lock:
            self._scripted_faults.extend([kind] * count)

    @property
    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counters)

    def reset_log(self) -> None:
        with self._lock:
            self._log.clear()
            self._counters = dict.fromkeys(COUNTER_NAMES, 0)

    # -- request handling (called from the handler threads) ----------------------------------

    def _admit(self, arrived: float) -> tuple[str, Reply | None]:
        """Count a request as it arrives, as Gong does: its id, and a 429 past a limit.

        `arrived` is when its handler read it: the count waits for the lock, which other
        requests hold while their answers are built (tens of ms for big pages), but what
        arrived in the second before it does not.
        """
        with self._lock:
            self._request_count += 1
            request_id = hashlib.blake2b(
                f"{self.settings.seed}:{self._request_count}".encode(), digest_size=8
            ).hexdigest()
            return request_id, self._limit_reply(request_id, arrived)

    def _serve_api(self, request: _ApiRequest, request_id: str, rejection: Reply | None) -> Reply:
        with self._lock:
            reply = rejection or self._fault_or_answer(request, request_id)
            self._record(request, reply)
            return reply

    def _limit_reply(self, request_id: str, arrived: float) -> Reply | None:
        settings = self.settings
        today = self.company_today()
        if today != self._quota_day:
            self._quota_day, self._quota_used = today, 0
        self._quota_used += 1
        if settings.daily_quota is not None and self._quota_used > settings.daily_quota:
            return self._quota_exceeded(request_id)
        # Every arrival counts in the window, rejected ones included, as Gong does. Requests
        # are counted in arrival order give or take a few ms: the arrivals stay sorted.
        arrivals = self._arrivals
        del arrivals[: bisect.bisect_right(arrivals, arrived - ARRIVALS_KEPT_SECONDS)]
        bisect.insort(arrivals, arrived)
        in_the_second_before = bisect.bisect_right(arrivals, arrived) - bisect.bisect_right(
            arrivals, arrived - 1.0
        )
        limit = settings.requests_per_second
        if limit is not None and in_the_second_before > limit:
            return self._rate_limited(request_id)
        return None

    def _quota_exceeded(self, request_id: str) -> Reply:
        next_midnight = self._dataset.midnight(self.company_today() + timedelta(days=1))
        seconds_left = math.ceil((next_midnight - self.now()).total_seconds())
        return error_reply(
            429, request_id, ["API daily quota exceeded"], retry_after=max(1, seconds_left)
        )

    def _rate_limited(self, request_id: str) -> Reply:
        return error_reply(
            429,
            request_id,
            ["API request limit exceeded"],
            retry_after=self.settings.retry_after_seconds,
        )

    def answer_delay(self) -> float:
        """Seconds before an answer: the latency, plus its jitter drawn for this answer."""
        settings = self.settings
        jitter = settings.latency_jitter_seconds
        return settings.latency_seconds + (self._jitter_rng.uniform(0, jitter) if jitter else 0)

    def _next_fault(self) -> str | None:
        # Always two draws, so the random sequence depends only on the request count.
        roll, pick = self._fault_rng.random(), self._fault_rng.random()
        if self._scripted_faults:
            return self._scripted_faults.popleft()
        settings = self.settings
        if roll < settings.error_rate:
            return SERVER_ERROR_KINDS[int(pick * len(SERVER_ERROR_KINDS))]
        if roll < settings.error_rate + settings.drop_rate:
            return "drop"
        if roll < settings.error_rate + settings.drop_rate + settings.truncate_rate:
            return "truncate"
        return None

    def _fault_or_answer(self, request: _ApiRequest, request_id: str) -> Reply:
        fault = self._next_fault()
        if fault == "429":
            return self._rate_limited(request_id)
        if fault == "quota":
            return self._quota_exceeded(request_id)
        if fault == "html500":
            return Reply(500, HTML_500_BODY, content_type="text/html; charset=utf-8")
        if fault in SERVER_ERROR_MESSAGES:
            return error_reply(int(fault), request_id, [SERVER_ERROR_MESSAGES[fault]])
        if fault == "drop":
            return Reply(0, drop=True)
        answer = self._answer(request, request_id)
        if fault == "truncate" and answer.status == 200:
            return replace(answer, truncate=True)
        if fault == "timeout":
            return replace(answer, delay=TIMEOUT_FAULT_SECONDS)
        return answer

    def _record(self, request: _ApiRequest, reply: Reply) -> None:
        counters = self._counters
        counters["requests"] += 1
        if reply.drop:
            counters["dropped"] += 1
        if reply.truncate:
            counters["truncated"] += 1
        status_counter = "5xx" if reply.status >= 500 else str(reply.status)
        if status_counter in counters:
            counters[status_counter] += 1
        self._log.append(
            RequestLogEntry(
                method=request.method,
                path=request.path,
                query=request.query,
                body=request.body,
                status=reply.status,
                at=request.arrived,
                auth=request.auth,
            )
        )

    def _answer(self, request: _ApiRequest, request_id: str) -> Reply:
        if request.auth is None:
            return error_reply(401, request_id, ["Missing or invalid credentials"])
        if request.auth == "expired":
            return error_reply(401, request_id, [EXPIRED_TOKEN_MESSAGE])
        scope = ENDPOINT_SCOPES.get(request.path) or admin_scope(request.path)
        if scope in self.settings.withheld_scopes:
            # As Gong said it live (PipedreamHQ/pipedream#16062, its end cut off there).
            words = f"You don't have permission to use '{scope}' in your company"
            return error_reply(self.settings.scope_refusal_status, request_id, [words])
        if (request.method, request.path) == ("GET", CALLS_PATH):
            return self._calls_answer(request.query, request_id)
        if request.method == "POST" and not request.body_is_valid:
            return error_reply(400, request_id, ["The request body is not a JSON object"])
        if (request.method, request.path) == ("POST", STATS_PATH):
            return self._stats_answer(request.body or {}, request_id)
        if route := ROUTES.get((request.method, request.path)):
            return route(self, request.query, request.body or {}, request_id)
        if route := ADMIN_ROUTES.get((request.method, request.path)):
            return route(self, request.query, request.body or {}, request_id)
        if request.method == "GET" and SETTINGS_HISTORY_PATH.match(request.path):
            return self._settings_history_answer(request.path, request_id)
        return error_reply(404, request_id, [f"No such endpoint: {request.method} {request.path}"])

    def _calls_answer(self, query: dict[str, str], request_id: str) -> Reply:
        start = parse_instant(query.get("fromDateTime", ""))
        end = parse_instant(query.get("toDateTime", ""))
        errors = [
            f"{name} is required as an ISO-8601 date-time with Z or an offset"
            for name, instant in (("fromDateTime", start), ("toDateTime", end))
            if instant is None
        ]
        if errors or start is None or end is None:
            return error_reply(400, request_id, errors)
        workspace_id = query.get("workspaceId") or None
        digest = filter_digest(
            "calls", epoch_microseconds(start), epoch_microseconds(end), workspace_id
        )

        def shuffled_payloads() -> list[bytes]:
            calls = self._dataset.visible_calls(start, end, workspace_id)
            payloads = [call.payload for call in calls]
            random.Random(f"{self.settings.seed}:{digest}").shuffle(payloads)
            return payloads

        return self._paged_answer(
            request_id,
            digest,
            cursor=query.get("cursor"),
            items_key="calls",
            compute_items=shuffled_payloads,
            not_found="No calls found corresponding to the provided filters",
        )

    def _stats_answer(self, body: dict[str, Any], request_id: str) -> Reply:
        parsed = self._company_days_filter(body)
        if isinstance(parsed, list):
            return error_reply(400, request_id, parsed)
        from_day, to_day, selected_users = parsed
        cursor = body.get("cursor")
        digest = filter_digest("stats", from_day, to_day, *sorted(selected_users or ()))
        return self._paged_answer(
            request_id,
            digest,
            cursor=cursor,
            items_key="peopleInteractionStats",
            compute_items=lambda: [
                dumps(item) for item in self._dataset.stats_items(from_day, to_day, selected_users)
            ],
            not_found="No stats found for the specified period",
            top_level=self._dataset.stats_period(from_day, to_day),
        )

    @override
    def _paged_answer(
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
        offset = 0
        if cursor:
            content = self._cursor_content(cursor)
            if content is None or content["filter"] != digest:
                return error_reply(400, request_id, [CURSOR_MISMATCH])
            ttl = self.settings.cursor_ttl_seconds
            if ttl is not None and time.monotonic() - content["issued"] > ttl:
                return error_reply(400, request_id, [CURSOR_EXPIRED])
            offset = content["offset"]
        items = self._filter_results(digest, compute_items, freshness)
        if not items:
            return error_reply(404, request_id, [not_found])
        page_size = self.settings.page_size
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
        if self.settings.odd_payloads and "cursor" not in records:
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

    def _authenticate(self, authorization: str | None) -> str | None:
        """The scheme of valid credentials ("basic" or "bearer"), "expired", else None."""
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        settings = self.settings
        if scheme.lower() == "basic":
            expected = f"{settings.access_key}:{settings.access_key_secret}".encode()
            try:
                given = base64.b64decode(credentials.strip(), validate=True)
            except ValueError:
                return None
            return "basic" if hmac.compare_digest(given, expected) else None
        if scheme.lower() == "bearer":
            given_token = credentials.strip()
            if hmac.compare_digest(given_token.encode(), settings.access_token.encode()):
                return "bearer"
            return self.oauth.access_token_status(given_token)
        return None


class _SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        sandbox: GongSandbox,
    ) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

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

    def close_connections(self) -> None:
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
    server: _SandboxHTTPServer

    @override
    def setup(self) -> None:
        super().setup()
        # Reading the next request times out after this long: the connection is closed.
        self.connection.settimeout(self.server.sandbox.settings.idle_timeout_seconds)

    @override
    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            self.close_connection = True  # the client went away; nothing to tell anyone

    @override
    def log_message(self, format: str, *args: Any) -> None:
        if self.server.sandbox.settings.log_requests:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        arrived = time.monotonic()
        sandbox = self.server.sandbox
        raw_body = self._read_body()
        url = urlsplit(self.path)
        if self.command == "GET" and url.path == COUNTERS_PATH:
            self._send(Reply(200, dumps(sandbox.counters())))
            return
        if self.command == "POST" and url.path == TOKEN_PATH:
            status, answer = sandbox.oauth.token_answer(
                url.query, raw_body, self.headers.get("Authorization"), sandbox.url
            )
            self._send(Reply(status, dumps(answer)))
            return
        request_id, rejection = sandbox._admit(arrived)
        # Counted on arrival; the latency is the time Gong takes to answer it.
        if rejection is None and (delay := sandbox.answer_delay()):
            time.sleep(delay)
        body: Any = None
        body_is_valid = True
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
            body_is_valid = isinstance(body, dict)
        request = _ApiRequest(
            method=self.command,
            path=url.path,
            query={name: values[-1] for name, values in parse_qs(url.query).items()},
            body=body if body_is_valid else None,
            body_is_valid=body_is_valid,
            auth=sandbox._authenticate(self.headers.get("Authorization")),
            arrived=arrived,
        )
        self._send(sandbox._serve_api(request, request_id, rejection))

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
