"""The "where am I" pane: the closing steps, each with its state, counts and deadline.

Lists the steps it is given, in the order given (the app gives the registry's,
``services.steps.registry``, which also names them through ``services.names``), and owns the
status glyphs and how a ``StepState`` reads on one or two lines. The highlighted
step is the selected one; the app learns of it from ``StepChecklist.StepSelected``. Status is
shown as a glyph *and* a word, so it survives 16 colours and ``NO_COLOR``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from rich.style import Style
from rich.text import Text
from textual import events, on
from textual.dom import NoScreen
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from services.durations import time_left
from services.i18n import _
from services.models import StepId, StepState, StepStatus
from services.names import status_word, step_name, step_short_name

# Glyphs from the DOS/WGL4 repertoire, which Linux console fonts carry (a ✓ often is missing).
GLYPHS: dict[StepStatus, str] = {
    StepStatus.PENDING: "○",
    StepStatus.RUNNING: "►",
    StepStatus.WAITING_TIME: "…",
    StepStatus.WAITING_PERSON: "!",
    StepStatus.DONE: "√",
    StepStatus.FAILED: "×",
    StepStatus.BLOCKED: "■",
}

_INDENT = 5
"""Cells before a step's name in the wide layout (glyph, number); details line up under it."""
_NARROW_INDENT = 4
_MIN_WRAP = 8

_STATUS_CLASS: dict[StepStatus, str] = {
    StepStatus.PENDING: "step-checklist--pending",
    StepStatus.RUNNING: "step-checklist--running",
    StepStatus.WAITING_TIME: "step-checklist--waiting",
    StepStatus.WAITING_PERSON: "step-checklist--waiting",
    StepStatus.DONE: "step-checklist--done",
    StepStatus.FAILED: "step-checklist--failed",
    StepStatus.BLOCKED: "step-checklist--blocked",
}


__all__ = ["StepChecklist", "compact_count", "format_until", "step_name", "step_short_name"]


def _options(ids: Iterable[StepId]) -> list[Option]:
    return [Option(step_name(step), id=f"step-{int(step)}") for step in ids]


def format_until(when: datetime, now: datetime | None = None) -> str:
    """``14:32 CET`` if ``when`` is today (local time), else ``2025-03-14 14:32 CET``: always
    with its zone (a close-out spans days, and the admin may read it from another zone).
    Naive = UTC."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    local = when.astimezone()
    today = (now or datetime.now(UTC)).astimezone().date()
    return f"{local:%H:%M %Z}" if local.date() == today else f"{local:%Y-%m-%d %H:%M %Z}"


def compact_count(n: int) -> str:
    """At most four cells: 950, 4.8k, 48k, 1.2M."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"


def _flow(phrases: list[Text], separator: Text, room: int) -> list[Text]:
    """Lay phrases out greedily, breaking lines only between phrases ("until 14:32" stays whole)."""
    lines: list[Text] = []
    line = Text()
    for phrase in phrases:
        if line and line.cell_len + separator.cell_len + phrase.cell_len > room:
            lines.append(line)
            line = Text()
        if line:
            line.append_text(separator)
        line.append_text(phrase)
    if line:
        lines.append(line)
    return lines


