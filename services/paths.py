"""Where closeout keeps its files on disk, and how it writes them privately.

Owns the directory layout (via platformdirs, so ``XDG_STATE_HOME`` / ``XDG_DATA_HOME`` apply on
Linux): the state directory (journals, evidence packs, logs; one subdirectory per tenant), the
data directory (token cache) and the runtime directory (the per-tenant run locks, shared by
every ``--state-dir`` on the machine). Every directory closeout creates is 0700, every file
0600, and :func:`write_private` / :func:`private_file_writer` replace files atomically, so a
killed process leaves either the old file or the new one, never half of one. Tenant ids are
validated before they become path components, so a hostile ``--tenant`` value cannot escape
the tree.

Symbolic links are never followed for what closeout writes: :func:`refuse_symlink` is the one
rule, and every way closeout makes a folder (:func:`ensure_private_dir` and the functions built
on it), replaces a file (:func:`write_private`) or appends to one (:func:`open_private_append`)
applies it. A link where one of closeout's folders or files should be is refused with
:class:`SymlinkRefused` (exit 2, the path named) before anything is written through it or its
target's mode is touched. Whoever adds a file or folder uses these functions, not ``open``,
``mkdir`` or ``chmod``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import platformdirs

from .errors import CloseoutError
from .i18n import _

__all__ = [
    "APP_NAME",
    "DIR_MODE",
    "FILE_MODE",
    "OPEN_FLAGS",
    "InvalidTenantId",
    "SymlinkRefused",
    "UnsafePath",
    "data_dir",
    "ensure_private_dir",
    "existing_tenant_dir",
    "existing_tenant_dirs",
    "fsync_dir",
    "log_dir",
    "normalize_tenant_id",
    "open_private_append",
    "private_file_writer",
    "refuse_symlink",
    "runtime_dir",
    "secure_fd",
    "state_dir",
    "tenant_dir",
    "tenant_path",
    "tenants_path",
    "write_all",
    "write_private",
]

APP_NAME = "closeout"
DIR_MODE = 0o700
FILE_MODE = 0o600

# Where the runtime directory goes when there is no usable one. A fixed path on purpose: every
# process of the user must find the same place. The directory is made 0700; a symlink or another
# user's directory in its place is refused.
FALLBACK_RUNTIME_BASE = Path("/tmp")  # noqa: S108

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Lower-case letters, digits, dot, dash, underscore; starting and ending with a letter or digit,
# which rules out ".", ".." and the trailing dots Windows silently strips (two names, one dir).
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,126}[a-z0-9])?")
_WINDOWS_DEVICES = frozenset(
    {"con", "prn", "aux", "nul"}
    | {f"com{i}" for i in range(1, 10)}
    | {f"lpt{i}" for i in range(1, 10)}
)


class InvalidTenantId(CloseoutError, ValueError):
    """A tenant id that is neither a GUID nor a safe slug (it could name a path elsewhere)."""


class UnsafePath(CloseoutError):
    """A closeout directory exists but is not one we can trust (not a directory, not ours)."""


class SymlinkRefused(UnsafePath):
    """A symbolic link where closeout keeps a folder or file of its own: never followed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            _("{path} is a symbolic link; closeout does not follow links for its own files").format(
                path=path
            ),
            hint=_(
                "nothing was written; remove the link (or give the real path, e.g. "
                "--state-dir \"$(realpath DIR)\"), then run closeout again"
            ),
        )


def refuse_symlink(path: Path) -> Path:
    """``path``, if it is not a symbolic link (dangling or not); else :class:`SymlinkRefused`.

    The one symlink rule for everything closeout writes. Only the last component is judged:
    the folders above closeout's own (a home directory on another disk) are the user's.
    """
    path = Path(path)
    if path.is_symlink():
        raise SymlinkRefused(path)
    return path


def normalize_tenant_id(tenant_id: str) -> str:
    """The tenant id as a single safe path component: a GUID or slug, lower-cased.

    Lower-casing makes ``Contoso`` and ``contoso`` one directory on every file system, so the
    per-tenant lock cannot be sidestepped by spelling. Callers should prefer the tenant GUID
    from Graph: a domain name and the GUID of the same tenant are still two directories.
    """
    candidate = tenant_id.strip().lower() if isinstance(tenant_id, str) else ""
    if _GUID.fullmatch(candidate):
        return candidate
    if _SLUG.fullmatch(candidate) and candidate.split(".", 1)[0] not in _WINDOWS_DEVICES:
        return candidate
    raise InvalidTenantId(
        _("Not a valid tenant id: {value}").format(value=ascii(tenant_id)[:80]),
        hint=_("use the tenant GUID or its *.onmicrosoft.com domain"),
    )


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) with mode 0700; tighten it to 0700 if it exists.

    Only ``path`` itself is tightened when it already exists: pre-existing parents such as
    ``~/.local/state`` belong to the user. Parents we create get 0700, as the XDG base
    directory specification asks. Refuses a path that is a symbolic link (:class:`SymlinkRefused`:
    its target is neither entered nor chmod-ed), that is not a directory or, on POSIX, that is
    owned by another user (someone could read or swap our files through it).
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    # lexists: a dangling link is something there (refused below), not a folder to create.
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            # Another process (or someone planting a link) got there between check and mkdir.
            _check_and_tighten(directory)
        else:
            # mkdir's mode is filtered by the umask; set it exactly.
            _check_and_tighten(directory)
    if not missing or missing[0] != path:
        _check_and_tighten(path)
    return path


