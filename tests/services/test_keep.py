"""The keep-list: ``--keep-file`` (one UPN or object id per line), why each account is kept in
the plan, the services call the TUI marks rows with, and the last line of defence that refuses
to delete any of them whatever a plan says."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from services.errors import CloseoutError
from services.keep import KEEP_FILE, MARKED, KeepEntry, KeepError, read_keep_file, set_kept
from services.models import StepId
from services.plan.model import PlannedAction
from services.sandbox import Sandbox
from tests.support.cli_harness import FAST, connected_session, graph_writes, run_cli, target_args


def _members(sb: Sandbox, n: int) -> list:
    users = sorted(
        (
            u
            for u in sb.tenant.users.values()
            if u.id != sb.admin_id and u.user_type == "Member" and not u.synced
        ),
        key=lambda u: u.user_principal_name,
    )
    return users[:n]


@pytest.fixture
def small(make_sandbox) -> Sandbox:
    return make_sandbox(users=30, seed=41, synced_fraction=0, time_scale=FAST)


# -- the file --------------------------------------------------------------------------------


def test_a_keep_file_holds_accounts_comments_and_guests(tmp_path: Path) -> None:
    path = tmp_path / "keep.txt"
    path.write_text(
        "\ufeff# break-glass and service accounts\n"
        "\n"
        "  bg@contoso.com   # the break-glass account\n"
        "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com\n"
        "0c9d7d8e-1111-4222-8333-944455556666\n",
        encoding="utf-8",
    )
    entries = read_keep_file(path)
    assert [(e.value, e.line) for e in entries] == [
        ("bg@contoso.com", 3),
        ("ann_fabrikam.com#EXT#@contoso.onmicrosoft.com", 4),
        ("0c9d7d8e-1111-4222-8333-944455556666", 5),
    ]
    assert all(e.source == str(path) for e in entries)
    assert [e.is_id for e in entries] == [False, False, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a@x.com\nnot an account\n", "line 2: 'not an account' is neither"),
        ("a@x.com\nb@x.com a@x.com\n", "line 2"),
        ("a@x.com\n\nA@X.com\n", "lines 1 and 3 both name A@X.com"),
    ],
)
def test_a_bad_keep_file_is_refused_with_its_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keep.txt"
    path.write_text(text)
    with pytest.raises(KeepError, match=message):
        read_keep_file(path)


def test_an_unreadable_keep_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(KeepError, match="cannot read it"):
        read_keep_file(tmp_path / "missing.txt")
    binary = tmp_path / "keep.bin"
    binary.write_bytes(b"a@x.com\n\xff\xfe\n")
    with pytest.raises(KeepError, match="not UTF-8"):
        read_keep_file(binary)


# -- the command line ------------------------------------------------------------------------


def test_plan_shows_and_saves_why_each_account_is_kept(small, tmp_path, monkeypatch) -> None:
    sb = small
    a, b, c = _members(sb, 3)
    keep = tmp_path / "keep.txt"
    keep.write_text(f"# service accounts\n{b.user_principal_name}\n{c.id}  # by id\n")
    args = ["--keep", a.user_principal_name, "--keep-file", str(keep), *target_args(sb, tmp_path)]
    r = run_cli(["plan", "--json", *args], monkeypatch=monkeypatch, token=sb.issue_token())
    assert r.code == 0, r.text
    kept = {k["id"]: k for k in json.loads(r.out)["keep"]}
    assert set(kept) == {sb.admin_id, a.id, b.id, c.id}
    assert kept[a.id]["reason"] == "--keep"
    assert (kept[b.id]["reason"], kept[b.id]["source"]) == (KEEP_FILE, f"{keep}:2")
    assert (kept[c.id]["reason"], kept[c.id]["upn"]) == (KEEP_FILE, c.user_principal_name)
    deleted = {x["object_id"] for x in json.loads(r.out)["steps"]["1"]}
    assert not deleted & set(kept)

    saved = json.loads((tmp_path / "tenants" / sb.tenant_id / "plan.json").read_text())
    assert {k["id"]: k["source"] for k in saved["keep"]}[b.id] == f"{keep}:2"

    text = run_cli(["plan", *args], monkeypatch=monkeypatch, token=sb.issue_token())
    assert text.code == 0, text.text
    assert f"{sb.admin_upn} — signed-in admin" in text.out
    assert f"{a.user_principal_name} — named on the command line (--keep)" in text.out
    assert f"{b.user_principal_name} — from {keep}, line 2" in text.out
    assert f"{c.user_principal_name} — from {keep}, line 3" in text.out


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["nobody@nowhere.example"], "keep.txt, line 1: no user nobody@nowhere.example"),
        (["{upn}", "{id}"], "lines 1 and 2 both name {upn}"),
    ],
)
def test_plan_refuses_a_keep_file_naming_no_one_or_someone_twice(
    small, tmp_path, monkeypatch, lines, message
) -> None:
    sb = small
    (user,) = _members(sb, 1)
    fill = {"upn": user.user_principal_name, "id": user.id}
    keep = tmp_path / "keep.txt"
    keep.write_text("\n".join(line.format(**fill) for line in lines) + "\n")
    r = run_cli(
        ["plan", "--keep-file", str(keep), *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    assert message.format(**fill) in r.err
    assert "Traceback" not in r.text
    assert not (tmp_path / "tenants" / sb.tenant_id / "plan.json").exists()


def test_run_refuses_an_unreadable_keep_file_before_signing_in(small, tmp_path, monkeypatch):
    sb = small
    r = run_cli(
        [
            "run",
            "--headless",
            "--yes",
            "--keep-file",
            str(tmp_path / "nope.txt"),
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    assert "--keep-file" in r.err and "cannot read it" in r.err
    assert "Traceback" not in r.text
    assert graph_writes(sb) == []
    assert sb.recorder.records() == []  # refused before anything reached the tenant


def test_a_headless_run_keeps_every_account_the_keep_file_names(small, tmp_path, monkeypatch):
    sb = small
    kept = _members(sb, 2)
    keep = tmp_path / "keep.txt"
    keep.write_text("".join(f"{u.user_principal_name}\n" for u in kept))
    r = run_cli(
        [
            "run",
            "--headless",
            "--yes",
            "--no-wait",
            "--keep-file",
            str(keep),
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 3, r.text
    assert {u.id for u in sb.tenant.users.values()} == {sb.admin_id} | {u.id for u in kept}


# -- the last line of defence ----------------------------------------------------------------


def test_keep_file_accounts_are_refused_at_the_wire_whatever_the_plan_says(small, tmp_path):
    sb = small
    (user,) = _members(sb, 1)
    entry = KeepEntry(user.user_principal_name.upper(), str(tmp_path / "keep.txt"), 1)
    with connected_session(sb, tmp_path, keep_entries=(entry,)) as session:
        engine = session.engine
        engine.refresh()
        plan = engine.ensure_plan()
        assert user.id in plan.kept_ids
        engine.begin("test", {})
        # A plan that forgets the keep file and deletes the account: only the guard stands
        # between it and Graph, and it knows the keep file's entries itself.
        engine.plan = dataclasses.replace(
            plan,
            keep=tuple(k for k in plan.keep if k.id != user.id),
            actions=(
                PlannedAction(
                    StepId.DELETE_USERS, "delete-user", user.id, user.user_principal_name
                ),
                *plan.actions,
            ),
        )
        with pytest.raises(CloseoutError, match="keeps"):
            engine.run_step(StepId.DELETE_USERS)
    assert graph_writes(sb) == []
    assert sb.tenant.users.get(user.id) is not None


# -- marking rows to keep (the TUI's services call) -----------------------------------------


def test_marks_are_planned_saved_kept_across_plans_and_only_marks_come_off(small, tmp_path):
    sb = small
    a, b = _members(sb, 2)
    with connected_session(sb, tmp_path, keep=(b.user_principal_name,)) as session:
        engine = session.engine
        engine.refresh()
        engine.make_plan()
        plan = set_kept(engine, a.user_principal_name)
        marked = {k.id: k for k in plan.keep}[a.id]
        assert (marked.reason, marked.keep_mfa) == (MARKED, False)
        assert a.id not in plan.user_delete_ids()
        # Step 4 still turns its per-user MFA off: it is kept, not exempt.
        assert a.id in plan.ids("disable-mfa")
        with pytest.raises(KeepError, match="signed-in admin"):
            set_kept(engine, sb.admin_id, keep=False)
        with pytest.raises(KeepError, match="command line"):
            set_kept(engine, b.id, keep=False)
        with pytest.raises(KeepError, match="No user"):
            set_kept(engine, "nobody@nowhere.example")
    saved = json.loads((tmp_path / "tenants" / sb.tenant_id / "plan.json").read_text())
    assert {k["id"]: k["reason"] for k in saved["keep"]}[a.id] == MARKED

    # A later process makes a new plan (other options): the mark is still there, and can be
    # taken off there.
    with connected_session(sb, tmp_path, disable_ca_mfa=True) as session:
        engine = session.engine
        engine.refresh()
        again = engine.ensure_plan()
        assert any(x.action == "disable-ca-policy" for x in again.actions)  # a new plan
        assert a.id in again.kept_ids and b.id not in again.kept_ids
        off = set_kept(engine, a.id, keep=False)
        assert a.id not in off.kept_ids and a.id in off.user_delete_ids()


def test_a_mark_that_keeps_mfa_leaves_it_on_in_step_4(make_sandbox, tmp_path) -> None:
    sb = make_sandbox(users=20, seed=43, synced_fraction=0, time_scale=FAST)
    a, b = _mfa_users(sb)
    with connected_session(sb, tmp_path) as session:
        engine = session.engine
        engine.refresh()
        engine.make_plan()
        set_kept(engine, a.id, keep_mfa=True)
        plan = set_kept(engine, b.id)
        assert a.id not in plan.ids("disable-mfa") and b.id in plan.ids("disable-mfa")
        engine.begin("test", {})
        engine.run_step(StepId.DELETE_USERS)
        engine.run_step(StepId.DISABLE_MFA)
    assert sb.tenant.users.get(a.id).mfa_state != "disabled"
    assert sb.tenant.users.get(b.id).mfa_state == "disabled"


def _mfa_users(sb: Sandbox) -> tuple:
    users = [
        u
        for u in sorted(sb.tenant.users.values(), key=lambda u: u.user_principal_name)
        if u.id != sb.admin_id and u.user_type == "Member" and u.mfa_state != "disabled"
    ]
    assert len(users) >= 2
    return users[0], users[1]


def test_a_file_given_to_keep_is_refused_with_the_option_that_reads_it(
    small, tmp_path, monkeypatch
):
    sb = small
    (keep := tmp_path / "keep.txt").write_text(f"{_members(sb, 1)[0].user_principal_name}\n")
    r = run_cli(
        ["plan", "--keep", str(keep), *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 2, r.text
    assert f"use --keep-file {keep}" in r.err
    assert "Traceback" not in r.text
    assert sb.recorder.records() == []


def test_several_keep_files_add_up(small, tmp_path, monkeypatch) -> None:
    sb = small
    a, b = _members(sb, 2)
    (one := tmp_path / "one.txt").write_text(f"{a.user_principal_name}\n")
    (two := tmp_path / "two.txt").write_text(f"# service\n{b.id}\n{a.id}\n")
    r = run_cli(
        [
            "plan",
            "--json",
            "--keep-file",
            str(one),
            "--keep-file",
            str(two),
            *target_args(sb, tmp_path),
        ],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert r.code == 0, r.text
    kept = {k["id"]: k["source"] for k in json.loads(r.out)["keep"]}
    assert kept == {sb.admin_id: "", a.id: f"{one}:1", b.id: f"{two}:2"}
