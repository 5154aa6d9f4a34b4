"""Help (``?``): every key, and what each step does."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from services.i18n import N_, _

KEYS = [
    ("↑/↓, Enter", N_("choose a step; Enter opens its handoff when it waits on you")),
    ("r", N_("run the selected step (0: re-read and plan, 1: delete users, 4: turn MFA off)")),
    ("D", N_("step 5: delete the directory (needs steps 1–4 done and the typed initial domain)")),
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
    ("/", N_("filter the table; Esc clears")),
    ("t", N_("next table tab (users, subscriptions, apps, policies)")),
    ("g", N_("re-read everything from Graph")),
    ("n", N_("make a new plan (includes objects that appeared since)")),
    ("e", N_("export the evidence pack")),
    ("l", N_("change the log level")),
    ("A", N_("sandbox only: play the admin center's part of a handoff")),
    ("?", N_("this help")),
    ("q", N_("quit (asks first while a step runs; the journal lets you resume later)")),
]

STEPS = [
    (
        N_("0 Before you begin"),
        N_(
            "Signs you in, checks your roles and the permissions granted, reads everything and saves the inventory "
            "as the backup the article asks for. Users with mailbox or OneDrive data are listed: back them up first."
        ),
    ),
    (
        N_("1 Delete users"),
        N_(
            "If users are synchronized from on-premises AD, turns directory sync off, once (stop Entra Connect first). "
            "Deletes every user except you, in batches of 20: cloud-only ones at once, synchronized ones once they are "
            "converted (up to 72 hours). They can be restored for 30 days."
        ),
    ),
    (
        N_("2 Cancel active subscriptions"),
        N_(
            "No API can do this: closeout shows the link and the clicks, and watches until none is active. "
            "Partner-bought subscriptions: contact your partner."
        ),
    ),
    (
        N_("3 Delete disabled subscriptions"),
        N_(
            "Also in the admin center. A deleted subscription is deprovisioned after 72 hours; closeout counts down."
        ),
    ),
    (
        N_("4 Disable multifactor authentication"),
        N_(
            "Turns per-user MFA off for every remaining account except yours; reports security defaults and "
            "Conditional Access policies that require MFA (turned off only with the command-line flags)."
        ),
    ),
    (
        N_("5 Delete the directory"),
        N_(
            "Checks what the portal checks. After you type the initial domain: purges deleted users, deletes "
            "applications and service principals and empties the recycle bin of them. closeout's own app goes last: "
            "you delete it just before the tenant (or closeout does, with --delete-own-app). Then you select Delete "
            "in the Entra admin center; closeout watches until the tenant is gone, even once it can no longer sign in."
        ),
    ),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", _("Close"), id="close"),
        Binding("question_mark", "close", _("Close"), show=False),
        Binding("q", "close", _("Close"), show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id="help-body"):
            yield Static(_("Keys"), classes="dialog-title")
            for key, what in KEYS:
                yield Static(f"{key:<12} {_(what)}", markup=False)
            yield Static("")
            yield Static(_("The steps (Microsoft's 'Close your account')"), classes="dialog-title")
            for name, what in STEPS:
                yield Static(_(name), classes="help-step", markup=False)
                yield Static(_(what), classes="dialog-body", markup=False)
        yield Footer()

    def action_close(self) -> None:
        self.dismiss(None)
