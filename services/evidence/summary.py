"""The pack's summaries: ``summary.json`` as given plus the tally, and ``summary.md``, where
every untrusted text (UPNs, display names, Graph's messages) is inert Markdown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services import __version__
from services.i18n import _
from services.journal.records import format_time
from services.models import TenantInfo

from .layout import CHECKSUM_FILE, CSV_FILE, INVENTORY_FILE, OUTCOMES_JSON_FILE, SUMMARY_JSON_FILE
from .rows import Tally

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|"})
# Beyond this the Markdown summary points to the CSV instead of listing every failure.
_MAX_LISTED_FAILURES = 200


def _md(value: Any) -> str:
    """Untrusted text as inert Markdown on one line (no links, markup, table breaks)."""
    text = " ".join(str(value).split()) if value is not None else ""
    return text.translate(_MD_SPECIAL) or "—"


def summary_doc(
    tenant: TenantInfo,
    tally: Tally,
    summary: dict[str, Any],
    run_id: str,
    generated: str,
    warnings: list[str],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "tool": "closeout",
        "tool_version": __version__,
        "generated_at": generated,
        "tenant": dataclasses.asdict(tenant),
        "objects": tally.objects,
        "counts": [
            {"step": step, "action": action, "result": result, "count": n}
            for (step, action, result), n in sorted(tally.counts.items())
        ],
        "failures": tally.failures,
        "unknown": tally.unknown,
        "warnings": warnings,
        "summary": summary,
    }


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return format_time(value if value.tzinfo else value.replace(tzinfo=UTC))
    return _md(value)


def summary_md(
    tenant: TenantInfo,
    tally: Tally,
    summary: dict[str, Any],
    run_id: str,
    generated: str,
    warnings: list[str],
) -> str:
    failures, unknown, counts = tally.failures, tally.unknown, tally.counts
    started = summary.get("started") or tally.first
    ended = summary.get("ended") or tally.last
    user = (
        _md(tenant.signed_in_upn)
        if tenant.signed_in_upn
        else _("app-only sign-in (no signed-in user)")
    )
    lines = [
        "# " + _("closeout evidence: {tenant}").format(tenant=_md(tenant.display_name)),
        "",
    ]
    if tenant.sandbox:
        lines += [_("**Sandbox tenant**: simulated, no real organization was changed."), ""]
    if warnings:
        lines += ["## " + _("Warnings"), ""]
        lines += [f"- {_md(text)}" for text in warnings]
        lines.append("")
    facts = [
        (_("Tenant"), _md(tenant.display_name)),
        (_("Tenant id"), _md(tenant.id)),
        (_("Initial domain"), _md(tenant.initial_domain)),
        (_("Cloud"), _md(tenant.cloud)),
        (_("Signed-in user"), user),
        (_("Run"), _md(run_id)),
        (_("Tool version"), _md(f"closeout {__version__}")),
        (_("Started"), _when(started)),
        (_("Ended"), _when(ended)),
    ]
    if summary.get("exit_code") is not None:
        facts.append((_("Exit code"), _md(summary["exit_code"])))
    if "tenantDeleted" in summary:
        facts.append((_("Tenant deleted"), _deleted_fact(summary)))
    facts.append((_("Pack written"), generated))
    lines += ["| | |", "|---|---|"]
    lines += [f"| {label} | {value} |" for label, value in facts]

    lines += ["", "## " + _("Results ({n} objects)").format(n=tally.objects), ""]
    not_sent = [
        (str(e.get("step")), str(e.get("action")), int(e.get("count") or 0))
        for e in summary.get("notSent") or ()
        if isinstance(e, dict)
    ]
    if counts or not_sent:
        lines += [
            f"| {_('Step')} | {_('Action')} | {_('Result')} | {_('Count')} |",
            "|---|---|---|---:|",
        ]
        lines += [
            f"| {_md(step)} | {_md(action)} | {_md(result)} | {n} |"
            for (step, action, result), n in sorted(counts.items())
        ]
        # Never sent, so no object's outcome: counted apart, as the journal counts them.
        lines += [
            f"| {_md(step)} | {_md(action)} | {_md(_('not sent'))} | {n} |"
            for step, action, n in not_sent
        ]
    else:
        lines.append(_("No changes were sent in this run."))

    lines += ["", "## " + _("Failures ({n})").format(n=len(failures)), ""]
    lines += _listed(failures, with_code=True) if failures else [_("None.")]
    if unknown:
        lines += ["", "## " + _("Outcome unknown ({n})").format(n=len(unknown)), ""]
        lines.append(
            _(
                "Sent, but no answer that could be trusted came back, and no fresh read could "
                "settle them yet; the next run reads them again."
            )
        )
        lines += ["", *_listed(unknown, with_code=False)]

    lines += _subscriptions_md(summary.get("subscriptions"))

    kept = summary.get("kept") or summary.get("keep") or []
    lines += ["", "## " + _("Kept accounts"), ""]
    if kept:
        lines += [f"- {_kept_line(item)}" for item in kept]
    else:
        lines.append(_("None recorded."))

    lines += [
        "",
        "## " + _("Files"),
        "",
        f"- {INVENTORY_FILE}: " + _("the inventory before any change"),
        f"- {CSV_FILE}, {OUTCOMES_JSON_FILE}: "
        + _(
            "the latest outcome per object and action, with how many times it was sent "
            "(the journal keeps every attempt)"
        ),
        f"- {SUMMARY_JSON_FILE}: " + _("this summary, machine-readable"),
        f"- {CHECKSUM_FILE}: " + _("checksums; verify with `sha256sum -c SHA256SUMS`"),
        "",
    ]
    return "\n".join(lines)


def _subscriptions_md(subs: Any) -> list[str]:
    """The subscriptions of the inventory before, by product name, with their SKU and status.

    ``subs`` is the summary's ``subscriptions``: mappings with ``productName``,
    ``skuPartNumber``, ``statusBefore`` and (not in an offline pack) ``statusNow``.
    """
    if not isinstance(subs, list):
        return []
    lines = ["", "## " + _("Subscriptions ({n})").format(n=len(subs)), ""]
    if not subs:
        return [*lines, _("None.")]
    rows = [s for s in subs if isinstance(s, Mapping)]
    now = any("statusNow" in s for s in rows)
    head = [_("Product"), _("SKU"), _("Status before")] + ([_("Status at export")] if now else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in rows:
        cells = [s.get("productName"), s.get("skuPartNumber"), s.get("statusBefore")]
        cells += [s.get("statusNow")] if now else []
        lines.append("| " + " | ".join(_md(c) for c in cells) + " |")
    return lines


def _listed(rows: list[dict[str, Any]], *, with_code: bool) -> list[str]:
    """One Markdown line per row (at most :data:`_MAX_LISTED_FAILURES`), then how many more."""
    lines = []
    for row in rows[:_MAX_LISTED_FAILURES]:
        status = f"{row['http_status']} " if row["http_status"] is not None else ""
        code = f"{_md(status + str(row['code'] or ''))}: " if with_code else ""
        lines.append(
            f"- {_md(row['label'])} ({_md(row['object_id'])}), {_md(row['action'])}: "
            f"{code}{_md(row['message'])}"
        )
    if len(rows) > _MAX_LISTED_FAILURES:
        more = len(rows) - _MAX_LISTED_FAILURES
        lines.append("- " + _("… and {n} more (see {file})").format(n=more, file=CSV_FILE))
    return lines


def _deleted_fact(summary: Mapping[str, Any]) -> str:
    if not summary.get("tenantDeleted"):
        return _("no")
    found = summary.get("tenantDeletion")
    if isinstance(found, Mapping) and found.get("t"):
        how = (
            _("detected at sign-in")
            if found.get("detected") == "sign-in"
            else _("detected while closeout watched")
        )
        return _("yes: {how}, {time}").format(how=how, time=_md(found["t"]))
    return _("yes")


def _kept_line(item: Any) -> str:
    if not isinstance(item, Mapping):
        return _md(item)
    parts = [_md(item["display_name"])] if item.get("display_name") else []
    if item.get("upn"):
        parts.append(f"({_md(item['upn'])})" if parts else _md(item["upn"]))
    if not parts and item.get("id"):
        parts.append(_md(item["id"]))
    text = " ".join(parts) or "—"
    if item.get("reason"):
        text += f": {_md(item['reason'])}"
    return text
