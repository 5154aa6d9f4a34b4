"""Help (``?``): every key, and what each step does (both read from the step registry)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from services.i18n import N_, _
from services.names import step_name
from services.steps import load_registry

# The keys "r" and "D" are described from the registry (see step_keys).
KEYS = [
    (
        "↑/↓, Enter",
        N_("choose a step; Enter does its next thing (run, handoff, manual checks, step 5)"),
    ),
    ("0 1 2 3 4 5", N_("jump to that step")),
    ("h", N_("show the selected step's handoff: link, click path, live watch")),
    ("m", N_("tick the checks no API can make (invoices, Azure, MFA providers, partners…)")),
    (
        "X",
        N_(
            "step 5, only after the portal refused Delete tenant: delete, then disable, every "
            "service principal, Microsoft's too (type the initial domain)"
        ),
    ),
    ("p / s", N_("pause or resume / stop the running step (between batches; nothing is lost)")),
    (
        "Ctrl-C",
        N_("during a run: stop it (asks first; a second Ctrl-C stops at once); else quit"),
    ),
    ("/", N_("filter the table; Esc clears")),
    ("t", N_("next table tab (users, subscriptions, apps, policies)")),
    ("← →", N_("in a table: the next or previous column, those beyond its edge too")),
    ("k", N_("keep the user under the cursor; again: keep its MFA too; again: unmark")),
    ("K", N_("keep every user the filter shows (again: take their marks off)")),
    ("g", N_("re-read everything from Graph")),
    ("n", N_("make a new plan (includes objects that appeared since)")),
    ("e", N_("export the evidence pack")),
    ("l", N_("change the log level (the log's title shows it)")),
    ("Tab", N_("next pane (the focused one has a heavy border)")),
    ("Enter", N_("on a log line or a table row (a handoff's too): show it whole")),
    ("A", N_("sandbox only: play the admin center's part of a handoff")),
    ("Ctrl-P", N_("the command palette: every action, with its key")),
    ("?", N_("this help")),
    ("q", N_("quit (asks first while a step runs; the journal lets you resume later)")),
]


def step_keys() -> list[tuple[str, str]]:
    """What ``r`` and ``D`` do, for the steps the registry says they run (translated)."""
    registry = load_registry()
    runs = ", ".join(
        f"{int(s.id)}: {_(s.run_label)}" for s in registry.STEPS if s.by_api and not s.typed_domain
    )
    typed = registry.typed()
    return [
        ("r", _("run the selected step ({steps})").format(steps=runs)),
        (
            "D",
            _("step {step}: {what} (needs steps {steps} done and the typed initial domain)").format(
                step=int(typed.id),
                what=_(typed.run_label),
                steps=_span([int(d) for d in typed.depends_on]),
            ),
        ),
    ]


def _span(numbers: list[int]) -> str:
    """``1–4`` for a run of three or more consecutive numbers, else ``1, 3``."""
    if len(numbers) >= 3 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"{numbers[0]}–{numbers[-1]}"
    return ", ".join(str(n) for n in numbers)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="close"),
        Binding("question_mark", "close", _("Close"), show=False),
        Binding("q", "close", _("Close"), show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="help-body"):
            yield Static(_("Keys"), classes="dialog-title")
            keys = [(key, _(what)) for key, what in KEYS]
            for key, what in keys[:1] + step_keys() + keys[1:]:
                yield Static(f"{key:<12} {what}", markup=False)
            yield Static("")
            yield Static(_("The steps (Microsoft's 'Close your account')"), classes="dialog-title")
            for step in load_registry().STEPS:
                yield Static(
                    f"{int(step.id)} {step_name(step.id)}", classes="help-step", markup=False
                )
                yield Static(_(step.help), classes="dialog-body", markup=False)
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
