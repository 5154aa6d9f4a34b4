"""Words an admin reads: numbers agree with their nouns (gettext plurals, English and Swedish),
a check written as a sentence is not followed by ".:", the headless run asks for
``--confirm-domain`` and never to type anything, and a Swedish yes is ``j``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.i18n import affirmative, set_language
from services.models import StepId, StepState, StepStatus, SubscriptionRow
from services.steps import directory, dirsync, users
from services.steps.subscriptions import assess_cancel, assess_delete
from tests.support.cli_harness import FAST, connected_session, run_cli, target_args

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BARE = {
    "seed": 21,
    "admin_count": 0,
    "synced_fraction": 0,
    "guest_fraction": 0,
    "subscriptions": "none",
    "manual_blockers": False,
    "time_scale": FAST,
}
"""A tenant of users alone: no other admin, nothing synced, no guest, no subscription."""


def _sub(n: int, status: str) -> SubscriptionRow:
    return SubscriptionRow(
        id=f"sub-{n}",
        sku_part_number="SPE_E3",
        status=status,
        is_trial=False,
        total_licenses=5,
        next_lifecycle=NOW + timedelta(days=30),
        partner_tenant_id=None,
    )


def test_one_subscription_is_one_subscription() -> None:
    one = assess_delete([_sub(1, "Suspended")], "https://admin", NOW).summary
    two = assess_delete([_sub(1, "Suspended"), _sub(2, "LockedOut")], "https://admin", NOW).summary
    assert one == "1 disabled subscription to delete in the admin center."
    assert two == "2 disabled subscriptions to delete in the admin center."
    assert assess_cancel([_sub(1, "Enabled")], "x").summary.startswith("1 active subscription ")


def test_swedish_plurals_follow_the_number() -> None:
    set_language("sv")
    one = assess_delete([_sub(1, "Suspended")], "https://admin", NOW).summary
    two = assess_delete([_sub(1, "Suspended"), _sub(2, "LockedOut")], "https://admin", NOW).summary
    assert one == "1 inaktiverad prenumeration att ta bort i administrationscentret."
    assert two == "2 inaktiverade prenumerationer att ta bort i administrationscentret."


SYNC_LINES = [
    lambda n: users.turning_off_summary(n, sent=True),
    lambda n: users.turning_off_summary(n, sent=False),
    lambda n: dirsync.back_on_text(dirsync.TurnOff(NOW, confirmed=True), n),
    lambda n: dirsync.back_on_text(dirsync.TurnOff(NOW, confirmed=False), n),
]
"""Step 1's words for users still synchronized: while sync turns off (closeout's PATCH or
someone else's), and once it is on again after the window (the PATCH answered or not)."""


@pytest.mark.parametrize("line", SYNC_LINES)
def test_one_synchronized_user_is_one_user(line) -> None:
    assert "1 user is still synchronized" in line(1)
    assert "users are" not in line(1)
    assert "2 users are still synchronized" in line(2)


@pytest.mark.parametrize("line", SYNC_LINES)
def test_one_synchronized_user_in_swedish(line) -> None:
    set_language("sv")
    assert re.search(r"\b1 användare (synkroniseras|fortfarande)", line(1)), line(1)
    assert "still synchronized" not in line(1)


