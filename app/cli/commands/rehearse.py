"""``closeout rehearse FILE``: the whole close-out on a replica of the tenant a snapshot holds,
in compressed time, and a report of what the real one will do, meet and take."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli.argtypes import LATENCY_MS, TIME_SCALE
from app.cli.command import Command
from app.cli.options import epilog as common_epilog
from app.cli.process import say, stop_on_signals
from services.exit_codes import ExitCode
from services.i18n import N_, _

from .sandbox import behaviour_list, behaviours


def epilog() -> str:
    return behaviour_list() + "\n\n" + common_epilog()


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("snapshot", type=Path, metavar="FILE", help=_("a closeout snapshot file"))
    parser.add_argument("--json", action="store_true", help=_("print the report as JSON"))
    parser.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="UPN",
        help=_("an account to keep (repeatable), as the real run will be given"),
    )
    parser.add_argument(
        "--disable-security-defaults",
        action="store_true",
        help=_("rehearse step 4 turning security defaults off"),
    )
    parser.add_argument(
        "--disable-ca-mfa",
        action="store_true",
        help=_("rehearse step 4 turning off Conditional Access policies that require MFA"),
    )
    parser.add_argument(
        "--delete-own-app",
        action="store_true",
        help=_("rehearse step 5 deleting closeout's own app as its very last write"),
    )
    parser.add_argument(
        "--behaviour",
        type=behaviours,
        default="",
        metavar="NAME,...",
        help=_("how the replica answers where Graph may answer either way (listed below)"),
    )
    parser.add_argument(
        "--latency-ms",
        type=LATENCY_MS,
        default=500.0,
        help=_("Graph's time per request, for the predicted durations (default 500)"),
    )
    parser.add_argument(
        "--time-scale",
        type=TIME_SCALE,
        default=36000.0,
        help=_("the replica's clock speed (default 36000: 72 hours in about 7 seconds)"),
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=_("where the rehearsal's folder goes (default: XDG state dir, rehearsals/)"),
    )
    parser.add_argument(
        "--lang", choices=("en", "sv"), help=_("language (default: from the locale)")
    )


def run(args: argparse.Namespace) -> ExitCode:
    from services.control import RunControl
    from services.rehearsal.run import RehearsalOptions, rehearse

    stop = RunControl()
    with stop_on_signals(stop.stop):
        result = rehearse(
            RehearsalOptions(
                snapshot=args.snapshot,
                keep=tuple(args.keep),
                disable_security_defaults=args.disable_security_defaults,
                disable_ca_mfa=args.disable_ca_mfa,
                delete_own_app=args.delete_own_app,
                behaviours=args.behaviour,
                time_scale=args.time_scale,
                latency=args.latency_ms / 1000.0,
                state_root=args.state_dir,
            ),
            say=say,
            control=stop,
        )
    report = result.report
    if args.json:
        sys.stdout.write(json.dumps(report.to_json(), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(report.to_text())
    return result.code


REHEARSE = Command(
    "rehearse",
    N_("rehearse the close-out on a replica of a snapshot (nothing contacts Microsoft)"),
    run,
    configure,
    common_options=False,
    epilog=epilog,
)
