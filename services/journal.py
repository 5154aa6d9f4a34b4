"""The per-tenant journal: an append-only JSONL record of every write closeout sends.

Owns ``<state>/tenants/<tenant>/journal.jsonl`` and its lock file. An ``intent`` line is on disk
(written and fsynced) before a batch is sent, an ``outcome`` line after each answer, so that a
killed process or a dropped SSH session can be resumed (:meth:`Journal.unfinished`) and the
organization can later prove what was deleted, when and by whom. The journal is a record, not
the truth: a resumed run reconciles with a fresh Graph read.

One closeout process per tenant: :meth:`Journal.open` takes the tenant's locks (see
:mod:`services.locks`: one beside the journal, one in the runtime directory that every
``--state-dir`` shares) and names the holder when they are taken. Reading needs no lock and
creates nothing, so ``closeout status`` works while a run is in progress; a journal made with
``read_only=True`` (a ``--read-only`` run) can never be opened for writing at all, so nothing a
read-only run does can end up in the record a later real run trusts.

Every line is one JSON object with at least ``t`` (UTC, ISO-8601 with ms), ``run`` and ``kind``.
Nothing that looks like an access token is ever written: such a record is refused whole.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import secrets
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path, PurePath
from types import TracebackType
from typing import Any

from . import __version__
from .errors import CloseoutError
from .i18n import _
from .locks import Holder, ProcessLock, os_user, runtime_lock_path
from .models import ItemFinished
from .paths import (
    fsync_dir,
    normalize_tenant_id,
    open_private_append,
    tenant_dir,
    tenant_path,
    write_all,
)
from .textsafe import json_loads

__all__ = [
    "JOURNAL_NAME",
    "KINDS",
    "LOCK_NAME",
    "RESULTS",
    "ForeignJournal",
    "Journal",
    "JournalHealth",
    "UnfinishedRun",
    "contains_token",
    "format_time",
    "new_run_id",
    "parse_time",
    "record_tenant_gone",
    "validate_run_id",
]

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "journal.lock"

KINDS = frozenset(
    {
        "run-start",
        "intent",
        "outcome",
        "step",
        "confirm",
        "tick",
        "note",
        "not-sent",
        "tenant-gone",
        "run-end",
    }
)
RESULTS = frozenset({"done", "gone", "failed", "skipped", "unknown"})
"""``unknown``: sent, but no answer that can be trusted came back; a fresh read settles it."""
SETTLED = RESULTS - {"unknown"}
# Line numbers of damaged lines kept for the warning; the count covers all of them.
MAX_LISTED_DAMAGED = 10
_RESERVED = frozenset({"t", "kind"})

# A JWT is three base64url segments and its header always starts with base64('{"') = "eyJ".
# The minimum lengths keep ordinary text such as "eyJ.x." from tripping the guard.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
# Opaque bearer credentials (not JWTs) pasted after the scheme name.
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{16,}")
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def contains_token(text: str) -> bool:
    """True if ``text`` contains something shaped like a JWT or a bearer credential."""
    return bool(_JWT.search(text) or _BEARER.search(text))


def format_time(moment: datetime) -> str:
    """``2025-03-01T10:15:02.123Z``: UTC, milliseconds, the form every journal line uses."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: journal times must be timezone-aware")
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(value: object) -> datetime | None:
    """The datetime of a journal ``t`` value, or None if it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def new_run_id(now: datetime | None = None) -> str:
    """A run id that sorts by start time and is safe as a directory name.

    ``20250301T101502.123Z-a1b2c3``: the random tail keeps two runs started in the same
    millisecond (on different hosts sharing a home directory) apart.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    stamp = moment.strftime("%Y%m%dT%H%M%S.") + f"{moment.microsecond // 1000:03d}Z"
    return f"{stamp}-{secrets.token_hex(3)}"


def validate_run_id(run_id: str) -> str:
    """``run_id`` if it is safe as a single path component, else ValueError."""
    if not isinstance(run_id, str) or not _RUN_ID.fullmatch(run_id):
        raise ValueError(f"invalid run id {ascii(run_id)[:80]}")
    return run_id


