"""Detail of the selected step: what it will do, what it did, and what blocks it.

Owns the three-section layout; the app decides the lines. Every line is shown literally (object
names can contain ``[``). An empty section says so instead of disappearing, so the reader knows
it was considered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from services.i18n import _


class StepDetail(VerticalScroll):
    """Scrollable "Will do" / "Did" / "Blocked by" sections for one step."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "step-detail--heading",
        "step-detail--blocker",
        "step-detail--empty",
    }

    DEFAULT_CSS = """
    StepDetail {
        & > .step-detail--heading { text-style: bold underline; }
        & > .step-detail--blocker { color: $warning; text-style: bold; }
        & > .step-detail--empty { text-style: dim italic; }
        #step-detail-body { width: 1fr; }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._content: tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]] = (
            "",
            (),
            (),
            (),
        )
        self._ready = False
        """Set on mount, once the children exist (``is_mounted`` turns True only after
        ``on_mount`` has returned)."""

    @property
    def body_text(self) -> str:
        return self._render_body().plain

    def compose(self) -> ComposeResult:
        yield Static(id="step-detail-body", markup=False)

    def on_mount(self) -> None:
        self._ready = True
        self._update()

    def show(
        self,
        title: str,
        will_do: Sequence[str],
        did: Sequence[str],
        blockers: Sequence[str],
    ) -> None:
        self._content = (title, tuple(will_do), tuple(did), tuple(blockers))
        self._update()
        self.scroll_home(animate=False)

    def _update(self) -> None:
        if self._ready:
            self.query_one("#step-detail-body", Static).update(self._render_body())

    def _render_body(self) -> Text:
        title, will_do, did, blockers = self._content
        heading = self._style("step-detail--heading")
        empty = self._style("step-detail--empty")
        text = Text()
        if title:
            text.append(title, "bold")
            text.append("\n")
        sections = (
            (_("Will do"), will_do, None),
            (_("Did"), did, None),
            (_("Blocked by"), blockers, self._style("step-detail--blocker")),
        )
        for number, (name, lines, style) in enumerate(sections):
            if number or title:
                text.append("\n")
            text.append(name, heading)
            if not lines:
                text.append("\n")
                text.append("  " + _("nothing"), empty)
            for line in lines:
                text.append("\n")
                # Hanging "• " so a wrapped line stays visibly part of its bullet.
                text.append("• ", style)
                text.append(line.replace("\n", "\n  "), style)
            text.append("\n")
        text.rstrip()
        return text

    def notify_style_update(self) -> None:
        super().notify_style_update()
        # Section styles are baked into the text: redo it after a theme change.
        self.call_later(self._update)

    def _style(self, component: str) -> Style | str:
        return self.get_component_rich_style(component, partial=True) if self._ready else ""
