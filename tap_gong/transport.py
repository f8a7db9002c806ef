"""A request takes its pacing turn once its connection is made, just before it is written.

Gong counts a request when it arrives. A request that first opens a connection (TCP, and
TLS on Gong's https) arrives that much after its turn, while requests granted after it
on open connections arrive at once: four could meet in one of Gong's rolling seconds.
So the connection is made first and the turn taken last. Each thread also keeps one
Session for the whole run, so its connection stays open from one stream to the next.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from typing_extensions import override
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

_sending = threading.local()


@contextmanager
def turn_before_writing(
    take_turn: Callable[[], None], written: Callable[[], None]
) -> Iterator[None]:
    """Each request this thread writes inside the block first calls `take_turn`, and
    `written` once it is written (or failed to be).

    Redirects included: each is a request Gong counts.
    """
    _sending.take_turn, _sending.written = take_turn, written
    try:
        yield
    finally:
        _sending.take_turn = _sending.written = None


class _TurnTakingConnection(HTTPConnection):
    """urllib3's connection, which connects before taking the thread's turn."""

    @override
    def request(self, *args: Any, **kwargs: Any) -> None:
        take_turn: Callable[[], None] | None = getattr(_sending, "take_turn", None)
        if take_turn is not None:
            if self.is_closed:
                # What http.client would do inside `request`, done before the wait.
                self.connect()
            take_turn()
            try:
                if not self.is_connected:
                    # Gong closed it, idle while this request waited: the turn is still ours.
                    self.close()
                    self.connect()
                super().request(*args, **kwargs)
            finally:
                _sending.written()
            return
        super().request(*args, **kwargs)


@cache
def _turn_taking(connection_class: type[HTTPConnection]) -> type[HTTPConnection]:
    if issubclass(connection_class, _TurnTakingConnection):
        return connection_class
    name = f"TurnTaking{connection_class.__name__}"
    return type(name, (_TurnTakingConnection, connection_class), {})


class TurnTakingAdapter(HTTPAdapter):
    """requests' adapter whose connections (https, http, through a proxy) take turns."""

    @override
    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: Any,
        proxies: Any = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        pool = super().get_connection_with_tls_context(request, verify, proxies, cert)
        # Every pool, the proxy's included, makes its connections from ConnectionCls.
        pool.ConnectionCls = _turn_taking(pool.ConnectionCls)
        return pool


class ThreadSessions:
    """One requests Session per thread, for the whole run.

    A Session is not thread-safe (the SDK sets its `auth` per request, it keeps one
    cookie jar); streams of one thread share it, as they share the run's authenticator.
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def session(self) -> requests.Session:
        """The calling thread's Session."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            adapter = TurnTakingAdapter()
            session.mount("https://", adapter)
            session.mount("http://", adapter)
        return session
