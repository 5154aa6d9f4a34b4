"""Where closeout keeps its files on disk, and how it writes them privately.

Owns the directory layout (via platformdirs, so ``XDG_STATE_HOME`` / ``XDG_DATA_HOME`` apply on
Linux): the state directory (journals, evidence packs, logs; one subdirectory per tenant) and
the data directory (token cache). Every directory closeout creates is 0700, every file 0600,
and :func:`write_private` / :func:`private_file_writer` replace files atomically, so a killed
process leaves either the old file or the new one, never half of one. Tenant ids are validated
before they become path components, so a hostile ``--tenant`` value cannot escape the tree.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import platformdirs

from .errors import CloseoutError
from .i18n import _

__all__ = [
    "APP_NAME",
    "DIR_MODE",
    "FILE_MODE",
    "InvalidTenantId",
    "UnsafePath",
    "data_dir",
    "ensure_private_dir",
    "fsync_dir",
    "log_dir",
    "normalize_tenant_id",
    "private_file_writer",
    "state_dir",
    "tenant_dir",
    "write_private",
]

APP_NAME = "closeout"
DIR_MODE = 0o700
FILE_MODE = 0o600

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
    directory specification asks. Refuses a path that is not a directory or, on POSIX, is
    owned by another user (someone could read or swap our files through it).
    """
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # another process created it between our check and mkdir
        else:
            # mkdir's mode is filtered by the umask; set it exactly.
            directory.chmod(DIR_MODE)
    _check_and_tighten(path)
    return path


def _check_and_tighten(path: Path) -> None:
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePath(
            _("Not a directory: {path}").format(path=path),
            hint=_("move the file out of the way and try again"),
        )
    getuid = getattr(os, "getuid", None)
    if getuid is not None and st.st_uid != getuid():
        raise UnsafePath(
            _("{path} belongs to another user").format(path=path),
            hint=_("closeout keeps journals and tokens only in directories you own"),
        )
    if stat.S_IMODE(st.st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)


def state_dir() -> Path:
    """Journals, evidence packs and logs (``$XDG_STATE_HOME/closeout`` on Linux)."""
    return ensure_private_dir(platformdirs.user_state_path(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The token cache (``$XDG_DATA_HOME/closeout`` on Linux)."""
    return ensure_private_dir(platformdirs.user_data_path(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Log files: ``state_dir()/logs`` (kept beside the journals they explain)."""
    return ensure_private_dir(state_dir() / "logs")


def tenant_dir(tenant_id: str, *, root: Path | None = None) -> Path:
    """``<state>/tenants/<tenant id>``, created 0700. ``root`` replaces the state directory."""
    name = normalize_tenant_id(tenant_id)
    base = ensure_private_dir(root) if root is not None else state_dir()
    tenants = ensure_private_dir(base / "tenants")
    return ensure_private_dir(tenants / name)


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
    fsync, for callers that write several files and sync the directory once.
    """
    path = Path(path)
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
