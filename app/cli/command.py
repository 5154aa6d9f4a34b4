"""What a command is: its name, its help, the options it adds and the handler that runs it.

Each command module exports one :class:`Command`; :mod:`.commands` lists them in one tuple and
:mod:`.parser` turns that tuple into subparsers, so adding a command is one module plus its
entry. A handler returns the process's exit code. The modules that define commands stay light:
a handler imports the engine when it runs, not when the parser is built.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from services.errors import CloseoutError
from services.exit_codes import ExitCode

__all__ = ["Command", "UsageError"]


class UsageError(CloseoutError):
    """A bad combination of options (exit 2)."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    """Marked with ``N_``: translated when the parser is built, after the language is chosen."""
    run: Callable[[argparse.Namespace], ExitCode] | None = None
    """The handler; None for a group (``sandbox``), whose subcommands have one each."""
    configure: Callable[[argparse.ArgumentParser], None] | None = None
    """Adds the command's own options."""
    subcommands: tuple[Command, ...] = ()
    common_options: bool = True
    """Takes the sign-in, behaviour and demo options, and its ``--help`` ends with the exit
    codes and the environment variables."""
    logs: bool = True
    """Writes the log file under the state dir (the sandbox's commands do not)."""
    epilog: Callable[[], str] | None = None
    """Text after the options in ``--help`` (a command without the common options), computed
    only when that help is shown."""
