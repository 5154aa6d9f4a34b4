"""The demo's folder: where ``closeout --demo`` keeps its sandbox tenant and its journal
together between launches, who may change them, and when the tenant is saved.

``<state dir>/demo`` (with ``--state-dir X``: ``X/demo``), 0700, holds ``sandbox.state`` (0600:
the sandbox's whole state, in :mod:`services.sandbox.saved_state`'s format) beside the demo
tenant's journal folder (``tenants/<id>/``, as any tenant's). Both stay together, so a launch
finds the tenant exactly as its journal last saw it. Real runs read ``<state dir>/tenants``
only: never this folder, and a real run whose ``--state-dir`` is a demo folder is refused
(:func:`refuse_demo_folder`).

One process changes the demo at a time: a session that writes takes ``demo.lock`` (the OS's
lock, as a tenant's run lock is) before its first write, and checks that nobody saved the
tenant since it read it; reading commands (``status``, ``plan``) take no lock and never save.
``--fresh`` takes the lock, then discards the tenant and its journal.

The tenant is saved atomically (a temporary file, fsynced, renamed over the old one: a kill
mid-save leaves the previous state whole) by :class:`DemoKeeper`: at once when a writing
session starts, soon after each step ends or stops, every little while when something changed
(never more often than twenty times what one save costs: a 100,000-user tenant is not written
for every object deleted), and last when the session closes.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import CloseoutError
from .i18n import _
from .locks import Holder, ProcessLock, TenantLocked
from .paths import ensure_private_dir, refuse_symlink, state_dir, write_private

if TYPE_CHECKING:
    from .sandbox.core import Sandbox
    from .sandbox.saved_state import SavedState

__all__ = [
    "DemoChanged",
    "DemoDeleted",
    "DemoFolder",
    "DemoInUse",
    "DemoKeeper",
    "DemoMismatch",
    "check_demo_options",
    "demo_path",
    "refuse_demo_folder",
]

log = logging.getLogger("closeout.demo")

STATE_FILE = "sandbox.state"
LOCK_FILE = "demo.lock"
SAVE_EVERY = 10.0
"""Real seconds between saves while the tenant changes, at the least."""
SAVE_SHARE = 20.0
"""…and at least this many times what the last save took."""
FRESH_HINT = "closeout --demo --fresh"


def demo_path(root: Path | None) -> Path:
    """The demo's folder under a state directory (``--state-dir``; None: the XDG one)."""
    return Path(root if root is not None else state_dir()) / "demo"


def refuse_demo_folder(root: Path | None) -> None:
    """A real run's state directory must not be a demo folder: its journal is a sandbox's."""
    if root is not None and (Path(root) / STATE_FILE).exists():
        raise CloseoutError(
            _("{path} is the demo's folder; a real tenant's journal never goes there.").format(
                path=root
            ),
            hint=_("give another --state-dir (or none) for a real tenant"),
        )


class DemoInUse(TenantLocked):
    """Another closeout is changing the demo tenant (exit 6, as for any tenant)."""

    def __init__(self, holder: Holder | None, lock_path: Path) -> None:
        CloseoutError.__init__(
            self,
            _("Another closeout --demo is using the demo tenant{holder}.").format(
                holder=f": {holder.describe()}" if holder is not None and holder.describe() else ""
            ),
            hint=_("quit the other one first (check your other terminals), then try again"),
        )
        self.tenant_id = "demo"
        self.holder = holder
        self.lock_path = lock_path
        self.pid = holder.pid if holder else None
        self.host = holder.host if holder else None


class DemoChanged(CloseoutError):
    """The demo tenant was saved by another closeout after this one read it."""


class DemoMismatch(CloseoutError):
    """``--users``/``--seed`` ask for another demo tenant than the one kept."""


class DemoDeleted(CloseoutError):
    """The kept demo tenant was deleted: its close-out is complete (``--fresh`` starts anew)."""


def check_demo_options(
    kept_users: int,
    kept_seed: int,
    users: int | None,
    seed: int | None,
    *,
    deleted: bool = False,
) -> None:
    """``--users`` and ``--seed`` (None: not given) against the kept tenant's: asking for
    another tenant is refused (:class:`DemoMismatch`, exit 2), never answered by quietly
    discarding the kept one, nor by quietly going on with it. A kept tenant that was deleted
    (its close-out complete) cannot be signed in to: said, with how to start a new one."""
    if deleted:
        raise DemoDeleted(
            _("The demo tenant was deleted: its close-out is complete."),
            hint=_("closeout --demo --fresh starts a new demo tenant"),
        )
    asked = []
    if users is not None and users != kept_users:
        asked.append(f"--users {users}")
    if seed is not None and seed != kept_seed:
        asked.append(f"--seed {seed}")
    if asked:
        raise DemoMismatch(
            _(
                "The kept demo tenant has {users:,} users (seed {seed}); {asked} asks for "
                "another one."
            ).format(users=kept_users, seed=kept_seed, asked=" ".join(asked)),
            hint=_(
                "add --fresh to discard the kept tenant and its journal and start that one; "
                "leave out --users and --seed to go on with the kept one"
            ),
        )


