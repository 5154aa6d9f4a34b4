"""Product names for subscriptions and licences: "Microsoft 365 E3", not "SPE_E3".

Owns the table shipped as ``services/data/products.tsv`` (one row per SKU: skuId,
skuPartNumber, the product name the admin center shows), built from Microsoft's "Product names
and service plan identifiers for licensing" CSV by ``scripts/refresh_products.py``, and the
lookups over it. The skuId is preferred (Graph's stable GUID); the skuPartNumber is the
fallback, and a SKU the table does not know is shown by its code. The file is read once, on
the first lookup: importing this module costs nothing at startup.

The names come from Microsoft's table, not from the tenant, so they are trusted text; the
fallback code is whatever Graph returned.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = [
    "Product",
    "ProductTable",
    "dump_table",
    "parse_table",
    "product",
    "table",
]

# Beside this module (package data); not importlib.resources, whose import alone costs ~35 ms.
DATA_FILE = Path(__file__).with_name("data") / "products.tsv"
HEADER = ("skuId", "skuPartNumber", "productName")


@dataclass(frozen=True)
class Product:
    """A SKU as closeout shows it: Graph's identifiers and the table's name, if it has one."""

    sku_id: str
    sku_part_number: str
    name: str | None
    """The admin center's product name; None when the table does not know the SKU."""

    @property
    def display_name(self) -> str:
        """The product name, or the SKU code when the name is unknown."""
        return self.name or self.sku_part_number or self.sku_id

    @property
    def label(self) -> str:
        """``Microsoft 365 E3 (SPE_E3)``; just the code when the name is unknown."""
        code = self.sku_part_number or self.sku_id
        if self.name and code and self.name != code:
            return f"{self.name} ({code})"
        return self.display_name

    def to_json(self) -> dict[str, str]:
        return {
            "skuId": self.sku_id,
            "skuPartNumber": self.sku_part_number,
            "productName": self.display_name,
        }


@dataclass(frozen=True)
class ProductTable:
    by_id: dict[str, tuple[str, str]]
    """skuId (lower case) → (skuPartNumber, product name)."""
    by_code: dict[str, str | None]
    """skuPartNumber (case-folded) → product name; None where the table gives one code
    several different names (then the code alone is shown, never a guess)."""

    def __len__(self) -> int:
        return len(self.by_id)

    def name(self, sku_id: str | None = None, sku_part_number: str | None = None) -> str | None:
        if sku_id:
            hit = self.by_id.get(sku_id.strip().lower())
            if hit is not None:
                return hit[1]
        if sku_part_number:
            return self.by_code.get(sku_part_number.strip().casefold())
        return None


def parse_table(text: str) -> ProductTable:
    """Read the TSV :func:`dump_table` writes (``#`` lines are comments, then a header)."""
    by_id: dict[str, tuple[str, str]] = {}
    by_code: dict[str, str | None] = {}
    header_seen = False
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if not header_seen:
            header_seen = True
            if tuple(fields) == HEADER:
                continue
        if len(fields) != len(HEADER):
            raise ValueError(f"products table: expected {len(HEADER)} columns in {line!r}")
        sku_id, code, name = fields
        by_id.setdefault(sku_id.lower(), (code, name))
        key = code.casefold()
        if key in by_code and by_code[key] != name:
            by_code[key] = None
        else:
            by_code.setdefault(key, name)
    return ProductTable(by_id, by_code)


def dump_table(rows: Iterable[tuple[str, str, str]], comments: Iterable[str] = ()) -> str:
    """The TSV for ``rows`` of (skuId, skuPartNumber, name), sorted by name, then code."""
    out = [f"# {c}" for c in comments]
    out.append("\t".join(HEADER))
    for sku_id, code, name in sorted(rows, key=lambda r: (r[2].casefold(), r[1], r[0])):
        for value in (sku_id, code, name):
            if "\t" in value or "\n" in value or "\r" in value:
                raise ValueError(f"products table: a tab or newline in {value!r}")
        out.append(f"{sku_id}\t{code}\t{name}")
    return "\n".join(out) + "\n"


@cache
def table() -> ProductTable:
    """The shipped table, read on first use and kept."""
    return parse_table(DATA_FILE.read_text(encoding="utf-8"))


def product(sku_id: str | None = None, sku_part_number: str | None = None) -> Product:
    """The product for a SKU, by skuId (preferred) or skuPartNumber."""
    return Product(
        sku_id=sku_id or "",
        sku_part_number=sku_part_number or "",
        name=table().name(sku_id, sku_part_number),
    )
