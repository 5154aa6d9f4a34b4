"""Requests that got no answer of Graph's: the connection failures worth retrying, whether a
request certainly never left (so that even a POST may be resent), and an answer in Graph's
place that is not Graph's.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

from .responses import GraphResponse

# Connection-level failures worth retrying: refused, reset, dropped mid-body, timed out.
_NETWORK_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


def _never_sent(exc: BaseException) -> bool:
    """True if no connection was ever made, so the request certainly did not reach Graph
    (refused, name not resolved, connect timeout); a reset or a read timeout may come after
    Graph acted on it."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, NewConnectionError)


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


def _refused(exc: BaseException) -> bool:
    """Refused or no such name: nothing is there (a timeout may be a slow network)."""
    return _never_sent(exc) and not isinstance(exc, requests.ConnectTimeout)
