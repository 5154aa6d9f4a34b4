"""The endpoint table (services/endpoints) against what closeout really sends and what the
sandbox really allows.

Three full sandbox close-outs and a snapshot between them send every call closeout makes: a
clean close-out; one
whose every ``$batch`` answer is lost (so each write is settled by reading its object back) and
whose first role read and every expanded role listing are refused (the fallbacks); and one
that keeps two users and turns security defaults off (so step 4 has per-user MFA and a policy
to change); and ``closeout snapshot``, which counts the users for its ETA. Every request the sandbox
received, ``$batch`` sub-requests included, must be a call of some row, and every row must be
sent by one of the runs: nothing is sent that the table does not know, and the table holds no
call closeout never makes.

Then each row is played against the sandbox's own authorization rules, which it keeps
independently (services/sandbox/authz.py and its handlers): the least permission the row names
is let through, a token with none of the permissions the row accepts is refused, an application
is refused where the row says Graph supports none, a token without a permission the row needs
as well (CAUPD's Policy.Read.All) is refused, and a signed-in user is let through with each role
the row names and refused with any other.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from services import endpoints, requirements
from services.auth.scopes import scopes_for
from services.endpoints import Endpoint
from services.guidance import permission_for
from services.models import StepId
from services.sandbox import Sandbox
from services.sandbox.authz import ALL_SCOPES
from services.sandbox.graph_api.applications import delete_application
from services.sandbox.tenant import GLOBAL_ADMIN, ROLE_TEMPLATES
from services.steps import registry
from tests.support.cli_harness import FAST, close_with_portal, full_run_args, run_cli, target_args

# -- every request a close-out sends has a row, and every row is sent ------------------------


def _rows_sent(sb: Sandbox) -> tuple[Counter[str], list[tuple[str, str]], int]:
    """Per row, how often it was sent; the Graph requests no row knows; how many were inside
    a ``$batch``."""
    used: Counter[str] = Counter()
    unknown: list[tuple[str, str]] = []
    inner = 0
    for rec in sb.recorder.records():
        inner += rec.in_batch
        rows = endpoints.lookup(rec.method, rec.path)
        if not rows:
            unknown.append((rec.method, rec.path))
        used.update({row.name for row in rows})
    return used, unknown, inner


def _close_out(
    make_sandbox: Callable[..., Sandbox],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    prepare: Callable[[Sandbox], list[str]] = lambda sb: [],
    **config: Any,
) -> tuple[Sandbox, int]:
    sb = make_sandbox(users=40, seed=11, time_scale=FAST, deprovision_hours=160, **config)
    extra = prepare(sb)
    result, human = close_with_portal(
        sb, [*full_run_args(sb, tmp_path), *extra], monkeypatch=monkeypatch
    )
    assert not human.errors, human.errors
    return sb, result.code


def _lost_answers(sb: Sandbox) -> list[str]:
    sb.add_fault(method="POST", path=r"/\$batch$", drop=True, after=True, times=10_000)
    sb.add_fault(method="GET", path=r"/me/transitiveMemberOf/", status=403, times=1)
    return []


def _kept_with_mfa(sb: Sandbox) -> list[str]:
    kept = [
        u
        for u in sb.tenant.users.values()
        if u.id != sb.admin_id and not u.synced and not sb.tenant.roles_of(u.id)
    ][:2]
    for u in kept:
        u.mfa_state = "enforced"
    return [
        "--disable-security-defaults",
        *(a for u in kept for a in ("--keep", u.user_principal_name)),
    ]


@pytest.mark.slow
def test_a_full_close_out_sends_only_calls_of_the_table_and_every_row_is_sent(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean, code = _close_out(make_sandbox, tmp_path / "clean", monkeypatch)
    assert code == 0  # the whole close-out, the tenant deleted
    assert clean.recorder.events("tenant-deleted")
    lost, _code = _close_out(
        make_sandbox,
        tmp_path / "lost",
        monkeypatch,
        prepare=_lost_answers,
        role_expand="refused",  # so each role's members are read on their own
    )
    kept, _code = _close_out(
        make_sandbox,
        tmp_path / "kept",
        monkeypatch,
        prepare=_kept_with_mfa,
        security_defaults=True,
    )

    snap = make_sandbox(users=40, seed=11, time_scale=FAST)
    result = run_cli(
        ["snapshot", "--out", str(tmp_path / "t.json.gz"), *target_args(snap, tmp_path / "snap")],
        monkeypatch=monkeypatch,
        token=snap.issue_token(scopes=set(scopes_for(read_only=True))),
    )
    assert result.code == 0, result.text[-2000:]
    # data-owners reads the usage reports, which no close-out does (issue 12).
    result = run_cli(
        ["data-owners", *target_args(snap, tmp_path / "owners")],
        monkeypatch=monkeypatch,
        token=snap.issue_token(scopes=set(scopes_for(read_only=True, usage_reports=True))),
    )
    assert result.code == 0, result.text[-2000:]

    sent: Counter[str] = Counter()
    for sb in (clean, lost, kept, snap):
        used, unknown, inner = _rows_sent(sb)
        assert unknown == []
        # A close-out's writes went in $batch sub-requests, and were checked too.
        assert inner > 20 or sb is snap
        sent.update(used)
    # The envelopes themselves are not recorded by the sandbox (each request inside is).
    envelopes = {endpoints.BATCH.name, endpoints.BATCH_BETA.name}
    assert {e.name for e in endpoints.ENDPOINTS} - set(sent) == envelopes
    # What each run is there for happened: the read-backs, the fallback, step 4's writes.
    assert sent[endpoints.USER.name] and sent[endpoints.DELETED_APP.name]
    assert sent[endpoints.ROLE_ASSIGNMENTS.name] == 1 and sent[endpoints.ROLE_MEMBERS.name]
    assert sent[endpoints.MFA_UPDATE.name] == 2 and sent[endpoints.SECURITY_DEFAULTS_UPDATE.name]
    assert sent[endpoints.USERS_COUNT.name] == 1


def test_requests_outside_the_table_are_found() -> None:
    """What the test above relies on: lookup refuses what is not a row's call."""
    assert endpoints.lookup("GET", "/v1.0/users/x/memberOf") == ()
    assert endpoints.lookup("PATCH", "/v1.0/users/x") == ()  # closeout never changes a user
    assert endpoints.lookup("GET", "/v1.0/users/x/authentication/requirements") == ()  # beta only
    assert endpoints.lookup("GET", "/v1.0/directory/deletedItems") == ()
    assert [e.name for e in endpoints.lookup("DELETE", "/v1.0/users/x")] == ["users.delete"]
    assert [e.name for e in endpoints.lookup("GET", "/v1.0/directory/deletedItems/x")] == [
        "deletedItems.getUser",
        "deletedItems.getApplication",
    ]
    cast = "/v1.0/directory/deletedItems/microsoft.graph.user"
    assert [e.name for e in endpoints.lookup("GET", cast)] == ["deletedUsers.list"]
    link = "https://graph.microsoft.com/v1.0/users?$skiptoken=abc"
    assert [e.name for e in endpoints.lookup("GET", link)] == ["users.list"]


