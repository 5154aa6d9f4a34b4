"""Subscriptions by the product names the admin center shows, with the SKU code beside them, in
every headless surface: ``plan`` and ``status`` (text and JSON), the handoff lines of ``run``,
and the evidence pack (summary.md, summary.json, inventory-before.json; offline too).
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest

from services.headless.text import print_status
from services.models import StepId, StepState, StepStatus, SubscriptionRow
from services.paths import tenant_dir
from services.plan.model import Plan
from tests.support.cli_harness import FAST, run_cli, target_args

# The demo tenant's subscriptions (seed 9): skuId → (skuPartNumber, product name).
NAMES = {
    "SPE_E3": "Microsoft 365 E3",
    "O365_BUSINESS_PREMIUM": "Microsoft 365 Business Standard",
    "POWER_BI_PRO": "Power BI Pro",
    "EMS": "Enterprise Mobility + Security E3",
    "ENTERPRISEPACK": "Office 365 E3",
}


@pytest.fixture
def tenant(make_sandbox):
    return make_sandbox(users=12, seed=9, synced_fraction=0, time_scale=FAST)


def _cli(sb, tmp_path, monkeypatch, *argv: str):
    return run_cli(
        [*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )


def test_plan_names_each_subscription_by_product_with_its_code(tenant, tmp_path, monkeypatch):
    text = _cli(tenant, tmp_path, monkeypatch, "plan")
    assert text.code == 0, text.text
    assert "    Microsoft 365 E3 (SPE_E3)\n" in text.out
    assert "    Microsoft 365 Business Standard (O365_BUSINESS_PREMIUM)\n" in text.out
    assert "    Power BI Pro (POWER_BI_PRO) (trial)\n" in text.out
    assert "    Office 365 E3 (ENTERPRISEPACK)\n" in text.out

    js = _cli(tenant, tmp_path, monkeypatch, "plan", "--json")
    assert js.code == 0, js.text
    steps = json.loads(js.out)["steps"]
    subs = [a for a in steps["2"] + steps["3"]]
    assert subs and all(a["productName"] == NAMES[a["skuPartNumber"]] for a in subs)
    assert all(a["skuId"] for a in subs)
    # Only subscriptions carry product fields.
    assert not any("productName" in a for a in steps["1"] + steps["5"])

    # The saved plan reads back with them (status and run load it).
    saved = Plan.from_dict(
        json.loads((tenant_dir(tenant.tenant_id, root=tmp_path) / "plan.json").read_text())
    )
    e3 = [a for a in saved.actions if a.sku_part_number == "SPE_E3"]
    assert e3 and {a.product_name for a in e3} == {"Microsoft 365 E3"}
    assert e3[0].label == "Microsoft 365 E3 (SPE_E3)"


def test_status_lists_what_steps_2_and_3_wait_on_by_product(tenant, tmp_path, monkeypatch):
    text = _cli(tenant, tmp_path, monkeypatch, "status")
    assert text.code == 3, text.text
    lines = text.out.splitlines()
    step2 = lines.index(next(line for line in lines if line.startswith("2 ")))
    step3 = lines.index(next(line for line in lines if line.startswith("3 ")))
    assert lines[step2 + 1 : step3] == [
        "    · Microsoft 365 E3 (SPE_E3): active",
        "    · Microsoft 365 Business Standard (O365_BUSINESS_PREMIUM): active",
        "    · Power BI Pro (POWER_BI_PRO) (trial): active",
        "    · Enterprise Mobility + Security E3 (EMS): expired",
    ]
    assert lines[step3 + 1] == "    · Office 365 E3 (ENTERPRISEPACK): disabled"

    js = _cli(tenant, tmp_path, monkeypatch, "status", "--json")
    states = json.loads(js.out)
    two = states["2"]["subscriptions"]
    assert (two[0]["productName"], two[0]["skuPartNumber"], two[0]["phase"]) == (
        "Microsoft 365 E3",
        "SPE_E3",
        "active",
    )
    assert all(s["productName"] == NAMES[s["skuPartNumber"]] for s in two)
    assert [s["skuPartNumber"] for s in states["3"]["subscriptions"]] == ["ENTERPRISEPACK"]
    assert "subscriptions" not in states["1"]


def test_run_hands_off_each_subscription_by_product(tenant, tmp_path, monkeypatch):
    r = _cli(tenant, tmp_path, monkeypatch, "run", "--headless", "--json", "--no-wait")
    handoffs = [o for o in r.json_lines() if o["event"] == "handoff" and o["step"] == 2]
    assert handoffs, r.text
    items = handoffs[0]["items"]
    # FLOW_FREE is a self-service sign-up product: step 5's (Entra), never step 2's.
    assert {i["skuPartNumber"]: i["productName"] for i in items} == NAMES
    e3 = next(i for i in items if i["skuPartNumber"] == "SPE_E3")
    assert e3["label"] == "Microsoft 365 E3 (SPE_E3)" and e3["skuId"]

    text = _cli(tenant, tmp_path, monkeypatch, "run", "--headless", "--no-wait")
    assert "    - Microsoft 365 E3 (SPE_E3): active" in text.out


def test_the_evidence_pack_lists_subscriptions_by_product(tenant, tmp_path, monkeypatch):
    out = tmp_path / "pack"
    r = _cli(tenant, tmp_path, monkeypatch, "export", "--out", str(out))
    assert r.code == 0, r.text
    md = (out / "summary.md").read_text()
    assert "## Subscriptions (6)" in md
    assert "| Product | SKU | Status before | Status at export |" in md
    assert "| Microsoft 365 E3 | SPE\\_E3 | Enabled | Enabled |" in md
    assert "| Office 365 E3 | ENTERPRISEPACK | Suspended | Suspended |" in md

    summary = json.loads((out / "summary.json").read_text())["summary"]
    by_code = {s["skuPartNumber"]: s for s in summary["subscriptions"]}
    assert by_code["EMS"]["productName"] == "Enterprise Mobility + Security E3"
    assert by_code["EMS"]["statusBefore"] == "Warning"

    before = json.loads((out / "inventory-before.json").read_text())
    assert {s["sku_part_number"]: s["productName"] for s in before["subscriptions"]} == {
        **NAMES,
        "FLOW_FREE": "Microsoft Power Automate Free",
    }
    # Users' licences are codes; the pack names every code the tenant has.
    products = {p["skuPartNumber"]: p["productName"] for p in before["products"]}
    assert products["SPE_E3"] == "Microsoft 365 E3"
    assert set(products) >= {c for u in before["users"] for c in u["licenses"]}

    # Offline (after the tenant is gone): the same names, from the inventory kept locally.
    assert _cli(tenant, tmp_path, monkeypatch, "plan").code == 0  # offline needs a saved plan
    offline = tmp_path / "offline"
    argv = ["export", "--offline", "--tenant", tenant.tenant_id, "--out", str(offline)]
    r = run_cli(
        [*argv, "--state-dir", str(tmp_path)],
        monkeypatch=monkeypatch,
        token="unused",
    )
    assert r.code == 0, r.text
    md = (offline / "summary.md").read_text()
    assert "| Product | SKU | Status before |" in md and "Status at export" not in md
    assert "| Microsoft 365 Business Standard | O365\\_BUSINESS\\_PREMIUM | Enabled |" in md


def test_a_sku_missing_from_microsofts_table_is_shown_by_its_code() -> None:
    sub = SubscriptionRow(
        id="s1",
        sku_part_number="CONTOSO_CUSTOM_SKU",
        status="Enabled",
        is_trial=False,
        total_licenses=5,
        next_lifecycle=datetime(2030, 1, 1, tzinfo=UTC),
        partner_tenant_id=None,
        sku_id="11111111-2222-3333-4444-555555555555",
    )
    states = {
        StepId.CANCEL_SUBSCRIPTIONS: StepState(
            StepId.CANCEL_SUBSCRIPTIONS, StepStatus.WAITING_PERSON
        )
    }
    text = io.StringIO()
    print_status(states, text, subscriptions=[sub])
    assert "    · CONTOSO_CUSTOM_SKU: active" in text.getvalue()
    js = io.StringIO()
    print_status(states, js, json_mode=True, subscriptions=[sub])
    (listed,) = json.loads(js.getvalue())["2"]["subscriptions"]
    assert listed["productName"] == listed["skuPartNumber"] == "CONTOSO_CUSTOM_SKU"
