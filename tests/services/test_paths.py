"""Where closeout keeps files: XDG locations, 0700/0600 modes, atomic writes, safe tenant ids."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from services import paths
from services.errors import CloseoutError
from services.paths import (
    InvalidTenantId,
    SymlinkRefused,
    UnsafePath,
    data_dir,
    ensure_private_dir,
    log_dir,
    normalize_tenant_id,
    private_file_writer,
    runtime_dir,
    state_dir,
    tenant_dir,
    tenant_path,
    write_private,
)

TENANT = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"


@pytest.fixture(autouse=True)
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dirs_follow_xdg_and_are_private(xdg: Path) -> None:
    assert state_dir() == xdg / "state" / "closeout"
    assert data_dir() == xdg / "data" / "closeout"
    assert log_dir() == xdg / "state" / "closeout" / "logs"
    tdir = tenant_dir(TENANT)
    assert tdir == xdg / "state" / "closeout" / "tenants" / TENANT
    for directory in (
        xdg / "state",  # created by us, so 0700 as the XDG spec asks
        state_dir(),
        data_dir(),
        log_dir(),
        tdir.parent,
        tdir,
    ):
        assert directory.is_dir()
        assert mode(directory) == 0o700, directory


def test_existing_loose_dirs_are_tightened_but_not_their_parents(xdg: Path) -> None:
    base = xdg / "state"
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    loose = base / "closeout" / "tenants" / TENANT
    loose.mkdir(parents=True)
    for directory in (base / "closeout", base / "closeout" / "tenants", loose):
        directory.chmod(0o755)

    assert tenant_dir(TENANT) == loose
    assert mode(loose) == 0o700
    assert mode(base / "closeout") == 0o700
    assert mode(base / "closeout" / "tenants") == 0o700
    assert mode(base) == 0o755  # the user's XDG_STATE_HOME is theirs, not ours


def test_modes_hold_under_a_restrictive_umask(xdg: Path) -> None:
    old = os.umask(0o277)  # would leave mkdir'd dirs at 0500 and new files at 0400
    try:
        directory = tenant_dir(TENANT)
        write_private(directory / "token-cache.bin", b"cache")
    finally:
        os.umask(old)
    assert mode(directory) == 0o700
    assert mode(directory / "token-cache.bin") == 0o600


def test_root_replaces_the_state_dir(tmp_path: Path) -> None:
    root = tmp_path / "elsewhere"
    assert tenant_dir(TENANT, root=root) == root / "tenants" / TENANT
    assert mode(root) == 0o700
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize(
    "hostile",
    [
        "..",
        ".",
        "../../etc",
        "a/b",
        "a\\b",
        "/etc",
        "",
        " ",
        "tenant\x00",
        "con",
        "nul.txt",
        "trailing.",
        "-flag",
        "x" * 200,
        "ümlaut",
    ],
)
def test_hostile_tenant_ids_are_refused(hostile: str, xdg: Path) -> None:
    with pytest.raises(InvalidTenantId) as info:
        tenant_dir(hostile)
    # Both a user-facing error and a ValueError, so callers can catch either.
    assert isinstance(info.value, CloseoutError)
    assert isinstance(info.value, ValueError)
    assert info.value.hint
    tenants = xdg / "state" / "closeout" / "tenants"
    assert not tenants.exists() or list(tenants.iterdir()) == []
    assert not (xdg / "etc").exists()


def test_tenant_ids_are_normalized() -> None:
    assert normalize_tenant_id(TENANT.upper()) == TENANT
    assert normalize_tenant_id(" Contoso.onmicrosoft.com ") == "contoso.onmicrosoft.com"
    assert normalize_tenant_id("sandbox_1") == "sandbox_1"
    assert tenant_dir("CONTOSO.onmicrosoft.com") == tenant_dir("contoso.onmicrosoft.com")


def test_ensure_private_dir_refuses_a_file(tmp_path: Path) -> None:
    target = tmp_path / "not-a-dir"
    target.write_text("x")
    with pytest.raises(UnsafePath):
        ensure_private_dir(target)


def test_write_private_replaces_atomically_with_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "cache.bin"
    target.write_text("old")
    target.chmod(0o644)
    synced: list[int] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", counting_fsync)
    write_private(target, "nytt innehåll")

    assert target.read_text(encoding="utf-8") == "nytt innehåll"
    assert mode(target) == 0o600
    assert len(synced) == 2  # the file, then its directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin"]


def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "cache.bin"
    write_private(target, b"good")
    with pytest.raises(RuntimeError), private_file_writer(target) as fh:
        fh.write(b"half of a new ")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"good"
    assert [p.name for p in tmp_path.iterdir()] == ["cache.bin"]


def test_write_private_refuses_a_symlink_and_leaves_its_target(tmp_path: Path) -> None:
    # Issue 9 item 15: a link where closeout keeps a file is refused, not silently replaced.
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    victim.chmod(0o644)
    link = tmp_path / "cache.bin"
    link.symlink_to(victim)
    with pytest.raises(SymlinkRefused) as info:
        write_private(link, b"cache")
    assert str(link) in info.value.message
    assert victim.read_text() == "precious" and mode(victim) == 0o644
    assert link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.bin", "victim.txt"]


def test_temp_names_never_collide_with_an_existing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # O_EXCL: a pre-planted file (or symlink) at the temp name is an error, never written to.
    monkeypatch.setattr(paths.secrets, "token_hex", lambda n: "fixed")
    planted = tmp_path / ".cache.bin.fixed.tmp"
    planted.write_text("planted")
    with pytest.raises(FileExistsError):
        write_private(tmp_path / "cache.bin", b"data")
    assert planted.read_text() == "planted"
    assert not (tmp_path / "cache.bin").exists()


# -- the runtime directory (the per-tenant run locks) ------------------------------------------


@pytest.fixture
def fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The stand-in for /tmp, so that no test touches the machine's /tmp/closeout-<uid>."""
    base = tmp_path / "tmp"
    base.mkdir()
    monkeypatch.setattr(paths, "FALLBACK_RUNTIME_BASE", base)
    return base


