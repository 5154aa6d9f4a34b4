"""From command-line options to a connected engine: cloud, sign-in, Graph client, caller,
journal. Shared by the headless CLI and the TUI so both sign in and connect the same way.

With ``demo`` an in-process sandbox tenant is started on loopback and everything — sign-in
included — runs against it over real HTTP; nothing contacts Microsoft.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .auth.certificate import CertificateAuth
from .auth.device_code import DeviceCodeAuth, DeviceCodePrompt
from .auth.scopes import (
    claimed_permissions,
    scoped,
    scopes_for,
    token_claims,
)
from .auth.static_token import StaticTokenAuth
from .auth.token_cache import TokenCacheFile
from .caller import Caller, identify
from .clouds import Cloud, resolve_cloud
from .control import RunControl
from .deletion_evidence import TenantGone, explain_refusal
from .demo_folder import refuse_demo_folder
from .engine import Engine
from .errors import AuthError, CloseoutError, GraphError
from .graph.bounds import OUTAGE_LIMIT
from .graph.client import GraphClient
from .graph.responses import CallRecord
from .graph_limits import WRITE_QUOTA
from .i18n import _
from .journal.writer import Journal, record_tenant_gone
from .models import Event, NotSent, StepChanged, StepStatus
from .own_app import own_app_ids
from .session_options import DEMO_SEED, DEMO_TIME_SCALE, DEMO_USERS, SessionOptions
from .steps.base import EngineOptions
from .steps.subscriptions import products_link
from .tenant_match import named_tenants
from .textsafe import neutralise

if TYPE_CHECKING:
    from .demo_folder import DemoFolder, DemoKeeper
    from .sandbox.saved_state import SavedState

__all__ = ["DEMO_TIME_SCALE", "Session", "SessionOptions", "TenantGone", "sign_in_headless"]

# The shortest --poll-interval for a real tenant: its waits last days, and a read every few
# seconds already sees a change soon enough (a sandbox on a fast clock may be polled faster).
REAL_POLL_FLOOR = 5.0
OUTAGE_FLOOR = 2.0  # real seconds an outage is waited out, however fast a sandbox's clock


class Session:
    """One sign-in to one tenant, and the engine that works on it."""

    def __init__(self, options: SessionOptions, *, control: RunControl | None = None) -> None:
        self.options = options
        self.control = control or RunControl()
        """The session's run control: every wait of its Graph client and sign-in honours it
        from the moment they exist, so a signal or a lost terminal stops them at once."""
        self.sandbox: Any = None
        self.snapshot: Any = None
        self.state_root = options.state_root
        self.runtime_lock: str | None = None
        self.demo: DemoFolder | None = None
        """The demo's folder (``--demo``): its kept tenant and journal."""
        self.demo_kept: SavedState | None = None
        """The demo tenant as an earlier launch left it (None: a new one)."""
        self.keeper: DemoKeeper | None = None
        if options.demo:
            self._start_demo()
        elif options.rehearse is not None:
            self._start_replica(options.rehearse)
        else:
            refuse_demo_folder(self.state_root)
        self.cloud: Cloud = resolve_cloud(
            options.cloud, graph_url=self._graph_url(), authority=self._authority()
        )
        if options.sandbox_time_scale and not self.is_sandbox:
            # A real tenant's clock cannot be sped up; shortening waits there would only
            # poll Graph harder and pace writes past the documented quota.
            raise CloseoutError(
                _(
                    "--time-scale applies only to a sandbox tenant (--demo or a loopback --graph-url)."
                )
            )
        if (options.poll_interval or REAL_POLL_FLOOR) < REAL_POLL_FLOOR and not self.is_sandbox:
            raise CloseoutError(
                _(
                    "--poll-interval below {floor:g} seconds is only for a sandbox tenant: a real "
                    "tenant would be read that often for days."
                ).format(floor=REAL_POLL_FLOOR)
            )
        self.auth: Any = self._make_auth()
        self.client: GraphClient | None = None
        self.caller: Caller | None = None
        self.journal: Journal | None = None
        self.engine: Engine | None = None

    # -- setup -------------------------------------------------------------------------------

    def _start_demo(self) -> None:
        """The demo's sandbox: the tenant kept in the demo's folder, as it was left, or a new
        one (:mod:`.demo_folder`). Its journal goes in the same folder, away from real ones'."""
        from .demo_folder import DemoFolder, check_demo_options, demo_path

        opts = self.options
        folder = DemoFolder(self.state_root if self.state_root is not None else demo_path(None))
        try:
            if opts.demo_fresh:
                folder.lock("fresh")  # nobody else's demo is discarded under them
                folder.discard()
            saved = folder.load()
            if saved is not None:
                check_demo_options(
                    saved.users,
                    saved.seed,
                    opts.demo_users,
                    opts.demo_seed,
                    deleted=saved.deleted,
                )
            self.sandbox = self._demo_sandbox(saved)
        except BaseException:
            folder.release()
            raise
        self.demo, self.demo_kept = folder, saved
        self.state_root = folder.path

    def _demo_sandbox(self, saved: Any) -> Any:
        from .sandbox import SandboxConfig, start_sandbox  # only the demo loads the sandbox
        from .sandbox.saved_state import restore

        opts = self.options
        config = SandboxConfig(
            users=saved.users if saved else opts.demo_users or DEMO_USERS,
            seed=saved.seed if saved else (DEMO_SEED if opts.demo_seed is None else opts.demo_seed),
            time_scale=opts.demo_time_scale,
            device_code_auto_approve=opts.demo_auto_approve,
        )
        return restore(saved, config).start() if saved is not None else start_sandbox(config)

    @property
    def demo_note(self) -> str:
        """Said as a demo starts on the tenant kept from an earlier launch (else empty)."""
        kept = self.demo_kept
        if kept is None or self.sandbox is None:
            return ""
        return _(
            "The demo tenant as you left it ({users:,} users; its clock goes on from {when}). "
            "closeout --demo --fresh starts a new one."
        ).format(
            users=kept.users,
            when=self.sandbox.clock.at(kept.sim_seconds).strftime("%Y-%m-%d %H:%M UTC"),
        )

    def _start_replica(self, path: Path) -> None:
        from .paths import ensure_private_dir, state_dir
        from .sandbox import SandboxConfig
        from .sandbox.config import behaviour_settings
        from .sandbox.replica import replica_config, start_replica
        from .snapshot import load_snapshot

        opts = self.options
        snapshot = load_snapshot(path)
        chosen = behaviour_settings(opts.behaviours)
        base = opts.replica_config or SandboxConfig(time_scale=opts.demo_time_scale)
        # The demo's stand-in browser approves the sign-in, whatever config the replica has.
        base = replace(base, device_code_auto_approve=opts.demo_auto_approve)
        # Its own folder and its own run lock: the replica has the real tenant's id, and a
        # rehearsal must neither mix its journal with the real one's nor block a real run.
        stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"
        parent = self.state_root if self.state_root is not None else state_dir()
        rehearsals = ensure_private_dir(Path(parent) / "rehearsals")
        self.state_root = ensure_private_dir(rehearsals / f"{snapshot.tenant_id}-{stamp}")
        self.runtime_lock = f"rehearsal-{snapshot.tenant_id}-{stamp}".lower()
        self.snapshot = snapshot
        self.sandbox = start_replica(
            snapshot, replica_config(snapshot, replace(base, **chosen), chosen)
        )

    @property
    def rehearsal(self) -> bool:
        return self.snapshot is not None

    def _graph_url(self) -> str | None:
        return self.sandbox.base_url if self.sandbox is not None else self.options.graph_url

    def _authority(self) -> str | None:
        if self.sandbox is not None:
            return self.sandbox.authority
        if self.options.authority:
            return self.options.authority
        return None

    @property
    def is_sandbox(self) -> bool:
        host = urlsplit(self.cloud.graph_url).hostname or ""
        return self.sandbox is not None or host in ("127.0.0.1", "localhost", "::1")

    def _make_auth(self) -> Any:
        opts = self.options
        env_token = StaticTokenAuth.from_environment(opts.environ or None)
        in_process = opts.demo or self.rehearsal
        if env_token is not None and not in_process:
            return env_token
        authority = self.cloud.authority_for(opts.tenant or "organizations")
        cache = None
        if opts.use_token_cache and not in_process:
            cache = TokenCacheFile(opts.token_cache)
        if opts.certificate:
            if not opts.tenant and not opts.authority:
                raise CloseoutError(
                    _("App-only sign-in needs the tenant: pass --tenant with its id or domain."),
                    _("Certificate sign-in cannot use the 'organizations' authority."),
                )
            return CertificateAuth(
                opts.client_id,
                authority,
                opts.certificate,
                thumbprint=opts.thumbprint,
                cache=cache,
                graph_resource=self.cloud.graph_resource or self.cloud.graph_url,
            )
        names = scopes_for(
            read_only=opts.read_only,
            disable_security_defaults=opts.disable_security_defaults,
            disable_ca_mfa=opts.disable_ca_mfa,
            usage_reports=opts.usage_reports,
        )
        resource = None if self.is_sandbox else self.cloud.graph_resource
        return DeviceCodeAuth(opts.client_id, authority, scoped(resource, names), cache=cache)

    # -- sign-in -----------------------------------------------------------------------------

    @property
    def needs_device_code(self) -> bool:
        """True when a device code sign-in is needed (no usable token in the cache)."""
        if not isinstance(self.auth, DeviceCodeAuth):
            return False
        return not self.auth.try_silent()

    def start_device_code(self) -> DeviceCodePrompt:
        return self.auth.start()

    def wait_device_code(self, prompt: DeviceCodePrompt, stop: threading.Event) -> None:
        self.auth.wait(prompt, stop)

    # -- connecting ----------------------------------------------------------------------------

    @property
    def time_scale(self) -> float:
        """Simulated seconds per real second of the tenant's clock: 1 except for a sandbox."""
        if self.sandbox is not None:
            return float(self.sandbox.clock.time_scale)
        if self.options.sandbox_time_scale and self.is_sandbox:
            return float(self.options.sandbox_time_scale)
        return 1.0

    def engine_options(self, claims: dict[str, Any] | None = None) -> EngineOptions:
        opts = self.options
        scale = self.time_scale
        quota, window = WRITE_QUOTA
        if self.sandbox is not None:
            # An in-process sandbox's quota may be shrunk (tests): pace to the one it enforces.
            quota, window = self.sandbox.config.write_quota
        return EngineOptions(
            own_app_ids=own_app_ids(opts.client_id, claims),
            delete_own_app=opts.delete_own_app,
            write_quota=int(quota),
            keep_upns=opts.keep,
            keep_entries=opts.keep_entries,
            read_only=opts.read_only,
            disable_security_defaults=opts.disable_security_defaults,
            disable_ca_mfa=opts.disable_ca_mfa,
            poll_interval=opts.poll_interval or (max(0.5, 300.0 / scale) if scale > 1 else 300.0),
            write_window=opts.write_window or window / scale,
            verify_delay=2.0 / scale if scale > 1 else 2.0,
            ca_spacing=1.1 / scale,
            portal_links={
                "products": products_link(self.cloud.admin_center_url),
                "entra": self.cloud.entra_admin_center_url,
                "mfa": "https://go.microsoft.com/fwlink/p/?linkid=834822",
            },
        )

    @property
    def named_tenants(self) -> tuple[str, ...]:
        """The tenants the admin named (``--tenant``, the tenant in ``--authority``)."""
        return named_tenants(
            self.options.tenant, None if self.options.demo else self.options.authority
        )

    def authority_base(self) -> str:
        """Scheme and host of the sign-in authority, for the 'tenant is gone' probe."""
        if self.sandbox is not None:
            return self.sandbox.base_url
        if self.options.authority:
            parts = urlsplit(self.options.authority)
            return f"{parts.scheme}://{parts.netloc}"
        return self.cloud.authority_host

    def connect(
        self,
        *,
        on_call: Callable[[CallRecord], None] | None = None,
        sink: Callable[[Event], None] | None = None,
        write: bool = True,
        command: str = "run",
    ) -> Engine:
        """Identify the caller, open the tenant's journal and build the engine.

        The first Graph read says which tenant the token is for; if the admin named a tenant
        and it is another, :class:`~services.tenant_match.TenantMismatch` is raised before any
        other read and before anything is written, the tenant's folder included. A refusal
        is a deleted tenant only on the evidence :mod:`services.deletion_evidence` asks for.

        ``write=False`` (status, plan, export), like ``--read-only``, reads the journal without
        taking the tenant's locks, so it works while a run is going on, and can never write it.
        ``command`` is what the lock says this process does (``run``, ``tui``).
        """
        self.client = GraphClient(
            self.cloud.graph_url,
            self.auth,
            read_only=self.options.read_only,
            on_call=on_call,
            control=self.control,
            # A sandbox's fast clock shortens how long an outage is waited out (as it does
            # the polls); a real tenant's outage is waited out in real minutes.
            outage_limit=max(OUTAGE_FLOOR, OUTAGE_LIMIT / self.time_scale),
        )
        try:
            # The token is opaque to closeout: what a readable one claims is only a hint.
            claims = token_claims(self.auth.token())
            self.caller = identify(
                self.client,
                permissions=self.auth.granted_scopes,
                permission_hint=claimed_permissions(claims),
                cloud=self.cloud.name,
                sandbox=self.is_sandbox,
                named=self.named_tenants,
            )
            if self.rehearsal:
                tenant = replace(self.caller.tenant, rehearsal=True)
                self.caller = replace(self.caller, tenant=tenant)
        except (AuthError, GraphError) as exc:
            explained = explain_refusal(
                exc,
                named=self.named_tenants,
                authority_base=self.authority_base(),
                root=self.state_root,
                bring_your_own=isinstance(self.auth, StaticTokenAuth),
            )
            if explained is exc:
                raise
            if isinstance(explained, TenantGone) and write and not self.options.read_only:
                # Journalled where closeout kept this tenant's record: the evidence written
                # later (export --offline) must say the tenant is deleted, and since when.
                record_tenant_gone(explained.tenant_id, root=self.state_root, detected="sign-in")
            raise explained from None
        read_only = self.options.read_only or not write
        if self.demo is not None and not read_only:
            sink = self._keep_demo(command, sink)
        self.journal = Journal(
            self.caller.tenant.id,
            root=self.state_root,
            read_only=read_only,
            runtime_lock=self.runtime_lock,
        )
        # Before anything trusts it: another tenant's journal is refused, damage is counted.
        self.journal.check()
        if not read_only:
            self.journal.open(command)
        self.engine = Engine(
            self.client,
            self.caller,
            control=self.control,
            options=self.engine_options(claims),
            authority_base=self.authority_base(),
            journal=self.journal,
            sink=sink,
            state_root=self.state_root,
        )
        return self.engine

    def _keep_demo(
        self, command: str, sink: Callable[[Event], None] | None
    ) -> Callable[[Event], None]:
        """A writing demo session: take the demo's folder, save the tenant now and from now on
        (:class:`~services.demo_folder.DemoKeeper`), soon after each step ends or stops."""
        from .demo_folder import DemoKeeper

        assert self.demo is not None
        self.demo.lock(command)
        self.keeper = keeper = DemoKeeper(self.demo, self.sandbox)
        keeper.start()

        def keeping(event: Event) -> None:
            if isinstance(event, NotSent) or (
                isinstance(event, StepChanged) and event.state.status != StepStatus.RUNNING
            ):
                keeper.soon()
            if sink is not None:
                sink(event)

        return keeping

    def close(self) -> None:
        if self.journal is not None and self.journal.is_open:
            self.journal.close()
        if self.client is not None:
            self.client.close()
        if self.sandbox is not None:
            self.sandbox.stop()
        keeper, self.keeper = self.keeper, None
        try:
            if keeper is not None:
                keeper.close()  # the last save: the tenant as the journal, now closed, leaves it
        finally:
            if self.demo is not None:
                self.demo.release()


def sign_in_headless(session: Session, stop: threading.Event, show: Callable[[str], None]) -> None:
    """Device code sign-in for the headless CLI: print the prompt, wait for the admin."""
    if not session.needs_device_code:
        return
    prompt = session.start_device_code()
    show(neutralise(prompt.message))  # the sign-in service's words: shown, never obeyed
    session.wait_device_code(prompt, stop)
    if not session.auth.signed_in:
        raise AuthError(
            _("Sign-in did not complete."), _("Run the command again to get a new code.")
        )
