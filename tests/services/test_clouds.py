"""Cloud endpoints and the --graph-url / --authority overrides."""

from __future__ import annotations

import pytest

from services.clouds import CLOUDS, resolve_cloud
from services.errors import CloseoutError


@pytest.mark.parametrize(
    ("name", "graph", "login", "admin", "entra"),
    [
        (
            "global",
            "https://graph.microsoft.com",
            "https://login.microsoftonline.com",
            "https://admin.microsoft.com",
            "https://entra.microsoft.com",
        ),
        (
            "usgov",
            "https://graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://portal.office365.us",
            "https://entra.microsoft.us",
        ),
        (
            "usdod",
            "https://dod-graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://portal.apps.mil",
            "https://entra.microsoft.us",
        ),
        (
            "china",
            "https://microsoftgraph.chinacloudapi.cn",
            "https://login.chinacloudapi.cn",
            "https://portal.partner.microsoftonline.cn",
            "https://entra.microsoftonline.cn",
        ),
    ],
)
def test_each_cloud_has_its_own_endpoints(name, graph, login, admin, entra):
    cloud = resolve_cloud(name)
    assert cloud.name == name
    assert cloud.graph_url == graph
    assert cloud.authority_host == login
    assert cloud.admin_center_url == admin
    assert cloud.entra_admin_center_url == entra
    assert cloud.authority_for("contoso.onmicrosoft.com") == f"{login}/contoso.onmicrosoft.com"
    assert cloud.authority_for() == f"{login}/organizations"
    assert cloud.scope("User.Read.All") == f"{graph}/User.Read.All"
    assert cloud.default_scope == f"{graph}/.default"
    assert not cloud.overridden


def test_names_are_case_insensitive_and_common_aliases_work():
    assert resolve_cloud("GLOBAL").name == "global"
    assert resolve_cloud("GccHigh").name == "usgov"
    assert resolve_cloud("dod").name == "usdod"
    assert resolve_cloud("21Vianet").name == "china"
    assert resolve_cloud("").name == "global"


def test_unknown_cloud_lists_the_valid_names():
    with pytest.raises(CloseoutError) as info:
        resolve_cloud("germany")
    assert "germany" in info.value.message
    for name in CLOUDS:
        assert name in info.value.hint


def test_graph_url_override_changes_where_requests_go_not_the_token_audience():
    cloud = resolve_cloud("usgov", graph_url="http://127.0.0.1:54321/")
    assert cloud.graph_url == "http://127.0.0.1:54321"
    assert cloud.overridden
    assert cloud.scope("User.Read") == "https://graph.microsoft.us/User.Read"
    assert cloud.authority_host == "https://login.microsoftonline.us"
    proxied = resolve_cloud("global", graph_url="https://proxy.example.com/graph")
    assert proxied.graph_url == "https://proxy.example.com/graph"


def test_authority_override_is_used_as_given():
    cloud = resolve_cloud("global", authority="http://localhost:8080/tenant-id/")
    assert cloud.authority_for("ignored") == "http://localhost:8080/tenant-id"
    assert cloud.authority_host == "http://localhost:8080"
    assert cloud.graph_url == "https://graph.microsoft.com"
    assert cloud.overridden


@pytest.mark.parametrize(
    "url",
    [
        "https://graph.microsoft.com/v1.0",
        "https://graph.microsoft.com/beta/",
        "ftp://graph.microsoft.com",
        "graph.microsoft.com",
        "http://graph.example.com",  # plain http off loopback would leak the bearer token
        "https://graph.microsoft.com/?x=1",
    ],
)
def test_bad_graph_urls_are_refused_with_a_hint(url):
    with pytest.raises(CloseoutError) as info:
        resolve_cloud("global", graph_url=url)
    assert info.value.hint


def test_loopback_http_is_allowed_for_the_sandbox():
    assert resolve_cloud(graph_url="http://[::1]:9000").graph_url == "http://[::1]:9000"
    assert resolve_cloud(graph_url="http://localhost:9000").graph_url == "http://localhost:9000"


def test_authority_without_tenant_is_refused():
    with pytest.raises(CloseoutError) as info:
        resolve_cloud("global", authority="https://login.microsoftonline.com")
    assert "tenant" in info.value.message
