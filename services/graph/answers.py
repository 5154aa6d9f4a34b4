"""What an answer must look like for closeout to read it: Graph's own (a request-id or Graph's
error object), lists of objects with ids, next links under the Graph root; anything else is
refused whole with a message for the admin (:class:`UnexpectedAnswer`, :class:`ForeignLink`).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from services.errors import CloseoutError
from services.i18n import _
from services.textsafe import json_loads

from .responses import GraphResponse

__all__ = ["ForeignLink", "UnexpectedAnswer", "listed_objects", "objects_in"]


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
