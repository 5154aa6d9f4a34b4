"""``closeout --rehearse FILE``: the TUI on a snapshot's replica, under a REHEARSAL banner.

The app is the real one, signing in through the device code flow to the replica it starts in
process; everything but the banner is as on a real run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Label

from app.closeout_app import CloseoutApp
from app.screens.sign_in import SignInScreen
from services.models import StepId, TenantInfo
from services.sandbox import Sandbox
from services.session import SessionOptions
from tests.support.commands import snapshot_of
from widgets import StepChecklist, TenantHeader

from .conftest import FAST, connected, sandbox_of, wait_for


class Host(App[None]):
    def __init__(self, header: TenantHeader) -> None:
        super().__init__()
        self.header = header

    def compose(self) -> ComposeResult:
        yield self.header


async def test_the_badge_says_rehearsal_before_and_after_sign_in() -> None:
    header = TenantHeader()
    app = Host(header)
    async with app.run_test() as pilot:
        header.expect(sandbox=True, rehearsal=True)
        await pilot.pause()
        badge = header.query_one("#tenant-badge", Label)
        assert header.badge_text == "REHEARSAL" and "REHEARSAL" in str(badge.render())
        assert header.has_class("-rehearsal") and not header.has_class("-sandbox")
        assert badge.styles.background == Color.parse(app.theme_variables["primary"])
        tenant = TenantInfo("t", "Contoso", "contoso.onmicrosoft.com", "global", None, None, True)
        header.set_tenant(replace(tenant, sandbox=True, rehearsal=True))
        await pilot.pause()
        assert header.badge_text == "REHEARSAL"
        header.set_tenant(replace(tenant, sandbox=True))
        await pilot.pause()
        assert header.badge_text == "SANDBOX" and not header.has_class("-rehearsal")


@pytest.mark.slow
async def test_the_tui_opens_the_replica_as_a_rehearsal(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=30, seed=3)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    monkeypatch.delenv("CLOSEOUT_ACCESS_TOKEN")
    options = SessionOptions(
        rehearse=path,
        demo_time_scale=FAST,
        demo_auto_approve=0.3,
        state_root=tmp_path / "state",
        use_token_cache=False,
    )
    app = CloseoutApp(options, watch=False)
    app.animation_level = "none"
    async with app.run_test(size=(120, 40)) as pilot:

        def sign_in_badge() -> str:
            screen = app.screen
            if not isinstance(screen, SignInScreen) or not screen.is_mounted:
                return ""
            return screen.query_one(TenantHeader).badge_text

        await wait_for(pilot, lambda: sign_in_badge() == "REHEARSAL", "the sign-in badge")
        await connected(pilot)
        header = app.main.query_one(TenantHeader)
        assert header.badge_text == "REHEARSAL" and header.has_class("-rehearsal")
        tenant = app.engine.caller.tenant if app.engine else None
        assert tenant is not None and tenant.rehearsal and tenant.id == sb.tenant_id
        # The replica, not the original: the original saw the snapshot's reads and nothing else.
        replica = sandbox_of(app)
        assert replica is not sb and replica.tenant_id == sb.tenant_id
        assert len(replica.tenant.users) == len(sb.tenant.users)
        # Everything else as on a real run: the checklist, the plan, the journal (in the
        # rehearsal's own folder).
        checklist = app.main.query_one(StepChecklist)
        assert checklist.selected is not None
        assert app.engine is not None and app.engine.plan is not None
        assert app.engine.plan.user_delete_ids() and app.engine.states[StepId.PREPARE]
        assert app.session is not None and app.session.state_root is not None
        assert (tmp_path / "state" / "rehearsals") in app.session.state_root.parents
        await pilot.press("q")
