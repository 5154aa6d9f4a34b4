"""Error types, Graph error-body parsing, Retry-After parsing, redaction and guidance."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from services.errors import (
    AuthError,
    CloseoutError,
    GraphError,
    NetworkError,
    ReadOnlyViolation,
    Stopped,
    parse_retry_after,
    redact,
)
from services.guidance import guidance_for, split_version

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJvaWQiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlLXZhbHVl"

GRAPH_BODY = {
    "error": {
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
        "innerError": {
            "date": "2024-05-01T12:00:00",
            "request-id": "11111111-2222-3333-4444-555555555555",
            "client-request-id": "66666666-7777-8888-9999-000000000000",
            "code": "InnerCode",
        },
    }
}


def test_parses_a_graph_error_body_with_inner_error():
    err = GraphError.from_parts(
        403,
        json.dumps(GRAPH_BODY).encode(),
        {"Retry-After": "3"},
        method="delete",
        path="/v1.0/users/abc",
    )
    assert err.status == 403
    assert err.code == "Authorization_RequestDenied"
    assert err.message == "Insufficient privileges to complete the operation."
    assert err.request_id == "11111111-2222-3333-4444-555555555555"
    assert err.client_request_id == "66666666-7777-8888-9999-000000000000"
    assert err.inner_code == "InnerCode"
    assert err.method == "DELETE"
    assert err.path == "/v1.0/users/abc"
    assert err.retry_after == 3.0
    assert isinstance(err, CloseoutError)
    text = str(err)
    assert "403 Authorization_RequestDenied" in text and "request-id 11111111" in text
    assert "User.ReadWrite.All" in err.guidance
    assert err.hint == err.guidance


def test_request_ids_fall_back_to_headers_and_the_sent_id():
    body = {"error": {"code": "Request_ResourceNotFound", "message": "gone"}}
    err = GraphError.from_parts(
        404,
        body,  # already-decoded body, as in a $batch sub-response
        {"REQUEST-ID": "rid-from-header"},
        method="GET",
        path="/v1.0/users/x",
        client_request_id="crid-we-sent",
    )
    assert err.request_id == "rid-from-header"
    assert err.client_request_id == "crid-we-sent"
    assert err.inner_code is None
    assert err.retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "code", "needle"),
    [
        (
            502,
            b"<html><head><style>p{}</style></head><body><h1>502 Bad Gateway</h1></body></html>",
            "BadGateway",
            "502 Bad Gateway",
        ),
        (503, b"upstream connect error", "ServiceUnavailable", "upstream connect error"),
        (500, b"", "InternalServerError", "Internal Server Error"),
        (429, b'{"not_error": 1}', "TooManyRequests", '{"not_error": 1}'),
        (400, b'{"error": "a string, not an object"}', "BadRequest", "a string"),
        (599, b"\xff\xfe binary", "Http599", "binary"),
    ],
)
def test_tolerates_bodies_that_are_not_graph_errors(status, body, code, needle):
    err = GraphError.from_parts(status, body, {}, method="GET", path="/v1.0/users")
    assert err.status == status
    assert err.code == code
    assert needle in err.message
    assert "<" not in err.message


def test_long_non_json_bodies_are_shortened():
    err = GraphError.from_parts(500, "x" * 5000, None)
    assert len(err.message) <= 300


def test_from_response_reads_a_requests_response():
    resp = requests.Response()
    resp.status_code = 429
    resp._content = json.dumps(
        {"error": {"code": "TooManyRequests", "message": "Please retry again later."}}
    ).encode()
    resp.headers["Retry-After"] = "2.128"
    resp.headers["request-id"] = "rid"
    resp.url = "https://graph.microsoft.com/v1.0/users"
    err = GraphError.from_response(resp, method="GET", path="/v1.0/users")
    assert (err.status, err.code, err.retry_after, err.request_id) == (
        429,
        "TooManyRequests",
        2.128,
        "rid",
    )
    assert err.is_throttled and err.is_transient
    assert "throttl" in err.guidance


def test_error_messages_never_carry_tokens():
    body = {"error": {"code": "X", "message": f"bad header Authorization: Bearer {TOKEN}"}}
    err = GraphError.from_parts(400, body, {})
    assert TOKEN not in err.message and TOKEN not in str(err)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.128", 2.128),
        ("30", 30.0),
        (" 0 ", 0.0),
        ("-1", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after_seconds(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    later = (now + timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(later, now=now) == pytest.approx(90.0)
    earlier = (now - timedelta(seconds=90)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert parse_retry_after(earlier, now=now) == 0.0


def test_redact_removes_bearer_tokens_jwts_and_given_secrets():
    text = (
        f"headers={{'Authorization': 'Bearer {TOKEN}'}} raw {TOKEN} "
        "Authorization: Bearer opaque.token-value secret123 done"
    )
    out = redact(text, "secret123", None)
    assert TOKEN not in out
    assert "opaque.token-value" not in out
    assert "secret123" not in out
    assert out.endswith("done")


def test_network_error_is_plain_and_token_free():
    cause = requests.ConnectionError(
        f"HTTPSConnectionPool(host='graph.microsoft.com', port=443): Max retries exceeded "
        f"(Caused by NewConnectionError('Failed to establish a new connection: refused "
        f"Bearer {TOKEN}'))"
    )
    err = NetworkError("get", "/v1.0/users", cause, attempts=3, secrets=(TOKEN,))
    assert err.method == "GET" and err.kind == "ConnectionError"
    assert "after 3 attempts" in err.message
    assert "Failed to establish a new connection" in err.message
    assert "HTTPSConnectionPool" not in err.message
    assert TOKEN not in str(err)
    assert err.hint


def test_other_error_types():
    ro = ReadOnlyViolation("delete", "/users/x")
    assert "Read-only" in ro.message and ro.method == "DELETE" and "--read-only" in ro.hint
    assert isinstance(Stopped(), CloseoutError)
    assert str(AuthError("no token", hint="sign in")) == "no token (sign in)"
    assert str(CloseoutError("plain")) == "plain"


# -- guidance ------------------------------------------------------------------------------


def test_guidance_403_delete_user_names_roles_and_scopes():
    text = guidance_for(
        "DELETE",
        "/v1.0/users/0a1b",
        403,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
    assert "User Administrator" in text
    assert "Privileged Authentication Administrator" in text
    assert "User.ReadWrite.All" in text and "User.DeleteRestore.All" in text
    assert "Directory.AccessAsUser.All" in text


@pytest.mark.parametrize(
    ("method", "path", "needles"),
    [
        (
            "PATCH",
            "/beta/users/u1/authentication/requirements",
            ["Authentication Policy Administrator", "Policy.ReadWrite.AuthenticationMethod"],
        ),
        (
            "PATCH",
            "https://graph.microsoft.com/v1.0/organization/t1",
            ["Organization.ReadWrite.All", "Hybrid Identity Administrator"],
        ),
        (
            "PATCH",
            "/v1.0/identity/conditionalAccess/policies/p1",
            ["Policy.ReadWrite.ConditionalAccess"],
        ),
        ("GET", "/v1.0/users?$top=999", ["User.Read.All"]),
        ("GET", "/v1.0/subscribedSkus", ["Organization.Read.All"]),
        ("DELETE", "/v1.0/directory/deletedItems/d1", ["User.DeleteRestore.All"]),
        ("DELETE", "/v1.0/servicePrincipals/s1", ["Application.ReadWrite.All"]),
        (
            "PATCH",
            "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
            ["Policy.ReadWrite.SecurityDefaults"],
        ),
    ],
)
def test_guidance_403_names_the_permission_for_each_endpoint(method, path, needles):
    text = guidance_for(method, path, 403, "Authorization_RequestDenied", "Insufficient")
    for needle in needles:
        assert needle in text


@pytest.mark.parametrize(
    ("method", "path", "shown"),
    [
        ("GET", "/v1.0/organization?$select=id,displayName", "GET /organization needs"),
        ("GET", "https://graph.microsoft.com/v1.0/users?$top=999", "GET /users needs"),
        ("PATCH", "/v1.0/organization/t1", "PATCH /organization/t1 needs"),
        ("DELETE", "/v1.0/users/0a1b", "DELETE /users/0a1b needs"),
        ("GET", "/me/transitiveMemberOf/microsoft.graph.directoryRole", "GET /me/transitiveMemberOf"),
    ],
)
def test_guidance_403_names_the_path_that_was_refused_not_a_pattern(method, path, shown):
    # Issue 9 item 14: the hint said "GET /organization{rest} needs ...".
    text = guidance_for(method, path, 403, "Authorization_RequestDenied", "Insufficient")
    assert shown in text
    assert "{" not in text and "}" not in text


def test_guidance_403_unknown_endpoint_is_generic():
    text = guidance_for("POST", "/v1.0/somethingElse", 403, "Forbidden", "no")
    assert "Access denied" in text and "role" in text


def test_guidance_known_errors():
    assert (
        "sign in again"
        in guidance_for(
            "GET", "/v1.0/me", 401, "InvalidAuthenticationToken", "Access token has expired"
        ).lower()
    )
    sync = guidance_for(
        "DELETE",
        "/v1.0/users/u",
        400,
        "Request_BadRequest",
        "Unable to update the specified properties for on-premises mastered Directory Sync "
        "objects or objects currently undergoing migration.",
    )
    assert "synchronized from on-premises" in sync and "turn directory sync off" in sync
    assert "throttl" in guidance_for("GET", "/v1.0/users", 429, "TooManyRequests", "")
    assert "no longer exists" in guidance_for(
        "GET", "/v1.0/users/x", 404, "Request_ResourceNotFound", "Resource not found"
    )
    beta_only = guidance_for(
        "GET", "/v1.0/users/x/authentication/requirements", 405, "Request_BadRequest", ""
    )
    assert "beta" in beta_only and "per-user MFA" in beta_only
    count = guidance_for(
        "GET",
        "/v1.0/users/$count",
        400,
        "Request_UnsupportedQuery",
        "$count is not currently supported.",
    )
    assert "ConsistencyLevel: eventual" in count
    assert "999" in guidance_for(
        "GET",
        "/v1.0/users",
        400,
        "Request_UnsupportedQuery",
        "Invalid page size specified: '1000'. Must be between 1 and 999 inclusive.",
    )
    assert "temporary" in guidance_for("GET", "/v1.0/users", 503, "ServiceUnavailable", "")
    assert "retries" in guidance_for("DELETE", "/v1.0/users/x", 424, "FailedDependency", "")


def test_guidance_unknown_error_is_empty_and_plain_400_is_not_called_sync():
    assert guidance_for("PATCH", "/v1.0/users/x", 400, "Request_BadRequest", "Invalid value") == ""
    assert guidance_for("GET", "/v1.0/users", 418, "Teapot", "") == ""


def test_split_version():
    assert split_version("/v1.0/users/x?$top=1") == ("v1.0", "/users/x")
    assert split_version("https://graph.microsoft.com/beta/users") == ("beta", "/users")
    assert split_version("/users/x") == (None, "/users/x")
    assert split_version("users") == (None, "/users")
