"""No symbolic link is followed for what closeout writes (issue 9, item 15).

Someone who can plant a link where closeout keeps a folder or a file (the state dir, ``logs/``,
``closeout.log``, a tenant folder, ``evidence/``, ``plan.json``, the token cache) must not get
closeout to change the mode of the link's target or to write into it. Each case runs the real
command against a sandbox tenant: exit 2, one message naming the link, no traceback, nothing
written through the link, the target's mode unchanged, and no write sent to Graph.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from services.sandbox import Sandbox
from tests.support.cli_harness import graph_writes, run_cli, target_args


@dataclass(frozen=True)
class Planted:
    link: Path
    """Where closeout would write, planted as a symbolic link."""
    target: Path
    """What the link points to: a folder or file closeout must leave as it is."""


def _target(tmp_path: Path, *, folder: bool) -> Path:
    if folder:
        target = tmp_path / "victim-dir"
        target.mkdir()
        (target / "keep.txt").write_text("precious")
        target.chmod(0o755)
    else:
        target = tmp_path / "victim.txt"
        target.write_text("precious")
        target.chmod(0o644)
    return target


def _plant(link: Path, target: Path) -> Planted:
    link.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    link.symlink_to(target)
    return Planted(link, target)


def _snapshot(target: Path) -> tuple[int, dict[str, bytes]]:
    mode = stat.S_IMODE(os.lstat(target).st_mode)
    if target.is_dir():
        return mode, {p.name: p.read_bytes() for p in sorted(target.iterdir())}
    return mode, {"": target.read_bytes()}


@dataclass(frozen=True)
class Case:
    name: str
    command: list[str]
    plant: Callable[[Path, Path, Path, str], Planted]
    """(tmp_path, state dir, data dir, tenant id) -> the planted link."""
    folder: bool
    token_cache: bool = False
    """Sign in without CLOSEOUT_ACCESS_TOKEN and with the token cache (device code)."""
    state_dir: Callable[[Path], Path] | None = None
    """The --state-dir given, when it is not the state dir itself (a link to it)."""


def _tenant(state: Path, tenant: str) -> Path:
    folder = state / "tenants" / tenant
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


CASES = [
    Case(
        "state dir",
        ["plan"],
        lambda tmp, state, data, tid: _plant(tmp / "state-link", _target(tmp, folder=True)),
        folder=True,
        state_dir=lambda tmp: tmp / "state-link",
    ),
    Case(
        "tenants folder",
        ["plan"],
        lambda tmp, state, data, tid: _plant(state / "tenants", _target(tmp, folder=True)),
        folder=True,
    ),
    Case(
        "tenant folder",
        ["plan"],
        lambda tmp, state, data, tid: _plant(state / "tenants" / tid, _target(tmp, folder=True)),
        folder=True,
    ),
    Case(
        "logs folder",
        ["status"],
        lambda tmp, state, data, tid: _plant(state / "logs", _target(tmp, folder=True)),
        folder=True,
    ),
    Case(
        "closeout.log",
        ["status"],
        lambda tmp, state, data, tid: _plant(
            state / "logs" / "closeout.log", _target(tmp, folder=False)
        ),
        folder=False,
    ),
    Case(
        "plan.json",
        ["plan"],
        lambda tmp, state, data, tid: _plant(
            _tenant(state, tid) / "plan.json", _target(tmp, folder=False)
        ),
        folder=False,
    ),
    Case(
        "inventory-before.json",
        ["plan"],
        lambda tmp, state, data, tid: _plant(
            _tenant(state, tid) / "inventory-before.json", _target(tmp, folder=False)
        ),
        folder=False,
    ),
    Case(
        "journal",
        ["run", "--headless", "--yes", "--no-wait"],
        lambda tmp, state, data, tid: _plant(
            _tenant(state, tid) / "journal.jsonl", _target(tmp, folder=False)
        ),
        folder=False,
    ),
    Case(
        "evidence folder",
        ["export"],
        lambda tmp, state, data, tid: _plant(
            _tenant(state, tid) / "evidence", _target(tmp, folder=True)
        ),
        folder=True,
    ),
    Case(
        "export --out",
        ["export", "--out", "PACK"],
        lambda tmp, state, data, tid: _plant(tmp / "pack-link", _target(tmp, folder=True)),
        folder=True,
    ),
    Case(
        "token cache file",
        ["status"],
        lambda tmp, state, data, tid: _plant(
            data / "closeout" / "msal_token_cache.json", _target(tmp, folder=False)
        ),
        folder=False,
        token_cache=True,
    ),
    Case(
        "token cache folder",
        ["status"],
        lambda tmp, state, data, tid: _plant(data / "closeout", _target(tmp, folder=True)),
        folder=True,
        token_cache=True,
    ),
]


@pytest.fixture(scope="module")
def tenant_sb() -> Sandbox:
    from services.sandbox import SandboxConfig, start_sandbox

    sb = start_sandbox(SandboxConfig(users=6, seed=4))
    yield sb
    sb.stop()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_symlink_is_refused_and_its_target_left_alone(
    case: Case, tenant_sb: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = tenant_sb
    before_writes = len(graph_writes(sb))
    state = tmp_path / "state"
    data = Path(os.environ["XDG_DATA_HOME"])
    planted = case.plant(tmp_path, state, data, sb.tenant_id)
    before = _snapshot(planted.target)

    state_arg = case.state_dir(tmp_path) if case.state_dir else state
    argv = [a if a != "PACK" else str(planted.link) for a in case.command]
    argv += target_args(sb, state_arg)
    token = sb.issue_token()
    if case.token_cache:
        argv = [a for a in argv if a != "--no-token-cache"]
        argv += ["--authority", sb.authority]
        token = ""
    r = run_cli(argv, monkeypatch=monkeypatch, token=token)

    assert r.code == 2, r.text
    assert f"{planted.link} is a symbolic link" in r.err, r.err
    assert "Traceback" not in r.text
    assert planted.link.is_symlink()
    assert _snapshot(planted.target) == before, "something was written through the link"
    assert len(graph_writes(sb)) == before_writes
