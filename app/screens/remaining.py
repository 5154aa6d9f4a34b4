"""The main screen's right-hand side: the run's progress bar above what is left to do — four
tables in tabs (users, subscriptions, apps, policies), the count left in each, and the filter.

It owns loading the tables from a Graph read, marking their rows as a run reports outcomes, and
the keep marks (:mod:`.keep_marks`); the screen routes the keys (``t``, ``/``, Escape, ``k``,
``K``) to it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static, TabbedContent, TabPane

from app.tables import Row, app_rows, policy_rows, subscription_rows, user_rows
from services.heap import settle_after_load
from services.i18n import N_, _, ngettext
from services.keep import set_kept
from widgets import FINAL_STATUSES, ColumnSpec, RemainingTable, RunProgress, show_text

from .full_text import FullTextModal, row_text
from .keep_marks import KeepRequest, kept_sets, request_for, saved_text, status_in

if TYPE_CHECKING:
    from services.engine import Engine
    from services.models import InventoryRefreshed
    from services.plan.model import Plan

log = logging.getLogger("closeout.app")

# Wide enough for the longest status word, "not started" (a row a stop left unsent; Swedish
# "ej påbörjad"), in every table alike.
STATUS_WIDTH = 11
# Status first: the columns that do not fit the pane lie whole beyond its right edge, a key
# away (→; Enter shows the whole row); the ones that fit are widened to end at the edge
# (widgets/column_fit.py). Status and UPN fit the 80-column pane exactly (a longer UPN ends
# in "…"); at 120 columns the roles are the ones scrolled to.
USER_COLUMNS = [
    ("status", N_("Status"), STATUS_WIDTH),
    ("upn", N_("User"), 33),
    ("type", N_("Type"), 7),
    ("sync", N_("Sync"), 6),
    ("roles", N_("Roles"), 24),
]
# How narrow a column may get before it is scrolled to instead (unlisted: never narrower).
USER_MIN_WIDTHS = {"roles": 12}
# The admin center's product name, then the SKU code Graph uses; Graph's raw status last (the
# status column already says what closeout reads from it).
SUB_COLUMNS = [
    ("status", N_("Status"), STATUS_WIDTH),
    ("product", N_("Product"), 34),
    ("sku", N_("SKU"), 22),
    ("until", N_("Next change"), 11),
    ("note", N_("Note"), 14),
    ("state", N_("Graph status"), 10),
]
SUB_MIN_WIDTHS = {"product": 26, "sku": 14, "note": 8}
APP_COLUMNS = [
    ("status", N_("Status"), STATUS_WIDTH),
    ("name", N_("Name"), 30),
    ("kind", N_("Kind"), 18),
    ("owner", N_("Owner"), 12),
]
APP_MIN_WIDTHS = {"name": 20}
POLICY_COLUMNS = [
    ("status", N_("Status"), STATUS_WIDTH),
    ("name", N_("Policy"), 34),
    ("state", N_("State"), 14),
    ("mfa", N_("MFA"), 4),
    ("kind", N_("Kind"), 18),
]
POLICY_MIN_WIDTHS = {"name": 20, "state": 8, "kind": 12}
TABLES = ("users", "subscriptions", "apps", "policies")


class RemainingPane(Vertical):
    """Progress bar, the four tables, the "Remaining" line and the (hidden) filter box."""

    class KeepSaved(Message):
        """The plan was made again after a keep mark (``plan`` None: it was refused)."""

        def __init__(self, request: KeepRequest, plan: Plan | None, error: str = "") -> None:
            super().__init__()
            self.request = request
            self.plan = plan
            self.error = error

    _filter_timer: Timer | None = None
    _users_signature: object = None
    _kept_users = 0
    """Rows of the users table that stay (the admin, the keep-list): not left to do."""
    _keeping = False
    _gone = False
    """The tenant is deleted: the Remaining line says so and no count replaces it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._tables: dict[str, RemainingTable] = {}

    def compose(self) -> ComposeResult:
        yield RunProgress(id="run-progress")
        with TabbedContent(id="tabs"):
            with TabPane(_("Users"), id="tab-users"):
                yield RemainingTable(
                    _columns(USER_COLUMNS), min_widths=USER_MIN_WIDTHS, id="table-users"
                )
            with TabPane(_("Subscriptions"), id="tab-subscriptions"):
                yield RemainingTable(
                    _columns(SUB_COLUMNS), min_widths=SUB_MIN_WIDTHS, id="table-subscriptions"
                )
            with TabPane(_("Apps"), id="tab-apps"):
                yield RemainingTable(
                    _columns(APP_COLUMNS), min_widths=APP_MIN_WIDTHS, id="table-apps"
                )
            with TabPane(_("Policies"), id="tab-policies"):
                yield RemainingTable(
                    _columns(POLICY_COLUMNS), min_widths=POLICY_MIN_WIDTHS, id="table-policies"
                )
        yield Static(id="remaining", markup=False)
        yield Input(placeholder=_("Filter: type, Enter to keep, Esc to clear"), id="filter")

    def on_mount(self) -> None:
        self.query_one("#filter", Input).display = False

    def table(self, name: str) -> RemainingTable:
        # Looked up on every flush of a run's outcomes: once each, then kept.
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self.query_one(f"#table-{name}", RemainingTable)
        return table

    # -- what the engine reports -----------------------------------------------------------------

    def load(
        self,
        inv: InventoryRefreshed,
        plan: Plan | None,
        now: datetime | None,
        *,
        force: bool = False,
    ) -> None:
        """The tables as a fresh Graph read shows the tenant (``now``: Graph's clock)."""
        # The user table can hold 50,000 rows: rebuilt only when more than disappearance
        # changed (new users, sync turned off, the plan's kept set); small tables always are.
        kept, keep_mfa, _marked = kept_sets(plan)
        signature = (kept, keep_mfa, frozenset(u.id for u in inv.users if u.synced))
        self._kept_users = sum(1 for u in inv.users if u.id in kept)
        users = self.table("users")
        rows = user_rows(inv.users, kept, keep_mfa)
        if force or signature != self._users_signature:
            self._users_signature = signature
            users.load(rows)
            settle_after_load(len(rows))  # 100,000 rows: out of the full collections' walk
        else:
            _reload_or_mark(users, rows)
        self.table("subscriptions").load(subscription_rows(inv.subscriptions, now))
        self.table("apps").load(app_rows(inv.apps))
        self.table("policies").load(policy_rows(inv.policies))
        self.update_counts()

    def mark(self, marks: Mapping[str, Mapping[str, str]]) -> None:
        """Outcomes by table and object id, as the run reports them (flushed in batches)."""
        for name, updates in marks.items():
            self.table(name).mark(updates)
        if marks:
            self.update_counts()

    def compact(self) -> None:
        """After a step: drop the rows it finished, once."""
        for table in self.query(RemainingTable):
            table.compact()

    def update_counts(self) -> None:
        """One line under the tabs with what remains in each table.

        Not in the tab labels: a relabelled tab moves the tab underline after the next layout,
        which lags behind when the screen is covered by a modal.
        """
        if self._gone:
            return
        # The users left to delete, as the checklist counts them: the kept ones apart.
        users = self.table("users").remaining - self._kept_users
        subs, apps, policies = (self.table(name).remaining for name in TABLES[1:])
        # Ten times a second while a step runs: a layout only when the line's shape changes.
        show_text(
            self.query_one("#remaining", Static),
            _("Remaining: {users} ({kept:,} kept) · {subscriptions} · {apps} · {policies}").format(
                users=ngettext("{n} user", "{n} users", users).format(n=f"{users:,}"),
                kept=self._kept_users,
                subscriptions=ngettext("{n} subscription", "{n} subscriptions", subs).format(
                    n=f"{subs:,}"
                ),
                apps=ngettext("{n} app", "{n} apps", apps).format(n=f"{apps:,}"),
                policies=ngettext("{n} policy", "{n} policies", policies).format(n=f"{policies:,}"),
            ),
        )

    def tenant_deleted(self) -> None:
        """The tenant is gone: the line says so, never the last read's counts."""
        self.query_one("#remaining", Static).update(
            _("Nothing remains: the tenant is deleted.")
        )
        self._gone = True

    # -- keep marks ------------------------------------------------------------------------------

    def mark_keep(self, engine: Engine, *, every_shown: bool) -> str | None:
        """``k`` (the cursor row) or ``K`` (every row shown): the rows show the mark at once,
        the plan is made again in a worker. Returns the line that says why nothing was
        marked, else None."""
        users = self.table("users")
        if self.active_table() is not users:
            return _("Only users can be kept: t switches to the Users tab.")
        if self._keeping:
            return _("Still making the plan for the last mark…")
        request = request_for(users, engine.plan, every_shown=every_shown)
        if isinstance(request, str):
            return request
        users.mark(dict.fromkeys(request.ids, request.shown))
        self._keeping = True
        self._keep_worker(engine, request)
        return None

    @work(thread=True, group="keep", exit_on_error=False, name="keep")
    def _keep_worker(self, engine: Engine, request: KeepRequest) -> None:
        try:
            plan = set_kept(engine, request.ids, keep=request.keep, keep_mfa=request.keep_mfa)
            # The steps' counts and details as the new plan has them.
            engine.assess(refresh=False)
        except Exception as exc:  # the marks are put back and the reason said
            log.warning("keep mark refused: %s", exc)
            self.post_message(self.KeepSaved(request, None, str(exc)))
        else:
            self.post_message(self.KeepSaved(request, plan))

    def on_remaining_pane_keep_saved(self, message: KeepSaved) -> None:
        self._keeping = False
        request, plan = message.request, message.plan
        users = self.table("users")
        if plan is None:
            users.mark(dict(request.before))
            self.notify(message.error, severity="error", timeout=8)
            return
        users.mark(status_in(plan, request.ids))
        kept, keep_mfa, _marked = kept_sets(plan)
        shown = users.keys()
        self._kept_users = sum(1 for i in kept if i in shown)
        if isinstance(self._users_signature, tuple):
            # The rows show the new plan already: the next read need not rebuild the table.
            self._users_signature = (kept, keep_mfa, self._users_signature[2])
        self.update_counts()
        self.notify(saved_text(request, plan), timeout=4)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row: every cell of it, whole (the columns cut long names)."""
        table = event.data_table
        if isinstance(table, RemainingTable) and event.row_key.value is not None:
            cells = table.row_cells(event.row_key.value)
            if cells:
                self.app.push_screen(FullTextModal(cells[1][1], row_text(cells)))

    # -- tabs and the filter ---------------------------------------------------------------------

    def next_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        panes = [p.id for p in tabs.query(TabPane)]
        if tabs.active in panes:
            tabs.active = panes[(panes.index(tabs.active) + 1) % len(panes)] or ""

    def active_table(self) -> RemainingTable:
        tabs = self.query_one(TabbedContent)
        pane = tabs.get_pane(tabs.active) if tabs.active else None
        if pane is not None:
            return pane.query_one(RemainingTable)
        return self.table("users")

    def open_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def close_filter(self) -> bool:
        """Clear and hide the filter; False if it was not open."""
        box = self.query_one("#filter", Input)
        if not box.display:
            return False
        box.value = ""
        box.display = False
        for table in self.query(RemainingTable):
            table.set_filter("")
        return True

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            # Debounced: filtering 50,000 rows costs a few hundred ms, not worth per keystroke.
            if self._filter_timer is not None:
                self._filter_timer.stop()
            value = event.value
            self._filter_timer = self.set_timer(0.25, lambda: self.active_table().set_filter(value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.active_table().focus()


def _columns(specs: list[tuple[str, str, int]]) -> list[ColumnSpec]:
    return [(key, _(label), width) for key, label, width in specs]


def _reload_or_mark(table: RemainingTable, rows: list[Row]) -> None:
    """Objects only disappear during a close-out: mark them instead of rebuilding 50,000 rows."""
    keys = {key for key, _cells in rows}
    if table.total and not keys - table.keys():
        gone = {
            key: "gone" for key in table.keys() - keys if table.status_of(key) not in FINAL_STATUSES
        }
        if gone:
            table.mark(gone)
        return
    table.load(rows)
