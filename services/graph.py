"""The Microsoft Graph HTTP client: one ``requests.Session``, retries, paging, batching, records.

:class:`GraphClient` owns everything about a single Graph exchange: the bearer token (refreshed
once on a 401), a fresh ``client-request-id`` per request, the response ``request-id``,
timeouts, retries on throttling (honouring fractional ``Retry-After``), server faults and
network errors, interruptible waits, paging through opaque ``@odata.nextLink`` URLs, ``$count``,
raw ``$batch`` POSTs, read-only enforcement, and a :class:`CallRecord` per exchange for the log
panel. Judging the items of a batch is the batch executor's job (``services.batch``).

Every wait is on the session's :class:`~services.control.RunControl` (or, inside a step, the
step's, see :meth:`GraphClient.waits_on`), says what it waits for and until when, and is bounded:
a ``Retry-After`` (or throttling on one request for longer) beyond ``max_wait`` is not slept
through but raised as :class:`~services.errors.LongWait`, and throttled requests are retried on
that time budget, not on a count. Before Graph has answered once, nothing answering (refused,
no such name) or something that is not Graph answering (no Graph error object, no
``request-id``) is a configuration error at once; after that, a broken network is an outage,
retried for up to ``outage_limit`` seconds and then raised as one.

Tokens never leave this module except in the ``Authorization`` header: they are not logged,
not put in records and not put in error messages.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from . import __version__
from .auth.provider import TokenProvider
from .control import RunControl, Waiting
from .durations import wait_duration
from .errors import (
    AuthError,
    CloseoutError,
    GraphError,
    LongWait,
    NetworkError,
    NotGraph,
    ReadOnlyViolation,
    Stopped,
    parse_retry_after,
    plain_reason,
    redact,
)
from .i18n import N_, _
from .textsafe import json_loads, neutralise, neutralise_optional

__all__ = [
    "MAX_BATCH",
    "CallRecord",
    "ForeignLink",
    "GraphClient",
    "GraphResponse",
    "UnexpectedAnswer",
    "listed_objects",
    "objects_in",
    "parse_throttle_percentage",
]

log = logging.getLogger("closeout.graph")

MAX_BATCH = 20
MAX_WAIT = 300.0
"""Real seconds: a ``Retry-After`` longer than this (or throttling one request for longer) is
reported as a wait instead of slept through: five minutes of silence is where an admin starts
wondering, and Graph's own waits are seconds."""
OUTAGE_LIMIT = 300.0
"""Real seconds a request is retried while Graph cannot be reached, once it has answered."""
ASKED = N_("Graph asked to wait {seconds}")
ANNOUNCE_AFTER = 1.0
"""Waits this long or longer are announced (the log file has them all)."""
_VERSIONS = ("v1.0", "beta")
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Retry these unchanged: throttled, server faults, and 424 (THR: a throttled batch may come
# back as 424 instead of 200).
_RETRY_STATUSES = frozenset({429, 424, 500, 502, 503, 504})
_CUT_SHORT_RETRIES = 2
# Query values that are opaque cursors or credentials: shortened in records and logs.
_HIDDEN_QUERY = frozenset(
    {"$skiptoken", "$deltatoken", "access_token", "code", "client_secret", "token", "sig"}
)
# Connection-level failures worth retrying: refused, reset, dropped mid-body, timed out.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


@dataclass(frozen=True)
class CallRecord:
    """One HTTP exchange with Graph (every attempt, every batch POST), for the log panel.

    ``path`` is version-relative with its query, paging cursors shortened; never a token.
    ``status`` is None when no response arrived (then ``error`` says why).
    """

    method: str
    path: str
    version: str | None
    status: int | None
    request_id: str | None
    client_request_id: str
    duration_ms: float
    attempt: int
    error: str | None = None
    batch_size: int | None = None
    sub_statuses: dict[int, int] | None = None
    retry_after: float | None = None
    throttle_percentage: float | None = None


@dataclass(frozen=True)
class GraphResponse:
    """A response as the caller sees it; ``headers`` is case-insensitive."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    method: str
    path: str
    version: str | None
    request_id: str | None
    client_request_id: str
    duration_ms: float
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The decoded JSON body, or None for an empty body (204).

        This is where Graph data enters closeout: every string in it (a name any user of the
        tenant chose) comes out with its control characters neutralised.
        """
        if not self.content.strip():
            return None
        return json_loads(self.content)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))

    @property
    def throttle_percentage(self) -> float | None:
        return parse_throttle_percentage(self.headers.get("x-ms-throttle-limit-percentage"))

    @property
    def date(self) -> datetime | None:
        return _parse_http_date(self.headers.get("Date"))

    def error(self) -> GraphError:
        """This (non-2xx) response as a :class:`GraphError`."""
        return GraphError.from_parts(
            self.status,
            self.content,
            self.headers,
            method=self.method,
            path=_versioned(self.version, self.path),
            client_request_id=self.client_request_id,
        )


