"""The sandbox's small HTTP layer: request/response values, Graph-shaped errors and a router.

Kept apart from the directory model so that the Graph routes, the identity endpoints and the
sandbox-only control endpoints all register handlers the same way.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

if TYPE_CHECKING:
    from .tokens import Principal

JSON_CONTENT_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;"
    "charset=utf-8"
)


@dataclass
class Request:
    """One request as a handler sees it (also used for each item inside a ``$batch``)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    principal: Principal | None = None
    request_id: str = ""
    client_request_id: str = ""
    in_batch: bool = False

    @classmethod
    def from_target(
        cls, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> Request:
        """Build from a request target such as ``/v1.0/users?$top=5`` (query percent-decoded)."""
        path, _, raw_query = target.partition("?")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        return cls(
            method=method.upper(),
            path=unquote(path),
            query=query,
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
        )

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        if not self.body:
            raise GraphHttpError(400, "BadRequest", "Empty Payload, JSON content expected")
        try:
            return json.loads(self.body)
        except json.JSONDecodeError as exc:
            raise GraphHttpError(
                400, "BadRequest", f"Invalid JSON in request body: {exc.msg}"
            ) from None
        except UnicodeDecodeError as exc:
            # Bytes that are not UTF-8 never reach the parser: the decode error has no .msg.
            raise GraphHttpError(
                400, "BadRequest", f"Invalid JSON in request body: {exc.reason}"
            ) from None


@dataclass
class Response:
    """What a handler returns; ``body`` dicts and lists are sent as JSON."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None

    def encoded(self) -> tuple[bytes, str | None]:
        if self.body is None:
            return b"", self.content_type
        if isinstance(self.body, bytes):
            return self.body, self.content_type or "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain;charset=utf-8"
        return (
            json.dumps(self.body, separators=(",", ":")).encode(),
            self.content_type or JSON_CONTENT_TYPE,
        )


class GraphHttpError(Exception):
    """Raised by handlers; rendered as Graph's ``{"error": {...}}`` body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
        inner_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.inner_code = inner_code

    def to_response(self, request_id: str, client_request_id: str, date: str) -> Response:
        inner: dict[str, Any] = {
            "date": date,
            "request-id": request_id,
            "client-request-id": client_request_id,
        }
        if self.inner_code:
            inner["code"] = self.inner_code
        return Response(
            status=self.status,
            body={"error": {"code": self.code, "message": self.message, "innerError": inner}},
            headers=dict(self.headers),
        )


# None: drop the connection without an answer (a $batch whose item was dropped).
Handler = Callable[[Request], "Response | None"]
_PARAM = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Route:
    method: str
    regex: re.Pattern[str]
    handler: Handler
    writes: bool


class Router:
    """Maps ``(method, path)`` to a handler. Patterns use ``{name}`` for one path segment."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(
        self, method: str, pattern: str, handler: Handler, *, writes: bool | None = None
    ) -> None:
        parts = _PARAM.split(pattern)
        regex = ""
        for i, part in enumerate(parts):
            regex += f"(?P<{part}>[^/]+)" if i % 2 else re.escape(part)
        method = method.upper()
        is_write = writes if writes is not None else method in ("POST", "PATCH", "PUT", "DELETE")
        self._routes.append(
            Route(method, re.compile(f"^{regex}/?$", re.IGNORECASE), handler, is_write)
        )

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        """The most specific route (fewest parameters) for this request.

        404-style 400 if no path matches, 405 if only the method differs.
        """
        best: tuple[Route, dict[str, str]] | None = None
        path_matched = False
        for route in self._routes:
            m = route.regex.match(path)
            if not m:
                continue
            path_matched = True
            if route.method != method.upper():
                continue
            params = {k: unquote(v) for k, v in m.groupdict().items()}
            if best is None or len(params) < len(best[1]):
                best = (route, params)
        if best is not None:
            return best
        if path_matched:
            raise GraphHttpError(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            )
        raise GraphHttpError(
            400,
            "BadRequest",
            f"Resource not found for the segment '{path.rstrip('/').rsplit('/', 1)[-1]}'.",
        )
