"""Progress of the running step: what runs, a bar, counts with ETA, and the write-quota gauge.

Owns the formatting of counts and durations ("1,234 / 4,812 · 12 failed · ETA 3m 10s"), the
write gauge ("writes 2,970/3,000 in window · 19.8/s of 20/s": the window's fill, and the same
as a pace against Graph's documented 20 writes a second) and the thresholds at which the gauge
turns to warning (above 80 %) and error (above 95 %). The gauge also says "near limit" / "at
limit" in words, so it reads without colour. Hidden (class ``-idle``) while no step runs.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar, cast

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from services.durations import format_duration
from services.graph_limits import WRITE_QUOTA
from services.i18n import _

from .steady_text import show_text

W = TypeVar("W", bound=Widget)

WRITE_WINDOW = WRITE_QUOTA[1]
"""Graph's write window in its own seconds: the gauge's count over it is the pace."""

WARN_ABOVE = 0.80
ERROR_ABOVE = 0.95


def _pace(per_second: float) -> str:
    """``20``, ``19.8``, ``0.15``, ``0``: writes per second to the digits that matter."""
    if per_second >= 100:
        return f"{per_second:,.0f}"
    if per_second >= 1:
        return f"{per_second:.1f}".removesuffix(".0")
    return f"{per_second:.2f}" if per_second > 0 else "0"


def throttle_level(writes: int, quota: int) -> str:
    """``ok``, ``warning`` (above 80 % of the quota) or ``error`` (above 95 %)."""
    if quota <= 0:
        return "ok"
    ratio = writes / quota
    if ratio > ERROR_ABOVE:
        return "error"
    if ratio > WARN_ABOVE:
        return "warning"
    return "ok"


class RunProgress(Widget):
    """The running step's progress. Set ``running`` False to hide it."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"run-progress--failed"}

    DEFAULT_CSS = """
    RunProgress {
        height: auto;
        &.-idle { display: none; }
        & > Horizontal { height: 1; }
        & > .run-progress--failed { color: $error; text-style: bold; }
        #run-label { width: 1fr; text-style: bold; }
        #run-paused { display: none; padding: 0 1; color: $warning; text-style: bold reverse; }
        &.-paused #run-paused { display: block; }
        #run-bar { width: 1fr; }
        #run-bar Bar { width: 1fr; min-width: 8; }
        #run-counts { padding-left: 1; }
        #run-throttle-text { padding-right: 1; }
        #run-throttle-bar Bar { width: 12; }
        #run-throttle-note { padding-left: 1; }
        &.-throttle-warning #run-throttle-bar Bar > .bar--bar,
        &.-throttle-warning #run-throttle-bar Bar > .bar--complete { color: $warning; }
        &.-throttle-warning #run-throttle-note { color: $warning; text-style: bold; }
        &.-throttle-error #run-throttle-bar Bar > .bar--bar,
        &.-throttle-error #run-throttle-bar Bar > .bar--complete { color: $error; }
        &.-throttle-error #run-throttle-note { color: $error; text-style: bold; }
    }
    """

    label: reactive[str] = reactive("")
    """What runs, e.g. "Deleting users"."""

    paused: reactive[bool] = reactive(False, toggle_class="-paused")
    """Shows the PAUSED marker."""

    running: reactive[bool] = reactive(False)
    """False hides the whole widget (class ``-idle``)."""

    def __init__(
        self,
        label: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self.set_reactive(RunProgress.label, label)
        self.add_class("-idle")
        self._counts = Text()
        self._throttle = ""
        self._throttle_level = "ok"
        self._progress: tuple[int, int, int, float | None] = (0, 0, 0, None)
        self._quota = (0, 0)
        self._ready = False
        self._found: dict[str, Widget] = {}
        """Set on mount, once the children exist (``is_mounted`` turns True only after
        ``on_mount`` has returned)."""

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Label(self.label, id="run-label", markup=False)
            yield Label(_("PAUSED"), id="run-paused")
        with Horizontal():
            yield ProgressBar(total=1, show_eta=False, id="run-bar")
            yield Label(id="run-counts")
        with Horizontal(id="run-throttle"):
            yield Label(id="run-throttle-text")
            yield ProgressBar(total=1, show_eta=False, show_percentage=False, id="run-throttle-bar")
            yield Label(id="run-throttle-note")

    @property
    def counts_text(self) -> str:
        return self._counts.plain

    @property
    def throttle_text(self) -> str:
        return self._throttle

    @property
    def throttle_level(self) -> str:
        return self._throttle_level

    def update_progress(
        self, done: int, total: int, failed: int, eta_seconds: float | None
    ) -> None:
        self._progress = (done, total, failed, eta_seconds)
        counts = Text(f"{done:,} / {total:,}")
        if failed:
            counts.append(" · ")
            failed_text = _("{count} failed").format(count=f"{failed:,}")
            style = self.get_component_rich_style(
                "run-progress--failed", partial=True, default=Style()
            )
            counts.append(failed_text, style)
        eta = "--" if eta_seconds is None else format_duration(eta_seconds)
        counts.append(" · " + _("ETA {eta}").format(eta=eta))
        self._counts = counts
        if self._ready:
            # A known total keeps the bar determinate: an unknown one would animate at 60 fps.
            bar = self._child("#run-bar", ProgressBar)
            bar.update(total=max(total, 1), progress=min(done, max(total, 1)))
            show_text(self._child("#run-counts", Label), counts)

    def update_throttle(self, writes_in_window: int, quota: int) -> None:
        self._quota = (writes_in_window, quota)
        level = throttle_level(writes_in_window, quota)
        self._throttle_level = level
        self._throttle = _("writes {writes}/{quota} in window").format(
            writes=f"{writes_in_window:,}", quota=f"{quota:,}"
        )
        if quota > 0:
            # The window is Graph's 150 s (simulated ones on a fast sandbox clock, where the
            # window passes in milliseconds): its fill as a pace, against Graph's 20/s.
            self._throttle += " · " + _("{rate}/s of {limit}/s").format(
                rate=_pace(writes_in_window / WRITE_WINDOW), limit=_pace(quota / WRITE_WINDOW)
            )
        self.set_class(level == "warning", "-throttle-warning")
        self.set_class(level == "error", "-throttle-error")
        if self._ready:
            # No quota known (yet): no gauge rather than a meaningless "0/0".
            self._child("#run-throttle", Horizontal).display = quota > 0
            note = {"ok": "", "warning": _("near limit"), "error": _("at limit")}[level]
            bar = self._child("#run-throttle-bar", ProgressBar)
            bar.update(total=max(quota, 1), progress=min(writes_in_window, max(quota, 1)))
            show_text(self._child("#run-throttle-text", Label), self._throttle)
            show_text(self._child("#run-throttle-note", Label), note)

    def _child(self, selector: str, kind: type[W]) -> W:
        # Updated ten times a second while a step runs: each child is looked up once.
        child = self._found.get(selector)
        if child is None:
            child = self._found[selector] = self.query_one(selector, kind)
        return cast("W", child)

    def on_mount(self) -> None:
        self._ready = True
        # Values given before mounting are shown now.
        self.update_progress(*self._progress)
        self.update_throttle(*self._quota)

    def watch_label(self, label: str) -> None:
        if self._ready:
            show_text(self._child("#run-label", Label), label)

    def watch_running(self, running: bool) -> None:
        self.set_class(not running, "-idle")