class StepChecklist(OptionList):
    """The steps given, with glyph, status word, counts and "until …"; highlight = selection.

    Two lines per step normally; one line (short name, glyph, counts) while the screen has the
    ``-narrow`` class.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = OptionList.COMPONENT_CLASSES | {
        "step-checklist--pending",
        "step-checklist--running",
        "step-checklist--waiting",
        "step-checklist--done",
        "step-checklist--failed",
        "step-checklist--blocked",
        "step-checklist--detail",
    }

    DEFAULT_CSS = """
    StepChecklist {
        & > .step-checklist--pending { text-style: dim; }
        & > .step-checklist--running { color: $accent; text-style: bold; }
        & > .step-checklist--waiting { color: $warning; text-style: bold; }
        & > .step-checklist--done { color: $success; }
        & > .step-checklist--failed { color: $error; text-style: bold; }
        & > .step-checklist--blocked { color: $error; }
        & > .step-checklist--detail { text-style: dim; }
    }
    """

    class StepSelected(Message):
        """The highlighted step changed (also sent once when the list first shows)."""

        def __init__(self, checklist: StepChecklist, step: StepId) -> None:
            super().__init__()
            self.checklist = checklist
            self.step = step

        @property
        def control(self) -> StepChecklist:
            return self.checklist

    class StepActivated(Message):
        """Enter was pressed on a step."""

        def __init__(self, checklist: StepChecklist, step: StepId) -> None:
            super().__init__()
            self.checklist = checklist
            self.step = step

        @property
        def control(self) -> StepChecklist:
            return self.checklist

    steps: reactive[tuple[StepState, ...]] = reactive(())
    """Current state of each step; replace it whole (see ``update_steps``)."""

    def __init__(
        self,
        steps: Iterable[StepState] = (),
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        states = tuple(steps)
        # The option at index i is the i-th step given (its number is in the option's id).
        self._ids = tuple(st.step for st in states)
        super().__init__(
            *_options(self._ids),
            name=name,
            id=id,
            classes=classes,
            disabled=disabled,
            markup=False,
        )
        self._signature: object = None
        self._made: dict[int, object] = {}
        """Per option, what its prompt was made from (:meth:`_entry_key`)."""
        self._prompt_heights = [1] * len(self._ids)
        """Per option, its prompt's lines."""
        self._prompt_lines = len(self._ids)
        self._skew = timedelta(0)
        """Graph's clock minus this machine's, as last given to :meth:`set_now`."""
        self.set_reactive(StepChecklist.steps, states)

    @property
    def selected(self) -> StepId | None:
        index = self.highlighted
        return None if index is None or index >= len(self._ids) else self._ids[index]

    def select(self, step: StepId) -> None:
        if step in self._ids:
            self.highlighted = self._ids.index(step)

    def update_steps(self, states: Iterable[StepState]) -> None:
        states = tuple(states)
        ids = tuple(st.step for st in states)
        if ids != self._ids:
            # Other steps, or another order: new options, the selection kept where it can be.
            was = self.selected
            self._ids = ids
            self._made = {}
            self._prompt_heights = [1] * len(ids)
            self.set_options(_options(ids))
            if ids:
                self.highlighted = ids.index(was) if was in ids else 0
        self.steps = states

    @property
    def narrow(self) -> bool:
        """True while the screen carries ``-narrow`` or ``-short`` (the app's breakpoints)."""
        try:
            return self.screen.has_class("-narrow") or self.screen.has_class("-short")
        except NoScreen:
            return False

    def state_of(self, step: StepId) -> StepState:
        for state in self.steps:
            if state.step == step:
                return state
        return StepState(step)

    # -- rendering ---------------------------------------------------------------------------

    def watch_steps(self) -> None:
        self._render_prompts(force=True)

    def on_mount(self) -> None:
        self._render_prompts(force=True)
        self.set_interval(1.0, self._tick)

    def now(self) -> datetime:
        """Graph's time as last given to :meth:`set_now`, advanced by the local clock: the
        countdowns count to Graph's deadlines."""
        return datetime.now(UTC) + self._skew

    def set_now(self, now: datetime) -> None:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._skew = now - datetime.now(UTC)

    def _tick(self) -> None:
        """A waiting step's time left counts down, every second."""
        if any(st.status.waiting and st.waiting_until is not None for st in self.steps):
            self._render_prompts(force=True)

    def on_resize(self, _event: events.Resize) -> None:
        self._render_prompts()

    def notify_style_update(self) -> None:
        # Called after a theme change and after the screen gains or loses -narrow; component
        # styles are settled only once this pass is over, hence call_later.
        super().notify_style_update()
        self.call_later(self._render_prompts)

    def _render_prompts(self, *, force: bool = False) -> None:
        """Make the prompts again: all of them when the width, the layout or the styles changed;
        else (``force``: the states or the clock moved) only the steps whose line would read
        differently, so that a running step's count redraws its own entry, not six."""
        width = self.scrollable_content_region.width
        if not width:
            return
        styles = {
            name: self.get_component_rich_style(name, partial=True)
            for name in (*set(_STATUS_CLASS.values()), "step-checklist--detail")
        }
        signature = (self.narrow, width, tuple(sorted(styles.items())))
        if not force and signature == self._signature:
            return
        if signature != self._signature:
            self._signature = signature
            self._made = {}
        now = self.now()
        narrow = self.narrow
        changed: list[int] = []
        moved = False
        for index, step in enumerate(self._ids):
            state = self.state_of(step)
            made = self._entry_key(state, now)
            if self._made.get(index) == made:
                continue
            if narrow:
                prompt = self._narrow_prompt(state, styles, width)
            else:
                prompt = self._wide_prompt(state, styles, width, now)
            self._made[index] = made
            moved = self._set_prompt(index, prompt) or moved
            changed.append(index)
        if not changed:
            return
        if moved or not self._heights_known:
            self._clear_caches()  # the line map is out of date: all of it is drawn again
        else:
            for index in changed:
                self.refresh_lines(
                    self._line_cache.index_to_line[index], self._prompt_heights[index]
                )
        lines = sum(self._prompt_heights)
        if lines != self._prompt_lines:
            # The height is "auto", so a new line count needs a layout. Requested from inside a
            # Resize handler, a layout refresh is dropped (textual 8.2.8), hence after refresh.
            self._prompt_lines = lines
            self.call_after_refresh(self.refresh, layout=True)

    def _entry_key(self, state: StepState, now: datetime) -> object:
        """What a step's entry is made from: its state, and for a waiting step the time left
        (and the day, which decides whether "until 14:32" is shown)."""
        if state.status.waiting and state.waiting_until is not None:
            until = state.waiting_until
            until = until if until.tzinfo else until.replace(tzinfo=UTC)
            return state, time_left(until, now), now.astimezone().date()
        return state

    def _set_prompt(self, index: int, prompt: Text) -> bool:
        """Give option ``index`` its new prompt and forget only its rendering; whether its
        height changed.

        OptionList's own replace_option_prompt_at_index forgets every option's rendering and
        line map, and repaints the whole list (textual 8.2.8); the option's _set_prompt, the
        render cache (keyed by option first) and the line map are its internals.
        """
        option = self.get_option_at_index(index)
        option._set_prompt(prompt)
        cache = self._option_render_cache
        cached: Iterable[Any] = cache.keys()  # an LRUCache is not iterable itself
        for key in [key for key in cached if key[0] is option]:
            cache.discard(key)
        height = prompt.plain.count("\n") + 1
        moved = self._prompt_heights[index] != height
        self._prompt_heights[index] = height
        return moved

    @property
    def _heights_known(self) -> bool:
        """The line map covers every option (it is built when the list is first drawn)."""
        return len(self._line_cache.index_to_line) == len(self._ids)

    def _wide_prompt(
        self, state: StepState, styles: dict[str, Style], width: int, now: datetime
    ) -> Text:
        status_style = styles[_STATUS_CLASS[state.status]]
        detail = styles["step-checklist--detail"]
        head = Text.assemble((GLYPHS[state.status], status_style), f" {int(state.step)}  ")
        text = self._hang([(head, Text(step_name(state.step)))], width)

        phrases = [Text(status_word(state.status), status_style)]
        if state.status.waiting and state.waiting_until is not None:
            until = state.waiting_until
            until = until if until.tzinfo else until.replace(tzinfo=UTC)
            # Today's deadline by its time and zone; a later one only by the time left (its
            # date is in the step's detail): a waiting step keeps to two or three lines, so
            # that step 5 stays in view while steps 2 and 3 both wait.
            if until.astimezone().date() == now.astimezone().date():
                when = format_until(until, now)
                phrases.append(Text(_("until {when}").format(when=when), status_style))
            phrases.append(Text(_("{left} left").format(left=time_left(until, now)), status_style))
        if state.total:
            done, total = f"{state.done:,}", f"{state.total:,}"
            phrases.append(Text(_("{done}/{total}").format(done=done, total=total), detail))
        if state.failed:
            failed = _("{count} failed").format(count=f"{state.failed:,}")
            phrases.append(Text(failed, styles["step-checklist--failed"]))
        indent = Text(" " * _INDENT)
        for line in _flow(phrases, Text(" · ", detail), width - _INDENT):
            text.append("\n")
            text.append_text(self._hang([(indent, line)], width))
        return text

    def _narrow_prompt(self, state: StepState, styles: dict[str, Style], width: int) -> Text:
        status_style = styles[_STATUS_CLASS[state.status]]
        head = Text.assemble((GLYPHS[state.status], status_style), f" {int(state.step)} ")
        name = Text(step_short_name(state.step))
        counts = Text()
        if state.total:
            counts.append(f"{compact_count(state.done)}/{compact_count(state.total)}")
        if state.failed:
            if counts:
                counts.append(" ")
            counts.append(f"×{compact_count(state.failed)}", styles["step-checklist--failed"])
        # Counts go flush right when they fit beside the name, else on a line of their own;
        # the name is never cut to make room for them.
        gap = width - head.cell_len - name.cell_len - counts.cell_len
        if not counts:
            return self._hang([(head, name)], width)
        if gap >= 1:
            return self._hang([(head, Text.assemble(name, " " * gap, counts))], width)
        pad = max(_NARROW_INDENT, width - counts.cell_len)
        return self._hang([(head, name), (Text(" " * pad), counts)], width)

    def _hang(self, lines: list[tuple[Text, Text]], width: int) -> Text:
        """Join ``(head, body)`` lines, wrapping each body under itself (a hanging indent)."""
        out = Text(no_wrap=True, overflow="ellipsis")
        console = self.app.console
        for number, (head, body) in enumerate(lines):
            if number:
                out.append("\n")
            room = width - head.cell_len
            wrapped = body.wrap(console, room) if room >= _MIN_WRAP else [body]
            for row, part in enumerate(wrapped):
                if row:
                    out.append("\n" + " " * head.cell_len)
                else:
                    out.append_text(head)
                part.rstrip()
                out.append_text(part)
        return out

    # -- messages ----------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        self.post_message(self.StepSelected(self, self._ids[event.option_index]))

    @on(OptionList.OptionSelected)
    def _activated(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.StepActivated(self, self._ids[event.option_index]))
