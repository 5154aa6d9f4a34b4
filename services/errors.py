"""The user-facing error types of closeout and the parsing of Graph's error responses.

Every failure that reaches the admin is a :class:`CloseoutError` with a one-line ``message`` and
an optional ``hint`` (what to do about it). :class:`GraphError` carries everything needed to
report a Graph failure to Microsoft support (status, code, both request ids) plus plain-language
guidance. Nothing here may ever render an access token: :func:`redact` is applied to every text
that comes from outside (exception strings, response bodies).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from .i18n import _
from .textsafe import neutralise, neutralise_optional

if TYPE_CHECKING:
    import requests

    from .control import Waiting

__all__ = [
    "AuthError",
    "CloseoutError",
    "GraphError",
    "LongWait",
    "NetworkError",
    "NotGraph",
    "ReadOnlyViolation",
    "Stopped",
    "parse_retry_after",
    "plain_reason",
    "redact",
]

# Bearer credentials and anything shaped like a JWT (three base64url segments, the first one
# starting with the base64 of '{"'): the patterns cover tokens that slip into exception text,
# e.g. a proxy echoing request headers.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
# An encrypted token (JWE compact form: five segments, the key segment empty for "dir").
_JWE = re.compile(
    r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]{4,}){2}\.[A-Za-z0-9_-]*"
)
_AUTH_HEADER = re.compile(
    r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)(?:[A-Za-z]+\s+)?[^\s'\",}]+"
)
_MAX_SNIPPET = 300


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with bearer tokens, JWTs, Authorization header values and ``secrets`` removed."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[redacted]")
    text = _AUTH_HEADER.sub(r"\1[redacted]", text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    return _JWT.sub("[redacted-jwt]", _JWE.sub("[redacted-jwt]", text))


class CloseoutError(Exception):
    """An error meant for the admin: a plain ``message`` and, when we know one, a ``hint``.

    Both are neutralised: they quote Graph's and the sign-in service's error texts and the
    tenant's names, and an error is printed, logged and journaled as it is.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        message = neutralise(message)
        super().__init__(message)
        self.message = message
        self.hint = neutralise_optional(hint)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class AuthError(CloseoutError):
    """Sign-in failed or no usable token could be obtained (raised by ``services.auth``)."""


class ReadOnlyViolation(CloseoutError):
    """A write was attempted while closeout runs with ``--read-only``; nothing was sent."""

    def __init__(self, method: str, path: str, detail: str | None = None) -> None:
        what = f"{method.upper()} {path}"
        super().__init__(
            _("Read-only mode: refused to send {what}").format(what=what)
            + (f" ({detail})" if detail else ""),
            hint=_("restart without --read-only to make changes"),
        )
        self.method = method.upper()
        self.path = path


class Stopped(CloseoutError):
    """The run was stopped by the admin while waiting; the pending request was not sent."""

    def __init__(self, message: str | None = None, hint: str | None = None) -> None:
        super().__init__(message or _("Stopped on request"), hint)


class NetworkError(CloseoutError):
    """Graph could not be reached or the connection broke (DNS, TLS, refused, reset, timeout).

    ``reached`` says whether this client had heard from Graph before: if not, nothing answers
    where closeout was pointed (a configuration problem, exit 2); if so, Graph was there and is
    not now (an outage: closeout waited ``outage`` seconds for it, then stopped, exit 3).
    None: the caller does not know (a ``$batch`` POST, judged by the executor)."""

    def __init__(
        self,
        method: str,
        path: str,
        cause: BaseException,
        *,
        attempts: int = 1,
        secrets: tuple[str | None, ...] = (),
        unsent: bool = False,
        reached: bool | None = None,
        outage: float | None = None,
        where: str = "",
    ) -> None:
        self.method = method.upper()
        self.path = path
        self.attempts = attempts
        self.unsent = unsent
        """The request certainly never left (no connection was made); otherwise Graph may
        have received it and acted on it even though no answer came back."""
        self.reached = reached
        self.outage = outage
        self.cause = cause
        self.kind = type(cause).__name__
        self.detail = redact(_short_reason(cause), *secrets)
        if reached is False:
            message = _(
                "Nothing answers as Microsoft Graph at {where} ({method} {path}): {detail}"
            ).format(
                where=where or path,
                method=self.method,
                path=path.split("?", 1)[0],
                detail=plain_reason(self.detail, self.kind),
            )
            hint = _(
                "check --graph-url (or --cloud), the proxy and the network; nothing was changed"
            )
        elif reached and outage is not None:
            from .durations import wait_duration

            message = _(
                "Microsoft Graph has not answered for {duration} ({detail}): stopped on "
                "{method} {path}"
            ).format(
                duration=wait_duration(outage),
                detail=plain_reason(self.detail, self.kind),
                method=self.method,
                path=path,
            )
            hint = _(
                "every request sent has its outcome recorded; run the same command again once "
                "the network is back"
            )
        else:
            message = (
                _("Network error on {method} {path} after {n} attempts: {kind}: {detail}")
                if attempts > 1
                else _("Network error on {method} {path}: {kind}: {detail}")
            ).format(method=self.method, path=path, n=attempts, kind=self.kind, detail=self.detail)
            hint = _("check the connection (proxy, VPN, DNS); it is safe to run the step again")
        super().__init__(message, hint=hint)


