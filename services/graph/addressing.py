"""Where a request goes and whether it may: a version-relative path or a next link under the
Graph root made into a URL (never a sandbox control endpoint, never another host), the path as
records show it (cursors and credentials shortened), and read-only enforcement.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from services.errors import ReadOnlyViolation

from .answers import ForeignLink

_VERSIONS = ("v1.0", "beta")
_SAFE_METHODS = frozenset({"GET", "HEAD"})
# Query values that are opaque cursors or credentials: shortened in records and logs.
_HIDDEN_QUERY = frozenset(
    {"$skiptoken", "$deltatoken", "access_token", "code", "client_secret", "token", "sig"}
)


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


class _Addressing:
    """The part of :class:`~.client.GraphClient` that resolves and polices request targets."""

    graph_url: str
    _root: tuple[str, str, str]
    read_only: bool

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
