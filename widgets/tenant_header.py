"""The header naming the organization being closed, and whether it is a sandbox or production.

Owns the SANDBOX / PRODUCTION / REHEARSAL badge (REHEARSAL: a replica of a real tenant, built
from its snapshot, which nothing in it can change). The badge is a word, not only a colour: with ``NO_COLOR`` it
is also shown in reverse video, and in 16 colours it is black on yellow or white on red.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widget import Widget
from textual.widgets import Label, Static

from services.i18n import _
from services.models import TenantInfo


class TenantHeader(Widget):
    """Two lines: badge, tenant name and domain; cloud and who is signed in."""

    DEFAULT_CSS = """
    TenantHeader {
        height: 2;
        layout: horizontal;
        #tenant-badge {
            display: none;
            height: 2;
            padding: 0 1;
            margin-right: 1;
            content-align: center middle;
            text-style: bold;
        }
        &.-sandbox #tenant-badge {
            display: block;
            background: $warning;
            /* Fixed, not a theme colour: it must contrast with yellow in every theme. */
            color: black;
        }
        &.-production #tenant-badge {
            display: block;
            background: $error;
            color: white;
        }
        &.-rehearsal #tenant-badge {
            display: block;
            background: $primary;
            color: white;
        }
        &.-no-color #tenant-badge { text-style: bold reverse; }
        #tenant-info { width: 1fr; height: 2; }
    }
    """

    def __init__(
        self,
        tenant: TenantInfo | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._tenant = tenant
        self._expect_sandbox: bool | None = None
        self._expect_rehearsal = False
        self._ready = False
        """Set on mount, once the children exist (``is_mounted`` turns True only after
        ``on_mount`` has returned)."""

    @property
    def tenant(self) -> TenantInfo | None:
        return self._tenant

    @property
    def sandbox(self) -> bool | None:
        """Whether the target is a sandbox: from the tenant, or before sign-in as announced."""
        return self._tenant.sandbox if self._tenant is not None else self._expect_sandbox

    @property
    def rehearsal(self) -> bool:
        """Whether the target is a rehearsal's replica of a real tenant."""
        return self._tenant.rehearsal if self._tenant is not None else self._expect_rehearsal

    @property
    def badge_text(self) -> str:
        """``SANDBOX``, ``PRODUCTION``, ``REHEARSAL`` or "" when not known yet."""
        if self.sandbox is None:
            return ""
        if self.rehearsal:
            return _("REHEARSAL")
        return _("SANDBOX") if self.sandbox else _("PRODUCTION")

    @property
    def info_text(self) -> str:
        return self._info().plain

    def compose(self) -> ComposeResult:
        yield Label(id="tenant-badge")
        yield Static(id="tenant-info", markup=False)

    def on_mount(self) -> None:
        self._ready = True
        # Only the NoColor filter (ANSI themes) drops backgrounds; Monochrome keeps them as greys.
        self.set_class(self.app.no_color and self.app.native_ansi_color, "-no-color")
        self._show()

    def set_tenant(self, tenant: TenantInfo | None) -> None:
        self._tenant = tenant
        self._show()

    def expect(self, *, sandbox: bool, rehearsal: bool = False) -> None:
        """Before sign-in: show the badge of what closeout is about to connect to."""
        self._expect_sandbox = sandbox
        self._expect_rehearsal = rehearsal
        self._show()

    def _show(self) -> None:
        self.set_class(self.sandbox is True and not self.rehearsal, "-sandbox")
        self.set_class(self.sandbox is False, "-production")
        self.set_class(self.rehearsal, "-rehearsal")
        if self._ready:
            self.query_one("#tenant-badge", Label).update(self.badge_text)
            self.query_one("#tenant-info", Static).update(self._info())

    def _info(self) -> Text:
        tenant = self._tenant
        text = Text(no_wrap=True, overflow="ellipsis")
        if tenant is None:
            text.append(_("not signed in"), "bold")
            return text
        text.append(tenant.display_name or tenant.initial_domain, "bold")
        text.append("  ")
        text.append(tenant.initial_domain)
        text.append("\n")
        text.append(_("cloud: {cloud}").format(cloud=tenant.cloud))
        text.append(" · ")
        if tenant.app_only:
            text.append(_("app-only"))
        else:
            who = tenant.signed_in_upn or tenant.signed_in_id or _("unknown")
            text.append(_("signed in as {who}").format(who=who))
        return text