@dataclass(frozen=True)
class UnfinishedRun:
    """The latest run, when it has no ``run-end``: what a resume has to reconcile.

    ``pending`` holds the intents that have no outcome after them, from this run and from any
    earlier unfinished runs since the last run that ended (a run that ended cleanly has
    already reconciled everything before it). ``counts`` and ``steps`` cover the same runs.
    """

    run_id: str
    started_at: datetime | None
    command: str
    user: str | None
    options: dict[str, Any]
    pending: tuple[dict[str, Any], ...]
    counts: dict[str, int]
    """Outcome results (``done``, ``gone``, ``failed``, ``skipped``) and how many of each."""
    steps: dict[Any, dict[str, Any]]
    """Last ``step`` record per step id: ``{"status", "summary", "t"}``."""
    last_at: datetime | None
    """When the last line of these runs was written: about when the process stopped."""
    runs: tuple[str, ...] = field(default=())
    """The run ids covered, oldest first (the last one is ``run_id``)."""


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


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_time(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, PurePath):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"journal cannot store a {type(value).__name__}")


def _encode(record: Mapping[str, Any]) -> bytes:
    # One record is one line: json escapes "\n" inside strings, so only our terminator splits.
    text = json.dumps(
        record,
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
        default=_json_default,
    )
    if contains_token(text):
        # Never echo the value: the error message could end up in a log.
        raise ValueError(
            f"refusing to write a {record.get('kind')!r} journal record: "
            "a value looks like an access token"
        )
    return text.encode("utf-8") + b"\n"


