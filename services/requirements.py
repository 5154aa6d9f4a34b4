"""What each step needs: directory roles and Graph permissions (graph-api.md §1, §9, §10).

A missing role or permission stops closeout before anything is changed, naming exactly what is
missing and for which step, so the admin can fix consent or roles and run again. Roles come
from Graph; permissions from closeout's own sign-in (msal's token response). When the
permissions are unknown (a bring-your-own or app-only token, which closeout does not read),
what Graph refuses is learned instead (:func:`learned_missing`), and what a readable token's
claims say is only a warning (:func:`hinted_missing`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .caller import ROLE_NAMES, Caller
from .errors import GraphError
from .guidance import permission_for
from .i18n import N_, _
from .models import BILLING_ADMIN, GLOBAL_ADMIN, StepId


@dataclass(frozen=True)
class Need:
    """One requirement: any of ``names`` satisfies it."""

    names: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Missing:
    kind: str  # "role" or "permission"
    name: str
    step: StepId
    why: str

    def text(self) -> str:
        if self.kind == "role":
            return _("Step {step} needs the {name} role: {why}").format(
                step=int(self.step), name=self.name, why=self.why
            )
        return _("Step {step} needs the Graph permission {name}: {why}").format(
            step=int(self.step), name=self.name, why=self.why
        )

    def hint_text(self) -> str:
        """For a permission only a token's claims say is missing (see :func:`hinted_missing`)."""
        return _(
            "The token does not seem to carry the Graph permission {name}, which step {step} "
            "needs: {why}"
        ).format(step=int(self.step), name=self.name, why=self.why)


READ_NEEDS = (
    Need(
        ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"),
        N_("read users, their sync state and licences"),
    ),
    Need(
        ("Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All"),
        N_("read the organization and its subscriptions"),
    ),
    Need(("Policy.Read.All",), N_("read security defaults, Conditional Access and per-user MFA")),
    Need(
        ("Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"),
        N_("read applications and service principals"),
    ),
    Need(
        (
            "RoleManagement.Read.Directory",
            "Directory.Read.All",
            "RoleManagement.ReadWrite.Directory",
        ),
        N_("read who holds which admin role"),
    ),
)


def permission_needs(
    step: StepId,
    *,
    app_only: bool,
    sync_on: bool,
    disable_security_defaults: bool,
    disable_ca: bool,
) -> tuple[Need, ...]:
    if step == StepId.PREPARE:
        return READ_NEEDS
    if step == StepId.DELETE_USERS:
        needs = [Need(("User.ReadWrite.All", "User.DeleteRestore.All"), N_("delete users"))]
        if not app_only:
            needs.append(
                Need(("Directory.AccessAsUser.All",), N_("delete users who hold admin roles"))
            )
        if sync_on:
            needs.append(
                Need(("Organization.ReadWrite.All",), N_("turn directory synchronization off"))
            )
        return tuple(needs)
    if step == StepId.DISABLE_MFA:
        needs = [Need(("Policy.ReadWrite.AuthenticationMethod",), N_("turn per-user MFA off"))]
        if disable_security_defaults:
            needs.append(
                Need(("Policy.ReadWrite.SecurityDefaults",), N_("turn security defaults off"))
            )
        if disable_ca:
            needs.append(
                Need(
                    ("Policy.ReadWrite.ConditionalAccess",),
                    N_("turn Conditional Access policies off"),
                )
            )
        return tuple(needs)
    if step == StepId.DELETE_DIRECTORY:
        purge = (
            ("User.DeleteRestore.All",)
            if app_only
            else ("User.ReadWrite.All", "User.DeleteRestore.All")
        )
        return (
            Need(purge, N_("permanently delete users in the recycle bin")),
            Need(("Application.ReadWrite.All",), N_("delete applications and service principals")),
        )
    return ()


def role_needs(step: StepId) -> tuple[str, ...]:
    """Role template ids, any of which allows the step (delegated sign-in only)."""
    if step in (StepId.DELETE_USERS, StepId.DISABLE_MFA, StepId.DELETE_DIRECTORY):
        return (GLOBAL_ADMIN,)
    if step in (StepId.CANCEL_SUBSCRIPTIONS, StepId.DELETE_SUBSCRIPTIONS):
        return (GLOBAL_ADMIN, BILLING_ADMIN)
    return ()


def missing_for(
    caller: Caller,
    steps: tuple[StepId, ...] = tuple(StepId),
    *,
    read_only: bool = False,
    disable_security_defaults: bool = False,
    disable_ca: bool = False,
) -> list[Missing]:
    """Everything known to be missing for ``steps`` (only reading, when ``read_only``).

    Permissions count only when the sign-in reported them (``caller.permissions``).
    """
    missing: list[Missing] = []
    for step in steps:
        if read_only and step != StepId.PREPARE:
            continue
        if not caller.app_only:
            roles = role_needs(step)
            if roles and not any(r in caller.role_ids for r in roles):
                missing.append(
                    Missing(
                        "role",
                        " or ".join(ROLE_NAMES[r] for r in roles),
                        step,
                        _("the article requires it for this step"),
                    )
                )
        if caller.permissions is not None:
            missing += _lacking(
                caller, caller.permissions, step, disable_security_defaults, disable_ca
            )
    return missing


def hinted_missing(
    caller: Caller,
    steps: tuple[StepId, ...] = tuple(StepId),
    *,
    read_only: bool = False,
    disable_security_defaults: bool = False,
    disable_ca: bool = False,
) -> list[Missing]:
    """Permissions a readable token's claims say it lacks, when nothing better is known.

    For an early warning only: the run goes on and stops at the first request Graph refuses.
    """
    if caller.permissions is not None or caller.permission_hint is None:
        return []
    missing: list[Missing] = []
    for step in steps:
        if not (read_only and step != StepId.PREPARE):
            missing += _lacking(
                caller, caller.permission_hint, step, disable_security_defaults, disable_ca
            )
    return missing


def _lacking(
    caller: Caller,
    granted: frozenset[str],
    step: StepId,
    disable_security_defaults: bool,
    disable_ca: bool,
) -> list[Missing]:
    return [
        Missing("permission", " or ".join(need.names), step, _(need.why))
        for need in permission_needs(
            step,
            app_only=caller.app_only,
            sync_on=bool(caller.sync_enabled),
            disable_security_defaults=disable_security_defaults,
            disable_ca=disable_ca,
        )
        if not any(n in granted for n in need.names)
    ]


def learned_missing(denied: Mapping[str, GraphError]) -> list[Missing]:
    """What Graph's 403s on reading the tenant say is missing (part name → the refusal)."""
    missing: list[Missing] = []
    for error in denied.values():
        path = error.path.split("?", 1)[0]
        perm = permission_for(error.method, path)
        name = (
            perm.scopes
            if perm is not None
            else _("a permission for {method} {path}").format(method=error.method, path=path)
        )
        missing.append(
            Missing(
                "permission",
                name,
                StepId.PREPARE,
                _("Graph refused {method} {path} (403)").format(method=error.method, path=path),
            )
        )
    return missing
