"""The catalogue entry and the PO format: reading a ``.po``/``.pot`` and writing it back the way
it was read (references by file only, lines folded at 79 columns)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .layout import DOMAIN, PLURAL_FORMS

WIDTH = 79


# -- the catalogue model ----------------------------------------------------------------------


@dataclass
class Entry:
    msgid: str
    msgid_plural: str | None = None
    msgstr: list[str] = field(default_factory=lambda: [""])
    references: list[tuple[str, int]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    comments: list[str] = field(default_factory=list)  # the translator's own "# " lines
    previous: str | None = None  # "#| msgid": what a fuzzy translation was made for
    obsolete: bool = False

    @property
    def translated(self) -> bool:
        return all(self.msgstr) and "fuzzy" not in self.flags


def header_text(language: str | None) -> str:
    lines = [
        f"Project-Id-Version: {DOMAIN}",
        "Report-Msgid-Bugs-To: ",
        f"Language: {language or ''}",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
        "Plural-Forms: "
        + (PLURAL_FORMS.get(language, "") if language else "nplurals=INTEGER; plural=EXPRESSION;"),
    ]
    return "".join(line + "\n" for line in lines)


def header_fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


# -- reading and writing PO files --------------------------------------------------------------


def _unquote(text: str) -> str:
    text = text.strip()
    if not (text.startswith('"') and text.endswith('"')):
        raise ValueError(f"not a quoted PO string: {text}")
    out, i, body = [], 0, text[1:-1]
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(escapes.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def read_po(path: Path) -> tuple[str | None, list[str], list[Entry]]:
    """(header msgstr, the header's comment lines, entries) of a PO file (nothing if absent)."""
    if not path.exists():
        return None, [], []
    return read_po_text(path.read_text(encoding="utf-8"), str(path))


def read_po_text(text: str, name: str = "<po>") -> tuple[str | None, list[str], list[Entry]]:
    """(header msgstr, the header's comment lines, entries) of a PO file's text."""
    entries: list[Entry] = []
    header: str | None = None
    header_comments: list[str] = []
    block: list[str] = []

    def finish(lines: list[str]) -> None:
        nonlocal header, header_comments
        if not any(line.strip() for line in lines):
            return
        e = Entry("", msgstr=[])
        e.obsolete = any(line.startswith("#~ msgid") for line in lines)
        keyword: str | None = None
        values: dict[str, str] = {}
        comments = []
        for raw in lines:
            line = raw[2:].lstrip() if raw.startswith("#~") else raw
            if not line.strip():
                continue
            if line.startswith("#:"):
                for ref in line[2:].split():
                    file, _sep, lineno = ref.rpartition(":")
                    if not lineno.isdigit():
                        file, lineno = ref, "0"
                    e.references.append((file, int(lineno)))
            elif line.startswith("#,"):
                e.flags |= {f.strip() for f in line[2:].split(",") if f.strip()}
            elif line.startswith("#|"):
                prev = line[2:].strip()
                if prev.startswith("msgid "):
                    e.previous = _unquote(prev[6:])
                elif prev.startswith('"') and e.previous is not None:
                    e.previous += _unquote(prev)
            elif line.startswith("#.") or line.startswith("#"):
                if line.startswith("# ") or line == "#":
                    comments.append(line[2:] if line.startswith("# ") else "")
            else:
                m = re.match(
                    r"(msgid_plural|msgid|msgctxt|msgstr(?:\[\d+\])?)\s+(\".*\")\s*$", line
                )
                if m:
                    keyword = m.group(1)
                    values[keyword] = _unquote(m.group(2))
                elif line.strip().startswith('"') and keyword is not None:
                    values[keyword] += _unquote(line)
                else:
                    raise ValueError(f"{name}: cannot read line: {raw!r}")
        if "msgid" not in values:
            return
        if "msgctxt" in values:
            raise ValueError(f"{name}: msgctxt is not supported ({values['msgid']!r})")
        e.msgid = values["msgid"]
        e.comments = comments
        if "msgid_plural" in values:
            e.msgid_plural = values["msgid_plural"]
            n = 0
            while f"msgstr[{n}]" in values:
                e.msgstr.append(values[f"msgstr[{n}]"])
                n += 1
        else:
            e.msgstr = [values.get("msgstr", "")]
        if e.msgid == "" and not e.obsolete:
            header, header_comments = e.msgstr[0], comments
        else:
            entries.append(e)

    for line in text.splitlines():
        if not line.strip():
            finish(block)
            block = []
        else:
            block.append(line)
    finish(block)
    return header, header_comments, entries


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("\r", "\\r")
    )


def _chunks(text: str, room: int) -> list[str]:
    """Escaped pieces of ``text``: split after each newline and at spaces to fit ``room``."""
    pieces: list[str] = []
    for line in re.split(r"(?<=\n)", text):
        if not line:
            continue
        words = re.split(r"(?<= )", line)
        current = ""
        for word in words:
            if current and len(_escape(current + word)) > room:
                pieces.append(_escape(current))
                current = ""
            current += word
        if current:
            pieces.append(_escape(current))
    return pieces


def _field(keyword: str, text: str, prefix: str = "") -> list[str]:
    one = f'{prefix}{keyword} "{_escape(text)}"'
    if len(one) <= WIDTH and "\n" not in text.rstrip("\n"):
        return [one]
    return [f'{prefix}{keyword} ""'] + [
        f'{prefix}"{piece}"' for piece in _chunks(text, WIDTH - len(prefix) - 2)
    ]


def _references(refs: Iterable[tuple[str, int]]) -> list[str]:
    # Files only, like xgettext --add-location=file: a line number would change the catalogues
    # (and fail the check) with every unrelated edit above a message.
    lines, current = [], "#:"
    for file in dict.fromkeys(file for file, _line in refs):
        ref = f" {file}"
        if len(current) + len(ref) > WIDTH and current != "#:":
            lines.append(current)
            current = "#:"
        current += ref
    if current != "#:":
        lines.append(current)
    return lines


def format_entry(e: Entry) -> list[str]:
    out = [f"# {c}".rstrip() for c in e.comments]
    prefix = "#~ " if e.obsolete else ""
    if not e.obsolete:
        out += _references(e.references)
    flags = sorted(e.flags, key=lambda f: (f != "fuzzy", f))
    if flags:
        out.append("#, " + ", ".join(flags))
    if e.previous is not None and not e.obsolete:
        out += _field("msgid", e.previous, "#| ")
    out += _field("msgid", e.msgid, prefix)
    if e.msgid_plural is not None:
        out += _field("msgid_plural", e.msgid_plural, prefix)
        for i, s in enumerate(e.msgstr):
            out += _field(f"msgstr[{i}]", s, prefix)
    else:
        out += _field("msgstr", e.msgstr[0], prefix)
    return out


def format_po(header: str, header_comments: list[str], entries: list[Entry]) -> str:
    blocks = [
        [f"# {c}".rstrip() for c in header_comments]
        + _field("msgid", "")
        + _field("msgstr", header)
    ]
    blocks += [format_entry(e) for e in entries]
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"
