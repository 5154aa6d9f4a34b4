"""What one Graph call is, as closeout's endpoint table writes it, and how a request is matched
to it.

A path template is written the way Microsoft's Graph reference writes paths: ``{id}`` (any name
in braces) stands for one segment, everything else is literal, an OData cast included
(``/directory/deletedItems/microsoft.graph.user``). Graph's paths are case-insensitive, and so is
matching. A request is matched on its method, its API version and its path without the query;
an ``@odata.nextLink`` page, a full URL and a ``$batch`` sub-request (whose URL is relative to
the batch's version) all match the row of the call they belong to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Literal
from urllib.parse import quote, urlsplit

__all__ = ["VERSIONS", "Endpoint", "Option", "split_version"]

VERSIONS = ("v1.0", "beta")

Option = Literal["disable_security_defaults", "disable_ca_mfa", "usage_reports"]
"""A run option without which closeout never makes the call (and never asks for its scope)."""

_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


@dataclass(frozen=True)
class Endpoint:
    """One Graph call closeout makes, with what Graph requires for it (graph-api.md §10).

    ``delegated`` and ``application`` hold the least-privileged permission, or two where the
    sources disagree on which is least (UDEL against WN); ``()`` means Graph does not support
    that kind of caller; ``None`` (``$batch``) means each request inside says. ``higher`` are the
    higher-privileged permissions the reference lists as allowing the call too: with the least
    ones they are every permission a requirement accepts. Roles are the directory roles a
    delegated caller needs, any of them, the least-privileged first; ``()`` when Graph asks for
    none beyond the permission.
    """

    name: str
    method: str
    path: str
    version: str
    delegated: tuple[str, ...] | None
    application: tuple[str, ...] | None
    source: str
    """graph-api.md's keys (§0) for these facts, or the section and the Graph reference page."""
    higher: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    asks: str | None = None
    """What a run that may write asks for to make this call, when not ``delegated[0]``: a read of
    something the run also writes asks for the write's scope, so that one consent covers both."""
    full_read: tuple[str, ...] = ()
    """Where the least permission reads only part of the answer: the permissions with which
    Graph returns every property (``GET /organization`` under User.Read reads id, displayName
    and verifiedDomains, every other property null: ORGGET). A run asks for one of them
    (:func:`services.auth.scopes.scopes_for`), a step that relies on the rest names them as its
    need (``Uses.whole``), and a property read without them is unknown, never a value."""
    together: tuple[str, ...] = ()
    """Permissions needed as well as one of the others, for every call (CAUPD)."""
    for_admins: str | None = None
    """A delegated permission also needed when the target holds an admin role (UDEL)."""
    option: Option | None = None
    target: str | None = None
    """Which objects, where two rows share one method and path (``N_``): the recycle bin
    purges users under one permission, applications and service principals under another."""
    note: str | None = None
    """What else the admin should know when Graph refuses it (``N_``)."""

    @property
    def writes(self) -> bool:
        return self.method != "GET"

    @property
    def accepted_delegated(self) -> tuple[str, ...]:
        """Every delegated permission any one of which allows the call (with ``together``)."""
        return _unique((*(self.delegated or ()), *self.higher))

    @property
    def accepted_application(self) -> tuple[str, ...]:
        return _unique((*(self.application or ()), *self.higher))

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    def url(self, **ids: str) -> str:
        """The version-relative URL of this call on the objects ``ids`` names (``id=...``).

        Each id is percent-encoded as one segment: whatever Graph handed back as an id cannot
        reach another path than this one.
        """
        wanted = set(self.placeholders)
        if set(ids) != wanted:
            raise ValueError(f"{self.name} takes {sorted(wanted)}, not {sorted(ids)}")
        return _PLACEHOLDER.sub(lambda m: quote(str(ids[m.group(1)]), safe=""), self.path)

    def matches(self, method: str, path: str) -> bool:
        """Whether ``method path`` (versioned, a full URL, or relative to ``version``) is a
        request of this call."""
        version, rel = split_version(path)
        if method.upper() != self.method or (version or self.version) != self.version:
            return False
        return self._pattern.match(rel) is not None

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        parts = _PLACEHOLDER.split(self.path)
        # split() alternates literal text and placeholder names: literals at even indexes.
        rx = "".join(re.escape(p) if i % 2 == 0 else "[^/]+" for i, p in enumerate(parts))
        return re.compile(f"^{rx}/?$", re.IGNORECASE)


def split_version(path: str) -> tuple[str | None, str]:
    """``("v1.0", "/users/x")`` from ``/v1.0/users/x?$top=1`` or a full Graph URL; a path
    without a version comes back as it is (``None``, the path without its query)."""
    parts = urlsplit(path)
    rel = parts.path if (parts.scheme or parts.netloc) else path.split("?", 1)[0]
    segments = rel.lstrip("/").split("/", 1)
    if segments and segments[0].lower() in VERSIONS:
        version = "v1.0" if segments[0].lower() == "v1.0" else "beta"
        return version, "/" + (segments[1] if len(segments) > 1 else "")
    return None, "/" + rel.lstrip("/")


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
