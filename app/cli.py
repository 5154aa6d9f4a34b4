"""The ``closeout`` command: argument parsing, the headless subcommands and exit codes.

``closeout`` starts the TUI (``--demo``: on an in-process sandbox tenant); ``plan``, ``status``,
``export`` and ``run --headless`` drive the same engine without it; ``sandbox serve`` runs the
sandbox tenant alone. Errors a user can cause print a message and a hint, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from services import __version__
from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for, exit_codes_help
from services.headless import (
    DriveOptions,
    Reporter,
    drive,
    print_plan,
    print_status,
    status_exit_code,
)
from services.i18n import N_, SUPPORTED, _, set_language
from services.plan import PlanError
from services.session import TenantGone
from services.textsafe import neutralise

ENVIRONMENT = N_(
    """\
environment:
  CLOSEOUT_ACCESS_TOKEN  use this Graph access token instead of signing in
                         (e.g. az account get-access-token --resource-type ms-graph)
  NO_COLOR               monochrome TUI;  TEXTUAL_COLOR_SYSTEM=standard forces 16 colours
  XDG_STATE_HOME         journals, evidence packs, logs ($XDG_STATE_HOME/closeout)
  XDG_DATA_HOME          token cache ($XDG_DATA_HOME/closeout)
  XDG_RUNTIME_DIR        per-tenant run locks ($XDG_RUNTIME_DIR/closeout)
"""
)

log = logging.getLogger("closeout")
_log_handler: logging.Handler | None = None


class UsageError(CloseoutError):
    """A bad combination of options."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on its own; keep that, but with one clear line and a hint.
        self.print_usage(sys.stderr)
        sys.stderr.write(
            _("closeout: error: {message}").format(message=message)
            + "\n"
            + _("(see closeout --help)")
            + "\n"
        )
        raise SystemExit(ExitCode.USAGE)


def exit_codes() -> str:
    """The epilog of every ``--help``: exit codes and environment variables."""
    return exit_codes_help() + "\n" + _(ENVIRONMENT)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a whole number").format(text=text)
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("must be 1 or more"))
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(_("{text!r} is not a number").format(text=text)) from None
    if value <= 0:
        raise argparse.ArgumentTypeError(_("must be more than 0"))
    return value


