"""A ``.po`` compiled into GNU MO format, as CPython's Tools/i18n/msgfmt.py writes it."""

from __future__ import annotations

import struct
from pathlib import Path

from .layout import po_path
from .po import Entry, header_text, read_po


def mo_bytes(header: str, entries: list[Entry]) -> bytes:
    """The .mo for the translated, non-fuzzy, non-obsolete ``entries`` (and the header)."""
    messages: dict[bytes, bytes] = {b"": header.encode("utf-8")}
    for e in entries:
        if e.obsolete or not e.translated:
            continue
        key = e.msgid if e.msgid_plural is None else f"{e.msgid}\0{e.msgid_plural}"
        messages[key.encode("utf-8")] = "\0".join(e.msgstr).encode("utf-8")
    keys = sorted(messages)
    ids = strs = b""
    offsets = []
    for k in keys:
        offsets.append((len(ids), len(k), len(strs), len(messages[k])))
        ids += k + b"\0"
        strs += messages[k] + b"\0"
    count = len(keys)
    ids_table = 7 * 4
    strs_table = ids_table + count * 8
    ids_start = strs_table + count * 8
    strs_start = ids_start + len(ids)
    key_index, value_index = [], []
    for id_off, id_len, str_off, str_len in offsets:
        key_index += [id_len, id_off + ids_start]
        value_index += [str_len, str_off + strs_start]
    # magic, revision, count, offset of ids table, of strs table, hash table size and offset
    out = struct.pack("<7I", 0x950412DE, 0, count, ids_table, strs_table, 0, 0)
    out += struct.pack(f"<{len(key_index)}I", *key_index)
    out += struct.pack(f"<{len(value_index)}I", *value_index)
    return out + ids + strs


def compiled(root: Path, language: str) -> bytes:
    header, _comments, entries = read_po(po_path(root, language))
    return mo_bytes(header or header_text(language), entries)
