"""The sandbox's behaviour switches for step 5 (issue 7): each answers the way Graph or Entra may,
over real HTTP. Service principals go to the recycle bin as Graph documents (the default),
or not (``sp-hard-delete``); closeout's own app can be registered in the tenant, and deleting
it kills its tokens; a self-service product can be enabled; the portal can refuse "Delete
tenant" over Microsoft's own service principals."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
import requests

from app.cli import main
from services.sandbox import Sandbox
from services.sandbox.config import SandboxConfig, behaviour_settings
from services.sandbox.tenant import GRAPH_APP_ID, GRAPH_CLI_APP_ID, OWN_APP_ID

BIN_SPS = "/v1.0/directory/deletedItems/microsoft.graph.servicePrincipal"
STEP_5 = ("own-app", "sp-soft-delete", "sp-hard-delete", "viral-enabled", "portal-refuses-ms-sps")


def _s(sb: Sandbox, token: str | None = None) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {token or sb.issue_token()}"
    return s


def _ids(s: requests.Session, url: str) -> set[str]:
    resp = s.get(url, timeout=10)
    assert resp.status_code == 200, resp.text
    return {o["id"] for o in resp.json()["value"]}


def test_step_5_switches_by_name() -> None:
    assert behaviour_settings("own-app, viral-enabled,sp-hard-delete") == {
        "own_app": True,
        "viral_enabled": True,
        "sp_soft_delete": False,
    }
    assert behaviour_settings("portal-refuses-ms-sps") == {"portal_refuses_microsoft_sps": True}
    assert SandboxConfig().sp_soft_delete  # Graph's documented behaviour is the default
    with pytest.raises(ValueError, match="contradict"):
        behaviour_settings("sp-soft-delete,sp-hard-delete")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        main(["sandbox", "serve", "--help"])
    assert all(name in out.getvalue() for name in STEP_5)


@pytest.mark.parametrize("soft", [True, False], ids=["soft-delete", "sp-hard-delete"])
def test_deleted_service_principals_wait_in_the_recycle_bin(make_sandbox: Any, soft: bool) -> None:
    sb = make_sandbox(users=5, seed=4, behaviours="sp-soft-delete" if soft else "sp-hard-delete")
    s = _s(sb)
    base = sb.base_url
    vendor = next(
        sp
        for sp in sb.tenant.service_principals.values()
        if sp.delete_behaviour == "ok"
        and not sp.is_microsoft
        and sp.app_owner_organization_id != sb.tenant_id
    )
    app = next(iter(sb.tenant.applications.values()))
    app_sp = next(sp for sp in sb.tenant.service_principals.values() if sp.app_id == app.app_id)
    assert s.delete(f"{base}/v1.0/servicePrincipals/{vendor.id}").status_code == 204
    # Deleting an app registration takes its service principal with it, into the bin too.
    assert s.delete(f"{base}/v1.0/applications/{app.id}").status_code == 204
    assert vendor.id not in _ids(s, f"{base}/v1.0/servicePrincipals")
    binned = _ids(s, f"{base}{BIN_SPS}")
    assert binned == ({vendor.id, app_sp.id} if soft else set())
    assert app.id in _ids(s, f"{base}/v1.0/directory/deletedItems/microsoft.graph.application")
    if soft:
        # Read back by id, as a purge whose answer was lost is settled.
        binned_one = s.get(f"{base}/v1.0/directory/deletedItems/{vendor.id}", timeout=10)
        assert binned_one.status_code == 200 and binned_one.json()["appId"] == vendor.app_id
        assert s.delete(f"{base}/v1.0/directory/deletedItems/{vendor.id}").status_code == 204
        assert s.get(f"{base}/v1.0/directory/deletedItems/{vendor.id}").status_code == 404
        assert _ids(s, f"{base}{BIN_SPS}") == {app_sp.id}
    else:
        assert s.delete(f"{base}/v1.0/directory/deletedItems/{vendor.id}").status_code == 404


def test_purging_an_application_needs_the_application_permission(make_sandbox: Any) -> None:
    sb = make_sandbox(users=5, seed=4)
    app = next(iter(sb.tenant.applications.values()))
    assert _s(sb).delete(f"{sb.base_url}/v1.0/applications/{app.id}").status_code == 204
    users_only = _s(sb, sb.issue_token(scopes={"User.ReadWrite.All", "User.DeleteRestore.All"}))
    assert (
        users_only.delete(f"{sb.base_url}/v1.0/directory/deletedItems/{app.id}").status_code == 403
    )


def test_own_app_tokens_die_with_it_and_it_can_no_longer_sign_in(make_sandbox: Any) -> None:
    sb = make_sandbox(users=5, seed=4, behaviours="own-app")
    assert sb.sign_in_app_id == OWN_APP_ID
    own = next(a for a in sb.tenant.applications.values() if a.app_id == OWN_APP_ID)
    assert any(sp.app_id == OWN_APP_ID for sp in sb.tenant.service_principals.values())
    ours = _s(sb)
    other = _s(sb, sb.issue_token(app_id=GRAPH_CLI_APP_ID))
    me = f"{sb.base_url}/v1.0/me"
    assert ours.get(me).status_code == 200
    assert ours.delete(f"{sb.base_url}/v1.0/applications/{own.id}").status_code == 204
    dead = ours.get(me)
    assert dead.status_code == 401 and OWN_APP_ID in dead.json()["error"]["message"]
    assert other.get(me).status_code == 200  # another app's tokens are not affected
    refused = [r for r in sb.recorder.records() if r.status == 401]
    assert refused and refused[-1].path == "/v1.0/me"
    # A new sign-in for the app fails as Entra's does (AADSTS700016).
    resp = requests.post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/devicecode",
        data={"client_id": OWN_APP_ID, "scope": "User.Read"},
        timeout=10,
    )
    assert resp.status_code == 400 and resp.json()["error_codes"] == [700016]


def test_a_microsoft_service_principal_deleted_kills_its_apps_tokens(make_sandbox: Any) -> None:
    sb = make_sandbox(users=5, seed=4)
    cli = next(sp for sp in sb.tenant.service_principals.values() if sp.app_id == GRAPH_CLI_APP_ID)
    graph = next(sp for sp in sb.tenant.service_principals.values() if sp.app_id == GRAPH_APP_ID)
    assert cli.is_microsoft and graph.is_microsoft and graph.delete_behaviour == "refuse"
    s = _s(sb)  # issued to Microsoft's public client, as closeout's default sign-in is
    assert s.delete(f"{sb.base_url}/v1.0/servicePrincipals/{cli.id}").status_code == 204
    assert s.get(f"{sb.base_url}/v1.0/me").status_code == 401


def test_a_self_service_product_is_deleted_in_entra_not_cancelled(make_sandbox: Any) -> None:
    sb = make_sandbox(users=5, seed=4, behaviours="viral-enabled")
    subs = _s(sb).get(f"{sb.base_url}/v1.0/directory/subscriptions", timeout=10).json()["value"]
    (viral,) = [x for x in subs if x["skuPartNumber"] == "POWER_BI_STANDARD"]
    assert viral["status"] == "Enabled"
    control = f"{sb.base_url}/_sandbox"
    cancel = requests.post(f"{control}/subscriptions/{viral['id']}/cancel", json={}, timeout=10)
    assert cancel.status_code == 409 and "Entra admin center" in cancel.text
    assert requests.post(f"{control}/self-service/{viral['id']}/delete", timeout=10).ok
    assert sb.tenant.subscriptions.get(viral["id"]).status == "Deleted"


def test_the_portal_can_refuse_over_microsofts_service_principals(make_sandbox: Any) -> None:
    def ready(**kw: Any) -> Sandbox:
        return make_sandbox(
            users=1,
            admin_count=0,
            deleted_users=0,
            applications=0,
            third_party_service_principals=0,
            subscriptions="none",
            manual_blockers=False,
            synced_fraction=0,
            **kw,
        )

    lenient = ready()
    assert lenient.deletion_blockers() == []
    strict = ready(behaviours="portal-refuses-ms-sps")
    (blocker,) = strict.deletion_blockers()
    assert "Microsoft service principals" in blocker
    for sp in strict.tenant.service_principals.values():
        sp.account_enabled = False
    assert strict.deletion_blockers() == []
