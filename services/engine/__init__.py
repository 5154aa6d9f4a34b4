"""The closure engine: reads the tenant, keeps the plan, assesses the steps from fresh Graph
reads and runs the ones an API allows. The headless CLI and the TUI both drive it. Which steps
there are, in which order, and how each is assessed and run, it takes from the step registry
(:mod:`services.steps.registry`), not from branches of its own.

A step is never "done" from its own actions: :meth:`Engine.assess` re-reads Graph. Steps whose
prerequisites hold may proceed while an earlier one waits on time or a person (step 4 while
subscriptions deprovision); step 5's cleanup needs steps 1–4 done, its checks green and the
typed initial domain.

The engine records (journal lines, the saved plan, the inventory backup, the evidence pack at
the end of a run) only while it is :attr:`Engine.recording`: it holds the tenant's journal open
for writing, which a ``--read-only`` session never does. Everything else it keeps in memory,
manual-check ticks included, so a read-only run leaves nothing a later real run would trust.

One class, :class:`Engine`, built in layers, one module each, each using only those below it:
:mod:`.state` (what it holds, its events, the steps' context), :mod:`.reading` (requirements,
the inventory, watching without a sign-in), :mod:`.planning` (the saved and the fresh plan),
:mod:`.records` (runs in the journal, settling writes left without an outcome, the evidence
pack), :mod:`.assessing` (manual checks, every step's state) and :mod:`.running` (running a
step, the last resort). This package's face is :class:`Engine` and
:class:`ConfirmationMismatch`.
"""

from __future__ import annotations

from .running import ConfirmationMismatch, Engine

__all__ = ["ConfirmationMismatch", "Engine"]
