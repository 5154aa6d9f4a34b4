"""The user's language: English or Swedish, from ``--lang`` or the locale, via gettext.

Catalogues live in ``services/locale/<lang>/LC_MESSAGES/closeout.po`` (the source) and ``.mo``
(compiled by ``python -m scripts.i18n compile``). Every user-facing string in services, app
and widgets goes through :func:`_` so one switch changes them all; a string kept in a table and
translated later through a variable (``_(STATUS_WORDS[status])``) is marked where it is written with
:func:`N_`, so that ``python -m scripts.i18n extract`` finds it.
"""

from __future__ import annotations

import gettext
import locale
import os
from pathlib import Path

DOMAIN = "closeout"
LOCALE_DIR = Path(__file__).parent / "locale"
SUPPORTED = ("en", "sv")

_translation: gettext.NullTranslations = gettext.NullTranslations()
_language = "en"


def detect_language() -> str:
    """``sv`` if the environment's locale is Swedish, else ``en``."""
    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(var, "")
        if value:
            return "sv" if value.lower().startswith("sv") else "en"
    try:
        code = locale.getlocale(locale.LC_MESSAGES)[0] or ""
    except (ValueError, AttributeError):
        code = ""
    return "sv" if code.lower().startswith("sv") else "en"


def set_language(lang: str | None) -> str:
    """Switch every later ``_()`` call to ``lang`` (None: from the locale). Returns the language."""
    global _translation, _language
    chosen = (lang or detect_language()).lower()
    if chosen not in SUPPORTED:
        raise ValueError(f"unsupported language {lang!r}; choose one of {', '.join(SUPPORTED)}")
    _language = chosen
    _translation = (
        gettext.NullTranslations()
        if chosen == "en"
        else gettext.translation(DOMAIN, localedir=LOCALE_DIR, languages=[chosen], fallback=True)
    )
    return chosen


def language() -> str:
    return _language


def _(message: str) -> str:
    return _translation.gettext(message)


def N_(message: str) -> str:
    """Mark ``message`` for translation without translating it now; ``_(message)`` does later."""
    return message


def ngettext(singular: str, plural: str, n: int) -> str:
    return _translation.ngettext(singular, plural, n)


def affirmative(answer: str) -> bool:
    """Whether ``answer`` to a yes/no question means yes: ``y``/``yes`` in every language, and
    the language's own words (Swedish ``j``/``ja``)."""
    word = answer.strip().casefold()
    # Translators: the answers meaning "yes" to a [y/N] question, separated by "|".
    words = {"y", "yes", *(w.strip().casefold() for w in _("y|yes").split("|"))}
    return bool(word) and word in words