# -- what is derived from the table ----------------------------------------------------------

STEP_NEEDS = tuple(s.requires for s in registry.STEPS)


def _allowed(row: Endpoint, scopes: tuple[str, ...]) -> bool:
    return bool(set(row.accepted_delegated) & set(scopes)) and set(row.together) <= set(scopes)


def test_the_scopes_a_run_asks_for_allow_each_call_it_makes_and_no_more() -> None:
    everything = scopes_for(
        read_only=False, disable_security_defaults=True, disable_ca_mfa=True, usage_reports=True
    )
    plain = scopes_for(read_only=False)
    read_only = scopes_for(read_only=True, usage_reports=True)
    for row in CALLS:
        assert _allowed(row, everything), row.name
        assert _allowed(row, plain) == (row.option is None), row.name
        assert _allowed(row, read_only) or row.writes, row.name
    # Each scope is there for some call: the least of a read, or what a write needs.
    for scope in everything:
        assert any(scope in (*r.accepted_delegated, *r.together, r.for_admins) for r in CALLS)
    assert not [s for s in read_only if "ReadWrite" in s or s.endswith(".AccessAsUser.All")]


def test_every_write_is_a_need_of_the_step_that_makes_it_and_every_list_of_reading() -> None:
    used = {use.call.name for needs in STEP_NEEDS for use in needs.uses}
    assert {row.name for row in CALLS if row.writes} <= used
    # Sign-in's own reads come before any requirement can be checked (step 0's needs).
    sign_in = {e.name for e in (endpoints.ORGANIZATION, endpoints.ME, endpoints.MY_ROLES)}
    sign_in.add(endpoints.ROLE_ASSIGNMENTS.name)
    sign_in.add(endpoints.USERS_COUNT.name)  # the snapshot's ETA only
    lists = {r.name for r in CALLS if not r.writes and not r.placeholders} - sign_in
    assert lists <= {use.call.name for use in registry.planning().requires.uses}


