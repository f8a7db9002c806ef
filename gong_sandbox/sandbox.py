"""The Gong sandbox: a local fake of Gong's API with knobs for limits and faults.

GongSandbox composes the parts, each in its own module: the clock, the data (data/), the
endpoint families (endpoints/) and the one route table (routes.py), credentials (auth.py,
oauth.py), limits, faults, paging and the request log. `handle` answers one request; the
HTTP server (http_server.py) calls it for every request it reads.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from gong_sandbox.auth import authenticate, refusal
from gong_sandbox.clock import SandboxClock
from gong_sandbox.data.administration import aggregate_by_period
from gong_sandbox.data.content import ContentSelector
from gong_sandbox.data.dataset import Dataset
from gong_sandbox.data.world import World
from gong_sandbox.endpoints.admin import AdminEndpoints
from gong_sandbox.endpoints.calls import EVERYTHING, CallEndpoints
from gong_sandbox.endpoints.company import CompanyEndpoints
from gong_sandbox.endpoints.library import LibraryEndpoints
from gong_sandbox.endpoints.scorecards import ScorecardEndpoints, ScorecardFilter
from gong_sandbox.endpoints.stats import StatsEndpoints
from gong_sandbox.faults import Faults, faulty_reply
from gong_sandbox.http_server import SandboxHTTPServer
from gong_sandbox.limits import Limits
from gong_sandbox.oauth import SandboxTokenIssuer
from gong_sandbox.paging import Pager
from gong_sandbox.protocol import ApiRequest, Reply, Request, dumps, error_reply
from gong_sandbox.request_log import RequestLog, RequestLogEntry
from gong_sandbox.routes import Route, route_table
from gong_sandbox.settings import KNOB_SETTINGS, SandboxSettings


class GongSandbox:
    """A fake of Gong's API; see gong_sandbox/__init__.py for usage.

    Thread-safe: answers and accessors take one lock, so each sees the data whole.
    """

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.settings = settings or SandboxSettings()
        self._lock = threading.RLock()
        self._clock = SandboxClock(self.settings.now, ZoneInfo(self.settings.time_zone))
        dataset = Dataset(
            seed=self.settings.seed,
            users=self.settings.users,
            workspaces=self.settings.workspaces,
            calls=self.settings.calls,
            days=self.settings.days,
            late_calls=self.settings.late_calls,
            now=self.now(),
            zone=self._clock.zone,
            odd_payloads=self.settings.odd_payloads,
        )
        self._world = World(dataset)
        self._limits = Limits(self.settings, self._clock)
        self._faults = Faults(self.settings)
        self._log = RequestLog()
        self.oauth = SandboxTokenIssuer(self.settings, self.now)
        family = (self.settings, self._clock, self._world, Pager(self.settings, dataset))
        self._calls = CallEndpoints(*family)
        self._scorecards = ScorecardEndpoints(*family)
        self._routes = route_table(
            counters=lambda _: Reply(200, dumps(self.counters())),
            token=self._token_answer,
            calls=self._calls,
            stats=StatsEndpoints(*family),
            company=CompanyEndpoints(*family),
            scorecards=self._scorecards,
            library=LibraryEndpoints(*family),
            admin=AdminEndpoints(*family),
        )
        self._server: SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> None:
        """Serve on 127.0.0.1 (port 0: a free port) from a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        self._server = SandboxHTTPServer(port, self.handle, self.settings)
        self._thread = self._server.serve_in_background()

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.stop()
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
        return self._server.url

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

    # -- answering ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        """Answer one request as Gong would, limits, faults and latency included.

        The HTTP server calls it for every request; tests may call it in-process. A reply
        with `drop`, `truncate` or `delay` asks its transport to misbehave so.
        """
        path = urlsplit(request.target).path
        found = self._routes.find(request.method, path)
        route, params = found or (None, ())
        if route is not None and not route.metered:
            return route.handler(ApiRequest.parse(request, path_params=params))
        with self._lock:
            request_id, rejection = self._limits.admit(request.arrived)
        # Counted on arrival; the latency is the time Gong takes to answer it.
        if rejection is None and (delay := self._faults.answer_delay()):
            time.sleep(delay)
        api_request = ApiRequest.parse(
            request,
            auth=authenticate(request.header("Authorization"), self.settings, self.oauth),
            request_id=request_id,
            path_params=params,
        )
        with self._lock:
            reply = rejection or faulty_reply(
                self._faults.next_fault(),
                request_id,
                self._limits,
                lambda: self._answer(api_request, route),
            )
            self._log.record(api_request, reply)
            return reply

    def _answer(self, request: ApiRequest, route: Route | None) -> Reply:
        if refused := refusal(request, self._routes.scope(request.path), self.settings):
            return refused
        if request.method == "POST" and not request.body_is_valid:
            return error_reply(400, request.request_id, ["The request body is not a JSON object"])
        if route is None:
            words = f"No such endpoint: {request.method} {request.path}"
            return error_reply(404, request.request_id, [words])
        return route.handler(request)

    def _token_answer(self, request: ApiRequest) -> Reply:
        status, answer = self.oauth.token_answer(
            urlsplit(request.raw.target).query,
            request.raw.body,
            request.raw.header("Authorization"),
            self.url,
        )
        return Reply(status, dumps(answer))

    # -- clock -------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self._clock.now()

    def set_clock(self, instant: datetime) -> None:
        """Freeze the clock at an aware instant."""
        self._clock.freeze(instant)

    def advance_clock(self, delta: timedelta) -> None:
        self._clock.advance(delta)

    def company_today(self) -> date:
        return self._clock.company_today()

    # -- faults and the log ------------------------------------------------------------------

    def fail_next(self, kind: str, count: int = 1) -> None:
        """Answer the next `count` API requests (past the limits) with a fault of `kind`."""
        with self._lock:
            self._faults.fail_next(kind, count)

    @property
    def requests(self) -> list[RequestLogEntry]:
        with self._lock:
            return list(self._log.entries)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return dict(self._log.counters)

    def reset_log(self) -> None:
        with self._lock:
            self._log.reset()

    # -- the data: what the API sends, for tests to compare with -----------------------------

    def calls(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        workspace_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Visible calls as the API returns them, filtered like the API (None: unbounded)."""
        with self._lock:
            calls = self._world.dataset.visible_calls(start, end, workspace_id)
        return [call.as_dict() for call in calls]

    def add_calls(
        self, n: int, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Add `n` deterministic calls in [start, end) (default: the 24 h before now)."""
        with self._lock:
            end = end or self.now()
            start = start or end - timedelta(days=1)
            calls = self._world.dataset.add_calls(n, start, end)
        return [call.as_dict() for call in calls]

    def reveal_late_calls(self) -> list[dict[str, Any]]:
        with self._lock:
            calls = self._world.dataset.reveal_late_calls()
        return [call.as_dict() for call in calls]

    def delete_calls(self, call_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Delete calls: they vanish from every endpoint, and so does what derives from them."""
        with self._lock:
            deleted = self._world.dataset.delete_calls(int(call_id) for call_id in call_ids)
        return [call.as_dict() for call in deleted]

    def call_details(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        content_selector: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """/v2/calls/extensive items of calls started in [start, end), in `started` order.

        The default selector asks for everything but media (whose URLs change per request).
        """
        selector = ContentSelector.parse(
            EVERYTHING if content_selector is None else content_selector
        )
        if isinstance(selector, str):
            raise ValueError(selector)
        with self._lock:
            now = self.now()
            return [
                json.loads(self._world.content.extensive(call, selector, now, "accessor"))
                for call in self._world.dataset.calls_started(start, end)
            ]

    def transcripts(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """/v2/calls/transcript items of calls started in [start, end), in `started` order."""
        with self._lock:
            return [
                json.loads(self._calls.transcript_item(call))
                for call in self._world.dataset.calls_started(start, end)
                if self._world.content.has_transcript(call)
            ]

    def call_counts(self, start: datetime, end: datetime) -> dict[str, int]:
        """How many calls /v2/calls lists in [start, end), started in it, and of those have a
        transcript; nothing is decoded or built (benchmarks count 250,000 calls).
        """
        with self._lock:
            dataset = self._world.dataset
            started = dataset.calls_started(start, end)
            return {
                "listed": len(dataset.visible_calls(start, end)),
                "started": len(started),
                "transcripts": sum(map(self._world.content.has_transcript, started)),
            }

    def interaction_stats(self, day: date) -> list[dict[str, Any]]:
        """The API's peopleInteractionStats items for one company day, each with the answer's
        top-level `timeZone`, `fromDateTime` and `toDateTime` merged in (as the tap's records)."""
        with self._lock:
            dataset, next_day = self._world.dataset, day + timedelta(days=1)
            period = dataset.stats_period(day, next_day)
            return [{**item, **period} for item in dataset.stats_items(day, next_day)]

    def stats_days(self) -> list[date]:
        with self._lock:
            return self._world.dataset.stats_days()

    def user_activity(self, day: date) -> list[dict[str, Any]]:
        """/v2/stats/activity/day-by-day items for one company day."""
        with self._lock:
            items = self._world.activity.users_detailed_activities(
                day, day + timedelta(days=1), None, self.now()
            )
            return json.loads(dumps(items))

    def activity_by_period(self, period: str, from_day: date, to_day: date) -> list[dict]:
        """/v2/stats/activity/aggregate-by-period items for [from_day, to_day)."""
        with self._lock:
            world = self._world
            detailed = world.activity.users_detailed_activities(from_day, to_day, None, self.now())
            items = aggregate_by_period(detailed, period, from_day, to_day, world.dataset.zone)
            return [dict(item) for item in items]

    def users(self, include_avatars: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._world.company.users(include_avatars)))

    def workspaces(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._world.company.workspaces))

    def trackers(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps(self._world.company.trackers(workspace_id)))

    def scorecards(self) -> list[dict[str, Any]]:
        with self._lock:
            return json.loads(dumps([card.payload for card in self._world.company.scorecards]))

    def answered_scorecards(
        self,
        review_from: date | None = None,
        review_to: date | None = None,
        call_from: date | None = None,
        call_to: date | None = None,
    ) -> list[dict[str, Any]]:
        """Reviews published by now, in review-time order, filtered on company days like the API."""
        scorecard_filter = ScorecardFilter(call_from, call_to, review_from, review_to)
        with self._lock:
            return [
                json.loads(dumps(self._world.reviews.render(review)))
                for review in self._scorecards.matching_reviews(scorecard_filter)
            ]

    def edit_answered_scorecard(
        self, answered_scorecard_id: int, review_time: datetime | None = None
    ) -> dict[str, Any]:
        """Change a review's answers (same answeredScorecardId); its reviewTime only if given."""
        with self._lock:
            world = self._world
            review = next(
                (
                    r
                    for r in world.all_reviews()
                    if r.answered_scorecard_id == answered_scorecard_id
                ),
                None,
            )
            if review is None:
                raise KeyError(f"no answered scorecard {answered_scorecard_id}")
            world.reviews.edit(review, int(review_time.timestamp()) if review_time else None)
            world.dataset.touch()
            edited = next(
                r for r in world.all_reviews() if r.answered_scorecard_id == answered_scorecard_id
            )
            return json.loads(dumps(world.reviews.render(edited)))

    def library_folders(self, workspace_id: str | None = None) -> list[dict[str, Any]]:
        """/v2/library/folders items: the public folders of one workspace (None: all)."""
        with self._lock:
            return json.loads(dumps(self._world.library.workspace_folders(workspace_id)))

    def library_folder_calls(self, folder_id: str) -> list[dict[str, Any]]:
        """/v2/library/folder-content `calls[]` of one folder, as of now."""
        with self._lock:
            library = self._world.library
            folder = library.folder(folder_id)
            if folder is None:
                raise KeyError(f"no library folder {folder_id}")
            calls = library.folder_calls(folder, self._world.dataset.calls_started(), self.now())
            return json.loads(dumps(calls))

    def settings_history(self, user_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return self._world.administration.settings_history(user_id) or []

    def log_entries(self, log_type: str, start: datetime, end: datetime) -> list[dict]:
        """/v2/logs entries of one type with eventTime in [start, end), up to now."""
        with self._lock:
            end = min(end, self.now())
            return list(self._world.administration.log_entries(log_type, start, end))

    def permission_profiles(self, workspace_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._world.administration.profiles.get(workspace_id, []))

    def permission_profile_users(self, profile_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._world.administration.profile_users.get(profile_id, []))

    def engage_flows(self, owner_email: str) -> list[dict[str, Any]] | None:
        """The flows GET /v2/flows lists for an owner (None: Gong answers 403)."""
        with self._lock:
            if not self.settings.engage:
                return None
            return self._world.administration.flows(owner_email)