def parse_throttle_percentage(value: str | None) -> float | None:
    """``x-ms-throttle-limit-percentage`` as a float (``"0.95"`` → 0.95); None if absent/bad."""
    if value is None:
        return None
    try:
        number = float(value.strip().rstrip("%"))
    except ValueError:
        return None
    if number != number or number < 0:
        return None
    # Tolerate a percent form ("95") although Graph documents the 0.8–1.8 ratio form.
    return number / 100 if number > 10 else number


def _parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _versioned(version: str | None, path: str) -> str:
    return f"/{version}{path}" if version else path


def _display_query(query: str) -> str:
    pairs = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        shown = "…" if key.lower() in _HIDDEN_QUERY else value
        pairs.append(f"{key}={shown}")
    return "&".join(pairs)


def _encode_params(params: Mapping[str, Any]) -> str:
    # Graph wants %20 for spaces (not '+') and reads $, quotes and parentheses literally.
    return urlencode(
        {k: str(v) for k, v in params.items() if v is not None},
        quote_via=quote,
        safe="$,'()/:@*",
    )


class ForeignLink(CloseoutError, ValueError):
    """An absolute link in an answer (``@odata.nextLink``) that leaves the Graph root, or
    names a sandbox control endpoint: not followed, since the token would go with it.

    A message for the admin (exit 2: what answered is not behaving as Graph does), and still a
    ValueError for callers that pass such a link themselves."""

    def __init__(self, link: str, graph_url: str) -> None:
        super().__init__(
            _(
                "An answer pointed closeout to {link} for its next page, outside {graph}: "
                "not followed, so that the access token is not sent there."
            ).format(link=link, graph=graph_url),
            hint=_not_graph_hint(),
        )


class UnexpectedAnswer(CloseoutError):
    """An answer of a shape Graph never sends where closeout reads a list: a ``value`` that is
    not a list of objects each with an id, a next link that is not a URL, a nested list (a
    user's licences, a tenant's domains) that is not a list of objects. Refused whole: a
    half-read list would make a plan that leaves objects out, or acts on an id of ``None``."""

    def __init__(self, path: str, what: str) -> None:
        super().__init__(
            _("Unexpected response from GET {path}: {what}").format(path=path, what=what),
            hint=_not_graph_hint(),
        )


def _not_graph_hint() -> str:
    return _(
        "Microsoft Graph does not answer this way: check --graph-url and any proxy "
        "between closeout and Graph."
    )


