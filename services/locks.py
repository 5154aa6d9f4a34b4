"""One closeout process at a time per tenant: the OS locks, and who holds them.

Owns the lock files a writing closeout takes on a tenant and the holder record inside each:
pid, host, OS user, command (``run``, ``tui``), state dir and since when. Two locks are taken
(see :meth:`services.journal.writer.Journal.open`): one in the tenant's folder of the state dir,
beside the journal it guards, and one keyed on the tenant id in the user's runtime directory,
which every process of the user on this machine sees whatever ``--state-dir`` it was given.

The lock itself is the operating system's (``flock``; a byte-range lock on Windows), so the
kernel releases it when the process dies, however it dies: it can never go stale. The holder
record is only informative. A process that was killed leaves its record behind; the next one
to take the lock reports it as stale (:attr:`ProcessLock.stale`) and overwrites it. Reading
commands (``status``, ``plan``, ``export``, a ``--read-only`` run) take no lock at all.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import json
import logging
import os
import socket
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from .errors import CloseoutError
from .i18n import _
from .paths import FILE_MODE, OPEN_FLAGS, normalize_tenant_id, runtime_dir, secure_fd, write_all

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
    import msvcrt

__all__ = ["Holder", "ProcessLock", "TenantLocked", "os_user", "runtime_lock_path"]

log = logging.getLogger("closeout.locks")

# Where the Windows byte-range lock sits: past the holder record, so others can still read it.
_WIN_LOCK_OFFSET = 1 << 20
_MAX_RECORD = 4096


def os_user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry, e.g. in a container
        return None


def runtime_lock_path(tenant_id: str) -> Path:
    """``<runtime dir>/tenant-<id>.lock``: the lock every state dir on this machine shares."""
    return runtime_dir() / f"tenant-{normalize_tenant_id(tenant_id)}.lock"


@dataclass(frozen=True)
class Holder:
    """Who holds a tenant lock. Informative only: the OS lock is what excludes."""

    pid: int | None = None
    host: str | None = None
    user: str | None = None
    command: str | None = None
    state_dir: str | None = None
    since: str | None = None
    """UTC, ISO 8601."""

    @classmethod
    def current(cls, command: str, state_dir: Path | str | None) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            user=os_user(),
            command=command,
            state_dir=None if state_dir is None else str(state_dir),
            since=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        )

    def encode(self) -> bytes:
        return (json.dumps(asdict(self), ensure_ascii=False) + "\n").encode("utf-8")

    @classmethod
    def decode(cls, data: bytes) -> Holder | None:
        """The record in a lock file; None if it is empty. Tolerates the old ``pid host``."""
        text = data.decode("utf-8", "replace").strip()
        if not text:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            parts = text.split()
            return cls(
                pid=int(parts[0]) if parts[0].isdigit() else None,
                host=parts[1] if len(parts) > 1 else None,
            )
        if not isinstance(value, dict):
            return cls()
        pid = value.get("pid")

        def text_of(key: str) -> str | None:
            item = value.get(key)
            return item if isinstance(item, str) else None

        return cls(
            pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
            host=text_of("host"),
            user=text_of("user"),
            command=text_of("command"),
            state_dir=text_of("state_dir"),
            since=text_of("since"),
        )

    @property
    def here(self) -> bool:
        return self.host is None or self.host == socket.gethostname()

    def running(self) -> bool | None:
        """Whether the named process still exists (None: another host, or cannot tell)."""
        if self.pid is None or not self.here or os.name != "posix":
            return None
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except OSError:
            return True  # it exists but is not ours to signal
        return True

    def describe(self) -> str:
        """``pid 4242 (run), alice@jumphost, since 2025-03-01T10:15:02Z, state dir /x``."""
        parts = []
        if self.pid is not None:
            head = _("pid {pid}").format(pid=self.pid)
            parts.append(f"{head} ({self.command})" if self.command else head)
        who = "@".join(part for part in (self.user, self.host) if part)
        if who:
            parts.append(who)
        if self.since:
            parts.append(_("since {when}").format(when=self.since))
        if self.state_dir:
            parts.append(_("state dir {path}").format(path=self.state_dir))
        return ", ".join(parts)


class TenantLocked(CloseoutError):
    """Another closeout process holds this tenant (and so may be changing it right now)."""

    def __init__(self, tenant_id: str, holder: Holder | None, lock_path: Path) -> None:
        self.tenant_id = tenant_id
        self.holder = holder
        self.lock_path = lock_path
        self.pid = holder.pid if holder else None
        self.host = holder.host if holder else None
        described = holder.describe() if holder else ""
        if not described:
            message = _("Another closeout process is already working on tenant {tenant}.")
        else:
            message = _("Another closeout process is already working on tenant {tenant}: {holder}.")
        if holder is not None and holder.running() is False:
            # The OS lock is held, so a process is alive; the one named is not. Something it
            # started kept the lock (or the record is older than the lock).
            message += " " + _(
                "That process has ended; the lock is held by a process it started "
                "(lock file {path})."
            )
        super().__init__(
            message.format(tenant=tenant_id, holder=described, path=lock_path),
            hint=_(
                "only one closeout can change a tenant at a time, whatever its --state-dir: "
                "finish or quit the other one (check your other terminals and tmux windows), "
                "then try again; status, plan and export work meanwhile"
            ),
        )


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False if another process holds it."""
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:  # pragma: no cover - Windows
            os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except OSError as exc:
        if fcntl is None or exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return False
        raise
    return True


def _unlock(fd: int) -> None:
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
    else:  # pragma: no cover - Windows
        os.lseek(fd, _WIN_LOCK_OFFSET, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)


def _read_record(fd: int) -> Holder | None:
    os.lseek(fd, 0, os.SEEK_SET)
    return Holder.decode(os.read(fd, _MAX_RECORD))


class ProcessLock:
    """One lock file: taken without waiting, holder record written, cleared on release."""

    def __init__(self, path: Path, tenant_id: str) -> None:
        self.path = path
        self.tenant_id = tenant_id
        self.stale: Holder | None = None
        """The record a killed holder left behind, found when this lock was taken."""
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, holder: Holder) -> ProcessLock:
        """Take the lock or raise :class:`TenantLocked` naming who has it."""
        if self._fd is not None:
            return self
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | OPEN_FLAGS, FILE_MODE)
        try:
            secure_fd(fd)
            if not _try_lock(fd):
                raise TenantLocked(self.tenant_id, _read_record(fd), self.path)
            self.stale = _read_record(fd)
            if self.stale is not None:
                log.warning(
                    "a closeout process ended without releasing %s: %s",
                    self.path,
                    self.stale.describe(),
                )
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            write_all(fd, holder.encode())
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            # Clear the record first, so nobody ever reads a holder from an unlocked file.
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            with contextlib.suppress(OSError):
                _unlock(fd)
        finally:
            os.close(fd)
