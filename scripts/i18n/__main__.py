"""``python -m scripts.i18n extract|compile|check``."""

from __future__ import annotations

import argparse
import sys

from . import __doc__ as package_doc
from .commands import check, cmd_compile, cmd_extract
from .extraction import extract
from .layout import ROOT, pot_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.i18n", description=(package_doc or "").split("\n")[0]
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
