"""The msal token cache, persisted to a private file (directory 0700, file 0600, atomic writes,
never through a symbolic link: :mod:`services.paths` makes the folder and writes the file)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import threading
from datetime import UTC, datetime
from pathlib import Path

import msal
import platformdirs

from services.errors import AuthError
from services.i18n import _
from services.paths import ensure_private_dir, refuse_symlink, write_private

__all__ = ["TokenCacheFile"]

log = logging.getLogger("closeout.auth")


class TokenCacheFile:
    """msal's serializable cache, persisted to a private file.

    The directory is kept at 0700 and the file at 0600. A write goes to a fresh temporary file
    (created with ``O_EXCL`` and mode 0600), is fsynced and then renamed over the old file, so
    a crash never leaves half a cache. A file that cannot be parsed is moved aside with a
    warning and the user simply signs in again. A symbolic link as the file or its folder is
    refused (:class:`~services.paths.SymlinkRefused`): tokens are neither read through it nor
    written into its target.
    """

    FILE_NAME = "msal_token_cache.json"

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else self.default_path()
        self.cache = msal.SerializableTokenCache()
        self._lock = threading.Lock()
        self.load()

    @classmethod
    def default_path(cls) -> Path:
        """``platformdirs.user_data_dir("closeout")/msal_token_cache.json`` (honours XDG_DATA_HOME)."""
        return Path(platformdirs.user_data_dir("closeout", appauthor=False)) / cls.FILE_NAME

    def _secure_directory(self) -> None:
        ensure_private_dir(self.path.parent)

    def load(self) -> None:
        """Read the file if there is one; a corrupt file is set aside, not fatal."""
        with self._lock:
            refuse_symlink(self.path.parent)
            refuse_symlink(self.path)
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                return
            except OSError as exc:
                raise AuthError(
                    _("Cannot read the token cache {path}: {error}").format(
                        path=self.path, error=exc.strerror or exc
                    ),
                    hint=_("check the file's owner and permissions, or delete it to sign in again"),
                ) from None
            try:
                state = json.loads(text) if text.strip() else {}
                if not isinstance(state, dict):
                    raise ValueError("not a JSON object")
                self.cache.deserialize(json.dumps(state))
            except ValueError as exc:
                self._set_aside(str(exc))
                return
            # An older or hand-copied file may be readable by others; tighten it now.
            with contextlib.suppress(OSError):
                self._secure_directory()
                if stat.S_IMODE(self.path.stat().st_mode) & 0o077:
                    self.path.chmod(0o600)

    def _set_aside(self, reason: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            self.path.replace(aside)
            aside.chmod(0o600)
        except OSError:
            aside = self.path
        log.warning(
            "The token cache %s could not be read (%s); it was moved to %s and you will be "
            "asked to sign in again.",
            self.path,
            reason[:100],
            aside,
        )
        self.cache = msal.SerializableTokenCache()

    def save(self) -> bool:
        """Write the cache if msal changed it; True if a write happened."""
        with self._lock:
            if not self.cache.has_state_changed:
                return False
            self._secure_directory()
            try:
                write_private(self.path, self.cache.serialize().encode("utf-8"))
            except BaseException:
                self.cache.has_state_changed = True  # still unsaved
                raise
            return True

    def __repr__(self) -> str:
        return f"TokenCacheFile({str(self.path)!r})"
