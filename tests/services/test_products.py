"""Product names: the shipped table, the lookups by skuId and by skuPartNumber with the code as
the fallback, loading it lazily, and ``scripts/refresh_products.py`` rebuilding it from
Microsoft's CSV (a fixture of real rows; a file, a loopback URL, the encodings and the errors).
"""

from __future__ import annotations

import functools
import http.server
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts import refresh_products
from services.products import DATA_FILE, Product, dump_table, parse_table, product, table
from services.sandbox import SandboxConfig
from services.sandbox.seed import build_tenant
from tests.support import FIXTURES, REPO

FIXTURE = FIXTURES / "licensing-sample.csv"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

SPE_E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"


# -- the shipped table and its lookups ---------------------------------------------------------


def test_a_sku_is_named_by_its_id_as_the_admin_center_names_it() -> None:
    p = product(SPE_E3, "SPE_E3")
    assert p.name == "Microsoft 365 E3"
    assert p.label == "Microsoft 365 E3 (SPE_E3)"
    assert p.to_json() == {
        "skuId": SPE_E3,
        "skuPartNumber": "SPE_E3",
        "productName": "Microsoft 365 E3",
    }
    # The id is the stable key: it wins over whatever code came with it, in any case.
    assert product(SPE_E3.upper(), None).name == "Microsoft 365 E3"
    assert product(SPE_E3, "SOMETHING_ELSE").name == "Microsoft 365 E3"


def test_without_an_id_the_code_finds_the_name() -> None:
    assert product(None, "ENTERPRISEPACK").name == "Office 365 E3"
    assert product("", "enterprisepack").name == "Office 365 E3"
    # An id the table does not know still falls back to the code.
    assert product("11111111-2222-3333-4444-555555555555", "POWER_BI_PRO").name == "Power BI Pro"


def test_an_unknown_sku_is_shown_by_its_code() -> None:
    p = product("11111111-2222-3333-4444-555555555555", "CONTOSO_CUSTOM_SKU")
    assert p.name is None
    assert p.display_name == p.label == "CONTOSO_CUSTOM_SKU"
    assert p.to_json()["productName"] == "CONTOSO_CUSTOM_SKU"
    # Nothing but an id: the id, never an empty cell.
    assert product("11111111-2222-3333-4444-555555555555", "").label == (
        "11111111-2222-3333-4444-555555555555"
    )


def test_a_code_the_table_gives_two_names_is_shown_as_the_code() -> None:
    t = parse_table(
        dump_table(
            [
                ("d43177b5-475b-4880-92d4-d54c27b5efbd", "MCOPSTN5", "Domestic Small"),
                ("54a152dc-90de-4996-93d2-bc47e670fc06", "MCOPSTN5", "Domestic (120 Minutes)"),
            ]
        )
    )
    assert t.name(None, "MCOPSTN5") is None  # never a guess
    assert t.name("54a152dc-90de-4996-93d2-bc47e670fc06", "MCOPSTN5") == "Domestic (120 Minutes)"


def test_the_shipped_table_is_microsofts_one_row_per_sku_with_its_source() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert any(line.startswith("# Source:") for line in header)
    assert any("commit" in line for line in header)  # the exact version it was built from
    t = parse_table(text)
    assert len(t) > 500
    assert all(GUID.match(sku_id) for sku_id in t.by_id)
    assert all(code and name for code, name in t.by_id.values())
    assert t is table() or len(table()) == len(t)


def test_the_sandbox_seeds_skus_that_exist_in_microsofts_table() -> None:
    tenant = build_tenant(SandboxConfig(users=5, seed=1))
    for sku in tenant.skus.values():
        entry = table().by_id.get(sku.sku_id)
        assert entry is not None, sku.sku_id
        assert entry[0] == sku.sku_part_number  # the code Graph would return for that id


