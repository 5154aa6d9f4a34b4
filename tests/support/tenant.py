"""A tenant as closeout records it, for the tests of what it writes offline (journal, evidence,
saved files): no sandbox behind it, a Swedish name to keep the encodings honest."""

from __future__ import annotations

from services.models import TenantInfo

TENANT_ID = "0b7e2c1a-5f3d-4e8a-9c6b-1d2e3f4a5b6c"
TENANT = TenantInfo(
    id=TENANT_ID,
    display_name="Contoso Ränteservice AB",
    initial_domain="contosorante.onmicrosoft.com",
    cloud="global",
    signed_in_upn="admin@contosorante.onmicrosoft.com",
    signed_in_id="11111111-1111-1111-1111-111111111111",
    app_only=False,
)
