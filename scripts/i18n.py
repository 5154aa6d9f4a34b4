"""The gettext catalogues: extract, compile, check (plain Python, no gettext tools needed).

    python -m scripts.i18n extract   # code -> services/locale/closeout.pot, merged into the .po
    python -m scripts.i18n compile   # .po -> .mo (GNU MO format)
    python -m scripts.i18n check     # exit 1 if a translation is missing, fuzzy or stale

**extract** reads ``services/``, ``app/`` and ``widgets/`` with :mod:`ast` and collects the string
literals (implicit concatenations included) passed as the first argument of ``_()`` and ``N_()``
and as the singular and plural of ``ngettext()``. It rewrites the template and merges it into
each language's ``.po``: translations are kept, new messages get an empty one (or, when a vanished
message reads almost the same, its translation marked fuzzy), and vanished messages become
obsolete (``#~``; ``--no-obsolete`` drops them). Entries follow the code: by file, then line.

**check** fails on a message in the code without a translation, a fuzzy entry, a translation
whose ``{placeholders}`` differ from its message's (they are filled with ``str.format``), a
template whose messages are not the code's, or a ``.mo`` other than ``compile`` would write now.
References name files, not lines, so moving code around changes nothing here.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import re
import string
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("services", "app", "widgets")
LOCALE_DIR = Path("services") / "locale"
DOMAIN = "closeout"
LANGUAGES = ("sv",)
PLURAL_FORMS = {"sv": "nplurals=2; plural=(n != 1);"}
WIDTH = 79

MARKERS = {"_": 1, "N_": 1, "ngettext": 2}  # marker name -> how many leading msgid arguments


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


# -- extracting ------------------------------------------------------------------------------


def _literal(node: ast.expr) -> str | None:
    """A string constant, including ``"a" "b"`` (one constant in the AST) and ``"a" + "b"``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left), _literal(node.right)
        if left is not None and right is not None:
            return left + right
    return None


def source_files(root: Path = ROOT) -> list[Path]:
    return sorted(
        (path for name in SOURCE_DIRS for path in (root / name).rglob("*.py")),
        key=lambda path: path.relative_to(root).as_posix(),
    )


def extract(root: Path = ROOT) -> tuple[list[Entry], list[str]]:
    """Every marked message in the code, in order of first appearance; plus problems found."""
    entries: dict[str, Entry] = {}
    problems: list[str] = []
    for path in source_files(root):
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in MARKERS
        ]
        for call in sorted(calls, key=lambda n: (n.lineno, n.col_offset)):
            name = call.func.id  # type: ignore[attr-defined]
            want = MARKERS[name]
            texts = [_literal(a) for a in call.args[:want]]
            if any(isinstance(a, ast.JoinedStr) for a in call.args[:want]):
                problems.append(f"{rel}:{call.lineno}: {name}() of an f-string is never translated")
                continue
            if len(texts) < want or any(t is None for t in texts):
                # _(variable) is how strings marked with N_() elsewhere are translated.
                if name != "_" or not call.args:
                    problems.append(f"{rel}:{call.lineno}: {name}() without a string literal")
                continue
            msgid, plural = texts[0], (texts[1] if want == 2 else None)
            assert msgid is not None
            if not msgid:
                problems.append(f"{rel}:{call.lineno}: empty msgid")
                continue
            entry = entries.get(msgid)
            if entry is None:
                entry = entries[msgid] = Entry(
                    msgid, plural, ["", ""] if plural is not None else [""]
                )
            elif plural is not None and entry.msgid_plural not in (None, plural):
                problems.append(f"{rel}:{call.lineno}: {msgid!r} has two different plurals")
            elif plural is not None and entry.msgid_plural is None:
                entry.msgid_plural, entry.msgstr = plural, ["", ""]
            if (rel, call.lineno) not in entry.references:
                entry.references.append((rel, call.lineno))
            if placeholders(msgid) or (plural and placeholders(plural)):
                entry.flags.add("python-brace-format")
    return list(entries.values()), problems


# -- placeholders ----------------------------------------------------------------------------

_BRACES = re.compile(r"\{[^{}]*\}")