def test_the_scopes_closeout_asks_for_meet_every_step_need() -> None:
    """A sign-in that got all it asked for is never told it lacks a permission."""
    granted = set(scopes_for(read_only=False, disable_security_defaults=True, disable_ca_mfa=True))
    for needs in STEP_NEEDS:
        found = requirements.permission_needs(
            needs, app_only=False, sync_on=True, disable_security_defaults=True, disable_ca=True
        )
        assert all(set(n.names) & granted for n in found), needs


def test_an_application_with_owned_by_alone_is_told_step_5_needs_read_write_all() -> None:
    """Application.ReadWrite.OwnedBy reaches only the apps the calling app owns (PERMREF):
    closeout deletes and purges every one, so OwnedBy meets none of step 5's app needs."""
    step5 = next(s for s in registry.STEPS if s.id == StepId.DELETE_DIRECTORY)
    found = requirements.permission_needs(
        step5.requires,
        app_only=True,
        sync_on=False,
        disable_security_defaults=False,
        disable_ca=False,
    )
    app_needs = [n for n in found if any(name.startswith("Application.") for name in n.names)]
    assert app_needs and all("Application.ReadWrite.All" in n.names for n in app_needs)
    assert not [n for n in app_needs if "Application.ReadWrite.OwnedBy" in n.names]


def test_a_refusal_names_what_the_call_needs_from_its_row() -> None:
    for row in CALLS:
        ids = {name: "00000000-0000-0000-0000-000000000001" for name in row.placeholders}
        perm = permission_for(row.method, f"/{row.version}{row.url(**ids)}")
        assert perm is not None, row.name
        assert (row.delegated or ())[0] in perm.scopes, row.name
        if row.roles:
            assert perm.roles is not None and row.roles[0] in perm.roles, row.name
    assert permission_for("PATCH", "/v1.0/users/x") is None  # not a call closeout makes


# -- every row against the sandbox's authorization rules -------------------------------------

ROLE_IDS = {name: template for template, name in ROLE_TEMPLATES.items()}
DIRECTORY_AS_USER = "Directory.AccessAsUser.All"
"""Delegated access to all the signed-in user may do in the directory. Microsoft's permission
tables list it for some calls and not others; the sandbox, like Graph, lets it act as the user,
so a token meant to hold none of a call's permissions must not hold it either."""
UNIVERSE = frozenset(
    {*ALL_SCOPES}
    | {p for e in endpoints.ENDPOINTS for p in (*e.accepted_delegated, *e.accepted_application)}
)
APP_UNIVERSE = UNIVERSE - {"User.Read", DIRECTORY_AS_USER}  # delegated permissions only