def test_step_5_waits_for_one_step_in_the_singular(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(users=8, seed=5, synced_fraction=0, time_scale=FAST)
    with connected_session(sb, tmp_path) as session:
        engine = session.engine
        engine.refresh()
        engine.make_plan()
        done = {s: StepState(s, StepStatus.DONE) for s in StepId}
        earlier = {**done, StepId.DELETE_SUBSCRIPTIONS: StepState(StepId.DELETE_SUBSCRIPTIONS)}
        st = directory.assess(engine.context(), engine.inventory, set(), earlier)
        assert st.summary == "Waits for step 3."
        earlier[StepId.CANCEL_SUBSCRIPTIONS] = StepState(StepId.CANCEL_SUBSCRIPTIONS)
        st = directory.assess(engine.context(), engine.inventory, set(), earlier)
        assert st.summary == "Waits for steps 2, 3."
        # The manual checks are sentences; their blocker lines do not read "paid.: …".
        assert any(b.startswith("All outstanding invoices are paid: ") for b in st.blockers)
        assert not [b for b in st.blockers if ".:" in b]


@pytest.mark.parametrize(
    ("lang", "typing", "one_user"),
    [("en", r"\btype\b", "1 user,"), ("sv", r"\bskriv", "1 användare,")],
)
def test_the_headless_run_never_asks_to_type_the_domain(
    make_sandbox, tmp_path, monkeypatch, lang: str, typing: str, one_user: str
):
    # One user and nothing else: step 0 counts "1 user", and after step 1 the run reaches
    # step 5's cleanup, which a headless run confirms with --confirm-domain.
    sb = make_sandbox(users=3, **BARE)
    argv = ["run", "--headless", "--lang", lang, "--yes", "--no-wait", "--confirm-manual", "all"]
    r = run_cli(
        [*argv, *target_args(sb, tmp_path)], monkeypatch=monkeypatch, token=sb.issue_token()
    )
    assert r.code == 3, r.text
    assert "--confirm-domain" in r.out
    assert not re.search(typing, r.text, re.IGNORECASE), r.text
    assert not re.search(r"\b1 (users|subscriptions|applications|actions)\b", r.text), r.text
    assert ".:" not in r.text

    status = run_cli(
        ["status", "--lang", lang, *target_args(sb, tmp_path)],
        monkeypatch=monkeypatch,
        token=sb.issue_token(),
    )
    assert one_user in status.out, status.text
    assert not re.search(typing, status.text, re.IGNORECASE), status.text


def test_the_tuis_connect_line_says_1_user_not_1_users(make_sandbox, tmp_path: Path) -> None:
    from app.texts import connect_summary

    # The admin alone, no subscription.
    sb = make_sandbox(users=1, **BARE)
    with connected_session(sb, tmp_path) as session:
        engine = session.engine
        engine.refresh()
        engine.make_plan()
        line = connect_summary(engine.plan, engine.inventory)
    counted = re.findall(r"\b(\d[\d,]*) (user|subscription|application|action)(s?)\b", line)
    assert {noun for _n, noun, _s in counted} == {"user", "subscription", "application", "action"}
    assert all((n == "1") == (not s) for n, _noun, s in counted), line
    assert "1 user," in line, line


@pytest.mark.parametrize(
    ("lang", "yes", "no"),
    [
        ("en", ["y", "Y", "yes", " Yes "], ["j", "ja", "n", "", "no"]),
        ("sv", ["j", "Ja", "y", "yes"], ["n", "nej", ""]),
    ],
)
def test_yes_in_each_language(lang: str, yes: list[str], no: list[str]) -> None:
    set_language(lang)
    assert all(affirmative(a) for a in yes)
    assert not any(affirmative(a) for a in no)


# Swedish an admin would write: one word for an application (the Entra admin center's
# "program"; "appregistrering" stays, it is the portal's own name), "din del" for a handoff
# (what closeout hands to you), and no calques.
SWEDISH_NOT_SAID = {
    r"\bapp(ar|en|ens|arna|s)?\b": "one word for applications: program",
    r"(?i)överlämning": "a handoff is 'din del'",
    r"(?i)kommer att göra": "'Will do' is 'Att göra'",
    r"(?i)\bhar gjort\b": "'Did' is 'Gjort'",
    r"(?i)väntar på tid\b": "'waiting on time' is 'väntar ut tiden'",
    r"(?i)\butom du\b": "'utom dig'",
}


def test_swedish_says_what_a_swedish_admin_says() -> None:
    from scripts.i18n.layout import ROOT, po_path
    from scripts.i18n.po import read_po

    _header, _comments, entries = read_po(po_path(ROOT, "sv"))
    said = [(e.msgid, s) for e in entries if not e.obsolete for s in e.msgstr]
    wrong = [
        (why, msgid)
        for pattern, why in SWEDISH_NOT_SAID.items()
        for msgid, text in said
        if re.search(pattern, re.sub(r"\{[^{}]*\}|--[\w-]+|Power Apps", "", text))
    ]
    assert wrong == []

    from services.i18n import _
    from services.names import status_word

    set_language("sv")
    assert [_("Will do"), _("Did"), _("Handoff"), _("Apps")] == [
        "Att göra",
        "Gjort",
        "Din del",
        "Program",
    ]
    assert status_word(StepStatus.WAITING_TIME) == "väntar ut tiden"
