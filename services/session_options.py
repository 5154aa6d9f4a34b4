"""What a session signs in to and how: the options the CLI and the TUI start one with.

Its own light module, so that the command line can build them (and the TUI paint its first
screen) before the session's sign-in, HTTP and engine code is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth.scopes import DEFAULT_CLIENT_ID
from .keep import KeepEntry

__all__ = ["DEMO_SEED", "DEMO_TIME_SCALE", "DEMO_USERS", "SessionOptions"]

DEMO_TIME_SCALE = 3600.0  # a simulated hour per real second: 72-hour waits pass in 72 s
DEMO_USERS = 300
DEMO_SEED = 7


@dataclass(frozen=True)
class SessionOptions:
    tenant: str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    cloud: str = "global"
    graph_url: str | None = None
    authority: str | None = None
    certificate: str | None = None
    thumbprint: str | None = None
    read_only: bool = False
    keep: tuple[str, ...] = ()
    keep_entries: tuple[KeepEntry, ...] = ()
    """The lines of ``--keep-file`` (``services.keep``)."""
    usage_reports: bool = False
    """Also ask for Reports.Read.All, to read the usage reports (``closeout data-owners``)."""
    disable_security_defaults: bool = False
    disable_ca_mfa: bool = False
    delete_own_app: bool = False
    """Step 5 deletes closeout's own app as its very last write (default: the admin does)."""
    demo: bool = False
    """An in-process sandbox tenant, kept between launches in its folder: ``state_root``, or
    ``<state dir>/demo`` (the CLI passes ``<--state-dir>/demo``; :mod:`services.demo_folder`)."""
    demo_users: int | None = None
    """``--users``: None goes on with the kept demo tenant, whatever its size (a new one has
    :data:`DEMO_USERS`); another size than the kept one's is refused without ``demo_fresh``."""
    demo_seed: int | None = None
    """``--seed``, as ``demo_users`` (a new one: :data:`DEMO_SEED`)."""
    demo_fresh: bool = False
    """``--fresh``: discard the kept demo tenant and its journal, and start a new one."""
    demo_time_scale: float = DEMO_TIME_SCALE
    sandbox_time_scale: float | None = None
    """The clock speed of a sandbox tenant reached through a loopback ``graph_url`` (tests,
    ``closeout sandbox serve``): closeout's own waits and pacing window shrink by it. Ignored
    for any other Graph."""
    demo_auto_approve: float | None = 2.0
    """Real seconds after which the demo's stand-in browser approves the device code."""
    rehearse: Path | None = None
    """A snapshot file: sign in to its replica, in process, at ``demo_time_scale``
    (:mod:`services.sandbox.replica`). Nothing contacts Microsoft."""
    behaviours: str = ""
    """The replica's behaviour switches (names, as ``sandbox serve --behaviour`` takes them)."""
    replica_config: Any = None
    """The sandbox config to serve the replica with (tests: a smaller quota, the clock);
    None: Graph's limits at ``demo_time_scale``."""
    poll_interval: float | None = None
    write_window: float | None = None
    state_root: Path | None = None
    token_cache: Path | None = None
    use_token_cache: bool = True
    environ: dict[str, str] = field(default_factory=dict)
