"""The sandbox tenant: a simulated Microsoft 365 organization served as Graph over loopback HTTP.

What the demo, the tests and the benchmark run against (design.md §6). Nothing in the real
code path may call its ``/_sandbox/…`` control endpoints.

Where things live: :mod:`.core` (the ``Sandbox``: state and dispatch, built on :mod:`.host`,
:mod:`.sim_time` (simulated time) and :mod:`.admin_center` (the admin centers' part)),
:mod:`.routing` (the one table of every endpoint), :mod:`.graph_api` (Graph, one module per
resource), :mod:`.identity` (the Entra look-alike), :mod:`.control_api` (``/_sandbox/…``), and
the parts they share: :mod:`.tenant`, :mod:`.seed`, :mod:`.config`, :mod:`.http`,
:mod:`.odata`, :mod:`.authz`, :mod:`.tokens`, :mod:`.throttle`, :mod:`.faults`,
:mod:`.recorder`, :mod:`.clock`, :mod:`.server`; :mod:`.portal` plays the admin in the demo.
"""

from __future__ import annotations

from .config import SandboxConfig
from .core import Sandbox
from .faults import FaultRule


def start_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """Build a seeded tenant and serve it on loopback; call ``.stop()`` when done."""
    return Sandbox(config).start()


__all__ = ["FaultRule", "Sandbox", "SandboxConfig", "start_sandbox"]
