"""``closeout sandbox serve``: a sandbox tenant alone on loopback, until Ctrl-C, with a ready
token and the exact commands that point closeout at it; ``closeout sandbox portal``: the admin
centers' part of a close-out on such a sandbox (what ``A`` does in the TUI's sandbox), for a
headless run. Both are sandbox-only: nothing here is on the real code path."""

from __future__ import annotations

import argparse
import shlex
import textwrap
import threading
from collections.abc import Iterable
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


def _listing(title: str, entries: Iterable[tuple[str, str]]) -> str:
    """An epilog's list: a title, then each name with what it does (``N_``) wrapped under it."""
    lines = [title]
    for name, text in entries:
        lines.append(f"  {name}")
        lines += textwrap.wrap(_(text), 76, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def behaviour_list() -> str:
    """The ``sandbox serve`` epilog: every behaviour name and what it does."""
    from services.sandbox.config import BEHAVIOURS

    return _listing(_("behaviours (--behaviour a,b):"), ((b.name, b.help) for b in BEHAVIOURS))


def behaviours(text: str) -> str:
    """``--behaviour a,b``, checked (an unknown name is a usage error)."""
    from services.sandbox.config import behaviour_settings

    try:
        behaviour_settings(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _wrap(text: str) -> str:
    """A description wrapped (the help keeps the text's own line breaks)."""
    return textwrap.fill(text, 78)


def configure_serve(parser: argparse.ArgumentParser) -> None:
    parser.description = _wrap(
        _(
            "Serve a simulated Microsoft 365 tenant on loopback: Microsoft Graph and its sign-in "
            "endpoints over real HTTP, until Ctrl-C. It prints a ready token and the exact "
            "commands that point closeout at it; closeout sandbox portal plays the admin centers' "
            "part. No Microsoft service is contacted."
        )
    )
    parser.add_argument(
        "--from-snapshot",
        type=Path,
        metavar="FILE",
        help=_("serve the tenant a closeout snapshot holds (--users, --seed do not apply)"),
    )
    parser.add_argument(
        "--users",
        type=USERS,
        default=300,
        metavar="N",
        help=_("users in the tenant, the admin included (default 300)"),
    )
    parser.add_argument(
        "--seed",
        type=SEED,
        default=1,
        metavar="S",
        help=_("the seed the tenant is made from: the same seed, the same tenant (default 1)"),
    )
    parser.add_argument(
        "--port", type=PORT, default=0, metavar="P", help=_("port (default: any free one)")
    )
    parser.add_argument(
        "--time-scale",
        type=TIME_SCALE,
        default=1.0,
        metavar="X",
        help=_(
            "simulated seconds per real second (default 1): at 3600 the 72 hours of directory "
            "sync and of deprovisioning pass in 72 seconds; give closeout the same --time-scale "
            "(the printed commands do)"
        ),
    )
    parser.add_argument(
        "--latency-ms",
        type=LATENCY_MS,
        default=0.0,
        metavar="L",
        help=_("milliseconds added to every answer, as a distant Graph (default 0)"),
    )
    parser.add_argument(
        "--faults",
        type=fault_spec,
        default="",
        metavar="SPEC",
        help=_(
            "answer a share of requests with faults: 5xx, 429, drop (a dropped connection), "
            "slow (share:seconds), lost (the answer lost after Graph acted), malformed (JSON "
            "cut short), batch (spoiled $batch answers), burst (a $batch throttled from an item "
            "on), overlap (pages repeating items), nextlink (failing next links), expire (tokens "
            "expiring), late5xx (writes answered 5xx after Graph acted), e.g. {example}"
        ).format(example='"5xx=0.02,429=0.01,drop=0.005,slow=0.01:1.5"'),
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
    with stop_on_signals(lambda _signal: done.set(), hangup=True):
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
    print("\n" + _("Then, in another terminal with that token exported:"))
    for comment, argv in then_commands(sb, replica=snapshot is not None):
        print(f"  # {comment}\n  {shlex.join(argv)}")
    print(_("Ctrl-C stops the sandbox."), flush=True)


def then_commands(sb: Sandbox, *, replica: bool = False) -> list[tuple[str, list[str]]]:
    """The commands that use this sandbox, exactly, at its time scale: plan, the headless
    run, the admin centers' part, and the TUI; a snapshot's ``replica`` with a state dir of
    its own."""
    scale = sb.clock.time_scale
    target = ["--graph-url", sb.base_url, "--authority", sb.authority]
    if sb.config.own_app:
        target += ["--client-id", sb.sign_in_app_id]
    if scale != 1:
        # closeout's waits shrink by it; without it, a 72-hour wait would be polled as if real.
        target += ["--time-scale", f"{scale:g}"]
    if replica:
        target += ["--state-dir", "./replica-state"]
    portal = ["closeout", "sandbox", "portal", "all", "--url", sb.base_url]
    return [
        (_("what closeout would do (read-only)"), ["closeout", "plan", *target]),
        (
            _("the close-out, headless; it waits while the admin centers' part is due"),
            [
                "closeout",
                "run",
                "--headless",
                "--yes",
                "--confirm-domain",
                sb.initial_domain,
                "--confirm-manual",
                "all",
                *target,
            ],
        ),
        (_("the admin centers' part, when the run says it waits for you (A in the TUI)"), portal),
        (_("or the TUI"), ["closeout", *target]),
    ]


PORTAL_ACTIONS: dict[str, str] = {
    "state": N_("show what the admin centers show: subscriptions, checks, what blocks Delete"),
    "step2": N_("step 2: cancel every active subscription (through its partner where it has one)"),
    "step3": N_("step 3: delete every disabled subscription"),
    "step5": N_(
        "step 5: clear the checks no API can make, delete self-service sign-up products, and "
        "select Delete tenant if the portal's checks pass"
    ),
    "all": N_("every part the admin centers can play now, as A does in the TUI's sandbox"),
}


def portal_actions() -> str:
    """The ``sandbox portal`` epilog: each action and what it does."""
    return _listing(_("actions:"), PORTAL_ACTIONS.items())


def configure_portal(parser: argparse.ArgumentParser) -> None:
    parser.description = _wrap(
        _(
            "Play the admin's part in the Microsoft 365 and Entra admin centers on a sandbox "
            "served by closeout sandbox serve: what no API can do (cancel and delete "
            "subscriptions, delete the tenant). Only for the sandbox: it refuses any URL that is "
            "not loopback."
        )
    )
    parser.add_argument("action", choices=tuple(PORTAL_ACTIONS), help=_("what to do (below)"))
    parser.add_argument(
        "--url",
        required=True,
        metavar="URL",
        help=_("the sandbox's Graph root, as sandbox serve prints it (http://127.0.0.1:PORT)"),
    )


def portal(args: argparse.Namespace) -> ExitCode:
    import requests

    from services.sandbox.http import GraphHttpError
    from services.sandbox.portal import HttpPortal, PortalPlayer

    try:
        http = HttpPortal(args.url)
    except ValueError:
        raise UsageError(
            _("--url {url}: not a sandbox on loopback; this command never reaches further.").format(
                url=args.url
            )
        ) from None
    try:
        if args.action == "state":
            _print_state(http.state())
            return ExitCode.DONE
        player = PortalPlayer(http)
        step = {"step2": 2, "step3": 3, "step5": 5}.get(args.action)
        lines = player.play(step) if step is not None else player.play_all()
    except requests.RequestException:
        raise UsageError(
            _("No sandbox answers at {url}.").format(url=args.url),
            _("Start one with closeout sandbox serve and pass the Graph root it prints."),
        ) from None
    except (GraphHttpError, ValueError, KeyError, TypeError) as exc:
        # Something answers there, but not a sandbox's admin centers: another server on
        # loopback, or the Graph root given with /v1.0.
        what = f"{exc.status} {exc.code}" if isinstance(exc, GraphHttpError) else type(exc).__name__
        raise UsageError(
            _("{url} does not answer as a sandbox's admin centers do ({what}).").format(
                url=args.url, what=what
            ),
            _("Pass the Graph root closeout sandbox serve prints, without /v1.0."),
        ) from None
    finally:
        http.close()
    for line in lines or [_("Nothing to do in the admin centers now.")]:
        print(line)
    return ExitCode.DONE


def _print_state(state: dict[str, object]) -> None:
    from services.textsafe import neutralise

    print(f"{neutralise(str(state['displayName']))} ({state['initialDomain']})")
    if state["tenantDeleted"]:
        print("  " + _("the tenant is deleted"))
        return
    subs = state["subscriptions"]
    assert isinstance(subs, list)
    for s in subs:
        how = " " + _("(bought through a partner)") if s["partner"] else ""
        marked = " " + _("(deleted: deprovisioning)") if s["markedForDeletion"] else ""
        print(f"  {s['sku']}: {s['status']}{how}{marked}")
    manual = state["manual"]
    assert isinstance(manual, dict)
    for key, resolved in manual.items():
        print(f"  {key}: {_('cleared') if resolved else _('open')}")
    blockers = state["deletionBlockers"]
    assert isinstance(blockers, list)
    print(_("Delete tenant:") + " " + ("; ".join(blockers) if blockers else _("allowed")))


SERVE = Command(
    "serve",
    N_("serve a sandbox tenant on loopback until Ctrl-C"),
    serve,
    configure_serve,
    common_options=False,
    logs=False,
    epilog=behaviour_list,
)
PORTAL = Command(
    "portal",
    N_("play the admin centers' part on a served sandbox (as A does in the TUI)"),
    portal,
    configure_portal,
    common_options=False,
    logs=False,
    epilog=portal_actions,
)
SANDBOX = Command(
    "sandbox",
    N_("the sandbox tenant"),
    subcommands=(SERVE, PORTAL),
    common_options=False,
    logs=False,
)
