"""Reusable closeout widgets: they render data they are given and never reach services' network
code or the app. Import them from here."""

from __future__ import annotations

from widgets.checklist import StepChecklist
from widgets.device_code import DeviceCodePanel
from widgets.fitting_footer import FittingFooter
from widgets.handoff_view import HandoffView
from widgets.log_panel import LogPanel
from widgets.remaining_table import FINAL_STATUSES, ColumnSpec, RemainingTable
from widgets.run_progress import RunProgress
from widgets.steady_text import show_text
from widgets.step_detail import StepDetail
from widgets.tenant_header import TenantHeader

__all__ = [
    "FINAL_STATUSES",
    "ColumnSpec",
    "DeviceCodePanel",
    "FittingFooter",
    "HandoffView",
    "LogPanel",
    "RemainingTable",
    "RunProgress",
    "StepChecklist",
    "StepDetail",
    "TenantHeader",
    "show_text",
]
