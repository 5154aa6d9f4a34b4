"""The sign-in screen: the device code large, the link clickable (OSC 8), a key that copies
the code (OSC 52, works over SSH in most terminals), the time left, and errors explained."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from services.i18n import _
from services.textsafe import neutralise
from widgets import DeviceCodePanel, TenantHeader

if TYPE_CHECKING:
    from services.auth.device_code import DeviceCodePrompt


class SignInScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy_code", _("Copy code"), id="copy-code"),
        Binding("u", "copy_link", _("Copy link"), id="copy-link"),
        Binding("r", "retry", _("New code"), id="retry"),
        Binding("q", "app.quit", _("Quit"), id="quit"),
    ]

    def __init__(self, *, sandbox: bool | None = None, rehearsal: bool = False) -> None:
        super().__init__(id="sign-in")
        self.sandbox = sandbox
        self.rehearsal = rehearsal
        self.prompt: DeviceCodePrompt | None = None
        self.failed = False

    def compose(self) -> ComposeResult:
        yield TenantHeader(id="tenant-header")
        with Vertical(id="sign-in-body"):
            yield Static(
                _("Sign in as a Global Administrator of the organization to close."),
                id="sign-in-title",
            )
            yield DeviceCodePanel(
                id="device-code", copy_hint=_("Press c to copy the code, u to copy the link.")
            )
            yield Static(_("Waiting for a sign-in code…"), id="sign-in-status", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DeviceCodePanel).display = False
        if self.sandbox is not None:
            self.query_one(TenantHeader).expect(sandbox=self.sandbox, rehearsal=self.rehearsal)

    def show_prompt(self, prompt: DeviceCodePrompt) -> None:
        self.prompt = prompt
        self.failed = False
        panel = self.query_one(DeviceCodePanel)
        panel.display = True
        # The sign-in service's words go on screen (the link as OSC 8): never a raw control.
        panel.show(
            neutralise(prompt.user_code), neutralise(prompt.verification_uri), prompt.expires_at
        )
        self.query_one("#sign-in-status", Static).update(
            _(
                "Open the link on any device, enter the code and sign in. This screen continues by itself."
            )
        )
        self.refresh_bindings()

    def show_error(self, message: str, hint: str | None) -> None:
        self.failed = True
        text = (
            message + (f"\n{hint}" if hint else "") + "\n" + _("Press r for a new code, q to quit.")
        )
        status = self.query_one("#sign-in-status", Static)
        status.update(text)
        status.add_class("error")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("copy_code", "copy_link"):
            return True if self.prompt is not None else None
        if action == "retry":
            return True if self.failed or self._expired() else None
        return True

    def _expired(self) -> bool:
        return self.query_one(DeviceCodePanel).expired if self.prompt else False

    def action_copy_code(self) -> None:
        if self.prompt:
            self.app.copy_to_clipboard(self.prompt.user_code)
            self.notify(_("Code copied (if your terminal allows OSC 52)."), timeout=3)

    def action_copy_link(self) -> None:
        if self.prompt:
            self.app.copy_to_clipboard(self.prompt.verification_uri)
            self.notify(_("Link copied (if your terminal allows OSC 52)."), timeout=3)

    def action_retry(self) -> None:
        self.query_one("#sign-in-status", Static).remove_class("error")
        self.app.start_sign_in()  # type: ignore[attr-defined]
