"""The scenes behind ``python -m scripts.screenshots`` (imported after the language is set:
the screens' key labels are translated when they are imported)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from app import gating
from app.closeout_app import CloseoutApp
from app.screens.completion import CompletionScreen
from app.screens.dialogs import ConfirmModal, TypedConfirmModal
from app.screens.handoff import HandoffScreen
from app.screens.main_screen import MainScreen
from app.screens.sign_in import SignInScreen
from services.models import StepId, StepStatus
from services.sandbox import Sandbox
from services.session import SessionOptions
from services.steps.directory import MANUAL_ITEMS
from widgets import RemainingTable, StepChecklist

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SEED = 7
Scene = Callable[[CloseoutApp, Pilot[int]], Awaitable["Callable[[], None] | None"]]
"""Drives the app to the moment of the shot; may return what to undo once it is taken."""


def rehearsal_options() -> SessionOptions:
    """``closeout --rehearse FILE`` on a snapshot of the demo's tenant, taken read-only."""
    from services.auth.scopes import DEFAULT_CLIENT_ID
    from services.auth.static_token import StaticTokenAuth
    from services.caller import identify
    from services.control import RunControl
    from services.graph.client import GraphClient
    from services.sandbox import SandboxConfig, start_sandbox
    from services.snapshot import save_snapshot
    from services.snapshot.capture import take_snapshot

    sb = start_sandbox(SandboxConfig(users=300, seed=SEED))
    try:
        auth = StaticTokenAuth(sb.issue_token())
        with GraphClient(sb.base_url, auth, read_only=True) as client:
            caller = identify(client, permissions=None, cloud="global", sandbox=True)
            snapshot, _ = take_snapshot(
                client,
                caller,
                client_id=DEFAULT_CLIENT_ID,
                mfa=True,
                redact=False,
                control=RunControl(),
                say=lambda text: None,
            )
    finally:
        sb.stop()
    folder = Path(tempfile.mkdtemp(prefix="closeout-shots-"))
    path = save_snapshot(snapshot, folder / "snapshot.json.gz")
    return SessionOptions(
        rehearse=path, demo_time_scale=36000.0, demo_auto_approve=0.2, state_root=folder
    )


def options(
    *, users: int = 300, approve: float | None = 0.2, scale: float = 36000.0
) -> SessionOptions:
    return SessionOptions(
        demo=True,
        demo_users=users,
        demo_seed=SEED,
        demo_time_scale=scale,
        demo_auto_approve=approve,
        state_root=Path(tempfile.mkdtemp(prefix="closeout-shots-")),
    )


async def until(pilot: Pilot[int], test: Callable[[], bool], timeout: float = 60.0) -> None:
    for _ in range(int(timeout / 0.1)):
        if test():
            return
        await pilot.pause(0.1)
    shown = type(pilot.app.screen).__name__
    raise TimeoutError(f"the app did not reach the state this screenshot needs (it shows {shown})")


async def settled(app: CloseoutApp, pilot: Pilot[int]) -> None:
    """Until no worker reads Graph or runs a step and every message is handled: what the
    screen shows then is what it keeps showing (no fixed pause that a slow machine outruns)."""
    await until(pilot, lambda: not any(w.is_running for w in app.workers))
    await pilot.pause()


async def steady(pilot: Pilot[int], value: Callable[[], object], hold: float = 0.5) -> None:
    """Until ``value()`` has not changed for ``hold`` seconds (the screen has caught up)."""
    last, since = value(), 0.0
    for _ in range(600):
        await pilot.pause(0.05)
        now = value()
        since = since + 0.05 if now == last else 0.0
        last = now
        if since >= hold:
            await pilot.pause()
            return
    raise TimeoutError("the screen kept changing")


def sandbox_of(app: CloseoutApp) -> Sandbox:
    assert app.session is not None and app.session.sandbox is not None
    return app.session.sandbox


async def confirm_run(pilot: Pilot[int], app: CloseoutApp, after: Callable[[], bool]) -> None:
    """r on the selected step, y once its question is up (it may read Graph first), then wait
    until the run is over and ``after`` holds."""
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, ConfirmModal) and app.screen.is_mounted)
    await pilot.press("y")
    await until(
        pilot,
        lambda: not isinstance(app.screen, ConfirmModal) and app.step_running is None and after(),
    )


