"""Data before step 1: who holds mailbox or OneDrive data that deleting the users loses, and how
much, so that the admin can hand it over first.

By licence, always: users whose licences carry a mailbox or OneDrive
(:attr:`~services.inventory.model.Inventory.data_holders`). With sizes, where Graph reports them: the
Microsoft 365 usage reports (graph-api.md §14), which need Reports.Read.All and exist in the
global cloud only. Their rows are joined to the users by userPrincipalName. A tenant whose
admin center conceals user names in reports (``displayConcealedNames``) gets pseudonyms that
match nobody: then the sizes are said to be concealed, with where to turn that off; closeout
never changes the setting itself.

Step 0 lists the owners, step 1's confirmation names them, ``closeout data-owners`` exports them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from . import endpoints
from .errors import CloseoutError, GraphError
from .i18n import _, ngettext
from .inventory.model import Inventory

__all__ = [
    "DataOwner",
    "DataOwners",
    "Usage",
    "csv_text",
    "data_owners",
    "owners_named",
    "some_names",
    "write_csv",
]

SHOWN = 5
"""Names shown in a line before "and N more"."""

Sizes = Literal["read", "concealed", "unavailable"]


class Downloads(Protocol):
    """What reading a report needs of :class:`~services.graph.client.GraphClient`."""

    def download(self, path: str) -> bytes: ...


@dataclass(frozen=True)
class Usage:
    """One user's data as the usage reports count it (None: not in that report)."""

    mailbox_bytes: int | None = None
    mailbox_items: int | None = None
    onedrive_bytes: int | None = None
    onedrive_files: int | None = None

    @property
    def holds_data(self) -> bool:
        return bool(self.mailbox_items or self.mailbox_bytes or self.onedrive_files)


@dataclass(frozen=True)
class DataOwner:
    id: str
    upn: str
    display_name: str
    licensed: bool
    """Its licences carry a mailbox or OneDrive."""
    usage: Usage | None
    """What the usage reports count (None: sizes not read, or the user is in neither)."""


@dataclass(frozen=True)
class DataOwners:
    owners: tuple[DataOwner, ...]
    sizes: Sizes
    note: str = ""
    """Why the sizes are concealed or unavailable, in words."""


def some_names(names: Sequence[str], shown: int = SHOWN) -> str:
    """``a, b, c and 9 more``: the first few of ``names``, and how many are left out."""
    head = ", ".join(names[:shown])
    rest = len(names) - shown
    if rest <= 0:
        return head
    return ngettext("{names} and {n:,} more", "{names} and {n:,} more", rest).format(
        names=head, n=rest
    )


def owners_named(inventory: Inventory, deleted_ids: Iterable[str]) -> str | None:
    """The line step 1's confirmation adds: which of the users it deletes hold mailbox or
    OneDrive data, by name; None when none does."""
    ids = set(deleted_ids)
    upns = [u.upn for u in inventory.data_holders if u.id in ids]
    if not upns:
        return None
    return ngettext(
        "{n:,} of them holds mailbox or OneDrive data: {names}. Hand it over first; "
        "closeout data-owners --out FILE lists it with sizes.",
        "{n:,} of them hold mailbox or OneDrive data: {names}. Hand it over first; "
        "closeout data-owners --out FILE lists it with sizes.",
        len(upns),
    ).format(n=len(upns), names=some_names(upns))


def data_owners(inventory: Inventory, client: Downloads | None) -> DataOwners:
    """The users who hold data, by licence or by the usage reports, with their sizes where
    ``client`` (None: do not read the reports) can read them."""
    usage: dict[str, Usage] = {}
    sizes: Sizes = "unavailable"
    note = _("Sizes not read.")
    if client is not None:
        try:
            usage = _read_usage(client)
        except GraphError as exc:
            note = _unavailable(exc)
        except CloseoutError as exc:
            note = exc.message
        else:
            sizes, note = "read", ""
            known = {u.upn.casefold() for u in inventory.users}
            # Pseudonyms have no documented form: that not one row names a user says enough.
            if usage and not known & set(usage):
                sizes, usage = "concealed", {}
                note = _(
                    "The usage reports conceal user names, so their sizes match no user. To see "
                    'them, turn off "Display concealed user, group, and site names in all '
                    'reports" (Microsoft 365 admin center > Settings > Org settings > Services > '
                    "Reports) "
                    "and run this again."
                )
    owners = []
    for u in inventory.users:
        used = usage.get(u.upn.casefold())
        if u.has_mailbox_data or (used is not None and used.holds_data):
            owners.append(DataOwner(u.id, u.upn, u.display_name, u.has_mailbox_data, used))
    return DataOwners(tuple(owners), sizes, note)


def _unavailable(exc: GraphError) -> str:
    if exc.status == 403:
        return _(
            "Sizes need the Graph permission Reports.Read.All and a role that may read usage "
            "reports (Reports Reader, or an admin role; Global Reader sees only pseudonyms): "
            "{message}"
        ).format(message=exc.message)
    return _("The usage reports are not available here ({status}: {message}).").format(
        status=exc.status, message=exc.message
    )


def _read_usage(client: Downloads) -> dict[str, Usage]:
    """Sizes by case-folded UPN, from the mailbox and the OneDrive report (deleted rows left
    out: their data is not lost by step 1)."""
    found: dict[str, dict[str, int | None]] = {}
    for row in _rows(client.download(endpoints.REPORT_MAILBOX.url(period="D7"))):
        upn = row.get("User Principal Name", "").strip()
        if upn and not _true(row.get("Is Deleted")):
            found.setdefault(upn.casefold(), {}).update(
                mailbox_bytes=_int(row.get("Storage Used (Byte)")),
                mailbox_items=_int(row.get("Item Count")),
            )
    for row in _rows(client.download(endpoints.REPORT_ONEDRIVE.url(period="D7"))):
        upn = row.get("Owner Principal Name", "").strip()
        if upn and not _true(row.get("Is Deleted")):
            found.setdefault(upn.casefold(), {}).update(
                onedrive_bytes=_int(row.get("Storage Used (Byte)")),
                onedrive_files=_int(row.get("File Count")),
            )
    return {k: Usage(**v) for k, v in found.items()}


def _rows(raw: bytes) -> list[dict[str, str]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CloseoutError(_("A usage report is not UTF-8 text.")) from None
    return list(csv.DictReader(io.StringIO(text)))


def _int(value: str | None) -> int | None:
    try:
        return int((value or "").strip())
    except ValueError:
        return None


def _true(value: str | None) -> bool:
    return (value or "").strip().lower() == "true"


CSV_HEADER = (
    "userPrincipalName",
    "displayName",
    "licensedForData",
    "mailboxBytes",
    "mailboxItems",
    "oneDriveBytes",
    "oneDriveFiles",
)


def write_csv(owners: DataOwners, path: Path) -> None:
    """The owners as CSV at ``path`` (written whole, then moved into place)."""
    from .paths import write_private

    write_private(path, csv_text(owners))


def csv_text(owners: DataOwners) -> str:
    """The owners as CSV; cells that a spreadsheet would run as a formula are quoted inert."""
    from .evidence.rows import csv_cell

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for o in owners.owners:
        u = o.usage or Usage()
        w.writerow(
            [
                csv_cell(o.upn),
                csv_cell(o.display_name),
                "yes" if o.licensed else "no",
                *(
                    "" if v is None else v
                    for v in (u.mailbox_bytes, u.mailbox_items, u.onedrive_bytes, u.onedrive_files)
                ),
            ]
        )
    return buf.getvalue()
