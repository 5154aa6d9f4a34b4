"""Writing an evidence pack: each file in pieces, checked for tokens and hashed as it is
written, in a hidden folder beside the target that is then renamed into place, so that a
killed export never leaves half a pack under the final name.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services import json_text
from services.i18n import _
from services.journal.records import contains_token, format_time
from services.models import TenantInfo
from services.paths import (
    DIR_MODE,
    ensure_private_dir,
    fsync_dir,
    private_file_writer,
    refuse_symlink,
)
from services.textsafe import json_loads, looks_unsafe

from .layout import (
    CHECKSUM_FILE,
    COLUMNS,
    CSV_FILE,
    DATA_OWNERS_FILE,
    INVENTORY_FILE,
    OUTCOMES_JSON_FILE,
    PACK_FILES,
    SUMMARY_JSON_FILE,
    SUMMARY_MD_FILE,
    PackExists,
)
from .rows import Tally, csv_cell, evidence_row
from .summary import summary_doc, summary_md


def write_pack(
    out_dir: Path,
    *,
    tenant: TenantInfo,
    inventory: Mapping[str, Any] | Path | Iterable[str],
    outcomes: Iterable[Mapping[str, Any]],
    summary: Mapping[str, Any],
    run_id: str,
    replace: bool = False,
    warnings: Iterable[str] = (),
    data_owners: Path | str | None = None,
) -> Path:
    """Write the evidence pack of ``run_id`` to ``out_dir`` atomically; returns ``out_dir``.

    ``inventory`` is the backup before any change: a mapping, the path of a JSON file to copy
    (``inventory-before.json``), or JSON text in pieces (:meth:`Inventory.json_chunks`).
    ``outcomes`` are rows with the keys of :data:`COLUMNS`, one per object and action (journal
    outcome records are accepted too: see :func:`outcomes_from_journal`), consumed once: a
    generator (:meth:`LatestOutcomes.rows`) keeps a 100,000-row pack out of memory, since every
    file is written a row (or a line) at a time. ``warnings`` (e.g. damaged journal lines) head
    the Markdown summary and are listed in ``summary.json``. ``data_owners`` is who held mailbox
    or OneDrive data before step 1, as CSV text or its file (``data-owners-before.csv``); the
    pack always has the file, its header alone when that is unknown. ``summary`` is kept as
    given in ``summary.json``; the Markdown summary uses its ``started``, ``ended``,
    ``exit_code`` and ``kept`` (or ``keep``: UPNs, or mappings with
    ``upn``/``display_name``/``id``/``reason``) when present; start and end default to the
    first and last outcome times. Refuses an
    existing ``out_dir`` unless ``replace`` is set, and even then only if it holds nothing but
    pack files. Raises ValueError, writing nothing, if any content looks like an access token,
    and :class:`~services.paths.SymlinkRefused` if ``out_dir`` is a symbolic link.
    """
    out_dir = refuse_symlink(Path(out_dir))
    if out_dir.exists():
        _check_replaceable(out_dir, replace)
    parent = out_dir.parent
    if not parent.exists():
        ensure_private_dir(parent)
    tmp = parent / f".{out_dir.name}.tmp-{secrets.token_hex(4)}"
    tmp.mkdir(mode=DIR_MODE)
    try:
        tmp.chmod(DIR_MODE)  # mkdir's mode is filtered by the umask
        sums: dict[str, str] = {}
        with _PackFile(tmp, INVENTORY_FILE, sums) as fh:
            _write_inventory(fh, inventory)
        with _PackFile(tmp, DATA_OWNERS_FILE, sums) as fh:
            fh.write(_data_owners_text(data_owners))
        with (
            _PackFile(tmp, CSV_FILE, sums) as csv_file,
            _PackFile(tmp, OUTCOMES_JSON_FILE, sums) as json_file,
        ):
            tally = _write_outcomes(csv_file, json_file, outcomes)
        generated = format_time(datetime.now(UTC))
        summary = dict(summary)
        warnings = list(warnings)
        with _PackFile(tmp, SUMMARY_JSON_FILE, sums) as fh:
            fh.write(_json(summary_doc(tenant, tally, summary, run_id, generated, warnings)))
        with _PackFile(tmp, SUMMARY_MD_FILE, sums) as fh:
            fh.write(summary_md(tenant, tally, summary, run_id, generated, warnings))
        with _PackFile(tmp, CHECKSUM_FILE, {}) as fh:
            fh.write("".join(f"{sums[name]}  {name}\n" for name in PACK_FILES if name in sums))
        fsync_dir(tmp)
        _move_into_place(tmp, out_dir, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    return out_dir


def _data_owners_text(data_owners: Path | str | None) -> str:
    """The data owners' CSV: given, read from its file, or (unknown) its header alone."""
    if isinstance(data_owners, Path):
        return refuse_symlink(data_owners).read_text(encoding="utf-8")
    if data_owners is None:
        from services.data_owners import DataOwners, csv_text

        return csv_text(DataOwners((), "unavailable", ""))
    return data_owners


