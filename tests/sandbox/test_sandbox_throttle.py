"""The sandbox's write quota counts as Graph documents it (graph-api.md §8.2): per app+tenant
pair, plus the tenant's and the app's own limits; as a sliding window or, switched, as a token
bucket; and it says which 429s the write quota gave.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from services.batch.executor import BatchExecutor
from services.batch.items import BatchItem, Outcome
from services.control import RunControl
from services.graph.client import GraphClient
from services.pacing import WritePacer
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.clock import SimClock
from services.sandbox.throttle import Throttle

APP_A = "11111111-1111-1111-1111-111111111111"
APP_B = "22222222-2222-2222-2222-222222222222"
TENANT = "tenant"


def _frozen_clock() -> SimClock:
    # Simulated time stands still unless the test advances it.
    return SimClock(time_scale=1e-9)


def _delete(throttle: Throttle, app: str, n: int = 1) -> list[bool]:
    return [
        throttle.check("DELETE", f"/v1.0/users/u{i}", {}, app, TENANT).allowed for i in range(n)
    ]


def test_the_write_quota_is_per_app_and_tenant_and_the_tenant_limit_is_shared():
    clock = _frozen_clock()
    config = SandboxConfig(write_quota=(5, 150.0), tenant_write_quota=(8, 300.0))
    throttle = Throttle(config, clock, 100)
    assert _delete(throttle, APP_A, 6) == [True] * 5 + [False]
    # Another app's writes do not count against app A's pair...
    assert _delete(throttle, APP_B, 3) == [True] * 3
    # ...but against the tenant's limit, which all apps share.
    assert _delete(throttle, APP_B, 1) == [False]
    scopes = [
        (r.app_id, r.scope.split("/")[0], r.write_quota_exceeded) for r in throttle.refusals()
    ]
    assert scopes == [(APP_A, "Tenant_Application", True), (APP_B, "Tenant", False)]
    assert [r.information for r in throttle.refusals()] == ["WriteLimitExceeded"] * 2
    assert throttle.max_writes_in_window(150.0, APP_A) == 5
    assert throttle.max_writes_in_window(150.0) == 8


def test_the_sliding_window_gives_quota_back_only_a_window_after_each_write():
    clock = _frozen_clock()
    throttle = Throttle(SandboxConfig(write_quota=(10, 100.0)), clock, 100)
    assert all(_delete(throttle, APP_A, 10))
    clock.advance(50.0)
    assert _delete(throttle, APP_A, 1) == [False]
    clock.advance(50.0)
    assert _delete(throttle, APP_A, 11) == [True] * 10 + [False]


def test_the_token_bucket_switch_refills_steadily():
    clock = _frozen_clock()
    config = SandboxConfig(write_quota=(10, 100.0), write_limit="bucket")
    throttle = Throttle(config, clock, 100)
    assert _delete(throttle, APP_A, 11) == [True] * 10 + [False]
    refused = throttle.refusals()[-1]
    assert refused.write_quota_exceeded
    # One token per 10 simulated seconds: half a window gives back half the quota, which a
    # sliding window would not give back before the whole window had passed.
    clock.advance(50.0)
    assert _delete(throttle, APP_A, 6) == [True] * 5 + [False]
    verdict = throttle.check("DELETE", "/v1.0/users/x", {}, APP_A, TENANT)
    assert not verdict.allowed and verdict.retry_after_real is not None


def test_pacing_survives_the_token_bucket_reading_too(make_sandbox: Callable[..., Sandbox]):
    # The pacer models a sliding window; a bucket admits all a sliding window admits.
    scale, quota, window_sim = 100.0, 40, 150.0
    sb = make_sandbox(
        users=130,
        seed=5,
        synced_fraction=0.0,
        time_scale=scale,
        write_quota=(quota, window_sim),
        write_limit="bucket",
    )
    token = sb.issue_token(lifetime=3600)

    class Tokens:
        def token(self, *, force_refresh: bool = False) -> str:
            return token

    client = GraphClient(sb.base_url, Tokens())
    ids = [u.id for u in sb.tenant.users.values() if u.id != sb.admin_id][:120]
    items = [BatchItem(i, "DELETE", f"/users/{i}", action="delete-user") for i in ids]
    pacer = WritePacer(quota, window_sim / scale)
    started = time.monotonic()
    results = BatchExecutor(client, control=RunControl(), pacer=pacer).run(items)
    elapsed = time.monotonic() - started
    assert {r.outcome for r in results} == {Outcome.done}
    assert sb.throttle.refusals() == []
    assert sb.recorder.count(status=429) == 0
    # 120 writes at 40 per window: the last 40 go two windows after the first.
    assert elapsed >= 2 * window_sim / scale