def placeholders(text: str) -> frozenset[str] | None:
    """The ``{field[!conv][:spec]}`` of a str.format template; None if it is not one."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return None
    fields = set()
    for _literal_text, name, spec, conversion in parsed:
        if name is not None:
            fields.add(
                "{"
                + name
                + (f"!{conversion}" if conversion else "")
                + (f":{spec}" if spec else "")
                + "}"
            )
    return frozenset(fields)


def placeholder_problems(entry: Entry) -> list[str]:
    sources = [entry.msgid] + [entry.msgid_plural or entry.msgid] * (len(entry.msgstr) - 1)
    problems = []
    for i, (source, target) in enumerate(zip(sources, entry.msgstr, strict=True)):
        if not target:
            continue
        want, got = placeholders(source), placeholders(target)
        if want is None or got is None:
            want_raw, got_raw = sorted(_BRACES.findall(source)), sorted(_BRACES.findall(target))
            if want_raw != got_raw:
                problems.append(f"braces {got_raw} in msgstr[{i}], msgid has {want_raw}")
        elif want != got:
            problems.append(f"placeholders {sorted(got)} in msgstr[{i}], msgid has {sorted(want)}")
    return problems


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


# -- merging -----------------------------------------------------------------------------------


def po_path(root: Path, language: str) -> Path:
    return root / LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def mo_path(root: Path, language: str) -> Path:
    return po_path(root, language).with_suffix(".mo")


def pot_path(root: Path) -> Path:
    return root / LOCALE_DIR / f"{DOMAIN}.pot"


def template_text(entries: list[Entry]) -> str:
    blank = [
        Entry(e.msgid, e.msgid_plural, [""] * len(e.msgstr), list(e.references), set(e.flags))
        for e in entries
    ]
    comments = [f"Messages of {DOMAIN}. Generated by python -m scripts.i18n extract: do not edit."]
    return format_po(header_text(None), comments, blank)


def merge(
    template: list[Entry], existing: list[Entry], *, nplurals: int, keep_obsolete: bool = True
) -> list[Entry]:
    """The template's entries, with the translations ``existing`` has for them."""
    old = {e.msgid: e for e in existing}
    used: set[str] = set()
    merged: list[Entry] = []
    for t in template:
        size = nplurals if t.msgid_plural is not None else 1
        e = Entry(t.msgid, t.msgid_plural, [""] * size, list(t.references), set(t.flags))
        prior = old.get(t.msgid)
        if prior is not None:
            used.add(prior.msgid)
            e.comments = list(prior.comments)
            e.flags |= prior.flags & {"fuzzy"}
            e.previous = prior.previous if "fuzzy" in prior.flags else None
            e.msgstr = _fit(prior.msgstr, size)
            if (prior.msgid_plural is None) != (t.msgid_plural is None) or (
                prior.msgid_plural not in (None, t.msgid_plural)
            ):
                e.flags.add("fuzzy")  # the plural changed: check the translation
        merged.append(e)
    # A message that changed a little (a typo fixed) keeps its old translation, marked fuzzy.
    vanished = [e for e in existing if e.msgid not in used and any(e.msgstr)]
    for e in merged:
        if any(e.msgstr) or not vanished:
            continue
        near = difflib.get_close_matches(e.msgid, [v.msgid for v in vanished], n=1, cutoff=0.8)
        if near:
            source = next(v for v in vanished if v.msgid == near[0])
            e.msgstr = _fit(source.msgstr, len(e.msgstr))
            e.flags.add("fuzzy")
            e.previous = source.msgid
    if keep_obsolete:
        for e in existing:
            if e.msgid not in used and any(e.msgstr):
                gone = Entry(e.msgid, e.msgid_plural, list(e.msgstr), comments=list(e.comments))
                gone.obsolete = True
                merged.append(gone)
    return merged


def _fit(values: list[str], size: int) -> list[str]:
    return (list(values) + [""] * size)[:size] if values else [""] * size


def ensure_header(header: str | None, language: str) -> str:
    """The existing header with the fields gettext needs set for ``language``."""
    wanted = header_fields(header_text(language))
    lines = (header or header_text(language)).splitlines()
    have = header_fields(header or "")
    out = []
    for line in lines:
        name = line.partition(":")[0].strip()
        if name in ("Language", "Content-Type", "Plural-Forms", "Content-Transfer-Encoding"):
            line = f"{name}: {wanted[name]}"
        out.append(line)
    for name, value in wanted.items():
        if name not in have and not any(line.startswith(name + ":") for line in out):
            out.append(f"{name}: {value}")
    return "".join(line + "\n" for line in out)


