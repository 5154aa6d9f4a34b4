"""Sessions on a sandbox tenant: the options every test's session shares, written once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.sandbox import Sandbox
from services.session_options import SessionOptions


def sandbox_options(
    sb: Sandbox,
    state_root: Path,
    *,
    token: bool = True,
    follow_clock: bool = False,
    **options: Any,
) -> SessionOptions:
    """:class:`SessionOptions` for a session on ``sb``: its Graph root and authority, state under
    ``state_root``, no token cache, and a sandbox-issued bring-your-own token (``token=False``:
    none, so the session signs in by device code).

    ``follow_clock``: waits follow the sandbox's clock (its time scale, polls every 50 ms), so a
    fast sandbox's 72 hours pass in seconds. ``options``: further SessionOptions fields.
    """
    if follow_clock:
        scale = sb.clock.time_scale
        options = {
            "sandbox_time_scale": scale if scale != 1 else None,
            "poll_interval": 0.05,
            **options,
        }
    return SessionOptions(
        graph_url=sb.base_url,
        authority=sb.authority,
        state_root=state_root,
        use_token_cache=False,
        environ={"CLOSEOUT_ACCESS_TOKEN": sb.issue_token()} if token else {},
        **options,
    )