def objects_in(value: Any, path: str, field: str) -> list[dict[str, Any]]:
    """The items of a nested list ``field`` of an answer to ``path`` (absent or null: none),
    each a JSON object; anything else is an :class:`UnexpectedAnswer`."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise UnexpectedAnswer(path, _("{field} is not a list of objects").format(field=field))
    return value


class GraphClient:
    """A synchronous Graph client; safe to share between threads (one session, pooled)."""

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

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> GraphResponse:
        """Send one request with retries; a non-2xx final answer raises :class:`GraphError`.

        GET, PUT, PATCH and DELETE are retried on 429, 5xx, 424 and network errors. A POST is
        retried only when Graph certainly did not act on it (429, or no connection at all);
        ``$batch`` POSTs go through :meth:`post_batch`, whose items the executor retries.

        ``path`` is version-relative (``/users/x``) or an absolute ``@odata.nextLink`` under
        ``graph_url`` (sent unchanged; its version comes from the link). ``retry=False``: one
        attempt only, for a read that has a later chance anyway.
        """
        return self._send(
            method,
            path,
            version=version,
            params=params,
            json=json,
            headers=headers,
            retry=retry,
            raise_for_status=True,
        )

    def get(
        self,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON object (``{}`` for an empty body)."""
        resp, data = self._get_json(path, version=version, params=params, headers=headers)
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise CloseoutError(
                _("Unexpected response from GET {path}: not a JSON object").format(path=resp.path)
            )
        return data

    def iter_pages(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        version: str = "v1.0",
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` as given.

        ``headers`` (e.g. ``ConsistencyLevel: eventual``) go with every page, because Graph
        does not carry them into next links. A stop between pages raises :class:`Stopped`.

        An object that an earlier page already listed (pages can overlap while the directory
        changes under them) is left out: every list closeout reads names each id once, so no
        count is doubled and no object is acted on twice.
        """
        resp, data = self._get_json(path, version=version, params=params, headers=headers)
        seen: set[str] = set()
        listed: set[str] = set()
        while True:
            if not isinstance(data, dict):
                raise CloseoutError(
                    _("Unexpected response from GET {path}: not a JSON object").format(
                        path=resp.path
                    )
                )
            yield _first_listing(listed_objects(data.get("value", []), resp.path), listed)
            next_link = data.get("@odata.nextLink")
            if next_link is None or next_link == "":
                return
            if not isinstance(next_link, str) or not next_link.lower().startswith(
                ("https://", "http://")
            ):
                # Graph's next links are absolute URLs; anything else would be read as a path.
                raise ForeignLink(ascii(next_link)[:200], self.graph_url)
            if next_link in seen:
                raise CloseoutError(
                    _("Graph returned the same next link twice while paging {path}").format(
                        path=path
                    ),
                    hint=_("this looks like a Graph fault; try again later"),
                )
            seen.add(next_link)
            control = self.current_control()
            if control is not None and control.stopped:
                raise Stopped()
            resp, data = self._get_json(str(next_link), headers=headers)

    def _get_json(
        self,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[GraphResponse, Any]:
        """GET and decode. An answer that says it is JSON but does not parse was cut short on
        its way (a proxy, a lost chunk): a read is safe to repeat, so it is read again, twice
        at most; anything else that is not JSON is said at once."""
        cut = 0
        while True:
            resp = self.request("GET", path, version=version, params=params, headers=headers)
            try:
                return resp, resp.json()
            except ValueError:
                if (
                    cut >= _CUT_SHORT_RETRIES
                    or "json" not in (resp.header("Content-Type") or "").lower()
                ):
                    return resp, _json_or_error(resp)
            cut += 1
            delay = self._backoff(cut)
            log.warning(
                "GET %s -> %d with its JSON cut short; reading it again in %.1f s (%d/%d)",
                resp.path,
                resp.status,
                delay,
                cut,
                _CUT_SHORT_RETRIES,
            )
            why = _("Graph's answer was cut short: reading it again in {seconds}")
            self._wait(delay, Waiting.starting_now(_describe("GET", resp.path, None), why, delay))

    def get_all(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        version: str = "v1.0",
    ) -> list[dict[str, Any]]:
        """Every item of every page."""
        items: list[dict[str, Any]] = []
        for page in self.iter_pages(path, params=params, headers=headers, version=version):
            items.extend(page)
        return items

    def download(self, path: str, *, version: str = "v1.0", max_bytes: int = 512 << 20) -> bytes:
        """GET a call Graph answers with a ``302`` to a preauthenticated download URL (the usage
        reports), and the file that URL holds; a direct ``200`` is taken as the file.

        The download URL is fetched on its own, without the bearer token: it needs none, and
        it may be another host's (graph-api.md §14). Raises :class:`GraphError` for a refusal,
        :class:`NetworkError` when the download fails.
        """
        resp = self._send(
            "GET",
            path,
            version=version,
            params=None,
            json=None,
            headers={"Accept": "application/octet-stream"},
            retry=True,
            raise_for_status=False,
        )
        if resp.ok:
            return resp.content
        location = resp.header("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            raise resp.error()
        if not location.lower().startswith(("https://", "http://")):
            raise CloseoutError(_("Graph sent a download link that is not a web address."))
        try:
            with self.session.get(
                location,
                headers={"User-Agent": self.user_agent},
                timeout=self.timeout,
                allow_redirects=True,
                stream=True,
            ) as raw:
                if not 200 <= raw.status_code < 300:
                    raise CloseoutError(
                        _("The report download answered {status}.").format(status=raw.status_code)
                    )
                data = raw.raw.read(max_bytes + 1, decode_content=True)
        except _NETWORK_ERRORS as exc:
            raise NetworkError("GET", urlsplit(location).netloc, exc, attempts=1) from None
        if len(data) > max_bytes:
            raise CloseoutError(_("The report download is larger than closeout reads."))
        return data

    def count(self, path: str, *, filter: str | None = None, version: str = "v1.0") -> int:
        """``GET {path}/$count`` with ``ConsistencyLevel: eventual`` (a text/plain integer)."""
        resp = self.request(
            "GET",
            f"{path.rstrip('/')}/$count",
            version=version,
            params={"$filter": filter} if filter else None,
            headers={"ConsistencyLevel": "eventual", "Accept": "text/plain, application/json"},
        )
        text = resp.text.strip().lstrip("\ufeff")
        try:
            return int(text)
        except ValueError:
            raise CloseoutError(
                _("Unexpected $count response from {path}: {text!r}").format(
                    path=resp.path, text=text[:40]
                )
            ) from None

    def post_batch(self, requests: list[dict[str, Any]], *, version: str = "v1.0") -> GraphResponse:
        """One raw ``POST /{version}/$batch``; returned whatever its status (no retries).

        Sub-requests are ``{"id", "method", "url", ["headers"], ["body"]}`` with ``url``
        relative to the version root. Judging the sub-responses (and retrying) is the
        caller's job. A network failure raises :class:`NetworkError`.
        """
        if not 1 <= len(requests) <= MAX_BATCH:
            raise ValueError(f"a $batch holds 1 to {MAX_BATCH} requests, got {len(requests)}")
        ids: set[str] = set()
        for sub in requests:
            sub_id, url, method = sub.get("id"), sub.get("url"), sub.get("method")
            if not isinstance(sub_id, str) or not sub_id or sub_id in ids:
                raise ValueError(f"batch request ids must be unique non-empty strings: {sub_id!r}")
            ids.add(sub_id)
            if not isinstance(method, str) or not isinstance(url, str):
                raise ValueError(f"batch request {sub_id} needs a method and a url")
            if "://" in url or not url.startswith("/"):
                raise ValueError(
                    f"batch request {sub_id}: url must be version-relative, got {url!r}"
                )
            self._refuse_sandbox(url)
        return self._send(
            "POST",
            "/$batch",
            version=version,
            params=None,
            json={"requests": requests},
            headers=None,
            retry=False,
            raise_for_status=False,
        )

    # -- internals -------------------------------------------------------------------------

    def _refuse_sandbox(self, rel_path: str) -> None:
        # The sandbox's "admin center" endpoints play the human's part in the demo; the real
        # code path must never reach them, even by a crafted next link.
        if rel_path.lower().lstrip("/").startswith("_sandbox"):
            raise ValueError(f"refusing to call a sandbox control endpoint: {rel_path}")

    def _resolve(
        self, path: str, version: str, params: Mapping[str, Any] | None
    ) -> tuple[str, str | None, str]:
        """``(url, version, display path)``; the display path is version-relative with query."""
        if path.lower().startswith(("http://", "https://")):
            if params:
                raise ValueError("params cannot be combined with an absolute next link")
            try:
                parts = urlsplit(path)
            except ValueError:  # e.g. an unbalanced "[" in the host
                raise ForeignLink(path[:200], self.graph_url) from None
            root_scheme, root_netloc, root_path = self._root
            if (
                parts.scheme.lower() != root_scheme
                or parts.netloc.lower() != root_netloc
                or not parts.path.startswith(root_path + "/")
            ):
                # Only where it points, never the whole link: its query may be anything.
                raise ForeignLink(f"{parts.scheme}://{parts.netloc}"[:200], self.graph_url)
            rel = parts.path[len(root_path) :]
            head, _, tail = rel.lstrip("/").partition("/")
            link_version = head if head in _VERSIONS else None
            shown = "/" + tail if link_version else rel
            for candidate in (rel, shown):
                if candidate.lower().lstrip("/").startswith("_sandbox"):
                    raise ForeignLink(f"{parts.scheme}://{parts.netloc}{rel}"[:200], self.graph_url)
            if parts.query:
                shown += "?" + _display_query(parts.query)
            return path, link_version, shown
        if version not in _VERSIONS:
            raise ValueError(f"unknown Graph version {version!r} (use 'v1.0' or 'beta')")
        if not path.startswith("/"):
            path = "/" + path
        self._refuse_sandbox(path)
        first = path.lstrip("/").split("/", 1)[0].split("?", 1)[0].lower()
        if first in _VERSIONS:
            raise ValueError(f"path must be version-relative (pass version=...), got {path!r}")
        url = f"{self.graph_url}/{version}{path}"
        if params:
            url += ("&" if "?" in path else "?") + _encode_params(params)
        base, _, query = url.partition("?")
        shown = base[len(self.graph_url) + len(version) + 1 :]
        if query:
            shown += "?" + _display_query(query)
        return url, version, shown

    def _check_read_only(self, method: str, shown: str, body: Any) -> None:
        if not self.read_only or method in _SAFE_METHODS:
            return
        if method == "POST" and shown.split("?", 1)[0] == "/$batch":
            subs = body.get("requests") if isinstance(body, dict) else None
            if (
                isinstance(subs, list)
                and subs
                and all(
                    isinstance(s, dict) and str(s.get("method", "")).upper() in _SAFE_METHODS
                    for s in subs
                )
            ):
                return
            raise ReadOnlyViolation(method, shown, "the batch contains writes")
        raise ReadOnlyViolation(method, shown)

    def _backoff(self, retry: int) -> float:
        # Exponential from backoff_base, jittered upward so that parallel clients spread out
        # and the wait is never shorter than the documented minimum (1 s for Conditional Access).
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (retry - 1))
        return min(self.backoff_cap, delay * (1.0 + 0.5 * self._rng.random()))

    def _wait(self, seconds: float, waiting: Waiting) -> None:
        """Sleep ``seconds`` on this thread's control, saying what for; :class:`Stopped` if a
        stop comes meanwhile (at once: the wait is an event, not a sleep)."""
        log.log(
            logging.WARNING if seconds >= ANNOUNCE_AFTER else logging.INFO, "%s", waiting.text()
        )
        control = self.current_control()
        if control is None:
            stopped = self._closed.wait(seconds)
        else:
            stopped = control.wait(seconds, waiting if seconds >= ANNOUNCE_AFTER else None)
        if stopped:
            raise Stopped(hint=_("the request was not retried"))

    def _send(
        self,
        method: str,
        path: str,
        *,
        version: str,
        params: Mapping[str, Any] | None,
        json: Any,
        headers: Mapping[str, str] | None,
        retry: bool,
        raise_for_status: bool,
    ) -> GraphResponse:
        method = method.upper()
        url, ver, shown = self._resolve(path, version, params)
        self._check_read_only(method, shown, json)
        batch_size = (
            len(json["requests"]) if shown == "/$batch" and isinstance(json, dict) else None
        )
        what = _describe(method, shown, batch_size)
        safe_to_repeat = method != "POST"
        if method not in _SAFE_METHODS:
            with self._state_lock:
                self._writes_sent += 1
        attempt = 0
        retries = 0
        throttled_for = 0.0
        outage_since: float | None = None
        force_refresh = False
        refreshed = False
        refused: GraphError | None = None
        while True:
            attempt += 1
            reached_before = self._reached
            try:
                resp = self._exchange(
                    method, url, ver, shown, json, headers, attempt, force_refresh, batch_size
                )
            except AuthError as exc:
                # The token source gave up after Graph's 401: keep Graph's answer (its code and
                # message may name the cause, e.g. a tenant that does not exist).
                if refused is not None and exc.__cause__ is None:
                    raise exc from refused
                raise
            except _NETWORK_ERRORS as exc:
                # A POST that may have reached Graph is not resent blindly (it could create
                # something twice); one that never got a connection is safe to resend.
                unsent = _never_sent(exc)
                failure: _Failure | None = _Failure(exc, unsent)
            else:
                failure = None
                # A throttle or a server fault is retried (or judged) whoever sent it; any
                # other answer that is not Graph's says nothing about Graph's objects.
                if resp.status not in _RETRY_STATUSES and not _from_graph(resp):
                    if reached_before:
                        # Graph answered before: whatever answers now in its place (a proxy's
                        # error page) is an outage, and its 404 says nothing about an object.
                        failure = _Failure(_NotGraphAnswer(resp), True)
                    else:
                        raise NotGraph(
                            self.graph_url, resp.status, resp.headers.get("Content-Type")
                        )
            if failure is not None:
                err = self._network_error(
                    method, _versioned(ver, shown), failure, attempt, reached_before
                )
                if not retry or not (safe_to_repeat or failure.unsent):
                    raise err from None
                retries += 1
                delay = self._backoff(retries)
                if not reached_before:
                    # Nothing has ever answered here: refused or no such name is a wrong URL
                    # or no network, not worth half a minute of backoff; other failures (a
                    # reset, a timeout) get the usual few retries.
                    if _refused(failure.cause) or retries > self.max_retries:
                        raise err from None
                else:
                    now = time.monotonic()
                    outage_since = now if outage_since is None else outage_since
                    if now - outage_since + delay > self.outage_limit:
                        raise self._network_error(
                            method,
                            _versioned(ver, shown),
                            failure,
                            attempt,
                            True,
                            outage=now - outage_since,
                        ) from None
                why = _("Graph did not answer ({detail}): retrying in {seconds}").format(
                    detail=plain_reason(err.detail, err.kind), seconds="{seconds}"
                )
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            outage_since = None
            force_refresh = False
            status = resp.status
            if status == 401 and not refreshed:
                # Tokens can expire or be revoked between our check and Graph's; one forced
                # refresh distinguishes that from a real loss of access.
                refreshed = force_refresh = True
                refused = resp.error()
                log.info("%s %s -> 401; refreshing the token and retrying once", method, shown)
                continue
            if resp.ok:
                return resp
            if retry and status == 429:
                # Graph did not act on a throttled request, so even a POST may be resent, for
                # as long as Graph asks within the time budget; no count applies.
                ra = resp.retry_after
                retries += 1
                delay = ra if ra is not None else self._backoff(retries)
                if delay > self.max_wait:
                    raise LongWait(Waiting.starting_now(what, _(ASKED), delay))
                if throttled_for + delay > self.max_wait:
                    raise LongWait(
                        Waiting.starting_now(
                            what,
                            _(
                                "Graph has throttled it for {duration} and asks for {seconds} more"
                            ).format(duration=wait_duration(throttled_for), seconds="{seconds}"),
                            delay,
                        )
                    )
                throttled_for += delay
                why = _(ASKED) if ra is not None else _("Graph is throttling: retrying in {seconds}")
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            if (
                retry
                and status in _RETRY_STATUSES
                and safe_to_repeat
                and retries < self.max_retries
            ):
                retries += 1
                ra = resp.retry_after
                delay = ra if ra is not None else self._backoff(retries)
                if delay > self.max_wait:
                    raise LongWait(Waiting.starting_now(what, _(ASKED), delay))
                why = _("Graph answered {status}: retrying in {seconds}").format(
                    status=status, seconds="{seconds}"
                )
                self._wait(delay, Waiting.starting_now(what, why, delay))
                continue
            if raise_for_status:
                raise resp.error()
            return resp

    def _network_error(
        self,
        method: str,
        path: str,
        failure: _Failure,
        attempt: int,
        reached: bool,
        *,
        outage: float | None = None,
    ) -> NetworkError:
        return NetworkError(
            method,
            path,
            failure.cause,
            attempts=attempt,
            secrets=(self._last_token,),
            unsent=failure.unsent,
            reached=reached,
            outage=outage,
            where=self.graph_url,
        )

    def _exchange(
        self,
        method: str,
        url: str,
        version: str | None,
        shown: str,
        body: Any,
        headers: Mapping[str, str] | None,
        attempt: int,
        force_refresh: bool,
        batch_size: int | None,
    ) -> GraphResponse:
        """Exactly one HTTP exchange, recorded whatever happens."""
        token = self.tokens.token(force_refresh=force_refresh)
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
                CallRecord(
                    method=method,
                    path=shown,
                    version=version,
                    status=None,
                    request_id=None,
                    client_request_id=client_request_id,
                    duration_ms=(time.perf_counter() - started) * 1000,
                    attempt=attempt,
                    error=redact(f"{type(exc).__name__}: {exc}", token),
                    batch_size=batch_size,
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
            CallRecord(
                method=method,
                path=shown,
                version=version,
                status=resp.status,
                request_id=resp.request_id,
                client_request_id=client_request_id,
                duration_ms=duration_ms,
                attempt=attempt,
                error=error,
                batch_size=batch_size,
                sub_statuses=sub_statuses,
                retry_after=resp.retry_after,
                throttle_percentage=throttle,
            )
        )
        return resp

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


def listed_objects(value: Any, path: str) -> list[dict[str, Any]]:
    """A page's ``value``: a list of objects, each with a non-empty text id (every list closeout
    pages is of directory objects, and an action names its object by that id)."""
    if not isinstance(value, list):
        raise UnexpectedAnswer(path, _("its value is not a list"))
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise UnexpectedAnswer(path, _("an item of its value is not an object with an id"))
    return value


def _first_listing(items: list[Any], listed: set[str]) -> list[Any]:
    """``items`` without those whose ``id`` is in ``listed``; adds the new ids to it."""
    out = []
    for item in items:
        key = item.get("id") if isinstance(item, dict) else None
        if isinstance(key, str):
            if key in listed:
                continue
            listed.add(key)
        out.append(item)
    return out


def _never_sent(exc: BaseException) -> bool:
    """True if no connection was ever made, so the request certainly did not reach Graph
    (refused, name not resolved, connect timeout); a reset or a read timeout may come after
    Graph acted on it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


def _json_or_error(resp: GraphResponse) -> Any:
    try:
        return resp.json()
    except ValueError:
        raise CloseoutError(
            _("Graph sent a body that is not JSON for {method} {path}").format(
                method=resp.method, path=resp.path
            ),
            hint=f"request-id {resp.request_id}" if resp.request_id else None,
        ) from None


def _error_code(resp: GraphResponse) -> str:
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        code = data["error"].get("code")
        if code:
            return str(code)
    return f"HTTP {resp.status}"


def _sub_statuses(resp: GraphResponse) -> dict[int, int] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("responses"), list):
        return None
    counts: Counter[int] = Counter()
    for item in data["responses"]:
        if isinstance(item, dict) and isinstance(item.get("status"), int):
            counts[item["status"]] += 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class _Failure:
    """A request that got no answer of Graph's: why, and whether it certainly never left."""

    cause: BaseException
    unsent: bool


class _NotGraphAnswer(Exception):
    """An answer in Graph's place that is not Graph's (no error object, no request-id)."""

    def __init__(self, resp: GraphResponse) -> None:
        kind = (resp.headers.get("Content-Type") or "").split(";", 1)[0].strip() or "no type"
        super().__init__(f"HTTP {resp.status} ({kind}) without Graph's request-id")


def _from_graph(resp: GraphResponse) -> bool:
    """Whether ``resp`` is Graph's: Graph sends ``request-id`` with every response and its
    errors as a JSON ``{"error": {"code", "message"}}`` object (learn.microsoft.com/graph/
    errors). A 2xx is taken as it comes (its body is checked where it is read)."""
    if resp.ok or resp.request_id:
        return True
    try:
        data = json_loads(resp.content) if resp.content.strip() else None
    except ValueError:
        return False
    error = data.get("error") if isinstance(data, dict) else None
    return isinstance(error, dict) and isinstance(error.get("code"), str)


def _refused(exc: BaseException) -> bool:
    """Refused or no such name: nothing is there (a timeout may be a slow network)."""
    return _never_sent(exc) and not isinstance(exc, requests.ConnectTimeout)


def _describe(method: str, shown: str, batch_size: int | None) -> str:
    """What a request does, for a wait's line: "reading /users", "sending a batch of 20"."""
    path = shown.split("?", 1)[0]
    if batch_size is not None:
        return _("sending a batch of {n}").format(n=batch_size)
    if method in _SAFE_METHODS:
        return _("reading {path}").format(path=path)
    return f"{method} {path}"
