"""English and Swedish (design.md §10): the catalogue is complete, compiled and consistent with
the code, and ``--lang``, the locale and ``set_language`` switch every user-facing string.

The catalogue checks run ``python -m scripts.i18n check`` in-process, so CI fails when a string
is added without a translation, a translation is fuzzy or breaks a ``{placeholder}``, or the
``.mo`` was not recompiled.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.cli import main
from scripts.i18n.commands import check, cmd_extract
from scripts.i18n.compiling import mo_bytes
from scripts.i18n.extraction import extract, placeholder_problems
from scripts.i18n.layout import ROOT, po_path, pot_path
from scripts.i18n.merging import merge
from scripts.i18n.po import Entry, format_po, header_text, read_po, read_po_text
from services.i18n import _, language, ngettext, set_language
from services.sandbox import Sandbox

# The article's Swedish step names ("Avsluta ditt konto"), without the "Steg N:" prefix.
SWEDISH_STEPS = (
    "Innan du börjar",
    "Ta bort användare",
    "Avbryt aktiva prenumerationer",
    "Ta bort inaktiverade prenumerationer",
    "Inaktivera multifaktorautentisering",
    "Ta bort katalogen",
)
ENGLISH_STEPS = (
    "Before you begin",
    "Delete users",
    "Cancel active subscriptions",
    "Delete disabled subscriptions",
    "Disable multifactor authentication",
    "Delete the directory",
)
LOCALE_VARS = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")


@pytest.fixture(autouse=True)
def _english_afterwards() -> Iterator[None]:
    """The language is process-wide: leave it English for the tests that follow."""
    yield
    set_language("en")


@pytest.fixture
def swedish_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "sv_SE.UTF-8")


@pytest.fixture
def english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in LOCALE_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


def _sv_entries() -> list[Entry]:
    _header, _comments, entries = read_po(po_path(ROOT, "sv"))
    return [e for e in entries if not e.obsolete]


# -- the catalogue --------------------------------------------------------------------------------


def test_catalogues_are_complete_and_compiled() -> None:
    """What ``python -m scripts.i18n check`` checks: fix with extract, translate, compile."""
    assert check() == []


def test_every_message_in_the_code_has_a_swedish_translation() -> None:
    template, problems = extract()
    assert problems == []
    assert len(template) > 400, "extraction found suspiciously few messages"
    translated = {e.msgid for e in _sv_entries() if e.translated}
    assert [t.msgid for t in template if t.msgid not in translated] == []


def test_translations_keep_the_placeholders() -> None:
    bad = {e.msgid: placeholder_problems(e) for e in _sv_entries()}
    assert {k: v for k, v in bad.items() if v} == {}


def test_placeholder_check_catches_a_renamed_or_dropped_field() -> None:
    renamed = Entry("{n:,} users", msgstr=["{count:,} användare"])
    dropped = Entry("Delete {n:,} users?", msgstr=["Ta bort användare?"])
    spec = Entry("{n:,} users", msgstr=["{n} användare"])
    fine = Entry("{done}/{total}", msgstr=["{done}/{total}"])
    assert placeholder_problems(renamed)
    assert placeholder_problems(dropped)
    assert placeholder_problems(spec)
    assert placeholder_problems(fine) == []


@pytest.mark.parametrize("language", ["en", "sv"])
def test_status_words_fit_the_status_column(language: str) -> None:
    """The tables' status column is STATUS_WIDTH cells wide; the words shown there must fit,
    in English and in Swedish."""
    from app.screens.remaining import STATUS_WIDTH
    from widgets.remaining_table import status_label

    set_language(language)
    keys = ("pending", "queued", "running", "deleting", "deleted", "done", "gone", "failed")
    keys += ("skipped", "not-sent", "unknown", "kept", "kept-mfa", "active", "expired")
    keys += ("disabled", "report")
    too_wide = {k: status_label(k) for k in keys if len(status_label(k)) > STATUS_WIDTH}
    assert too_wide == {}


def test_short_step_names_fit_the_narrow_checklist() -> None:
    from services.models import StepId
    from widgets.checklist import step_short_name

    set_language("sv")
    assert all(len(step_short_name(s)) <= 11 for s in StepId)


# -- the tool itself ------------------------------------------------------------------------------


def test_extract_finds_every_marker_form(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "m.py").write_text(
        "from services.i18n import N_, _, ngettext\n"
        'A = N_("marked")\n'
        'b = _("one " "literal")\n'
        'c = ngettext("{n} file", "{n} files", 2)\n'
        "d = _(A)\n"
        'e = _(f"{b} never")\n',
        encoding="utf-8",
    )
    entries, problems = extract(tmp_path)
    assert [(e.msgid, e.msgid_plural) for e in entries] == [
        ("marked", None),
        ("one literal", None),
        ("{n} file", "{n} files"),
    ]
    assert len(problems) == 1 and "f-string" in problems[0]


def test_the_catalogues_do_not_follow_the_code_around(tmp_path: Path) -> None:
    """Entries by msgid, references by file: code moved within a file, or messages added in
    two places, leave every other entry where it was (no merge conflicts between branches)."""
    code = tmp_path / "services" / "m.py"
    code.parent.mkdir()

    def extracted(*lines: str) -> str:
        code.write_text("from services.i18n import _\n" + "\n".join(lines) + "\n")
        assert cmd_extract(tmp_path) == []
        return po_path(tmp_path, "sv").read_text(encoding="utf-8")

    first = extracted('a = _("Zebra")', 'b = _("Apple")', 'c = _("Mango")')
    moved = extracted("", "# moved down", 'c = _("Mango")', 'a = _("Zebra")', 'b = _("Apple")')
    assert moved == first
    assert first.index('"Apple"') < first.index('"Mango"') < first.index('"Zebra"')
    # A new message lands between its neighbours by msgid, not at the end or beside its code.
    grown = extracted('a = _("Zebra")', 'b = _("Apple")', 'c = _("Mango")', 'd = _("Banana")')
    assert grown.index('"Apple"') < grown.index('"Banana"') < grown.index('"Mango"')


def test_merge_keeps_translations_and_marks_changes() -> None:
    old = [
        Entry("Delete users", msgstr=["Ta bort användare"]),
        Entry("Delete the directory.", msgstr=["Ta bort katalogen."]),
        Entry("Gone for good", msgstr=["Borta"]),
    ]
    new = [Entry("Delete users"), Entry("Delete the directory!")]
    merged = {e.msgid: e for e in merge(new, old, nplurals=2)}
    assert merged["Delete users"].msgstr == ["Ta bort användare"]
    assert merged["Delete users"].translated
    changed = merged["Delete the directory!"]
    assert "fuzzy" in changed.flags and changed.msgstr == ["Ta bort katalogen."]
    assert merged["Gone for good"].obsolete
    assert "Gone for good" not in {
        e.msgid for e in merge(new, old, nplurals=2, keep_obsolete=False)
    }


def test_the_catalogue_reads_and_writes_back_unchanged() -> None:
    """extract rewrites the .po through this reader and writer: they must not lose anything."""
    for path in (pot_path(ROOT), po_path(ROOT, "sv")):
        text = path.read_text(encoding="utf-8")
        header, comments, entries = read_po_text(text)
        assert format_po(header or "", comments, entries) == text


def test_po_round_trip_and_mo_readable_by_gettext() -> None:
    entries = [
        Entry("Delete users", msgstr=["Ta bort användare"], references=[("a.py", 1)]),
        Entry("Delete {n:,} user?", "Delete {n:,} users?", ["Ta bort {n:,} användare?"] * 2),
        Entry('Quote " and\nnewline', msgstr=['Citat " och\nny rad']),
        Entry("Untranslated"),
    ]
    header = header_text("sv")
    text = format_po(header, ["test"], entries)
    read_header, _comments, read = read_po_text(text)
    assert read_header == header
    assert [(e.msgid, e.msgid_plural, e.msgstr) for e in read] == [
        (e.msgid, e.msgid_plural, e.msgstr) for e in entries
    ]
    t = gettext.GNUTranslations(io.BytesIO(mo_bytes(header, read)))
    assert t.gettext("Delete users") == "Ta bort användare"
    assert t.ngettext("Delete {n:,} user?", "Delete {n:,} users?", 5) == "Ta bort {n:,} användare?"
    assert t.gettext('Quote " and\nnewline') == 'Citat " och\nny rad'
    assert t.gettext("Untranslated") == "Untranslated"


# -- switching the language -----------------------------------------------------------------------


def test_set_language_switches_and_restores() -> None:
    assert set_language("sv") == "sv"
    assert language() == "sv"
    assert _("Delete users") == "Ta bort användare"
    assert ngettext("Delete {n:,} user?", "Delete {n:,} users?", 2).format(n=2) == (
        "Vill du ta bort 2 användare?"
    )
    assert set_language("en") == "en"
    assert _("Delete users") == "Delete users"
    assert ngettext("Delete {n:,} user?", "Delete {n:,} users?", 1).format(n=1) == "Delete 1 user?"


def test_language_from_the_locale(monkeypatch: pytest.MonkeyPatch, swedish_locale: None) -> None:
    assert set_language(None) == "sv"
    assert _("Delete the directory") == "Ta bort katalogen"
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert set_language(None) == "en"
    assert _("Delete the directory") == "Delete the directory"


def test_cli_lang_sv_speaks_swedish(
    english_locale: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # `run` without --headless is a usage error, reported before anything is contacted.
    assert main(["--lang", "sv", "run", "--state-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "closeout run kräver --headless" in err
    assert "needs --headless" not in err
    assert main(["run", "--lang", "sv", "--state-dir", str(tmp_path)]) == 2
    assert "closeout run kräver --headless" in capsys.readouterr().err


def test_cli_language_from_the_locale(
    swedish_locale: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--state-dir", str(tmp_path)]) == 2
    assert "closeout run kräver --headless" in capsys.readouterr().err
    # --lang wins over the locale.
    assert main(["--lang", "en", "run", "--state-dir", str(tmp_path)]) == 2
    assert "closeout run needs --headless" in capsys.readouterr().err


def test_cli_help_and_argument_errors_in_swedish(
    english_locale: None, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_help:
        main(["--lang", "sv", "--help"])
    assert exit_help.value.code == 0
    out = capsys.readouterr().out
    assert "Avsluta en Microsoft 365-organisation, steg för steg, från en terminal." in out
    assert "avslutningskoder:" in out
    with pytest.raises(SystemExit) as exit_usage:
        main(["--lang", "sv", "--users", "many"])
    assert exit_usage.value.code == 2
    assert "'many' är inte ett heltal" in capsys.readouterr().err


def test_headless_status_uses_the_articles_swedish_step_names(
    sandbox: Sandbox,
    english_locale: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("CLOSEOUT_ACCESS_TOKEN", sandbox.issue_token())
    code = main(
        [
            "status",
            "--lang",
            "sv",
            "--graph-url",
            sandbox.base_url,
            "--authority",
            sandbox.authority,
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 3  # waiting: nothing has been done yet
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) >= 6
    for n, name in enumerate(SWEDISH_STEPS):
        assert any(line.startswith(f"{n} {name} ") for line in lines), (name, lines)
    out = "\n".join(lines)
    assert not any(name in out for name in ENGLISH_STEPS)
    assert "återstår" in out or "väntar på dig" in out
