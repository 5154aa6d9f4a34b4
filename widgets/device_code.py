"""The device-code sign-in panel: the code to type, where to type it, and how long it is valid.

Owns the presentation only: the screen requests the code, binds the copy key and reacts to
``DeviceCodePanel.Expired``. The URL is both visible text (to copy from a jump host with no
browser) and an OSC 8 hyperlink (to click where the terminal supports it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget
from textual.widgets import Static

from services.i18n import _


def spaced_code(code: str) -> str:
    """``ABCD1234`` → ``A B C D 1 2 3 4``: easier to read aloud and to type from."""
    return " ".join(code.strip())


def format_countdown(seconds: float) -> str:
    """``14:32``, or ``1:02:05`` from an hour up."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class DeviceCodePanel(Widget):
    """Shows a device code large and boxed, the verification URL, a countdown and a copy hint."""

    DEFAULT_CSS = """
    DeviceCodePanel {
        height: auto;
        & > Static { width: 1fr; }
        #device-code {
            width: auto;
            min-width: 24;
            padding: 1 4;
            margin: 1 0;
            border: heavy $accent;
            text-style: bold;
            content-align: center middle;
        }
        #device-expiry.-expired { color: $error; text-style: bold; }
        #device-hint { text-style: dim; }
    }
    """

    class Expired(Message):
        """The code shown has just expired; the screen should ask for a new one."""

    copy_hint: reactive[str] = reactive("")
    """E.g. "Press c to copy the code"; the screen owns the key, this only shows the text."""

    def __init__(
        self,
        *,
        copy_hint: str = "",
        clock: Callable[[], datetime] | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._user_code = ""
        self._uri = ""
        self._expires_at: datetime | None = None
        self._expired_sent = False
        self._timer: Timer | None = None
        self._ready = False
        """Set on mount, once the children exist (``is_mounted`` turns True only after
        ``on_mount`` has returned)."""
        self.set_reactive(DeviceCodePanel.copy_hint, copy_hint)

    @property
    def user_code(self) -> str:
        return self._user_code

    @property
    def verification_uri(self) -> str:
        return self._uri

    @property
    def expired(self) -> bool:
        return self._expires_at is not None and self._clock() >= self._expires_at

    @property
    def expiry_text(self) -> str:
        if self._expires_at is None:
            return ""
        left = (self._expires_at - self._clock()).total_seconds()
        if left <= 0:
            return _("expired: ask for a new code")
        return _("expires in {time}").format(time=format_countdown(left))

    @property
    def url_text(self) -> Text:
        """The URL as shown: plain text carrying an OSC 8 link to itself."""
        return Text(self._uri, Style(link=self._uri, underline=True)) if self._uri else Text()

    def compose(self) -> ComposeResult:
        yield Static(_("On any device with a browser, open:"), markup=False)
        yield Static(id="device-url", markup=False)
        yield Static(_("and enter this code:"), markup=False)
        yield Static(id="device-code", markup=False)
        yield Static(id="device-expiry", markup=False)
        yield Static(id="device-hint", markup=False)

    def on_mount(self) -> None:
        self._ready = True
        self._timer = self.set_interval(1.0, self._tick, pause=self._expires_at is None)
        self._refresh_all()

    def show(self, user_code: str, verification_uri: str, expires_at: datetime) -> None:
        """Show a new code; the countdown restarts from ``expires_at`` (naive means UTC)."""
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        self._user_code = user_code
        self._uri = verification_uri
        self._expires_at = expires_at
        self._expired_sent = False
        self._refresh_all()
        if self._timer is not None:
            self._timer.resume()

    def watch_copy_hint(self, hint: str) -> None:
        if self._ready:
            self.query_one("#device-hint", Static).update(Text(hint))

    def _refresh_all(self) -> None:
        if not self._ready:
            return
        self.query_one("#device-url", Static).update(self.url_text)
        self.query_one("#device-code", Static).update(Text(spaced_code(self._user_code)))
        self.query_one("#device-hint", Static).update(Text(self.copy_hint))
        self._tick()

    def _tick(self) -> None:
        expiry = self.query_one("#device-expiry", Static)
        expiry.update(Text(self.expiry_text))
        expired = self.expired
        expiry.set_class(expired, "-expired")
        if expired and not self._expired_sent:
            self._expired_sent = True
            if self._timer is not None:
                self._timer.pause()
            self.post_message(self.Expired())
