"""scripts.screenshot_scenes.for_rsvg: the PNGs keep the spaces the terminal draws."""

from __future__ import annotations

from pathlib import Path

from scripts.screenshot_scenes import for_rsvg

SHOT = Path(__file__).parents[2] / "screenshots" / "main-80x24.svg"


def test_a_screenshot_is_converted_with_its_spaces_preserved() -> None:
    svg = SHOT.read_text(encoding="utf-8")
    # Textual starts a run of one style with its space: the log's level after the time.
    assert ">&#160;INFO" in svg
    ready = for_rsvg(svg)
    root = ready.split(">", 1)[0]
    assert root.startswith("<svg ") and 'xml:space="preserve"' in root
    assert ready.count("xml:space") == 1
    assert for_rsvg(ready) == ready  # converting again adds nothing
    assert ready.replace(' xml:space="preserve"', "", 1) == svg  # nothing else changes
