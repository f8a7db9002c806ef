"""Gong's OAuth token endpoint, faked: single-use refresh tokens and expiring access tokens.

Like Gong (POST /oauth2/generate-customer-token), each refresh returns a new refresh
token and invalidates the one it was given; reusing a spent one is `invalid_grant`.
The access tokens it issues expire on the sandbox's clock (`advance_clock` expires them).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qs

TOKEN_PATH = "/oauth2/generate-customer-token"
OAUTH_SCOPES = "api:calls:read:basic api:stats:interaction"
EXPIRED_TOKEN_MESSAGE = "The access token has expired"


class OAuthAppSettings(Protocol):
    """The SandboxSettings fields the token endpoint reads (live: `configure` changes them)."""

    oauth_client_id: str
    oauth_client_secret: str
    oauth_refresh_token: str
    oauth_access_token_seconds: int


def _oauth_error(status: int, error: str, description: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": error, "error_description": description}


class SandboxTokenIssuer:
    """Issues and checks the sandbox's OAuth tokens; thread-safe."""

    def __init__(self, settings: OAuthAppSettings, now: Callable[[], datetime]) -> None:
        self._settings = settings
        self._now = now
        self._lock = threading.Lock()
        self._refresh_token = settings.oauth_refresh_token
        self._issued = [self._refresh_token]
        self._access_token_expiry: dict[str, datetime] = {}
        self._refreshes = 0

    @property
    def refreshes(self) -> int:
        """How many refreshes succeeded."""
        with self._lock:
            return self._refreshes

    @property
    def refresh_token(self) -> str:
        """The one refresh token valid now."""
        with self._lock:
            return self._refresh_token

    @property
    def issued_tokens(self) -> list[str]:
        """Every refresh and access token it gave out, the initial refresh token first."""
        with self._lock:
            return list(self._issued)

    def reauthorize(self) -> str:
        """A tech admin authorises the app again: a new refresh token, the previous one dead."""
        with self._lock:
            self._refresh_token = secrets.token_urlsafe(24)
            self._issued.append(self._refresh_token)
            return self._refresh_token

    def token_answer(
        self, query: str, form_body: bytes, authorization: str | None, base_url: str
    ) -> tuple[int, dict[str, Any]]:
        """Status and JSON body for a token request; parameters in the query or a form body."""
        settings = self._settings
        params = {
            name: values[-1]
            for part in (query, form_body.decode("utf-8", "replace"))
            for name, values in parse_qs(part).items()
        }
        if not self._client_is_valid(authorization):
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        if params.get("grant_type") != "refresh_token":
            return _oauth_error(
                400, "unsupported_grant_type", "Only grant_type=refresh_token is supported."
            )
        given = params.get("refresh_token", "")
        with self._lock:
            if not hmac.compare_digest(given.encode(), self._refresh_token.encode()):
                return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
            access_token = secrets.token_urlsafe(24)
            lifetime = settings.oauth_access_token_seconds
            self._access_token_expiry[access_token] = self._now() + timedelta(seconds=lifetime)
            self._refresh_token = secrets.token_urlsafe(24)
            self._issued += [access_token, self._refresh_token]
            self._refreshes += 1
            return 200, {
                "access_token": access_token,
                "refresh_token": self._refresh_token,
                "expires_in": lifetime,
                "scope": OAUTH_SCOPES,
                "token_type": "Bearer",
                "api_base_url_for_customer": base_url,
            }

    def access_token_status(self, token: str) -> str | None:
        """ "bearer" for an issued token still valid, "expired" once expired, else None."""
        with self._lock:
            expiry = self._access_token_expiry.get(token)
        if expiry is None:
            return None
        return "bearer" if self._now() < expiry else "expired"

    def _client_is_valid(self, authorization: str | None) -> bool:
        scheme, _, credentials = (authorization or "").strip().partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(credentials.strip(), validate=True)
        except binascii.Error:
            return False
        expected = f"{self._settings.oauth_client_id}:{self._settings.oauth_client_secret}"
        return hmac.compare_digest(given, expected.encode())
