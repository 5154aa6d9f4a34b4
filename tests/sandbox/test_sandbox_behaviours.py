"""The sandbox's behaviour switches for what Graph's documentation leaves open (issue 7): how the
organization's sync flag reads while sync turns off, a Connect server that turns sync back on,
who owns a directly bought subscription.

Real HTTP against the sandbox; switches picked by the names ``closeout sandbox serve
--behaviour`` takes, in-process and through the real command.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import pytest
import requests

from app.cli import main
from services.sandbox import Sandbox
from services.sandbox.config import BEHAVIOURS, SandboxConfig, behaviour_settings
from services.sandbox.seed_lists import PARTNER_TENANT

HOUR = 3600


def session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.issue_token()}"
    return s


def org(s: requests.Session, sb: Sandbox) -> dict[str, Any]:
    return s.get(f"{sb.base_url}/v1.0/organization", timeout=10).json()["value"][0]


def user_flags(s: requests.Session, sb: Sandbox) -> dict[str, Any]:
    page = s.get(
        f"{sb.base_url}/v1.0/users",
        params={"$select": "id,onPremisesSyncEnabled", "$top": "999"},
        timeout=10,
    ).json()
    return {u["id"]: u["onPremisesSyncEnabled"] for u in page["value"]}


def turn_sync_off(s: requests.Session, sb: Sandbox) -> None:
    resp = s.patch(
        f"{sb.base_url}/v1.0/organization/{sb.tenant_id}",
        json={"onPremisesSyncEnabled": False},
        timeout=10,
    )
    assert resp.status_code == 204, resp.text


# -- directory sync ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("behaviour", "while_converting", "afterwards"),
    [
        ("sync-flag-flips", False, False),
        ("sync-flag-lags", True, False),
        ("sync-flag-null", None, None),
        ("", False, False),  # the default is sync-flag-flips
    ],
)
def test_the_organization_sync_flag_while_sync_turns_off(
    make_sandbox: Callable[..., Sandbox],
    behaviour: str,
    while_converting: bool | None,
    afterwards: bool | None,
) -> None:
    sb = make_sandbox(
        users=30, seed=6, synced_fraction=0.5, dirsync_hours=10.0, behaviours=behaviour
    )
    s = session(sb)
    assert org(s, sb)["onPremisesSyncEnabled"] is True
    turn_sync_off(s, sb)
    assert org(s, sb)["onPremisesSyncEnabled"] is while_converting
    assert any(user_flags(s, sb).values())  # users are still being converted
    sb.clock.advance(10 * HOUR + 1)
    assert not any(user_flags(s, sb).values())
    assert org(s, sb)["onPremisesSyncEnabled"] is afterwards


@pytest.mark.parametrize("connect_runs", [True, False])
def test_a_connect_server_still_running_turns_sync_back_on_after_72_hours(
    make_sandbox: Callable[..., Sandbox], connect_runs: bool
) -> None:
    sb = make_sandbox(
        users=30,
        seed=6,
        synced_fraction=0.5,
        dirsync_hours=10.0,
        behaviours="connect-still-running" if connect_runs else "",
    )
    s = session(sb)
    synced = {uid for uid, flag in user_flags(s, sb).items() if flag}
    turn_sync_off(s, sb)
    sb.clock.advance(71 * HOUR)
    assert org(s, sb)["onPremisesSyncEnabled"] is False
    assert {user_flags(s, sb)[uid] for uid in synced} == {False}
    sb.clock.advance(1 * HOUR + 1)
    flags = user_flags(s, sb)
    if connect_runs:
        assert org(s, sb)["onPremisesSyncEnabled"] is True
        assert {flags[uid] for uid in synced} == {True}
        target = next(iter(synced))
        assert s.delete(f"{sb.base_url}/v1.0/users/{target}", timeout=10).status_code == 400
        assert [e.kind for e in sb.recorder.events("sync-reenabled")] == ["sync-reenabled"]
    else:
        assert org(s, sb)["onPremisesSyncEnabled"] is False
        assert {flags[uid] for uid in synced} == {False}
        assert sb.recorder.events("sync-reenabled") == []


# -- subscriptions -----------------------------------------------------------------------------


@pytest.mark.parametrize(("behaviour", "own_id"), [("own-tenant-owner", True), ("no-owner", False)])
def test_who_owns_a_directly_bought_subscription(
    make_sandbox: Callable[..., Sandbox], behaviour: str, own_id: bool
) -> None:
    sb = make_sandbox(users=20, seed=3, behaviours=behaviour)
    subs = session(sb).get(f"{sb.base_url}/v1.0/directory/subscriptions", timeout=10).json()
    by_id = {x["id"]: x for x in subs["value"]}
    partner = {sub.id for sub in sb.tenant.subscriptions.values() if sub.owner_tenant_id}
    assert partner and set(by_id) - partner
    for sid, x in by_id.items():
        if sid in partner:
            assert (x["ownerTenantId"], x["ownerType"]) == (PARTNER_TENANT, "Company")
        elif own_id:  # as the docs' example: the buyer is a user of the tenant itself
            assert (x["ownerTenantId"], x["ownerType"]) == (sb.tenant_id, "User")
            assert x["ownerId"]
        else:
            assert (x["ownerTenantId"], x["ownerId"], x["ownerType"]) == (None, None, None)


def test_only_the_partner_cancels_a_partner_bought_subscription(sandbox: Sandbox) -> None:
    direct = next(
        sub.id
        for sub in sandbox.tenant.subscriptions.values()
        if sub.status == "Enabled" and not sub.owner_tenant_id
    )
    url = f"{sandbox.base_url}/_sandbox/subscriptions/{direct}/cancel"
    by_partner = requests.post(url, json={"asPartner": True}, timeout=10)
    assert by_partner.status_code == 409 and "directly" in by_partner.json()["error"]["message"]
    assert requests.post(url, json={}, timeout=10).status_code == 200


# -- the names ---------------------------------------------------------------------------------


def test_every_behaviour_name_sets_a_switch_field_and_defaults_say_so() -> None:
    switch_fields = {f.name: f.default for f in fields(SandboxConfig)}
    names = [b.name for b in BEHAVIOURS]
    assert len(names) == len(set(names))
    for b in BEHAVIOURS:
        assert b.field in switch_fields, b
        assert behaviour_settings(b.name) == {b.field: b.value}
        assert (switch_fields[b.field] == b.value) == b.help.endswith("(default)"), b
    assert behaviour_settings(" sync-flag-lags , no-owner ,") == {
        "sync_flag": "lags",
        "subscription_owner": "none",
    }
    with pytest.raises(ValueError, match="unknown behaviour 'sync-flag-late'"):
        behaviour_settings("sync-flag-late")
    with pytest.raises(ValueError, match="contradict"):
        behaviour_settings("sync-flag-lags,sync-flag-null")


def test_serve_help_lists_every_behaviour_and_a_bad_name_is_one_line() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as done:
        main(["sandbox", "serve", "--help"])
    assert done.value.code == 0
    text = out.getvalue()
    assert "--behaviour NAME,..." in text
    for b in BEHAVIOURS:
        assert re.search(rf"^  {re.escape(b.name)}$", text, re.MULTILINE), b.name
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as bad:
        main(["sandbox", "serve", "--behaviour", "sync-flag-lags,opaque-tokns"])
    assert bad.value.code == 2
    assert "unknown behaviour 'opaque-tokns'" in err.getvalue()
    assert "Traceback" not in err.getvalue()
