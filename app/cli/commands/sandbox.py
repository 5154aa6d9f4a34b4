"""``closeout sandbox serve``: a sandbox tenant alone on loopback, until Ctrl-C, with a ready
token and the options that point closeout at it."""

from __future__ import annotations

import argparse
import textwrap
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from app.cli.argtypes import LATENCY_MS, PORT, SEED, TIME_SCALE, USERS, fault_spec
from app.cli.command import Command, UsageError
from app.cli.process import stop_on_signals
from services.exit_codes import ExitCode
from services.i18n import N_, _

if TYPE_CHECKING:
    from services.sandbox import Sandbox
    from services.snapshot import Snapshot


def behaviour_list() -> str:
    """The ``sandbox serve`` epilog: every behaviour name and what it does."""
    from services.sandbox.config import BEHAVIOURS

    lines = [_("behaviours (--behaviour a,b):")]
    for b in BEHAVIOURS:
        lines.append(f"  {b.name}")
        lines += textwrap.wrap(_(b.help), 76, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def behaviours(text: str) -> str:
    """``--behaviour a,b``, checked (an unknown name is a usage error)."""
    from services.sandbox.config import behaviour_settings

    try:
        behaviour_settings(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-snapshot",
        type=Path,
        metavar="FILE",
        help=_("serve the tenant a closeout snapshot holds (--users, --seed do not apply)"),
    )
    parser.add_argument("--users", type=USERS, default=300)
    parser.add_argument("--seed", type=SEED, default=1)
    parser.add_argument("--port", type=PORT, default=0, help=_("port (default: any free one)"))
    parser.add_argument("--time-scale", type=TIME_SCALE, default=1.0)
    parser.add_argument("--latency-ms", type=LATENCY_MS, default=0.0)
    parser.add_argument(
        "--faults",
        type=fault_spec,
        default="",
        help='e.g. "5xx=0.02,429=0.01,drop=0.005,slow=0.01:1.5"',
    )
    parser.add_argument(
        "--hostile-names",
        action="store_true",
        help=_("name some objects with terminal escapes, bidi overrides and formulas"),
    )
    parser.add_argument(
        "--behaviour",
        type=behaviours,
        default="",
        metavar="NAME,...",
        help=_("how the sandbox answers where Graph may answer either way (listed below)"),
    )


def serve(args: argparse.Namespace) -> ExitCode:
    from services.sandbox import SandboxConfig, start_sandbox
    from services.sandbox.config import behaviour_settings

    chosen = behaviour_settings(args.behaviour)
    config = SandboxConfig(
        users=args.users,
        seed=args.seed,
        port=args.port,
        time_scale=args.time_scale,
        latency_ms=args.latency_ms,
        faults=args.faults,
        hostile_names=args.hostile_names,
        **chosen,
    )
    snapshot = None
    if args.from_snapshot is not None:
        from services.sandbox.replica import replica_config
        from services.snapshot import load_snapshot

        if args.hostile_names:
            raise UsageError(_("--hostile-names does not apply to --from-snapshot."))
        # Read and checked before anything is served: a bad file is a usage error (exit 2).
        snapshot = load_snapshot(args.from_snapshot)
        config = replica_config(snapshot, config, chosen)
    done = threading.Event()
    # Before anything is printed: a Ctrl-C as soon as the banner says it stops the sandbox
    # stops it cleanly (exit 0) instead of interrupting the process.
    with stop_on_signals(done.set):
        try:
            if snapshot is not None:
                from services.sandbox.replica import start_replica

                sb = start_replica(snapshot, config)
            else:
                sb = start_sandbox(config)
        except OSError as exc:  # the port is taken, or below 1024 without the right
            raise UsageError(
                _("Cannot serve on port {port}: {reason}").format(
                    port=args.port, reason=exc.strerror or exc
                ),
                _("choose another --port, or leave it out for any free one"),
            ) from None
        try:
            _banner(sb, args.behaviour, snapshot)
            done.wait()
        finally:
            sb.stop()
    return ExitCode.DONE


def _banner(sb: Sandbox, behaviour: str, snapshot: Snapshot | None = None) -> None:
    from services.textsafe import neutralise

    token = sb.issue_token(lifetime=12 * 3600)
    print(f"closeout sandbox {neutralise(sb.tenant.org.display_name)}")
    print(f"  Graph root      {sb.base_url}")
    print(f"  authority       {sb.authority}")
    print(f"  tenant id       {sb.tenant_id}")
    print(f"  initial domain  {sb.initial_domain}")
    print(f"  admin           {sb.admin_upn}")
    print(f"  device login    {sb.base_url}/devicelogin")
    print(f"  state           {sb.base_url}/_sandbox/state")
    if behaviour:
        print(f"  behaviours      {behaviour}")
    if sb.config.own_app:
        print(f"  sign-in app     {sb.sign_in_app_id} (pass it as --client-id)")
    if snapshot is not None:
        print(f"  snapshot        {snapshot.captured_at:%Y-%m-%d %H:%M} UTC")
    print("\n" + _("A ready token for the admin (12 h):"))
    print(f"  export CLOSEOUT_ACCESS_TOKEN={token}")
    then = _("Then: closeout plan --graph-url {url} --authority {authority}").format(
        url=sb.base_url, authority=sb.authority
    )
    if snapshot is not None:
        # The replica carries the real tenant's id: closeout's files for it must not land in
        # the real tenant's folder (its journal, its saved plan).
        print(
            "\n"
            + _(
                "This replica has the real tenant's id: give closeout a --state-dir of its own, "
                "so that its journal and plan stay apart from the real tenant's."
            )
        )
        then += " --state-dir ./replica-state"
    print("\n" + then)
    print(_("Ctrl-C stops the sandbox."), flush=True)


SERVE = Command(
    "serve",
    N_("serve a sandbox tenant on loopback until Ctrl-C"),
    serve,
    configure_serve,
    common_options=False,
    logs=False,
    epilog=behaviour_list,
)
SANDBOX = Command(
    "sandbox", N_("the sandbox tenant"), subcommands=(SERVE,), common_options=False, logs=False
)
