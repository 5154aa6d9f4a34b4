"""The one protocol every token source implements and GraphClient consumes.

It lives here, in a module that imports nothing, so that ``services.graph`` (the consumer) and
the providers in this package depend on it without depending on each other.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

__all__ = ["TokenProvider"]


@runtime_checkable
class TokenProvider(Protocol):
    """What GraphClient needs: a bearer token, refreshed once when Graph answered 401."""

    def token(self, *, force_refresh: bool = False) -> str: ...
