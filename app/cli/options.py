"""The options every closeout command takes (sign-in, tenant, behaviour, demo), the session
options a command connects with (their numeric types, each with a floor and a ceiling, are in
:mod:`.argtypes`), and the epilog every ``--help`` with them ends with (exit codes, environment
variables)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from services.exit_codes import exit_codes_help
from services.i18n import N_, _

from .argtypes import POLL_INTERVAL, SEED, TIME_SCALE, USERS, positive_float, positive_int
from .command import UsageError

if TYPE_CHECKING:
    from services.session_options import SessionOptions

__all__ = ["common_options", "epilog", "positive_float", "positive_int", "session_options"]

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


def epilog() -> str:
    """The end of every ``--help``: exit codes and environment variables."""
    return exit_codes_help() + "\n" + _(ENVIRONMENT)


def common_options(*, suppress: bool = False) -> argparse.ArgumentParser:
    """The options every command takes, as a parent parser. ``suppress`` (for subcommands): an
    option not given after the subcommand keeps the value given before it, not the default."""
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
        help=_(
            "an account to keep, by userPrincipalName or object id (repeatable; required with "
            "app-only sign-in)"
        ),
    )
    b.add_argument(
        "--keep-file",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help=_(
            "accounts to keep: one userPrincipalName or object id per line, # comments (repeatable)"
        ),
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
        "--delete-own-app",
        action="store_true",
        help=_(
            "step 5 deletes closeout's own app registration as its very last write (default: "
            "it is left for you to delete, last, in the Entra admin center)"
        ),
    )
    b.add_argument(
        "--poll-interval",
        type=POLL_INTERVAL,
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
        help=_(
            "use an in-process sandbox tenant (no Microsoft contact), kept between launches "
            "with its journal in <state dir>/demo"
        ),
    )
    d.add_argument(
        "--fresh",
        action="store_true",
        help=_(
            "discard the kept demo tenant and its journal and start a new one (without it, "
            "--demo goes on with the tenant as the last launch left it)"
        ),
    )
    d.add_argument(
        "--users", type=USERS, help=_("demo tenant size (default: the kept one's; a new one: 300)")
    )
    d.add_argument(
        "--seed", type=SEED, help=_("demo tenant seed (default: the kept one's; a new one: 7)")
    )
    d.add_argument(
        "--time-scale",
        type=TIME_SCALE,
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


def session_options(args: argparse.Namespace, *, read_only: bool = False) -> SessionOptions:
    """What the session signs in to and how, from the shared options. ``read_only``: the
    command only reads (``plan``), whatever ``--read-only`` says."""
    from services.auth.scopes import DEFAULT_CLIENT_ID
    from services.demo_folder import demo_path
    from services.keep import read_keep_file
    from services.session_options import DEMO_TIME_SCALE, SessionOptions

    if args.graph_url and args.demo:
        raise UsageError(_("--demo and --graph-url cannot be combined."))
    _check_sign_in_options(args)
    rehearse = getattr(args, "rehearse", None)
    if rehearse is not None and (args.demo or args.graph_url):
        raise UsageError(_("--rehearse cannot be combined with --demo or --graph-url."))
    if args.fresh and not args.demo:
        raise UsageError(_("--fresh starts the demo tenant again: it goes with --demo."))
    return SessionOptions(
        tenant=args.tenant,
        client_id=args.client_id or DEFAULT_CLIENT_ID,
        cloud=args.cloud,
        graph_url=args.graph_url,
        authority=args.authority,
        certificate=args.certificate,
        thumbprint=args.thumbprint,
        read_only=args.read_only or read_only,
        keep=_keep_accounts(args.keep),
        keep_entries=tuple(e for path in args.keep_file for e in read_keep_file(path)),
        usage_reports=getattr(args, "usage_reports", False),
        disable_security_defaults=args.disable_security_defaults,
        disable_ca_mfa=args.disable_ca_mfa,
        delete_own_app=args.delete_own_app,
        demo=args.demo,
        demo_users=args.users,
        demo_seed=args.seed,
        demo_fresh=args.fresh,
        demo_time_scale=args.time_scale or DEMO_TIME_SCALE,
        rehearse=rehearse,
        sandbox_time_scale=None if args.demo else args.time_scale,
        poll_interval=args.poll_interval,
        # The demo keeps its tenant and journal in a folder of its own, never read by a real
        # run: <state dir>/demo.
        state_root=demo_path(args.state_dir) if args.demo else args.state_dir,
        use_token_cache=not args.no_token_cache,
        environ=dict(os.environ),
    )


def _keep_accounts(values: list[str]) -> tuple[str, ...]:
    """The ``--keep`` values, each a userPrincipalName or an object id: a file name given
    there is refused with the option that reads it, never guessed at."""
    from services.keep import KeepEntry

    for value in values:
        if not (KeepEntry(value).is_id or "@" in value):
            raise UsageError(
                _(
                    "--keep {value}: not a userPrincipalName or an object id; to read accounts "
                    "from a file, use --keep-file {value}."
                ).format(value=value)
            )
    return tuple(values)


def _check_sign_in_options(args: argparse.Namespace) -> None:
    """Sign-in options that contradict each other: said, not one of them silently ignored."""
    if args.thumbprint and not args.certificate:
        raise UsageError(_("--thumbprint needs --certificate (the PEM file it belongs to)."))
    if args.certificate and not args.demo and os.environ.get("CLOSEOUT_ACCESS_TOKEN") is not None:
        raise UsageError(
            _(
                "--certificate and CLOSEOUT_ACCESS_TOKEN both say how to sign in; closeout would "
                "use only the token."
            ),
            _("unset CLOSEOUT_ACCESS_TOKEN to sign in with the certificate, or drop --certificate"),
        )
