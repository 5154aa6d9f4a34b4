"""The snapshot file: one gzip-compressed JSON document, versioned, checked when it is read.

Layout (schema 1)::

    {"format": "closeout-snapshot", "schemaVersion": 1,
     "header": {tenantId, capturedAt, closeoutVersion, redacted, mfa, signedIn, clientId, cloud},
     "body": {organization, users, directoryRoles, subscribedSkus, subscriptions, applications,
              servicePrincipals, deletedUsers, deletedApplications, deletedServicePrincipals,
              securityDefaults,
              conditionalAccessPolicies, mfaStates, errors, stats},
     "sha256": <digest of the canonical JSON of format, schemaVersion, header and body>}

Written 0600 and atomically (:func:`services.paths.write_private`); never over an existing
file. The digest finds a file damaged or edited after it was written (gzip's own check finds a
truncated one); it is not a signature: whoever can write the file can write a new digest too.
Nothing shaped like an access token is ever written (:func:`services.journal.records.contains_token`):
such a snapshot is refused whole. Every way a file can be wrong ends in :class:`SnapshotError`,
one line saying what is wrong with it, exit 2.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from services.errors import CloseoutError
from services.i18n import _
from services.journal.records import contains_token
from services.paths import write_private
from services.textsafe import json_loads, neutralise

__all__ = [
    "FORMAT",
    "SCHEMA_VERSION",
    "Snapshot",
    "SnapshotError",
    "load_snapshot",
    "save_snapshot",
]

FORMAT = "closeout-snapshot"
SCHEMA_VERSION = 1
# Lists of Graph objects in the body: each item an object with a string id.
LIST_PARTS = (
    "users",
    "directoryRoles",
    "subscribedSkus",
    "subscriptions",
    "applications",
    "servicePrincipals",
    "deletedUsers",
    "deletedApplications",
    "deletedServicePrincipals",
    "conditionalAccessPolicies",
)
# A gzip bomb or a wrong file must not fill memory: 100,000 users are far below this.
MAX_BYTES = 2 * 1024**3


class SnapshotError(CloseoutError):
    """A snapshot file that cannot be used: damaged, changed, foreign or of another version."""


@dataclass(frozen=True)
class Snapshot:
    """A checked snapshot: what :func:`load_snapshot` returns and :func:`save_snapshot` writes."""

    header: dict[str, Any]
    body: dict[str, Any]

    @property
    def tenant_id(self) -> str:
        return str(self.header["tenantId"])

    @property
    def captured_at(self) -> datetime:
        return datetime.fromisoformat(str(self.header["capturedAt"]))

    @property
    def redacted(self) -> bool:
        return bool(self.header.get("redacted"))

    @property
    def signed_in_id(self) -> str | None:
        signed_in = self.header.get("signedIn") or {}
        value = signed_in.get("id") if isinstance(signed_in, Mapping) else None
        return str(value) if value else None

    def part(self, name: str) -> list[dict[str, Any]]:
        value = self.body.get(name)
        return list(value) if isinstance(value, list) else []


def _canonical(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _digest(doc: Mapping[str, Any]) -> str:
    signed = {k: doc[k] for k in ("format", "schemaVersion", "header", "body")}
    return hashlib.sha256(_canonical(signed)).hexdigest()


def encode(snapshot: Snapshot) -> bytes:
    """The file's bytes. Refuses (SnapshotError) a snapshot holding anything token-shaped."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "schemaVersion": SCHEMA_VERSION,
        "header": snapshot.header,
        "body": snapshot.body,
    }
    text = _canonical(doc)
    if contains_token(text.decode()):
        raise SnapshotError(
            _("Refusing to write the snapshot: a value in it looks like an access token."),
            _("Nothing was written. Report this: a snapshot must never hold a credential."),
        )
    doc["sha256"] = _digest(doc)
    # mtime=0: the same snapshot always gives the same bytes.
    return gzip.compress(_canonical(doc), compresslevel=6, mtime=0)


def save_snapshot(snapshot: Snapshot, path: Path) -> Path:
    """Write ``snapshot`` to ``path`` (0600, atomic); an existing file is never replaced."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise SnapshotError(
            _("{path} already exists; closeout does not overwrite it.").format(path=path),
            _("Choose another file with --out, or move the old one away."),
        )
    write_private(path, encode(snapshot))
    return path


def load_snapshot(path: Path) -> Snapshot:
    """Read and check a snapshot file; every problem is a :class:`SnapshotError` naming it."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            compressed = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise SnapshotError(_("No snapshot file {path}.").format(path=path)) from None
    except OSError as exc:
        raise SnapshotError(
            _("Cannot read {path}: {error}").format(path=path, error=exc.strerror or exc)
        ) from None
    return decode(compressed, str(path))