class NotGraph(CloseoutError):
    """What answered is not Microsoft Graph: an error without Graph's error object and without
    Graph's ``request-id`` header (a web server, a captive portal, a wrong port). Its 404 is
    not Graph's "the object does not exist", nor its 401 a refused token."""

    def __init__(self, where: str, status: int, content_type: str | None) -> None:
        self.status = status
        kind = (content_type or "").split(";", 1)[0].strip() or _("no content type")
        super().__init__(
            _(
                "The server at {where} is not Microsoft Graph: it answered HTTP {status} ({kind}) "
                "without Graph's error object or request-id"
            ).format(where=where, status=status, kind=kind),
            _("check --graph-url (or --cloud) and the proxy; nothing was changed"),
        )


class LongWait(CloseoutError):
    """Graph asked closeout to wait longer than it sleeps through in one go (``Retry-After``
    beyond the bound): reported as a wait (exit 3), so that the admin decides, not a sleep."""

    def __init__(self, waiting: Waiting) -> None:
        self.waiting = waiting
        super().__init__(
            waiting.text(),
            _("nothing is lost: run the same command again after {until} UTC").format(
                until=f"{waiting.until:%H:%M}"
            ),
        )


def plain_reason(detail: str, kind: str = "") -> str:
    """What an admin understands of a connection failure: "connection refused", "name not
    resolved", "timed out", or the library's own words (``kind: detail``)."""
    text = detail.lower()
    for needle, plain in (
        ("connection refused", _("connection refused")),
        ("name or service not known", _("name not resolved")),
        ("nodename nor servname", _("name not resolved")),
        ("temporary failure in name resolution", _("name not resolved")),
        ("timed out", _("timed out")),
        ("connection reset", _("connection reset")),
        ("remotedisconnected", _("connection closed without an answer")),
        ("connection aborted", _("connection closed without an answer")),
    ):
        if needle in text:
            return plain
    return f"{kind}: {detail}" if kind else detail


def _short_reason(exc: BaseException) -> str:
    """The innermost useful line of a requests/urllib3 exception, without the pool preamble."""
    text = str(exc) or type(exc).__name__
    # urllib3 nests reasons as "...(Caused by NewConnectionError('...: Failed to establish ...'))";
    # the last "Caused by" part is the one an admin can act on.
    if "Caused by" in text:
        text = text.rsplit("Caused by", 1)[1].strip(" ()")
    text = " ".join(text.split())
    return text[:_MAX_SNIPPET]


