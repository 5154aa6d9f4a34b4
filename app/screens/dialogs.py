"""Small modal screens with a typed result; the caller decides what to do with it.

``ConfirmModal`` names the count and the consequence ("Delete 4,812 users? They can be restored
for 30 days."), Cancel focused first. ``TypedConfirmModal`` guards the irreversible step 5: the
Delete button stays disabled until the initial domain is typed exactly. ``ManualChecksModal``
lets the admin tick the checks no API can make. Escape always cancels; nothing destructive is
ever bound to it.
"""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from services.i18n import _, affirmative


def yes_key() -> str:
    """The key that says yes in the app's language (Swedish ``j``); ``y`` always does too."""
    return _("y|yes").split("|")[0].strip() or "y"


class ConfirmModal(ModalScreen[bool]):
    """Yes/no with the consequence spelled out; ``y`` (or the language's own, Swedish ``j``)
    confirms, ``n``/Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="cancel"),
        Binding("n", "cancel", _("No"), show=False),
        Binding("y", "confirm", _("Yes"), id="confirm", key_display=yes_key()),
    ]

    def __init__(
        self,
        title: str,
        body: str,
        *,
        confirm_label: str | None = None,
        danger: bool = True,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._title = title
        self._body = body
        self._confirm_label = confirm_label or _("Confirm")
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self._title, classes="dialog-title")
            yield Static(self._body, classes="dialog-body", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel (Esc)"), id="cancel")
                yield Button(
                    f"{self._confirm_label} ({yes_key()})",
                    id="confirm",
                    variant="error" if self._danger else "primary",
                )
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def on_key(self, event: events.Key) -> None:
        # The language's own yes (Swedish j), which no binding holds: the bindings are made
        # when the module is imported, the language can be chosen later.
        if event.character and event.character != "y" and affirmative(event.character):
            event.stop()
            self.action_confirm()

    def action_cancel(self) -> None:
        self.dismiss(False)

    def action_confirm(self) -> None:
        self.dismiss(True)


class TypedConfirmModal(ModalScreen[bool]):
    """Type the initial domain to allow an irreversible action: step 5's cleanup by default,
    or (``title``, ``action``) another one, such as its last resort."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", _("Cancel"), id="cancel")]

    def __init__(
        self,
        domain: str,
        consequences: list[str],
        *,
        title: str | None = None,
        action: str | None = None,
        id: str = "typed-confirm",
    ) -> None:
        super().__init__(id=id)
        self.domain = domain
        self.consequences = consequences
        self.title_text = title or _("Delete the directory: this cannot be undone")
        self.action_text = action or _("Delete")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog danger"):
            yield Label(self.title_text, classes="dialog-title")
            # Scrolls if long: the domain box and the buttons stay in view at 80x24.
            with VerticalScroll(classes="consequences"):
                yield Static(
                    "\n".join(f"• {c}" for c in self.consequences),
                    classes="dialog-body",
                    markup=False,
                )
            yield Static(
                _("Type the initial domain {domain} to confirm:").format(domain=self.domain),
                markup=False,
            )
            yield Input(placeholder=self.domain, id="domain")
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel (Esc)"), id="cancel")
                yield Button(self.action_text, id="delete", variant="error", disabled=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#domain", Input).focus()

    @property
    def matches(self) -> bool:
        return self.query_one("#domain", Input).value == self.domain

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#delete", Button).disabled = not self.matches

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self.matches:
            self.dismiss(True)
        else:
            self.notify(_("That is not the initial domain."), severity="warning", timeout=3)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "delete" and self.matches:
            self.dismiss(True)
        elif event.button.id == "cancel":
            self.dismiss(False)

    def action_cancel(self) -> None:
        self.dismiss(False)


class WrappingCheckbox(Checkbox):
    """A checkbox whose label wraps onto as many lines as it needs: a check the admin
    certifies is read whole (Textual's is one line, cut with an ellipsis)."""

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        # Any widget's measure (its rendering's height at this width), not ToggleButton's 1.
        return Widget.get_content_height(self, container, viewport, width)


class ManualChecksModal(ModalScreen[set[str] | None]):
    """The admin's own confirmation of what no API can check (journalled by the caller)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", _("Cancel"), id="cancel"),
        Binding("ctrl+s", "save", _("Save"), id="save"),
    ]

    def __init__(
        self, items: dict[str, tuple[str, str]], ticked: set[str], *, recorded: bool = True
    ) -> None:
        super().__init__(id="manual-checks")
        self.items = items
        self.ticked = ticked
        self.recorded = recorded
        """False in a read-only session: the ticks are shown, and kept nowhere."""

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(_("Checks no API can make"), classes="dialog-title")
            yield Static(
                _("Tick each one only after you have checked it yourself."), classes="dialog-body"
            )
            if not self.recorded:
                yield Static(
                    _(
                        "Read-only: your ticks are not recorded. They show what step 5 would "
                        "say for this session only; a run without --read-only asks again."
                    ),
                    id="ticks-not-recorded",
                    classes="dialog-body warning",
                )
            for key, (label, where) in self.items.items():
                yield WrappingCheckbox(_(label), value=key in self.ticked, id=f"check-{key}")
                yield Static(_(where), classes="dim check-where", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(_("Cancel (Esc)"), id="cancel")
                yield Button(_("Save (Ctrl+S)"), id="save", variant="primary")
        yield Footer()

    def on_mount(self) -> None:
        self.query(Checkbox).first().focus()
        # Focusing scrolls a dialog taller than the screen (80x24) past its title and the
        # instruction to tick only what was checked; start at the top instead.
        self.call_after_refresh(self.query_one(".dialog").scroll_home, animate=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_save(self) -> None:
        self.dismiss({key for key in self.items if self.query_one(f"#check-{key}", Checkbox).value})

    def action_cancel(self) -> None:
        self.dismiss(None)


def quit_guard() -> ConfirmModal:
    """Asked when quitting while a step runs."""
    return ConfirmModal(
        _("A step is running"),
        _(
            "Stop it after the batches in flight and quit? Everything sent is recorded; the journal "
            "lets you resume later."
        ),
        confirm_label=_("Stop and quit"),
        id="quit-guard",
    )


STOP_GUARD_ID = "stop-guard"


def stop_guard() -> ConfirmModal:
    """Asked by the first Ctrl-C while a step runs (the second one stops at once)."""
    return ConfirmModal(
        _("Stop after the current batch?"),
        _(
            "The batches in flight finish and are recorded; nothing new is sent. Run the step "
            "again to continue. Ctrl-C again stops at once, between batches."
        ),
        confirm_label=_("Stop"),
        id=STOP_GUARD_ID,
    )