class Journal:
    """The journal of one tenant. Write after :meth:`open`; read at any time.

    Writes are thread-safe (the batch executor calls from several worker threads). ``root``
    replaces the state directory (``<root>/tenants/<tenant>/journal.jsonl``); ``clock``
    supplies the timestamps (tests). ``read_only``: the journal can be read but never opened
    for writing (:meth:`open` raises), the structural guarantee behind ``--read-only``.
    Nothing is created on disk before :meth:`open`.
    """

    def __init__(
        self,
        tenant_id: str,
        *,
        root: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        read_only: bool = False,
        runtime_lock: str | None = None,
    ) -> None:
        self.tenant_id = normalize_tenant_id(tenant_id)
        self.read_only = read_only
        # A rehearsal's replica has the real tenant's id but must never hold (or wait for)
        # the real tenant's machine-wide lock: it names a lock of its own.
        self._runtime_lock = runtime_lock or self.tenant_id
        self._root = root
        self.directory = tenant_path(self.tenant_id, root=root)
        self.path = self.directory / JOURNAL_NAME
        self.lock_path = self.directory / LOCK_NAME
        self.run_id: str | None = None
        """The run started by :meth:`start_run` and not yet ended; records carry it."""
        self.health = JournalHealth()
        """What the last full read (:meth:`records`, :meth:`iter_records`, :meth:`check`)
        found damaged."""
        self.stale_holders: tuple[Holder, ...] = ()
        """Lock records left by a killed process, found when :meth:`open` took the locks."""
        self._clock = clock or _utcnow
        self._fd: int | None = None
        self._locks: list[ProcessLock] = []
        self._needs_newline = False
        self._mutex = threading.Lock()
        self._batches = itertools.count(1)
        self._read_mutex = threading.Lock()
        # A small index kept up to date by reading only appended bytes, for what is polled
        # often (ticks, when sync was turned off). Records themselves are never kept: a
        # 100,000-user run writes 200,000 of them.
        self._index = _Scan()
        self._ticks: dict[str, bool] = {}
        self._last_success: dict[str, str] = {}
        self._gone: dict[str, Any] | None = None
        self._clear_index()

    @property
    def corrupt_lines(self) -> int:
        """Unreadable lines skipped by the last full read (a torn last line is not counted)."""
        return self.health.damaged

    @property
    def torn_tail(self) -> bool:
        """The last full read ended in a partial line (a process was killed mid-write)."""
        return self.health.torn_tail

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self, command: str = "run") -> Journal:
        """Lock the tenant and open the journal for appending.

        Raises :class:`~services.locks.TenantLocked` (naming the holder) if another process
        holds the tenant, from this state dir or any other. ``command`` is what the holder
        record says this process is doing (``run``, ``tui``).
        """
        if self.read_only:
            raise RuntimeError("a read-only journal is never opened for writing")
        if self._fd is not None:
            return self
        # The runtime lock first: it is the one every state dir shares, so a second process
        # with another --state-dir is turned away before it creates anything in its own.
        holder = Holder.current(command, self.directory.parent.parent.absolute())
        locks = [ProcessLock(runtime_lock_path(self._runtime_lock), self.tenant_id)]
        try:
            locks[0].acquire(holder)
            tenant_dir(self.tenant_id, root=self._root)
            locks.append(ProcessLock(self.lock_path, self.tenant_id).acquire(holder))
            created = not self.path.exists()
            fd = open_private_append(self.path)
            try:
                size = os.fstat(fd).st_size
                # A process killed mid-write leaves a partial last line; our first record must
                # not be glued onto it, or both would be lost to the reader.
                needs_newline = size > 0 and self._last_byte(size) != b"\n"
                if created:
                    fsync_dir(self.directory)
            except BaseException:
                os.close(fd)
                raise
        except BaseException:
            for lock in reversed(locks):
                lock.release()
            raise
        self._needs_newline = needs_newline
        self._fd = fd
        self._locks = locks
        self.stale_holders = tuple(lock.stale for lock in locks if lock.stale is not None)
        return self

    def close(self) -> None:
        """Close the journal and release the tenant's locks (safe to call twice)."""
        with self._mutex:
            fd, self._fd = self._fd, None
            locks, self._locks = self._locks, []
        if fd is not None:
            os.close(fd)
        for lock in reversed(locks):
            lock.release()

    def __enter__(self) -> Journal:
        return self.open()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _last_byte(self, size: int) -> bytes:
        with self.path.open("rb") as fh:
            fh.seek(size - 1)
            return fh.read(1)

    # -- writing -----------------------------------------------------------------------------

    def _record(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        if kind not in KINDS:
            raise ValueError(f"unknown journal record kind {kind!r}")
        clash = _RESERVED & fields.keys()
        if clash:
            raise ValueError(f"reserved journal field(s): {', '.join(sorted(clash))}")
        run = fields.pop("run", self.run_id)
        return {"t": format_time(self._clock()), "run": run, "kind": kind, **fields}

    def _write(self, records: list[dict[str, Any]]) -> None:
        """Append ``records`` with one write and one fsync; on return they are on disk."""
        payload = b"".join(_encode(record) for record in records)  # refuses before writing
        with self._mutex:
            if self.read_only:
                raise RuntimeError("refusing to write a read-only journal")
            if self._fd is None:
                raise RuntimeError("the journal is not open: call open() or use it in a with block")
            if self._needs_newline:
                payload = b"\n" + payload
            try:
                write_all(self._fd, payload)
                os.fsync(self._fd)
            except BaseException:
                # Part of a line may have reached the file; start the next record on a new line.
                self._needs_newline = True
                raise
            self._needs_newline = False

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Write one record of ``kind`` (fsynced). ``run`` defaults to the current run."""
        record = self._record(kind, fields)
        self._write([record])
        return record

    def start_run(
        self,
        command: str,
        *,
        options: Mapping[str, Any] | None = None,
        user: str | None = None,
        plan_digest: str | None = None,
        version: str = __version__,
        run_id: str | None = None,
    ) -> str:
        """Record the start of a run and make it the current one; returns its id.

        ``user`` is the signed-in UPN (None with app-only sign-in); the OS user, host and pid
        are recorded beside it so the organization can tell who ran closeout, and where. The
        tenant is recorded too: a journal copied into another tenant's folder is refused.
        """
        run = validate_run_id(run_id) if run_id is not None else new_run_id(self._clock())
        self.append(
            "run-start",
            run=run,
            tenant=self.tenant_id,
            command=command,
            options=dict(options or {}),
            user=user,
            version=version,
            plan_digest=plan_digest,
            os_user=os_user(),
            host=socket.gethostname(),
            pid=os.getpid(),
        )
        self.run_id = run
        return run

    def end_run(
        self, run_id: str, exit_code: int, summary: Mapping[str, Any] | None = None
    ) -> None:
        """Record the end of ``run_id`` with its exit code and summary counts."""
        self.append("run-end", run=run_id, exit_code=exit_code, summary=dict(summary or {}))
        if run_id == self.run_id:
            self.run_id = None

    def write_intents(self, items: Iterable[Mapping[str, Any]], *, batch: str | None = None) -> str:
        """Record a whole batch of intents with one write and one fsync, before it is sent.

        Each item needs ``step``, ``action`` and ``object`` (the object id); ``label`` and any
        other keys are kept. Returns the batch id written on each line. Raises if the intents
        could not be made durable, in which case the batch must not be sent.
        """
        self._require_run()
        batch_id = batch or f"b{next(self._batches):06d}"
        records = []
        for item in items:
            fields = dict(item)
            _require(fields, ("step", "action", "object"), "intent")
            fields.setdefault("label", "")
            fields["batch"] = batch_id
            records.append(self._record("intent", fields))
        if records:
            self._write(records)
        return batch_id

    def write_outcomes(self, items: Iterable[Mapping[str, Any] | ItemFinished]) -> None:
        """Record outcomes (one write and one fsync for all of them).

        Each item is an :class:`~services.models.ItemFinished` or a mapping with ``step``,
        ``action``, ``object``, ``result`` (done, gone, failed, skipped) and optionally
        ``label``, ``status``, ``code``, ``message``, ``request_id``.
        """
        self._require_run()
        records = []
        for item in items:
            fields = _outcome_fields(item)
            _require(fields, ("step", "action", "object", "result"), "outcome")
            if fields["result"] not in RESULTS:
                raise ValueError(f"unknown outcome result {fields['result']!r}")
            for key in ("label", "status", "code", "message", "request_id"):
                fields.setdefault(key, "" if key == "label" else None)
            records.append(self._record("outcome", fields))
        if records:
            self._write(records)

    def not_sent(self, step: int, action: str, count: int) -> None:
        """``count`` writes of ``action`` never went out (the run stopped, Graph was out of
        reach): one line, not one per object. The plan names them; what a later run finds
        still there it sends then."""
        self.append("not-sent", step=step, action=action, count=count)

    def not_sent_counts(self, run_id: str) -> dict[tuple[int, str], int]:
        """``(step, action) → count`` of the not-sent lines of ``run_id``."""
        counts: dict[tuple[int, str], int] = {}
        for rec in self.iter_records():
            if rec.get("kind") == "not-sent" and rec.get("run") == run_id:
                count, step = rec.get("count"), rec.get("step")
                if isinstance(count, int) and isinstance(step, int):
                    key = (step, str(rec.get("action")))
                    counts[key] = counts.get(key, 0) + count
        return counts

    def step(self, step: int, status: str, summary: str = "", **fields: Any) -> None:
        """Record a step's state change (``pending``, ``running``, ``done``, ...)."""
        self.append("step", step=step, status=status, summary=summary, **fields)

    def confirm(self, what: str, count: int, *, matched: bool, expected: str | None = None) -> None:
        """Record a confirmation. Only the expected domain is kept, never what was typed."""
        self.append("confirm", what=what, count=count, matched=matched, expected=expected)

    def tick(self, key: str, by: str | None, *, done: bool = True) -> None:
        """Record that a manual checklist item was ticked (or, ``done=False``, unticked)."""
        self.append("tick", key=key, by=by, done=done)

    def note(self, text: str, **fields: Any) -> None:
        """Record an event worth proving later, e.g. "directory sync turned off"."""
        self.append("note", text=text, **fields)

    def tenant_gone(self, detected: str, evidence: str) -> None:
        """Record that the tenant was found deleted: ``detected`` says when (``sign-in``, or
        ``watch`` while step 5 waited), ``evidence`` on what grounds. Needs no run: at sign-in
        there is none, and the evidence pack written later must still know."""
        self.append("tenant-gone", tenant=self.tenant_id, detected=detected, evidence=evidence)

    def _require_run(self) -> None:
        if self.run_id is None:
            raise RuntimeError("no run in progress: call start_run() first")

    # -- reading -----------------------------------------------------------------------------

    def iter_records(self) -> Iterator[dict[str, Any]]:
        """Every readable record in file order, one at a time, so that memory stays flat however
        long the journal is (the evidence of a 100,000-user run reads 200,000 records).

        Updates :attr:`health` when the end is reached. Raises :class:`ForeignJournal` at a
        run recorded on another tenant: nothing in such a file may be trusted or resumed.
        """
        for _offset, record in self.iter_positioned():
            yield record

    def iter_positioned(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """:meth:`iter_records` with the byte offset of each record's line, for
        :meth:`records_at` to read a few of them again without keeping them meanwhile."""
        scan = _Scan()
        yield from self._scan(scan)
        if scan.tail is not None:
            yield scan.offset, scan.tail
        self.health = scan.health()

    def records_at(self, offsets: Iterable[int]) -> Iterator[dict[str, Any]]:
        """The records on the lines that start at ``offsets`` (ascending), read in one pass.

        Raises ValueError if a line there is not a record any more (the file was replaced).
        """
        wanted = iter(offsets)
        target = next(wanted, None)
        if target is None:
            return
        with self.path.open("rb") as fh:
            position = 0
            for raw in fh:
                start, position = position, position + len(raw)
                if start < target:
                    continue
                record = _decode(raw.strip()) if start == target else None
                if record is None:
                    raise ValueError(f"{self.path}: no record at byte {target} any more")
                yield record
                target = next(wanted, None)
                if target is None:
                    return
        raise ValueError(f"{self.path}: no record at byte {target} any more")

    def records(self) -> list[dict[str, Any]]:
        """Every readable record in file order (see :meth:`iter_records`).

        Reads the whole file each time, and holds it: for tests and small journals. What the
        program needs is answered from a small incremental index (:meth:`unfinished`,
        :meth:`unsettled`, :meth:`check`, ...) or streamed (:meth:`iter_records`).
        """
        return list(self.iter_records())

    def check(self) -> JournalHealth:
        """Read the whole journal (what was not read yet): refuses another tenant's, says what
        is damaged."""
        self._refresh_index()
        return self.health

    def _scan(
        self, scan: _Scan, on_restart: Callable[[], None] | None = None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        """Records of the complete lines after ``scan.offset`` with their offsets, advancing
        ``scan`` as it goes.

        If the file is not the one ``scan`` was reading any more (replaced, truncated, gone),
        ``scan`` starts over from the top and ``on_restart`` is called first.
        """
        scan.tail, scan.torn = None, False
        try:
            fh = self.path.open("rb")
        except FileNotFoundError:
            if scan.identity is not None:
                scan.reset()
                if on_restart is not None:
                    on_restart()
            return
        with fh:
            st = os.fstat(fh.fileno())
            current = (st.st_dev, st.st_ino)
            if scan.identity is not None and (current != scan.identity or st.st_size < scan.offset):
                scan.reset()
                if on_restart is not None:
                    on_restart()
            scan.identity = current
            fh.seek(scan.offset)
            for raw in fh:
                line = raw.strip()
                if not raw.endswith(b"\n"):
                    # Only the last line can lack its newline: a write cut short by a kill, or
                    # a complete record whose newline never made it. Our next append completes
                    # the line, and then it is read again.
                    if line:
                        scan.tail = _decode(line)
                        scan.torn = scan.tail is None
                    break
                start = scan.offset
                scan.offset += len(raw)
                scan.line += 1
                if not line:
                    continue
                record = _decode(line)
                if record is None:
                    scan.damage()
                    continue
                self._check_tenant(record, scan.line)
                yield start, record
        if scan.tail is not None:
            self._check_tenant(scan.tail, scan.line + 1)

    def _check_tenant(self, record: Mapping[str, Any], line: int) -> None:
        # Runs recorded before run-start lines carried the tenant cannot tell: the folder's
        # name is then the only evidence, and they are read as this tenant's.
        tenant = record.get("tenant") if record.get("kind") == "run-start" else None
        if isinstance(tenant, str) and tenant.strip().lower() != self.tenant_id:
            raise ForeignJournal(self.path, self.tenant_id, tenant[:80], line)

    def _refresh_index(self) -> _Survey:
        """Read what was appended since the last call into the index; returns the survey,
        with the last line if it lacks its newline (as :meth:`iter_records` yields it) folded
        into a copy."""
        with self._read_mutex:
            try:
                for _offset, record in self._scan(self._index, self._clear_index):
                    self._index_record(record)
            except ForeignJournal:
                # Read again from the top next time, so that every read refuses it.
                self._index.reset()
                self._clear_index()
                raise
            self.health = self._index.health()
            survey = self._survey
            if self._index.tail is not None:
                survey = survey.copy()
                survey.feed(self._index.tail)
            return survey

    def _clear_index(self) -> None:
        self._ticks, self._last_success, self._gone = {}, {}, None
        self._confirmed: set[str] = set()
        self._survey = _Survey()

    def _index_record(self, rec: dict[str, Any]) -> None:
        kind = rec.get("kind")
        if kind == "tick" and isinstance(rec.get("key"), str):
            self._ticks[rec["key"]] = rec.get("done", True) is not False
        elif kind == "outcome" and rec.get("result") in ("done", "gone"):
            self._last_success[str(rec.get("action"))] = str(rec.get("t"))
        elif kind == "tenant-gone":
            self._gone = rec
        elif kind == "confirm" and rec.get("matched") is True:
            self._confirmed.add(str(rec.get("what")))
        self._survey.feed(rec)

    def confirmed(self, what: str) -> bool:
        """Whether a typed confirmation of ``what`` ever matched (e.g. the last resort's)."""
        self._refresh_index()
        return what in self._confirmed

    def last_success(self, action: str) -> datetime | None:
        """When ``action`` last succeeded (any object), e.g. when sync was turned off."""
        self._refresh_index()
        return parse_time(self._last_success.get(action))

    def tenant_gone_record(self) -> dict[str, Any] | None:
        """The last ``tenant-gone`` record: when and how the tenant's deletion was detected."""
        self._refresh_index()
        return self._gone

    def unfinished(self) -> UnfinishedRun | None:
        """The latest run if it never recorded a ``run-end``, with what it left pending.

        Answered from the index (one pass over the file, then only what was appended); a
        journal whose runs interleave (never written so by one closeout at a time) is read
        again in full.
        """
        survey = self._refresh_index()
        if survey.irregular:
            return _unfinished(self.iter_records)
        return survey.unfinished()

    def unsettled(self) -> list[dict[str, Any]]:
        """Writes of any run whose outcome is not known, oldest first.

        An intent with no outcome after it (the process died with the request in flight), or
        whose latest outcome is ``unknown`` (sent, but the answer was lost or could not be
        trusted). Each is the latest intent's fields: step, action, object, label, run and,
        in journals written since they were recorded, the request (method, url, version,
        body) that a fresh read needs to settle it (:mod:`services.settle`).
        """
        return list(self._refresh_index().open_writes.values())

    def manual_ticks(self) -> set[str]:
        """Keys of the manual checklist items currently ticked (the last tick of each wins)."""
        self._refresh_index()
        return {key for key, done in self._ticks.items() if done}

    def outcomes(self, run_id: str | None = None) -> list[dict[str, Any]]:
        """Outcome records of ``run_id`` in order; without one, the latest per (action, object).

        The latest-per-object view is what the organization needs to prove the end state: a
        user that failed in one run and was deleted in the next counts as deleted.
        """
        if run_id is not None:
            return [
                rec
                for rec in self.iter_records()
                if rec["kind"] == "outcome" and rec.get("run") == run_id
            ]
        latest: dict[tuple[Any, Any], dict[str, Any]] = {}
        for rec in self.iter_records():
            if rec["kind"] == "outcome":
                key = (rec.get("action"), rec.get("object"))
                latest.pop(key, None)  # keep the order of the latest outcomes
                latest[key] = rec
        return list(latest.values())


class _Survey:
    """What a resume needs, folded over the records in file order: the writes without a known
    outcome (:meth:`Journal.unsettled`) and the unfinished run (:meth:`Journal.unfinished`).

    Kept up to date record by record, so the journal is read once however often it is asked.
    :attr:`irregular` says the runs interleave (a record of a run other than the latest
    started, a run-end of another run, a run started twice): closeout never writes that, and
    :func:`_unfinished` then answers from the whole file instead.
    """

    def __init__(self) -> None:
        self.open_writes: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.started: set[str] = set()
        self.chain: list[str] = []
        """The runs since the last run that ended, in the order they started."""
        self.chain_starts: dict[str, dict[str, Any]] = {}
        self.pending: dict[tuple[Any, Any], dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self.steps: dict[Any, dict[str, Any]] = {}
        self.last_at: datetime | None = None
        self.irregular = False

    def copy(self) -> _Survey:
        other = _Survey()
        other.open_writes = dict(self.open_writes)
        other.started = set(self.started)
        other.chain = list(self.chain)
        other.chain_starts = dict(self.chain_starts)
        other.pending = dict(self.pending)
        other.counts = Counter(self.counts)
        other.steps = dict(self.steps)
        other.last_at = self.last_at
        other.irregular = self.irregular
        return other

    def feed(self, rec: dict[str, Any]) -> None:
        kind = rec["kind"]
        key = (rec.get("action"), rec.get("object"))
        if kind == "intent":
            self.open_writes.pop(key, None)
            self.open_writes[key] = _intent_fields(rec)
        elif kind == "outcome":
            if rec.get("result") in SETTLED:
                self.open_writes.pop(key, None)
                # An outcome from any run settles an earlier intent on the same object.
                self.pending.pop(key, None)
            elif key not in self.open_writes:
                self.open_writes[key] = _intent_fields(rec)
        run = rec.get("run")
        if not isinstance(run, str):
            return
        latest = self.chain[-1] if self.chain else None
        if kind == "run-start":
            if run in self.started:
                self.irregular = True
            self.started.add(run)
            self.chain.append(run)
            self.chain_starts[run] = rec
        elif kind == "run-end":
            if run != latest:
                self.irregular = True
            # A run that ended reconciled everything before it.
            self.chain, self.chain_starts = [], {}
            self.pending, self.counts, self.steps, self.last_at = {}, Counter(), {}, None
            return
        elif run != latest:
            self.irregular = True
            return
        self.last_at = parse_time(rec.get("t")) or self.last_at
        if kind == "intent":
            self.pending.pop(key, None)
            self.pending[key] = _intent_fields(rec)
        elif kind == "outcome":
            self.counts[str(rec.get("result"))] += 1
        elif kind == "step":
            self.steps[rec.get("step")] = {
                "status": rec.get("status"),
                "summary": rec.get("summary", ""),
                "t": rec.get("t"),
            }

    def unfinished(self) -> UnfinishedRun | None:
        if not self.chain:
            return None
        latest = self.chain_starts[self.chain[-1]]
        options = latest.get("options")
        return UnfinishedRun(
            run_id=self.chain[-1],
            started_at=parse_time(latest.get("t")),
            command=str(latest.get("command", "")),
            user=latest.get("user"),
            options=dict(options) if isinstance(options, dict) else {},
            pending=tuple(self.pending.values()),
            counts=dict(self.counts),
            steps=dict(self.steps),
            last_at=self.last_at,
            runs=tuple(self.chain),
        )


def _unfinished(records: Callable[[], Iterable[dict[str, Any]]]) -> UnfinishedRun | None:
    """:meth:`Journal.unfinished` from the whole file, whatever the order of its runs: two
    passes over ``records()`` (a fresh stream each), never the whole file in memory."""
    starts: dict[str, dict[str, Any]] = {}
    ended: set[str] = set()
    for rec in records():
        run = rec.get("run")
        if not isinstance(run, str):
            continue
        if rec["kind"] == "run-start":
            starts.pop(run, None)  # re-insert: order is that of the latest start
            starts[run] = rec
        elif rec["kind"] == "run-end":
            ended.add(run)
    order = list(starts)
    if not order or order[-1] in ended:
        return None
    chain: list[str] = []
    for run in reversed(order):
        if run in ended:
            break
        chain.append(run)
    chain.reverse()
    covered = set(chain)

    pending: dict[tuple[Any, Any], dict[str, Any]] = {}
    counts: Counter[str] = Counter()
    steps: dict[Any, dict[str, Any]] = {}
    last_at: datetime | None = None
    for rec in records():
        kind = rec["kind"]
        key = (rec.get("action"), rec.get("object"))
        if kind == "outcome" and rec.get("result") in SETTLED:
            # An outcome from any run settles an earlier intent on the same object.
            pending.pop(key, None)
        if rec.get("run") not in covered:
            continue
        last_at = parse_time(rec.get("t")) or last_at
        if kind == "intent":
            pending.pop(key, None)
            pending[key] = _intent_fields(rec)
        elif kind == "outcome":
            counts[str(rec.get("result"))] += 1
        elif kind == "step":
            steps[rec.get("step")] = {
                "status": rec.get("status"),
                "summary": rec.get("summary", ""),
                "t": rec.get("t"),
            }
    latest = starts[chain[-1]]
    options = latest.get("options")
    return UnfinishedRun(
        run_id=chain[-1],
        started_at=parse_time(latest.get("t")),
        command=str(latest.get("command", "")),
        user=latest.get("user"),
        options=dict(options) if isinstance(options, dict) else {},
        pending=tuple(pending.values()),
        counts=dict(counts),
        steps=steps,
        last_at=last_at,
        runs=tuple(chain),
    )


def _decode(line: bytes) -> dict[str, Any] | None:
    """The record on ``line``, or None if it is damaged: not JSON, no kind, a field every
    reader relies on of another type than closeout writes (``t`` a string, ``run`` a string or
    null, ``step`` a whole number or null), or a write record whose action or object is not a
    plain string or whose result is not a string (nothing could settle or report it).

    One check here, where a file on disk becomes records, so that no reader has to guess: a
    list where a run id belongs is as damaged as a line cut in half."""
    try:
        value = json_loads(line)  # a journal from before names were neutralised, or copied in
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("kind"), str):
        return None
    if not isinstance(value.get("t", ""), str) or not isinstance(value.get("run"), str | None):
        return None
    step = value.get("step")
    if step is not None and (not isinstance(step, int) or isinstance(step, bool)):
        return None
    kind = value["kind"]
    if kind in ("intent", "outcome") and not all(
        isinstance(value.get(key), str) and value[key] for key in ("action", "object")
    ):
        return None
    if kind == "outcome" and not isinstance(value.get("result"), str):
        return None
    if kind == "run-start" and not isinstance(value.get("tenant", ""), str):
        return None
    return value


TENANT_GONE_EVIDENCE = (
    "Graph refused the tenant and its public OpenID discovery document answers AADSTS90002 "
    "(tenant not found)"
)


def record_tenant_gone(
    tenant_id: str,
    *,
    root: Path | None = None,
    detected: str,
    evidence: str = TENANT_GONE_EVIDENCE,
) -> bool:
    """Journal that ``tenant_id`` was found deleted, if closeout has a journal for it.

    For the detection at sign-in, when no run and no open journal exist: the evidence pack
    and ``export --offline`` must still say the tenant is deleted. Nothing is created for a
    tenant closeout never reached. False if it could not be written (no journal, another
    process holds the tenant, the file refused it).
    """
    try:
        journal = Journal(tenant_id, root=root)
    except CloseoutError:
        return False
    if not journal.path.is_file():
        return False
    try:
        with journal.open("run"):
            journal.tenant_gone(detected, evidence)
    except (CloseoutError, OSError, ValueError):
        return False
    return True


_REQUEST_FIELDS = ("method", "url", "version", "body")


def _intent_fields(rec: Mapping[str, Any]) -> dict[str, Any]:
    fields = {
        "step": rec.get("step"),
        "action": rec.get("action"),
        "object": rec.get("object"),
        "label": rec.get("label", ""),
        "run": rec.get("run"),
        "batch": rec.get("batch"),
    }
    fields.update({key: rec[key] for key in _REQUEST_FIELDS if key in rec})
    return fields


def _require(fields: Mapping[str, Any], keys: tuple[str, ...], kind: str) -> None:
    missing = [key for key in keys if fields.get(key) in (None, "")]
    if missing:
        raise ValueError(f"{kind} record is missing {', '.join(missing)}")


def _outcome_fields(item: Mapping[str, Any] | ItemFinished) -> dict[str, Any]:
    if isinstance(item, ItemFinished):
        fields: dict[str, Any] = {
            "step": item.step,
            "action": item.action,
            "object": item.object_id,
            "label": item.label,
            "result": item.outcome,
            "status": item.status,
            "code": item.code,
            "message": item.message,
            "request_id": item.request_id,
        }
        if item.at is not None:
            fields["at"] = item.at
        return fields
    return dict(item)