class DemoFolder:
    """The demo's folder (created 0700 when first written; reading creates nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.state_path = self.path / STATE_FILE
        self._lock: ProcessLock | None = None
        self._read = False
        self._read_as: tuple[int, int, int] | None = None
        """The saved file as :meth:`load` found it (None: there was none)."""

    # -- reading ------------------------------------------------------------------------------

    def _identity(self) -> tuple[int, int, int] | None:
        try:
            st = os.lstat(self.state_path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def header(self) -> dict[str, Any] | None:
        """The saved state's header line, checked (format, version); None if nothing is
        saved. Cheap: for refusing a launch before any screen opens."""
        from .sandbox.saved_state import decode_header

        refuse_symlink(self.state_path)
        try:
            with self.state_path.open("rb") as fh:
                return decode_header(fh.readline(64 * 1024))
        except FileNotFoundError:
            return None

    def load(self) -> SavedState | None:
        """The saved state (None: no demo tenant was kept), or :class:`SavedStateError`."""
        from .sandbox.saved_state import decode

        refuse_symlink(self.state_path)
        self._read, self._read_as = True, self._identity()
        try:
            data = self.state_path.read_bytes()
        except FileNotFoundError:
            self._read_as = None
            return None
        return decode(data)

    # -- changing -----------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock is not None

    def lock(self, command: str) -> None:
        """Take the demo for this process (once); refused if another closeout holds it
        (:class:`DemoInUse`), or saved the tenant since this one read it with :meth:`load`
        (:class:`DemoChanged`)."""
        if self._lock is not None:
            return
        ensure_private_dir(self.path)
        lock = ProcessLock(self.path / LOCK_FILE, "demo")
        try:
            lock.acquire(Holder.current(command, self.path))
        except TenantLocked as exc:
            raise DemoInUse(exc.holder, exc.lock_path) from None
        if self._read and self._identity() != self._read_as:
            lock.release()
            raise DemoChanged(
                _("Another closeout --demo saved the demo tenant after this one read it."),
                hint=_("start closeout --demo again: it continues from what was saved"),
            )
        self._lock = lock

    def discard(self) -> None:
        """Forget the kept tenant and everything recorded about it (``--fresh``); the lock
        must be held. The lock file stays: it is what keeps others out meanwhile."""
        assert self._lock is not None, "discard() needs the demo's lock"
        for entry in sorted(self.path.iterdir()):
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        self._read_as = None

    def write_state(self, data: bytes) -> None:
        """Replace the saved state atomically (temporary file, fsync, rename), 0600."""
        ensure_private_dir(self.path)
        write_private(self.state_path, data)
        self._read_as = self._identity()

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()


class DemoKeeper:
    """Saves a demo sandbox into its folder while a writing session runs (see the module)."""

    def __init__(self, folder: DemoFolder, sandbox: Sandbox) -> None:
        self.folder = folder
        self.sandbox = sandbox
        self.saves = 0
        self.last_cost = 0.0
        """Real seconds the last save took (capture, encode, write)."""
        self._saved_at = -1
        self._soon = threading.Event()
        self._stop = threading.Event()
        self._mutex = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Save now (so the folder holds the tenant its journal is about), then keep saving."""
        self.save()
        self._thread = threading.Thread(target=self._run, name="demo-keeper", daemon=True)
        self._thread.start()

    def soon(self) -> None:
        """Save at the next chance (a step ended or stopped)."""
        self._soon.set()

    def close(self) -> None:
        """Stop the thread and save a last time."""
        self._stop.set()
        self._soon.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.save(force=True)

    def save(self, *, force: bool = True) -> bool:
        """Write the tenant if it changed since the last save (or ``force``); True if it did.
        A failed save is logged and leaves the previous file whole; the next save retries. It
        never fails the session: the demo goes on, kept as of its last good save."""
        from .sandbox.saved_state import capture

        with self._mutex:
            changes = self.sandbox.recorder.changes()
            if not force and changes == self._saved_at:
                return False
            began = time.monotonic()
            try:
                self.folder.write_state(capture(self.sandbox).encode())
            except Exception:
                log.exception("the demo tenant could not be saved in %s", self.folder.path)
                return False
            self.last_cost = time.monotonic() - began
            self._saved_at = changes
            self.saves += 1
            return True

    def _run(self) -> None:
        while not self._stop.is_set():
            self._soon.wait(max(SAVE_EVERY, SAVE_SHARE * self.last_cost))
            if self._stop.is_set():
                return
            asked = self._soon.is_set()
            self._soon.clear()
            self.save(force=asked)
