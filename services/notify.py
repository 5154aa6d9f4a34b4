"""News when something happens while nobody watches: ``--notify COMMAND_OR_URL``.

A close-out waits for days; the admin should not have to look. :class:`News` watches the engine's
events and tells a :class:`Notifier` when a wait ends (a step that waited on time or on a person
moves on), when a handoff is detected (the watch sees what the admin did in the admin center:
a subscription's state changed, the tenant is gone) and when the run ends: failed, or done.

Each piece of news is one short JSON object (:class:`NewsBody`): ``event`` (``wait-ended``,
``handoff-detected``, ``failed``, ``done``), ``time`` (UTC, ISO 8601), ``tenant`` (the initial
domain), ``step`` (0-5 or null), ``message`` (one line, in the run's language) and, at the end,
``exit`` (the exit code). It never holds a token, a secret or a user list.

The target is a URL (``http://`` or ``https://``: the body is POSTed as JSON, redirects are
not followed, 10 s timeout) or a command (split like a shell would, run without one: the body
on its standard input, ``CLOSEOUT_EVENT`` and ``CLOSEOUT_MESSAGE`` in its environment, which
holds no closeout secret). Warnings name the target only by its host or program: a webhook's
path is often its secret. Delivery is on a thread of its own, in order: a slow or failing
target never holds the run up; a failure is reported once as a warning and the run goes on.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol, TypedDict
from urllib.parse import urlsplit

from . import __version__
from .errors import CloseoutError
from .exit_codes import MEANINGS, ExitCode
from .i18n import _
from .models import Event, HandoffUpdated, StepChanged, StepId, StepStatus
from .names import status_word, step_name

__all__ = [
    "News",
    "NewsBody",
    "NewsTarget",
    "Notifier",
    "NotifyError",
    "NotifyTarget",
    "parse_target",
]

TIMEOUT = 10.0
"""Seconds a URL or a command may take before closeout gives up on that piece of news."""

MAX_QUEUED = 100
"""News waiting to be delivered; beyond it (a target that hangs) new news is dropped."""

SECRET_ENV = ("CLOSEOUT_ACCESS_TOKEN",)
"""Variables closeout reads secrets from: never passed on to a notify command."""

NewsEvent = Literal["wait-ended", "handoff-detected", "failed", "done"]


class NotifyError(CloseoutError):
    """A ``--notify`` value closeout cannot use: refused before the run starts."""


class NewsBody(TypedDict):
    event: NewsEvent
    time: str
    tenant: str
    step: int | None
    message: str
    exit: int | None


@dataclass(frozen=True)
class NotifyTarget:
    """Where news goes: a URL, or a command's argv."""

    url: str | None = None
    argv: tuple[str, ...] = ()

    def __str__(self) -> str:
        """Where, without what may be a secret: a webhook's path or query often is one (a
        Slack hook's path), and so may a command's arguments."""
        if self.url is not None:
            parts = urlsplit(self.url)
            return f"{parts.scheme}://{parts.netloc}/…"
        return Path(self.argv[0]).name + (" …" if len(self.argv) > 1 else "")


def parse_target(value: str) -> NotifyTarget:
    """The target ``--notify`` names. Raises :class:`NotifyError` for an empty value, a URL
    without a host, a URL with a user name or password in it, or a command that is not found."""
    text = value.strip()
    scheme = text.split(":", 1)[0].lower() if ":" in text else ""
    if scheme in ("http", "https"):
        parts = urlsplit(text)
        if not parts.hostname:
            raise NotifyError(_("--notify {value}: the URL has no host.").format(value=value))
        if parts.username or parts.password:
            # It would be printed in warnings and kept in shell history alongside the run.
            raise NotifyError(
                _("--notify: the URL holds a user name or password; closeout refuses it."),
                _("Put a token in the URL's path or query if the service needs one."),
            )
        return NotifyTarget(url=text)
    try:
        argv = tuple(shlex.split(text))
    except ValueError as exc:
        raise NotifyError(
            _("--notify {value}: cannot split it into a command ({reason}).").format(
                value=value, reason=exc
            )
        ) from None
    if not argv:
        raise NotifyError(_("--notify needs a command or an http(s) URL."))
    if shutil.which(argv[0]) is None:
        raise NotifyError(
            _("--notify: no command {command} (not found, or not executable).").format(
                command=argv[0]
            ),
            _("Give a command on PATH or its full path, or an http(s) URL."),
        )
    return NotifyTarget(argv=argv)


