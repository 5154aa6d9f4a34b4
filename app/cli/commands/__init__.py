"""The command registry: every subcommand, in the order ``--help`` lists them, and the TUI that
runs when no command is given. Adding a command: one module exporting a
:class:`~app.cli.command.Command`, and its entry here."""

from __future__ import annotations

from app.cli.command import Command

from .data_owners import DATA_OWNERS
from .export import EXPORT
from .plan import PLAN
from .rehearse import REHEARSE
from .run import RUN
from .sandbox import SANDBOX
from .snapshot import SNAPSHOT
from .status import STATUS
from .tui import TUI

__all__ = ["COMMANDS", "TUI"]

COMMANDS: tuple[Command, ...] = (PLAN, STATUS, DATA_OWNERS, EXPORT, RUN, SNAPSHOT, REHEARSE, SANDBOX)
