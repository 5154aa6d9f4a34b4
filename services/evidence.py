"""The evidence pack: one folder per run that proves what was deleted, when and by whom.

Owns the pack's layout and formats: ``inventory-before.json`` (the backup taken before any
change), ``outcomes.csv`` / ``outcomes.json`` (one row per object and action: its latest result,
time, how many times it was sent, HTTP status, Graph code and request id; every attempt stays in
the journal), ``summary.json`` / ``summary.md`` (tenant, signed-in user, tool version, counts,
failures, outcomes still unknown, subscriptions by product name, kept accounts, warnings such as
damaged journal lines) and
``SHA256SUMS`` (so later changes to the files can be detected with ``sha256sum -c``).

A pack is built in a hidden temporary folder beside the target and renamed into place, so a
killed export never leaves half a pack under the final name. UPNs and display names are
attacker-controllable, so CSV cells are escaped against formula injection and Markdown text
against link and markup injection.
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
import sys
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import __version__, json_text
from .errors import CloseoutError
from .i18n import _
from .journal.records import contains_token, format_time, validate_run_id
from .journal.writer import Journal
from .models import TenantInfo
from .paths import (
    DIR_MODE,
    ensure_private_dir,
    fsync_dir,
    private_file_writer,
    refuse_symlink,
    tenant_dir,
)
from .textsafe import json_loads, looks_unsafe

__all__ = [
    "COLUMNS",
    "PACK_FILES",
    "LatestOutcomes",
    "PackExists",
    "default_pack_dir",
    "outcomes_from_journal",
    "write_pack",
]

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
CSV_FILE = "outcomes.csv"
OUTCOMES_JSON_FILE = "outcomes.json"
SUMMARY_JSON_FILE = "summary.json"
SUMMARY_MD_FILE = "summary.md"
CHECKSUM_FILE = "SHA256SUMS"
PACK_FILES = (
    INVENTORY_FILE,
    CSV_FILE,
    OUTCOMES_JSON_FILE,
    SUMMARY_JSON_FILE,
    SUMMARY_MD_FILE,
    CHECKSUM_FILE,
)

# Spreadsheet apps evaluate cells starting with these as formulas (OWASP "CSV injection"),
# including the full-width forms some of them normalise.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})
# Beyond this the Markdown summary points to the CSV instead of listing every failure.
_MAX_LISTED_FAILURES = 200


class PackExists(CloseoutError):
    """The target folder already exists and was not to be replaced (or is not a pack)."""


def default_pack_dir(tenant_id: str, run_id: str, *, root: Path | None = None) -> Path:
    """``<state>/tenants/<tenant>/evidence/<run id>`` (the parent is created 0700)."""
    validate_run_id(run_id)
    return ensure_private_dir(tenant_dir(tenant_id, root=root) / "evidence") / run_id


def outcomes_from_journal(
    records: Iterable[Mapping[str, Any]], *, run_id: str | None = None
) -> list[dict[str, Any]]:
    """The latest outcome of each (action, object) as an evidence row (:data:`COLUMNS`).

    Only records of ``run_id`` count, if given. A user that failed in one run and was deleted
    in the next is one row, deleted; ``attempts`` says how many times its request was sent
    (intent lines). ``records`` is consumed once, in file order (a stream is fine): memory
    grows with the objects, not with the journal's history.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    sent: Counter[tuple[str, str]] = Counter()
    for rec in records:
        kind = rec.get("kind")
        if kind not in ("intent", "outcome") or (run_id is not None and rec.get("run") != run_id):
            continue
        key = (str(rec.get("action")), str(rec.get("object")))
        if kind == "intent":
            sent[key] += 1
        else:
            latest.pop(key, None)  # keep the order of the latest outcomes
            latest[key] = _row(rec)
    for key, row in latest.items():
        row["attempts"] = sent[key]
    return list(latest.values())


