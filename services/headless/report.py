"""Engine events as the headless run's lines, or one JSON object per line: states, items,
progress, handoffs, notes and waits, written thread-safely to one stream.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from services.control import Waiting
from services.durations import format_duration
from services.i18n import _
from services.models import (
    Event,
    Handoff,
    HandoffUpdated,
    ItemFinished,
    Noted,
    NotSent,
    ProgressUpdated,
    StepChanged,
    StepId,
    StepState,
)
from services.names import status_word, step_name
from services.plan.labels import not_sent_text


class Reporter:
    """Turns engine events into lines (or JSON lines) on ``out``. Thread-safe."""

    def __init__(
        self,
        out: TextIO,
        *,
        json_mode: bool,
        progress_every: float = 5.0,
        on_lost: Callable[[OSError], None] | None = None,
    ) -> None:
        self.out = out
        self.json_mode = json_mode
        self.progress_every = progress_every
        self.on_lost = on_lost
        """Called once when writing ``out`` fails (a closed terminal or pipe): the run stops,
        and nothing more is written there."""
        self._lost = False
        self._lock = threading.Lock()
        self._last_progress: dict[StepId, tuple[float, tuple[int, int, int] | None]] = {}
        self._handoffs: dict[StepId, Handoff] = {}
        self.watchers: list[Callable[[Event], None]] = []
        """Also hear every engine event (``services.notify.News``)."""

    def emit(self, obj: dict[str, Any], text: str | None) -> None:
        try:
            self._write(obj, text)
        except OSError as exc:
            with self._lock:
                first, self._lost = not self._lost, True
            if first and self.on_lost is not None:
                self.on_lost(exc)

    def wait(self, waiting: Waiting) -> None:
        """What closeout waits for and until when (a ``wait`` event)."""
        self.emit(
            {
                "event": "wait",
                "what": waiting.what,
                "why": waiting.reason,
                "seconds": round(waiting.seconds, 3),
                "until": waiting.until.isoformat(timespec="seconds"),
            },
            waiting.text(),
        )

    def _write(self, obj: dict[str, Any], text: str | None) -> None:
        with self._lock:
            if self._lost:
                return
            if self.json_mode:
                # Every line carries time, step (null when it concerns no one step) and event,
                # so that a script can route lines without knowing each event's shape.
                obj = {
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "step": None,
                    **obj,
                }
                self.out.write(json.dumps(obj, default=str, ensure_ascii=False) + "\n")
            elif text is not None:
                self.out.write(f"[{datetime.now():%H:%M:%S}] {text}\n")
            self.out.flush()

    def __call__(self, event: Event) -> None:
        self._show(event)
        for watcher in self.watchers:
            watcher(event)

    def _show(self, event: Event) -> None:
        if isinstance(event, StepChanged):
            self.step_changed(event.state)
        elif isinstance(event, ItemFinished):
            ok = event.outcome in ("done", "gone")
            self.emit(
                {
                    "step": int(event.step),
                    "event": "item",
                    "action": event.action,
                    "object": event.object_id,
                    "label": event.label,
                    "outcome": event.outcome,
                    "status": event.status,
                    "code": event.code,
                    "message": event.message,
                    "request_id": event.request_id,
                },
                None
                if ok
                else f"  {event.action} {event.label}: {event.outcome} "
                f"{event.status or ''} {event.code or ''} {event.message or ''}".rstrip(),
            )
        elif isinstance(event, ProgressUpdated):
            self.progress(event)
        elif isinstance(event, HandoffUpdated):
            self.handoff(event.handoff)
        elif isinstance(event, NotSent):
            self.emit(
                {
                    "step": int(event.step),
                    "event": "not-sent",
                    "action": event.action,
                    "count": event.count,
                },
                f"  {not_sent_text(event)}",
            )
        elif isinstance(event, Noted):
            self.emit(
                {
                    "step": None if event.step is None else int(event.step),
                    "event": "note",
                    "level": event.level,
                    "message": event.text,
                },
                f"{event.level}: {event.text}",
            )

    def progress(self, event: ProgressUpdated) -> None:
        now = datetime.now(UTC).timestamp()
        key = (event.done, event.failed, event.total)
        finished = event.done + event.failed >= event.total
        last_at, last_key = self._last_progress.get(event.step, (0.0, None))
        if key == last_key or (not finished and now - last_at < self.progress_every):
            return
        self._last_progress[event.step] = (now, key)
        eta = (
            f", ETA {format_duration(event.eta_seconds)}"
            if event.eta_seconds and not finished
            else ""
        )
        self.emit(
            {
                "step": int(event.step),
                "event": "progress",
                "done": event.done,
                "total": event.total,
                "failed": event.failed,
                "eta_seconds": event.eta_seconds,
                "writes_in_window": event.writes_in_window,
                "write_quota": event.write_quota,
            },
            _("step {step}: {done:,}/{total:,} done, {failed:,} failed{eta}").format(
                step=int(event.step),
                done=event.done,
                total=event.total,
                failed=event.failed,
                eta=eta,
            ),
        )

    def step_changed(self, st: StepState) -> None:
        until = f" — {_('until')} {st.waiting_until:%Y-%m-%d %H:%M} UTC" if st.waiting_until else ""
        counts = f" ({st.done}/{st.total})" if st.total else ""
        self.emit(
            {
                "step": int(st.step),
                "event": "step",
                "status": str(st.status),
                "summary": st.summary,
                "done": st.done,
                "total": st.total,
                "failed": st.failed,
                "waiting_for": st.waiting_for,
                "waiting_until": st.waiting_until,
                "link": st.link,
                "blockers": list(st.blockers),
            },
            f"{_('step')} {int(st.step)} {step_name(st.step)}: {status_word(st.status)}{counts}"
            f" — {st.summary}{until}",
        )

    def handoff(self, h: Handoff) -> None:
        old = self._handoffs.get(h.step)
        self._handoffs[h.step] = h
        if h.done or (old is not None and old.items == h.items):
            return
        lines = [f"  {h.title}: {h.link}"] if old is None else []
        if old is None:
            lines += [f"    {i}. {p}" for i, p in enumerate(h.click_path, 1)]
        for item in h.items:
            until = f" ({_('until')} {item.until:%Y-%m-%d %H:%M} UTC)" if item.until else ""
            lines.append(f"    - {item.label}: {item.state}{until} {item.note}".rstrip())
        self.emit(
            {
                "step": int(h.step),
                "event": "handoff",
                "title": h.title,
                "link": h.link,
                "click_path": list(h.click_path),
                "items": [
                    {
                        "object": i.object_id,
                        "label": i.label,
                        "state": i.state,
                        "until": i.until,
                        "note": i.note,
                        **(i.product.to_json() if i.product else {}),
                    }
                    for i in h.items
                ],
            },
            "\n".join(lines),
        )
