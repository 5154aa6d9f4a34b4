"""When closeout may say that a tenant is deleted, and what it says about a refused token.

"Deleted" ends the close-out (exit 0), so it needs evidence, not a guess. A refused token
proves nothing about its tenant: it may be expired, revoked, forged or another tenant's. A
tenant is reported gone only when all three hold:

1. the refusal names the tenant as not found (a 400/401/404 from Graph, or AADSTS90002 from
   sign-in), by id or domain;
2. closeout reached that tenant before (:mod:`services.saved_tenants`), so the name is known to
   be a tenant that existed, and nothing is created for one it never reached;
3. the tenant's public OpenID discovery document answers AADSTS90002 (it needs no token).

Otherwise the admin hears that the token was rejected, with Graph's code and message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

from .auth.static_token import ENV_ACCESS_TOKEN
from .errors import AuthError, CloseoutError, GraphError
from .i18n import _
from .saved_tenants import SavedTenant, reached_tenant
from .steps.directory import tenant_gone

_NOT_FOUND = re.compile(
    r"AADSTS90002|\bnot found\b|\bdoes not exist\b|\bno longer exists\b|TenantNotFound",
    re.IGNORECASE,
)
_GUID = re.compile(r"\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b")
_DOMAIN = re.compile(
    r"\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_REFUSALS = (400, 401, 404)


class TenantGone(CloseoutError):
    """The tenant no longer exists: its deletion is confirmed (the close-out is complete)."""

    def __init__(self, tenant_id: str, *, folder: Path | None = None) -> None:
        self.tenant_id = tenant_id
        super().__init__(
            _("Tenant {tenant} no longer exists: its deletion is confirmed.").format(
                tenant=tenant_id
            ),
            _("The journal and the evidence packs of its runs are kept in {path}").format(
                path=folder if folder is not None else _("closeout's state directory")
            ),
        )


class TokenRejected(AuthError):
    """Graph refused the token; nothing says the tenant is gone."""

    def __init__(self, refusal: GraphError, *, bring_your_own: bool) -> None:
        self.refusal = refusal
        where = f" [request-id {refusal.request_id}]" if refusal.request_id else ""
        super().__init__(
            _("This token was rejected by Microsoft Graph: {status} {code}: {message}").format(
                status=refusal.status, code=refusal.code, message=refusal.message[:300]
            )
            + where,
            (
                _(
                    "get a new token for the tenant you mean to close and put it in {env} "
                    "(or unset it to sign in with a device code); a rejected token alone never "
                    "means that a tenant was deleted"
                ).format(env=ENV_ACCESS_TOKEN)
                if bring_your_own
                else _(
                    "sign in again to the tenant you mean to close (check --tenant); a rejected "
                    "token alone never means that a tenant was deleted"
                )
            ),
        )


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or while handling."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 8:
        item = todo.pop(0)
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo += [item.__cause__, item.__context__]
    return seen


def _refusal_texts(exc: BaseException) -> list[str]:
    texts: list[str] = []
    for item in _chain(exc):
        if isinstance(item, GraphError) and item.status in _REFUSALS:
            texts.append(f"{item.code} {item.message}")
        elif isinstance(item, AuthError) and not isinstance(item, GraphError):
            texts.append(item.message)
    return texts


def names_reported_missing(exc: BaseException) -> list[str]:
    """The tenant ids and domains that a refusal reports as not found, in order."""
    names: list[str] = []
    for text in _refusal_texts(exc):
        if _NOT_FOUND.search(text):
            for name in [*_GUID.findall(text), *_DOMAIN.findall(text)]:
                if name.lower() not in names:
                    names.append(name.lower())
    return names


def reports_tenant_missing(exc: BaseException, tenant_id: str, domains: Iterable[str]) -> bool:
    """The refusal names this tenant (its id or one of its domains) as not found."""
    known = {tenant_id.lower(), *(d.lower() for d in domains)}
    return any(name in known for name in names_reported_missing(exc))


def graph_refusal(exc: BaseException) -> GraphError | None:
    """Graph's own refusal behind ``exc`` (401, or a 400/404 naming a tenant as not found)."""
    for item in _chain(exc):
        if isinstance(item, GraphError) and (
            item.status == 401
            or (item.status in _REFUSALS and _NOT_FOUND.search(f"{item.code} {item.message}"))
        ):
            return item
    return None


def _named_as(saved: SavedTenant, asked: str) -> bool:
    key = asked.strip().lower()
    return key in (saved.id, saved.initial_domain.lower())


def explain_refusal(
    exc: CloseoutError,
    *,
    named: Sequence[str],
    authority_base: str,
    root: Path | None,
    bring_your_own: bool,
) -> CloseoutError:
    """What a refused sign-in or first Graph read means: :class:`TenantGone` on the evidence
    above, :class:`TokenRejected` for any other refusal by Graph, else ``exc`` itself.

    ``named``: the tenants the admin named; a gone tenant must be one of them.
    """
    for name in names_reported_missing(exc):
        saved = reached_tenant(name, root=root)
        if saved is None or not all(_named_as(saved, asked) for asked in named):
            continue
        if tenant_gone(authority_base, saved.id) is True:
            return TenantGone(saved.id, folder=saved.folder)
    refusal = graph_refusal(exc)
    if refusal is not None:
        return TokenRejected(refusal, bring_your_own=bring_your_own)
    return exc
