"""The accounts to keep: where each was named, and how those names become the plan's kept set.

An account is kept because it signed in (the admin doing the work), because the command line
named it (``--keep UPN``), because a keep file lists it (``--keep-file FILE``: one
userPrincipalName or object id per line), or because the admin marked it in closeout (the TUI's
rows, through :func:`set_kept`). Every one of them is a :class:`KeepEntry`; :func:`resolve`
matches them against the tenant's users and says, for each kept account, why it is kept. A kept
account is never deleted; one marked "keep MFA" also keeps its per-user MFA in step 4 (the
signed-in admin always does).

A keep file: blank lines are skipped, a line whose first visible character is ``#`` is a
comment, and so is whatever follows ``#`` after a space (a guest's userPrincipalName holds
``#EXT#``, which is not a comment). Unreadable files, lines that are neither a UPN nor an object
id, and one account named twice are refused with the file and line; an entry no user of the
tenant answers to is refused when the plan is made.

Light on purpose: the command line reads keep files before it loads any engine code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from .errors import CloseoutError
from .i18n import N_, _

if TYPE_CHECKING:
    from .inventory.model import Inventory
    from .models import UserRow
    from .plan.model import KeptAccount, Plan

__all__ = [
    "KEEP_FILE",
    "KEEP_OPTION",
    "MARKED",
    "SIGNED_IN",
    "KeepEntry",
    "KeepError",
    "entries_for",
    "keep_reason",
    "marks_of",
    "protected",
    "read_keep_file",
    "resolve",
    "set_kept",
]

# What a KeptAccount's ``reason`` holds (saved plans keep these words, untranslated).
SIGNED_IN = N_("signed-in admin")
KEEP_OPTION = "--keep"
KEEP_FILE = "keep-file"
MARKED = "marked"

MAX_KEEP_FILE = 1 << 20
"""Bytes: a list of accounts, not a data set; anything bigger is not a keep file."""

_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_COMMENT = re.compile(r"\s#")


class KeepError(CloseoutError):
    """A keep entry closeout cannot honour: nothing was planned or changed."""


@dataclass(frozen=True)
class KeepEntry:
    """One account named to be kept, as it was written, and where."""

    value: str
    """A userPrincipalName or an object id."""
    source: str = KEEP_OPTION
    """:data:`KEEP_OPTION`, :data:`MARKED`, or the keep file's path."""
    line: int = 0
    """The line of the keep file (0 otherwise)."""
    keep_mfa: bool = False
    """Step 4 leaves this account's per-user MFA on."""

    @property
    def is_id(self) -> bool:
        return bool(_GUID.fullmatch(self.value))

    @property
    def from_file(self) -> bool:
        return self.source not in (KEEP_OPTION, MARKED)

    def where(self) -> str:
        """Where the entry was written, for an error: ``keep.txt, line 4`` or ``--keep``."""
        if self.from_file:
            return _("{file}, line {line}").format(file=self.source, line=self.line)
        if self.source == MARKED:
            return _("marked in closeout")
        return KEEP_OPTION

    def reason(self) -> tuple[str, str]:
        """``(reason, source)`` as a :class:`~services.plan.model.KeptAccount` stores them."""
        if self.from_file:
            return KEEP_FILE, f"{self.source}:{self.line}"
        return self.source, ""


