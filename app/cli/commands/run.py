"""``closeout run --headless``: the close-out without the TUI, as far as it can go now (and,
unless ``--no-wait``, until it is done); progress as text or JSON lines on stdout, the evidence
pack written at the end. The run itself is :func:`services.headless.drive.drive`; this module turns
the options into its inputs, resumes an unfinished run, and reports the exit code."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING

from app.cli.command import Command, UsageError
from app.cli.context import Connection, connected, report_failure
from app.cli.process import say
from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for
from services.i18n import N_, _

if TYPE_CHECKING:
    from services.control import RunControl
    from services.headless.report import Reporter
    from services.notify import News


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--headless", action="store_true", help=_("no TUI: print progress (required)")
    )
    parser.add_argument("--json", action="store_true", help=_("one JSON object per line"))
    parser.add_argument(
        "--yes", action="store_true", help=_("allow destructive steps (counts are printed)")
    )
    parser.add_argument(
        "--confirm-domain",
        metavar="DOMAIN",
        help=_("the tenant's initial *.onmicrosoft.com domain: allows step 5's cleanup"),
    )
    parser.add_argument(
        "--confirm-manual",
        action="append",
        default=[],
        metavar="ITEM",
        help=_("tick a manual check: {keys}, or all (repeatable)").format(
            keys=", ".join(_manual_keys())
        ),
    )
    parser.add_argument(
        "--portal-refused",
        action="store_true",
        help=_(
            "the portal refused Delete tenant because of enterprise applications: offer step "
            "5's last resort (delete, then disable, every service principal)"
        ),
    )
    parser.add_argument(
        "--confirm-remove-all-sps",
        metavar="DOMAIN",
        help=_("the tenant's initial domain: allows that last resort (with --portal-refused)"),
    )
    parser.add_argument(
        "--no-wait", action="store_true", help=_("return at the first wait (exit 3)")
    )
    parser.add_argument(
        "--notify",
        metavar="COMMAND_OR_URL",
        help=_(
            "when a wait ends, a handoff is detected, or the run fails or is done: POST a short "
            "JSON body to this http(s) URL, or run this command (no shell) with it on stdin"
        ),
    )


def run(args: argparse.Namespace) -> ExitCode:
    if not args.headless:
        raise UsageError(
            _("closeout run needs --headless (for the TUI, run closeout without a command).")
        )
    from services.control import RunControl
    from services.headless.report import Reporter

    manual = manual_checks(args.confirm_manual)
    if args.confirm_remove_all_sps is not None and not args.portal_refused:
        raise UsageError(
            _(
                "--confirm-remove-all-sps is for after the portal refused Delete tenant: pass "
                "--portal-refused with it."
            )
        )
    control = RunControl()
    report = Reporter(sys.stdout, json_mode=args.json)
    news = _news(args, report)
    try:
        return _run_connected(args, report, control, manual, news)
    except CloseoutError as exc:
        if news is not None:
            news.ended(exit_code_for(exc), exc.message)
        raise
    finally:
        if news is not None:
            news.notifier.close()


def _run_connected(
    args: argparse.Namespace,
    report: Reporter,
    control: RunControl,
    manual: list[str],
    news: News | None,
) -> ExitCode:
    with connected(args, control=control, report=report, write=True) as connection:
        engine = connection.engine
        if news is not None:
            news.tenant = engine.caller.tenant.initial_domain
        code = ExitCode.WAITING
        try:
            code = _close_out(args, connection, report, control, manual)
            if news is not None:
                news.ended(code)
            return code
        except CloseoutError as exc:
            # The journal's run-end records the exit code the process really ends with.
            code = report_failure(report, exc)
            raise
        finally:
            if engine.run_id:
                with contextlib.suppress(Exception):
                    pack = engine.finish(code)
                    if pack is not None:
                        say(_("Evidence pack: {path}").format(path=pack))


def _news(args: argparse.Namespace, report: Reporter) -> News | None:
    """What ``--notify`` is told, hearing the run's events; None without it. A target that
    cannot work is refused here, before signing in."""
    if not args.notify:
        return None
    from services.notify import News, Notifier, parse_target

    target = parse_target(args.notify)

    def warn(line: str) -> None:
        report.emit({"event": "note", "level": "warning", "message": line}, f"warning: {line}")

    news = News(Notifier(target, on_error=warn), tenant=args.tenant or "")
    report.watchers.append(news)
    return news


def _manual_keys() -> list[str]:
    from services.steps.manual_checks import MANUAL_ITEMS  # words only: --help stays light

    return list(MANUAL_ITEMS)


def manual_checks(items: list[str]) -> list[str]:
    """The ``--confirm-manual`` values (repeated or comma-separated; ``all``) as check keys."""
    from services.steps import registry

    known = registry.manual_checks()
    manual: list[str] = []
    for item in items:
        for key in item.split(","):
            key = key.strip()
            if key == "all":
                manual += list(known)
            elif key in known:
                manual.append(key)
            elif key:
                raise UsageError(
                    _("Unknown manual check {key!r}; choose from: {keys}, all").format(
                        key=key, keys=", ".join(known)
                    )
                )
    return manual


def _close_out(
    args: argparse.Namespace,
    connection: Connection,
    report: Reporter,
    control: RunControl,
    manual: list[str],
) -> ExitCode:
    from services.headless.drive import DriveOptions, drive
    from services.steps import registry

    engine = connection.engine
    # Before reading or planning: a missing role or permission would otherwise surface as a
    # bare 403 from the inventory, or as a plan refusal that hides the cause.
    if connection.report_missing():
        return _exit(report, ExitCode.AUTH)
    unfinished = connection.session.journal.unfinished() if connection.session.journal else None
    if unfinished is not None and not engine.recording:
        line = _("The journal shows an unfinished run {run}; read-only, it is not resumed.").format(
            run=unfinished.run_id
        )
        report.emit({"event": "note", "level": "info", "message": line}, line)
        unfinished = None
    if unfinished is not None:
        report.emit(
            {"event": "resume", "run": unfinished.run_id, "pending": len(unfinished.pending)},
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
            "keep_file": [str(path) for path in args.keep_file],
            "read_only": args.read_only,
            "resumed": unfinished.run_id if unfinished else None,
        },
    )
    report.emit(
        {"event": "plan", "digest": plan.digest(), "actions": len(plan.actions)},
        _("Plan {digest}: {n} actions; keeping {keep}.").format(
            digest=plan.digest(), n=len(plan.actions), keep=", ".join(k.upn for k in plan.keep)
        ),
    )
    if connection.session.sandbox is not None:
        from services.sandbox.portal import PortalPlayer

        PortalPlayer(
            connection.session.sandbox, engine, interval=engine.options.poll_interval
        ).start(control.stop_event)
        manual = list(registry.manual_checks())
    options = DriveOptions(
        yes=args.yes,
        confirm_domain=args.confirm_domain,
        wait=not args.no_wait,
        manual=tuple(manual),
        portal_refused=args.portal_refused,
        confirm_all_sps=args.confirm_remove_all_sps,
    )
    return _exit(report, drive(engine, options, report, control).code)


def _exit(report: Reporter, code: ExitCode) -> ExitCode:
    report.emit({"event": "exit", "code": code}, _("exit {code}").format(code=code))
    return code


RUN = Command("run", N_("run the close-out"), run, configure)