class Notifier:
    """Delivers news to one target, in order, on a daemon thread of its own."""

    def __init__(
        self,
        target: NotifyTarget,
        *,
        on_error: Callable[[str], None],
        timeout: float = TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.target = target
        self.timeout = timeout
        self._on_error = on_error
        self._warned = False
        self._environ = dict(os.environ if environ is None else environ)
        for name in SECRET_ENV:
            self._environ.pop(name, None)
        self._queue: queue.Queue[NewsBody | None] = queue.Queue(MAX_QUEUED)
        self._thread = threading.Thread(target=self._deliver_all, name="notify", daemon=True)
        self._thread.start()

    def send(self, body: NewsBody) -> None:
        """Queue ``body``; returns at once."""
        try:
            self._queue.put_nowait(body)
        except queue.Full:
            self._failed(_("the notify target is not keeping up; news was dropped"))

    def close(self, timeout: float = TIMEOUT) -> None:
        """Deliver what is queued, waiting at most ``timeout`` seconds (the process is ending:
        the last news, a failure, should still go out)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(None, timeout=max(0.0, deadline - time.monotonic()))
                break
            except queue.Full:
                return
        self._thread.join(max(0.0, deadline - time.monotonic()))

    def _deliver_all(self) -> None:
        while (body := self._queue.get()) is not None:
            try:
                self._deliver(body)
            except subprocess.TimeoutExpired:
                self._failed(_("no answer within {seconds:g} s").format(seconds=self.timeout))
            except Exception as exc:  # a notification must never end the run
                # By its kind only: requests' messages repeat the URL, path and query included.
                timeout = "Timeout" in type(exc).__name__
                self._failed(
                    _("no answer within {seconds:g} s").format(seconds=self.timeout)
                    if timeout
                    else type(exc).__name__
                )

    def _deliver(self, body: NewsBody) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        if self.target.url is not None:
            import requests  # only a URL target needs it

            r = requests.post(
                self.target.url,
                data=data,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "User-Agent": f"closeout/{__version__}",
                },
                timeout=self.timeout,
                allow_redirects=False,
            )
            if not 200 <= r.status_code < 300:
                self._failed(f"HTTP {r.status_code}")
            return
        env = self._environ | {"CLOSEOUT_EVENT": body["event"], "CLOSEOUT_MESSAGE": body["message"]}
        done = subprocess.run(  # noqa: S603 - the admin's own command, argv, no shell
            self.target.argv,
            input=data,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=self.timeout,
            check=False,
        )
        if done.returncode != 0:
            self._failed(_("exit status {code}").format(code=done.returncode))

    def _failed(self, reason: str) -> None:
        if self._warned:
            return
        self._warned = True
        self._on_error(
            _("--notify {target} failed ({reason}); the run goes on without it.").format(
                target=self.target, reason=reason
            )
        )


class NewsTarget(Protocol):
    """Where :class:`News` sends: a :class:`Notifier`, or the TUI's (the terminal bell, and a
    notifier if ``--notify`` names one)."""

    def send(self, body: NewsBody) -> None: ...

    def close(self, timeout: float = TIMEOUT) -> None: ...


class News:
    """Turns engine events, and the run's end, into news for a :class:`Notifier`."""

    def __init__(self, notifier: NewsTarget, tenant: str = "") -> None:
        self.notifier = notifier
        self.tenant = tenant
        """The tenant the news is about (its initial domain, once signed in)."""
        self._status: dict[StepId, StepStatus] = {}
        self._handoffs: dict[StepId, dict[str, tuple[str, str]]] = {}
        self._handoff_done: dict[StepId, bool] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepChanged):
            st = event.state
            before = self._status.get(st.step)
            self._status[st.step] = st.status
            if before is not None and before.waiting and not st.status.waiting:
                self._send(
                    "wait-ended",
                    st.step,
                    _("step {step} {name}: the wait is over, now {status} — {summary}").format(
                        step=int(st.step),
                        name=step_name(st.step),
                        status=status_word(st.status),
                        summary=st.summary,
                    ),
                )
        elif isinstance(event, HandoffUpdated):
            self._handoff(event)

    def _handoff(self, event: HandoffUpdated) -> None:
        h = event.handoff
        before = self._handoffs.get(h.step)
        now = {i.object_id: (i.label, i.state) for i in h.items}
        self._handoffs[h.step] = now
        was_done = self._handoff_done.get(h.step, False)
        self._handoff_done[h.step] = h.done
        if before is None:
            return  # first sight: what is handed off, not yet anything done
        seen = [
            _("{label}: {state} (was {before})").format(
                label=i.label, state=i.state, before=before[i.object_id][1]
            )
            for i in h.items
            if i.object_id in before and before[i.object_id][1] != i.state
        ]
        seen += [
            _("{label}: no longer listed").format(label=label)
            for o, (label, _state) in before.items()
            if o not in now
        ]
        if h.done and not was_done:
            seen.append(_("done"))
        if seen:
            self._send(
                "handoff-detected",
                h.step,
                _("step {step} {name}: {seen}").format(
                    step=int(h.step), name=step_name(h.step), seen="; ".join(seen)
                ),
            )

    def failed(self, step: StepId | None, message: str) -> None:
        """A step's run failed (the TUI goes on: the admin decides what next)."""
        self._send("failed", step, message)

    def ended(self, code: ExitCode, message: str = "") -> None:
        """The run ended with ``code``: news if it failed or is done (a wait or a stop is not
        news: the admin chose it, or the wait's end will be)."""
        if code == ExitCode.DONE:
            self._send("done", None, message or _("the tenant's deletion is confirmed"), code)
        elif code != ExitCode.WAITING:
            self._send("failed", None, message or _(MEANINGS[code]), code)

    def _send(
        self, event: NewsEvent, step: StepId | None, message: str, code: ExitCode | None = None
    ) -> None:
        self.notifier.send(
            NewsBody(
                event=event,
                time=datetime.now(UTC).isoformat(timespec="seconds"),
                tenant=self.tenant,
                step=None if step is None else int(step),
                message=message,
                exit=None if code is None else int(code),
            )
        )
