"""News in the TUI when a wait ends, a handoff is detected or a run fails: the terminal bell
and a toast, and ``--notify``'s command or webhook, called by the same code as headless
(:class:`services.notify.News` finds the news, :class:`services.notify.Notifier` delivers it).

:class:`TuiNews` is what ``News`` sends to. It is called on the engine's threads: it posts a
message for the bell (thread-safe) and hands the body to the notifier's own thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from textual.message import Message

from services.notify import TIMEOUT, NewsBody, Notifier


@dataclass(eq=False)
class NewsArrived(Message):
    body: NewsBody


class TuiNews:
    def __init__(self, post: Callable[[Message], object], notifier: Notifier | None) -> None:
        self._post = post
        self.notifier = notifier

    def send(self, body: NewsBody) -> None:
        self._post(NewsArrived(body))
        if self.notifier is not None:
            self.notifier.send(body)

    def close(self, timeout: float = TIMEOUT) -> None:
        if self.notifier is not None:
            self.notifier.close(timeout)
