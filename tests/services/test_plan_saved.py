"""A saved plan reads back as the same plan, with the same digest (issue 9, item 14), and a
damaged or edited ``plan.json`` is refused as unreadable, never half-read.

The digest is what the journal's run-start and the run's first line name the plan by: a plan
made, saved and read back by the next run must keep it. It names what the plan does (tenant,
kept accounts, each step's actions on which objects), so a label or a translated detail does
not change it and an action or an object does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.auth.static_token import StaticTokenAuth
from services.caller import identify
from services.graph.client import GraphClient
from services.inventory.take import take_inventory
from services.models import StepId, TenantInfo
from services.plan.build import PlanOptions, build_plan
from services.plan.model import KeptAccount, Plan, PlanError, PlannedAction
from services.textsafe import json_loads, neutralise
from tests.support.strategies import json_values


def saved_and_read_back(plan: Plan) -> Plan:
    """What the engine does (``json_chunks`` to plan.json, ``from_json`` back), and what an
    earlier closeout did (``json.dumps(to_dict())``, ``from_dict``): both give the same plan."""
    back = Plan.from_json("".join(plan.json_chunks()).encode())
    assert Plan.from_dict(json_loads(json.dumps(plan.to_dict(), indent=2).encode())) == back
    return back


def test_a_plan_of_a_real_tenant_reads_back_the_same(make_sandbox) -> None:
    # Subscriptions put step 2 and step 3 actions in one loop: the order read back differed,
    # and so did the digest.
    sb = make_sandbox(users=12, seed=3)
    client = GraphClient(sb.base_url, StaticTokenAuth(sb.issue_token()), read_only=True)
    try:
        caller = identify(client, permissions=None, cloud="global", sandbox=True)
        plan = build_plan(take_inventory(client, caller.tenant), caller, PlanOptions())
    finally:
        client.close()
    assert {a.step for a in plan.actions} >= {
        StepId.CANCEL_SUBSCRIPTIONS,
        StepId.DELETE_SUBSCRIPTIONS,
    }
    back = saved_and_read_back(plan)
    assert back.digest() == plan.digest()
    assert back == plan
    assert saved_and_read_back(back).to_dict() == plan.to_dict()


# -- any plan ----------------------------------------------------------------------------------

# Text as Graph's names reach a plan: neutralised where Graph data enters (textsafe).
texts = st.text(max_size=20).map(neutralise)
ids = st.uuids().map(str)

tenants = st.builds(
    TenantInfo,
    id=ids,
    display_name=texts,
    initial_domain=texts,
    cloud=st.sampled_from(["global", "usgov", "china"]),
    signed_in_upn=st.none() | texts,
    signed_in_id=st.none() | ids,
    app_only=st.booleans(),
    sandbox=st.booleans(),
    rehearsal=st.booleans(),
)
actions = st.builds(
    PlannedAction,
    step=st.sampled_from(list(StepId)),
    action=st.sampled_from(["delete-user", "purge-user", "cancel-subscription", "disable-mfa"]),
    object_id=ids,
    label=texts,
    detail=texts,
    kind=st.sampled_from(["api", "handoff", "report"]),
    sku_id=st.just("") | ids,
    sku_part_number=st.just("") | texts,
    product_name=st.just("") | texts,
)
plans = st.builds(
    Plan,
    tenant=tenants,
    created_at=st.datetimes(timezones=st.just(UTC)),
    keep=st.lists(
        st.builds(
            KeptAccount, id=ids, upn=texts, reason=texts, source=texts, keep_mfa=st.booleans()
        ),
        max_size=3,
    ).map(tuple),
    actions=st.lists(actions, max_size=12).map(tuple),
    warnings=st.lists(texts, max_size=3).map(tuple),
    data_holders=st.integers(0, 10**6),
    own_app=st.just({})
    | st.fixed_dictionaries(
        {
            "appIds": st.lists(ids, max_size=2),
            "handling": st.sampled_from(["delete-last", "hand-off", "microsoft", "absent"]),
            "objects": st.lists(
                st.fixed_dictionaries({"id": ids, "name": texts, "kind": st.just("application")}),
                max_size=2,
            ),
        }
    ),
)


@given(plans)
def test_any_plan_reads_back_equal_with_its_digest(plan: Plan) -> None:
    back = saved_and_read_back(plan)
    assert back == plan
    assert back.digest() == plan.digest()


# -- any file ----------------------------------------------------------------------------------


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A real saved plan with one part replaced by anything, or anything at all."""
    paths = [
        ("tenant",),
        ("tenant", "id"),
        ("tenant", "app_only"),
        ("keep",),
        ("keep", 0),
        ("keep", 0, "id"),
        ("steps",),
        ("steps", "1"),
        ("steps", "1", 0),
        ("steps", "1", 0, "object_id"),
        ("steps", "1", 0, "kind"),
        ("steps", "9"),
        ("createdAt",),
        ("warnings",),
        ("dataHolders",),
        ("ownApp",),
        ("ownApp", "objects"),
    ]

    @st.composite
    def mutated(draw: st.DrawFn) -> Any:
        doc = json.loads(json.dumps(base))
        path = draw(st.sampled_from(paths))
        target: Any = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = draw(json_values)
        return doc

    return mutated() | json_values


_BASE = Plan(
    TenantInfo(
        "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c",
        "Contoso",
        "contoso.onmicrosoft.com",
        "global",
        "admin@contoso.onmicrosoft.com",
        "11111111-1111-1111-1111-111111111111",
        False,
    ),
    datetime(2025, 3, 1, tzinfo=UTC),
    (KeptAccount("11111111-1111-1111-1111-111111111111", "admin@contoso.onmicrosoft.com", "me"),),
    (
        PlannedAction(
            StepId.DELETE_USERS, "delete-user", "22222222-2222-2222-2222-222222222222", "a@b"
        ),
    ),
    own_app={"appIds": [], "handling": "absent", "objects": []},
).to_dict()


@given(_mutations(_BASE))
def test_a_damaged_plan_file_is_read_whole_or_refused(data: Any) -> None:
    try:
        plan = Plan.from_json(json.dumps(data).encode())  # as the engine reads plan.json
    except PlanError as exc:
        assert "unreadable" in exc.message
        with pytest.raises(PlanError):
            Plan.from_dict(data)
        return
    assert isinstance(plan.tenant.id, str)
    for a in plan.actions:
        assert isinstance(a.step, StepId)
        assert all(isinstance(v, str) for v in (a.action, a.object_id, a.label, a.detail, a.kind))
    assert all(isinstance(k.id, str) and isinstance(k.upn, str) for k in plan.keep)
    plan.digest()
    assert saved_and_read_back(plan) == plan


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["steps"]["1"][0].update(object_id=["not", "an", "id"]),
        lambda d: d.update(keep="admin@contoso.onmicrosoft.com"),
        lambda d: d["tenant"].update(id=42),
        lambda d: d.update(steps=[]),
        lambda d: d["steps"].update({"9": []}),
        lambda d: d["steps"]["1"][0].update(surprise="field"),
    ],
)
def test_an_edited_plan_with_the_wrong_types_is_unreadable(damage: Any) -> None:
    data = json.loads(json.dumps(_BASE))
    damage(data)
    with pytest.raises(PlanError, match="unreadable"):
        Plan.from_dict(data)
    with pytest.raises(PlanError, match="unreadable"):
        Plan.from_json(json.dumps(data).encode())
