"""The one route table: which handler answers a method and path, and the scope it needs.

Gong's spec names each endpoint's scope ("requires the scope ..."). Metered routes are
Gong's API: counted, limited, authenticated and logged. The others are the sandbox's own
(its counters) and the OAuth token endpoint, which Gong does not count against the limits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gong_sandbox.oauth import TOKEN_PATH
from gong_sandbox.protocol import ApiRequest, Reply

if TYPE_CHECKING:
    from gong_sandbox.endpoints.admin import AdminEndpoints
    from gong_sandbox.endpoints.calls import CallEndpoints
    from gong_sandbox.endpoints.company import CompanyEndpoints
    from gong_sandbox.endpoints.library import LibraryEndpoints
    from gong_sandbox.endpoints.scorecards import ScorecardEndpoints
    from gong_sandbox.endpoints.stats import StatsEndpoints

Handler = Callable[[ApiRequest], Reply]
COUNTERS_PATH = "/_sandbox/counters"


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # a regular expression for the whole path; its groups are the path parameters
    handler: Handler
    scope: str | None = None
    metered: bool = True


class RouteTable:
    def __init__(self, routes: Iterable[Route]) -> None:
        self._routes = [(route, re.compile(route.path)) for route in routes]

    def find(self, method: str, path: str) -> tuple[Route, tuple[str, ...]] | None:
        """The route for a method and path, with its path parameters; None if there is none."""
        for route, pattern in self._routes:
            if route.method == method and (found := pattern.fullmatch(path)):
                return route, found.groups()
        return None

    def scope(self, path: str) -> str | None:
        """The scope a path needs, whatever the method (Gong refuses a scope first)."""
        return next((r.scope for r, pattern in self._routes if pattern.fullmatch(path)), None)


def route_table(
    *,
    counters: Handler,
    token: Handler,
    calls: CallEndpoints,
    stats: StatsEndpoints,
    company: CompanyEndpoints,
    scorecards: ScorecardEndpoints,
    library: LibraryEndpoints,
    admin: AdminEndpoints,
) -> RouteTable:
    return RouteTable(
        (
            Route("GET", COUNTERS_PATH, counters, metered=False),
            Route("POST", TOKEN_PATH, token, metered=False),
            Route("GET", "/v2/calls", calls.calls, "api:calls:read:basic"),
            Route("POST", "/v2/calls/extensive", calls.extensive, "api:calls:read:extensive"),
            Route("POST", "/v2/calls/transcript", calls.transcript, "api:calls:read:transcript"),
            Route("GET", "/v2/users", company.users, "api:users:read"),
            Route(
                "GET",
                r"/v2/users/(\d+)/settings-history",
                admin.settings_history,
                "api:users:read",
            ),
            Route("GET", "/v2/workspaces", company.workspaces, "api:workspaces:read"),
            Route("GET", "/v2/settings/trackers", company.trackers, "api:settings:trackers:read"),
            Route(
                "GET",
                "/v2/settings/scorecards",
                scorecards.scorecards,
                "api:settings:scorecards:read",
            ),
            Route(
                "POST",
                "/v2/stats/activity/scorecards",
                scorecards.answered_scorecards,
                "api:stats:scorecards",
            ),
            Route("POST", "/v2/stats/interaction", stats.interaction, "api:stats:interaction"),
            Route(
                "POST",
                "/v2/stats/activity/day-by-day",
                stats.day_by_day,
                "api:stats:user-actions:detailed",
            ),
            Route(
                "POST",
                "/v2/stats/activity/aggregate-by-period",
                stats.aggregate_by_period,
                "api:stats:user-actions",
            ),
            Route("GET", "/v2/library/folders", library.folders, "api:library:read"),
            Route("GET", "/v2/library/folder-content", library.folder_content, "api:library:read"),
            Route("GET", "/v2/logs", admin.logs, "api:logs:read"),
            Route(
                "GET",
                "/v2/all-permission-profiles",
                admin.permission_profiles,
                "api:permission-profile:read",
            ),
            Route("GET", "/v2/permission-profile/users", admin.profile_users, "api:users:read"),
            Route("GET", "/v2/flows", admin.flows, "api:flows:read"),
        )
    )
