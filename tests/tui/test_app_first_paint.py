"""The TUI's first paint waits for nothing it does not show (issue 10: demo first paint
≤ 0.8 s): the app's module loads no engine, HTTP or sign-in library. Checked by behaviour, not
time (scripts/bench_startup.py prints the times)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_app_module_loads_no_engine_http_or_sign_in() -> None:
    heavy = ("msal", "requests", "services.engine", "services.session", "services.graph")
    probe = f"import sys\nimport app.main\nprint('loaded:', *[m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["loaded:"]
