"""The subscriptions tab and step detail name each subscription as the admin center does, with
the SKU code in a column of its own; the filter finds a subscription by either."""

from __future__ import annotations

from textual.widgets import Input, TabbedContent

from services.models import StepId
from widgets import RemainingTable, StepChecklist, StepDetail

from .conftest import AppFactory, connected, sandbox_of, wait_for


async def test_the_subscriptions_tab_shows_product_names_beside_the_codes(
    make_app: AppFactory,
) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        main = app.main
        await pilot.press("t")
        assert main.query_one(TabbedContent).active == "tab-subscriptions"
        table = main.query_one("#table-subscriptions", RemainingTable)
        tenant = sandbox_of(app).tenant
        assert table.row_count == len(tenant.subscriptions)

        names = [c.plain for c in table.get_column("product")]
        codes = [c.plain for c in table.get_column("sku")]
        rows = set(zip(names, codes, strict=True))
        assert ("Microsoft 365 E3", "SPE_E3") in rows
        assert ("Microsoft 365 Business Standard", "O365_BUSINESS_PREMIUM") in rows
        assert ("Office 365 E3", "ENTERPRISEPACK") in rows
        # Every subscription of the tenant, by the code Graph gave and a name from the table.
        assert sorted(codes) == sorted(
            tenant.skus[s.sku_id].sku_part_number for s in tenant.subscriptions.values()
        )
        assert not set(names) & set(codes)

        # The filter finds a subscription by its product name.
        await pilot.press("slash", *"Business Standard", "enter")
        await wait_for(pilot, lambda: table.row_count == 1, "the filter to apply")
        assert table.get_row_at(0)[2].plain == "O365_BUSINESS_PREMIUM"
        await pilot.press("slash")
        assert main.query_one("#filter", Input).has_focus
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == len(tenant.subscriptions), "Esc")


async def test_step_2_detail_names_the_subscriptions_to_cancel(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await connected(pilot)
        checklist = app.main.query_one(StepChecklist)
        while checklist.selected != StepId.CANCEL_SUBSCRIPTIONS:
            await pilot.press("down")
        detail = app.main.query_one(StepDetail)
        await wait_for(pilot, lambda: "Microsoft 365 E3 (SPE_E3)" in detail.body_text, "detail")
        assert "Power BI Pro (POWER_BI_PRO) (trial)" in detail.body_text
