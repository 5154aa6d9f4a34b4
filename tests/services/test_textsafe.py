"""The neutraliser: every control class shown visibly, every ordinary text left exactly as it is,
and the two boundaries that apply it (Graph's JSON bodies, errors meant for the admin)."""

from __future__ import annotations

import json

import pytest

from services.errors import AuthError, CloseoutError, GraphError
from services.graph.responses import GraphResponse
from services.textsafe import (
    UNSAFE,
    json_loads,
    neutralise,
    neutralise_data,
    neutralise_optional,
)

C0 = [chr(c) for c in range(0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
BIDI = [
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
]

CASES = [
    # (what, raw, shown)
    ("clear screen", "\x1b[2J\x1b[Hx", "\\x1b[2J\\x1b[Hx"),
    ("OSC 52 clipboard", "\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
    (
        "OSC 8 link",
        "\x1b]8;;https://e.example\x1b\\a\x1b]8;;\x1b\\",
        "\\x1b]8;;https://e.example\\x1b\\a\\x1b]8;;\\x1b\\",
    ),
    ("BEL and NUL", "a\x07b\x00c", "a\\x07b\\x00c"),
    ("line breaks and tab", "a\nb\rc\td", "a\\x0ab\\x0dc\\x09d"),
    ("DEL", "a\x7fb", "a\\x7fb"),
    ("C1 CSI", "\x9b2J", "\\x9b2J"),
    ("C1 OSC and ST", "\x9d0;t\x9c", "\\x9d0;t\\x9c"),
    ("NEL", "a\x85b", "a\\x85b"),
    ("RLO … PDF", "Invoice \u202egpj.exe\u202c", "Invoice \\u202egpj.exe\\u202c"),
    (
        "isolates",
        "\u2066a\u2069\u2067b\u2069\u2068c\u2069",
        "\\u2066a\\u2069\\u2067b\\u2069\\u2068c\\u2069",
    ),
    ("embeddings", "\u202aa\u202bb\u202dc", "\\u202aa\\u202bb\\u202dc"),
    ("marks", "a\u200eb\u200fc\u061cd", "a\\u200eb\\u200fc\\u061cd"),
    ("line and paragraph separators", "a\u2028b\u2029c", "a\\u2028b\\u2029c"),
    ("lone surrogate", "a\ud83db", "a\\ud83db"),
]

PLAIN = [
    "Anna Andersson",
    "anna.andersson@contoso.onmicrosoft.com",
    "Åsa Öberg",
    "Ærøskøbing Straße",
    "山田 太郎",
    "김민준",
    "Ελένη Παπαδοπούλου",
    "Иван Петров",
    "محمد الأحمد",  # right-to-left text itself is fine: only the controls are not
    "שלום",
    "नमस्ते",
    "👨‍👩‍👧 family (zero-width joiners)",
    "[red]x[/] [bold",  # Rich markup: the UI shows it literally, the neutraliser leaves it
    "=SUM(A1) +1 -2 @x",  # formulas are the CSV writer's business
    "CONTOSO\\user and \\x1b typed literally",
    "",
]


@pytest.mark.parametrize(("what", "raw", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_control_class_is_shown_visibly(what: str, raw: str, expected: str) -> None:
    assert neutralise(raw) == expected
    assert not UNSAFE.search(neutralise(raw))


@pytest.mark.parametrize("char", [*C0, "\x7f", *C1], ids=lambda c: f"U+{ord(c):04X}")
def test_every_c0_c1_and_del_character_becomes_a_hex_escape(char: str) -> None:
    assert neutralise(f"a{char}b") == f"a\\x{ord(char):02x}b"


@pytest.mark.parametrize("char", BIDI, ids=lambda c: f"U+{ord(c):04X}")
def test_every_bidi_control_becomes_a_unicode_escape(char: str) -> None:
    assert neutralise(f"a{char}b") == f"a\\u{ord(char):04x}b"


@pytest.mark.parametrize("text", PLAIN)
def test_ordinary_text_is_unchanged(text: str) -> None:
    assert neutralise(text) is text  # not even copied


def test_neutralising_twice_changes_nothing_more() -> None:
    for _, raw, _ in CASES:
        once = neutralise(raw)
        assert neutralise(once) == once


def test_the_result_always_encodes_and_prints() -> None:
    everything = "".join(C0 + C1 + BIDI) + "\ud800\udfff\u2028"
    neutralise(everything).encode("utf-8")  # a lone surrogate would raise here


def test_optional_values() -> None:
    assert neutralise_optional(None) is None
    assert neutralise_optional("a\x1bb") == "a\\x1bb"
    assert neutralise_optional(42) == "42"


def test_decoded_json_is_neutralised_throughout_and_left_alone_when_clean() -> None:
    data = json.loads(
        '{"value": [{"id": "6f1c", "displayName": "\\u001b[2JEvil", "n": 3, "ok": true,'
        ' "tags": ["a\\u009bb", null], "x\\u0007": "key"}], "@odata.nextLink": "https://g/x"}'
    )
    safe = neutralise_data(data)
    (item,) = safe["value"]
    assert item["displayName"] == "\\x1b[2JEvil"
    assert item["tags"] == ["a\\x9bb", None]
    assert item["x\\x07"] == "key" and "x\x07" not in item
    assert item["id"] == "6f1c" and item["n"] == 3 and item["ok"] is True
    assert safe["@odata.nextLink"] == "https://g/x"
    clean = {"value": [{"id": "1", "displayName": "Åsa Öberg"}]}
    assert neutralise_data(clean) is clean and clean == {
        "value": [{"id": "1", "displayName": "Åsa Öberg"}]
    }


UNSAFE_CODE_POINTS = [c for c in range(0x110000) if UNSAFE.match(chr(c))]


def test_every_unsafe_character_is_caught_raw_or_escaped_in_json() -> None:
    # The fast path skips the walk only when a scan finds nothing: prove the scan misses none.
    assert len(UNSAFE_CODE_POINTS) == 32 + 1 + 32 + 12 + 2 + 2048
    for c in UNSAFE_CODE_POINTS:
        for ascii_only in (True, False):
            body = json.dumps({f"k{chr(c)}": [f"x{chr(c)}y"]}, ensure_ascii=ascii_only)
            ((key, value),) = json_loads(body.encode("utf-8", "surrogatepass")).items()
            assert key == f"k{neutralise(chr(c))}" and value == [f"x{neutralise(chr(c))}y"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"a":"plain \xc3\x85sa"}', {"a": "plain Åsa"}),
        (b'{"a":"\\\\u001b literal"}', {"a": "\\u001b literal"}),  # an escaped backslash
        (b'{"a":"tab\\\\nnot"}', {"a": "tab\\nnot"}),
        (b'{"a":"esc \\u001b"}', {"a": "esc \\x1b"}),
        (b'{\n  "a": "\\u00f6 \\u001b"\n}', {"a": "ö \\x1b"}),  # pretty-printed
        (b'\xef\xbb\xbf{"a":"bom"}', {"a": "bom"}),
        ('{"a":"utf-16 \u202e"}'.encode("utf-16"), {"a": "utf-16 \\u202e"}),
    ],
)
def test_json_bodies_decode_as_json_would_only_neutralised(body: bytes, expected: object) -> None:
    assert json_loads(body) == expected


@pytest.mark.parametrize("body", [b"{", b'{"a":"\x1b"}', b"\xff{}"])
def test_bodies_that_are_not_json_raise_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        json_loads(body)


def _response(body: bytes, status: int = 200) -> GraphResponse:
    return GraphResponse(
        status=status,
        headers={},
        content=body,
        method="GET",
        path="/users",
        version="v1.0",
        request_id="r1",
        client_request_id="c1",
        duration_ms=1.0,
    )


def test_a_graph_body_enters_neutralised() -> None:
    resp = _response(
        '{"value": [{"id": "1", "displayName": "\\u001b]52;c;eA==\\u0007\u202eA", "upn": "山田"}]}'.encode()
    )
    (user,) = resp.json()["value"]
    assert user == {"id": "1", "displayName": "\\x1b]52;c;eA==\\x07\\u202eA", "upn": "山田"}


def test_graph_and_sign_in_errors_are_neutralised() -> None:
    body = {
        "error": {
            "code": "Denied\x1b[31m",
            "message": "\x1b[2JNo \u202eway\x9b",
            "innerError": {"request-id": "r\x07", "code": "x\x00"},
        }
    }
    for raw in (json.dumps(body).encode(), body):
        err = GraphError.from_parts(403, raw, {"request-id": "h"}, method="GET", path="/users")
        assert err.message == "\\x1b[2JNo \\u202eway\\x9b"
        assert err.code == "Denied\\x1b[31m"
        assert err.request_id == "r\\x07" and err.inner_code == "x\\x00"
        assert not UNSAFE.search(str(err))
    # A non-JSON body (a proxy's text) becomes the message: neutralised too.
    err = GraphError.from_parts(502, b"bad gateway \x1b[2J", {})
    assert not UNSAFE.search(str(err))
    # The sign-in service's descriptions reach the admin through AuthError.
    auth = AuthError("AADSTS50020: \x1b]8;;https://e.example\x07user", hint="try \x9b again")
    assert auth.message == "AADSTS50020: \\x1b]8;;https://e.example\\x07user"
    assert auth.hint == "try \\x9b again"
    assert str(CloseoutError("plain", "hint")) == "plain (hint)"
