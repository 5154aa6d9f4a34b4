"""The tenant's journal opened for writing: taking the tenant's locks, appending records with
one write and one fsync, and the record each event of a run writes.

One closeout process per tenant: :meth:`Journal.open` takes the tenant's locks (see
:mod:`services.locks`: one beside the journal, one in the runtime directory that every
``--state-dir`` shares) and names the holder when they are taken. A journal made with
``read_only=True`` (a ``--read-only`` run) can never be opened for writing at all, so nothing a
read-only run does can end up in the record a later real run trusts.
"""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from services import __version__
from services.errors import CloseoutError
from services.locks import Holder, ProcessLock, os_user, runtime_lock_path
from services.models import ItemFinished
from services.paths import fsync_dir, open_private_append, tenant_dir, write_all

from .reader import JournalReader
from .records import (
    _RESERVED,
    KINDS,
    RESULTS,
    _encode,
    _outcome_fields,
    _require,
    format_time,
    new_run_id,
    validate_run_id,
)

__all__ = ["TENANT_GONE_EVIDENCE", "Journal", "record_tenant_gone"]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Journal(JournalReader):
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
        super().__init__(tenant_id, root=root)
        self.read_only = read_only
        # A rehearsal's replica has the real tenant's id but must never hold (or wait for)
        # the real tenant's machine-wide lock: it names a lock of its own.
        self._runtime_lock = runtime_lock or self.tenant_id
        self.run_id: str | None = None
        """The run started by :meth:`start_run` and not yet ended; records carry it."""
        self.stale_holders: tuple[Holder, ...] = ()
        """Lock records left by a killed process, found when :meth:`open` took the locks."""
        self._clock = clock or _utcnow
        self._fd: int | None = None
        self._locks: list[ProcessLock] = []
        self._needs_newline = False
        self._mutex = threading.Lock()
        self._batches = itertools.count(1)

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
