"""The evidence pack's layout: its files (in the order ``SHA256SUMS`` lists them), the
columns of its outcome rows, and the folder a run's pack goes to by default.
"""

from __future__ import annotations

from pathlib import Path

from services.errors import CloseoutError
from services.journal.records import validate_run_id
from services.paths import (
    ensure_private_dir,
    tenant_dir,
)

COLUMNS = (
    "time",
    "step",
    "action",
    "object_id",
    "label",
    "result",
    "attempts",
    "http_status",
    "code",
    "message",
    "request_id",
)
INVENTORY_FILE = "inventory-before.json"
DATA_OWNERS_FILE = "data-owners-before.csv"
"""Who held mailbox or OneDrive data before step 1 (by licence): written beside the inventory's
backup when the first plan is made, copied into every pack."""
CSV_FILE = "outcomes.csv"
OUTCOMES_JSON_FILE = "outcomes.json"
SUMMARY_JSON_FILE = "summary.json"
SUMMARY_MD_FILE = "summary.md"
CHECKSUM_FILE = "SHA256SUMS"
PACK_FILES = (
    INVENTORY_FILE,
    DATA_OWNERS_FILE,
    CSV_FILE,
    OUTCOMES_JSON_FILE,
    SUMMARY_JSON_FILE,
    SUMMARY_MD_FILE,
    CHECKSUM_FILE,
)


class PackExists(CloseoutError):
    """The target folder already exists and was not to be replaced (or is not a pack)."""


def default_pack_dir(tenant_id: str, run_id: str, *, root: Path | None = None) -> Path:
    """``<state>/tenants/<tenant>/evidence/<run id>`` (the parent is created 0700)."""
    validate_run_id(run_id)
    return ensure_private_dir(tenant_dir(tenant_id, root=root) / "evidence") / run_id
