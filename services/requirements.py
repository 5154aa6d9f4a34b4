"""What each step needs: directory roles and Graph permissions (graph-api.md §1, §9, §10).

A missing role or permission stops closeout before anything is changed, naming exactly what is
missing and for which step, so the admin can fix consent or roles and run again. Roles come
from Graph; permissions from closeout's own sign-in (msal's token response). When the
permissions are unknown (a bring-your-own or app-only token, which closeout does not read),
what Graph refuses is learned instead (:func:`learned_missing`), and what a readable token's
claims say is only a warning (:func:`hinted_missing`). The needs are data: each step's module
writes its :class:`StepNeeds` into its registry entry (``Step.requires``), the Graph calls the
step makes by their rows in :mod:`services.endpoints`, whose permissions are written there.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from .caller import ROLE_NAMES, Caller
from .endpoints import Endpoint
from .errors import GraphError
from .guidance import permission_for
from .i18n import _
from .models import StepId

Condition = Literal["always", "sync-on", "security-defaults", "ca"]


@dataclass(frozen=True)
class Uses:
    """One Graph call a step makes, and what for in the admin's words (``N_``)."""

    call: Endpoint
    why: str
    when: Condition = "always"
    """``always``, ``sync-on`` (directory sync is on), ``security-defaults`` or ``ca`` (turning
    them off was asked for)."""
    admins: str | None = None
    """What for, when the call's :attr:`~services.endpoints.Endpoint.for_admins` permission is
    needed too (``N_``)."""
    whole: bool = False
    """The step relies on properties only a full read returns: only the call's
    :attr:`~services.endpoints.Endpoint.full_read` permissions meet the need."""


@dataclass(frozen=True)
class Need:
    """One requirement: any of ``names`` satisfies it."""

    names: tuple[str, ...]
    whys: tuple[str, ...]
    """What for (``N_``), one per call it stands for."""

    @property
    def why(self) -> str:
        return "; ".join(_(w) for w in self.whys)


@dataclass(frozen=True)
class StepNeeds:
    """What one step requires; each step's :class:`~services.steps.step.Step` points to one."""

    roles: tuple[str, ...] = ()
    """Role template ids, any of which allows the step (delegated sign-in only)."""
    uses: tuple[Uses, ...] = ()
    """The calls whose permissions it needs (their rows in :mod:`services.endpoints`)."""
    reading: bool = False
    """Needed even by a read-only session (reading the tenant)."""


class NeedsStep(Protocol):
    """A step as :func:`missing_for` sees it (``services.steps.step.Step``)."""

    @property
    def id(self) -> StepId: ...

    @property
    def requires(self) -> StepNeeds: ...


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


def permission_needs(
    needs: StepNeeds,
    *,
    app_only: bool,
    sync_on: bool,
    disable_security_defaults: bool,
    disable_ca: bool,
) -> tuple[Need, ...]:
    """The permissions a step needs in this situation, from the rows of the calls it makes.

    A call a signed-in user makes accepts its delegated permissions, one an application makes
    its application permissions; the higher ones the reference lists count for both. A need
    that any token meeting another need of the step meets too says nothing new and is left out.
    """
    applies: dict[Condition, bool] = {
        "always": True,
        "sync-on": sync_on,
        "security-defaults": disable_security_defaults,
        "ca": disable_ca,
    }
    found: list[tuple[tuple[str, ...], str]] = []
    for use in needs.uses:
        call = use.call
        least = call.application if app_only else call.delegated
        if not applies[use.when] or not least:
            continue
        accepted = call.accepted_application if app_only else call.accepted_delegated
        if use.whole and call.full_read:
            accepted = call.full_read
        found.append((accepted, use.why))
        found += [((name,), use.why) for name in call.together]
        if call.for_admins and use.admins and not app_only:
            found.append(((call.for_admins,), use.admins))
    return _merged(found)


def _merged(found: list[tuple[tuple[str, ...], str]]) -> tuple[Need, ...]:
    """One need per set of names (in whatever order the rows list them: the organization's
    read and the subscriptions' name the same four), with every why; a need that another's
    smaller set implies is left out."""
    whys: dict[frozenset[str], list[str]] = {}
    shown: dict[frozenset[str], tuple[str, ...]] = {}
    for names, why in found:
        key = frozenset(names)
        shown.setdefault(key, names)
        seen = whys.setdefault(key, [])
        if why not in seen:
            seen.append(why)
    kept = [key for key in whys if not any(other < key for other in whys)]
    return tuple(Need(shown[key], tuple(whys[key])) for key in kept)


def missing_for(
    caller: Caller,
    steps: Iterable[NeedsStep],
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
        needs = step.requires
        if read_only and not needs.reading:
            continue
        if not caller.app_only:
            roles = needs.roles
            if roles and not any(r in caller.role_ids for r in roles):
                missing.append(
                    Missing(
                        "role",
                        " or ".join(ROLE_NAMES[r] for r in roles),
                        step.id,
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
    steps: Iterable[NeedsStep],
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
        if not (read_only and not step.requires.reading):
            missing += _lacking(
                caller, caller.permission_hint, step, disable_security_defaults, disable_ca
            )
    return missing


def _lacking(
    caller: Caller,
    granted: frozenset[str],
    step: NeedsStep,
    disable_security_defaults: bool,
    disable_ca: bool,
) -> list[Missing]:
    return [
        Missing("permission", " or ".join(need.names), step.id, need.why)
        for need in permission_needs(
            step.requires,
            app_only=caller.app_only,
            # Unknown is not off: a sign-in that cannot read the flag may still meet sync.
            sync_on=caller.sync_enabled is True or caller.sync_unknown,
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
