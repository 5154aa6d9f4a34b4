"""The sandbox's random faults that the reliability suite (scripts/reliability) runs whole
close-outs under, each seen doing what it says over raw HTTP: lost answers, JSON cut off
midway, spoiled ``$batch`` answers, 429 bursts inside a batch, overlapping pages, failing next
links, tokens expiring mid-run, and Graph paging smaller than ``$top`` asks."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from services.sandbox import Sandbox
from services.sandbox.faults import EXPIRE_AFTER, RANDOM_FAULTS, Faults


def session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.issue_token()}"
    return s


def batch_of_gets(sb: Sandbox, n: int = 20) -> dict[str, Any]:
    ids = [u.id for u in sb.tenant.users.values()][:n]
    return {
        "requests": [
            {"id": str(i + 1), "method": "GET", "url": f"/users/{uid}?$select=id"}
            for i, uid in enumerate(ids)
        ]
    }


def test_an_unknown_kind_names_every_kind_there_is() -> None:
    with pytest.raises(ValueError, match="unknown fault 'garbage'") as info:
        Faults("garbage")
    for kind in RANDOM_FAULTS:
        assert kind in str(info.value)
    assert Faults("lost=0.1,malformed=0.2,batch=0.3,burst=0.1,overlap=1,nextlink=0,expire=0.5")


def test_lost_answers_are_carried_out_and_never_answered(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=10, seed=3, faults="lost=1")
    victim = next(u.id for u in sb.tenant.users.values() if u.id != sb.admin_id)
    with pytest.raises(requests.ConnectionError):
        session(sb).delete(f"{sb.base_url}/v1.0/users/{victim}", timeout=10)
    assert sb.tenant.users.get(victim) is None  # Graph did it; only the answer was lost


def test_malformed_answers_are_json_cut_off_midway(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(users=10, seed=3, faults="malformed=1")
    resp = session(sb).get(f"{sb.base_url}/v1.0/users", timeout=10)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert resp.content.startswith(b'{"')
    with pytest.raises(ValueError):
        json.loads(resp.content)


def test_spoiled_batch_answers_are_shuffled_missing_or_duplicated(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=30, seed=5, faults="batch=1")
    s = session(sb)
    asked = [str(i + 1) for i in range(20)]
    seen = set()
    for _ in range(24):
        answers = s.post(f"{sb.base_url}/v1.0/$batch", json=batch_of_gets(sb), timeout=10).json()
        ids = [a["id"] for a in answers["responses"]]
        assert ids != asked  # every answer spoiled one way or another
        if sorted(ids, key=int) == asked:
            seen.add("shuffled")
        elif len(ids) == 19:
            seen.add("missing")
        elif len(set(ids)) == 19:
            seen.add("duplicate")
    assert seen == {"shuffled", "missing", "duplicate"}


def test_a_429_burst_throttles_a_batch_from_an_item_on(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=30, seed=5, faults="burst=1")
    answers = (
        session(sb)
        .post(f"{sb.base_url}/v1.0/$batch", json=batch_of_gets(sb), timeout=10)
        .json()["responses"]
    )
    statuses = [a["status"] for a in sorted(answers, key=lambda a: int(a["id"]))]
    assert 429 in statuses
    first = statuses.index(429)
    run = statuses[first:]
    assert run[: len(run) - run[::-1].index(429)] == [429] * (len(run) - run[::-1].index(429))
    assert all("Retry-After" in a["headers"] for a in answers if a["status"] == 429)


def pages(sb: Sandbox, s: requests.Session) -> list[list[str]]:
    out: list[list[str]] = []
    url: str | None = f"{sb.base_url}/v1.0/users"
    query: dict[str, str] | None = {"$select": "id", "$top": "999"}
    while url:
        page = s.get(url, params=query, timeout=10).json()
        out.append([u["id"] for u in page["value"]])
        url, query = page.get("@odata.nextLink"), None
    return out


def test_graph_may_page_smaller_than_top_asks(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(users=60, seed=5, server_page_size=25)
    got = pages(sb, session(sb))
    assert [len(p) for p in got] == [25, 25, 10]
    assert len({i for p in got for i in p}) == 60


def test_overlapping_pages_repeat_items_of_the_page_before(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=60, seed=5, server_page_size=25, faults="overlap=1")
    got = pages(sb, session(sb))
    assert len(got[0]) == 25 and all(len(p) > 25 or p is got[-1] for p in got[1:])
    assert got[1][0] in got[0]  # the second page starts with the end of the first
    assert len({i for p in got for i in p}) == 60 < sum(map(len, got))


def test_a_failing_next_link_fails_only_pages_after_the_first(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=60, seed=5, server_page_size=25, faults="nextlink=1")
    s = session(sb)
    first = s.get(
        f"{sb.base_url}/v1.0/users", params={"$select": "id", "$top": "999"}, timeout=10
    ).json()
    outcomes = set()
    for _ in range(8):
        try:
            outcomes.add(s.get(first["@odata.nextLink"], timeout=10).status_code)
        except requests.ConnectionError:
            outcomes.add("dropped")
    assert outcomes == {503, "dropped"}


def test_a_token_expires_mid_run_and_stays_expired(make_sandbox: Callable[..., Sandbox]) -> None:
    sb = make_sandbox(users=10, seed=5, faults="expire=1")
    s = session(sb)
    # A token fresh from sign-in or a refresh is not the next to expire: it serves first.
    for _ in range(EXPIRE_AFTER):
        assert s.get(f"{sb.base_url}/v1.0/organization", timeout=10).status_code == 200
    resp = s.get(f"{sb.base_url}/v1.0/organization", timeout=10)
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert resp.json()["error"]["message"] == "Lifetime validation failed, the token is expired."
    assert sb.faults.injected["expire"] == 1
    sb.faults.parse("")  # no more expiries: the expired token still is
    assert s.get(f"{sb.base_url}/v1.0/organization", timeout=10).status_code == 401
    assert session(sb).get(f"{sb.base_url}/v1.0/organization", timeout=10).status_code == 200


def test_a_late_5xx_answers_a_write_graph_carried_out_and_spares_reads(
    make_sandbox: Callable[..., Sandbox],
) -> None:
    sb = make_sandbox(users=10, seed=3, faults="late5xx=1")
    victims = [u.id for u in sb.tenant.users.values() if u.id != sb.admin_id][:3]
    http = session(sb)
    assert http.get(f"{sb.base_url}/v1.0/users/{victims[0]}", timeout=10).status_code == 200
    resp = http.delete(f"{sb.base_url}/v1.0/users/{victims[0]}", timeout=10)
    assert resp.status_code in (502, 503, 504)
    assert resp.json()["error"]["code"] in ("BadGateway", "ServiceUnavailable", "GatewayTimeout")
    assert sb.tenant.users.get(victims[0]) is None  # Graph did it; only the answer says no
    # Inside a $batch: each write item is carried out, then answered 5xx; so is the batch.
    body = {
        "requests": [
            {"id": str(n), "method": "DELETE", "url": f"/users/{uid}"}
            for n, uid in enumerate(victims[1:], 1)
        ]
    }
    batch = http.post(f"{sb.base_url}/v1.0/$batch", json=body, timeout=10)
    assert batch.status_code in (502, 503, 504)
    assert all(sb.tenant.users.get(uid) is None for uid in victims[1:])
    assert sb.faults.injected["late5xx"] == 4
    carried_out = [r for r in sb.recorder.writes() if r.method == "DELETE"]
    assert [r.status for r in carried_out] == [204, 204, 204]
