"""The demo tenant's saved state (issue 12, "--demo keeps its tenant"): a sandbox changed over
real HTTP — users deleted into the recycle bin, directory sync turned off with its horizon, a
subscription cancelled in the admin center, per-user MFA turned off, an application deleted,
days of simulated time — comes back from its bytes exactly as it was, its clock going on from
where it stood; and a file closeout did not write, a damaged or cut one, or one of another
version is refused with a message that names ``--fresh``, never half-loaded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from services.exit_codes import ExitCode, exit_code_for
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.http import GraphHttpError
from services.sandbox.saved_state import (
    VERSION,
    SavedStateError,
    capture,
    decode,
    restore,
)

DAY = 86400.0


def _session(sb: Sandbox) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {sb.issue_token()}"
    return s


def _pages(s: requests.Session, url: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url:
        page = s.get(next_url, timeout=10).json()
        out += page["value"]
        next_url = page.get("@odata.nextLink")
    return out


def _worked_on(sb: Sandbox) -> dict[str, Any]:
    """Change the tenant as a close-out half-way through does, over HTTP where Graph can."""
    s = _session(sb)
    base = f"{sb.base_url}/v1.0"
    cloud_only = [
        u
        for u in sb.tenant.users.values()
        if not u.synced and u.id != sb.admin_id and not sb.tenant.roles_of(u.id)
    ]
    deleted = [u.id for u in cloud_only[:3]]
    for uid in deleted:
        assert s.delete(f"{base}/users/{uid}", timeout=10).status_code == 204
    resp = s.patch(
        f"{base}/organization/{sb.tenant_id}", json={"onPremisesSyncEnabled": False}, timeout=10
    )
    assert resp.status_code == 204, resp.text
    mfa_user = cloud_only[5].id
    resp = s.patch(
        f"{sb.base_url}/beta/users/{mfa_user}/authentication/requirements",
        json={"perUserMfaState": "enforced"},
        timeout=10,
    )
    assert resp.status_code in (200, 204), resp.text
    app = next(iter(sb.tenant.applications.values()))
    assert s.delete(f"{base}/applications/{app.id}", timeout=10).status_code == 204
    cancelled = None
    for sub in sb.tenant.subscriptions.values():
        with contextlib.suppress(GraphHttpError):
            sb.cancel_subscription(sub.id, as_partner=sub.owner_tenant_id is not None)
            cancelled = sub.id
            break
    assert cancelled is not None
    sb.clock.advance(2 * DAY)
    return {"deleted": deleted, "mfa_user": mfa_user, "app": app.id, "cancelled": cancelled}


def _seen(sb: Sandbox, changed: dict[str, Any]) -> dict[str, Any]:
    """What Graph shows of the tenant, over HTTP."""
    s = _session(sb)
    base = f"{sb.base_url}/v1.0"
    mfa = s.get(
        f"{sb.base_url}/beta/users/{changed['mfa_user']}/authentication/requirements",
        timeout=10,
    ).json()
    return {
        "users": sorted(u["id"] for u in _pages(s, f"{base}/users?$top=50")),
        "recycle bin": sorted(
            u["id"]
            for u in _pages(s, f"{base}/directory/deletedItems/microsoft.graph.user?$top=50")
        ),
        "sync": s.get(f"{base}/organization", timeout=10).json()["value"][0][
            "onPremisesSyncEnabled"
        ],
        "subscriptions": sorted(
            (x["id"], x["status"])
            for x in s.get(f"{base}/directory/subscriptions", timeout=10).json()["value"]
        ),
        "mfa": mfa["perUserMfaState"],
        "apps": sorted(a["id"] for a in _pages(s, f"{base}/applications")),
        "deleted apps": sorted(
            a["id"] for a in _pages(s, f"{base}/directory/deletedItems/microsoft.graph.application")
        ),
    }


def _plain(body: dict[str, Any]) -> Any:
    """A body as its JSON reads (tuples and lists alike), the clock's reading aside."""
    plain = json.loads(json.dumps(body))
    plain["clock"].pop("elapsed")
    return plain


@pytest.fixture
def restored() -> Iterator[Callable[[Sandbox, bytes], Sandbox]]:
    started: list[Sandbox] = []

    def make(sb: Sandbox, data: bytes) -> Sandbox:
        again = restore(decode(data), sb.config).start()
        started.append(again)
        return again

    yield make
    for sb in started:
        sb.stop()


