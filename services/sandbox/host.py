"""What every part of the sandbox reads: its configuration, clock, tenant, lock, recorder
and tokens (set by :class:`.core.Sandbox`), and who the tenant and its admin are.
"""

from __future__ import annotations

import threading

from .clock import SimClock
from .config import SandboxConfig
from .recorder import Recorder
from .tenant import Tenant
from .tokens import TokenStore


class SandboxHost:
    """The state the sandbox's parts share; :class:`.core.Sandbox` sets it up."""

    config: SandboxConfig
    clock: SimClock
    tenant: Tenant
    lock: threading.RLock
    recorder: Recorder
    tokens: TokenStore

    # -- identity of the tenant -------------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return self.tenant.org.id

    @property
    def initial_domain(self) -> str:
        return self.tenant.org.initial_domain

    @property
    def admin_id(self) -> str:
        return self.tenant.admin_id

    @property
    def admin_upn(self) -> str:
        admin = self.tenant.users.get(self.tenant.admin_id)
        return admin.user_principal_name if admin else ""