class LatestOutcomes:
    """The latest outcome of each (action, object) in a journal, remembered by where its line
    is, not by its contents: a 100,000-object run is 100,000 offsets and counts in memory,
    and :meth:`rows` reads the lines again as the pack is written (what
    :func:`outcomes_from_journal` returns, a row at a time).
    """

    def __init__(
        self,
        journal: Journal,
        records: Iterable[tuple[int, Mapping[str, Any]]] | None = None,
        *,
        run_id: str | None = None,
    ) -> None:
        """``records``: ``journal.iter_positioned()`` (the default), or a stream of it a caller
        watches on the way."""
        self._journal = journal
        self._latest: dict[str, tuple[int, str]] = {}
        self._sent: Counter[str] = Counter()
        for offset, rec in records if records is not None else journal.iter_positioned():
            kind = rec.get("kind")
            if kind not in ("intent", "outcome") or (
                run_id is not None and rec.get("run") != run_id
            ):
                continue
            key = f"{rec.get('action')}\x00{rec.get('object')}"
            if kind == "intent":
                self._sent[key] += 1
            else:
                self._latest.pop(key, None)  # keep the order of the latest outcomes
                self._latest[key] = (offset, sys.intern(str(rec.get("result"))))

    def __len__(self) -> int:
        return len(self._latest)

    def counts(self) -> dict[str, int]:
        """How many objects ended with each result."""
        return dict(Counter(result for _offset, result in self._latest.values()))

    def rows(self) -> Iterator[dict[str, Any]]:
        """One evidence row (:data:`COLUMNS`) per object and action, in the order of their
        latest outcomes. Raises ValueError if the journal file was replaced meanwhile."""
        offsets = sorted(offset for offset, _result in self._latest.values())
        for rec in self._journal.records_at(offsets):
            if rec.get("kind") != "outcome":
                raise ValueError(f"{self._journal.path} changed while it was read")
            key = f"{rec.get('action')}\x00{rec.get('object')}"
            row = _row(rec)
            row["attempts"] = self._sent[key]
            yield row


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
) -> Path:
    """Write the evidence pack of ``run_id`` to ``out_dir`` atomically; returns ``out_dir``.

    ``inventory`` is the backup before any change: a mapping, the path of a JSON file to copy
    (``inventory-before.json``), or JSON text in pieces (:meth:`Inventory.json_chunks`).
    ``outcomes`` are rows with the keys of :data:`COLUMNS`, one per object and action (journal
    outcome records are accepted too: see :func:`outcomes_from_journal`), consumed once: a
    generator (:meth:`LatestOutcomes.rows`) keeps a 100,000-row pack out of memory, since every
    file is written a row (or a line) at a time. ``warnings`` (e.g. damaged journal lines) head
    the Markdown summary and are listed in ``summary.json``. ``summary`` is kept as given in
    ``summary.json``; the Markdown summary uses its ``started``, ``ended``, ``exit_code`` and
    ``kept`` (or ``keep``: UPNs, or mappings with ``upn``/``display_name``/``id``/``reason``)
    when present; start and end default to the first and last outcome times. Refuses an
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
        with (
            _PackFile(tmp, CSV_FILE, sums) as csv_file,
            _PackFile(tmp, OUTCOMES_JSON_FILE, sums) as json_file,
        ):
            tally = _write_outcomes(csv_file, json_file, outcomes)
        generated = format_time(datetime.now(UTC))
        summary = dict(summary)
        warnings = list(warnings)
        with _PackFile(tmp, SUMMARY_JSON_FILE, sums) as fh:
            fh.write(_json(_summary_doc(tenant, tally, summary, run_id, generated, warnings)))
        with _PackFile(tmp, SUMMARY_MD_FILE, sums) as fh:
            fh.write(_summary_md(tenant, tally, summary, run_id, generated, warnings))
        with _PackFile(tmp, CHECKSUM_FILE, {}) as fh:
            fh.write("".join(f"{sums[name]}  {name}\n" for name in PACK_FILES if name in sums))
        fsync_dir(tmp)
        _move_into_place(tmp, out_dir, replace)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(parent)
    return out_dir


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


class _Tally:
    """What the summaries need from the rows, gathered as they stream past."""

    def __init__(self) -> None:
        self.objects = 0
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.failures: list[dict[str, Any]] = []
        self.unknown: list[dict[str, Any]] = []
        self.first: str | None = None
        self.last: str | None = None

    def add(self, row: dict[str, Any]) -> None:
        self.objects += 1
        step = str(row["step"] if row["step"] is not None else "")
        self.counts[(step, str(row["action"] or ""), str(row["result"]))] += 1
        if row["result"] == "failed":
            self.failures.append(row)
        elif row["result"] == "unknown":
            self.unknown.append(row)
        if row["time"]:
            time = str(row["time"])
            self.first = time if self.first is None else min(self.first, time)
            self.last = time if self.last is None else max(self.last, time)


def _write_outcomes(
    csv_file: _PackFile, json_file: _PackFile, outcomes: Iterable[Mapping[str, Any]]
) -> _Tally:
    tally = _Tally()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    # With a BOM, Excel reads UTF-8 (Swedish names) correctly instead of as ANSI.
    csv_file.write_raw(codecs.BOM_UTF8)
    writer.writerow(COLUMNS)
    csv_file.write(buf.getvalue())
    json_file.write("[")
    for item in outcomes:
        row = _row(item)
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


# -- rows --------------------------------------------------------------------------------------


def _first(src: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        value = src.get(key)
        if value is not None:
            return value
    return None


def _row(src: Mapping[str, Any]) -> dict[str, Any]:
    """One evidence row from a row dict or a journal outcome record."""
    time = _first(src, "time", "at", "t")
    if isinstance(time, datetime):
        time = format_time(time if time.tzinfo else time.replace(tzinfo=UTC))
    return {
        "time": time,
        "step": _first(src, "step"),
        "action": _first(src, "action"),
        "object_id": _first(src, "object_id", "object"),
        "label": _first(src, "label"),
        "result": _first(src, "result", "outcome"),
        "attempts": _first(src, "attempts"),
        "http_status": _first(src, "http_status", "status"),
        "code": _first(src, "code"),
        "message": _first(src, "message"),
        "request_id": _first(src, "request_id"),
    }


def csv_cell(value: Any) -> str:
    """``value`` as a CSV cell no spreadsheet runs as a formula."""
    if value is None:
        return ""
    text = str(value)
    # Leading spaces do not stop every spreadsheet from evaluating what follows.
    if text.lstrip(" ").startswith(_FORMULA_START):
        return "'" + text
    return text


def _md(value: Any) -> str:
    """Untrusted text as inert Markdown on one line (no links, markup, table breaks)."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text.translate(_MD_SPECIAL) or "—"


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


