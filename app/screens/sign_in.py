"""The sign-in screen and sign-in itself: the device code large, the link clickable (OSC 8),
a key that copies the code (OSC 52, works over SSH in most terminals), the time left, and
errors explained, with a key for a new code.

Its worker signs in and has the app connect (:meth:`~app.controller.Controller.connect`);
the app hears of success (``Connected``) and takes this screen off.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState, get_current_worker

from app.messages import DeviceCodeShown, SignedIn, SignInFailed
from services.errors import AuthError, CloseoutError
from services.exit_codes import exit_code_for
from services.i18n import _
from services.textsafe import neutralise
from widgets import DeviceCodePanel, TenantHeader

if TYPE_CHECKING:
    from app.controller import Controller
    from services.auth.device_code import DeviceCodePrompt

log = logging.getLogger("closeout.app")


class SignInScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy_code", _("Copy code"), id="copy-code"),
        Binding("u", "copy_link", _("Copy link"), id="copy-link"),
        Binding("r", "retry", _("New code"), id="retry"),
        Binding("q", "app.quit", _("Quit"), id="quit"),
        Binding("ctrl+c", "app.quit", _("Quit"), show=False),
    ]

    def __init__(self, controller: Controller) -> None:
        super().__init__(id="sign-in")
        self.controller = controller
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
        rehearsal = self.controller.options.rehearse is not None
        self.query_one(TenantHeader).expect(sandbox=self.targets_sandbox, rehearsal=rehearsal)

    @property
    def targets_sandbox(self) -> bool:
        """What the badge says before sign-in: a sandbox (the demo, a rehearsal's replica, a
        Graph URL on loopback), or Microsoft's cloud."""
        options = self.controller.options
        url = options.graph_url or ""
        return (
            options.demo
            or options.rehearse is not None
            or url.startswith(("http://127.", "http://localhost", "http://[::1]"))
        )

    # -- signing in ------------------------------------------------------------------------------

    def start(self) -> None:
        """Sign in and connect; again after a failure (a new code)."""
        self._sign_in()

    @work(
        thread=True,
        group="auth",
        exclusive=True,
        exit_on_error=False,
        name="sign-in",
        description="Sign in and connect",
    )
    def _sign_in(self) -> None:
        worker = get_current_worker()
        try:
            session = self.controller.open_session()
            if session.needs_device_code:
                prompt = session.start_device_code()
                self.post_message(DeviceCodeShown(prompt))
                session.wait_device_code(prompt, worker.cancelled_event)
                if worker.is_cancelled:
                    return
                if not session.auth.signed_in:
                    raise AuthError(_("The code expired before sign-in finished."))
            self.post_message(SignedIn())
            self.controller.connect(session)
        except CloseoutError as exc:
            # Quitting from here exits as headless would (5 for a wrong tenant or a rejected
            # token, 4 for a network error, ...).
            self.post_message(SignInFailed(exc.message, exc.hint, exit_code_for(exc)))

    def on_device_code_shown(self, message: DeviceCodeShown) -> None:
        self.show_prompt(message.prompt)

    def on_signed_in(self, message: SignedIn) -> None:
        self.query_one("#sign-in-status", Static).update(_("Signed in. Reading the tenant…"))

    def on_sign_in_failed(self, message: SignInFailed) -> None:
        self.controller.connect_failed(message.code)
        self.show_error(message.message, message.hint)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:
            error = event.worker.error
            log.error("sign-in failed", exc_info=error)
            self.show_error(f"{type(error).__name__}: {error}", None)

    # -- what the admin sees ---------------------------------------------------------------------

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
        self.start()
