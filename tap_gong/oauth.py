"""Gong OAuth apps: single-use refresh tokens kept between runs, and the customer's base URL.

Every refresh returns a new refresh token and kills the one it used, so a run that
loses the new one leaves the next run dead until someone re-authorises the app.
`oauth_credentials_file` keeps the chain: the rotated tokens are written there
(atomically, owner-only) before the new access token is used, under a lock that
makes concurrent runs sharing the file refresh one at a time.

No token ever appears in a log line or an exception message.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import requests
from singer_sdk import typing as th
from singer_sdk.authenticators import APIAuthenticatorBase
from typing_extensions import override

from tap_gong.errors import GongTapError
from tap_gong.settings import GONG_TOKEN_URL

# Renew a tenth of the lifetime (at most this long) before Gong's expiry, so a request
# never leaves with a token about to die, and a short-lived token still gets used.
EXPIRY_MARGIN_SECONDS = 60
TOKEN_TIMEOUT_SECONDS = (10, 60)  # connect, read
# Only an OAuth error code is shown from Gong's answer: descriptions are free text.
OAUTH_ERROR_CODE = re.compile(r"[a-z_]{1,40}")

CREDENTIALS_FILE_SETTING = "oauth_credentials_file"
REFRESH_TOKEN_SETTING = "refresh_token"


class GongOAuthError(GongTapError):
    """Gong's token endpoint refused or failed a refresh; the message says what to do."""


def token_fingerprint(token: str) -> str:
    """A digest naming a token without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class OAuthCredentials:
    """One link of the token chain, as kept in the credentials file."""

    refresh_token: str = field(repr=False)
    # Fingerprint of the configured refresh_token the chain started from: when the
    # user sets a new one (after re-authorising the app), the file's chain is stale.
    origin: str
    access_token: str | None = field(default=None, repr=False)
    # Epoch seconds from which the access token is renewed before use, shortly before
    # Gong's expiry; None: Gong gave no lifetime, so it is renewed once Gong rejects it.
    renew_at: float | None = None
    api_base_url: str | None = None

    def access_token_is_fresh(self, now: float) -> bool:
        if self.access_token is None:
            return False
        return self.renew_at is None or now < self.renew_at


class CredentialsFile:
    """`oauth_credentials_file`: replaced atomically, owner-only, locked while refreshing."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self.lock_path = self.path.with_name(self.path.name + ".lock")

    def read(self) -> OAuthCredentials | None:
        """The stored credentials, or None when the file does not exist yet."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self.error(f"cannot be read ({exc.strerror})") from None
        try:
            return OAuthCredentials(**json.loads(text))
        except (ValueError, TypeError):
            raise self.error(
                f"is not a credentials file tap-gong wrote: delete it, and the tap starts "
                f"again from {REFRESH_TOKEN_SETTING}"
            ) from None

    def write(self, credentials: OAuthCredentials) -> None:
        """Replace the file with `credentials`: readers see the old file or the new, never half."""
        try:
            descriptor, temporary = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
            )
            try:
                os.fchmod(descriptor, 0o600)
                with os.fdopen(descriptor, "w") as temporary_file:
                    json.dump(asdict(credentials), temporary_file)
                    temporary_file.flush()
                    os.fsync(temporary_file.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
            self._sync_directory()
        except OSError as exc:
            raise self.error(
                f"cannot be written ({exc.strerror}), so Gong's new refresh token is lost: "
                f"fix the file's permissions, re-authorise the app in Gong and set the new "
                f"refresh token in {REFRESH_TOKEN_SETTING}"
            ) from None

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the lock file next to the credentials file (one refresh at a time)."""
        try:
            descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise self.error(f"cannot be locked ({exc.strerror}: {self.lock_path})") from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def error(self, problem: str) -> GongOAuthError:
        return GongOAuthError(f"{CREDENTIALS_FILE_SETTING} {self.path} {problem}.")

    def _sync_directory(self) -> None:
        # The rename itself must survive a crash, or the old (spent) token comes back.
        descriptor = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def oauth_error_code(response: requests.Response) -> str | None:
    """The `error` code of an OAuth error answer (`invalid_grant`...), if it has one."""
    try:
        code = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, str) and OAUTH_ERROR_CODE.fullmatch(code) else None


