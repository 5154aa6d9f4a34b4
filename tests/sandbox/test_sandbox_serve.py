"""``closeout sandbox serve`` runs the sandbox alone and prints what a client needs."""

from __future__ import annotations

import os
import subprocess
import sys

import requests

from services.auth.scopes import token_claims
from services.sandbox.seed_lists import PARTNER_TENANT
from services.textsafe import UNSAFE
from tests.support import REPO
from tests.support.commands import serving


def test_serve_prints_base_url_domain_and_a_working_token() -> None:
    args = ("--users", "25", "--seed", "2", "--time-scale", "60", "--latency-ms", "1")
    with serving(*args) as (_out, base, domain, token):
        resp = requests.get(
            f"{base}/v1.0/organization",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert resp.status_code == 200
        names = [d["name"] for d in resp.json()["value"][0]["verifiedDomains"] if d["isInitial"]]
        assert names == [domain]
        assert requests.get(f"{base}/v1.0/organization", timeout=10).status_code == 401


def test_serve_hostile_names_serves_them_and_prints_them_inert() -> None:
    with serving("--users", "25", "--hostile-names") as (out, base, _domain, token):
        assert not [c for c in UNSAFE.findall(out) if c != "\n"], ascii(out)
        assert "closeout sandbox \\x1b]0;owned\\x07" in out
        auth = {"Authorization": f"Bearer {token}"}
        org = requests.get(f"{base}/v1.0/organization", headers=auth, timeout=10).json()
        assert org["value"][0]["displayName"].startswith("\x1b]0;owned\x07")
        apps = requests.get(f"{base}/v1.0/applications", headers=auth, timeout=10).json()
        assert any("\x1b[2J" in a["displayName"] for a in apps["value"])


def test_serve_hands_out_a_readable_jwt_by_default() -> None:
    with serving("--users", "12") as (_out, _base, _domain, token):
        assert token_claims(token)["tid"]  # as Graph's tokens are today


def test_serve_behaviour_opaque_tokens_hands_out_a_token_no_client_can_read() -> None:
    with serving("--users", "12", "--behaviour", "opaque-tokens") as (_out, base, _d, token):
        assert len(token.split(".")) == 5 and token_claims(token) == {}
        resp = requests.get(
            f"{base}/v1.0/me", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
        assert resp.status_code == 200 and resp.json()["userPrincipalName"].startswith("admin@")


def test_serve_refuses_an_unknown_behaviour() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "sandbox", "serve", "--behaviour", "kinder-graph"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "kinder-graph" in result.stderr and "opaque-tokens" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_behaviours_answers_as_they_say() -> None:
    with serving("--users", "20", "--behaviour", "no-owner") as (out, base, _domain, token):
        assert "behaviours      no-owner" in out
        auth = {"Authorization": f"Bearer {token}"}
        subs = requests.get(f"{base}/v1.0/directory/subscriptions", headers=auth, timeout=10)
        # Directly bought ones carry no owner; the partner-bought one its partner's tenant.
        assert {x["ownerTenantId"] for x in subs.json()["value"]} == {None, PARTNER_TENANT}