def test_runtime_dir_is_in_xdg_runtime_dir_and_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: Path
) -> None:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    assert runtime_dir() == runtime / "closeout"
    assert mode(runtime / "closeout") == 0o700
    assert list(fallback.iterdir()) == []


@pytest.mark.parametrize("problem", ["unset", "missing", "loose", "symlink"])
def test_without_a_usable_runtime_dir_a_private_one_in_tmp_is_used(
    problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: Path
) -> None:
    runtime = tmp_path / "run"
    if problem == "unset":
        monkeypatch.delenv("XDG_RUNTIME_DIR")
    else:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    if problem == "loose":
        runtime.mkdir()
        runtime.chmod(0o777)  # anyone could swap our locks in it
    elif problem == "symlink":
        real = tmp_path / "real"
        real.mkdir(mode=0o700)
        runtime.symlink_to(real)
    found = runtime_dir()
    if problem == "unset" and found.parent != fallback:
        # The platform default (/run/user/<uid>) exists and is ours: the same place the
        # session's XDG_RUNTIME_DIR would name.
        assert found.name == "closeout" and mode(found) == 0o700
        return
    assert found == fallback / f"closeout-{os.getuid()}"
    assert mode(found) == 0o700
    assert not (runtime / "closeout").exists()


def test_runtime_dir_refuses_a_symlink_or_another_users_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fallback: Path
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "missing"))
    planted = fallback / f"closeout-{os.getuid()}"
    elsewhere = tmp_path / "attacker"
    elsewhere.mkdir(mode=0o777)
    planted.symlink_to(elsewhere)
    with pytest.raises(UnsafePath) as info:
        runtime_dir()
    assert "symbolic link" in info.value.message
    assert list(elsewhere.iterdir()) == []

    planted.unlink()
    planted.mkdir(mode=0o700)
    real_uid = os.getuid()
    # Seen from another uid, the directory belongs to someone else.
    monkeypatch.setattr(paths.os, "getuid", lambda: real_uid + 1)
    with pytest.raises(UnsafePath) as info:
        runtime_dir()
    assert "another user" in info.value.message


def test_tenant_path_creates_nothing(tmp_path: Path, xdg: Path) -> None:
    assert tenant_path(TENANT, root=tmp_path / "x") == tmp_path / "x" / "tenants" / TENANT
    assert not (tmp_path / "x").exists()
    assert tenant_path(TENANT.upper()) == xdg / "state" / "closeout" / "tenants" / TENANT
    assert not (xdg / "state").exists()
    assert tenant_path(TENANT) == tenant_dir(TENANT)  # the same place, once created
    with pytest.raises(InvalidTenantId):
        tenant_path("../etc")
