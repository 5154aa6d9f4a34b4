"""What a read of the journal file found wrong: damaged lines, a torn last line, or a journal
that records another tenant's runs (refused whole); and the scan position that tallies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.errors import CloseoutError
from services.i18n import _

from .records import MAX_LISTED_DAMAGED

__all__ = ["ForeignJournal", "JournalHealth"]


@dataclass(frozen=True)
class JournalHealth:
    """What the last full read found wrong with the journal file."""

    damaged: int = 0
    """Complete lines that are not a readable record: what they held is missing from the
    record. (A torn last line, a write cut short by a kill, is not counted until the next
    record completes it.)"""
    damaged_lines: tuple[int, ...] = ()
    """Line numbers (1-based) of the first :data:`MAX_LISTED_DAMAGED` damaged lines."""
    torn_tail: bool = False

    def warning(self, path: Path) -> str | None:
        """One line for the admin naming how many lines are damaged and where, or None."""
        if not self.damaged:
            return None
        where = ", ".join(str(n) for n in self.damaged_lines)
        if self.damaged > len(self.damaged_lines):
            where += ", …"
        return _(
            "The journal {path} has {n} damaged lines that could not be read (line {lines}): "
            "what they recorded is missing from the record."
        ).format(path=path, n=self.damaged, lines=where)

    def to_json(self) -> dict[str, Any]:
        return {
            "damagedLines": self.damaged,
            "damagedAt": list(self.damaged_lines),
            "tornTail": self.torn_tail,
        }


class ForeignJournal(CloseoutError):
    """The journal in this tenant's folder records runs on another tenant: refused whole."""

    def __init__(self, path: Path, tenant: str, other: str, line: int) -> None:
        self.path = path
        self.tenant = tenant
        self.other = other
        self.line = line
        super().__init__(
            _(
                "The journal {path} records runs on tenant {other} (line {line}), not on "
                "{tenant}: refusing to read or resume it."
            ).format(path=path, other=other, line=line, tenant=tenant),
            _(
                "It was copied or moved here from another tenant's folder; move it back (or "
                "aside), then run closeout again."
            ),
        )


@dataclass
class _Scan:
    """Where a read of the journal file got to, and what it found on the way."""

    offset: int = 0
    """Byte offset after the last complete line."""
    line: int = 0
    """Complete lines read (the line number of the last one)."""
    damaged: int = 0
    damaged_lines: list[int] = field(default_factory=list)
    tail: dict[str, Any] | None = None
    torn: bool = False
    identity: tuple[int, int] | None = None

    def reset(self) -> None:
        self.offset = self.line = self.damaged = 0
        self.damaged_lines = []
        self.tail, self.torn, self.identity = None, False, None

    def damage(self) -> None:
        self.damaged += 1
        if len(self.damaged_lines) < MAX_LISTED_DAMAGED:
            self.damaged_lines.append(self.line)

    def health(self) -> JournalHealth:
        return JournalHealth(self.damaged, tuple(self.damaged_lines), self.torn)
