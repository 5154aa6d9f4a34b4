"""closeout's exit codes, for the CLI, the headless run and the TUI alike: each code's value,
what it means (the table every ``--help`` ends with), and which code an error ends the process
with. Scripts depend on these numbers: a code is never reused for another meaning.

Light on purpose (the ``--help`` parser reads it): the error classes are imported only when an
error is mapped, by which time whatever raised it has loaded them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import TYPE_CHECKING

from .i18n import N_, _

if TYPE_CHECKING:
    from .models import StepId, StepState

__all__ = ["ExitCode", "exit_code_for", "exit_code_for_steps", "exit_codes_help"]


class ExitCode(IntEnum):
    DONE = 0
    USAGE = 2
    WAITING = 3
    FAILED = 4
    AUTH = 5
    BUSY = 6


MEANINGS: dict[ExitCode, str] = {
    ExitCode.DONE: N_("done: the tenant's deletion is confirmed"),
    ExitCode.USAGE: N_(
        "usage or configuration error (bad option, config, a --confirm-domain mismatch, a "
        "journal in the state dir that records another tenant, or no Graph at the Graph URL)"
    ),
    ExitCode.WAITING: N_(
        "waiting on a person or on time (a handoff, a 72-hour wait, --yes needed, a long wait "
        "Graph asked for, Graph out of reach, a stop)"
    ),
    ExitCode.FAILED: N_("some actions failed permanently (they are listed)"),
    ExitCode.AUTH: N_("sign-in, role or permission problem (named)"),
    ExitCode.BUSY: N_("another closeout process is changing this tenant (named); nothing was done"),
}


def exit_codes_help() -> str:
    """The exit-code table of ``--help``, in the current language."""
    lines = [_("exit codes:")]
    lines += [f"  {int(code)}  {_(MEANINGS[code])}" for code in ExitCode]
    return "\n".join(lines) + "\n"


def exit_code_for(exc: BaseException) -> ExitCode:
    """The code a process ends with when ``exc`` ends it (a CLI command, a headless run, or the
    TUI's connect). Anything not named here is a usage or configuration error."""
    from .deletion_evidence import TenantGone
    from .errors import AuthError, GraphError, LongWait, NetworkError, Stopped
    from .locks import TenantLocked

    if isinstance(exc, TenantGone):
        return ExitCode.DONE  # not an error: the close-out's last step happened
    if isinstance(exc, TenantLocked):
        return ExitCode.BUSY
    if isinstance(exc, AuthError):
        return ExitCode.AUTH
    if isinstance(exc, GraphError):
        return ExitCode.AUTH if exc.status in (401, 403) else ExitCode.FAILED
    if isinstance(exc, LongWait | Stopped):
        return ExitCode.WAITING  # nothing failed: run the same command again later
    if isinstance(exc, NetworkError):
        # Never reached: pointed at nothing (configuration). Reached before: an outage.
        if exc.reached is False:
            return ExitCode.USAGE
        return ExitCode.WAITING if exc.reached else ExitCode.FAILED
    if isinstance(exc, KeyboardInterrupt):
        return ExitCode.WAITING  # stopped: running the same command again continues
    return ExitCode.USAGE


def exit_code_for_steps(states: Mapping[StepId, StepState], *, gone: bool) -> ExitCode:
    """The code a process ends with when nothing ended it early (``closeout status``, the TUI
    quitting): done once the tenant is gone, 4 if a step failed, else waiting."""
    from .models import StepStatus
    from .steps import registry  # the steps' code: only once there are states to judge

    if registry.finished(states, gone=gone):
        return ExitCode.DONE
    if any(s.status == StepStatus.FAILED for s in states.values()):
        return ExitCode.FAILED
    return ExitCode.WAITING
