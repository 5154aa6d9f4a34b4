"""``closeout rehearse``: the close-out on a snapshot's replica, and its report.

The proof that a rehearsal means something: a snapshot of a seeded sandbox tenant, rehearsed,
ends where a real close-out of that tenant ends. And the predicted durations follow from the
quota the replica enforces: checked against the sandbox at time scale 1.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.cli import main
from services.exit_codes import ExitCode
from services.graph_limits import WRITE_QUOTA
from services.journal.writer import Journal
from services.locks import TenantLocked
from services.rehearsal.forecast import Pace, write_floor, write_seconds
from services.rehearsal.run import RehearsalOptions, end_state, rehearse
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.faults import FaultRule
from tests.support.cli_harness import FAST, LineTap, close_with_portal, full_run_args, run_cli
from tests.support.commands import READ_SCOPES, snapshot_of

pytestmark = pytest.mark.slow


def rehearsal_of(path: Path, tmp_path: Path, **kw: Any) -> Any:
    options = RehearsalOptions(
        snapshot=path, state_root=tmp_path / "rehearsals", poll_interval=0.05, **kw
    )
    return rehearse(options, progress=LineTap())


def test_a_rehearsal_ends_where_a_close_out_of_the_original_ends(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=80, seed=13, time_scale=FAST)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch, "--mfa")

    # The rehearsal first: the original is untouched by it.
    before = len(sb.recorder.records())
    result = rehearsal_of(path, tmp_path, disable_ca_mfa=True, time_scale=FAST)
    assert len(sb.recorder.records()) == before
    report = result.report
    assert result.code == 0 and report.tenant_deleted, report.to_text()

    # Then the real close-out of the original, as test_cli_full_closeout runs it.
    run, human = close_with_portal(
        sb, full_run_args(sb, tmp_path / "state"), monkeypatch=monkeypatch
    )
    assert run.code == 0, run.text[-3000:]
    assert not human.errors, human.errors

    original = end_state(sb)
    assert original["tenantDeleted"] and original["users"] == [sb.admin_id]
    assert report.end_state == original
    # The same work was done, object for object.
    done = {
        (int(step["step"]), o["what"], o["count"])
        for step in report.to_json()["steps"]
        for o in step["outcomes"]
        if o["outcome"] == "done"
    }
    deleted = sum(
        1 for obj in run.json_lines() if obj["event"] == "item" and obj["action"] == "delete-user"
    )
    assert (1, "Delete users", deleted) in done


def test_the_report_and_where_it_is_written(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=60, seed=21, behaviours="viral-enabled")
    # What a person meets: an app registration with closeout's own client id, a subscription
    # of more than 25 licences (reduced before it can be cancelled), a user's free Power BI
    # sign-up (only the Entra admin center deletes it).
    own = next(iter(sb.tenant.applications.values()))
    big = next(
        s
        for s in sb.tenant.subscriptions.values()
        if s.status == "Enabled" and not s.owner_tenant_id
    )
    big.total_licenses = 300
    path, _ = snapshot_of(sb, tmp_path, monkeypatch, "--client-id", own.app_id)

    result = run_cli(
        ["rehearse", str(path), "--json", "--state-dir", str(tmp_path / "r")],
        monkeypatch=monkeypatch,
        token="",
    )
    assert result.code == 0, result.text[-3000:]
    report = json.loads(result.out)
    assert report["rehearsal"] is True and report["tenantDeleted"] is True
    steps = {s["step"]: s for s in report["steps"]}
    assert steps[1]["writes"] >= 59 and steps[5]["writes"] > steps[1]["writes"]
    assert all(s["requests"] >= 0 for s in steps.values())
    blockers = " ".join(b["text"] for b in report["blockers"])
    warnings = " ".join(w["text"] for w in report["warnings"])
    assert "bought through a partner" in blockers
    assert "300 licences" in blockers
    assert "synchronized from on-premises" in warnings
    assert "other Global Administrator" in warnings
    assert "Conditional Access policy" in warnings
    assert own.display_name in warnings and "closeout signed in with" in warnings
    assert "per-user MFA states" in warnings  # not read: --mfa was not given
    assert "self-service sign-up product" in warnings and "POWER_BI_STANDARD" in warnings
    # ... which is step 5's (Entra deletes it), never one the admin cancels in step 2.
    assert not [w for w in steps[2]["waits"] if "POWER_BI_STANDARD" in w], steps[2]["waits"]
    links = {h["step"]: h["link"] for h in report["handoffs"]}
    # Signed in as the snapshot was (its client id): the app is closeout's own, left for the
    # admin, who deletes it from step 5's handoff before the tenant.
    (delete_tenant,) = [h for h in report["handoffs"] if h["step"] == 5]
    assert any(own.display_name in item for item in delete_tenant["items"])
    assert any("deleted the app" in line for line in delete_tenant["played"])
    assert set(links) == {2, 3, 5} and links[5].startswith("https://entra.microsoft.com")
    assert all(h["click_path"] for h in report["handoffs"])
    timeline = report["timeline"]
    # Synced users: up to 72 hours more at most; subscriptions: 72 hours after deletion.
    assert timeline["latestSeconds"] >= timeline["earliestSeconds"] >= 72 * 3600

    # Beside the rehearsal's evidence pack: the same report as Markdown and JSON, 0600.
    pack = Path(report["evidence"])
    assert (pack / "outcomes.csv").exists()
    md = pack / "rehearsal.md"
    assert stat.S_IMODE(md.stat().st_mode) == 0o600
    text = md.read_text()
    title = text.splitlines()[0]
    assert title.startswith("# Rehearsal of the close-out of") and sb.initial_domain in title
    assert "## Blockers" in text and links[5] in text
    assert json.loads((pack / "rehearsal.json").read_text())["steps"] == report["steps"]
    # In its own folder, never the real tenant's.
    assert pack.is_relative_to(tmp_path / "r" / "rehearsals")
    assert not (tmp_path / "r" / "tenants").exists()

    text_run = run_cli(
        ["rehearse", str(path), "--state-dir", str(tmp_path / "r2")],
        monkeypatch=monkeypatch,
        token="",
    )
    assert text_run.code == 0
    assert "Earliest tenant deletion" in text_run.out and "Blockers:" in text_run.out


def test_a_rehearsal_neither_takes_nor_waits_for_the_real_tenants_lock(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=15, seed=8, synced_fraction=0, subscriptions="none")
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    real = Journal(sb.tenant_id, root=tmp_path / "real").open("run")
    try:
        with pytest.raises(TenantLocked):
            Journal(sb.tenant_id, root=tmp_path / "other").open("run")
        assert rehearsal_of(path, tmp_path).code == 0
    finally:
        real.close()


def test_the_issue_example_at_graphs_quota() -> None:
    # "step 1: 48,212 deletions — at least 40 min at Graph's write quota"
    assert write_floor(48_212, Pace()) == 40 * 60
    assert Pace().write_quota == WRITE_QUOTA[0] and Pace().write_window == WRITE_QUOTA[1]
    # One window's worth goes out at once; the round trips add to the floor, never take away.
    assert write_floor(3000, Pace()) == 0 and 0 < write_seconds(3000, Pace()) < 30
    assert write_seconds(48_212, Pace()) > write_floor(48_212, Pace())


def test_predicted_durations_follow_from_the_quota_at_time_scale_1(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A small tenant whose replica enforces a quota scaled down so that its floor is seconds:
    # 60 deletions at 20 writes per 1.5 s (the first 20 at once, then a window per 20).
    sb = make_sandbox(
        users=61,
        seed=4,
        synced_fraction=0,
        subscriptions="none",
        deleted_users=0,
        applications=0,
        third_party_service_principals=0,
        guest_fraction=0,
    )
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    quota = (20, 1.5)
    latency = 0.02
    config = SandboxConfig(time_scale=1.0, write_quota=quota, latency_ms=latency * 1000)
    result = rehearsal_of(path, tmp_path, time_scale=1.0, latency=latency, replica_config=config)
    assert result.code == 0, result.report.to_text()
    step1 = next(s for s in result.report.steps if s.step == 1)
    assert step1.writes == 60
    pace = result.report.pace
    assert (pace.write_quota, pace.write_window) == quota  # the predictor read the replica's
    assert step1.floor_seconds == math.floor(59 / 20) * 1.5 == 3.0
    predicted = write_seconds(60, pace)

    # What the sandbox measured on its own clock (real time at scale 1): from the first
    # deletion it admitted to the last.
    deletes = [
        r.sim_time
        for r in result.sandbox.recorder.records()
        if r.method == "DELETE" and r.path.startswith("/v1.0/users/") and r.counted_write
    ]
    assert len(deletes) == 60
    measured = max(deletes) - min(deletes)
    assert step1.floor_seconds <= measured + 0.05, (measured, step1.floor_seconds)
    # Only the floor bounds the measured time: above it is the machine's load (a loaded
    # two-core box adds seconds to a 3 s run), which no prediction can know. A prediction
    # that ignored the replica's quota would fall below the floor: the quota is checked above.
    assert step1.floor_seconds <= predicted, (predicted, step1.floor_seconds)
    assert not [r for r in result.sandbox.throttle.refusals() if r.write_quota_exceeded]


def test_behaviour_switches_apply_to_the_replica(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sb = make_sandbox(users=40, seed=5, behaviours="no-owner")
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    # The snapshot shows direct subscriptions without an owner: the replica answers that way,
    # and the rehearsal survives a switch given on top (sync flag lagging).
    result = rehearsal_of(path, tmp_path, behaviours="sync-flag-lags")
    assert result.code == 0, result.report.to_text()
    assert result.sandbox.config.subscription_owner == "none"
    assert result.sandbox.config.sync_flag == "lags"


def test_a_rehearsal_from_the_read_scopes_snapshot_needs_no_token(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real token in the environment is never sent to the replica (nor any cached one).
    sb = make_sandbox(users=20, seed=12, synced_fraction=0)
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    real_token = sb.issue_token(scopes=READ_SCOPES)
    result = run_cli(
        ["rehearse", str(path), "--state-dir", str(tmp_path / "r")],
        monkeypatch=monkeypatch,
        token=real_token,
    )
    assert result.code == 0, result.text[-2000:]
    for file in (tmp_path / "r").rglob("*"):
        if file.is_file():
            assert real_token.rsplit(".", 1)[-1] not in file.read_text(errors="replace")


def test_what_fails_on_the_replica_is_a_blocker_of_the_report(
    make_sandbox: Callable[..., Sandbox], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A user Graph refuses to delete, every time (no permission on that one object): the
    # rehearsal reports the failure with Graph's answer and a name, and exits as a real run.
    import services.sandbox.replica as replica_module

    sb = make_sandbox(users=20, seed=12, synced_fraction=0, subscriptions="none")
    path, _ = snapshot_of(sb, tmp_path, monkeypatch)
    victim = next(
        u
        for u in sb.tenant.users.values()
        if u.id != sb.admin_id and not sb.tenant.roles_of(u.id) and u.user_type == "Member"
    )
    start = replica_module.start_replica

    def start_refusing(*args: Any, **kw: Any) -> Sandbox:
        replica = start(*args, **kw)
        replica.faults.add(
            FaultRule(
                method="DELETE",
                path=f"/users/{victim.id}$",
                status=403,
                code="Authorization_RequestDenied",
                message="Insufficient privileges to complete the operation.",
                times=-1,
            )
        )
        return replica

    monkeypatch.setattr(replica_module, "start_replica", start_refusing)
    result = rehearsal_of(path, tmp_path, time_scale=FAST)
    assert result.code == ExitCode.FAILED, result.report.to_text()
    report = result.report.to_json()
    assert report["tenantDeleted"] is False
    (failed,) = [b for b in report["blockers"] if "failed for" in b["text"]]
    assert failed["step"] == 1
    assert "Delete users failed for 1 (403 Authorization_RequestDenied" in failed["text"]
    assert victim.user_principal_name in failed["text"] or victim.display_name in failed["text"]
    assert victim.id in result.report.end_state["users"]
    markdown = result.report.to_markdown()
    assert "Delete users failed for 1" in markdown.split("## Blockers", 1)[1]


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--time-scale", "0", "must be from 0.01 to 1,000,000, not 0"),
        ("--time-scale", "inf", "not a finite number"),
        ("--latency-ms", "-1", "must be from 0 to 60,000"),
        ("--latency-ms", "99999", "must be from 0 to 60,000, not 99999"),
    ],
)
def test_rehearse_options_out_of_range_are_refused_before_the_file_is_read(
    option: str, value: str, words: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["rehearse", str(tmp_path / "nowhere.json.gz"), option, value])
    assert exit_.value.code == 2 and words in err.getvalue(), err.getvalue()
    assert "No snapshot file" not in err.getvalue()
