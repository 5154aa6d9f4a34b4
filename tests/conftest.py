"""Suite-wide fixtures: no network beyond loopback, private XDG dirs, sandbox tenants.

Every test runs with ``XDG_STATE_HOME``/``XDG_DATA_HOME``/``XDG_CONFIG_HOME`` in its own temp
dir (nothing touches the real home), with its own ``XDG_RUNTIME_DIR`` (where the per-tenant run
locks live: suites running side by side on one machine seed the same tenant ids), and with
outgoing connections to anything but loopback refused, so no test can ever reach a real
Microsoft endpoint.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from services.sandbox import Sandbox, SandboxConfig, start_sandbox
from services.sandbox.config import behaviour_settings

# The property tests (tests/services/*/test_properties_*.py) talk to a sandbox over HTTP on a
# busy machine: how long an example takes is no verdict. Their examples are random; a failure is
# replayed from .hypothesis/ on the next run, and printed with the seed that finds it again.
settings.register_profile(
    "closeout",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
settings.load_profile("closeout")


def _is_loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None:
        return True
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%")[0]
    if host.lower() in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse every non-loopback name lookup and connection; the list records what was tried."""
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_loopback(host):
            attempts.append(str(host))
            raise socket.gaierror(
                f"test network guard: refused to resolve {host!r} (loopback only)"
            )
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            attempts.append(str(address[0]))
            raise OSError(
                f"test network guard: refused connection to {address[0]!r} (loopback only)"
            )

    def connect(self: socket.socket, address: Any) -> None:
        check(self, address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        check(self, address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return attempts


@pytest.fixture(autouse=True)
def _english(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests read English output whatever the developer's locale; each starts and ends in it."""
    from services.i18n import set_language

    for var in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    set_language("en")
    yield
    set_language("en")


@pytest.fixture(autouse=True)
def _private_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.mktemp("xdg")
    for var in ("XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(base / var.lower()))
    # Unlike the others it must exist (0700, ours): closeout falls back to a directory under
    # /tmp shared by every test run of this user when it does not.
    runtime = base / "xdg_runtime_dir"
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("CLOSEOUT_ACCESS_TOKEN", raising=False)


@pytest.fixture
def make_sandbox() -> Iterator[Callable[..., Sandbox]]:
    """``make_sandbox(users=50, seed=3, ...)`` starts a sandbox that is stopped after the test.

    ``behaviours="sync-flag-lags,no-owner"`` picks behaviour switches by their names (those of
    ``closeout sandbox serve --behaviour``).
    """
    started: list[Sandbox] = []

    def make(*, behaviours: str = "", **kw: Any) -> Sandbox:
        sb = start_sandbox(SandboxConfig(**{**behaviour_settings(behaviours), **kw}))
        started.append(sb)
        return sb

    yield make
    for sb in started:
        sb.stop()


@pytest.fixture
def sandbox(make_sandbox: Callable[..., Sandbox]) -> Sandbox:
    """A small default tenant (60 users, seed 3) on the real clock."""
    return make_sandbox(users=60, seed=3)


@pytest.fixture
def connect(tmp_path: Any) -> Iterator[Callable[[Sandbox], Any]]:
    """``connect(sb)``: the engine of a session signed in to ``sb`` with a bearer token, its
    state under the test's tmp_path; the session is closed after the test."""
    from services.session import Session
    from tests.support.sessions import sandbox_options

    sessions: list[Session] = []

    def make(sb: Sandbox) -> Any:
        session = Session(sandbox_options(sb, tmp_path / "state"))
        sessions.append(session)
        return session.connect(sink=lambda _event: None)

    yield make
    for session in sessions:
        session.close()
