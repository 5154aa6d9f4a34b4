"""The messages in the code: string literals marked with ``_()``, ``N_()`` and ``ngettext()``
(read with :mod:`ast`), and the ``{placeholders}`` a translation must keep."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from .layout import ROOT, SOURCE_DIRS
from .po import Entry

MARKERS = {"_": 1, "N_": 1, "ngettext": 2}  # marker name -> how many leading msgid arguments


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
