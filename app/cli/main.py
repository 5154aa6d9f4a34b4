"""The ``closeout`` entry point: choose the language, parse, run the chosen command's handler,
and turn what ends it into a message and an exit code (never a traceback for an error a user
can cause)."""

from __future__ import annotations

import sys

from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for
from services.i18n import SUPPORTED, _, set_language

from .command import Command
from .parser import build_parser
from .process import say, setup_logging

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Before the parser is built, so that --help and usage errors speak the language too.
    set_language(_lang_option(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        set_language(getattr(args, "lang", None) or _lang_option(argv))
    except ValueError as exc:
        parser.error(str(exc))
    command: Command = args.handler
    assert command.run is not None, "a group's parser requires one of its subcommands"
    try:
        if command.logs:
            setup_logging(getattr(args, "state_dir", None))
        return command.run(args)
    except CloseoutError as exc:
        # A tenant that is gone ends here too, with 0: the close-out's last step happened
        # (perhaps in an earlier run).
        say(f"closeout: {exc.message}")
        if exc.hint:
            say(f"  {exc.hint}")
        return exit_code_for(exc)
    except KeyboardInterrupt as exc:
        say(_("closeout: interrupted"))
        return exit_code_for(exc)
    except OSError as exc:
        say(f"closeout: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})")
        return ExitCode.USAGE


def _lang_option(argv: list[str]) -> str | None:
    """``--lang`` as given anywhere on the command line (a subcommand's parser resets an option
    given before the subcommand to its own default)."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else None
        if arg.startswith("--lang="):
            value = arg.partition("=")[2]
        if value in SUPPORTED:
            return value
    return None
