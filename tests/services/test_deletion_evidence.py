"""Mid-run, the engine calls the tenant gone only on evidence: a refusal that names the tenant
as not found, confirmed by the public OpenID discovery document. Any other 401 is a token
problem. Over real HTTP against the sandbox, with a bring-your-own token and with a device code
sign-in (whose refresh then fails with AADSTS90002)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from services.errors import AuthError, GraphError
from services.sandbox.identity.provider import approve_device_code
from services.session import Session
from tests.support.cli_harness import deletable_sandbox
from tests.support.sessions import sandbox_options


@pytest.fixture
def session_for(tmp_path: Path):
    sessions: list[Session] = []

    def make(sb, *, device_code: bool = False) -> Session:
        options = sandbox_options(sb, tmp_path / "state", token=not device_code, poll_interval=0.05)
        session = Session(options)
        sessions.append(session)
        if device_code:
            prompt = session.start_device_code()
            approve_device_code(sb, prompt.user_code)
            session.wait_device_code(prompt, threading.Event())
            assert session.auth.signed_in
        return session

    yield make
    for session in sessions:
        session.close()


def test_a_401_that_names_no_tenant_is_not_a_deletion(make_sandbox, session_for) -> None:
    sb = make_sandbox(users=10, seed=4)
    engine = session_for(sb).connect()
    assert engine.refresh() is not None
    # Discovery would say "not found" (as for a deleted tenant), but Graph's refusal is only
    # about the token: that is no evidence that the tenant is gone.
    with sb.lock:
        sb.tenant.deleted = True
    sb.add_fault(
        method="GET",
        path="/users",
        status=401,
        code="InvalidAuthenticationToken",
        message="Lifetime validation failed, the token is expired.",
        times=-1,
    )
    with pytest.raises((AuthError, GraphError)):
        engine.refresh()
    assert not engine.gone


@pytest.mark.parametrize("device_code", [False, True], ids=["own token", "device code"])
def test_a_tenant_deleted_mid_run_is_seen_gone(make_sandbox, session_for, device_code) -> None:
    sb = deletable_sandbox(make_sandbox)
    engine = session_for(sb, device_code=device_code).connect()
    assert engine.refresh() is not None
    sb.delete_tenant()
    assert engine.refresh() is None
    assert engine.gone


def test_a_deleted_tenant_is_found_gone_at_sign_in_with_a_device_code_session(
    make_sandbox, session_for
) -> None:
    """The cached sign-in of a tenant reached before: Graph refuses, the refresh is refused
    with AADSTS90002, discovery agrees: gone. Without the earlier visit it is a refusal."""
    from services.session import TenantGone

    sb = deletable_sandbox(make_sandbox)
    first = session_for(sb, device_code=True)
    first.connect(write=True)
    first.engine.make_plan()
    first.close()
    again = session_for(sb, device_code=True)
    sb.delete_tenant()
    with pytest.raises(TenantGone) as gone:
        again.connect()
    assert sb.tenant_id in gone.value.message
