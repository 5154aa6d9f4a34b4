"""Issue 9, item 3 in the TUI: a tenant whose users, apps, policies, organization and SKUs are
named with terminal escapes, C1 controls, bidi overrides and Rich markup.

What the app would write to the terminal is rendered the way Textual writes it (the
compositor's full update, as ``App._display`` sends it to the driver) and checked: after the
app's own cursor moves and colours, no control character is left, and the header, footer and
checklist are all still there, with the hostile names shown visibly. The same on step 2's
handoff screen (a hostile SKU) and over step 5's typed confirmation (the tenant's hostile name
in the header and the log panel).
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from textual.widgets import TabbedContent

from app.closeout_app import CloseoutApp
from app.screens.sign_in import SignInScreen
from services.auth.device_code import DeviceCodePrompt
from services.control import RunControl
from services.sandbox.seed_hostile import (
    HOSTILE_APP,
    HOSTILE_ORGANIZATION,
    HOSTILE_POLICY,
    HOSTILE_SERVICE_PRINCIPAL,
    HOSTILE_SKU,
)
from services.session import SessionOptions
from services.textsafe import UNSAFE, neutralise
from widgets import DeviceCodePanel, RemainingTable

from .conftest import AppFactory, connected, footer_keys, shows, wait_for

# What Textual itself writes: cursor positioning, SGR colours and (for a link) OSC 8 with
# an inert URL. Anything else did not come from the app.
_OWN_SEQUENCES = re.compile(r"\x1b\[\d+;\d+H|\x1b\[[0-9;:]*m|\x1b\]8;[^\x1b\x07]*\x1b\\")


def terminal_output(app: Any) -> str:
    """The bytes a real driver would get for a full repaint of the current screen."""
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return str(update.render_segments(app.console))


def screen_text(app: Any) -> str:
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    return "\n".join("".join(strip.text for strip in line) for line in update.strips)


async def drawn_inert(pilot: Any, app: Any, footer: str, where: str) -> str:
    """The screen's text once its footer's bottom line shows ``footer``, checked inert: the
    footer recomposes after the screen shows, on a loaded machine more than a pause later."""
    await wait_for(
        pilot, lambda: footer in screen_text(app).splitlines()[-1], f"the footer of {where}"
    )
    return assert_terminal_inert(app, where)


def assert_terminal_inert(app: Any, where: str) -> str:
    out = terminal_output(app)
    foreign = sorted({c for c in UNSAFE.findall(_OWN_SEQUENCES.sub("", out)) if c != "\n"})
    assert not foreign, f"{where}: the terminal would get raw {[ascii(c) for c in foreign]}"
    text = screen_text(app)
    assert not [c for c in UNSAFE.findall(text) if c != "\n"], where
    return text


async def test_hostile_names_reach_the_screen_inert_and_the_layout_stays(
    make_app: AppFactory,
) -> None:
    app = make_app(hostile_names=True, deleted_users=2, synced_fraction=0)
    async with app.run_test(size=(160, 50)) as pilot:
        await connected(pilot)
        main = app.main
        users = main.query_one("#table-users", RemainingTable)
        await wait_for(pilot, lambda: users.remaining > 0, "the users to load")
        await app.workers.wait_for_complete()
        await pilot.pause()

        text = await drawn_inert(pilot, app, "Quit", "main screen")
        # Header: the tenant's (hostile) name, visibly; the signed-in admin.
        assert neutralise(HOSTILE_ORGANIZATION) in text
        assert "admin@" in text
        # Checklist: every step is there.
        for name in ("Before you begin", "Delete users", "Delete the directory"):
            assert name in text, f"checklist line {name!r} is gone"
        # Footer: the keys are shown on the bottom line.
        assert "run_step" in footer_keys(main)
        bottom = text.splitlines()[-1]
        assert "Quit" in bottom and "Help" in bottom, bottom

        # The hostile users, found by their visible escapes; markup shown as typed.
        for needle, expected in (
            ("\\x1b[2j", "\\x1b[2Jwiper@"),
            ("+bell", "+bell\\x07\\x00@"),
            ("-c1", "-c1\\x9b2J@"),
            ("@bidi", "@bidi\\u202eexe@"),
            ("[red]", "[red]markup[/]@"),
            ("åsa", "åsa.öberg@"),
            ("山田", "山田.太郎@"),
        ):
            users.set_filter(needle)
            await pilot.pause()
            shown = assert_terminal_inert(app, f"users filtered by {needle}")
            assert expected in shown, f"{expected} is not on screen"

        tabs = main.query_one(TabbedContent)
        for pane, names in (
            ("tab-subscriptions", [HOSTILE_SKU]),
            ("tab-apps", [HOSTILE_APP, HOSTILE_SERVICE_PRINCIPAL]),
            ("tab-policies", [HOSTILE_POLICY]),
        ):
            tabs.active = pane
            await pilot.pause()
            await pilot.pause()
            shown = assert_terminal_inert(app, pane)
            for raw in names:
                # Columns are narrow: the start of the name, visibly escaped, is enough.
                assert neutralise(raw)[:12] in shown, f"{neutralise(raw)!r} is not on {pane}"
            assert "Delete users" in shown and "Quit" in shown.splitlines()[-1]


HOSTILE_PROMPT = DeviceCodePrompt(
    user_code="GH7\x1b[2JKQ2",
    verification_uri="https://microsoft.com/devicelogin\x1b]8;;https://evil.example\x1b\\",
    expires_at=datetime.now(UTC) + timedelta(minutes=15),
    message="To sign in, open \x1b]52;c;ZXZpbA==\x07https://microsoft.com/devicelogin\x9b2J",
)


class HostileSignIn:
    """A session whose sign-in service answers with escape sequences (a tampered proxy)."""

    sandbox = None
    needs_device_code = True

    def __init__(self, options: SessionOptions | None = None) -> None:
        self.options = options
        self.auth = SimpleNamespace(signed_in=False)
        self.control = RunControl()  # as every Session has, from the start

    def start_device_code(self) -> DeviceCodePrompt:
        return HOSTILE_PROMPT

    def wait_device_code(self, prompt: DeviceCodePrompt, stop: threading.Event) -> None:
        stop.wait()  # until the app exits

    def close(self) -> None:
        pass


async def test_the_sign_in_services_words_are_shown_inert(tmp_path) -> None:
    options = SessionOptions(demo=True, state_root=tmp_path / "state")
    app = CloseoutApp(options, session_factory=HostileSignIn, watch=False)
    app.animation_level = "none"
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(
            pilot,
            lambda: shows(app, SignInScreen) and app.screen.query_one(DeviceCodePanel).display,
            "the device code",
        )
        # The panel shows before its text and the footer are laid out; on a loaded machine
        # that takes more than one pause. Wait for what is asserted below, then check it all.
        await wait_for(
            pilot,
            lambda: "\\ x 1 b [ 2 J" in screen_text(app)
            and "Quit" in screen_text(app).splitlines()[-1],
            "the device code and the footer on screen",
        )
        text = assert_terminal_inert(app, "sign-in screen")
        # The link and the (spaced-out) code, their escapes visible.
        assert "devicelogin\\x1b]8;;https://evil.example" in text
        assert "\\ x 1 b [ 2 J" in text
        assert "Quit" in text.splitlines()[-1]


async def test_hostile_names_in_step_2s_handoff_are_inert_and_the_screen_keeps_its_keys(
    make_app: AppFactory,
) -> None:
    from app.screens.handoff import HandoffScreen
    from services.models import StepId
    from widgets import StepChecklist

    app = make_app(hostile_names=True, synced_fraction=0)
    async with app.run_test(size=(140, 45)) as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        while checklist.selected != StepId.CANCEL_SUBSCRIPTIONS:
            await pilot.press("down")
        await pilot.press("h")
        await wait_for(pilot, lambda: shows(app, HandoffScreen), "the handoff screen")
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = await drawn_inert(pilot, app, "Close", "step 2's handoff")
        # The subscription whose SKU code is hostile, named with its escapes visible; the
        # tenant's hostile name in the header; the keys in the footer.
        assert neutralise(HOSTILE_SKU) in text, "the hostile SKU is not on the handoff"
        assert neutralise(HOSTILE_ORGANIZATION)[:20] in text
        assert "Close" in text.splitlines()[-1], text[-300:]


async def test_hostile_names_in_step_5s_typed_confirmation_are_inert(
    make_app: AppFactory,
) -> None:
    from app.screens.dialogs import TypedConfirmModal
    from services.models import StepId, StepStatus
    from services.steps.directory import MANUAL_ITEMS

    # Steps 1-4 already done; a user with a hostile name waits in the recycle bin, and an
    # application and a service principal with hostile names wait for the cleanup.
    app = make_app(
        users=1,
        admin_count=0,
        synced_fraction=0.0,
        guest_fraction=0.0,
        subscriptions="none",
        deleted_users=3,
        hostile_names=True,
    )
    async with app.run_test(size=(140, 45)) as pilot:
        await connected(pilot)
        assert app.step_states[StepId.DELETE_DIRECTORY].status == StepStatus.WAITING_PERSON
        for key in MANUAL_ITEMS:
            app.engine.tick(key)
        await pilot.press("g")
        await wait_for(
            pilot,
            lambda: app.main.check_action("delete_directory", ()) is True,
            "step 5 to become possible",
        )
        await pilot.press("D")
        await wait_for(pilot, lambda: shows(app, TypedConfirmModal), "the typed confirmation")
        await pilot.pause()
        text = await drawn_inert(pilot, app, "esc Cancel", "step 5's typed confirmation")
        # Over the main screen, whose header and log panel name the hostile tenant visibly,
        # the modal is whole: what it deletes, the domain to type, its buttons.
        assert f"Connected to {neutralise(HOSTILE_ORGANIZATION)}" in text
        assert neutralise(HOSTILE_ORGANIZATION) in text.splitlines()[0]
        assert "Type the initial domain fabrikam" in text and "Cancel (Esc)" in text
        assert "esc Cancel" in text.splitlines()[-1]


async def test_a_toast_shows_a_hostile_name_literally_never_as_markup(
    make_app: AppFactory,
) -> None:
    # Textual reads a toast's message as markup unless told otherwise. Toasts carry Graph's
    # words (an error, news of a handoff naming a product or an app): a name such as
    # "[red]markup[/]" must show as typed, "[/]" alone must not make the toast raise, and
    # "[@click=app.quit]" must not become an action link. Every notify of the app, the
    # screens' included, goes through the app.
    app = make_app()
    async with app.run_test(size=(160, 50), notifications=True) as pilot:
        main = await connected(pilot)
        hostile = ("[red]markup[/]@x.example", "lone[/]@x.example", "[@click=app.quit]q[/]")
        for text in hostile:
            # A toast's 5 s are wall time: on a loaded machine the first could go before the
            # third is shown; these stay until the test has read them.
            main.notify(text, severity="error", timeout=3600)
        await wait_for(pilot, lambda: len(app.screen.query("Toast")) >= 3, "the toasts")
        shown = [toast.render() for toast in app.screen.query("Toast")]
        assert {c.plain for c in shown} >= set(hostile), [c.plain for c in shown]
        assert not [s for c in shown for s in c.spans], [c.spans for c in shown]
