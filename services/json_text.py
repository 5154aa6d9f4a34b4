"""JSON documents too big to hold twice: written in pieces, one list element per line, and one
top-level member read back without decoding the rest.

A 100,000-user inventory is 40 MB of JSON. ``json.dumps(doc, indent=2)`` renders it through
json's pure-Python encoder (with ``indent`` the C one is not used), which holds millions of
pieces before joining them: hundreds of MB. Here every value is rendered by the C encoder, and
a top-level list is written one element per line, so memory stays at one element's text::

    {
      "tenant": {"id": "…", …},
      "users": [
        {"id": "…", "upn": "…", …},
        {"id": "…", "upn": "…", …}
      ]
    }

The text is ordinary JSON (``json.loads`` reads it); :func:`read_member` relies on the layout
only to skip what it does not need, and falls back to decoding the whole document otherwise.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .paths import private_file_writer
from .textsafe import json_loads

__all__ = ["chunks", "dumps", "read_member", "write_private_chunks"]


def dumps(value: Any) -> str:
    """One value as compact-ish JSON text (``", "`` and ``": "``), by the C encoder."""
    return json.dumps(value, ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _is_list(value: Any) -> bool:
    return not isinstance(value, str | bytes | dict) and isinstance(value, Iterable)


def chunks(members: Iterable[tuple[str, Any]]) -> Iterator[str]:
    """The text of the object ``members`` (key, value) make, a line or an element at a time.

    A value that is a list, tuple or other iterable (a generator: rendered as it is consumed)
    is written one element per line; anything else on the member's own line.
    """
    yield "{"
    for i, (key, value) in enumerate(members):
        yield ("," if i else "") + f"\n  {dumps(key)}: "
        if _is_list(value):
            empty = True
            for j, item in enumerate(value):
                yield ("[\n    " if j == 0 else ",\n    ") + dumps(item)
                empty = False
            yield "[]" if empty else "\n  ]"
        else:
            yield dumps(value)
    yield "\n}\n"


def write_private_chunks(path: Path, pieces: Iterable[str]) -> None:
    """Write ``pieces`` (text) to ``path`` atomically with mode 0600 (see private_file_writer)."""
    with private_file_writer(path) as fh:
        buffer: list[str] = []
        size = 0
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size >= 1 << 16:
                fh.write("".join(buffer).encode("utf-8"))
                buffer, size = [], 0
        fh.write("".join(buffer).encode("utf-8"))


def read_member(path: Path, key: str) -> Any:
    """The top-level member ``key`` of the JSON object in ``path`` (None if absent), strings
    neutralised as :func:`services.textsafe.json_loads` does.

    In a file laid out as :func:`chunks` (or ``json.dumps(indent=2)``) writes it, only that
    member's lines are decoded; any other layout is decoded whole. Raises OSError or
    ValueError as reading and decoding do.
    """
    head = f"  {json.dumps(key)}: ".encode()
    with Path(path).open("rb") as fh:
        first = fh.readline()
        if first.strip() != b"{":
            return _whole(path, key)
        for line in fh:
            if not line.startswith(head):
                continue
            rest = line[len(head) :].rstrip(b"\r\n")
            if rest.rstrip(b",") != b"[" and rest.rstrip(b",") != b"{":
                return json_loads(rest.rstrip(b","))
            closing = b"  " + (b"]" if rest.startswith(b"[") else b"}")
            body = [rest]
            for inner in fh:
                stripped = inner.rstrip(b"\r\n")
                body.append(stripped)
                if stripped.rstrip(b",") == closing:
                    return json_loads(b"\n".join(body).rstrip(b","))
            return _whole(path, key)
    return _whole(path, key)


def _whole(path: Path, key: str) -> Any:
    data = json_loads(Path(path).read_bytes())
    return data.get(key) if isinstance(data, dict) else None