def sent_bearer_token(request: requests.PreparedRequest | None) -> str | None:
    if request is None:
        return None
    header = request.headers.get("Authorization", "")
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    scheme, _, token = text.partition(" ")
    return token if scheme.lower() == "bearer" else None


class GongOAuthAuthenticator(APIAuthenticatorBase):
    """Bearer auth with a Gong OAuth app's access token, renewed from its refresh token.

    Use one instance for all the streams of a run: each refresh spends the refresh token
    the others hold. The access token is renewed before a request when there is none or
    it is about to expire, and once more when Gong rejects it (`refresh_after_unauthorized`).
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        refresh_token: str,
        credentials_file: str | os.PathLike[str] | None = None,
        token_url: str = GONG_TOKEN_URL,
        logger: logging.Logger | None = None,
    ) -> None:
        super().__init__()
        self.logger = logger or logging.getLogger(__name__)
        self._client_credentials = (client_id, client_secret)
        self._token_url = token_url
        self._file = CredentialsFile(credentials_file) if credentials_file else None
        self._lock = threading.Lock()
        self._session = requests.Session()
        self._origin = token_fingerprint(refresh_token)
        stored = self._file.read() if self._file else None
        self._credentials = self._same_chain(stored) or OAuthCredentials(
            refresh_token, origin=self._origin
        )
        # The current token replaced one Gong rejected, and Gong has not accepted it yet.
        self._awaiting_acceptance = False
        self._rotation_warned = False

    @property
    def api_base_url(self) -> str | None:
        """Gong's API base URL for this customer, from the latest token answer.

        Gets an access token first if there is no fresh one, so it is known before the
        first request is built.
        """
        self.access_token()
        return self._credentials.api_base_url

    def access_token(self) -> str:
        """A fresh access token: the current one, or a renewed one."""
        with self._lock:
            if not self._credentials.access_token_is_fresh(time.time()):
                self._renew(rejected=self._credentials.access_token)
            token = self._credentials.access_token
        assert token is not None  # fresh credentials always hold one
        return token

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        if self._note_answer not in request.hooks["response"]:  # the SDK authenticates twice
            request.register_hook("response", self._note_answer)
        return request

    def refresh_after_unauthorized(self, response: requests.Response) -> bool:
        """After Gong answered 401: True when the request should be sent again.

        True once the token it carried was replaced (renewed now, or already by another
        stream or run). False when Gong rejected the token that replaced a rejected one
        before accepting it even once: the 401 is not about expiry, and renewing again
        would loop.
        """
        rejected = sent_bearer_token(response.request)
        with self._lock:
            if rejected != self._credentials.access_token:
                return True
            if self._awaiting_acceptance:
                return False
            self.logger.info("Gong rejected the OAuth access token (HTTP 401): renewing it.")
            self._renew(rejected=rejected)
            self._awaiting_acceptance = True
            return True

    def _note_answer(self, response: requests.Response, **_: Any) -> None:
        """A response hook: any answer but 401 to the current token shows Gong accepts it."""
        if response.status_code != 401:
            with self._lock:
                if sent_bearer_token(response.request) == self._credentials.access_token:
                    self._awaiting_acceptance = False

    # Renewal: called with self._lock held.

    def _same_chain(self, stored: OAuthCredentials | None) -> OAuthCredentials | None:
        """The stored credentials, unless the configured refresh token started a new chain."""
        if stored is None or stored.origin == self._origin:
            return stored
        self.logger.info(
            "%s changed since %s was written: starting from the configured one.",
            REFRESH_TOKEN_SETTING,
            CREDENTIALS_FILE_SETTING,
        )
        return None

    def _renew(self, rejected: str | None) -> None:
        """Get a fresh access token, unless another run with the same file just did."""
        if self._file is None:
            spent = self._credentials.refresh_token
            self._credentials = self._refreshed(self._credentials)
            if self._credentials.refresh_token != spent:
                self._warn_rotation_is_not_kept()
            return
        with self._file.locked():
            stored = self._same_chain(self._file.read())
            if (
                stored is not None
                and stored.access_token != rejected
                and stored.access_token_is_fresh(time.time())
            ):
                self._credentials = stored
                return
            renewed = self._refreshed(stored or self._credentials)
            # Saved before use: if the run dies now, the next one still has the new chain.
            self._file.write(renewed)
            self._credentials = renewed

    def _refreshed(self, current: OAuthCredentials) -> OAuthCredentials:
        """Spend `current.refresh_token` at Gong's token endpoint for new credentials."""
        asked_at = time.time()
        try:
            response = self._session.post(
                self._token_url,
                # In the body, not the query string: URLs end up in logs and error messages.
                data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                auth=self._client_credentials,
                headers={"Accept": "application/json"},
                timeout=TOKEN_TIMEOUT_SECONDS,
            )
        except requests.RequestException as exc:
            msg = f"Could not reach Gong's token endpoint {self._token_url} ({type(exc).__name__})."
            raise GongOAuthError(msg) from None
        if response.status_code != 200:
            raise self._refresh_refused(response)
        try:
            answer = response.json()
            access_token = answer["access_token"]
            lifetime = float(answer.get("expires_in") or 0)
            renewed = replace(
                current,
                access_token=str(access_token),
                refresh_token=str(answer.get("refresh_token") or current.refresh_token),
                renew_at=asked_at + lifetime - min(EXPIRY_MARGIN_SECONDS, lifetime / 10)
                if lifetime > 0
                else None,
                api_base_url=answer.get("api_base_url_for_customer") or current.api_base_url,
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            msg = f"Gong's token endpoint {self._token_url} answered without a usable token."
            raise GongOAuthError(msg) from None
        self.logger.info(
            "Renewed the Gong OAuth access token (valid for %.0f s; API base URL %s).",
            lifetime,
            renewed.api_base_url,
        )
        return renewed

    def _refresh_refused(self, response: requests.Response) -> GongOAuthError:
        code = oauth_error_code(response)
        status = f"HTTP {response.status_code}" + (f" {code}" if code else "")
        if code == "invalid_grant":
            keep = (
                ""
                if self._file
                else f"; set {CREDENTIALS_FILE_SETTING} so each run keeps the next one"
            )
            return GongOAuthError(
                f"Gong refused the OAuth refresh token ({status}: it was already used or "
                f"revoked, and works only once): re-authorise the app in Gong and set the new "
                f"refresh token in {REFRESH_TOKEN_SETTING}{keep}."
            )
        if code == "invalid_client" or response.status_code == 401:
            return GongOAuthError(
                f"Gong refused the OAuth app's credentials ({status}): check client_id "
                "and client_secret."
            )
        return GongOAuthError(
            f"Gong's token endpoint {self._token_url} failed ({status}); the refresh token "
            "was not used, so a later run can try again."
        )

    def _warn_rotation_is_not_kept(self) -> None:
        if self._rotation_warned:
            return
        self._rotation_warned = True
        self.logger.warning(
            "Gong rotated the OAuth refresh token and %s is not set: the new one lives only "
            "in this run and the configured %s is now spent, so the next run will fail. Set "
            "%s to a file path the tap can write, to keep the token chain between runs.",
            CREDENTIALS_FILE_SETTING,
            REFRESH_TOKEN_SETTING,
            CREDENTIALS_FILE_SETTING,
        )


def oauth_properties() -> list[th.Property]:
    """The settings of a Gong OAuth app, for the tap's config schema."""
    return [
        th.Property("client_id", th.StringType, description="Gong OAuth app client id."),
        th.Property(
            "client_secret",
            th.StringType,
            secret=True,
            description="Gong OAuth app client secret.",
        ),
        th.Property(
            REFRESH_TOKEN_SETTING,
            th.StringType,
            secret=True,
            description="Refresh token from authorising the Gong OAuth app. Gong rotates it "
            f"on every use: set {CREDENTIALS_FILE_SETTING} to keep the rotated one.",
        ),
        th.Property(
            CREDENTIALS_FILE_SETTING,
            th.StringType,
            description="File (owner-only) where the tap keeps Gong's rotated OAuth tokens "
            f"between runs; it wins over {REFRESH_TOKEN_SETTING} until that one changes.",
        ),
        th.Property(
            "oauth_token_url",
            th.StringType,
            default=GONG_TOKEN_URL,
            description="Gong's OAuth token endpoint.",
        ),
    ]
