"""Rebuilds services/data/products.tsv from Microsoft's licensing CSV.

    python -m scripts.refresh_products "Product names and service plan identifiers for licensing.csv"
    python -m scripts.refresh_products https://download.microsoft.com/.../licensing.csv

Microsoft publishes the table behind "Product names and service plan identifiers for
licensing" (learn.microsoft.com/entra/identity/users/licensing-service-plan-reference) as a
CSV with one row per SKU and service plan (columns Product_Display_Name, String_Id, GUID,
Service_Plan_Name, …). This keeps one row per SKU: GUID (Graph's skuId), String_Id (Graph's
skuPartNumber) and the product name. The CSV may be given as a file (downloaded on a machine
with a browser) or as a URL. Where the CSV lists one GUID under two names (a renamed product),
the first row wins, as it does in Microsoft's table.

Exit codes: 0 written, 1 the CSV holds no usable row (nothing written), 2 the CSV cannot be read
(missing file, download failed, not the licensing CSV).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.products import dump_table, parse_table

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "services" / "data" / "products.tsv"
OFFICIAL_CSV_URL = (
    "https://download.microsoft.com/download/e/3/e/e3e9faf2-f28b-490a-9ada-c6089a1fc5b0/"
    "Product%20names%20and%20service%20plan%20identifiers%20for%20licensing.csv"
)
COLUMNS = ("Product_Display_Name", "String_Id", "GUID")
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SourceError(Exception):
    """The CSV cannot be read (one line for the admin)."""


@dataclass
class Parsed:
    rows: list[tuple[str, str, str]] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    """GUIDs the CSV lists under more than one name (the first was kept)."""
    skipped: int = 0
    """Rows without a valid GUID, code or name."""


def read_source(source: str) -> bytes:
    if source.startswith(("http://", "https://")):
        import requests

        try:
            response = requests.get(source, timeout=60)
            response.raise_for_status()
        except requests.RequestException as exc:
            raise SourceError(f"could not download {source}: {exc}") from None
        return response.content
    try:
        return Path(source).read_bytes()
    except OSError as exc:
        raise SourceError(f"could not read {source}: {exc.strerror or exc}") from None


def decode(data: bytes) -> str:
    # Microsoft ships UTF-8 with a BOM; a copy re-saved by Excel is often Windows-1252.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _clean(value: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", value or "").split())


def parse_csv(text: str) -> Parsed:
    reader = csv.DictReader(io.StringIO(text))
    names = {(n or "").strip().lstrip("\ufeff").casefold(): n for n in reader.fieldnames or []}
    missing = [c for c in COLUMNS if c.casefold() not in names]
    if missing:
        raise SourceError("not Microsoft's licensing CSV: no column " + ", ".join(missing))
    name_col, code_col, guid_col = (names[c.casefold()] for c in COLUMNS)
    parsed = Parsed()
    seen: dict[str, tuple[str, str]] = {}
    for row in reader:
        guid = _clean(row.get(guid_col)).lower()
        code = _clean(row.get(code_col))
        name = _clean(row.get(name_col))
        if not (_GUID.match(guid) and code and name):
            parsed.skipped += 1
            continue
        if guid in seen:
            if seen[guid] != (code, name) and guid not in parsed.renamed:
                parsed.renamed.append(guid)
            continue
        seen[guid] = (code, name)
        parsed.rows.append((guid, code, name))
    return parsed


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def changes(old_text: str | None, rows: list[tuple[str, str, str]]) -> str:
    if old_text is None:
        return "new table"
    try:
        old = parse_table(old_text).by_id
    except ValueError:
        return "the previous table was unreadable"
    new = {guid: (code, name) for guid, code, name in rows}
    added = len(new.keys() - old.keys())
    removed = len(old.keys() - new.keys())
    changed = sum(1 for guid in new.keys() & old.keys() if new[guid] != old[guid])
    return f"{added} added, {removed} removed, {changed} renamed"


def refresh(source: str, out: Path, notes: list[str] | None = None) -> tuple[Parsed, str]:
    parsed = parse_csv(decode(read_source(source)))
    if not parsed.rows:
        return parsed, ""
    comments = [
        "Product names and service plan identifiers for licensing (Microsoft): one row per SKU.",
        "skuId = GUID, skuPartNumber = String_Id, productName = Product_Display_Name.",
        *(notes or [f"Source: {source}"]),
        f"Rebuilt {datetime.now(UTC):%Y-%m-%d} by scripts/refresh_products.py: "
        f"{len(parsed.rows)} products.",
    ]
    old_text = out.read_text(encoding="utf-8") if out.exists() else None
    summary = changes(old_text, parsed.rows)
    write_atomically(out, dump_table(parsed.rows, comments))
    return parsed, summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.refresh_products",
        description="Rebuild closeout's product-name table from Microsoft's licensing CSV.",
        epilog=f"Microsoft's CSV: {OFFICIAL_CSV_URL}",
    )
    parser.add_argument("source", help="the CSV: a file path or an http(s) URL")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"table to write (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--note",
        action="append",
        help="a provenance line for the table's header, repeatable (default: Source: SOURCE)",
    )
    args = parser.parse_args(argv)
    try:
        parsed, summary = refresh(args.source, args.out, args.note)
    except SourceError as exc:
        print(f"refresh_products: {exc}", file=sys.stderr)
        return 2
    if not parsed.rows:
        print(
            f"refresh_products: no product rows in {args.source}; {args.out} left as it was",
            file=sys.stderr,
        )
        return 1
    print(f"{args.out}: {len(parsed.rows)} products ({summary}).")
    if parsed.renamed:
        print(f"  {len(parsed.renamed)} SKUs are listed under two names; the first was kept.")
    if parsed.skipped:
        print(f"  {parsed.skipped} rows without a GUID, code or name were skipped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
