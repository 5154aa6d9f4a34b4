"""The journal's line format: record kinds and results, times, run ids, the token guard, and
how one record becomes one line (and back).

Every line is one JSON object with at least ``t`` (UTC, ISO-8601 with ms), ``run`` and ``kind``.
Nothing that looks like an access token is ever written: such a record is refused whole
(:func:`contains_token`). A line that is not a record closeout could have written is damaged
(:func:`_decode`), decided here once so that no reader has to guess.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import PurePath
from typing import Any

from services.models import ItemFinished
from services.textsafe import json_loads

__all__ = [
    "JOURNAL_NAME",
    "KINDS",
    "LOCK_NAME",
    "RESULTS",
    "SETTLED",
    "contains_token",
    "format_time",
    "new_run_id",
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
