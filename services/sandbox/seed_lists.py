"""What seeded tenants are made of: the Microsoft and partner tenants they deal with,
company, given and family names, departments, and the SKUs (with their service plans)
a small business buys.
"""

from __future__ import annotations

MICROSOFT_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
PARTNER_TENANT = "5b7f2a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b"

COMPANIES = ["Fabrikam", "Contoso", "Northwind", "Tailspin", "Litware", "Adatum", "Wingtip"]
GIVEN = [
    "Anna",
    "Erik",
    "Maja",
    "Lars",
    "Sara",
    "Johan",
    "Elin",
    "Karl",
    "Emma",
    "Nils",
    "Ida",
    "Olof",
    "Linnea",
    "Per",
    "Astrid",
    "Gustav",
    "Frida",
    "Axel",
    "Klara",
    "Oskar",
    "Alice",
    "Hugo",
    "Ebba",
    "Leo",
    "Saga",
    "Viktor",
    "Tilda",
    "Arvid",
    "Signe",
    "Emil",
]
SURNAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Holm",
    "Berg",
    "Lund",
    "Sjöberg",
    "Åkesson",
    "Öberg",
]
DEPARTMENTS = ["Sales", "Finance", "Engineering", "Support", "Marketing", "Operations", "HR"]

# (skuId, skuPartNumber, [(servicePlanId, servicePlanName)])
SKUS = [
    (
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        "SPE_E3",
        [
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
            ("43de0ff5-c92c-492b-9116-175376d08c38", "OFFICESUBSCRIPTION"),
        ],
    ),
    (
        "f245ecc8-75af-4f8e-b61f-27d8114de5f3",
        "O365_BUSINESS_PREMIUM",
        [
            ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD"),
            ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SHAREPOINTSTANDARD"),
            ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"),
        ],
    ),
    (
        "f8a1db68-be16-40ed-86d5-cb42ce701560",
        "POWER_BI_PRO",
        [("70d33638-9c74-4d01-bfd3-562de28bd4ba", "BI_AZURE_P2")],
    ),
    (
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        "EMS",
        [("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AAD_PREMIUM")],
    ),
    (
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        "ENTERPRISEPACK",
        [
            ("efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"),
            ("5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"),
        ],
    ),
    (
        "f30db892-07e9-47e9-837c-80727f46fd3d",
        "FLOW_FREE",
        [("50e68c76-46c6-4674-81f9-75456511b170", "FLOW_P2_VIRAL")],
    ),
]
# Free Power BI: a self-service sign-up product (viral_enabled seeds it enabled).
VIRAL_SKU = (
    "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235",
    "POWER_BI_STANDARD",
    [("2049e525-b859-401b-b2a0-e0a31c4b1fe4", "BI_AZURE_P0")],
)