# -- rendering ---------------------------------------------------------------------------------


def _summary_doc(
    tenant: TenantInfo,
    tally: _Tally,
    summary: dict[str, Any],
    run_id: str,
    generated: str,
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "tool": "closeout",
        "tool_version": __version__,
        "generated_at": generated,
        "tenant": dataclasses.asdict(tenant),
        "objects": tally.objects,
        "counts": [
            {"step": step, "action": action, "result": result, "count": n}
            for (step, action, result), n in sorted(tally.counts.items())
        ],
        "failures": tally.failures,
        "unknown": tally.unknown,
        "warnings": warnings,
        "summary": summary,
    }


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    return _md(value)


def _summary_md(
    tenant: TenantInfo,
    tally: _Tally,
    summary: dict[str, Any],
    run_id: str,
    generated: str,
    warnings: list[str],
) -> str:
    failures, unknown, counts = tally.failures, tally.unknown, tally.counts
    started = summary.get("started") or tally.first
    ended = summary.get("ended") or tally.last
    user = (
        _md(tenant.signed_in_upn)
        if tenant.signed_in_upn
        else _("app-only sign-in (no signed-in user)")
    )
    lines = [
        "# " + _("closeout evidence: {tenant}").format(tenant=_md(tenant.display_name)),
        "",
    ]
    if tenant.sandbox:
        lines += [_("**Sandbox tenant**: simulated, no real organization was changed."), ""]
    if warnings:
        lines += ["## " + _("Warnings"), ""]
        lines += [f"- {_md(text)}" for text in warnings]
        lines.append("")
    facts = [
        (_("Tenant"), _md(tenant.display_name)),
        (_("Tenant id"), _md(tenant.id)),
        (_("Initial domain"), _md(tenant.initial_domain)),
        (_("Cloud"), _md(tenant.cloud)),
        (_("Signed-in user"), user),
        (_("Run"), _md(run_id)),
        (_("Tool version"), _md(f"closeout {__version__}")),
        (_("Started"), _when(started)),
        (_("Ended"), _when(ended)),
    ]
    if summary.get("exit_code") is not None:
        facts.append((_("Exit code"), _md(summary["exit_code"])))
    if "tenantDeleted" in summary:
        facts.append((_("Tenant deleted"), _deleted_fact(summary)))
    facts.append((_("Pack written"), generated))
    lines += ["| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in facts]

    lines += ["", "## " + _("Results ({n} objects)").format(n=tally.objects), ""]
    not_sent = [
        (str(e.get("step")), str(e.get("action")), int(e.get("count") or 0))
        for e in summary.get("notSent") or ()
        if isinstance(e, dict)
    ]
    if counts or not_sent:
        lines += [
            f"| {_('Step')} | {_('Action')} | {_('Result')} | {_('Count')} |",
            "|---|---|---|---:|",
        ]
        lines += [
            f"| {_md(step)} | {_md(action)} | {_md(result)} | {n} |"
            for (step, action, result), n in sorted(counts.items())
        ]
        # Never sent, so no object's outcome: counted apart, as the journal counts them.
        lines += [
            f"| {_md(step)} | {_md(action)} | {_md(_('not sent'))} | {n} |"
            for step, action, n in not_sent
        ]
    else:
        lines.append(_("No changes were sent in this run."))

    lines += ["", "## " + _("Failures ({n})").format(n=len(failures)), ""]
    lines += _listed(failures, with_code=True) if failures else [_("None.")]
    if unknown:
        lines += ["", "## " + _("Outcome unknown ({n})").format(n=len(unknown)), ""]
        lines.append(
            _(
                "Sent, but no answer that could be trusted came back, and no fresh read could "
                "settle them yet; the next run reads them again."
            )
        )
        lines += ["", *_listed(unknown, with_code=False)]

    lines += _subscriptions_md(summary.get("subscriptions"))

    kept = summary.get("kept") or summary.get("keep") or []
    lines += ["", "## " + _("Kept accounts"), ""]
    if kept:
        lines += [f"- {_kept_line(item)}" for item in kept]
    else:
        lines.append(_("None recorded."))

    lines += [
        "",
        "## " + _("Files"),
        "",
        f"- {INVENTORY_FILE}: " + _("the inventory before any change"),
        f"- {CSV_FILE}, {OUTCOMES_JSON_FILE}: "
        + _(
            "the latest outcome per object and action, with how many times it was sent "
            "(the journal keeps every attempt)"
        ),
        f"- {SUMMARY_JSON_FILE}: " + _("this summary, machine-readable"),
        f"- {CHECKSUM_FILE}: " + _("checksums; verify with `sha256sum -c SHA256SUMS`"),
        "",
    ]
    return "\n".join(lines)


def _subscriptions_md(subs: Any) -> list[str]:
    """The subscriptions of the inventory before, by product name, with their SKU and status.

    ``subs`` is the summary's ``subscriptions``: mappings with ``productName``,
    ``skuPartNumber``, ``statusBefore`` and (not in an offline pack) ``statusNow``.
    """
    if not isinstance(subs, list):
        return []
    lines = ["", "## " + _("Subscriptions ({n})").format(n=len(subs)), ""]
    if not subs:
        return [*lines, _("None.")]
    rows = [s for s in subs if isinstance(s, Mapping)]
    now = any("statusNow" in s for s in rows)
    head = [_("Product"), _("SKU"), _("Status before")] + ([_("Status at export")] if now else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in rows:
        cells = [s.get("productName"), s.get("skuPartNumber"), s.get("statusBefore")]
        cells += [s.get("statusNow")] if now else []
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def _listed(rows: list[dict[str, Any]], *, with_code: bool) -> list[str]:
    """One Markdown line per row (at most :data:`_MAX_LISTED_FAILURES`), then how many more."""
    lines = []
    for row in rows[:_MAX_LISTED_FAILURES]:
        status = f"{row['http_status']} " if row["http_status"] is not None else ""
        code = f"{_md(status + str(row['code'] or ''))}: " if with_code else ""
        lines.append(
            f"- {_md(row['label'])} ({_md(row['object_id'])}), {_md(row['action'])}: "
            f"{code}{_md(row['message'])}"
        )
    if len(rows) > _MAX_LISTED_FAILURES:
        more = len(rows) - _MAX_LISTED_FAILURES
        lines.append("- " + _("… and {n} more (see {file})").format(n=more, file=CSV_FILE))
    return lines


def _deleted_fact(summary: Mapping[str, Any]) -> str:
    if not summary.get("tenantDeleted"):
        return _("no")
    found = summary.get("tenantDeletion")
    if isinstance(found, Mapping) and found.get("t"):
        how = (
            _("detected at sign-in")
            if found.get("detected") == "sign-in"
            else _("detected while closeout watched")
        )
        return _("yes: {how}, {time}").format(how=how, time=_md(found["t"]))
    return _("yes")


def _kept_line(item: Any) -> str:
    if not isinstance(item, Mapping):
        return _md(item)
    parts = [_md(item["display_name"])] if item.get("display_name") else []
    if item.get("upn"):
        parts.append(f"({_md(item['upn'])})" if parts else _md(item["upn"]))
    if not parts and item.get("id"):
        parts.append(_md(item["id"]))
    text = " ".join(parts) or "—"
    if item.get("reason"):
        text += f": {_md(item['reason'])}"
    return text