class _PackFile:
    """One file of the pack, written in pieces: each piece is checked for tokens (a token is
    never split between pieces: they are whole lines, rows or documents) and hashed."""

    def __init__(self, folder: Path, name: str, sums: dict[str, str], *, bom: bool = False):
        self.name = name
        self._sums = sums
        self._hash = hashlib.sha256()
        self._writer = private_file_writer(folder / name, sync_dir=False)
        self._fh: Any = None
        self._bom = bom

    def __enter__(self) -> _PackFile:
        self._fh = self._writer.__enter__()
        return self

    def write(self, text: str, *, checked: bool = False) -> None:
        if not checked and contains_token(text):
            raise ValueError(f"refusing to write the evidence pack: {self.name} contains a token")
        data = text.encode("utf-8")
        self._hash.update(data)
        self._fh.write(data)

    def write_raw(self, data: bytes) -> None:
        self._hash.update(data)
        self._fh.write(data)

    def __exit__(self, *exc: Any) -> None:
        self._writer.__exit__(*exc)
        if exc[0] is None:
            self._sums[self.name] = self._hash.hexdigest()


def _write_inventory(fh: _PackFile, inventory: Mapping[str, Any] | Path | Iterable[str]) -> None:
    if isinstance(inventory, Mapping):
        pieces: Iterable[str] = json_text.chunks(inventory.items())
    elif isinstance(inventory, Path):
        pieces = _inert_lines(inventory)
    else:
        pieces = inventory
    buffered: list[str] = []
    size = 0
    for piece in pieces:
        if contains_token(piece):
            fh.write(piece)  # raises, naming the file
        buffered.append(piece)
        size += len(piece)
        if size >= 1 << 16:
            fh.write("".join(buffered), checked=True)
            buffered, size = [], 0
    fh.write("".join(buffered), checked=True)


def _inert_lines(path: Path) -> Iterator[str]:
    """The lines of the JSON file ``path`` as they are when nothing in it needs neutralising
    (what closeout writes); otherwise (a file an older closeout wrote raw, or one edited by
    hand) the document decoded with every string neutralised, and written again."""
    with path.open("rb") as fh:
        clean = not any(looks_unsafe(line.decode("utf-8-sig", "replace")) for line in fh)
    if not clean:
        data = json_loads(path.read_bytes())
        members = data.items() if isinstance(data, dict) else [("inventory", data)]
        yield from json_text.chunks(members)
        return
    with path.open("rb") as fh:
        for line in fh:
            yield line.decode("utf-8-sig")


def _write_outcomes(
    csv_file: _PackFile, json_file: _PackFile, outcomes: Iterable[Mapping[str, Any]]
) -> Tally:
    tally = Tally()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    # With a BOM, Excel reads UTF-8 (Swedish names) correctly instead of as ANSI.
    csv_file.write_raw(codecs.BOM_UTF8)
    writer.writerow(COLUMNS)
    csv_file.write(buf.getvalue())
    json_file.write("[")
    for item in outcomes:
        row = evidence_row(item)
        buf.seek(0)
        buf.truncate()
        writer.writerow([csv_cell(row[col]) for col in COLUMNS])
        csv_file.write(buf.getvalue())
        json_file.write(
            ("\n  " if not tally.objects else ",\n  ")
            + json.dumps(row, ensure_ascii=False, default=_json_default)
        )
        tally.add(row)
    json_file.write("\n]\n" if tally.objects else "]\n")
    return tally


def _check_replaceable(out_dir: Path, replace: bool) -> None:
    if not replace:
        raise PackExists(
            _("An evidence pack already exists at {path}").format(path=out_dir),
            hint=_("choose another folder, or replace the existing pack explicitly"),
        )
    # Replacing must never delete anything but an earlier pack: a mistyped --out pointing at
    # a home directory would otherwise be wiped.
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise PackExists(
            _("{path} exists and is not an evidence pack folder").format(path=out_dir),
            hint=_("choose another folder"),
        )
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in PACK_FILES)
    if foreign:
        raise PackExists(
            _("{path} holds files that are not part of an evidence pack; not replacing it").format(
                path=out_dir
            ),
            hint=_("choose another folder"),
        )


def _move_into_place(tmp: Path, out_dir: Path, replace: bool) -> None:
    if out_dir.exists() or out_dir.is_symlink():
        _check_replaceable(out_dir, replace)
        old = out_dir.parent / f".{out_dir.name}.old-{secrets.token_hex(4)}"
        out_dir.rename(old)
        try:
            tmp.rename(out_dir)
        except BaseException:
            old.rename(out_dir)  # put the previous pack back
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    try:
        tmp.rename(out_dir)
    except OSError as exc:
        # Someone created a non-empty folder under that name since we checked.
        if out_dir.exists():
            raise PackExists(
                _("An evidence pack already exists at {path}").format(path=out_dir),
                hint=_("choose another folder, or replace the existing pack explicitly"),
            ) from exc
        raise


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=_json_default) + "\n"