def nplurals_of(header: str) -> int:
    m = re.search(r"nplurals\s*=\s*(\d+)", header_fields(header).get("Plural-Forms", ""))
    return int(m.group(1)) if m else 2


def merged_po_text(root: Path, language: str, template: list[Entry], keep_obsolete: bool) -> str:
    header, comments, existing = read_po(po_path(root, language))
    header = ensure_header(header, language)
    if not comments:
        comments = [f"{language} translations of {DOMAIN}."]
    entries = merge(template, existing, nplurals=nplurals_of(header), keep_obsolete=keep_obsolete)
    return format_po(header, comments, entries)


# -- compiling (GNU MO format, like CPython's Tools/i18n/msgfmt.py) --------------------------------


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


# -- the commands ------------------------------------------------------------------------------


def cmd_extract(root: Path = ROOT, *, keep_obsolete: bool = True) -> list[str]:
    template, problems = extract(root)
    pot = pot_path(root)
    pot.parent.mkdir(parents=True, exist_ok=True)
    pot.write_text(template_text(template), encoding="utf-8")
    for language in LANGUAGES:
        path = po_path(root, language)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(merged_po_text(root, language, template, keep_obsolete), encoding="utf-8")
    return problems


def cmd_compile(root: Path = ROOT) -> None:
    for language in LANGUAGES:
        mo_path(root, language).write_bytes(compiled(root, language))


def check(root: Path = ROOT) -> list[str]:
    """Everything wrong with the catalogues; empty when they are complete and compiled."""
    template, problems = extract(root)
    pot = pot_path(root)
    wanted = {(t.msgid, t.msgid_plural) for t in template}
    have = {(e.msgid, e.msgid_plural) for e in read_po(pot)[2] if not e.obsolete}
    if wanted != have:
        problems.append(
            f"{pot.relative_to(root)} is out of date: run python -m scripts.i18n extract"
        )
    for language in LANGUAGES:
        po = po_path(root, language)
        rel = po.relative_to(root)
        if not po.exists():
            problems.append(f"{rel} is missing: run python -m scripts.i18n extract")
            continue
        header, _comments, entries = read_po(po)
        fields = header_fields(header or "")
        if fields.get("Language") != language:
            problems.append(f"{rel}: header says Language: {fields.get('Language')!r}")
        if "charset=utf-8" not in fields.get("Content-Type", "").lower():
            problems.append(f"{rel}: header is not Content-Type: text/plain; charset=UTF-8")
        if fields.get("Plural-Forms") != PLURAL_FORMS[language]:
            problems.append(f"{rel}: header Plural-Forms is not {PLURAL_FORMS[language]!r}")
        live = {e.msgid: e for e in entries if not e.obsolete}
        for t in template:
            e = live.get(t.msgid)
            if e is None:
                problems.append(
                    f"{rel}: no entry for {t.msgid!r}: run python -m scripts.i18n extract"
                )
            elif e.msgid_plural != t.msgid_plural:
                problems.append(f"{rel}: {t.msgid!r} has another plural in the code")
        for e in live.values():
            if "fuzzy" in e.flags:
                problems.append(f"{rel}: fuzzy: {e.msgid!r}")
            if not all(e.msgstr):
                problems.append(f"{rel}: untranslated: {e.msgid!r}")
            problems += [f"{rel}: {e.msgid!r}: {p}" for p in placeholder_problems(e)]
        mo = mo_path(root, language)
        if not mo.exists() or mo.read_bytes() != compiled(root, language):
            problems.append(f"{mo.relative_to(root)} is stale: run python -m scripts.i18n compile")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.i18n", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_extract = sub.add_parser(
        "extract", help="update the template and merge it into the .po files"
    )
    p_extract.add_argument("--no-obsolete", action="store_true", help="drop vanished messages")
    sub.add_parser("compile", help="write the .mo files")
    sub.add_parser("check", help="fail if a catalogue is incomplete, fuzzy or stale")
    args = parser.parse_args(argv)
    if args.command == "extract":
        problems = cmd_extract(keep_obsolete=not args.no_obsolete)
        for p in problems:
            print(f"warning: {p}", file=sys.stderr)
        template, _problems = extract()
        print(f"{len(template)} messages -> {pot_path(ROOT).relative_to(ROOT)}")
        return 0
    if args.command == "compile":
        cmd_compile()
        return 0
    problems = check()
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s) in the catalogues.", file=sys.stderr)
        return 1
    print("catalogues complete and compiled")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
