"""``--demo`` keeps its tenant between launches for the headless commands too (issue 12): a
``run --demo`` that stops at its first wait leaves the tenant where it was (directory sync
being turned off, its 72-hour horizon standing), ``status --demo`` reads that tenant and its
journal, ``--fresh`` starts a new one; ``--users`` asking for another tenant than the kept one,
a state file closeout cannot read, and ``--fresh`` without ``--demo`` are refused with one line
and exit 2, no traceback. Everything the demo keeps is in ``<state dir>/demo``, never where a
real run looks.

The real ``closeout`` entry point, in process, on the demo's in-process sandbox over loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from services.sandbox import Sandbox
from tests.support.cli_harness import Result, run_cli, target_args

FAST = "150000"
USAGE, WAITING = 2, 3


def _closeout(state: Path, monkeypatch: pytest.MonkeyPatch, *argv: str) -> Result:
    common = ["--demo", "--state-dir", str(state), "--time-scale", FAST]
    result = run_cli([*common, *argv], monkeypatch=monkeypatch, token="")
    assert "Traceback" not in result.text, result.text
    return result


def _status(state: Path, monkeypatch: pytest.MonkeyPatch, *extra: str) -> dict[str, object]:
    result = _closeout(state, monkeypatch, *extra, "status", "--json")
    return json.loads(result.out)


def test_the_headless_demo_keeps_its_tenant_until_fresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    fresh_status = _status(state, monkeypatch, "--users", "30")
    assert fresh_status["1"]["done"] == 0, fresh_status["1"]  # type: ignore[index]
    # Reading commands keep nothing: no tenant was saved by status.
    assert not (state / "demo" / "sandbox.state").exists()

    ran = _closeout(state, monkeypatch, "--users", "30", "run", "--headless", "--yes", "--no-wait")
    assert ran.code == WAITING, ran.text
    kept = state / "demo" / "sandbox.state"
    saved = kept.read_bytes()
    assert (state / "demo" / "tenants").is_dir()  # its journal, beside it
    assert not (state / "tenants").exists()  # where a real run looks: untouched

    # The next launch, without --users: the kept tenant, its users deleted as run left it.
    after = _status(state, monkeypatch)
    step1 = after["1"]  # type: ignore[index]
    assert step1["status"] == "done" and step1["done"] == 29, step1  # type: ignore[index]
    said = _closeout(state, monkeypatch, "status")
    assert "The demo tenant as you left it (30 users" in said.err, said.err
    assert kept.read_bytes() == saved  # status reads it and saves nothing

    # --fresh: a new tenant, and no journal of the old one.
    anew = _status(state, monkeypatch, "--fresh", "--users", "30")
    assert anew["1"] == fresh_status["1"]  # type: ignore[index]
    assert not kept.exists()
    assert not (state / "demo" / "tenants").exists()


def test_users_asking_for_another_tenant_than_the_kept_one_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = tmp_path / "state"
    ran = _closeout(state, monkeypatch, "--users", "30", "run", "--headless", "--yes", "--no-wait")
    assert ran.code == WAITING, ran.text
    kept = (state / "demo" / "sandbox.state").read_bytes()
    for argv in (("--users", "40", "status"), ("--users", "40")):  # headless, and the TUI
        refused = _closeout(state, monkeypatch, *argv)
        assert refused.code == USAGE, refused.text
        assert "The kept demo tenant has 30 users" in refused.err, refused.err
        assert "--fresh" in refused.err
    assert (state / "demo" / "sandbox.state").read_bytes() == kept


@pytest.mark.parametrize("command", [("status",), ()], ids=["status", "tui"])
def test_a_state_file_closeout_cannot_read_is_refused_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    demo = tmp_path / "state" / "demo"
    demo.mkdir(parents=True, mode=0o700)
    (demo / "sandbox.state").write_bytes(b'{"format": "closeout-demo-sandbox", "version": 0}\n')
    refused = _closeout(tmp_path / "state", monkeypatch, *command)
    assert refused.code == USAGE, refused.text
    assert "another version of closeout" in refused.err, refused.err
    assert "closeout --demo --fresh" in refused.err


def test_fresh_goes_with_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = run_cli(
        ["--fresh", "--state-dir", str(tmp_path), "status"], monkeypatch=monkeypatch, token="x"
    )
    assert refused.code == USAGE
    assert "--fresh starts the demo tenant again: it goes with --demo." in refused.err


def test_a_real_run_never_uses_the_demos_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_sandbox: Callable[..., Sandbox]
) -> None:
    state = tmp_path / "state"
    ran = _closeout(state, monkeypatch, "--users", "30", "run", "--headless", "--yes", "--no-wait")
    assert ran.code == WAITING, ran.text
    demo = state / "demo"
    kept = (demo / "sandbox.state").read_bytes()
    # A tenant that is not the demo's, with the demo's folder given as its state dir.
    sb = make_sandbox(users=20, seed=3)
    refused = run_cli(
        ["status", *target_args(sb, demo)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert refused.code == USAGE, refused.text
    assert "is the demo's folder; a real tenant's journal never goes there" in refused.err
    assert not (demo / "tenants" / sb.tenant_id).exists()
    assert (demo / "sandbox.state").read_bytes() == kept
    # Given the state dir above it, as always, it works (its tenants/ folder, not demo/).
    fine = run_cli(
        ["status", *target_args(sb, state)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert fine.code != USAGE, fine.text