def common_options(*, suppress: bool = False) -> argparse.ArgumentParser:
    """The options every command takes. ``suppress`` (for subcommands): an option not given
    after the subcommand keeps the value given before it, instead of the default."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group(_("sign-in and tenant"))
    g.add_argument(
        "--tenant", help=_("tenant id or domain to sign in to (default: the account's home tenant)")
    )
    g.add_argument("--client-id", help=_("app registration (public client) to sign in with"))
    g.add_argument("--cloud", default="global", help=_("global (default), usgov, usdod or china"))
    g.add_argument("--graph-url", help=_("Graph root to use instead of the cloud's (no /v1.0)"))
    g.add_argument("--authority", help=_("sign-in authority URL including the tenant"))
    g.add_argument(
        "--certificate",
        metavar="PEM",
        help=_("app-only sign-in with this certificate (key + cert)"),
    )
    g.add_argument(
        "--thumbprint", help=_("certificate thumbprint (default: computed from the PEM)")
    )
    g.add_argument(
        "--no-token-cache", action="store_true", help=_("do not read or write the token cache")
    )
    b = p.add_argument_group(_("behaviour"))
    b.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="UPN",
        help=_("an account to keep (repeatable; required with app-only sign-in)"),
    )
    b.add_argument(
        "--read-only", action="store_true", help=_("read and plan only: no write request leaves")
    )
    b.add_argument(
        "--disable-security-defaults",
        action="store_true",
        help=_("step 4 also turns security defaults off"),
    )
    b.add_argument(
        "--disable-ca-mfa",
        action="store_true",
        help=_("step 4 also turns off Conditional Access policies that require MFA"),
    )
    b.add_argument(
        "--poll-interval",
        type=_positive_float,
        metavar="SECONDS",
        help=_("seconds between reads while waiting (default 300; demo: scaled)"),
    )
    b.add_argument(
        "--state-dir", type=Path, help=_("where journals and evidence go (default: XDG state dir)")
    )
    b.add_argument("--lang", choices=("en", "sv"), help=_("language (default: from the locale)"))
    d = p.add_argument_group(_("demo"))
    d.add_argument(
        "--demo",
        action="store_true",
        help=_("use an in-process sandbox tenant (no Microsoft contact)"),
    )
    d.add_argument(
        "--users", type=_positive_int, default=300, help=_("demo tenant size (default 300)")
    )
    d.add_argument("--seed", type=int, default=7, help=_("demo tenant seed (default 7)"))
    d.add_argument(
        "--time-scale",
        type=_positive_float,
        help=_(
            "sandbox clock speed, simulated seconds per real second: the demo's (default "
            "3600), or that of a sandbox reached with a loopback --graph-url (closeout's waits "
            "shrink by it)"
        ),
    )
    if suppress:
        for action in p._actions:
            action.default = argparse.SUPPRESS
    return p


def build_parser() -> argparse.ArgumentParser:
    common = common_options()
    sub_common = common_options(suppress=True)
    epilog = exit_codes()
    parser = _Parser(
        prog="closeout",
        description=_("Close a Microsoft 365 organization, step by step, from one terminal."),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"closeout {__version__}")
    parser.add_argument("--mouse", action="store_true", help=_("enable the mouse in the TUI"))
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    fmt = argparse.RawDescriptionHelpFormatter
    p_plan = sub.add_parser(
        "plan",
        parents=[sub_common],
        help=_("show what closeout would do (read-only)"),
        epilog=epilog,
        formatter_class=fmt,
    )
    p_plan.add_argument("--json", action="store_true", help=_("print the plan as JSON"))
    p_status = sub.add_parser(
        "status",
        parents=[sub_common],
        help=_("where each step stands"),
        epilog=epilog,
        formatter_class=fmt,
    )
    p_status.add_argument("--json", action="store_true")
    p_export = sub.add_parser(
        "export",
        parents=[sub_common],
        help=_("write the evidence pack"),
        epilog=epilog,
        formatter_class=fmt,
    )
    p_export.add_argument("--out", type=Path, help=_("folder to write (default: in the state dir)"))
    p_export.add_argument(
        "--offline",
        action="store_true",
        help=_(
            "from the journal and saved files only, no sign-in (e.g. after the tenant is deleted)"
        ),
    )
    p_run = sub.add_parser(
        "run", parents=[sub_common], help=_("run the close-out"), epilog=epilog, formatter_class=fmt
    )
    p_run.add_argument(
        "--headless", action="store_true", help=_("no TUI: print progress (required)")
    )
    p_run.add_argument("--json", action="store_true", help=_("one JSON object per line"))
    p_run.add_argument(
        "--yes", action="store_true", help=_("allow destructive steps (counts are printed)")
    )
    p_run.add_argument(
        "--confirm-domain",
        metavar="DOMAIN",
        help=_("the tenant's initial *.onmicrosoft.com domain: allows step 5's cleanup"),
    )
    p_run.add_argument(
        "--confirm-manual",
        action="append",
        default=[],
        metavar="ITEM",
        help=_("tick a manual check: invoices, self-service, azure, or all (repeatable)"),
    )
    p_run.add_argument(
        "--no-wait", action="store_true", help=_("return at the first wait (exit 3)")
    )
    p_sandbox = sub.add_parser("sandbox", help=_("the sandbox tenant"))
    sb_sub = p_sandbox.add_subparsers(dest="sandbox_command", parser_class=_Parser, required=True)
    serve = sb_sub.add_parser(
        "serve",
        help=_("serve a sandbox tenant on loopback until Ctrl-C"),
        epilog=_behaviour_list(),
        formatter_class=fmt,
    )
    serve.add_argument("--users", type=_positive_int, default=300)
    serve.add_argument("--seed", type=int, default=1)
    serve.add_argument("--port", type=int, default=0, help=_("port (default: any free one)"))
    serve.add_argument("--time-scale", type=_positive_float, default=1.0)
    serve.add_argument("--latency-ms", type=float, default=0.0)
    serve.add_argument(
        "--faults", default="", help='e.g. "5xx=0.02,429=0.01,drop=0.005,slow=0.01:1.5"'
    )
    serve.add_argument(
        "--hostile-names",
        action="store_true",
        help=_("name some objects with terminal escapes, bidi overrides and formulas"),
    )
    serve.add_argument(
        "--behaviour",
        type=_behaviours,
        default="",
        metavar="NAME,...",
        help=_("how the sandbox answers where Graph may answer either way (listed below)"),
    )
    return parser


def _behaviour_list() -> str:
    """The ``sandbox serve`` epilog: every behaviour name and what it does."""
    from services.sandbox.config import BEHAVIOURS

    lines = [_("behaviours (--behaviour a,b):")]
    for b in BEHAVIOURS:
        lines.append(f"  {b.name}")
        lines += textwrap.wrap(_(b.help), 76, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return "\n".join(lines)


def _behaviours(text: str) -> str:
    from services.sandbox.config import behaviour_settings

    try:
        behaviour_settings(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# -- shared plumbing ----------------------------------------------------------------------------


@contextlib.contextmanager
def stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (a dropped SSH session) stop the run cleanly."""
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: Any) -> None:
        stop()

    for sig in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def setup_logging(state_dir: Path | None) -> Path | None:
    """Everything (Graph calls included, tokens never) to a log file under the state dir."""
    from services.paths import ensure_private_dir, log_dir

    try:
        directory = ensure_private_dir(state_dir / "logs") if state_dir else log_dir()
    except OSError:
        return None
    path = directory / "closeout.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    with contextlib.suppress(OSError):
        path.chmod(0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    # main() may run more than once in a process (tests, the TUI's re-runs): replace our
    # handler instead of stacking one more open file per call.
    global _log_handler
    if _log_handler is not None:
        root.removeHandler(_log_handler)
        _log_handler.close()
    _log_handler = handler
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def session_options(args: argparse.Namespace) -> Any:
    from services.auth.scopes import DEFAULT_CLIENT_ID
    from services.session import DEMO_TIME_SCALE, SessionOptions

    if args.graph_url and args.demo:
        raise UsageError(_("--demo and --graph-url cannot be combined."))
    return SessionOptions(
        tenant=args.tenant,
        client_id=args.client_id or DEFAULT_CLIENT_ID,
        cloud=args.cloud,
        graph_url=args.graph_url,
        authority=args.authority,
        certificate=args.certificate,
        thumbprint=args.thumbprint,
        read_only=args.read_only or args.command == "plan",
        keep=tuple(args.keep),
        disable_security_defaults=args.disable_security_defaults,
        disable_ca_mfa=args.disable_ca_mfa,
        demo=args.demo,
        demo_users=args.users,
        demo_seed=args.seed,
        demo_time_scale=args.time_scale or DEMO_TIME_SCALE,
        sandbox_time_scale=None if args.demo else args.time_scale,
        poll_interval=args.poll_interval,
        state_root=args.state_dir,
        use_token_cache=not args.no_token_cache,
        environ=dict(os.environ),
    )


def _say(text: str) -> None:
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def connect_headless(
    args: argparse.Namespace, stop: threading.Event, sink: Any = None, *, write: bool = False
) -> Any:
    from services.session import Session, sign_in_headless

    session = Session(session_options(args))
    if session.sandbox is not None:
        _say(
            _("Sandbox tenant {domain} at {url} (nothing here contacts Microsoft).").format(
                domain=session.sandbox.initial_domain, url=session.sandbox.base_url
            )
        )
    sign_in_headless(session, stop, _say)
    session.connect(sink=sink, on_call=_log_call, write=write)
    return session


def _log_call(record: Any) -> None:
    level = logging.WARNING if (record.status or 0) >= 400 or record.error else logging.INFO
    log.log(
        level,
        "%s %s %s %s %.0fms%s",
        record.method,
        record.path,
        record.status,
        record.request_id or "-",
        record.duration_ms,
        f" {record.error}" if record.error else "",
    )


# -- subcommands ------------------------------------------------------------------------------


def cmd_plan(args: argparse.Namespace) -> int:
    stop = threading.Event()
    with stop_on_signals(stop.set):
        session = connect_headless(args, stop)
        try:
            engine = session.engine
            if _report_missing(engine, reading=True):
                return ExitCode.AUTH
            # Saved: the plan a run applies is one the admin has seen printed in full.
            engine.make_plan(save=True)
            print_plan(engine, sys.stdout, json_mode=args.json)
            return ExitCode.DONE
        finally:
            session.close()


def cmd_status(args: argparse.Namespace) -> int:
    stop = threading.Event()
    with stop_on_signals(stop.set):
        session = connect_headless(args, stop)
        try:
            engine = session.engine
            if _report_missing(engine, reading=True):
                return ExitCode.AUTH
            if engine.load_plan() is None:
                try:
                    engine.make_plan(save=False)
                except PlanError:
                    # Without the Global Administrator role no plan is safe; step 0 names
                    # the missing role below, which is the cause worth showing.
                    if not engine.missing():
                        raise
            states = engine.assess()
            subs = engine.inventory.subscriptions if engine.inventory and not engine.gone else ()
            print_status(states, sys.stdout, json_mode=args.json, subscriptions=subs)
            if not engine.gone and engine.missing():
                return ExitCode.AUTH  # step 0 lists what is missing; a run could not proceed
            return status_exit_code(states, engine.gone)
        finally:
            session.close()


def cmd_export(args: argparse.Namespace) -> int:
    if args.offline:
        from services.engine import export_offline

        if not args.tenant:
            raise UsageError(_("export --offline needs --tenant with the tenant id."))
        print(export_offline(args.tenant, root=args.state_dir, out=args.out))
        return ExitCode.DONE
    stop = threading.Event()
    with stop_on_signals(stop.set):
        session = connect_headless(args, stop)
        try:
            engine = session.engine
            if _report_missing(engine, reading=True):
                return ExitCode.AUTH
            if engine.load_plan() is None:
                engine.make_plan()
            engine.assess()
            path = engine.write_evidence(args.out, all_runs=True)
            print(path)
            return ExitCode.DONE
        finally:
            session.close()


def cmd_run(args: argparse.Namespace) -> int:
    if not args.headless:
        raise UsageError(
            _("closeout run needs --headless (for the TUI, run closeout without a command).")
        )
    from services.control import RunControl
    from services.steps.directory import MANUAL_ITEMS

    manual: list[str] = []
    for item in args.confirm_manual:
        for key in item.split(","):
            key = key.strip()
            if key == "all":
                manual += list(MANUAL_ITEMS)
            elif key in MANUAL_ITEMS:
                manual.append(key)
            elif key:
                raise UsageError(
                    _("Unknown manual check {key!r}; choose from: {keys}, all").format(
                        key=key, keys=", ".join(MANUAL_ITEMS)
                    )
                )
    control = RunControl()
    report = Reporter(sys.stdout, json_mode=args.json)
    with stop_on_signals(control.stop):
        try:
            session = connect_headless(args, control.stop_event, sink=report, write=True)
        except TenantGone as exc:
            report.emit({"event": "note", "level": "info", "message": exc.message}, None)
            report.emit({"event": "exit", "code": ExitCode.DONE}, None)
            raise
        except CloseoutError as exc:
            # A wrong tenant or a rejected token: JSON readers hear it too.
            _report_error(report, exc)
            raise
        engine = session.engine
        code = ExitCode.WAITING
        try:
            # Before reading or planning: a missing role or permission would otherwise surface
            # as a bare 403 from the inventory, or as a plan refusal that hides the cause.
            if _report_missing(engine, report):
                code = ExitCode.AUTH
                report.emit({"event": "exit", "code": code}, _("exit {code}").format(code=code))
                return code
            unfinished = session.journal.unfinished()
            if unfinished is not None and not engine.recording:
                line = _(
                    "The journal shows an unfinished run {run}; read-only, it is not resumed."
                ).format(run=unfinished.run_id)
                report.emit({"event": "note", "level": "info", "message": line}, line)
                unfinished = None
            if unfinished is not None:
                report.emit(
                    {
                        "event": "resume",
                        "run": unfinished.run_id,
                        "pending": len(unfinished.pending),
                    },
                    _(
                        "Resuming after an unfinished run {run} ({n} actions were in flight); "
                        "reconciling with a fresh read."
                    ).format(run=unfinished.run_id, n=len(unfinished.pending)),
                )
            engine.refresh()
            plan = engine.ensure_plan()
            engine.begin(
                "run",
                {
                    "yes": args.yes,
                    "no_wait": args.no_wait,
                    "keep": args.keep,
                    "read_only": args.read_only,
                    "resumed": unfinished.run_id if unfinished else None,
                },
            )
            report.emit(
                {"event": "plan", "digest": plan.digest(), "actions": len(plan.actions)},
                _("Plan {digest}: {n} actions; keeping {keep}.").format(
                    digest=plan.digest(),
                    n=len(plan.actions),
                    keep=", ".join(k.upn for k in plan.keep),
                ),
            )
            if session.sandbox is not None:
                from services.sandbox.portal import PortalPlayer

                PortalPlayer(session.sandbox, engine, interval=engine.options.poll_interval).start(
                    control.stop_event
                )
                manual = list(MANUAL_ITEMS)
            outcome = drive(
                engine,
                DriveOptions(
                    yes=args.yes,
                    confirm_domain=args.confirm_domain,
                    wait=not args.no_wait,
                    manual=tuple(manual),
                ),
                report,
                control,
            )
            code = outcome.code
            report.emit({"event": "exit", "code": code}, _("exit {code}").format(code=code))
            return code
        except CloseoutError as exc:
            # The journal's run-end records the exit code the process really ends with.
            code = _report_error(report, exc)
            raise
        finally:
            if engine.run_id:
                with contextlib.suppress(Exception):
                    pack = engine.finish(code)
                    if pack is not None:
                        _say(_("Evidence pack: {path}").format(path=pack))
            session.close()


def _report_error(report: Reporter, exc: CloseoutError) -> int:
    """An error and the exit code as JSON lines (main() prints the message and hint)."""
    code = exit_code_for(exc)
    report.emit({"event": "error", "message": exc.message, "hint": exc.hint, "code": code}, None)
    report.emit({"event": "exit", "code": code}, None)
    return code


def _report_missing(engine: Any, report: Reporter | None = None, *, reading: bool = False) -> bool:
    """Name every missing role or permission (stderr, or a JSON line); True if any.

    ``reading``: only what reading the tenant needs (plan, status, export change nothing).
    """
    from services.requirements import hinted_missing, missing_for

    missing = missing_for(engine.caller, read_only=True) if reading else engine.missing()
    for m in missing:
        if report is not None:
            report.emit(
                {"event": "missing", "kind": m.kind, "name": m.name, "step": int(m.step)},
                m.text(),
            )
        else:
            _say(m.text())
    hints = hinted_missing(engine.caller, read_only=True) if reading else engine.hints()
    if hints and not missing:
        # What a readable token claims is a hint, not a verdict: say it early, then let
        # Graph decide (the run stops at the first request it refuses).
        lines = [m.hint_text() for m in hints]
        lines.append(
            _(
                "closeout does not rely on what an access token says (it may be encrypted or "
                "not a JWT at all): it goes on and stops at the first request Graph refuses."
            )
        )
        for line in lines:
            if report is not None:
                report.emit({"event": "note", "level": "warning", "message": line}, line)
            else:
                _say(line)
    return bool(missing)


def cmd_sandbox_serve(args: argparse.Namespace) -> int:
    from services.sandbox import SandboxConfig, start_sandbox
    from services.sandbox.config import behaviour_settings

    config = SandboxConfig(
        users=args.users,
        seed=args.seed,
        port=args.port,
        time_scale=args.time_scale,
        latency_ms=args.latency_ms,
        faults=args.faults,
        hostile_names=args.hostile_names,
        **behaviour_settings(args.behaviour),
    )
    sb = start_sandbox(config)
    token = sb.issue_token(lifetime=12 * 3600)
    print(f"closeout sandbox {neutralise(sb.tenant.org.display_name)}")
    print(f"  Graph root      {sb.base_url}")
    print(f"  authority       {sb.authority}")
    print(f"  tenant id       {sb.tenant_id}")
    print(f"  initial domain  {sb.initial_domain}")
    print(f"  admin           {sb.admin_upn}")
    print(f"  device login    {sb.base_url}/devicelogin")
    print(f"  state           {sb.base_url}/_sandbox/state")
    if args.behaviour:
        print(f"  behaviours      {args.behaviour}")
    print("\n" + _("A ready token for the admin (12 h):"))
    print(f"  export CLOSEOUT_ACCESS_TOKEN={token}")
    print(
        "\n"
        + _("Then: closeout plan --graph-url {url} --authority {authority}").format(
            url=sb.base_url, authority=sb.authority
        )
    )
    done = threading.Event()
    # The handler is in place before the line that invites Ctrl-C: a Ctrl-C right after it
    # stops the sandbox cleanly (exit 0) instead of interrupting Python (exit 3).
    with stop_on_signals(done.set):
        print(_("Ctrl-C stops the sandbox."), flush=True)
        done.wait()
    sb.stop()
    return ExitCode.DONE


def cmd_tui(args: argparse.Namespace) -> int:
    from app.main import run_tui

    return run_tui(args, session_options(args))


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "plan":
        return cmd_plan(args)
    if args.command == "status":
        return cmd_status(args)
    if args.command == "export":
        return cmd_export(args)
    if args.command == "run":
        return cmd_run(args)
    if args.command == "sandbox":
        return cmd_sandbox_serve(args)
    return cmd_tui(args)


def _lang_option(argv: list[str]) -> str | None:
    """``--lang`` as given anywhere on the command line (a subcommand's parser resets an option
    given before the subcommand to its own default)."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--lang" and i + 1 < len(argv) else None
        if arg.startswith("--lang="):
            value = arg.partition("=")[2]
        if value in SUPPORTED:
            return value
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # Before the parser is built, so that --help and usage errors speak the language too.
    set_language(_lang_option(argv))
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        set_language(getattr(args, "lang", None) or _lang_option(argv))
    except ValueError as exc:
        parser.error(str(exc))
    if args.command != "sandbox":
        setup_logging(getattr(args, "state_dir", None))
    try:
        return dispatch(args)
    except TenantGone as exc:
        # Not an error: the close-out's last step happened (perhaps in an earlier run).
        _say(f"closeout: {exc.message}")
        if exc.hint:
            _say(f"  {exc.hint}")
        return ExitCode.DONE
    except CloseoutError as exc:
        _say(f"closeout: {exc.message}")
        if exc.hint:
            _say(f"  {exc.hint}")
        return exit_code_for(exc)
    except KeyboardInterrupt:
        _say(_("closeout: interrupted"))
        return ExitCode.WAITING
    except OSError as exc:
        _say(f"closeout: {exc.strerror or exc} ({getattr(exc, 'filename', '') or ''})")
        return ExitCode.USAGE


if __name__ == "__main__":
    raise SystemExit(main())
