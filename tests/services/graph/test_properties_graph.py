"""Graph's answers, tried with anything they could hold (issue 9: a property-based test).

closeout trusts nothing it reads from Graph to have the shape Microsoft documents: a proxy, a
server that is not Graph, a bug or an attacker between them may send anything. Here one real
answer of the sandbox tenant (the users, the licences, the roles, the subscriptions, the apps,
the policies, the organization, the signed-in user) is rewritten with one part of it replaced by
any JSON value, or its status and body replaced, and closeout reads the tenant and makes its
plan as ``closeout plan`` does. Whatever it got, it either answers with a plan whose every
action names a real object id, or stops with a :class:`~services.errors.CloseoutError` (a
message and an exit code): never another exception, which would be a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.auth.static_token import StaticTokenAuth
from services.caller import identify
from services.errors import CloseoutError
from services.graph.client import GraphClient
from services.inventory.take import take_inventory
from services.plan.build import PlanOptions, build_plan
from services.sandbox import Sandbox, SandboxConfig, start_sandbox
from services.sandbox.http import Response
from tests.support.strategies import json_values

# The GETs a plan is made of (version-relative paths as the sandbox's fault rules see them).
ANSWERS = [
    r"^/v1\.0/users(\?|$)",
    r"^/v1\.0/subscribedSkus",
    r"^/v1\.0/directoryRoles(\?|$)",
    r"^/v1\.0/directoryRoles/[^/]+/members",
    r"^/v1\.0/directory/subscriptions",
    r"^/v1\.0/directory/deletedItems/microsoft\.graph\.user",
    r"^/v1\.0/applications",
    r"^/v1\.0/servicePrincipals",
    r"^/v1\.0/identity/conditionalAccess/policies",
    r"^/v1\.0/policies/identitySecurityDefaultsEnforcementPolicy",
    r"^/v1\.0/organization",
    r"^/v1\.0/me(\?|$)",
    r"^/v1\.0/me/transitiveMemberOf",
]

# Where in an answer to put the replacement: a walk of keys and list positions from the body
# (an int picks an item or a key by position, a text names a key, present or not).
steps = st.lists(
    st.one_of(
        st.integers(min_value=0, max_value=40),
        st.sampled_from(
            [
                "value",
                "id",
                "@odata.nextLink",
                "userPrincipalName",
                "assignedLicenses",
                "skuId",
                "servicePlans",
                "roleTemplateId",
                "status",
                "grantControls",
                "builtInControls",
                "verifiedDomains",
                "isEnabled",
                "appOwnerOrganizationId",
            ]
        ),
    ),
    max_size=4,
)


def _replace(body: Any, walk: list[int | str], value: Any) -> Any:
    """``body`` with the part ``walk`` leads to replaced by ``value``."""
    if not walk:
        return value
    head, rest = walk[0], walk[1:]
    if isinstance(body, list) and body:
        index = head if isinstance(head, int) else 0
        index %= len(body)
        body[index] = _replace(body[index], rest, value)
    elif isinstance(body, dict):
        if isinstance(head, int):
            keys = sorted(body)
            key = keys[head % len(keys)] if keys else "value"
        else:
            key = head
        body[key] = _replace(body.get(key), rest, value)
    else:
        return value
    return body


rewrites = st.one_of(
    st.tuples(st.just("part"), st.sampled_from(ANSWERS), steps, json_values),
    st.tuples(
        st.just("answer"),
        st.sampled_from(ANSWERS),
        st.sampled_from([200, 400, 401, 403, 404, 409]),
        st.one_of(
            json_values.map(lambda v: json.dumps(v).encode()),
            st.binary(max_size=40),
            st.just(b'{"value": [{"id": "a'),
        ),
    ),
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = start_sandbox(SandboxConfig(users=6, seed=13, synced_fraction=0.3))
    yield sb
    sb.stop()


def _rule(rewrite: tuple[Any, ...]) -> tuple[str, Any]:
    kind, path, *args = rewrite
    if kind == "part":
        walk, value = args

        def part(resp: Response) -> Response:
            body = _replace(json.loads(json.dumps(resp.body)), list(walk), value)
            return Response(resp.status, body, dict(resp.headers))

        return path, part
    status, raw = args

    def answer(resp: Response) -> Response:
        return Response(status=status, body=raw, content_type="application/json")

    return path, answer


def _plan(sb: Sandbox) -> Any:
    client = GraphClient(
        sb.base_url,
        StaticTokenAuth(sb.issue_token()),
        read_only=True,
        max_retries=1,
        backoff_base=0.01,
    )
    try:
        caller = identify(client, permissions=None, cloud="global", sandbox=True)
        inventory = take_inventory(client, caller.tenant)
        return inventory, build_plan(inventory, caller, PlanOptions())
    finally:
        client.close()


@settings(max_examples=60)
@given(rewrite=rewrites)
def test_any_answer_makes_a_plan_of_real_ids_or_a_message(
    sandbox: Sandbox, rewrite: tuple[Any, ...]
) -> None:
    path, change = _rule(rewrite)
    sandbox.faults.clear()
    sandbox.add_fault(method="GET", path=path, times=-1, rewrite=change)
    try:
        inventory, plan = _plan(sandbox)
    except CloseoutError:
        return  # a message and an exit code
    finally:
        sandbox.faults.clear()
    for user in inventory.users:
        assert isinstance(user.id, str) and user.id and user.id != "None"
        assert all(isinstance(name, str) for name in user.licenses)
    for action in plan.actions:
        assert isinstance(action.object_id, str) and action.object_id
        assert action.object_id != "None"
