"""The gettext catalogues: extract, compile, check (plain Python, no gettext tools needed).

    python -m scripts.i18n extract   # code -> services/locale/closeout.pot, merged into the .po
    python -m scripts.i18n compile   # .po -> .mo (GNU MO format)
    python -m scripts.i18n check     # exit 1 if a translation is missing, fuzzy or stale

**extract** reads ``services/``, ``app/`` and ``widgets/`` with :mod:`ast` and collects the string
literals (implicit concatenations included) passed as the first argument of ``_()`` and ``N_()``
and as the singular and plural of ``ngettext()``. It rewrites the template and merges it into
each language's ``.po``: translations are kept, new messages get an empty one (or, when a vanished
message reads almost the same, its translation marked fuzzy), and vanished messages become
obsolete (``#~``; ``--no-obsolete`` drops them).

**check** fails on a message in the code without a translation, a fuzzy entry, a translation
whose ``{placeholders}`` differ from its message's (they are filled with ``str.format``), a
template whose messages are not the code's, or a ``.mo`` other than ``compile`` would write now.
References name files, not lines, and entries are in msgid order (obsolete ones last), not the
code's: moving code around changes nothing in the catalogues, and branches that add messages in
different places of the code do not conflict there.

The modules, one job each: :mod:`.layout` (where the files are), :mod:`.po` (the catalogue entry
and the PO format, read and written), :mod:`.extraction` (the messages in the code and their
placeholders), :mod:`.merging` (the template into each language's catalogue), :mod:`.compiling`
(``.po`` to ``.mo``), :mod:`.commands` (extract, compile, check) and ``__main__`` (the command
line).
"""
