"""How a run reaches Gong: the credentials (one of three ways) and the base URL.

One `GongAccess` serves every stream of a run: with an OAuth app, each refresh spends
the refresh token the others would hold, and Gong names the customer's API base URL
in its token answer.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import cached_property

from singer_sdk.authenticators import (
    APIAuthenticatorBase,
    BasicAuthenticator,
    BearerTokenAuthenticator,
)

from tap_gong.fetching import WindowFetcher
from tap_gong.oauth import GongOAuthAuthenticator
from tap_gong.outcomes import RunOutcomes
from tap_gong.pacing import RequestPacer
from tap_gong.settings import GongSettings
from tap_gong.transport import ThreadSessions


class GongAccess:
    """The run's authenticator and Gong's base URL for it."""

    def __init__(self, settings: GongSettings, api_url_configured: bool, logger: logging.Logger):
        self.settings = settings
        self.logger = logger
        self._api_url_configured = api_url_configured
        self._base_url_warned = False

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        settings = self.settings
        if settings.refresh_token:
            return GongOAuthAuthenticator(
                client_id=settings.client_id or "",
                client_secret=settings.client_secret or "",
                refresh_token=settings.refresh_token,
                credentials_file=settings.oauth_credentials_file,
                token_url=settings.oauth_token_url,
                logger=self.logger,
            )
        if settings.access_token:
            return BearerTokenAuthenticator(token=settings.access_token)
        return BasicAuthenticator(
            username=settings.access_key or "", password=settings.access_key_secret or ""
        )

    @property
    def oauth(self) -> GongOAuthAuthenticator | None:
        auth = self.authenticator
        return auth if isinstance(auth, GongOAuthAuthenticator) else None

    def base_url(self) -> str:
        """`api_url`; with an OAuth app, the customer's base URL from Gong's token answer."""
        configured = self.settings.base_url
        if self.oauth is None or not (customer_url := self.oauth.api_base_url):
            return configured
        customer_url = customer_url.rstrip("/")
        if self._api_url_configured and customer_url != configured and not self._base_url_warned:
            self._base_url_warned = True
            self.logger.warning(
                "api_url is %s but Gong's OAuth token names %s for this company: using %s.",
                configured,
                customer_url,
                customer_url,
            )
        return customer_url


def start_run(
    settings: GongSettings,
    api_url_configured: bool,
    logger: logging.Logger,
    pacer: RequestPacer | None = None,
) -> GongRun:
    """The run every stream shares, built from the settings in this one place.

    Args:
        settings: The run's settings.
        api_url_configured: Whether the config names `api_url` (GongAccess warns when an
            OAuth token names another).
        logger: The tap's logger.
        pacer: The run's pacer when the caller brings its own (a test's, on a fake clock).
    """
    return GongRun(
        settings=settings,
        # One pacer for the whole run: every stream's requests share Gong's allowance.
        pacer=pacer
        if pacer is not None
        else RequestPacer(
            rate=settings.max_requests_per_second,
            budget=settings.max_requests_per_run,
            kept_for_the_window_read=settings.max_concurrent_requests,
        ),
        access=GongAccess(settings, api_url_configured, logger),
    )


@dataclasses.dataclass(frozen=True)
class GongRun:
    """What every stream of one run shares: settings, Gong's allowance and the access."""

    settings: GongSettings
    pacer: RequestPacer
    access: GongAccess
    #: How each stream ended, for the run summary and the exit code.
    outcomes: RunOutcomes = dataclasses.field(default_factory=RunOutcomes)

    @cached_property
    def fetcher(self) -> WindowFetcher:
        """The workers fetching windows ahead, all streams' (`max_concurrent_requests` > 1)."""
        return WindowFetcher(self.pacer, self.settings.max_concurrent_requests)

    @cached_property
    def sessions(self) -> ThreadSessions:
        """Each thread's requests Session, kept from one stream to the next."""
        return ThreadSessions()