async def turn_sync_off(pilot: Pilot[int], app: CloseoutApp) -> None:
    """Step 1's first run turns directory sync off; then the clock jumps past the conversion,
    so that the synced users are deletable whatever the machine's speed."""
    sandbox = sandbox_of(app)
    await select(pilot, app, StepId.DELETE_USERS)
    await confirm_run(pilot, app, lambda: sandbox.tenant.org.sync_disabled_at is not None)
    sandbox.clock.advance(sandbox.sync_duration())
    await refreshing_until(
        pilot,
        app,
        lambda: (
            status(app, StepId.DELETE_USERS) in (StepStatus.PENDING, StepStatus.DONE)
            and app.step_running is None
        ),
    )


async def refreshing_until(
    pilot: Pilot[int], app: CloseoutApp, test: Callable[[], bool], timeout: float = 120.0
) -> None:
    """Like :func:`until`, re-reading Graph every half second (the scenes run without the
    periodic watch, so that nothing moves while a screenshot is taken)."""
    for tick in range(int(timeout / 0.1)):
        if test():
            return
        if tick % 5 == 0 and app.step_running is None:
            app.start_refresh()
        await pilot.pause(0.1)
    raise TimeoutError("the app did not reach the state this screenshot needs")


async def connected(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await until(pilot, lambda: app.engine is not None and isinstance(app.screen, MainScreen))
    await settled(app, pilot)


def status(app: CloseoutApp, step: StepId) -> StepStatus:
    return app.step_states[step].status


async def select(pilot: Pilot[int], app: CloseoutApp, step: StepId) -> None:
    checklist = app.main.query_one(StepChecklist)
    checklist.select(step)
    await until(pilot, lambda: checklist.selected == step)
    await pilot.pause()


async def finish_steps_1_to_4(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await connected(app, pilot)
    await turn_sync_off(pilot, app)
    if status(app, StepId.DELETE_USERS) != StepStatus.DONE:
        await confirm_run(pilot, app, lambda: status(app, StepId.DELETE_USERS) == StepStatus.DONE)
    app.play_portal(StepId.CANCEL_SUBSCRIPTIONS)
    await refreshing_until(
        pilot, app, lambda: status(app, StepId.CANCEL_SUBSCRIPTIONS) == StepStatus.DONE
    )
    app.play_portal(StepId.DELETE_SUBSCRIPTIONS)
    # Deleted subscriptions are deprovisioned 72 hours later: the clock jumps there.
    await refreshing_until(
        pilot,
        app,
        lambda: (
            status(app, StepId.DELETE_SUBSCRIPTIONS).waiting
            or status(app, StepId.DELETE_SUBSCRIPTIONS) == StepStatus.DONE
        ),
    )
    sandbox_of(app).clock.advance(73 * 3600)
    await refreshing_until(
        pilot, app, lambda: status(app, StepId.DELETE_SUBSCRIPTIONS) == StepStatus.DONE
    )
    assert app.engine is not None
    for key in MANUAL_ITEMS:
        app.engine.tick(key)
    await refreshing_until(pilot, app, lambda: gating.can_delete_directory(app))
    await settled(app, pilot)


async def scene_sign_in(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await until(
        pilot, lambda: isinstance(app.screen, SignInScreen) and app.screen.prompt is not None
    )
    await pilot.pause()


async def scene_main(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await connected(app, pilot)
    await select(pilot, app, StepId.DELETE_USERS)


async def scene_mid_run(app: CloseoutApp, pilot: Pilot[int]) -> Callable[[], None]:
    await connected(app, pilot)
    sandbox = sandbox_of(app)
    await select(pilot, app, StepId.DELETE_USERS)
    # Step 1's first run: sync turned off, then the users who are not synchronized deleted
    # meanwhile, slowly enough that a third of them go while the run is watched.
    sandbox.add_fault(method="DELETE", path=r"^/v1\.0/users/", status=None, delay=0.05, times=-1)
    table = app.main.query_one("#table-users", RemainingTable)
    before = table.remaining
    await pilot.press("r")
    await until(pilot, lambda: isinstance(app.screen, ConfirmModal) and app.screen.is_mounted)
    await pilot.press("y")
    await until(pilot, lambda: app.step_running is not None and table.remaining <= before * 2 // 3)
    # Graph holds still (its lock held) while the screen catches up with what it answered, so
    # the shot shows the run half-way however fast or slow the machine is.
    sandbox.lock.acquire()
    await steady(pilot, lambda: (table.remaining, app.step_states[StepId.DELETE_USERS].done))
    return sandbox.lock.release


async def scene_handoff(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await connected(app, pilot)
    await select(pilot, app, StepId.CANCEL_SUBSCRIPTIONS)
    await pilot.press("h")
    await until(pilot, lambda: isinstance(app.screen, HandoffScreen) and app.screen.is_mounted)
    await settled(app, pilot)


async def scene_typed_confirmation(app: CloseoutApp, pilot: Pilot[int]) -> None:
    await finish_steps_1_to_4(app, pilot)
    await pilot.press("D")
    await until(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen.is_mounted)
    assert app.engine is not None
    domain = app.engine.caller.tenant.initial_domain
    await pilot.press(*domain[: len(domain) // 2])
    await pilot.pause()


async def scene_completion(app: CloseoutApp, pilot: Pilot[int]) -> None:
    """Step 5 typed, its clean-up run, the admin center's "Delete tenant" played: the view
    that says the tenant is gone."""
    await finish_steps_1_to_4(app, pilot)
    await pilot.press("D")
    await until(pilot, lambda: isinstance(app.screen, TypedConfirmModal) and app.screen.is_mounted)
    assert app.engine is not None
    await pilot.press(*app.engine.caller.tenant.initial_domain, "enter")
    await until(
        pilot,
        lambda: (
            app.step_running is None
            and StepId.DELETE_DIRECTORY in app.handoffs
            and status(app, StepId.DELETE_DIRECTORY) == StepStatus.WAITING_PERSON
        ),
        timeout=120,
    )
    app.play_portal(StepId.DELETE_DIRECTORY)
    await refreshing_until(
        pilot, app, lambda: isinstance(app.screen, CompletionScreen) and app.screen.is_mounted
    )
    await settled(app, pilot)


async def shoot(name: str, scene: Scene, *, size: tuple[int, int], opts: SessionOptions) -> Path:
    app = CloseoutApp(opts, watch=False)
    try:
        async with app.run_test(size=size) as pilot:
            after = await scene(app, pilot)
            path = OUT / f"{name}.svg"
            app.save_screenshot(filename=path.name, path=str(OUT))
            if after is not None:
                after()
            if app.control is not None:
                app.control.stop()  # a mid-run scene: stop between batches, as q would
                await app.workers.wait_for_complete()
    finally:
        if app.session is not None:
            app.session.close()
    return path


def for_rsvg(svg: str) -> str:
    """The SVG with its spaces kept as drawn. Textual writes each run of one style as a
    ``<text>`` that may begin with a space (a no-break space); rsvg-convert drops it unless
    told to preserve space, so the PNGs read "07:29:47INFO", "qQuit", "^ppalette" where the
    terminal and the SVG have a space."""
    if 'xml:space="preserve"' in svg.split(">", 1)[0]:
        return svg
    return svg.replace("<svg ", '<svg xml:space="preserve" ', 1)


def to_png(svg: Path) -> Path | None:
    converter = shutil.which("rsvg-convert")
    if converter is None:
        return None
    png = svg.with_suffix(".png")
    subprocess.run(
        [converter, "-o", str(png)],
        input=for_rsvg(svg.read_text(encoding="utf-8")).encode(),
        check=True,
    )
    return png


async def run(only: str | None, lang: str) -> None:
    """Shoot every scene in ``lang`` (others run in a child process in their own language)."""
    OUT.mkdir(exist_ok=True)
    scenes: list[tuple[str, Scene, tuple[int, int], SessionOptions | None, str]] = [
        ("sign-in", scene_sign_in, (120, 40), options(approve=None), "en"),
        ("main-mid-run", scene_mid_run, (120, 40), options(), "en"),
        ("handoff", scene_handoff, (120, 40), options(), "en"),
        ("typed-confirmation", scene_typed_confirmation, (120, 40), options(users=40), "en"),
        ("completion", scene_completion, (120, 40), options(users=40), "en"),
        ("main-swedish", scene_main, (120, 40), options(), "sv"),
        ("main-80x24", scene_main, (80, 24), options(), "en"),
        # Built when shot: it takes a snapshot first.
        ("rehearsal", scene_main, (120, 40), None, "en"),
    ]
    for name, scene, size, opts, scene_lang in scenes:
        if only and name != only:
            continue
        if scene_lang != lang:
            subprocess.run(
                [sys.executable, "-m", "scripts.screenshots", "--only", name, "--lang", scene_lang],
                check=True,
            )
            continue
        svg = await shoot(name, scene, size=size, opts=opts or rehearsal_options())
        png = to_png(svg)
        print(svg.relative_to(OUT.parent), "+ png" if png else "")
