"""The three commands: extract (code to template to catalogues), compile, check."""

from __future__ import annotations

from pathlib import Path

from .compiling import compiled
from .extraction import extract, placeholder_problems
from .layout import LANGUAGES, PLURAL_FORMS, ROOT, mo_path, po_path, pot_path
from .merging import merged_po_text, template_text
from .po import header_fields, read_po


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
