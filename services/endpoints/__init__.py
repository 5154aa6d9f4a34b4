"""The Graph calls closeout makes, one row each (:mod:`.table`), and finding a request's row.

Owns the facts of each call — method, path template, API version, permissions, roles, sources —
and nothing else: it imports nothing of closeout's but the i18n marker, so that sign-in, the
requirements, the guidance and every caller can read it without dragging the rest along.
"""

from __future__ import annotations

from .model import VERSIONS, Endpoint, Option, split_version
from .table import *  # noqa: F403 (the rows, by name: ``endpoints.USER_DELETE``)
from .table import ENDPOINTS

__all__ = ["ENDPOINTS", "VERSIONS", "Endpoint", "Option", "by_name", "lookup", "split_version"]


def lookup(method: str, path: str) -> tuple[Endpoint, ...]:
    """The rows a request is a call of: empty if none, several only where rows share a method
    and path (the recycle bin's per-type rows). ``path`` as :meth:`Endpoint.matches` takes it.

    Where templates of different shape match (``/directory/deletedItems/microsoft.graph.user``
    and ``/directory/deletedItems/{id}``), the one with fewer placeholders wins: a literal
    segment says more than a placeholder.
    """
    found = [e for e in ENDPOINTS if e.matches(method, path)]
    if not found:
        return ()
    fewest = min(len(e.placeholders) for e in found)
    return tuple(e for e in found if len(e.placeholders) == fewest)


def by_name(name: str) -> Endpoint:
    for e in ENDPOINTS:
        if e.name == name:
            return e
    raise KeyError(name)
