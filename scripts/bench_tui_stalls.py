"""Where the UI thread's pauses go: a sampler for ``bench_tui --stalls``.

A thread of its own looks at the UI (main) thread every few milliseconds while the loop's 20 ms
ticker is late, and keeps what it saw: the UI thread's Python stack, its CPU time, and the
whole process's CPU time. After the run, each gap of the ticker over the threshold is told
with how much of it the UI thread ran (its CPU time over the gap's wall time), how much the
process ran (all threads; near one CPU means the interpreter lock was busy elsewhere, well under
one while the UI thread waited means the machine did not run us), and what the UI thread was
doing, by the code it was in.

The sampler needs the interpreter lock to look, so it sees the UI thread only between the
other threads' switch intervals; samples are what the UI thread was doing or waiting in,
weighted equally.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from types import FrameType

_INTERESTING = ("/app/", "/widgets/", "/services/", "/textual/", "/rich/")


def process_cpu() -> float:
    """This process's user + system CPU seconds, all threads."""
    times = os.times()
    return times.user + times.system


# What the UI thread was doing, by the innermost of these frames it was in (else "other").
_PHASES = {
    "_flush_bridge": "flush (outcomes, counts, log lines)",
    "_refresh_layout": "layout",
    "_compositor_refresh": "paint",
    "_on_timer_update": "paint",
    "_update_styles": "styles",
    "update_node_styles": "styles",
    "check_bindings": "keys",
    "_check_bindings": "keys",
    "refresh_bindings": "keys",
    "_on_idle": "idle pass",
}


def _where(frame: FrameType | None, depth: int = 2) -> str:
    """What the UI thread was doing (its phase) and the innermost library frames: the code it
    was in, short enough to count."""
    names: list[str] = []
    phase: str | None = None
    while frame is not None:
        code = frame.f_code
        path = code.co_filename
        if phase is None and code.co_name in _PHASES:
            phase = _PHASES[code.co_name]
        if len(names) < depth and any(part in path for part in _INTERESTING):
            short = path.rsplit("/", 2)
            names.append(f"{short[-2]}/{short[-1]}:{code.co_name}")
        frame = frame.f_back
    return f"{phase or 'other'} | {' < '.join(names) or '(waiting, or in C)'}"


@dataclass
class Sample:
    at: float
    ui_cpu: float
    where: str


class StallSampler(threading.Thread):
    """Samples the UI thread (this module's caller's main thread) every ``interval`` seconds
    while ``last_tick`` (set by the loop's ticker) is older than ``after`` seconds."""

    def __init__(self, interval: float = 0.004, after: float = 0.04) -> None:
        super().__init__(name="bench-stalls", daemon=True)
        self.interval = interval
        self.after = after
        self.last_tick = time.perf_counter()
        self.samples: list[Sample] = []
        self._ui = threading.main_thread().ident or 0
        self._clock = time.pthread_getcpuclockid(self._ui)
        self._done = threading.Event()

    def ui_cpu(self) -> float:
        return time.clock_gettime(self._clock)

    def run(self) -> None:
        while not self._done.wait(self.interval):
            now = time.perf_counter()
            if now - self.last_tick < self.after:
                continue
            frame = sys._current_frames().get(self._ui)
            self.samples.append(Sample(now, self.ui_cpu(), _where(frame)))

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


@dataclass
class Gap:
    """One late tick: from the tick before (``start``) to it (``end``), with CPU times."""

    start: float
    end: float
    ui_cpu: float
    process_cpu: float

    @property
    def ms(self) -> float:
        return (self.end - self.start) * 1000


def report(gaps: list[Gap], samples: list[Sample], threshold_ms: float, top: int = 6) -> str:
    """The gaps over ``threshold_ms``: each one's CPU shares, then what the UI thread was in."""
    long = [gap for gap in gaps if gap.ms > threshold_ms]
    if not long:
        return f"  no UI gap over {threshold_ms:.0f} ms"
    lines = [f"  {len(long)} UI gaps over {threshold_ms:.0f} ms (wall ms, UI CPU, process CPU):"]
    everywhere: Counter[str] = Counter()
    for gap in sorted(long, key=lambda g: -g.ms)[:12]:
        inside = [s for s in samples if gap.start <= s.at <= gap.end]
        seen = Counter(s.where for s in inside)
        everywhere.update(seen)
        phases = Counter(s.where.split(" | ")[0] for s in inside)
        wall = gap.end - gap.start
        lines.append(
            f"    {gap.ms:4.0f} ms: UI {gap.ui_cpu / wall:4.0%}, process {gap.process_cpu / wall:4.0%}"
            f" of a CPU; {len(inside)} samples: "
            + ", ".join(f"{name} {n}" for name, n in phases.most_common(3))
        )
    total = sum(everywhere.values()) or 1
    lines.append(f"  where the UI thread was during the longest gaps ({total} samples):")
    by_phase: Counter[str] = Counter()
    for where, count in everywhere.items():
        by_phase[where.split(" | ")[0]] += count
    lines.append(
        "    " + ", ".join(f"{n / total:.0%} {name}" for name, n in by_phase.most_common())
    )
    for where, count in everywhere.most_common(top):
        lines.append(f"    {count / total:4.0%} {where}")
    return "\n".join(lines)