def test_a_worked_on_tenant_comes_back_exactly_with_its_clock_going_on(
    make_sandbox: Callable[..., Sandbox], restored: Callable[[Sandbox, bytes], Sandbox]
) -> None:
    sb = make_sandbox(users=60, seed=3, time_scale=3600.0)
    changed = _worked_on(sb)
    before = _seen(sb, changed)
    state = capture(sb)
    stood = state.sim_seconds
    assert stood >= 2 * DAY

    again = restored(sb, state.encode())

    assert again.tenant_id == sb.tenant_id
    assert _seen(again, changed) == before
    assert set(changed["deleted"]) <= set(before["recycle bin"])
    assert before["sync"] is not True and before["mfa"] == "enforced"
    assert changed["app"] in before["deleted apps"]
    # Every object, field by field, and the sandbox's random stream.
    assert _plain(capture(again).body) == _plain(state.body)
    # Simulated time goes on from where it stood, on the same calendar: it does not start again.
    assert again.clock.now() >= stood
    assert again.clock.at(0) == sb.clock.at(0)
    # The 72-hour horizon of the sync turn-off stands where it stood.
    assert again.tenant.org.sync_disabled_at == sb.tenant.org.sync_disabled_at


def test_hostile_names_come_back_exactly(
    make_sandbox: Callable[..., Sandbox], restored: Callable[[Sandbox, bytes], Sandbox]
) -> None:
    # Lone surrogates, controls, bidi overrides, markup: kept exactly, whatever they hold.
    sb = make_sandbox(users=30, seed=3, hostile_names=True)
    state = capture(sb)
    again = restored(sb, state.encode())
    assert _plain(capture(again).body) == _plain(state.body)
    names = {u.id: u.display_name for u in sb.tenant.users.values()}
    assert {u.id: u.display_name for u in again.tenant.users.values()} == names
    assert any("\ud83d" in name or "\u202e" in name for name in names.values())


def test_a_deleted_tenant_stays_deleted(
    make_sandbox: Callable[..., Sandbox], restored: Callable[[Sandbox, bytes], Sandbox]
) -> None:
    sb = make_sandbox(users=20, seed=3)
    with sb.lock:
        sb.tenant.deleted = True
        sb.tokens.tenant_deleted = True
    data = capture(sb).encode()
    assert json.loads(data.partition(b"\n")[0])["deleted"] is True  # said before the body is read
    again = restored(sb, data)
    assert again.tenant.deleted and again.tokens.tenant_deleted


# -- what is refused ------------------------------------------------------------------------


def _saved() -> bytes:
    sb = Sandbox(SandboxConfig(users=20, seed=3))
    return capture(sb).encode()


def _header_with(data: bytes, **changes: Any) -> bytes:
    head, _nl, body = data.partition(b"\n")
    header = {**json.loads(head), **changes}
    return json.dumps(header).encode() + b"\n" + body


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0xFF])


REFUSED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "empty": (lambda d: b"", "not a closeout demo state file"),
    "another program's file": (lambda d: b"hello, world\n", "not a closeout demo state file"),
    "another program's JSON": (
        lambda d: b'{"format": "something else"}\n{}',
        "not a closeout demo state file",
    ),
    "an older version": (lambda d: _header_with(d, version=VERSION - 1), "another version"),
    "a newer version": (lambda d: _header_with(d, version=VERSION + 1), "another version"),
    "cut short": (lambda d: d[: len(d) // 2], "checksum does not match"),
    "a damaged byte": (_flip_last_byte, "checksum does not match"),
    "a header without its size": (lambda d: _header_with(d, users=None), "no users"),
}


@pytest.mark.parametrize("what", REFUSED)
def test_a_file_closeout_cannot_use_is_refused_naming_fresh(what: str) -> None:
    spoil, said = REFUSED[what]
    with pytest.raises(SavedStateError) as caught:
        decode(spoil(_saved()))
    assert said in caught.value.message
    assert caught.value.hint is not None and "--fresh" in caught.value.hint
    assert exit_code_for(caught.value) == ExitCode.USAGE


def test_a_body_with_a_field_this_version_does_not_know_is_refused() -> None:
    import hashlib
    import zlib

    data = _saved()
    head, _nl, packed = data.partition(b"\n")
    body = json.loads(zlib.decompress(packed))
    body["collections"]["users"]["columns"][1] = "favouriteColour"
    packed = zlib.compress(json.dumps(body).encode())
    forged = _header_with(head + b"\n", sha256=hashlib.sha256(packed).hexdigest())
    forged = forged.partition(b"\n")[0] + b"\n" + packed
    with pytest.raises(SavedStateError) as caught:
        restore(decode(forged), SandboxConfig(users=20, seed=3))
    assert "favouriteColour" in caught.value.message
