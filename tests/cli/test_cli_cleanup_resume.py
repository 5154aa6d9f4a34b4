"""Step 5's cleanup cut short — killed, or stopped by a failure — is finished by the next run of
the same plan: what the first run deleted is purged from the recycle bin, and a service
principal it already turned off is not sent the same PATCH again.

Found by the reliability suite (scripts/reliability): a run SIGKILLed with a service
principal's disabling PATCH in flight left the applications and service principals it had
deleted in the recycle bin; the resumed run never purged them (its plan named them for
deletion, not for purging) and failed, sending the PATCH again on each pass.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tests.support.cli_harness import FAST, close_with_portal, full_run_args


def test_a_cleanup_cut_short_is_finished_by_the_next_run_without_writing_twice(
    make_sandbox, tmp_path: Path, monkeypatch
) -> None:
    sb = make_sandbox(users=30, seed=12, time_scale=FAST, deprovision_hours=160)
    t = sb.tenant
    apps = [a.id for a in t.applications.values()]
    refusing = [
        sp.id
        for sp in t.service_principals.values()
        if sp.delete_behaviour == "refuse" and not sp.is_microsoft
    ]
    assert apps and refusing
    # The first run gets as far as deleting the applications and disabling what refuses
    # deletion; purging the applications from the recycle bin then fails.
    blocked = sb.add_fault(
        method="DELETE", path=rf"/directory/deletedItems/({'|'.join(apps)})$", status=403, times=-1
    )
    state = tmp_path / "state"
    first, _ = close_with_portal(sb, full_run_args(sb, state), monkeypatch=monkeypatch)
    assert first.code != 0, first.text[-2000:]
    assert blocked.hits and len(t.applications) == 0
    assert {a.id for a in t.deleted_applications.values()} == set(apps)
    assert all(not t.service_principals.get(i).account_enabled for i in refusing)

    blocked.times = 0
    again, human = close_with_portal(sb, full_run_args(sb, state), monkeypatch=monkeypatch)
    assert again.code == 0, again.text[-3000:]
    assert not human.errors, human.errors
    assert sb.recorder.events("tenant-deleted")
    assert len(t.deleted_applications) == 0 and len(t.deleted_users) == 0
    disables = Counter(
        w.path.rsplit("/", 1)[-1]
        for w in sb.recorder.writes()
        if w.method == "PATCH" and w.path.startswith("/v1.0/servicePrincipals/")
    )
    assert disables == Counter(dict.fromkeys(refusing, 1))
