"""The Graph client's connection: one pooled ``requests.Session``, the token provider, the state
the UI reads (Graph's clock, the last throttle reading, writes sent), the control that waits
honour, and exactly one HTTP exchange, recorded whatever happens.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from services import __version__
from services.auth.provider import TokenProvider
from services.control import RunControl
from services.errors import redact
from services.textsafe import neutralise, neutralise_optional

from .addressing import _VERSIONS
from .answers import _error_code, _from_graph, _sub_statuses
from .bounds import MAX_WAIT, OUTAGE_LIMIT, OUTAGE_TRIES
from .failures import _NETWORK_ERRORS
from .responses import CallRecord, GraphResponse

log = logging.getLogger("closeout.graph")


class _Transport:
    """The part of :class:`~.client.GraphClient` that holds the connection and sends."""

    def __init__(
        self,
        graph_url: str,
        tokens: TokenProvider,
        *,
        timeout: tuple[float, float] = (5.0, 60.0),
        read_only: bool = False,
        on_call: Callable[[CallRecord], None] | None = None,
        control: RunControl | None = None,
        max_retries: int = 5,
        user_agent: str = f"closeout/{__version__}",
        session: requests.Session | None = None,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        rng: random.Random | None = None,
        max_wait: float = MAX_WAIT,
        outage_limit: float = OUTAGE_LIMIT,
        outage_tries: int = OUTAGE_TRIES,
    ) -> None:
        parts = urlsplit(graph_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"graph_url must be an absolute http(s) URL, got {graph_url!r}")
        if parts.path.rsplit("/", 1)[-1].lower() in _VERSIONS:
            raise ValueError("graph_url is the Graph root, without /v1.0 or /beta")
        self.graph_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
        self._root = (parts.scheme.lower(), parts.netloc.lower(), parts.path)
        self.tokens = tokens
        self.timeout = timeout
        self.read_only = read_only
        self.on_call = on_call
        self.control = control
        self.max_retries = max_retries
        self.user_agent = user_agent
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        """Real seconds a request may wait on throttling before it is reported as a wait."""
        self.outage_limit = outage_limit
        """Real seconds a request is retried while the network is down, once Graph answered."""
        self.outage_tries = outage_tries
        """Tries in a row that failed, besides ``outage_limit`` seconds, that make an outage."""
        self._rng = rng or random.Random()
        self._own_session = session is None
        self.session = session or self._new_session()
        # Waits when no RunControl is given: never set except by close(), so it is just an
        # interruptible sleep.
        self._closed = threading.Event()
        self._state_lock = threading.Lock()
        self._last_date: datetime | None = None
        self._last_throttle: float | None = None
        self._last_token: str | None = None
        # Digests of the last tokens Graph took (a token is a secret: kept as a digest only).
        self._accepted_tokens: collections.deque[bytes] = collections.deque(maxlen=16)
        self._writes_sent = 0
        self._reached = False
        self._local = threading.local()

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # We retry ourselves (with Retry-After and records), so urllib3 must not; the pool is
        # sized for the batch executor's concurrent workers.
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def close(self) -> None:
        self._closed.set()
        if self._own_session:
            self.session.close()

    @property
    def reached(self) -> bool:
        """Whether Graph has answered this client at least once (any answer of Graph's)."""
        return self._reached

    @contextlib.contextmanager
    def waits_on(self, control: RunControl) -> Iterator[None]:
        """Waits of this thread's requests honour ``control`` (a step's) for the ``with`` block,
        instead of the client's own; make it a child of the client's so a session stop still
        reaches them."""
        previous = getattr(self._local, "control", None)
        self._local.control = control
        try:
            yield
        finally:
            self._local.control = previous

    def current_control(self) -> RunControl | None:
        """The control this thread's waits honour (see :meth:`waits_on`)."""
        return getattr(self._local, "control", None) or self.control

    # -- state for the UI ------------------------------------------------------------------

    def server_time(self) -> datetime | None:
        """The ``Date`` of the latest response: Graph's clock (the sandbox may run fast)."""
        with self._state_lock:
            return self._last_date

    @property
    def last_throttle_percentage(self) -> float | None:
        """``x-ms-throttle-limit-percentage`` of the latest response (None: absent, < 0.8)."""
        with self._state_lock:
            return self._last_throttle

    @property
    def writes_sent(self) -> int:
        """Requests other than GET/HEAD this client began to send (every ``$batch`` counts):
        a read taken when this was lower may predate a change."""
        with self._state_lock:
            return self._writes_sent

    def _exchange(
        self,
        method: str,
        url: str,
        version: str | None,
        shown: str,
        body: Any,
        headers: Mapping[str, str] | None,
        attempt: int,
        token: str,
        batch_size: int | None,
    ) -> GraphResponse:
        """Exactly one HTTP exchange with ``token``, recorded whatever happens."""
        with self._state_lock:
            self._last_token = token
        client_request_id = str(uuid.uuid4())
        send_headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json",
            "client-request-id": client_request_id,
            "return-client-request-id": "true",
        }
        for key, value in (headers or {}).items():
            if key.lower() != "authorization":
                send_headers[key] = value
        send_headers["Authorization"] = f"Bearer {token}"

        def record(status: int | None, request_id: str | None, **rest: Any) -> CallRecord:
            # What every record of this exchange says, whether or not an answer came.
            return CallRecord(
                method=method,
                path=shown,
                version=version,
                status=status,
                request_id=request_id,
                client_request_id=client_request_id,
                attempt=attempt,
                batch_size=batch_size,
                **rest,
            )

        started = time.perf_counter()
        try:
            raw = self.session.request(
                method,
                url,
                headers=send_headers,
                json=body,
                timeout=self.timeout,
                allow_redirects=False,
            )
            content = raw.content  # read inside the try: a drop mid-body is a network error
        except _NETWORK_ERRORS as exc:
            self._emit(
                record(
                    None,
                    None,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    error=redact(f"{type(exc).__name__}: {exc}", token),
                )
            )
            raise
        duration_ms = (time.perf_counter() - started) * 1000
        resp = GraphResponse(
            status=raw.status_code,
            headers=raw.headers,
            content=content,
            method=method,
            path=shown,
            version=version,
            # Header values decode as Latin-1: a C1 control (U+009B, a CSI) fits in one.
            request_id=neutralise_optional(raw.headers.get("request-id")),
            client_request_id=neutralise(raw.headers.get("client-request-id") or client_request_id),
            duration_ms=duration_ms,
            attempts=attempt,
        )
        throttle = resp.throttle_percentage
        if _from_graph(resp):
            self._reached = True
            if resp.status != 401:
                self._accepted(token)
        with self._state_lock:
            date = resp.date
            if date is not None:
                self._last_date = date
            self._last_throttle = throttle
        error = None if resp.ok else _error_code(resp)
        sub_statuses = _sub_statuses(resp) if batch_size is not None else None
        log.debug(
            "%s %s%s -> %d in %.0f ms (request-id %s, client-request-id %s, attempt %d)%s",
            method,
            f"/{version}" if version else "",
            shown,
            resp.status,
            duration_ms,
            resp.request_id,
            client_request_id,
            attempt,
            f" {error}" if error else "",
        )
        self._emit(
            record(
                resp.status,
                resp.request_id,
                duration_ms=duration_ms,
                error=error,
                sub_statuses=sub_statuses,
                retry_after=resp.retry_after,
                throttle_percentage=throttle,
            )
        )
        return resp

    def _accepted(self, token: str) -> None:
        """Graph took ``token`` (answered other than 401): a later 401 for it is an expiry."""
        digest = hashlib.sha256(token.encode()).digest()
        with self._state_lock:
            if digest not in self._accepted_tokens:
                self._accepted_tokens.append(digest)

    def was_accepted(self, token: str) -> bool:
        """Whether Graph took ``token`` before (see :meth:`_accepted`)."""
        digest = hashlib.sha256(token.encode()).digest()
        with self._state_lock:
            return digest in self._accepted_tokens

    def _emit(self, record: CallRecord) -> None:
        if record.status is None:
            log.debug(
                "%s %s failed after %.0f ms: %s",
                record.method,
                record.path,
                record.duration_ms,
                record.error,
            )
        if self.on_call is None:
            return
        try:
            self.on_call(record)
        except Exception:
            # A broken log panel must not break a deletion run mid-batch.
            log.exception("on_call callback failed")
