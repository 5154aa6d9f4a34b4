"""The TUI's first paint waits for nothing it does not show (issue 10: demo first paint
≤ 0.8 s): it is the sign-in screen alone (the main screen is built beneath it, and sign-in
starts, once that frame is out), and the app's module loads no engine, HTTP or sign-in
library. Checked by behaviour, not time (scripts/bench_startup.py prints the times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app import closeout_app as closeout_app_module
from app.closeout_app import CloseoutApp
from app.screens.main_screen import MainScreen
from app.screens.sign_in import SignInScreen

from .conftest import AppFactory, connected, wait_for

ROOT = Path(__file__).resolve().parents[2]


class FirstPaintProbe(CloseoutApp):
    """Records what exists when Textual says the first frame is on the terminal."""

    CSS_PATH = Path(closeout_app_module.__file__).with_name(CloseoutApp.CSS_PATH)
    at_first_paint: tuple[list[str], bool, list[str]] | None = None

    def on_ready(self) -> None:
        self.at_first_paint = (
            [type(s).__name__ for s in self.screen_stack],
            self.session is not None,
            [w.name for w in self.workers],
        )
        super().on_ready()


async def test_the_first_frame_is_the_sign_in_screen_alone(make_app: AppFactory) -> None:
    made = make_app()
    app = FirstPaintProbe(made.options, session_factory=made._session_factory, watch=False)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.at_first_paint is not None, "the first frame")
        stack, session, workers = app.at_first_paint or ([], True, [])
        assert stack == ["Screen", "SignInScreen"]  # no main screen composed yet
        assert not session and "sign-in" not in workers  # sign-in has not started
        # Then the main screen goes beneath the sign-in screen, which stays on top ...
        await wait_for(
            pilot,
            lambda: (
                [type(s) for s in app.screen_stack][-2:] == [MainScreen, SignInScreen]
                or app.engine is not None
            ),
            "the main screen beneath the sign-in screen",
        )
        # ... until sign-in and connecting are done, as before.
        await connected(pilot)
        assert not any(isinstance(s, SignInScreen) for s in app.screen_stack)


def test_the_app_module_loads_no_engine_http_or_sign_in() -> None:
    heavy = ("msal", "requests", "services.engine", "services.session", "services.graph")
    probe = (
        "import sys\nimport app.main\n"
        f"print('loaded:', *[m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["loaded:"]