def test_the_table_is_read_on_first_use_not_at_import() -> None:
    # A fresh interpreter: importing the app (CLI, TUI, engine) must not read the table.
    code = (
        "import app.cli, app.closeout_app, services.engine, services.products as p;"
        "print(p.table.cache_info().currsize);"
        "p.product(None, 'SPE_E3'); p.product(None, 'EMS');"
        "print(p.table.cache_info().currsize, p.table.cache_info().misses)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[0] == "0"
    assert out[1] == "1 1"  # read once for both lookups


# -- scripts/refresh_products.py ---------------------------------------------------------------


def test_refresh_builds_one_row_per_sku_from_the_csv(tmp_path: Path, capsys) -> None:
    out = tmp_path / "products.tsv"
    assert refresh_products.main([str(FIXTURE), "--out", str(out)]) == 0
    said = capsys.readouterr().out
    assert "7 products (new table)" in said
    assert "1 SKUs are listed under two names" in said
    text = out.read_text(encoding="utf-8")
    assert f"# Source: {FIXTURE}" in text
    t = parse_table(text)
    assert len(t) == 7  # 9 rows: Microsoft 365 E3 has two service plans, one SKU two names
    assert t.by_id[SPE_E3] == ("SPE_E3", "Microsoft 365 E3")
    # A renamed product listed twice: the first row's name, as in Microsoft's table.
    assert t.name("4b74a65c-8b4a-4fc8-9f6b-5177ed11ddfa") == "Microsoft Copilot Studio User License"
    # Stray whitespace in a cell (a tab after this code in Microsoft's CSV) is dropped.
    assert t.by_id["78362de1-6942-4bb8-83a1-a32aa67e6e2c"][0] == "RIGHTSMANAGEMENT_CE_GOV"
    assert t.name("b75074f1-4c54-41bf-970f-c9ac871567f5") == "Dynamics 365 Operations – Activity"

    # Again: the table is the same, and the summary says nothing changed.
    assert refresh_products.main([str(FIXTURE), "--out", str(out)]) == 0
    assert "(0 added, 0 removed, 0 renamed)" in capsys.readouterr().out


def test_refresh_reads_a_copy_excel_saved_as_windows_1252(tmp_path: Path) -> None:
    csv_1252 = tmp_path / "saved-by-excel.csv"
    csv_1252.write_bytes(FIXTURE.read_text(encoding="utf-8-sig").encode("cp1252"))
    out = tmp_path / "products.tsv"
    assert refresh_products.main([str(csv_1252), "--out", str(out), "--note", "Source: x"]) == 0
    t = parse_table(out.read_text(encoding="utf-8"))
    assert t.name("b75074f1-4c54-41bf-970f-c9ac871567f5") == "Dynamics 365 Operations – Activity"
    assert "# Source: x" in out.read_text(encoding="utf-8")


@pytest.fixture
def csv_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "licensing.csv").write_bytes(FIXTURE.read_bytes())
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/licensing.csv"
    server.shutdown()
    server.server_close()


def test_refresh_downloads_the_csv_from_a_url(tmp_path: Path, csv_url: str) -> None:
    out = tmp_path / "out" / "products.tsv"
    assert refresh_products.main([csv_url, "--out", str(out)]) == 0
    assert parse_table(out.read_text(encoding="utf-8")).name(SPE_E3) == "Microsoft 365 E3"
    missing = csv_url.replace("licensing.csv", "nothing-here.csv")
    assert refresh_products.main([missing, "--out", str(tmp_path / "other.tsv")]) == 2
    assert not (tmp_path / "other.tsv").exists()


def test_refresh_refuses_what_is_not_the_licensing_csv(tmp_path: Path, capsys) -> None:
    out = tmp_path / "products.tsv"
    out.write_text("# the previous table\nskuId\tskuPartNumber\tproductName\n", encoding="utf-8")
    before = out.read_bytes()

    wrong = tmp_path / "users.csv"
    wrong.write_text("UserPrincipalName,DisplayName\na@b.c,A\n", encoding="utf-8")
    assert refresh_products.main([str(wrong), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column Product_Display_Name, String_Id, GUID" in err

    empty = tmp_path / "empty.csv"
    empty.write_text(FIXTURE.read_text(encoding="utf-8-sig").splitlines()[0] + "\n")
    assert refresh_products.main([str(empty), "--out", str(out)]) == 1
    assert "left as it was" in capsys.readouterr().err

    assert refresh_products.main([str(tmp_path / "absent.csv"), "--out", str(out)]) == 2
    assert "could not read" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_product_is_a_plain_value() -> None:
    # Handoff items carry a Product and are compared to detect change: equality by value.
    assert product(SPE_E3, "SPE_E3") == Product(SPE_E3, "SPE_E3", "Microsoft 365 E3")