def read_keep_file(path: str | Path) -> tuple[KeepEntry, ...]:
    """The entries of a keep file, in order. Raises :class:`KeepError` naming the file (and the
    line) when it cannot be read, holds something that is no account, or names one twice."""
    name = str(path)
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_KEEP_FILE + 1)
    except OSError as exc:
        raise KeepError(
            _("--keep-file {file}: cannot read it ({reason}).").format(
                file=name, reason=exc.strerror or exc
            )
        ) from None
    if len(raw) > MAX_KEEP_FILE:
        raise KeepError(
            _(
                "--keep-file {file}: larger than {size} MiB; is it really a list of accounts?"
            ).format(file=name, size=MAX_KEEP_FILE >> 20)
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise KeepError(
            _("--keep-file {file}: not UTF-8 text (byte {at}).").format(file=name, at=exc.start)
        ) from None
    entries: list[KeepEntry] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), 1):
        value = line.strip()
        if value.startswith("#"):
            continue
        comment = _COMMENT.search(value)
        if comment:
            value = value[: comment.start()].strip()
        if not value:
            continue
        if any(c.isspace() for c in value) or not (_GUID.fullmatch(value) or "@" in value):
            raise KeepError(
                _(
                    "--keep-file {file}, line {line}: {value!r} is neither a userPrincipalName "
                    "nor an object id."
                ).format(file=name, line=number, value=value[:80]),
                _("One account per line; # starts a comment."),
            )
        key = value.casefold()
        if key in seen:
            raise KeepError(
                _("--keep-file {file}: lines {first} and {line} both name {value}.").format(
                    file=name, first=seen[key], line=number, value=value
                ),
                _("Name each account once."),
            )
        seen[key] = number
        entries.append(KeepEntry(value, name, number))
    return tuple(entries)


def entries_for(keep_upns: Iterable[str], entries: Iterable[KeepEntry] = ()) -> list[KeepEntry]:
    """``--keep`` values and the other entries, in the order they count (the command line
    first)."""
    return [KeepEntry(upn) for upn in keep_upns] + list(entries)


def _lookup(users: Iterable[UserRow]) -> Callable[[KeepEntry], UserRow | None]:
    by_key: dict[str, UserRow] = {}
    for u in users:
        by_key[u.id.casefold()] = u
        by_key.setdefault(u.upn.casefold(), u)
    return lambda entry: by_key.get(entry.value.casefold())


def resolve(
    entries: Sequence[KeepEntry], users: Iterable[UserRow], *, signed_in: tuple[str, str] | None
) -> list[KeptAccount]:
    """The kept accounts: the signed-in admin (``(id, upn)``, None with app-only sign-in)
    first, then each entry's user once, with why it is kept. An account named by several
    entries keeps the first one's reason and keeps its MFA if any of them says so.

    Raises :class:`KeepError` for an entry no user answers to, and for one account that a keep
    file names twice (once by its UPN, once by its id).
    """
    from .plan.model import KeptAccount  # the plan module imports this one

    find = _lookup(users)
    kept: dict[str, KeptAccount] = {}
    if signed_in is not None:
        kept[signed_in[0]] = KeptAccount(signed_in[0], signed_in[1], SIGNED_IN)
    in_file: dict[tuple[str, str], KeepEntry] = {}
    for entry in entries:
        user = find(entry)
        if user is None and entry.source == MARKED:
            continue  # marked, then deleted by hand: nothing left to keep
        if user is None:
            raise KeepError(
                _("{where}: no user {value} in this tenant.").format(
                    where=entry.where(), value=entry.value
                ),
                _("Check the spelling: a userPrincipalName or a user's object id."),
            )
        if entry.from_file:
            twice = in_file.get((entry.source, user.id))
            if twice is not None:
                raise KeepError(
                    _("--keep-file {file}: lines {first} and {line} both name {upn}.").format(
                        file=entry.source, first=twice.line, line=entry.line, upn=user.upn
                    ),
                    _("Name each account once."),
                )
            in_file[(entry.source, user.id)] = entry
        before = kept.get(user.id)
        if before is None:
            reason, source = entry.reason()
            kept[user.id] = KeptAccount(user.id, user.upn, reason, source, entry.keep_mfa)
        elif entry.keep_mfa and not before.keep_mfa:
            kept[user.id] = replace(before, keep_mfa=True)
    return list(kept.values())


