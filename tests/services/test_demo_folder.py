"""The demo's folder (issue 12, "--demo keeps its tenant"): the saved tenant is private (0700
folder, 0600 file), replaced atomically (a save killed at its write or at its rename leaves the
previous state whole, and no temporary file behind), changed by one closeout at a time (a
second one is turned away, exit 6; one that read the tenant before another saved it is refused
rather than overwrite it), discarded whole by ``--fresh``, saved only when it changed, and
never a real run's state directory.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services.demo_folder import (
    DemoChanged,
    DemoDeleted,
    DemoFolder,
    DemoInUse,
    DemoKeeper,
    DemoMismatch,
    check_demo_options,
    refuse_demo_folder,
)
from services.errors import CloseoutError
from services.exit_codes import ExitCode, exit_code_for
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.saved_state import capture, decode


def _sandbox(users: int = 20) -> Sandbox:
    return Sandbox(SandboxConfig(users=users, seed=3))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_saved_tenant_is_private(tmp_path: Path) -> None:
    folder = DemoFolder(tmp_path / "demo")
    old = os.umask(0o022)
    try:
        folder.write_state(capture(_sandbox()).encode())
    finally:
        os.umask(old)
    assert _mode(folder.path) == 0o700
    assert _mode(folder.state_path) == 0o600


@pytest.mark.parametrize("killed_at", ["write", "rename"])
def test_a_save_cut_short_leaves_the_previous_state_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, killed_at: str
) -> None:
    sb = _sandbox()
    folder = DemoFolder(tmp_path / "demo")
    keeper = DemoKeeper(folder, sb)
    assert keeper.save()
    previous = folder.state_path.read_bytes()
    with sb.lock:
        victim = next(u for u in sb.tenant.users.values() if u.id != sb.admin_id)
        sb.tenant.users.remove(victim.id)

    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    # The write's fsync, or the rename that would put the new file in place, fails as a kill
    # or a full disk would leave it.
    monkeypatch.setattr(os, "fsync" if killed_at == "write" else "replace", fail)
    if killed_at == "rename":
        monkeypatch.setattr(Path, "replace", fail)
    assert keeper.save() is False  # logged, not raised: the session goes on
    monkeypatch.undo()

    assert folder.state_path.read_bytes() == previous
    assert victim.id in {u[0] for u in decode(previous).body["collections"]["users"]["rows"]}
    assert [p.name for p in folder.path.iterdir()] == ["sandbox.state"]  # no temporary file
    # The next save goes through.
    assert keeper.save()
    rows = decode(folder.state_path.read_bytes()).body["collections"]["users"]["rows"]
    assert victim.id not in {row[0] for row in rows}


def test_the_keeper_saves_only_what_changed(tmp_path: Path) -> None:
    sb = _sandbox()
    folder = DemoFolder(tmp_path / "demo")
    keeper = DemoKeeper(folder, sb)
    assert keeper.save(force=True)
    assert keeper.save(force=False) is False  # nothing happened since
    sb.recorder.event(sb.clock.now(), "manual-resolved", key="invoice")
    assert keeper.save(force=False) is True
    assert keeper.saves == 2


def test_one_closeout_at_a_time_changes_the_demo(tmp_path: Path) -> None:
    first, second = DemoFolder(tmp_path / "demo"), DemoFolder(tmp_path / "demo")
    assert first.load() is None and second.load() is None
    first.lock("tui")
    try:
        with pytest.raises(DemoInUse) as caught:
            second.lock("run")
        assert "Another closeout --demo" in caught.value.message
        assert exit_code_for(caught.value) == ExitCode.BUSY
        first.write_state(capture(_sandbox()).encode())
    finally:
        first.release()
    # The second read the folder before the first saved a tenant there: it must not save its
    # own older one over it.
    with pytest.raises(DemoChanged):
        second.lock("run")
    assert not second.locked
    # Read again, it may.
    assert second.load() is not None
    second.lock("run")
    second.release()


def test_fresh_discards_the_tenant_and_its_journal(tmp_path: Path) -> None:
    folder = DemoFolder(tmp_path / "demo")
    folder.lock("fresh")
    try:
        folder.write_state(capture(_sandbox()).encode())
        journal = folder.path / "tenants" / "x" / "journal.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_text("{}\n")
        folder.discard()
        assert sorted(p.name for p in folder.path.iterdir()) == ["demo.lock"]
        assert folder.load() is None
    finally:
        folder.release()


def test_users_or_seed_asking_for_another_tenant_are_refused() -> None:
    check_demo_options(300, 7, None, None)  # not given: the kept one goes on
    check_demo_options(300, 7, 300, 7)  # the same: too
    with pytest.raises(DemoMismatch) as caught:
        check_demo_options(300, 7, 5000, None)
    assert "300 users" in caught.value.message and "--users 5000" in caught.value.message
    assert caught.value.hint is not None and "--fresh" in caught.value.hint
    assert exit_code_for(caught.value) == ExitCode.USAGE
    with pytest.raises(DemoMismatch, match="--seed 8"):
        check_demo_options(300, 7, None, 8)


def test_a_kept_tenant_that_was_deleted_says_so_and_names_fresh() -> None:
    with pytest.raises(DemoDeleted) as caught:
        check_demo_options(300, 7, None, None, deleted=True)
    assert "its close-out is complete" in caught.value.message
    assert caught.value.hint == "closeout --demo --fresh starts a new demo tenant"
    assert exit_code_for(caught.value) == ExitCode.USAGE


def test_a_real_run_never_uses_a_demo_folder(tmp_path: Path) -> None:
    folder = DemoFolder(tmp_path / "demo")
    folder.write_state(capture(_sandbox()).encode())
    refuse_demo_folder(tmp_path)  # the state dir above it is a real run's, as always
    refuse_demo_folder(None)
    with pytest.raises(CloseoutError, match="demo's folder"):
        refuse_demo_folder(folder.path)
