"""Step 5 meets the real cloud (issue 7, items 1, 5, 6, 7, 8): the full headless close-out under
each sandbox behaviour that exposes one of them, judged by what the sandbox's recorder saw.

- ``own-app``: closeout signs in with its own app registration; it must survive until last
  (left for the admin and named in the handoff, or, with ``--delete-own-app``, deleted as the
  very last write), and the watch must then report the tenant gone without a token.
- soft and hard deletion of service principals: the recycle bin ends empty either way.
- ``viral-enabled``: a self-service product is handed to the Entra admin center, never to
  step 2's cancellation.
- ``portal-refuses-ms-sps``: the last resort is not offered before the portal refused, and a
  typed mismatch changes nothing.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest

from services.sandbox import Sandbox
from services.sandbox.tenant import GRAPH_APP_ID, GRAPH_CLI_APP_ID, OWN_APP_ID
from tests.support.cli_harness import (
    FAST,
    PortalHuman,
    Result,
    close_with_portal,
    graph_writes,
    run_cli,
    target_args,
)

pytestmark = pytest.mark.slow


def _sandbox(make_sandbox: Any, *behaviours: str, **kw: Any) -> Sandbox:
    settings = {"users": 40, "seed": 5, "deleted_users": 3, "deprovision_hours": 160, **kw}
    return make_sandbox(time_scale=FAST, behaviours=",".join(behaviours), **settings)


def _argv(sb: Sandbox, state: Path, *extra: str) -> list[str]:
    return [
        "run",
        "--headless",
        "--yes",
        "--confirm-domain",
        sb.initial_domain,
        "--confirm-manual",
        "all",
        "--json",
        "--client-id",
        sb.sign_in_app_id,
        *extra,
        *target_args(sb, state),
    ]


def _close(
    sb: Sandbox, monkeypatch: pytest.MonkeyPatch, state: Path, *extra: str, **human: Any
) -> tuple[Result, PortalHuman]:
    result, person = close_with_portal(
        sb, _argv(sb, state, *extra), monkeypatch=monkeypatch, **human
    )
    return result, person


def _events(result: Result, event: str, step: int | None = None) -> list[dict[str, Any]]:
    return [
        o
        for o in result.json_lines()
        if o["event"] == event and (step is None or o["step"] == step)
    ]


def _assert_bin_empty(sb: Sandbox) -> None:
    t = sb.tenant
    assert (
        len(t.deleted_users),
        len(t.deleted_applications),
        len(t.deleted_service_principals),
    ) == (
        0,
        0,
        0,
    )


def _assert_gone_via_discovery(result: Result) -> None:
    """Tokens died first (closeout said it watches without a sign-in), then the public
    discovery document reported the tenant gone, and the run ended done."""
    notes = [o["message"] for o in _events(result, "note")]
    watching = [i for i, n in enumerate(notes) if "no longer accepts closeout's sign-in" in n]
    gone = [i for i, n in enumerate(notes) if "AADSTS90002" in n]
    assert watching and gone and watching[0] < gone[0], notes
    assert result.json_lines()[-1]["event"] == "exit" and result.code == 0


def _own_ids(sb: Sandbox) -> set[str]:
    t = sb.tenant
    apps = {
        a.id
        for a in [*t.applications.values(), *t.deleted_applications.values()]
        if a.app_id == OWN_APP_ID
    }
    sps = {
        s.id
        for s in [*t.service_principals.values(), *t.deleted_service_principals.values()]
        if s.app_id == OWN_APP_ID
    }
    return apps | sps


@pytest.mark.parametrize(
    "behaviours", [("own-app",), ("own-app", "opaque-tokens")], ids=["jwt", "opaque-tokens"]
)
def test_own_app_is_left_for_the_admin_and_named_and_the_watch_outlives_it(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviours: tuple[str, ...]
) -> None:
    # With opaque tokens only the configured --client-id tells closeout which app is its own.
    sb = _sandbox(make_sandbox, *behaviours)
    own = _own_ids(sb)
    assert len(own) == 2 and sb.sign_in_app_id == OWN_APP_ID

    # The plan says what happens to closeout's own app, in JSON and in words.
    plan = run_cli(
        ["plan", "--json", "--client-id", OWN_APP_ID, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    data = json.loads(plan.out)
    assert data["ownApp"]["handling"] == "hand-off"
    step5 = {(a["action"], a["object_id"]) for a in data["steps"]["5"]}
    assert {o for a, o in step5 if a == "hand-off-own-app"} <= own
    assert (
        not {o for a, o in step5 if a in ("delete-application", "delete-service-principal")} & own
    )
    text = run_cli(
        ["plan", "--client-id", OWN_APP_ID, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert "closeout (sign-in app) is left for you" in text.out, text.out

    result, person = _close(sb, monkeypatch, tmp_path / "state", wait_for_watch=True)
    assert result.code == 0, result.text[-3000:]
    assert not person.errors, person.errors
    # closeout never wrote to its own app: the admin deleted it, from the handoff that names it.
    assert not [w for w in graph_writes(sb) if w.object_id in own]
    (handed,) = [
        h for h in _events(result, "handoff", 5) if any(i["object"] in own for i in h["items"])
    ]
    assert any(
        "closeout (sign-in app)" in line and "Delete permanently" in line
        for line in handed["click_path"]
    )
    (removed,) = sb.recorder.events("portal-application-deleted")
    # Nothing closeout sent after the admin deleted its app succeeded: its tokens had died.
    after = [r for r in sb.recorder.records() if r.sim_time > removed.sim_time]
    assert after and all(r.status == 401 for r in after), after
    _assert_gone_via_discovery(result)
    _assert_bin_empty(sb)
    # The confirmation the run printed for step 5 said so before anything was deleted.
    (confirmed,) = _events(result, "confirmed", 5)
    assert "closeout (sign-in app) is left for you" in confirmed["message"]


def test_delete_own_app_deletes_it_as_the_very_last_write(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(make_sandbox, "own-app")
    own = _own_ids(sb)
    result, person = _close(
        sb, monkeypatch, tmp_path / "state", "--delete-own-app", wait_for_watch=True
    )
    assert result.code == 0, result.text[-3000:]
    assert not person.errors, person.errors

    writes = [w for w in graph_writes(sb) if 200 <= w.status < 300]
    last = writes[-1]
    assert last.method == "DELETE" and last.path.startswith("/v1.0/applications/")
    assert last.object_id in own
    assert [w for w in writes if w.object_id in own] == [last]
    # No write reached Graph after it at all (anything attempted was refused).
    assert all(
        r.status == 401
        for r in sb.recorder.records()
        if r.real_time > last.real_time and r.is_write
    )
    # Said first, in so many words.
    lines = result.json_lines()
    said = next(
        i
        for i, o in enumerate(lines)
        if o["event"] == "note" and "can no longer sign in" in o["message"]
    )
    deleted = next(
        i for i, o in enumerate(lines) if o["event"] == "item" and o["action"] == "delete-own-app"
    )
    assert said < deleted and lines[deleted]["outcome"] == "done"
    (confirmed,) = _events(result, "confirmed", 5)
    assert "deleted as the very last write" in confirmed["message"]
    # The handoff names what closeout could no longer purge itself.
    handed = _events(result, "handoff", 5)[-1]
    assert any("Deleted applications" in line for line in handed["click_path"])
    _assert_gone_via_discovery(result)
    _assert_bin_empty(sb)


@pytest.mark.parametrize("behaviour", [(), ("sp-hard-delete",)], ids=["soft-delete", "hard-delete"])
def test_the_recycle_bin_ends_empty_of_users_applications_and_service_principals(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, behaviour: tuple[str, ...]
) -> None:
    sb = _sandbox(make_sandbox, *behaviour)
    t = sb.tenant
    # Something of each kind already waits in the bin before the run (deleted last month).
    if sb.config.sp_soft_delete:
        app = next(iter(t.applications.values()))
        sb.portal_delete_service_principal(
            next(s.id for s in t.service_principals.values() if s.app_id == app.app_id)
        )
        assert len(t.deleted_service_principals) == 1
    assert len(t.deleted_users) > 0
    result, person = _close(sb, monkeypatch, tmp_path / "state")
    assert result.code == 0, result.text[-3000:]
    assert not person.errors, person.errors
    _assert_bin_empty(sb)
    purged = [o for o in _events(result, "item", 5) if o["action"] == "purge-service-principal"]
    if sb.config.sp_soft_delete:
        assert sum(o["outcome"] == "done" for o in purged) >= 4  # the bin's, and this run's
        assert sb.recorder.events("service-principal-purged")
    else:
        assert not sb.recorder.events("service-principal-purged")


def test_a_self_service_product_goes_to_the_entra_handoff_never_to_step_2(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(make_sandbox, "viral-enabled")
    (viral,) = [
        s for s in sb.tenant.subscriptions.values() if s.self_service and s.status == "Enabled"
    ]
    result, person = _close(sb, monkeypatch, tmp_path / "state")
    assert result.code == 0, result.text[-3000:]
    # The sandbox's admin center refuses to cancel it: an attempt would be an error here.
    assert not person.errors, person.errors
    for step in (2, 3):
        for h in _events(result, "handoff", step):
            assert viral.id not in {i["object"] for i in h["items"]}, (step, h)
    step5 = _events(result, "handoff", 5)
    assert any(viral.id in {i["object"] for i in h["items"]} for h in step5)
    assert any("Self-service sign-up products" in line for h in step5 for line in h["click_path"])
    # Two facts, named apart: Graph still lists the product (a check that fails) while the
    # admin's tick for the Entra page is a tick, never a "pass" Graph contradicts.
    listed = next(h for h in step5 if viral.id in {i["object"] for i in h["items"]})
    by_key = {i["object"]: i for i in listed["items"]}
    graph_check, tick = by_key["self-service-products"], by_key["manual:self-service"]
    assert graph_check["state"] == "fail" and graph_check["label"].startswith("Graph's ")
    assert tick["state"] in ("ticked", "not ticked") and "Entra admin center" in tick["label"]
    assert [e.detail["id"] for e in sb.recorder.events("self-service-product-deleted")] == [
        viral.id
    ]
    assert viral.id not in {e.detail["id"] for e in sb.recorder.events("subscription-cancelled")}


def test_last_resort_only_after_the_portal_refused_and_only_with_the_typed_domain(
    make_sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = _sandbox(make_sandbox, "portal-refuses-ms-sps")
    t = sb.tenant
    microsoft = {s.id for s in t.service_principals.values() if s.is_microsoft}
    graph_sp = next(s.id for s in t.service_principals.values() if s.app_id == GRAPH_APP_ID)
    cli_sp = next(s.id for s in t.service_principals.values() if s.app_id == GRAPH_CLI_APP_ID)
    state = tmp_path / "state"

    # 1. A close-out without --portal-refused: the portal refuses, the admin stops the run.
    #    Microsoft's service principals were never touched, nothing offered the last resort.
    def stop_the_run(_why: str) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    first, person = _close(sb, monkeypatch, state, on_refused=stop_the_run)
    assert first.code == 3, first.text[-3000:]
    assert person.refusals and "Microsoft service principals" in person.refusals[0]
    assert not [w for w in graph_writes(sb) if w.object_id in microsoft]
    assert not [o for o in _events(first, "confirmed") if o.get("action")]
    writes = len(graph_writes(sb))

    # 2. The admin says the portal refused but types the wrong domain: nothing changes.
    wrong = run_cli(
        _argv(sb, state, "--portal-refused", "--confirm-remove-all-sps", "contoso.onmicrosoft.com"),
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert wrong.code == 2, wrong.text
    assert len(graph_writes(sb)) == writes
    # Without --portal-refused the confirmation alone is refused as a usage error.
    alone = run_cli(
        _argv(sb, state, "--confirm-remove-all-sps", sb.initial_domain),
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert alone.code == 2 and "--portal-refused" in alone.err
    # Said, not typed: it is offered (named), not done.
    offered = run_cli(
        _argv(sb, state, "--portal-refused", "--no-wait"),
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert offered.code == 3
    assert any("--confirm-remove-all-sps" in o["message"] for o in _events(offered, "waiting"))
    assert len(graph_writes(sb)) == writes

    # 3. Said and typed: every service principal goes, Microsoft Graph's after all others and
    #    closeout's own sign-in app's (Microsoft's public client here) never by closeout.
    #    (The admin may try "Delete tenant" again before the last resort ran: refused again.)
    last, person = _close(
        sb,
        monkeypatch,
        state,
        "--portal-refused",
        "--confirm-remove-all-sps",
        sb.initial_domain,
        on_refused=lambda _why: None,
        wait_for_watch=True,
    )
    assert last.code == 0, last.text[-3000:]
    assert not person.errors, person.errors
    sp_writes = [w for w in graph_writes(sb)[writes:] if w.object_id in microsoft]
    assert sp_writes and not [w for w in sp_writes if w.object_id == cli_sp]
    graph_at = min(i for i, w in enumerate(sp_writes) if w.object_id == graph_sp)
    assert all(
        w.object_id == graph_sp for w in sp_writes[graph_at:] if "/servicePrincipals/" in w.path
    )
    # The admin was told to delete it last, and did; then the portal accepted.
    handed = _events(last, "handoff", 5)[-1]
    assert cli_sp in {i["object"] for i in handed["items"]}
    (portal_sp,) = sb.recorder.events("portal-service-principal-deleted")
    assert portal_sp.detail["id"] == cli_sp
    _assert_gone_via_discovery(last)
    assert sb.tenant.deleted
