"""The data trial: a close-out of a tenant whose names attack the admin's terminal, and every
surface searched for raw control characters."""

from __future__ import annotations

import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest  # MonkeyPatch: run_cli sets the token variable through it

from services.evidence.layout import PACK_FILES
from services.journal.writer import Journal
from services.sandbox import Sandbox
from services.textsafe import UNSAFE
from tests.support.cli_harness import LineTap, PortalHuman, full_run_args, run_cli, target_args

from .checks import before, end_state_problems, lost_records, said_last, written_twice
from .model import HOSTILE_USERS, Trial, trial_sandbox

# -- hostile data -----------------------------------------------------------------------------


def _raw_controls(text: str, line_ends: str = "\n") -> int:
    return sum(1 for c in UNSAFE.findall(text) if c not in line_ends)


def _decoded_controls(text: str) -> int:
    """Control characters in the values a JSON text decodes to (``\\u001b`` is ESC again
    in whatever prints the value)."""
    found = 0
    stack: list[Any] = [json.loads(text)]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            found += len(UNSAFE.findall(v))
        elif isinstance(v, dict):
            stack += [*v.keys(), *v.values()]
        elif isinstance(v, list):
            stack += v
    return found


def hostile_surfaces(
    sb: Sandbox, state: Path, run_text: str, texts: dict[str, str]
) -> dict[str, int]:
    """Raw control characters per surface after a close-out of a hostile tenant (want 0 each):
    ``plan`` and ``status`` as text and JSON (while the tenant still stood: see
    :func:`hostile_trial`), the run's own output, its log file, journal and evidence pack
    files, and spreadsheet formulas left live in the pack's CSV cells. ``texts`` gets each
    surface's text, to check that the names are there, visibly."""
    found: dict[str, int] = {"run output (text)": _raw_controls(run_text)}
    texts["run output (text)"] = run_text
    log = state / "logs" / "closeout.log"
    found["closeout.log"] = _raw_controls(log.read_text(encoding="utf-8"))
    journal = Journal(sb.tenant_id, root=state).path.read_text(encoding="utf-8")
    texts["journal.jsonl"] = journal
    found["journal.jsonl"] = _raw_controls(journal) + sum(
        _decoded_controls(line) for line in journal.splitlines() if line.strip()
    )
    packs = sorted((Journal(sb.tenant_id, root=state).directory / "evidence").iterdir())
    for name in PACK_FILES:
        text = (packs[-1] / name).read_text(encoding="utf-8-sig")
        texts[f"evidence {name}"] = text
        n = _raw_controls(text, "\r\n")
        if name.endswith(".json"):
            n += _decoded_controls(text)
        found[f"evidence {name}"] = n
    with (packs[-1] / "outcomes.csv").open(newline="", encoding="utf-8-sig") as fh:
        found["evidence outcomes.csv: live formulas"] = sum(
            1
            for row in csv.DictReader(fh)
            for cell in row.values()
            if cell.lstrip(" ").startswith(("=", "+", "-", "@"))
        )
    return found


_NAMES_SHOWN_ON = (
    "plan",
    "plan --json",
    "status",
    "status --json",
    "run output (text)",
    "run output (JSON lines)",
    "journal.jsonl",
    "evidence outcomes.csv",
    "evidence outcomes.json",
    "evidence inventory-before.json",
    "evidence summary.md",
)


def hostile_trial(seed: int, users: int = HOSTILE_USERS) -> Trial:
    """A whole close-out, as text, of a tenant whose names attack the admin's terminal (the
    sandbox's ``--hostile-names``), then every surface checked for raw control characters."""
    trial = Trial("data", "hostile-names", seed)
    started = time.monotonic()
    sb = trial_sandbox(seed, users, hostile_names=True, synced_fraction=0.0)
    try:
        with tempfile.TemporaryDirectory(prefix="closeout-reliability-") as tmp:
            state = Path(tmp) / "state"
            was = before(sb)
            found: dict[str, int] = {}
            texts: dict[str, str] = {}
            with pytest.MonkeyPatch.context() as mp:
                for argv in (["plan"], ["plan", "--json"], ["status"], ["status", "--json"]):
                    r = run_cli(
                        [*argv, *target_args(sb, state)], monkeypatch=mp, token=sb.issue_token()
                    )
                    n = _raw_controls(r.out + r.err)
                    texts[" ".join(argv)] = r.out
                    found[" ".join(argv)] = n + (
                        _decoded_controls(r.out) if "--json" in argv else 0
                    )
                # As text, as far as the API goes (steps 1 and 4, the handoff naming the
                # subscriptions); then the whole close-out as JSON lines, whose handoffs the
                # PortalHuman reads to play the admin's part.
                text_run = run_cli(
                    [
                        "run",
                        "--headless",
                        "--yes",
                        "--no-wait",
                        "--disable-ca-mfa",
                        *target_args(sb, state),
                    ],
                    monkeypatch=mp,
                    token=sb.issue_token(),
                )
                if text_run.code != 3:
                    trial.problems.append(f"text run exit {text_run.code}")
                tap = LineTap()
                with PortalHuman(sb, tap) as human:
                    result = run_cli(
                        full_run_args(sb, state), monkeypatch=mp, token=sb.issue_token(), tap=tap
                    )
                texts["run output (JSON lines)"] = result.out
                found["run output (JSON lines)"] = sum(
                    _raw_controls(line) + _decoded_controls(line)
                    for line in result.out.splitlines()
                    if line.strip()
                )
            trial.output = result.out + result.err
            if result.code != 0:
                trial.problems.append(f"exit {result.code}: {said_last(tap)}")
            trial.problems += [f"portal: {e}" for e in human.errors]
            trial.problems += end_state_problems(sb, was)
            found.update(hostile_surfaces(sb, state, text_run.out + text_run.err, texts))
            dirty = {k: v for k, v in found.items() if v}
            trial.problems += [f"{k}: {v} raw control characters" for k, v in dirty.items()]
            # Inert is not enough: the names must be there, their escapes visible ("\x1b[2J").
            hidden = [k for k in _NAMES_SHOWN_ON if "\\x1b" not in texts.get(k, "")]
            trial.problems += [f"{k}: no hostile name shown" for k in hidden]
            trial.exact = not trial.problems
            trial.duplicates = sum(written_twice(sb).values())
            trial.lost = len(lost_records(sb, state))
            trial.detail = (
                f"{len(found)} surfaces, {sum(found.values())} raw control characters, names "
                f"shown visibly on {len(_NAMES_SHOWN_ON) - len(hidden)}/{len(_NAMES_SHOWN_ON)}"
            )
    finally:
        sb.stop()
    trial.seconds = time.monotonic() - started
    return trial