class GraphError(CloseoutError):
    """Graph answered with an error status. ``guidance`` says in plain words what to do."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        method: str = "",
        path: str = "",
        request_id: str | None = None,
        client_request_id: str | None = None,
        inner_code: str | None = None,
        retry_after: float | None = None,
        guidance: str | None = None,
    ) -> None:
        self.status = status
        self.code = neutralise(code)
        self.method = method.upper()
        self.path = path
        self.request_id = neutralise_optional(request_id)
        self.client_request_id = neutralise_optional(client_request_id)
        self.inner_code = neutralise_optional(inner_code)
        self.retry_after = retry_after
        from .guidance import guidance_for  # its tables load with the first Graph error

        self.guidance = neutralise(
            guidance
            if guidance is not None
            else guidance_for(self.method, path, status, code, message)
        )
        super().__init__(message, hint=self.guidance or None)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}: " if self.method else ""
        text = f"{where}{self.status} {self.code}: {self.message}"
        if self.request_id:
            text += f" [request-id {self.request_id}]"
        if self.guidance:
            text += f" — {self.guidance}"
        return text

    @property
    def is_throttled(self) -> bool:
        return self.status == 429

    @property
    def is_transient(self) -> bool:
        """Worth retrying later unchanged: throttling, server faults and failed dependencies."""
        return self.status in (429, 424) or self.status >= 500

    @classmethod
    def from_response(
        cls,
        response: requests.Response,
        *,
        method: str | None = None,
        path: str | None = None,
        client_request_id: str | None = None,
    ) -> GraphError:
        """Parse a requests response; ``path`` defaults to the request URL's path."""
        req = response.request
        return cls.from_parts(
            response.status_code,
            response.content,
            response.headers,
            method=method or (req.method if req is not None else "") or "",
            path=path or (response.url or ""),
            client_request_id=client_request_id,
        )

    @classmethod
    def from_parts(
        cls,
        status: int,
        body: bytes | str | Mapping[str, Any] | None,
        headers: Mapping[str, str] | None = None,
        *,
        method: str = "",
        path: str = "",
        client_request_id: str | None = None,
    ) -> GraphError:
        """Build from a status, a body (raw or already decoded) and headers.

        Works for top-level responses and for ``$batch`` sub-responses (whose body is already a
        dict and whose header names may be in any case). Non-JSON bodies (an HTML page from a
        proxy, a plain-text 502) become the message, shortened and redacted.
        """
        hdrs = {k.lower(): v for k, v in (headers or {}).items()}
        payload = _decode(body)
        error = payload.get("error") if isinstance(payload, dict) else None
        inner: dict[str, Any] = {}
        if isinstance(error, dict):
            code = str(error.get("code") or "") or _status_code_name(status)
            message = str(error.get("message") or "") or _status_phrase(status)
            raw_inner = error.get("innerError") or error.get("innererror") or {}
            inner = raw_inner if isinstance(raw_inner, dict) else {}
        else:
            code = _status_code_name(status)
            message = _snippet(body) or _status_phrase(status)
        inner_code = inner.get("code")
        return cls(
            status,
            code,
            redact(message),
            method=method,
            path=path,
            request_id=_text(inner.get("request-id")) or hdrs.get("request-id"),
            client_request_id=(
                _text(inner.get("client-request-id"))
                or hdrs.get("client-request-id")
                or client_request_id
            ),
            inner_code=str(inner_code) if inner_code is not None else None,
            retry_after=parse_retry_after(hdrs.get("retry-after")),
        )


def _decode(body: Any) -> Any:
    if body is None:
        return None
    if isinstance(body, Mapping):
        return dict(body)
    if not isinstance(body, bytes | bytearray | str):
        return body  # a $batch sub-response's body, already decoded: a list, a number…
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None


def _text(value: Any) -> str | None:
    """An id from an error body, if it is text (the body may hold anything)."""
    return value if isinstance(value, str) else None


def _snippet(body: Any) -> str:
    if not isinstance(body, bytes | bytearray | str):
        return ""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes | bytearray) else body
    # An HTML error page is noise in a log line: keep its visible words only.
    text = re.sub(r"(?s)<(script|style).*?</\1>", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    text = " ".join(text.split())
    if len(text) > _MAX_SNIPPET:
        text = text[: _MAX_SNIPPET - 1] + "…"
    return text


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _status_code_name(status: int) -> str:
    """A Graph-style code for bodies without one: 503 → ``ServiceUnavailable``."""
    try:
        return HTTPStatus(status).phrase.title().replace(" ", "").replace("-", "")
    except ValueError:
        return f"Http{status}"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value.

    Graph sends delta-seconds, sometimes fractional (``2.128``); RFC 9110 also allows an
    HTTP-date, which we honour relative to ``now``. Negative or unparseable values give None.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        import email.utils  # rare (Graph sends seconds), and slow to import for --help

        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
        return max(0.0, seconds)
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative, inf
        return None
    return seconds