@dataclass
class Targets:
    """Objects of a fresh sandbox for a row's calls to act on. A DELETE takes a new one once
    a call let through has deleted the last, so that it does not change what the next one
    meets (a tenant has few apps to spend on refusals); other calls keep acting on the
    first."""

    sb: Sandbox
    row: Endpoint
    taken: set[str] = field(default_factory=set)
    kept: dict[str, str] = field(default_factory=dict)

    def _pick(self, kind: str, ids: Callable[[], list[str]]) -> str:
        if kind in self.kept and (self.row.method != "DELETE" or self._exists(self.kept[kind])):
            return self.kept[kind]
        found = next(i for i in ids() if i not in self.taken)
        self.taken.add(found)
        self.kept[kind] = found
        return found

    def _exists(self, object_id: str) -> bool:
        t = self.sb.tenant
        return any(
            object_id in objects
            for objects in (
                t.users,
                t.applications,
                t.service_principals,
                t.deleted_users,
                t.deleted_applications,
                t.deleted_service_principals,
            )
        )

    def plain_users(self) -> list[str]:
        t = self.sb.tenant
        owners = {o for a in t.applications.values() for o in a.owners}
        return [
            u.id
            for u in t.users.values()
            if u.id != self.sb.admin_id
            and not u.synced
            and not t.roles_of(u.id)
            and u.id not in owners  # an owner may delete the app it owns, with no role
        ]

    def _binned_user(self) -> list[str]:
        user_id = next(i for i in self.plain_users() if i not in self.taken)
        token = self.sb.issue_token()
        url = f"{self.sb.base_url}/v1.0/users/{user_id}"
        resp = requests.delete(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert resp.status_code == 204, resp.text
        return [user_id]

    def _binned_app(self) -> list[str]:
        app_id = next(a.id for a in self.sb.tenant.applications.values())
        with self.sb.lock:
            delete_application(self.sb, app_id)
        return [app_id]

    def ids(self) -> dict[str, str]:
        row = self.row
        if not row.placeholders:
            return {}
        t = self.sb.tenant
        kinds: dict[str, Callable[[], list[str]]] = {
            "/users/": self.plain_users,
            "/organization/": lambda: [t.org.id],
            "/directoryRoles/": lambda: [t.roles[GLOBAL_ADMIN].id],
            "/applications/": lambda: [a.id for a in t.applications.values()],
            "/servicePrincipals/": lambda: [
                sp.id
                for sp in t.service_principals.values()
                if not sp.is_microsoft and sp.delete_behaviour == "ok"
            ],
            "/identity/conditionalAccess/": lambda: [p.id for p in t.ca_policies.values()],
        }
        if row.path.startswith("/reports/"):
            return {"period": "D7"}
        if row.path.startswith("/directory/deletedItems/"):
            binned = row.target == endpoints.DELETED_USER.target
            kind = "binned-user" if binned else "binned-app"
            return {"id": self._pick(kind, self._binned_user if binned else self._binned_app)}
        kind = next(k for k in kinds if row.path.startswith(k))
        return {"id": self._pick(kind, kinds[kind])}


BODIES: dict[str, dict[str, Any]] = {
    endpoints.ORGANIZATION_UPDATE.name: {"onPremisesSyncEnabled": False},
    endpoints.MFA_UPDATE.name: {"perUserMfaState": "disabled"},
    endpoints.SECURITY_DEFAULTS_UPDATE.name: {"isEnabled": False},
    endpoints.CA_POLICY_UPDATE.name: {"state": "disabled"},
    endpoints.SERVICE_PRINCIPAL_DISABLE.name: {"accountEnabled": False},
}

CALLS = [e for e in endpoints.ENDPOINTS if e.delegated is not None]


@dataclass
class Caller:
    """Sends one row's call to a fresh sandbox as whoever a token says."""

    sb: Sandbox
    row: Endpoint
    targets: Targets

    def send(self, token: str) -> int:
        url = f"{self.sb.base_url}/{self.row.version}{self.row.url(**self.targets.ids())}"
        body = BODIES.get(self.row.name)
        resp = requests.request(
            self.row.method,
            url,
            json=body,
            headers={"Authorization": f"Bearer {token}", "ConsistencyLevel": "eventual"},
            timeout=10,
        )
        assert resp.status_code != 401, resp.text
        return resp.status_code

    def delegated(self, scopes: set[str] | frozenset[str], upn: str | None = None) -> int:
        return self.send(self.sb.issue_token(scopes=set(scopes), upn=upn))

    def application(self, roles: set[str] | frozenset[str]) -> int:
        return self.send(self.sb.issue_app_token(roles=set(roles)))

    def user_with_role(self, role_id: str | None) -> str:
        """A new plain member of the tenant holding ``role_id`` (or no role), never a target."""
        t = self.sb.tenant
        user_id = next(i for i in self.targets.plain_users() if i not in self.targets.taken)
        self.targets.taken.add(user_id)
        if role_id is not None:
            t.roles[role_id].members.append(user_id)
        user = t.users.get(user_id)
        assert user is not None
        return user.user_principal_name


@pytest.fixture(params=CALLS, ids=lambda e: e.name)
def call(request: pytest.FixtureRequest, make_sandbox: Callable[..., Sandbox]) -> Iterator[Caller]:
    # Conditional Access's one request per second is not what is tested here.
    # Enough apps for each role a delete row names to delete one.
    sb = make_sandbox(users=40, seed=5, applications=8, ca_requests_per_second=1000.0)
    yield Caller(sb, request.param, Targets(sb, request.param))


def test_the_sandbox_lets_the_least_permission_of_each_row_through(call: Caller) -> None:
    row = call.row
    assert row.delegated, f"{row.name}: every call closeout makes is one a signed-in admin makes"
    for least in row.delegated:
        assert call.delegated({least, *row.together}) != 403, least
    for least in row.application or ():
        assert call.application({least, *row.together}) not in (400, 403), least


def test_the_sandbox_refuses_a_token_with_none_of_the_permissions_a_row_accepts(
    call: Caller,
) -> None:
    row = call.row
    others = UNIVERSE - set(row.accepted_delegated) - {DIRECTORY_AS_USER}
    assert call.delegated(others) == 403
    if row.application:
        assert call.application(APP_UNIVERSE - set(row.accepted_application)) == 403
    else:  # Graph supports no application for it
        assert call.application(APP_UNIVERSE) in (400, 403)


def test_the_sandbox_asks_a_signed_in_user_for_the_roles_a_row_names(call: Caller) -> None:
    row = call.row
    everything = UNIVERSE
    assert set(row.roles) <= set(ROLE_IDS), f"{row.name}: a role the sandbox does not know"
    if not row.roles:
        upn = call.user_with_role(None)
        assert call.delegated(everything, upn=upn) != 403
        return
    for name in row.roles:
        assert call.delegated(everything, upn=call.user_with_role(ROLE_IDS[name])) != 403, name
    for other in sorted(set(ROLE_IDS) - set(row.roles)):
        upn = call.user_with_role(ROLE_IDS[other])
        assert call.delegated(everything, upn=upn) == 403, other


@pytest.mark.parametrize("row", [e for e in CALLS if e.together], ids=lambda e: e.name)
def test_the_sandbox_refuses_a_token_without_what_a_row_needs_as_well(
    row: Endpoint, make_sandbox: Callable[..., Sandbox]
) -> None:
    # CAUPD: Policy.Read.All *and* Policy.ReadWrite.ConditionalAccess. A sandbox that lets the
    # write scope alone through would hide a client that forgot to ask for the read one.
    sb = make_sandbox(users=40, seed=5, ca_requests_per_second=1000.0)
    call = Caller(sb, row, Targets(sb, row))
    without = UNIVERSE - set(row.together) - {DIRECTORY_AS_USER}
    assert call.delegated(without) == 403
    assert call.application(APP_UNIVERSE - set(row.together)) == 403
    assert call.delegated({*(row.delegated or ()), *row.together}) != 403
