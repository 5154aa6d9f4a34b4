"""Regenerates screenshots/: real screenshots of the app on the sandbox tenant (fixed seed).

    python -m scripts.screenshots            # SVGs, plus PNGs when rsvg-convert is installed

Each scene starts the real app on an in-process sandbox (the same as ``closeout --demo``),
drives it with the keyboard through Textual's Pilot and saves what the terminal shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os


def main() -> None:
    parser = argparse.ArgumentParser(description="Regenerate screenshots/ from the sandbox")
    parser.add_argument("--only", help="one scene by name")
    parser.add_argument("--lang", choices=("en", "sv"), default="en")
    args = parser.parse_args()
    os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")
    from services.i18n import set_language

    # Before the app is imported: its key labels are translated at import.
    set_language(args.lang)
    from scripts.screenshot_scenes import run

    asyncio.run(run(args.only, args.lang))


if __name__ == "__main__":
    main()