_DIR_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_DIRECTORY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _check_and_tighten(path: Path) -> None:
    """Judge and chmod the directory itself through a descriptor opened without following a
    link: swapping it for a link after the check cannot redirect the chmod."""
    refuse_symlink(path)
    if os.name == "nt":  # no O_NOFOLLOW, and a directory cannot be opened
        _judge(path, path.stat(), lambda: path.chmod(DIR_MODE))
        return
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise SymlinkRefused(path) from None
        if exc.errno == errno.ENOTDIR:
            raise _not_a_directory(path) from None
        raise
    try:
        _judge(path, os.fstat(fd), lambda: os.fchmod(fd, DIR_MODE))
    finally:
        os.close(fd)


def _judge(path: Path, st: os.stat_result, tighten: Callable[[], None]) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise _not_a_directory(path)
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        raise UnsafePath(
            _("{path} belongs to another user").format(path=path),
            hint=_("closeout keeps journals and tokens only in directories you own"),
        )
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        tighten()


def _not_a_directory(path: Path) -> UnsafePath:
    return UnsafePath(
        _("Not a directory: {path}").format(path=path),
        hint=_("move the file out of the way and try again"),
    )


def state_dir() -> Path:
    """Journals, evidence packs and logs (``$XDG_STATE_HOME/closeout`` on Linux)."""
    return ensure_private_dir(platformdirs.user_state_path(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The token cache (``$XDG_DATA_HOME/closeout`` on Linux)."""
    return ensure_private_dir(platformdirs.user_data_path(APP_NAME, appauthor=False))


def log_dir(root: Path | None = None) -> Path:
    """Log files: ``state_dir()/logs`` (kept beside the journals they explain); ``root``
    replaces the state directory (``--state-dir``)."""
    base = ensure_private_dir(root) if root is not None else state_dir()
    return ensure_private_dir(base / "logs")


def tenant_dir(tenant_id: str, *, root: Path | None = None) -> Path:
    """``<state>/tenants/<tenant id>``, created 0700. ``root`` replaces the state directory."""
    name = normalize_tenant_id(tenant_id)
    base = ensure_private_dir(root) if root is not None else state_dir()
    tenants = ensure_private_dir(base / "tenants")
    return ensure_private_dir(tenants / name)


def tenants_path(*, root: Path | None = None) -> Path:
    """``<state>/tenants`` (or ``<root>/tenants``) as a path; creates nothing."""
    base = root if root is not None else platformdirs.user_state_path(APP_NAME, appauthor=False)
    return Path(base) / "tenants"


def tenant_path(tenant_id: str, *, root: Path | None = None) -> Path:
    """Where :func:`tenant_dir` is, without creating anything: for readers, which must leave
    no trace (a read-only run, ``status``), and for writers until their first write."""
    return tenants_path(root=root) / normalize_tenant_id(tenant_id)


def runtime_dir() -> Path:
    """Where the per-tenant run locks live: one place per user and machine, whatever
    ``--state-dir`` each process was given (``$XDG_RUNTIME_DIR/closeout`` on Linux).

    platformdirs' user runtime directory when its parent exists and is private to us (as the
    XDG spec requires of ``$XDG_RUNTIME_DIR``); otherwise ``closeout-<uid>`` in ``/tmp`` (not
    ``$TMPDIR``, which may differ between two shells of the same user). The closeout directory
    itself must be a real directory we own: a symlink or another user's directory there is
    refused (:class:`UnsafePath`), since whoever controls it could hold or fake our locks.
    """
    candidate: Path | None
    with warnings.catch_warnings():
        # Newer platformdirs warn when they fall back; the fallback is decided here instead.
        warnings.simplefilter("ignore")
        try:
            candidate = platformdirs.user_runtime_path(APP_NAME, appauthor=False)
        except OSError:
            candidate = None
    if candidate is None or not _private_base(candidate.parent):
        tmp = FALLBACK_RUNTIME_BASE
        base = tmp if os.name == "posix" and tmp.is_dir() else Path(tempfile.gettempdir())
        candidate = base / f"{APP_NAME}-{_user_tag()}"
    return _private_leaf(candidate)


def _user_tag() -> str:
    getuid = getattr(os, "getuid", None)
    if getuid is not None:
        return str(getuid())
    # Windows has no uid: the user name keeps two users' fallbacks apart.
    import getpass

    try:
        return re.sub(r"[^A-Za-z0-9._-]", "_", getpass.getuser())[:64] or "user"
    except (KeyError, OSError):
        return "user"


def _private_base(path: Path) -> bool:
    """``path`` is an existing real directory (not a symlink) that only we can write to."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    getuid = getattr(os, "getuid", None)
    if getuid is None:
        return True
    return st.st_uid == getuid() and not st.st_mode & 0o022


def _private_leaf(path: Path) -> Path:
    """Create ``path`` 0700 (its parent must exist), refusing a symlink or a foreign owner."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=DIR_MODE)
    _check_and_tighten(path)  # also sets the mode exactly (mkdir's is filtered by the umask)
    return path


def existing_tenant_dir(tenant_id: str, *, root: Path | None = None) -> Path | None:
    """``<state>/tenants/<tenant id>`` if it is already there as a real directory; creates
    nothing (a tenant closeout never reached must not get a folder by being looked up)."""
    try:
        path = tenant_path(tenant_id, root=root)
    except InvalidTenantId:
        return None
    return path if path.is_dir() and not path.is_symlink() else None


def existing_tenant_dirs(*, root: Path | None = None) -> list[Path]:
    """Every tenant folder already under the state directory (real directories only)."""
    try:
        entries = sorted(tenants_path(root=root).iterdir())
    except OSError:
        return []
    return [p for p in entries if p.is_dir() and not p.is_symlink()]


def fsync_dir(directory: Path) -> None:
    """Make renames and new entries in ``directory`` durable (no-op where unsupported)."""
    if os.name == "nt":
        return  # Windows cannot open a directory for fsync; NTFS journals metadata itself.
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        # Some file systems (certain FUSE and network mounts) refuse fsync on a directory;
        # the data itself was already fsynced, so this is the best that can be done there.
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
"""For ``os.open`` of closeout's own files: never inherited by a child, never via a symlink."""


def open_private_append(path: Path) -> int:
    """A descriptor appending to ``path`` (created 0600), never through a symbolic link.

    For files closeout keeps appending to (the journal, the log). The parent must exist
    (:func:`ensure_private_dir`). A link at ``path`` is :class:`SymlinkRefused`; anything but a
    regular file of ours is refused too (:func:`secure_fd`).
    """
    path = refuse_symlink(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | OPEN_FLAGS, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP or path.is_symlink():
            raise SymlinkRefused(path) from None  # planted between the check and the open
        raise
    try:
        secure_fd(fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_all(fd: int, data: bytes) -> None:
    """``os.write`` until all of ``data`` is written (a write may take only part of it)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def secure_fd(fd: int) -> None:
    """Refuse anything but a regular file we own behind ``fd``; tighten its mode to 0600."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise OSError(errno.EINVAL, "not a regular file")
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        raise OSError(errno.EPERM, "file belongs to another user")
    if hasattr(os, "fchmod") and stat.S_IMODE(st.st_mode) != FILE_MODE:
        os.fchmod(fd, FILE_MODE)


_TMP_FLAGS = (
    os.O_CREAT
    | os.O_EXCL
    | os.O_WRONLY
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_BINARY", 0)
)


@contextlib.contextmanager
def private_file_writer(path: Path, *, sync_dir: bool = True) -> Iterator[BinaryIO]:
    """Write ``path`` atomically with mode 0600: yields a binary file; commits on success.

    The data goes to a fresh temporary file in the same directory (``O_EXCL``: never someone
    else's file or symlink), is flushed and fsynced, then renamed over ``path``. If the block
    raises, the temporary file is removed and ``path`` is untouched. The parent directory must
    exist (create it with :func:`ensure_private_dir`). ``sync_dir=False`` skips the directory
    fsync, for callers that write several files and sync the directory once. A symbolic link
    at ``path`` is refused (:class:`SymlinkRefused`), not replaced and not followed.
    """
    path = refuse_symlink(path)
    directory = path.parent
    tmp = directory / f".{path.name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(tmp, _TMP_FLAGS, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            fd = -1  # the file object owns it now
            if hasattr(os, "fchmod"):
                os.fchmod(fh.fileno(), FILE_MODE)  # the umask may have removed owner bits
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)  # os.replace: atomic on POSIX and Windows
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    if sync_dir:
        fsync_dir(directory)


def write_private(path: Path, data: bytes | str, *, sync_dir: bool = True) -> None:
    """Atomically replace ``path`` with ``data`` (str is written as UTF-8), mode 0600."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with private_file_writer(path, sync_dir=sync_dir) as fh:
        fh.write(payload)
