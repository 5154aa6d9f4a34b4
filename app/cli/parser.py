"""The argument parser, built from the command registry: the top-level options (the TUI's),
one subparser per command, usage errors as one line and a hint (exit 2); every ``--help`` ends
with :func:`.options.epilog` (exit codes, environment variables)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from typing import NoReturn

from services import __version__
from services.exit_codes import ExitCode
from services.i18n import _

from .command import Command
from .commands import COMMANDS, TUI
from .options import common_options, epilog

__all__ = ["build_parser", "epilog"]

_FORMAT = argparse.RawDescriptionHelpFormatter


class _Parser(argparse.ArgumentParser):
    lazy_epilog: Callable[[], str] | None = None
    """An epilog computed only when this parser's help is shown: it may need modules that
    building the parser must not load (``sandbox serve`` lists the sandbox's behaviours)."""

    def format_help(self) -> str:
        if self.lazy_epilog is not None:
            self.epilog, self.lazy_epilog = self.lazy_epilog(), None
        return super().format_help()

    def error(self, message: str) -> NoReturn:
        # argparse exits 2 on its own; keep that, but with one clear line and a hint.
        self.print_usage(sys.stderr)
        sys.stderr.write(
            _("closeout: error: {message}").format(message=message)
            + "\n"
            + _("(see closeout --help)")
            + "\n"
        )
        raise SystemExit(ExitCode.USAGE)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line. The chosen command's :class:`Command` is ``args.handler``."""
    ending = epilog()
    parser = _Parser(
        prog="closeout",
        description=_("Close a Microsoft 365 organization, step by step, from one terminal."),
        epilog=ending,
        formatter_class=_FORMAT,
        parents=[common_options()],
    )
    parser.add_argument("--version", action="version", version=f"closeout {__version__}")
    if TUI.configure is not None:
        TUI.configure(parser)
    parser.set_defaults(handler=TUI)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    _add_commands(sub, COMMANDS, common_options(suppress=True), ending)
    return parser


def _add_commands(
    sub: argparse._SubParsersAction[_Parser],
    commands: Iterable[Command],
    common: argparse.ArgumentParser,
    ending: str,
) -> None:
    for command in commands:
        if command.common_options:
            p = sub.add_parser(
                command.name,
                # typeshed wants parents of the subparser class; argparse only copies their
                # actions, so any ArgumentParser serves (the stub is narrower than argparse).
                parents=[common],  # type: ignore[list-item]
                help=_(command.help),
                epilog=ending,
                formatter_class=_FORMAT,
            )
        else:
            p = sub.add_parser(command.name, help=_(command.help), formatter_class=_FORMAT)
            p.lazy_epilog = command.epilog
        if command.configure is not None:
            command.configure(p)
        if command.subcommands:
            inner = p.add_subparsers(
                dest=f"{command.name}_command", parser_class=_Parser, required=True
            )
            _add_commands(inner, command.subcommands, common, ending)
        else:
            p.set_defaults(handler=command)
