"""The sandbox reads OData type names as Graph does: a cast segment in its ``graph.`` alias
form is the ``microsoft.graph.`` one (top level and inside ``$batch``), and an update body may
carry an ``@odata.type`` naming the resource's own type, as Microsoft's SDKs send with every
update built from a model. A mismatching type is refused without changing anything. Real HTTP
to the sandbox on loopback; no client library."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from services.sandbox import Sandbox
from services.sandbox.odata import canonical_path
from services.sandbox.tenant import GLOBAL_ADMIN

EVENTUAL = {"ConsistencyLevel": "eventual"}


def session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.issue_token()}"
    return s


def values(resp: requests.Response) -> list[dict[str, Any]]:
    assert resp.status_code == 200, resp.text
    return resp.json()["value"]


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_graph_alias_casts_answer_like_full_ones(sandbox: Sandbox, version: str) -> None:
    s = session(sandbox)
    base = f"{sandbox.base_url}/{version}"
    app = next(iter(sandbox.tenant.applications.values()))
    assert s.delete(f"{base}/applications/{app.id}").status_code == 204
    for cast in ("directory/deletedItems/{}.user", "directory/deletedItems/{}.application"):
        full = values(s.get(f"{base}/{cast.format('microsoft.graph')}"))
        short = values(s.get(f"{base}/{cast.format('graph')}"))
        assert full and short == full
    roles = "me/transitiveMemberOf/{}.directoryRole"
    params = {"$count": "true"}
    full = values(
        s.get(f"{base}/{roles.format('microsoft.graph')}", params=params, headers=EVENTUAL)
    )
    short = values(s.get(f"{base}/{roles.format('graph')}", params=params, headers=EVENTUAL))
    assert GLOBAL_ADMIN in {r["roleTemplateId"] for r in short}
    assert short == full
    # The same rules hold for either spelling: the cast still needs advanced query mode.
    refused = s.get(f"{base}/{roles.format('graph')}")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_UnsupportedQuery"


def test_graph_alias_casts_inside_a_batch(sandbox: Sandbox) -> None:
    s = session(sandbox)
    items = [
        {"id": "1", "method": "GET", "url": "/directory/deletedItems/graph.user?$top=5"},
        {
            "id": "2",
            "method": "GET",
            "url": "/me/memberOf/graph.directoryRole?$count=true",
            "headers": EVENTUAL,
        },
    ]
    resp = s.post(f"{sandbox.base_url}/v1.0/$batch", json={"requests": items}, timeout=30)
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["1"]["status"] == 200 and by_id["1"]["body"]["value"]
    assert by_id["2"]["status"] == 200
    assert GLOBAL_ADMIN in {r["roleTemplateId"] for r in by_id["2"]["body"]["value"]}


def test_alias_casts_cost_what_full_ones_cost(sandbox: Sandbox) -> None:
    s = session(sandbox)
    base = f"{sandbox.base_url}/v1.0/me/transitiveMemberOf"
    units = {
        s.get(f"{base}/{ns}.directoryRole", params={"$count": "true"}, headers=EVENTUAL).headers[
            "x-ms-resource-unit"
        ]
        for ns in ("microsoft.graph", "graph")
    }
    assert units == {"2"}  # TL: GET me/transitiveMemberOf costs 2


def test_only_a_bare_qualified_name_is_a_cast() -> None:
    assert canonical_path("/v1.0/directory/deletedItems/graph.user") == (
        "/v1.0/directory/deletedItems/microsoft.graph.user"
    )
    assert canonical_path("/v1.0/users/graph.admin@contoso.com") == (
        "/v1.0/users/graph.admin@contoso.com"
    )
    assert canonical_path("/v1.0/users") == "/v1.0/users"


def _first_ca(sb: Sandbox) -> Any:
    return next(p for p in sb.tenant.ca_policies.values() if p.state != "disabled")


def test_updates_accept_their_own_odata_type(sandbox: Sandbox) -> None:
    s = session(sandbox)
    base = f"{sandbox.base_url}/v1.0"
    t = sandbox.tenant
    assert t.org.sync_enabled
    resp = s.patch(
        f"{base}/organization/{t.org.id}",
        json={"@odata.type": "#microsoft.graph.organization", "onPremisesSyncEnabled": False},
    )
    assert resp.status_code == 204, resp.text
    assert not t.org.sync_enabled

    sp = next(p for p in t.service_principals.values() if p.account_enabled)
    resp = s.patch(
        f"{base}/servicePrincipals/{sp.id}",
        # The alias form names the same type.
        json={"@odata.type": "#graph.servicePrincipal", "accountEnabled": False},
    )
    assert resp.status_code == 204, resp.text
    assert not sp.account_enabled

    policy = _first_ca(sandbox)
    resp = s.patch(
        f"{base}/identity/conditionalAccess/policies/{policy.id}",
        json={"@odata.type": "#microsoft.graph.conditionalAccessPolicy", "state": "disabled"},
    )
    assert resp.status_code == 204, resp.text
    assert policy.state == "disabled"

    resp = s.patch(
        f"{base}/policies/identitySecurityDefaultsEnforcementPolicy",
        json={
            "@odata.type": "#microsoft.graph.identitySecurityDefaultsEnforcementPolicy",
            "isEnabled": False,
        },
    )
    assert resp.status_code == 204, resp.text

    user = next(u for u in t.users.values() if u.mfa_state != "disabled")
    resp = s.patch(
        f"{sandbox.base_url}/beta/users/{user.id}/authentication/requirements",
        json={
            "@odata.type": "microsoft.graph.strongAuthenticationRequirements",
            "perUserMfaState": "disabled",
        },
    )
    assert resp.status_code == 204, resp.text
    assert user.mfa_state == "disabled"


@pytest.mark.parametrize(
    ("annotation", "message"),
    [
        ("#microsoft.graph.user", "is not assignable to the expected type"),
        ("#microsoft.graph.directoryObject", "is not assignable to the expected type"),
        ("#microsoft.graph.noSuchThing", "could not be resolved by the model"),
    ],
)
def test_updates_refuse_another_odata_type(sandbox: Sandbox, annotation: str, message: str) -> None:
    s = session(sandbox)
    base = f"{sandbox.base_url}/v1.0"
    t = sandbox.tenant
    resp = s.patch(
        f"{base}/organization/{t.org.id}",
        json={"@odata.type": annotation, "onPremisesSyncEnabled": False},
    )
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "Request_BadRequest" and message in error["message"]
    assert t.org.sync_enabled  # nothing changed

    policy = _first_ca(sandbox)
    before = policy.state
    resp = s.patch(
        f"{base}/identity/conditionalAccess/policies/{policy.id}",
        json={"@odata.type": annotation, "state": "disabled"},
    )
    assert resp.status_code == 400 and message in resp.json()["error"]["message"]
    assert policy.state == before


def test_absolute_batch_urls_fail_on_their_first_segment(sandbox: Sandbox) -> None:
    s = session(sandbox)
    absolute = f"{sandbox.base_url}/v1.0/organization"
    items = [
        {"id": "abs", "method": "GET", "url": absolute},
        {"id": "rel", "method": "GET", "url": "/organization"},
    ]
    resp = s.post(f"{sandbox.base_url}/v1.0/$batch", json={"requests": items}, timeout=30)
    assert resp.status_code == 200
    by_id = {r["id"]: r for r in resp.json()["responses"]}
    assert by_id["rel"]["status"] == 200
    assert by_id["abs"]["status"] == 400
    assert by_id["abs"]["body"]["error"]["message"] == "Resource not found for the segment 'http:'."