def decode(compressed: bytes, name: str) -> Snapshot:
    hint = _("Take a new one with: closeout snapshot")
    if len(compressed) > MAX_BYTES:
        raise SnapshotError(_("{path} is too large to be a snapshot.").format(path=name), hint)
    if compressed[:2] != b"\x1f\x8b":
        raise SnapshotError(
            _("{path} is not a closeout snapshot (not a gzip-compressed file).").format(path=name),
            hint,
        )
    try:
        raw = _gunzip(compressed)
    except (EOFError, OSError, zlib.error):
        raise SnapshotError(
            _("{path} is truncated or damaged: it does not decompress.").format(path=name), hint
        ) from None
    try:
        doc = json_loads(raw)
    except ValueError:
        raise SnapshotError(
            _("{path} is damaged: its content is not JSON.").format(path=name), hint
        ) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError(
            _("{path} is not a closeout snapshot.").format(path=name),
            _("closeout reads the files closeout snapshot writes."),
        )
    version = doc.get("schemaVersion")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError(_("{path} has no schema version.").format(path=name), hint)
    if version > SCHEMA_VERSION:
        raise SnapshotError(
            _(
                "{path} was written by a newer closeout (snapshot schema {found}); this one reads "
                "schema {supported}."
            ).format(path=name, found=version, supported=SCHEMA_VERSION),
            _("Update closeout, or take the snapshot again with this version."),
        )
    if version < SCHEMA_VERSION:
        raise SnapshotError(
            _(
                "{path} is an old snapshot (schema {found}); this closeout reads schema {supported}."
            ).format(path=name, found=version, supported=SCHEMA_VERSION),
            hint,
        )
    if not all(isinstance(doc.get(k), dict) for k in ("header", "body")):
        raise SnapshotError(_("{path} is incomplete.").format(path=name), hint)
    if doc.get("sha256") != _digest(doc):
        raise SnapshotError(
            _("{path} was changed after it was written: its checksum does not match.").format(
                path=name
            ),
            hint,
        )
    problem = _check(doc["header"], doc["body"])
    if problem is not None:
        raise SnapshotError(
            _("{path} is malformed: {problem}.").format(path=name, problem=neutralise(problem)),
            hint,
        )
    return Snapshot(header=doc["header"], body=doc["body"])


def _gunzip(compressed: bytes) -> bytes:
    """Decompress, refusing output beyond MAX_BYTES (a small file may expand enormously)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(compressed, MAX_BYTES + 1)
    if len(out) > MAX_BYTES:
        raise OSError("too large")
    if not inflater.eof or inflater.unused_data:
        # A stream cut short never reaches its end; bytes after it are not ours.
        raise EOFError("incomplete")
    return out


def _check(header: Mapping[str, Any], body: Mapping[str, Any]) -> str | None:
    """What is structurally wrong with a snapshot whose checksum matched, or None."""
    for key in ("tenantId", "capturedAt", "closeoutVersion"):
        if not isinstance(header.get(key), str) or not header[key]:
            return f"header.{key} is missing"
    try:
        captured = datetime.fromisoformat(header["capturedAt"])
    except ValueError:
        return "header.capturedAt is not a time"
    if captured.tzinfo is None:
        return "header.capturedAt has no time zone"
    org = body.get("organization")
    if not isinstance(org, dict) or org.get("id") != header["tenantId"]:
        return "body.organization does not name the tenant"
    for name in LIST_PARTS:
        items = body.get(name, [])
        if not isinstance(items, list):
            return f"body.{name} is not a list"
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                return f"body.{name}[{i}] has no id"
    for name in ("securityDefaults", "mfaStates", "errors"):
        if body.get(name) is not None and not isinstance(body.get(name), dict):
            return f"body.{name} is not an object"
    users = {u["id"] for u in body.get("users", [])}
    signed_in = header.get("signedIn")
    if isinstance(signed_in, dict) and signed_in.get("id") not in (None, *users):
        return "header.signedIn is not one of the users"
    return None
