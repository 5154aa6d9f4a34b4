"""A fake step for the tests that show the registry is the one list of steps: put in the
registry's place of a real one, the engine, the headless runner and the app follow it.

Not a test module itself; ``test_step_registry`` and ``tui/test_app_registry`` import it.
"""

from __future__ import annotations

from services import requirements
from services.models import StepId, StepState, StepStatus
from services.steps.base import StepContext
from services.steps.step import Asking, Assessing, Assessment, Confirmation, Host, Ran, Step


def fake_step(step_id: StepId, calls: list[StepId], *, depends_on: tuple[StepId, ...] = ()) -> Step:
    """A step an API runs, which changes nothing: pending until it ran once, done after.

    Each run appends ``step_id`` to ``calls``. It asks "Fake step N over M actions?" (M: the
    plan's actions) before it runs.
    """
    ran: list[bool] = []

    def assess(a: Assessing) -> Assessment:
        status = StepStatus.DONE if ran else StepStatus.PENDING
        return Assessment(StepState(step_id, status, "fake", done=len(ran), total=1))

    def run(ctx: StepContext, host: Host) -> Ran:
        ran.append(True)
        calls.append(step_id)
        return Ran()

    def confirm(ask: Asking) -> Confirmation:
        n = len(ask.plan.actions) if ask.plan else 0
        return Confirmation(
            f"Fake step {int(step_id)} over {n} actions?", "Fake?", ("A fake.",), "Go"
        )

    return Step(
        id=step_id,
        name="Fake",
        short_name="Fake",
        help="A fake step.",
        assess=assess,
        requires=requirements.StepNeeds(),
        depends_on=depends_on,
        run=run,
        run_label="fake it",
        confirm=confirm,
    )
