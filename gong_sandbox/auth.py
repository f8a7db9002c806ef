"""Who may ask what: credentials (access key, static token, OAuth app) and API scopes."""

from __future__ import annotations

import base64
import hmac

from gong_sandbox.oauth import EXPIRED_TOKEN_MESSAGE, SandboxTokenIssuer
from gong_sandbox.protocol import ApiRequest, Reply, error_reply
from gong_sandbox.settings import SandboxSettings


def authenticate(
    authorization: str | None, settings: SandboxSettings, oauth: SandboxTokenIssuer
) -> str | None:
    """The scheme of valid credentials ("basic" or "bearer"), "expired", else None."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
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
        return oauth.access_token_status(given_token)
    return None


def refusal(request: ApiRequest, scope: str | None, settings: SandboxSettings) -> Reply | None:
    """Gong's 401 for missing or expired credentials, or its refusal of a withheld scope."""
    if request.auth is None:
        return error_reply(401, request.request_id, ["Missing or invalid credentials"])
    if request.auth == "expired":
        return error_reply(401, request.request_id, [EXPIRED_TOKEN_MESSAGE])
    if scope in settings.withheld_scopes:
        # As Gong said it live (PipedreamHQ/pipedream#16062, its end cut off there).
        words = f"You don't have permission to use '{scope}' in your company"
        return error_reply(settings.scope_refusal_status, request.request_id, [words])
    return None
