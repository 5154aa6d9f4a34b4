"""Microsoft 365 usage reports (graph-api.md §14): the mailbox and OneDrive detail reports, as
Graph serves them. A call answers ``302 Found`` with a preauthenticated download URL (valid a
few minutes, needing no token) in ``Location``; that URL answers the CSV. Reports.Read.All is
needed, delegated or application.

User names in the reports are pseudonyms unless the tenant shows them: Microsoft conceals them
by default since September 2021 (``report_names``, ``report-names-concealed``/``-shown``).

The tenant's data: every user whose licences carry Exchange has a mailbox, SharePoint a
OneDrive, with sizes drawn from the user's id; and one unlicensed member still has the mailbox
its removed licence left behind (a licence says less than the report).
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import time
from typing import TYPE_CHECKING

from services.sandbox.authz import need
from services.sandbox.http import GraphHttpError, Request, Response

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox
    from services.sandbox.tenant import User

PERIODS = ("D7", "D30", "D90", "D180")
DOWNLOAD_PATH = "/reports-download"
DOWNLOAD_SECONDS = 300.0
"""Real seconds a download URL is valid ("a few minutes")."""

MAILBOX_COLUMNS = (
    "Report Refresh Date",
    "User Principal Name",
    "Display Name",
    "Is Deleted",
    "Deleted Date",
    "Created Date",
    "Last Activity Date",
    "Item Count",
    "Storage Used (Byte)",
    "Issue Warning Quota (Byte)",
    "Prohibit Send Quota (Byte)",
    "Prohibit Send/Receive Quota (Byte)",
    "Deleted Item Count",
    "Deleted Item Size (Byte)",
    "Deleted Item Quota (Byte)",
    "Has Archive",
    "Report Period",
)
ONEDRIVE_COLUMNS = (
    "Report Refresh Date",
    "Site URL",
    "Owner Display Name",
    "Is Deleted",
    "Last Activity Date",
    "File Count",
    "Active File Count",
    "Storage Used (Byte)",
    "Storage Allocated (Byte)",
    "Owner Principal Name",
    "Report Period",
)


def report(sb: Sandbox, req: Request) -> Response:
    """``GET /reports/{function}``: the two detail reports closeout reads."""
    name, _, arg = req.params["function"].partition("(")
    period = arg.removesuffix(")").removeprefix("period=").strip("'")
    builders = {"getmailboxusagedetail": _mailbox, "getonedriveusageaccountdetail": _onedrive}
    build = builders.get(name.lower())
    if build is None:
        raise GraphHttpError(400, "BadRequest", f"Resource not found for the segment '{name}'.")
    need(req, sb.tenant, delegated=("Reports.Read.All",), application=("Reports.Read.All",))
    if period not in PERIODS:
        raise GraphHttpError(400, "BadRequest", f"Invalid period '{period}'.")
    key = secrets.token_urlsafe(24)
    with sb.lock:
        sb.report_downloads[key] = (build(sb, period), time.monotonic() + DOWNLOAD_SECONDS)
    return Response(
        status=302,
        headers={"Location": f"{sb.base_url}{DOWNLOAD_PATH}/{key}"},
        body="",
        content_type="text/plain",
    )


def download(sb: Sandbox, req: Request) -> Response:
    """The preauthenticated download URL: the CSV, no token needed. A token sent here anyway
    is recorded: a client must not hand its bearer token to the download host."""
    if req.header("Authorization"):
        sb.recorder.event(sb.clock.now(), "report-download-with-token")
    with sb.lock:
        found = sb.report_downloads.get(req.params["key"])
    if found is None or found[1] < time.monotonic():
        raise GraphHttpError(404, "NotFound", "The download link has expired.")
    return Response(body=found[0], content_type="application/octet-stream")


def _name(sb: Sandbox, text: str) -> str:
    if sb.config.report_names == "shown":
        return text
    # surrogatepass: a name Graph's JSON may carry (a lone surrogate) still has a hash.
    return (
        hashlib.md5(text.encode("utf-8", "surrogatepass"), usedforsecurity=False)
        .hexdigest()
        .upper()
    )


def _has_plan(sb: Sandbox, user: User, prefix: tuple[str, ...]) -> bool:
    skus = sb.tenant.skus
    return any(
        name.startswith(prefix)
        for sku_id in user.assigned_licenses
        if sku_id in skus
        for _id, name in skus[sku_id].service_plans
    )


def _size(user: User, salt: str, low: int, high: int) -> int:
    digest = hashlib.sha256(f"{salt}:{user.id}".encode()).digest()
    return low + int.from_bytes(digest[:4]) % (high - low)


def _leftover_mailbox(sb: Sandbox) -> str | None:
    """The unlicensed member whose removed licence left its mailbox behind."""
    bare = sorted(
        u.user_principal_name
        for u in sb.tenant.users.values()
        if u.user_type == "Member" and not u.assigned_licenses and u.id != sb.admin_id
    )
    return bare[0] if bare else None


def _csv(columns: tuple[str, ...], rows: list[dict[str, object]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, columns, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    # Graph's report CSVs start with a byte order mark. A file is UTF-8 bytes: what a name
    # holds that UTF-8 cannot (a lone surrogate) becomes "?", as a server writing UTF-8 does.
    return ("\ufeff" + buf.getvalue()).encode("utf-8", "replace")


def _mailbox(sb: Sandbox, period: str) -> bytes:
    today = sb.clock.now_dt().date().isoformat()
    leftover = _leftover_mailbox(sb)
    rows: list[dict[str, object]] = []
    for u in sorted(sb.tenant.users.values(), key=lambda u: u.user_principal_name):
        if not (_has_plan(sb, u, ("EXCHANGE_S_",)) or u.user_principal_name == leftover):
            continue
        rows.append(
            {
                "Report Refresh Date": today,
                "User Principal Name": _name(sb, u.user_principal_name),
                "Display Name": _name(sb, u.display_name),
                "Is Deleted": "False",
                "Created Date": u.created[:10],
                "Item Count": _size(u, "items", 10, 40_000),
                "Storage Used (Byte)": _size(u, "mailbox", 50_000, 40_000_000_000),
                "Issue Warning Quota (Byte)": 105_226_698_752,
                "Prohibit Send Quota (Byte)": 106_300_440_576,
                "Prohibit Send/Receive Quota (Byte)": 107_374_182_400,
                "Deleted Item Count": 0,
                "Deleted Item Size (Byte)": 0,
                "Deleted Item Quota (Byte)": 32_212_254_720,
                "Has Archive": "False",
                "Report Period": period.removeprefix("D"),
            }
        )
    return _csv(MAILBOX_COLUMNS, rows)


def _onedrive(sb: Sandbox, period: str) -> bytes:
    today = sb.clock.now_dt().date().isoformat()
    tenant = sb.initial_domain.split(".")[0]
    rows: list[dict[str, object]] = []
    for u in sorted(sb.tenant.users.values(), key=lambda u: u.user_principal_name):
        if not _has_plan(sb, u, ("SHAREPOINT", "ONEDRIVE")):
            continue
        site = u.user_principal_name.replace("@", "_").replace(".", "_")
        rows.append(
            {
                "Report Refresh Date": today,
                "Site URL": _name(sb, f"https://{tenant}-my.sharepoint.com/personal/{site}"),
                "Owner Display Name": _name(sb, u.display_name),
                "Is Deleted": "False",
                "File Count": _size(u, "files", 0, 20_000),
                "Active File Count": 0,
                "Storage Used (Byte)": _size(u, "onedrive", 0, 900_000_000_000),
                "Storage Allocated (Byte)": 1_099_511_627_776,
                "Owner Principal Name": _name(sb, u.user_principal_name),
                "Report Period": period.removeprefix("D"),
            }
        )
    return _csv(ONEDRIVE_COLUMNS, rows)