def keep_reason(account: KeptAccount) -> str:
    """Why ``account`` is kept, in words: ``signed-in admin``, ``named on the command line
    (--keep)``, ``from keep.txt, line 4``, ``marked in closeout``; and whether it keeps MFA."""
    if account.reason == KEEP_FILE:
        file, _sep, line = account.source.rpartition(":")
        text = _("from {file}, line {line}").format(file=file, line=line)
    elif account.reason == KEEP_OPTION:
        text = _("named on the command line (--keep)")
    elif account.reason == MARKED:
        text = _("marked in closeout")
    else:
        text = _(account.reason)
    if account.keep_mfa and account.reason != SIGNED_IN:
        text += _(", keeps MFA")
    return text


def protected(
    entries: Iterable[KeepEntry], inventory: Inventory | None
) -> tuple[frozenset[str], frozenset[str]]:
    """``(ids, upns)`` (UPNs case-folded) the entries name, resolved against ``inventory`` as
    far as it knows them: what the last line of defence refuses to delete whatever a plan
    says."""
    ids: set[str] = set()
    upns: set[str] = set()
    find = _lookup(inventory.users if inventory is not None else ())
    for entry in entries:
        (ids if entry.is_id else upns).add(entry.value.casefold())
        user = find(entry)
        if user is not None:
            ids.add(user.id)
            upns.add(user.upn.casefold())
    return frozenset(ids), frozenset(upns)


class KeepOptions(Protocol):
    keep_entries: tuple[KeepEntry, ...]


class Replanner(Protocol):
    """What :func:`set_kept` needs of the engine (``services.engine.Engine``)."""

    @property
    def options(self) -> KeepOptions: ...

    @property
    def plan(self) -> Plan | None: ...

    @property
    def inventory(self) -> Inventory | None: ...

    def make_plan(self, *, save: bool | None = None) -> Plan: ...


def set_kept(
    host: Replanner, user: str | Iterable[str], *, keep: bool = True, keep_mfa: bool = False
) -> Plan:
    """Mark users (object ids or UPNs: one, or many at once) to keep, or take the marks off,
    and make the plan again, once.

    The services call behind the TUI's keep mark: the new plan (saved as a run's plan is, when
    the session records) shows each account among those kept, "marked in closeout". Keeping it
    with ``keep_mfa`` also leaves its per-user MFA on in step 4. Only a mark can be taken off:
    the signed-in admin, and accounts the command line or a keep file names, stay kept.
    Raises :class:`KeepError` (nothing changes) for a user the last read does not know, or one
    whose keep is no mark. Many users cost one pass over them, not one plan each.
    """
    inv = host.inventory
    find = _lookup(inv.users if inv is not None else ())
    found: dict[str, UserRow] = {}
    for name in [user] if isinstance(user, str) else user:
        row = find(KeepEntry(name))
        if row is None:
            raise KeepError(_("No user {user} in the last read of the tenant.").format(user=name))
        found[row.id] = row
    entries = host.options.keep_entries
    marked = {e.value for e in entries if e.source == MARKED}
    if not keep:
        held = {k.id: k for k in host.plan.keep} if host.plan else {}
        for row in found.values():
            if row.id not in marked and row.id in held:
                raise KeepError(
                    _(
                        "{upn} is kept ({reason}); only a mark made in closeout can be taken off."
                    ).format(upn=row.upn, reason=keep_reason(held[row.id])),
                    _(
                        "To stop keeping it, change the command line or the keep file, "
                        "then re-plan."
                    ),
                )
    rest = tuple(e for e in entries if not (e.source == MARKED and e.value in found))
    marks = tuple(KeepEntry(i, MARKED, keep_mfa=keep_mfa) for i in found) if keep else ()
    host.options.keep_entries = rest + marks
    return host.make_plan()


def marks_of(plan: Plan | None) -> tuple[KeepEntry, ...]:
    """The accounts a (saved) plan keeps because the admin marked them: a new plan keeps them
    too, so that re-planning never drops one."""
    if plan is None:
        return ()
    return tuple(
        KeepEntry(k.id, MARKED, keep_mfa=k.keep_mfa) for k in plan.keep if k.reason == MARKED
    )
