"""Text from the tenant made safe to show: control characters become visible escapes.

Any user can register an application and name it, and names, UPNs and Graph's error messages
end up on the admin's terminal, in the log, the journal and the evidence pack. A raw ESC there
clears the screen, writes the clipboard (OSC 52) or plants a link (OSC 8); a bidi override
makes a name read differently from what it is. :func:`neutralise` turns every such character
into the escape Python itself would print for it (``\\x1b``, ``\\x9b``, ``\\u202e``), so the
text stays readable, greppable and unambiguous, and ordinary text (``Åsa Öberg``, CJK,
emoji) is left exactly as it is.

It is applied where Graph data enters the program (``GraphResponse.json``) and to every
error meant for the admin (``CloseoutError``), so everything downstream is safe by
construction. Nothing here knows about terminals or UIs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = [
    "UNSAFE",
    "json_loads",
    "looks_unsafe",
    "neutralise",
    "neutralise_data",
    "neutralise_optional",
]

UNSAFE = re.compile(
    "["
    "\x00-\x1f\x7f"  # C0 controls and DEL: ESC, BEL, NUL, CR, LF, TAB…
    "\x80-\x9f"  # C1 controls: U+009B is a one-character CSI on many terminals
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"  # Bidi_Control: marks, embeddings, overrides, isolates
    "\u2028\u2029"  # line and paragraph separators: a line break where none is expected
    "\ud800-\udfff"  # lone surrogates (JSON allows them; no terminal encoding does)
    "]"
)
"""Characters that must never reach an output as themselves."""

# UNSAFE as it can occur raw in JSON text: strict JSON allows no control character inside a
# string, so a raw tab, newline or carriage return can only be whitespace between tokens (the
# layout of an indented file) and says nothing about the strings.
_UNSAFE_RAW = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
    "\x80-\x9f"
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
    "\u2028\u2029"
    "\ud800-\udfff"
    "]"
)

# The same characters as JSON escapes, and the short escapes \b \f \n \r \t. A match may be a
# false alarm (an escaped backslash before "n"); a miss may not: the tests try every character.
_UNSAFE_ESCAPE = re.compile(
    r"\\(?:[bfnrt]|u(?:00[01][0-9a-fA-F]|00[89][0-9a-fA-F]|007[fF]|061[cC]|200[eEfF]"
    r"|202[89a-eA-E]|206[6-9]|[dD][89a-fA-F][0-9a-fA-F]{2}))"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def neutralise(text: str) -> str:
    """``text`` with every :data:`UNSAFE` character shown as its escape; idempotent."""
    if UNSAFE.search(text) is None:  # the common case: no new string, no substitution
        return text
    return UNSAFE.sub(_escape, text)


def neutralise_optional(value: object) -> str | None:
    """None stays None; anything else (a request id a tampered body made a number) as text."""
    return None if value is None else neutralise(str(value))


def neutralise_data(value: Any) -> Any:
    """Freshly decoded JSON with every string (keys included) neutralised, in place.

    Lists and dicts are changed where they hold something unsafe and returned (a dict whose
    keys change is a new dict), so a clean page of 999 users costs a scan and no copies.
    """
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, list):
        for i, item in enumerate(value):
            safe = neutralise_data(item)
            if safe is not item:
                value[i] = safe
        return value
    if isinstance(value, dict):
        if any(isinstance(k, str) and UNSAFE.search(k) for k in value):
            value = {neutralise(k) if isinstance(k, str) else k: v for k, v in value.items()}
        for key, item in value.items():
            safe = neutralise_data(item)
            if safe is not item:
                value[key] = safe
        return value
    return value


def looks_unsafe(text: str) -> bool:
    """Whether JSON text ``text`` may hold something :func:`json_loads` would neutralise (an
    unsafe character, raw or escaped; an escaped backslash before ``n`` is a false alarm)."""
    return _UNSAFE_RAW.search(text) is not None or (
        "\\" in text and _UNSAFE_ESCAPE.search(text) is not None
    )


def json_loads(raw: bytes, *, object_hook: Callable[[dict[str, Any]], Any] | None = None) -> Any:
    """``json.loads(raw)`` with every string neutralised.

    Most of Graph's bodies hold no unsafe character, raw or escaped; one scan of the text
    shows that and spares walking every string of a page of 999 users. ``object_hook`` is
    json's: it gets each object (already neutralised) as it is decoded.
    """
    try:
        text: str | None = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = None  # UTF-16/32 or encoded surrogates: json.loads knows what to do
    if (
        text is not None
        and _UNSAFE_RAW.search(text) is None
        and ("\\" not in text or _UNSAFE_ESCAPE.search(text) is None)
    ):
        return json.loads(text, object_hook=object_hook)
    if object_hook is None:
        return neutralise_data(json.loads(raw))
    hook = object_hook
    return neutralise_data(json.loads(raw, object_hook=lambda d: hook(neutralise_data(d))))
