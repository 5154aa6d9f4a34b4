"""The sandbox's Entra look-alike, checked on the wire: discovery, device code, token grants.

Raw HTTP against a real sandbox server, so that the JSON shapes msal depends on are pinned
here; tests/services/auth/test_auth.py drives the same endpoints through the real msal library.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from services.sandbox import SandboxConfig, start_sandbox
from services.sandbox.core import Sandbox
from services.sandbox.identity import provider as provider_module
from services.sandbox.identity.oauth import DEVICE_CODE_GRANT, JWT_BEARER_ASSERTION
from services.sandbox.identity.provider import (
    approve_device_code,
    deny_device_code,
    expire_device_code,
    identity_provider,
    pending_device_codes,
    register_app,
)
from services.sandbox.tokens import TokenRejected
from tests.support.certs import make_cert

CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"
SCOPES = "https://graph.microsoft.com/User.Read https://graph.microsoft.com/User.ReadWrite.All"
OIDC = "openid profile offline_access"


# -- nothing may leave the machine -----------------------------------------------------------


# The suite-wide guard in conftest.py refuses every non-loopback lookup and connection.


# -- helpers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    sandbox = start_sandbox(SandboxConfig(users=20, seed=3))
    yield sandbox
    sandbox.stop()


@pytest.fixture
def make_sandbox(make_sandbox: Any) -> Any:
    """conftest's factory (it stops what it started), with this file's small tenant."""
    return lambda **kw: make_sandbox(**{"users": 20, "seed": 3, **kw})


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(jwt: str) -> dict[str, Any]:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _devicecode(sb: Sandbox, scope: str = SCOPES, tenant: str | None = None) -> dict[str, Any]:
    resp = _session().post(
        f"{sb.base_url}/{tenant or sb.tenant_id}/oauth2/v2.0/devicecode",
        data={"client_id": CLIENT_ID, "scope": f"{scope} {OIDC}"},
        timeout=10,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def _poll(sb: Sandbox, device_code: str, client_id: str = CLIENT_ID) -> requests.Response:
    return _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": DEVICE_CODE_GRANT, "client_id": client_id, "device_code": device_code},
        headers={"client-request-id": "11111111-2222-3333-4444-555555555555"},
        timeout=10,
    )


def _assert_entra_error(resp: requests.Response, error: str, code: int) -> dict[str, Any]:
    assert resp.status_code in (400, 401), resp.text
    body = resp.json()
    assert body["error"] == error, body
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    for key in ("timestamp", "trace_id", "correlation_id"):
        assert body[key]
    return body


def _assertion(
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    client_id: str,
    audience: str,
    *,
    alg: str = "RS256",
) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if alg == "RS256":
        header["x5t"] = _b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1
        pad: padding.AsymmetricPadding = padding.PKCS1v15()
    else:
        header["x5t#S256"] = _b64url(hashlib.sha256(der).digest())
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    now = int(time.time())
    claims = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "exp": now + 600,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    signature = key.sign(signing_input.encode(), pad, hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _https(sb: Sandbox) -> str:
    return "https://" + sb.base_url.split("://", 1)[1]


def _client_credentials(sb: Sandbox, client_id: str, assertion: str, scope: str | None = None):
    return _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "scope": scope or "https://graph.microsoft.com/.default",
            "client_assertion_type": JWT_BEARER_ASSERTION,
            "client_assertion": assertion,
        },
        timeout=10,
    )


# -- discovery ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["id", "domain", "organizations"])
def test_openid_configuration_advertises_https_endpoints_on_the_sandbox_port(
    sb: Sandbox, which: str
) -> None:
    tenant = {"id": sb.tenant_id, "domain": sb.initial_domain, "organizations": "organizations"}[
        which
    ]
    resp = _session().get(f"{sb.base_url}/{tenant}/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 200
    conf = resp.json()
    base = _https(sb)
    expected_tenant = "organizations" if which == "organizations" else sb.tenant_id
    assert conf["token_endpoint"] == f"{base}/{expected_tenant}/oauth2/v2.0/token"
    assert conf["device_authorization_endpoint"] == (
        f"{base}/{expected_tenant}/oauth2/v2.0/devicecode"
    )
    assert conf["authorization_endpoint"].startswith(f"{base}/{expected_tenant}/")
    issuer = "{tenantid}" if which == "organizations" else sb.tenant_id
    assert conf["issuer"] == f"{base}/{issuer}/v2.0"


def test_unknown_tenant_is_aadsts90002(sb: Sandbox) -> None:
    resp = _session().get(
        f"{sb.base_url}/nosuch.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    body = _assert_entra_error(resp, "invalid_tenant", 90002)
    assert "Tenant 'nosuch.onmicrosoft.com' not found" in body["error_description"]


def test_deleted_tenant_is_not_found_any_more(make_sandbox: Any) -> None:
    sb = make_sandbox()
    url = f"{sb.base_url}/{sb.tenant_id}/v2.0/.well-known/openid-configuration"
    assert _session().get(url).status_code == 200
    with sb.lock:
        sb.tenant.deleted = True
    _assert_entra_error(_session().get(url), "invalid_tenant", 90002)
    resp = _session().post(
        f"{sb.base_url}/{sb.initial_domain}/oauth2/v2.0/devicecode",
        data={"client_id": CLIENT_ID, "scope": SCOPES},
    )
    _assert_entra_error(resp, "invalid_tenant", 90002)


# -- device code -------------------------------------------------------------------------------


def test_device_code_response_is_shaped_like_entra(sb: Sandbox) -> None:
    flow = _devicecode(sb)
    assert len(flow["user_code"]) == 9 and flow["user_code"].isalnum()
    assert flow["verification_uri"] == f"{sb.base_url}/devicelogin"
    assert flow["expires_in"] == 900
    assert flow["interval"] == 1
    assert flow["message"] == (
        f"To sign in, use a web browser to open the page {sb.base_url}/devicelogin and enter "
        f"the code {flow['user_code']} to authenticate."
    )
    assert len(flow["device_code"]) > 40


def test_device_code_pending_then_approved_through_the_control_endpoint(sb: Sandbox) -> None:
    flow = _devicecode(sb)
    body = _assert_entra_error(_poll(sb, flow["device_code"]), "authorization_pending", 70016)
    assert body["correlation_id"] == "11111111-2222-3333-4444-555555555555"

    listed = _session().get(f"{sb.base_url}/_sandbox/devicelogin").json()["value"]
    assert flow["user_code"] in [c["user_code"] for c in listed]
    assert flow["device_code"] not in json.dumps(listed)

    resp = _session().post(
        f"{sb.base_url}/_sandbox/devicelogin", json={"user_code": flow["user_code"]}
    )
    assert resp.status_code == 200
    assert resp.json()["status"] == "approved"
    assert resp.json()["upn"] == sb.admin_upn

    resp = _poll(sb, flow["device_code"])
    assert resp.status_code == 200, resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    token = resp.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == int(sb.config.token_lifetime)
    assert token["ext_expires_in"] == int(sb.config.token_lifetime)
    assert set(token["scope"].split()) == {*SCOPES.split(), "openid", "profile"}
    principal = sb.tokens.validate(token["access_token"])
    assert principal.user_id == sb.admin_id
    assert principal.upn == sb.admin_upn
    assert principal.scopes == {"User.Read", "User.ReadWrite.All"}
    assert sb.tokens.redeem_refresh_token(token["refresh_token"]) is not None

    id_claims = _claims(token["id_token"])
    assert id_claims["aud"] == CLIENT_ID
    assert id_claims["oid"] == sb.admin_id
    assert id_claims["tid"] == sb.tenant_id
    assert id_claims["preferred_username"] == sb.admin_upn
    assert id_claims["iss"] == f"{_https(sb)}/{sb.tenant_id}/v2.0"
    assert {"sub", "name", "iat", "exp"} <= id_claims.keys()
    info = json.loads(base64.urlsafe_b64decode(token["client_info"] + "=="))
    assert info == {"uid": sb.admin_id, "utid": sb.tenant_id}

    # A device code is good for one sign-in only.
    _assert_entra_error(_poll(sb, flow["device_code"]), "invalid_grant", 54005)


def test_device_code_is_bound_to_its_client(sb: Sandbox) -> None:
    flow = _devicecode(sb)
    approve_device_code(sb, flow["user_code"])
    _assert_entra_error(
        _poll(sb, flow["device_code"], client_id=str(uuid.uuid4())), "invalid_grant", 70000
    )


def test_declined_expired_and_unknown_codes(sb: Sandbox) -> None:
    declined = _devicecode(sb)
    resp = _session().post(
        f"{sb.base_url}/_sandbox/devicelogin",
        json={"user_code": declined["user_code"], "deny": True},
    )
    assert resp.json()["status"] == "denied"
    _assert_entra_error(_poll(sb, declined["device_code"]), "authorization_declined", 65004)

    expired = _devicecode(sb)
    expire_device_code(sb, expired["user_code"])
    _assert_entra_error(_poll(sb, expired["device_code"]), "expired_token", 70019)
    with pytest.raises(LookupError, match="expired"):
        approve_device_code(sb, expired["user_code"])

    _assert_entra_error(_poll(sb, "not-a-device-code"), "invalid_grant", 70000)
    resp = _session().post(f"{sb.base_url}/_sandbox/devicelogin", json={"user_code": "NOSUCHCODE"})
    assert resp.status_code == 404
    assert "wasn't found" in resp.json()["error"]["message"]


def test_conditional_access_blocks_device_code_after_sign_in(make_sandbox: Any) -> None:
    sb = make_sandbox(conditional_access_blocks_device_code=True)
    flow = _devicecode(sb)
    _assert_entra_error(_poll(sb, flow["device_code"]), "authorization_pending", 70016)
    approve_device_code(sb, flow["user_code"])
    body = _assert_entra_error(_poll(sb, flow["device_code"]), "invalid_grant", 53003)
    assert "Access has been blocked by Conditional Access policies" in body["error_description"]


def test_missing_consent_is_aadsts65001(make_sandbox: Any) -> None:
    sb = make_sandbox(granted_scopes=frozenset({"User.Read"}))
    flow = _devicecode(sb)
    approve_device_code(sb, flow["user_code"])
    body = _assert_entra_error(_poll(sb, flow["device_code"]), "invalid_grant", 65001)
    assert body["suberror"] == "consent_required"
    assert "has not consented to use the application" in body["error_description"]

    only_consented = _devicecode(sb, scope="User.Read")
    approve_device_code(sb, only_consented["user_code"])
    resp = _poll(sb, only_consented["device_code"])
    assert resp.status_code == 200
    assert sb.tokens.validate(resp.json()["access_token"]).scopes == {"User.Read"}


def test_scope_forms_are_normalized_and_foreign_resources_refused(sb: Sandbox) -> None:
    scope = f"User.Read https://graph.microsoft.com/Policy.Read.All {sb.base_url}/Application.ReadWrite.All"
    flow = _devicecode(sb, scope=scope)
    approve_device_code(sb, flow["user_code"])
    token = _poll(sb, flow["device_code"]).json()
    assert sb.tokens.validate(token["access_token"]).scopes == {
        "User.Read",
        "Policy.Read.All",
        "Application.ReadWrite.All",
    }
    # Echoed as asked for, so that msal's cache finds the token again.
    assert set(scope.split()) <= set(token["scope"].split())

    resp = _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/devicecode",
        data={"client_id": CLIENT_ID, "scope": "https://management.azure.com/user_impersonation"},
    )
    _assert_entra_error(resp, "invalid_resource", 500011)


def test_auto_approval_signs_in_the_admin_after_the_configured_delay(
    make_sandbox: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The identity provider's clock is the test's: on the real one, a loaded machine could
    # take the 0.3 s between issuing the code and the first poll, which would then be approved.
    now = [1000.0]
    monkeypatch.setattr(provider_module, "time", SimpleNamespace(monotonic=lambda: now[0]))
    sb = make_sandbox(device_code_auto_approve=0.3)
    flow = _devicecode(sb)
    _assert_entra_error(_poll(sb, flow["device_code"]), "authorization_pending", 70016)
    now[0] += 0.29
    _assert_entra_error(_poll(sb, flow["device_code"]), "authorization_pending", 70016)
    now[0] += 0.01
    resp = _poll(sb, flow["device_code"])
    assert resp.status_code == 200, resp.text
    assert sb.tokens.validate(resp.json()["access_token"]).user_id == sb.admin_id


def test_human_devicelogin_page_approves_as_the_named_user(sb: Sandbox) -> None:
    page = _session().get(f"{sb.base_url}/devicelogin")
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assert '<form method="post" action="/devicelogin">' in page.text

    other = next(u for u in sb.tenant.users.values() if u.id != sb.admin_id and u.account_enabled)
    flow = _devicecode(sb, scope="User.Read")
    typed = flow["user_code"].lower()[:4] + "-" + flow["user_code"].lower()[4:]
    resp = _session().post(
        f"{sb.base_url}/devicelogin",
        data={"user_code": typed, "upn": other.user_principal_name, "action": "approve"},
    )
    assert resp.status_code == 200, resp.text
    assert "You may now close this window" in resp.text
    token = _poll(sb, flow["device_code"]).json()
    assert sb.tokens.validate(token["access_token"]).user_id == other.id

    wrong = _session().post(f"{sb.base_url}/devicelogin", data={"user_code": "ZZZZZZZZZ"})
    assert wrong.status_code == 400
    assert "Check the code and try again" in wrong.text
    assert flow["user_code"] not in [c["user_code"] for c in pending_device_codes(sb)]


def test_unknown_or_disabled_user_cannot_approve(sb: Sandbox) -> None:
    flow = _devicecode(sb)
    with pytest.raises(LookupError, match="AADSTS50034"):
        approve_device_code(sb, flow["user_code"], upn=f"nobody@{sb.initial_domain}")
    deny_device_code(sb, flow["user_code"])
    with pytest.raises(LookupError, match="already used"):
        approve_device_code(sb, flow["user_code"])


# -- refresh tokens ---------------------------------------------------------------------------


def _signed_in(sb: Sandbox, scope: str = SCOPES) -> dict[str, Any]:
    flow = _devicecode(sb, scope=scope)
    approve_device_code(sb, flow["user_code"])
    resp = _poll(sb, flow["device_code"])
    assert resp.status_code == 200
    return resp.json()


def test_refresh_token_grant_issues_new_tokens(sb: Sandbox) -> None:
    first = _signed_in(sb)
    resp = _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "refresh_token": first["refresh_token"],
            "scope": f"{SCOPES} {OIDC}",
        },
    )
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] != first["refresh_token"]
    assert sb.tokens.validate(second["access_token"]).scopes == {"User.Read", "User.ReadWrite.All"}

    for client_id, rt in ((CLIENT_ID, "sbx-rt.bogus"), (str(uuid.uuid4()), first["refresh_token"])):
        bad = _session().post(
            f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
            data={"grant_type": "refresh_token", "client_id": client_id, "refresh_token": rt},
        )
        _assert_entra_error(bad, "invalid_grant", 70000)


def test_short_token_lifetime_is_what_the_token_says(make_sandbox: Any) -> None:
    sb = make_sandbox(token_lifetime=1)
    token = _signed_in(sb)
    assert token["expires_in"] == 1
    time.sleep(1.1)
    with pytest.raises(TokenRejected, match="expired"):
        sb.tokens.validate(token["access_token"])


def test_opaque_tokens_are_encrypted_yet_checked_like_the_readable_ones(make_sandbox: Any) -> None:
    sb = make_sandbox(opaque_tokens=True)
    token = _signed_in(sb)["access_token"]
    header, key, iv, ciphertext, tag = token.split(".")  # JWE compact form, "dir" key

    def unb64(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    assert key == "" and json.loads(unb64(header)) == {
        "alg": "dir",
        "enc": "A256GCM",
        "typ": "JWT",
    }
    assert sb.admin_upn.encode() not in unb64(ciphertext)
    assert sb.tokens.validate(token).scopes == {"User.Read", "User.ReadWrite.All"}
    resp = _session().get(f"{sb.base_url}/v1.0/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json()["id"] == sb.admin_id
    # Tampered with, it is refused; revoked, too.
    forged = ".".join((header, key, iv, ciphertext[:-4] + "AAAA", tag))
    with pytest.raises(TokenRejected):
        sb.tokens.validate(forged)
    sb.revoke(token)
    with pytest.raises(TokenRejected):
        sb.tokens.validate(token)
    assert len(sb.issue_app_token().split(".")) == 5


def test_unsupported_grant_type(sb: Sandbox) -> None:
    resp = _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": CLIENT_ID},
    )
    _assert_entra_error(resp, "unsupported_grant_type", 70003)


# -- client credentials with a certificate ------------------------------------------------------


@pytest.fixture(scope="module")
def app_cert(sb: Sandbox) -> tuple[str, rsa.RSAPrivateKey, x509.Certificate]:
    key, cert = make_cert()
    client_id = str(uuid.uuid4())
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    registration = register_app(sb, client_id, pem, {"User.ReadWrite.All", "Directory.Read.All"})
    assert registration.sha1_thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    return client_id, key, cert


@pytest.mark.parametrize("alg", ["RS256", "PS256"])
def test_client_credentials_with_a_certificate(sb: Sandbox, app_cert: Any, alg: str) -> None:
    client_id, key, cert = app_cert
    audience = f"{_https(sb)}/{sb.tenant_id}/oauth2/v2.0/token"
    resp = _client_credentials(sb, client_id, _assertion(key, cert, client_id, audience, alg=alg))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "refresh_token" not in body and "id_token" not in body
    principal = sb.tokens.validate(body["access_token"])
    assert principal.is_app_only
    assert principal.app_id == client_id
    assert principal.app_roles == {"User.ReadWrite.All", "Directory.Read.All"}
    assert "scp" not in _claims(body["access_token"])


def test_client_credentials_refusals(sb: Sandbox, app_cert: Any) -> None:
    client_id, key, cert = app_cert
    audience = f"{_https(sb)}/{sb.tenant_id}/oauth2/v2.0/token"

    other_key, other_cert = make_cert("someone-else")
    body = _assert_entra_error(
        _client_credentials(sb, client_id, _assertion(other_key, other_cert, client_id, audience)),
        "invalid_client",
        700027,
    )
    assert "The key was not found" in body["error_description"]
    assert other_cert.fingerprint(hashes.SHA1()).hex().upper() in body["error_description"]  # noqa: S303

    # The registered certificate's thumbprint, but signed with another key.
    forged = _assertion(other_key, cert, client_id, audience)
    body = _assert_entra_error(_client_credentials(sb, client_id, forged), "invalid_client", 700027)
    assert "did not match the expected signature" in body["error_description"]

    stranger = str(uuid.uuid4())
    _assert_entra_error(
        _client_credentials(sb, stranger, _assertion(key, cert, stranger, audience)),
        "unauthorized_client",
        700016,
    )

    # msal reuses one assertion for several minutes, so a seen jti is fine (as with Entra).
    reused = _assertion(key, cert, client_id, audience)
    assert _client_credentials(sb, client_id, reused).ok
    assert _client_credentials(sb, client_id, reused).ok

    _assert_entra_error(
        _client_credentials(
            sb, client_id, _assertion(key, cert, client_id, audience), scope="User.Read"
        ),
        "invalid_scope",
        1002012,
    )
    _assert_entra_error(
        _client_credentials(
            sb, client_id, _assertion(key, cert, client_id, f"{_https(sb)}/other/oauth2/v2.0/token")
        ),
        "invalid_client",
        700212,
    )
    resp = _session().post(
        f"{sb.base_url}/{sb.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    _assert_entra_error(resp, "invalid_client", 7000218)


def test_registrations_live_on_the_sandbox(sb: Sandbox, app_cert: Any) -> None:
    client_id, _, _ = app_cert
    registration = identity_provider(sb).app(client_id.upper())
    assert registration is not None
    assert "BEGIN CERTIFICATE" not in repr(registration)
    with pytest.raises(ValueError, match="PEM certificate"):
        register_app(sb, str(uuid.uuid4()), "not a certificate", set())
