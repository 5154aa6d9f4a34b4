"""Settling writes whose answer never came: a fresh read says whether Graph carried them out.

A write is ambiguous when its request may have reached Graph but no answer that can be trusted
came back: the connection broke after sending, the ``$batch`` envelope was malformed or
answered other ids than were asked, or the process was killed with the request in flight.
Resending it blindly could write twice; recording it ``failed`` or ``skipped`` would make the
evidence deny what Graph did. So it is read back with a GET on the write's own URL: a DELETE
whose object answers 404 is gone, a PATCH whose fields read as sent is done, anything else was
not carried out and its step sends it again. What a read cannot settle (it failed too) stays
``unknown``; the end of the run and the start of the next one try again.

Owns :class:`Write` (a write as a fresh read needs it, from a batch item or a journal intent),
the read itself (:func:`settle`), the journal outcome each verdict becomes, and the step-side
loop that settles an executor's ``unknown`` results (:func:`settle_results`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from .batch.items import BatchItem, ItemResult, Outcome
from .control import RunControl
from .errors import AuthError, CloseoutError, GraphError, NetworkError, Stopped
from .graph.client import GraphClient
from .i18n import _

__all__ = [
    "Settled",
    "Verdict",
    "Write",
    "request_fields",
    "settle",
    "settle_results",
]

SETTLE_ROUNDS = 3
"""How often a step reads back and resends what stays ambiguous before leaving it unknown."""
_VERSIONS = ("v1.0", "beta")
# Fields that may go on reading as before for a while after a PATCH that Graph carried out:
# the organization's onPremisesSyncEnabled reads false at once, stays true until every synced
# user is converted, or reads null (graph-api.md §2.2). A read can confirm such a PATCH, never
# refute it: resending would turn sync off twice.
_LAGGING_FIELDS = frozenset({"onPremisesSyncEnabled"})


class Verdict(StrEnum):
    """What a fresh read says about one write."""

    done = "done"  # a PATCH's fields read as sent
    gone = "gone"  # the object no longer exists (a DELETE carried out, or its object is gone)
    not_done = "not-done"  # the object is there unchanged: the write was not carried out
    unknown = "unknown"  # the read failed too, or cannot tell


@dataclass(frozen=True)
class Write:
    """One write as a fresh read needs it."""

    step: int | None
    action: str
    object: str
    label: str
    method: str
    url: str
    """Relative to the version root, as sent (``/users/{id}``)."""
    version: str = "v1.0"
    body: Mapping[str, Any] | None = None

    @classmethod
    def from_item(cls, step: int, item: BatchItem) -> Write:
        return cls(
            step,
            item.action,
            item.key,
            item.label,
            item.method.upper(),
            item.url,
            item.version,
            item.body,
        )

    @classmethod
    def from_intent(cls, intent: Mapping[str, Any]) -> Write | None:
        """The write an intent line records; None for an intent written before closeout
        recorded the request with it (or one whose request fields are not usable)."""
        method, url = intent.get("method"), intent.get("url")
        version, body = intent.get("version", "v1.0"), intent.get("body")
        if not (
            isinstance(method, str)
            and isinstance(url, str)
            and url.startswith("/")
            and "://" not in url
            and version in _VERSIONS
            and (body is None or isinstance(body, dict))
        ):
            return None
        step = intent.get("step")
        return cls(
            step if isinstance(step, int) else None,
            str(intent.get("action")),
            str(intent.get("object")),
            str(intent.get("label") or ""),
            method.upper(),
            url,
            str(version),
            body,
        )


def request_fields(item: BatchItem) -> dict[str, Any]:
    """What an intent line records of the request, so that a later run can read it back."""
    fields: dict[str, Any] = {"method": item.method.upper(), "url": item.url}
    if item.version != "v1.0":
        fields["version"] = item.version
    if item.body is not None:
        fields["body"] = item.body
    return fields


@dataclass(frozen=True)
class Settled:
    write: Write
    verdict: Verdict
    request_id: str | None = None
    """The request id of the read that decided it."""
    detail: str = ""
    """Why it stays unknown."""

    def outcome(self, why: str) -> dict[str, Any] | None:
        """The journal outcome for this verdict (None for ``unknown``: nothing to record yet).

        ``why`` says how the write came to be ambiguous (the answer was lost; in flight when a
        run stopped)."""
        w = self.write
        if self.verdict == Verdict.unknown:
            return None
        if self.verdict == Verdict.not_done:
            result = "skipped"
            text = _("{why}; a fresh read shows it was not carried out: its step sends it again.")
        elif self.verdict == Verdict.gone:
            result = "gone"
            text = _("{why}; a fresh read confirms the object is gone.")
        else:
            result = "done"
            text = _("{why}; a fresh read confirms it was carried out.")
        return {
            "step": w.step,
            "action": w.action,
            "object": w.object,
            "label": w.label,
            "result": result,
            "code": "SettledByRead",
            "message": text.format(why=why),
            "request_id": self.request_id,
        }


def read_back(client: GraphClient, write: Write, *, retry: bool = True) -> Settled:
    """Read ``write``'s object afresh and judge. Network and sign-in failures propagate
    (:func:`settle` stops there); any other failed read is ``unknown``."""
    try:
        resp = client.request("GET", write.url, version=write.version, retry=retry)
    except GraphError as exc:
        if exc.status == 404:
            return Settled(write, Verdict.gone, exc.request_id)
        if exc.status == 401:
            raise
        return Settled(write, Verdict.unknown, exc.request_id, f"{exc.status} {exc.code}")
    if write.method == "DELETE":
        return Settled(write, Verdict.not_done, resp.request_id)
    if write.method == "PATCH" and write.body is not None:
        try:
            current = resp.json()
        except ValueError:
            current = None
        if not isinstance(current, dict):
            return Settled(write, Verdict.unknown, resp.request_id, "unreadable answer")
        if all(current.get(key) == value for key, value in write.body.items()):
            return Settled(write, Verdict.done, resp.request_id)
        if _LAGGING_FIELDS & write.body.keys():
            return Settled(write, Verdict.unknown, resp.request_id, "the setting may lag")
        return Settled(write, Verdict.not_done, resp.request_id)
    # A POST or PUT cannot be told from its object alone.
    return Settled(write, Verdict.unknown, resp.request_id, f"cannot read back a {write.method}")


def settle(client: GraphClient, writes: Iterable[Write], *, retry: bool = True) -> list[Settled]:
    """Read back every write, in order. After a network failure, a stop or a lost sign-in the
    rest stay ``unknown`` without a read: each would wait out the same failure."""
    out: list[Settled] = []
    broken = ""
    for write in writes:
        if broken:
            out.append(Settled(write, Verdict.unknown, None, broken))
            continue
        try:
            out.append(read_back(client, write, retry=retry))
        except (NetworkError, Stopped, AuthError, GraphError) as exc:
            broken = exc.message
            out.append(Settled(write, Verdict.unknown, None, broken))
        except CloseoutError as exc:
            out.append(Settled(write, Verdict.unknown, None, exc.message))
    return out


def settle_results(
    client: GraphClient,
    control: RunControl,
    step: int,
    results: list[ItemResult],
    *,
    report: Callable[[list[ItemResult]], None],
    resend: Callable[[list[BatchItem]], list[ItemResult]],
) -> list[ItemResult]:
    """``results`` with every ``unknown`` one settled by a fresh read where it can be.

    Carried out: a ``gone``/``done`` result with the read's request id. Not carried out: a
    ``skipped`` result saying so, then the item is sent again through ``resend`` (the
    executor), whose results replace it. ``report`` journals and shows the settled results
    as the executor's own callbacks do. Results stay in input order.
    """
    results = list(results)
    why = _("Sent, but the answer was lost or could not be trusted")
    for _round in range(SETTLE_ROUNDS):
        open_at = [i for i, r in enumerate(results) if r.outcome == Outcome.unknown]
        if not open_at or control.stopped:
            break
        verdicts = settle(client, (Write.from_item(step, results[i].item) for i in open_at))
        settled: list[ItemResult] = []
        again: list[int] = []
        for i, verdict in zip(open_at, verdicts, strict=True):
            outcome = verdict.outcome(why)
            if outcome is None:
                continue
            result = replace(
                results[i],
                outcome=Outcome(outcome["result"]),
                status=None,
                code=outcome["code"],
                message=outcome["message"],
                request_id=verdict.request_id,
                finished_at=datetime.now(UTC),
                body=None,
            )
            settled.append(result)
            if verdict.verdict == Verdict.not_done:
                again.append(i)
            else:
                results[i] = result
        if settled:
            report(settled)
        if not again:
            break
        for i, result in zip(again, resend([results[i].item for i in again]), strict=True):
            results[i] = replace(result, attempts=result.attempts + results[i].attempts)
    return results
