"""services.auth against the sandbox over real HTTP, with the real msal library.

Device code sign-in, the token cache file, silent refresh, the plain-language errors, app-only
certificate sign-in and the bring-your-own token. A guard refuses every non-loopback name
lookup and connection, so no test can reach a Microsoft endpoint.
"""

from __future__ import annotations

import json
import logging
import stat
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization

from app.cli import build_parser
from app.cli.options import session_options
from services.auth.certificate import CertificateAuth
from services.auth.device_code import DeviceCodeAuth
from services.auth.loopback import LoopbackHttpClient, is_loopback_host, msal_route
from services.auth.provider import TokenProvider
from services.auth.scopes import (
    CONDITIONAL_ACCESS_WRITE,
    DEFAULT_CLIENT_ID,
    GRAPH_SCOPES,
    READ_ONLY_SCOPES,
    RUN_SCOPES,
    SECURITY_DEFAULTS_WRITE,
    claimed_permissions,
    is_app_only,
    scoped,
    token_claims,
)
from services.auth.static_token import ENV_ACCESS_TOKEN, StaticTokenAuth
from services.auth.token_cache import TokenCacheFile
from services.errors import AuthError
from services.sandbox import SandboxConfig, start_sandbox
from services.sandbox.core import Sandbox
from services.sandbox.identity.provider import (
    approve_device_code,
    deny_device_code,
    expire_device_code,
    identity_provider,
    pending_device_codes,
    register_app,
)
from services.sandbox.tokens import TokenRejected
from services.session import Session
from tests.support.certs import make_cert, write_pem
from tests.support.cli_harness import target_args

# -- nothing may leave the machine -----------------------------------------------------------


# The suite-wide guard in conftest.py refuses every non-loopback lookup and connection.


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs resolves the default cache path under here, never under the real $HOME."""
    home = tmp_path / "xdg-data"
    monkeypatch.setenv("XDG_DATA_HOME", str(home))
    monkeypatch.delenv(ENV_ACCESS_TOKEN, raising=False)
    return home


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


def _auth(sb: Sandbox, cache: TokenCacheFile | None, scopes: Any = GRAPH_SCOPES, **kw: Any):
    return DeviceCodeAuth(
        DEFAULT_CLIENT_ID, kw.pop("authority", sb.authority), list(scopes), cache=cache, **kw
    )


def _sign_in(sb: Sandbox, auth: DeviceCodeAuth, upn: str | None = None) -> None:
    prompt = auth.start()
    approve_device_code(sb, prompt.user_code, upn)
    auth.wait(prompt, threading.Event())
    assert auth.signed_in


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- device code flow end to end -----------------------------------------------------------------


def test_device_code_sign_in_then_silent_sign_in_from_the_cache_file(
    sb: Sandbox, tmp_path: Path
) -> None:
    cache_path = tmp_path / "cache" / "tokens.json"
    auth = _auth(sb, TokenCacheFile(cache_path))
    assert isinstance(auth, TokenProvider)
    assert auth.try_silent() is False
    with pytest.raises(AuthError, match="Not signed in"):
        auth.token()

    prompt = auth.start()
    assert len(prompt.user_code) == 9
    assert prompt.verification_uri == f"{sb.base_url}/devicelogin"
    assert prompt.user_code in prompt.message and prompt.verification_uri in prompt.message
    assert timedelta(minutes=14) < prompt.expires_at - datetime.now(UTC) <= timedelta(minutes=15)

    # Approve through the sandbox's control endpoint between wait()'s polls: its pause
    # between them is the server's interval (1 s here, not msal's default 5), on a stop event
    # that wakes at once, so the test judges the pauses asked for, not the machine's speed.
    class ApproveWhilePolling(threading.Event):
        def __init__(self) -> None:
            super().__init__()
            self.pauses: list[float | None] = []

        def wait(self, timeout: float | None = None) -> bool:
            self.pauses.append(timeout)
            if len(self.pauses) == 1:
                requests.post(
                    f"{sb.base_url}/_sandbox/devicelogin",
                    json={"user_code": prompt.user_code},
                    timeout=30,
                )
            return self.is_set()

    polls = ApproveWhilePolling()
    auth.wait(prompt, polls)
    assert polls.pauses == [identity_provider(sb).poll_interval]
    assert auth.signed_in

    token = auth.token()
    claims = token_claims(token)
    assert claims["oid"] == sb.admin_id
    assert claims["upn"] == sb.admin_upn
    assert claims["tid"] == sb.tenant_id
    assert set(claims["scp"].split()) == set(GRAPH_SCOPES)
    assert not is_app_only(token)
    assert auth.account_upn == sb.admin_upn
    assert auth.tenant_id == sb.tenant_id
    assert auth.granted_scopes == frozenset(GRAPH_SCOPES)
    assert sb.tokens.validate(token).user_id == sb.admin_id

    # A new process: same cache file, no device code, the very same (still valid) token.
    codes_before = len(identity_provider(sb)._by_user)
    again = _auth(sb, TokenCacheFile(cache_path))
    assert again.try_silent() is True
    assert again.token() == token
    assert again.account_upn == sb.admin_upn
    assert again.granted_scopes == frozenset(GRAPH_SCOPES)
    assert len(identity_provider(sb)._by_user) == codes_before

    # After a 401 the GraphClient forces one refresh: a different, valid token.
    refreshed = again.token(force_refresh=True)
    assert refreshed != token
    assert sb.tokens.validate(refreshed).user_id == sb.admin_id


def test_granted_scopes_come_from_msal_not_from_an_opaque_token(
    make_sandbox: Any, tmp_path: Path
) -> None:
    # Scopes a tenant consented to: fewer than asked for would fail sign-in (AADSTS65001), so
    # ask for exactly those; the tokens are encrypted, so only msal can say what they carry.
    sb = make_sandbox(opaque_tokens=True)
    asked = {"User.Read", "User.Read.All", "Policy.Read.All"}
    cache_path = tmp_path / "tokens.json"
    auth = _auth(sb, TokenCacheFile(cache_path), scopes=sorted(asked))
    _sign_in(sb, auth)
    token = auth.token()
    assert token_claims(token) == {}
    assert auth.granted_scopes == asked  # the token response's ``scope``
    # Another run signed in for other scopes: the cache now holds a second token.
    other = _auth(sb, TokenCacheFile(cache_path), scopes=["User.Read", "Application.Read.All"])
    _sign_in(sb, other)
    assert other.granted_scopes == {"User.Read", "Application.Read.All"}
    # A new process signs in from the cache: msal's cache entry for the very token it is
    # served says what that token carries (not everything the cache holds for the account).
    again = _auth(sb, TokenCacheFile(cache_path), scopes=sorted(asked))
    assert again.try_silent() is True and again.token() == token
    assert again.granted_scopes == asked


def test_silent_refresh_after_the_access_token_expired(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox(token_lifetime=1)
    cache_path = tmp_path / "tokens.json"
    auth = _auth(sb, TokenCacheFile(cache_path), scopes=READ_ONLY_SCOPES)
    _sign_in(sb, auth)
    old = auth.token()
    time.sleep(1.1)
    with pytest.raises(TokenRejected, match="expired"):
        sb.tokens.validate(old)

    # The refreshed token must still be valid when it is checked below: a one-second token
    # (exp = whole seconds) could expire in between on a loaded machine.
    sb.tokens.lifetime = 3600.0
    later = _auth(sb, TokenCacheFile(cache_path), scopes=READ_ONLY_SCOPES)
    assert later.try_silent() is True  # redeemed the cached refresh token
    new = later.token()
    assert new != old
    assert sb.tokens.validate(new).user_id == sb.admin_id
    assert later.granted_scopes == frozenset(READ_ONLY_SCOPES)


def test_revoked_refresh_token_means_sign_in_again(make_sandbox: Any, tmp_path: Path) -> None:
    sb = make_sandbox()
    cache = TokenCacheFile(tmp_path / "tokens.json")
    auth = _auth(sb, cache)
    _sign_in(sb, auth)
    token = auth.token()
    sb.tokens.revoke_all_for_user(sb.admin_id)
    with pytest.raises(AuthError) as info:
        auth.token(force_refresh=True)
    assert "sign in again" in str(info.value)
    assert token not in str(info.value) and token not in repr(info.value)
    assert (
        _auth(sb, TokenCacheFile(tmp_path / "tokens.json")).try_silent() is True
    )  # AT still cached
    sb.revoke(token)


def test_an_organizations_authority_with_two_cached_admins_does_not_guess(
    sb: Sandbox, tmp_path: Path
) -> None:
    cache_path = tmp_path / "tokens.json"
    organizations = f"{sb.base_url}/organizations"
    first = _auth(sb, TokenCacheFile(cache_path), authority=organizations)
    _sign_in(sb, first)
    one = _auth(sb, TokenCacheFile(cache_path), authority=organizations)
    assert one.try_silent() is True

    other = next(u for u in sb.tenant.users.values() if u.id != sb.admin_id and u.account_enabled)
    second = _auth(sb, TokenCacheFile(cache_path), authority=organizations)
    _sign_in(sb, second, other.user_principal_name)
    assert second.account_upn == other.user_principal_name
    assert _auth(sb, TokenCacheFile(cache_path), authority=organizations).try_silent() is False
    # Naming the tenant does not help here: both accounts live in it.
    assert _auth(sb, TokenCacheFile(cache_path)).try_silent() is False


def test_stop_during_wait_ends_the_wait(sb: Sandbox) -> None:
    auth = _auth(sb, None)
    prompt = auth.start()
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    auth.wait(prompt, stop)
    elapsed = time.monotonic() - started
    # Unstopped, the wait lasts until the code expires (15 min); a minute only guards
    # against that, whatever a loaded machine adds to msal's one-second polls.
    assert elapsed < 60, elapsed
    assert not auth.signed_in
    # The flow can be resumed with the same prompt.
    approve_device_code(sb, prompt.user_code)
    auth.wait(prompt, threading.Event())
    assert auth.signed_in


# -- the cache file -------------------------------------------------------------------------------


def test_cache_file_is_0600_in_a_0700_directory(sb: Sandbox, data_home: Path) -> None:
    default = TokenCacheFile.default_path()
    assert default == data_home / "closeout" / "msal_token_cache.json"
    auth = _auth(sb, TokenCacheFile(), scopes=["User.Read"])
    _sign_in(sb, auth)
    assert _mode(default) == 0o600
    assert _mode(default.parent) == 0o700
    assert not [p for p in default.parent.iterdir() if p.name.startswith(".")]  # no temp files
    state = json.loads(default.read_text())
    assert state["RefreshToken"] and state["AccessToken"]


def test_a_loose_existing_directory_is_tightened(sb: Sandbox, tmp_path: Path) -> None:
    directory = tmp_path / "shared"
    directory.mkdir(mode=0o755)
    directory.chmod(0o755)
    path = directory / "tokens.json"
    auth = _auth(sb, TokenCacheFile(path), scopes=["User.Read"])
    _sign_in(sb, auth)
    assert _mode(directory) == 0o700
    assert _mode(path) == 0o600

    # A cache file someone made world-readable is tightened when it is read.
    path.chmod(0o644)
    directory.chmod(0o755)
    TokenCacheFile(path)
    assert _mode(path) == 0o600
    assert _mode(directory) == 0o700


def test_cache_is_written_only_when_msal_changed_it(sb: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    cache = TokenCacheFile(path)
    assert cache.save() is False and not path.exists()
    auth = _auth(sb, cache, scopes=["User.Read"])
    _sign_in(sb, auth)
    written = path.stat().st_mtime_ns
    auth.token()  # an access-token cache hit changes nothing
    assert cache.save() is False
    assert path.stat().st_mtime_ns == written


def test_a_corrupt_cache_file_is_set_aside_with_a_warning(
    sb: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="services.auth"):
        cache = TokenCacheFile(path)
    assert not path.exists()
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("tokens.json.corrupt-")]
    assert len(aside) == 1 and aside[0].read_text() == "{not json"
    assert _mode(aside[0]) == 0o600
    assert any("could not be read" in r.getMessage() for r in caplog.records)
    auth = _auth(sb, cache, scopes=["User.Read"])
    assert auth.try_silent() is False
    _sign_in(sb, auth)
    assert json.loads(path.read_text())["Account"]


# -- secrets stay secret -----------------------------------------------------------------------


def test_no_token_text_in_any_log_record_or_error(
    make_sandbox: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sb = make_sandbox(token_lifetime=400)  # > msal's 5-minute margin: one cache hit, then refresh
    caplog.set_level(logging.DEBUG)  # the root logger: msal, urllib3, requests and ours
    cache_path = tmp_path / "tokens.json"
    auth = _auth(sb, TokenCacheFile(cache_path))
    prompt = auth.start()
    device_code = identity_provider(sb)._by_user[prompt.user_code].device_code
    approve_device_code(sb, prompt.user_code)
    auth.wait(prompt, threading.Event())
    tokens = {auth.token(), auth.token(force_refresh=True)}
    again = _auth(sb, TokenCacheFile(cache_path))
    assert again.try_silent()
    tokens.add(again.token())
    refresh_tokens = set(sb.tokens._refresh)  # every refresh token issued, not only the last
    sb.tokens.revoke_all_for_user(sb.admin_id)
    with pytest.raises(AuthError) as failed:
        again.token(force_refresh=True)

    state = json.loads(cache_path.read_text())
    secrets = {device_code, *tokens, *refresh_tokens}
    for kind in ("AccessToken", "RefreshToken", "IdToken"):
        secrets |= {entry["secret"] for entry in state[kind].values()}
    assert len(secrets) >= 6
    assert any(r.name.startswith("msal") and r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, f"secret in log record from {record.name}"
    for secret in secrets:
        assert secret not in str(failed.value) and secret not in repr(failed.value)
        assert secret not in repr(auth) and secret not in repr(again)


# -- plain-language errors ------------------------------------------------------------------------


def test_conditional_access_block_says_use_a_certificate_or_a_token(make_sandbox: Any) -> None:
    sb = make_sandbox(conditional_access_blocks_device_code=True, device_code_auto_approve=0)
    auth = _auth(sb, None)
    prompt = auth.start()
    with pytest.raises(AuthError) as info:
        auth.wait(prompt, threading.Event())
    text = str(info.value)
    assert "Conditional Access" in text and "AADSTS53003" in text
    assert "device code" in text
    assert "--certificate" in text and ENV_ACCESS_TOKEN in text
    assert not auth.signed_in


def test_missing_consent_names_the_scopes(make_sandbox: Any) -> None:
    sb = make_sandbox(granted_scopes=frozenset({"User.Read"}))
    auth = _auth(
        sb, None, scopes=scoped("https://graph.microsoft.com", ["User.Read", "User.ReadWrite.All"])
    )
    prompt = auth.start()
    approve_device_code(sb, prompt.user_code)
    with pytest.raises(AuthError) as info:
        auth.wait(prompt, threading.Event())
    text = str(info.value)
    assert "consent" in text.lower() and "AADSTS65001" in text
    assert "User.ReadWrite.All" in text and "https://" not in info.value.message
    assert "administrator must grant" in text.lower()


def test_wrong_tenant_is_reported_plainly(sb: Sandbox) -> None:
    auth = _auth(sb, None, authority=f"{sb.base_url}/nosuch.onmicrosoft.com")
    with pytest.raises(AuthError) as info:
        auth.try_silent()
    text = str(info.value)
    assert "Tenant 'nosuch.onmicrosoft.com' was not found" in text and "AADSTS90002" in text
    assert "--tenant" in text


def test_expired_and_declined_codes(sb: Sandbox) -> None:
    auth = _auth(sb, None)
    prompt = auth.start()
    expire_device_code(sb, prompt.user_code)
    with pytest.raises(AuthError, match="expired") as info:
        auth.wait(prompt, threading.Event())
    assert "start the sign-in again" in str(info.value)
    with pytest.raises(AuthError, match="No sign-in is in progress"):
        auth.wait(prompt, threading.Event())

    prompt = auth.start()
    deny_device_code(sb, prompt.user_code)
    with pytest.raises(AuthError, match="declined"):
        auth.wait(prompt, threading.Event())


def test_a_code_that_ran_out_locally_is_not_polled_again(sb: Sandbox) -> None:
    auth = _auth(sb, None)
    prompt = auth.start()
    auth._flows[prompt.user_code]["expires_at"] = time.time() - 1
    with pytest.raises(AuthError, match="expired"):
        auth.wait(prompt, threading.Event())


# -- app-only with a certificate ------------------------------------------------------------------


def test_certificate_client_credentials_end_to_end(sb: Sandbox, tmp_path: Path) -> None:
    key, cert = make_cert()
    client_id = str(uuid.uuid4())
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    register_app(sb, client_id, cert_pem, {"User.ReadWrite.All", "Organization.Read.All"})
    pem = write_pem(tmp_path / "app.pem", key, cert)

    auth = CertificateAuth(client_id, sb.authority, pem)
    assert auth.thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    token = auth.token()
    claims = token_claims(token)
    assert claims["roles"] == ["Organization.Read.All", "User.ReadWrite.All"]
    assert "scp" not in claims
    assert claims["appid"] == client_id and claims["tid"] == sb.tenant_id
    assert is_app_only(token) and is_app_only(claims)
    assert auth.account_upn is None
    # The roles are the token's to say, and closeout does not read tokens to decide: unknown.
    assert auth.granted_scopes is None
    assert claimed_permissions(claims) == {"User.ReadWrite.All", "Organization.Read.All"}
    assert auth.token() == token  # msal's cache
    fresh = auth.token(force_refresh=True)
    assert fresh != token and sb.tokens.validate(fresh).is_app_only
    assert "PRIVATE KEY" not in repr(auth)

    with pytest.raises(AuthError, match="does not match"):
        CertificateAuth(client_id, sb.authority, pem, thumbprint="00" * 20)
    same = CertificateAuth(client_id, sb.authority, pem, thumbprint=auth.thumbprint.lower())
    assert same.thumbprint == auth.thumbprint


def test_wrong_certificate_is_refused(sb: Sandbox, tmp_path: Path) -> None:
    key, cert = make_cert()
    other_key, other_cert = make_cert("not-registered")
    client_id = str(uuid.uuid4())
    register_app(sb, client_id, cert.public_bytes(serialization.Encoding.PEM), {"User.Read.All"})
    auth = CertificateAuth(
        client_id, sb.authority, write_pem(tmp_path / "o.pem", other_key, other_cert)
    )
    with pytest.raises(AuthError) as info:
        auth.token()
    text = str(info.value)
    assert "was not accepted" in text and auth.thumbprint in text
    assert "Certificates & secrets" in text

    unknown = CertificateAuth(
        str(uuid.uuid4()), sb.authority, write_pem(tmp_path / "k.pem", key, cert)
    )
    with pytest.raises(AuthError, match="AADSTS700016"):
        unknown.token()


def test_unusable_certificate_files(tmp_path: Path) -> None:
    authority = "http://127.0.0.1:9/contoso.onmicrosoft.com"  # never contacted: checks come first
    client_id = str(uuid.uuid4())
    with pytest.raises(AuthError, match="not found"):
        CertificateAuth(client_id, authority, tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("hello")
    with pytest.raises(AuthError, match="not a PEM file"):
        CertificateAuth(client_id, authority, garbage)

    key, cert = make_cert()
    other_key, _ = make_cert("other")
    mismatched = write_pem(tmp_path / "mismatch.pem", other_key, cert)
    with pytest.raises(AuthError, match="No certificate matching"):
        CertificateAuth(client_id, authority, mismatched)

    only_cert = tmp_path / "cert-only.pem"
    only_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(AuthError, match="No usable private key"):
        CertificateAuth(client_id, authority, only_cert)

    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
        + cert.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(AuthError, match="encrypted"):
        CertificateAuth(client_id, authority, encrypted)

    old_key, old_cert = make_cert("expired", days=-1)
    with pytest.raises(AuthError, match="expired on"):
        CertificateAuth(client_id, authority, write_pem(tmp_path / "old.pem", old_key, old_cert))

    # A directory where the file should be: unreadable even for root.
    unreadable = tmp_path / "unreadable.pem"
    unreadable.mkdir()
    with pytest.raises(AuthError, match="Cannot read the certificate file"):
        CertificateAuth(client_id, authority, unreadable)


# -- bring your own token ---------------------------------------------------------------------------


def test_static_token_cannot_be_refreshed(sb: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    token = sb.issue_token(scopes={"User.Read", "User.Read.All"})
    auth = StaticTokenAuth(f"Bearer {token}")
    assert isinstance(auth, TokenProvider)
    assert auth.token() == token
    assert auth.account_upn == sb.admin_upn
    # Unknown (closeout did not obtain it); what its claims say is a hint for messages only.
    assert auth.granted_scopes is None
    assert claimed_permissions(auth.claims) == {"User.Read", "User.Read.All"}
    assert token not in repr(auth)
    with pytest.raises(AuthError) as info:
        auth.token(force_refresh=True)
    text = str(info.value)
    assert "rejected" in text and "cannot renew" in text
    assert ENV_ACCESS_TOKEN in text and "az account get-access-token" in text
    assert token not in text

    # An expiry the token claims is not checked before sending (this machine's clock may be
    # wrong): Graph decides, and once it has refused the token the claim names the cause.
    stale = sb.issue_token(lifetime=-60)
    expired = StaticTokenAuth(stale)
    assert expired.token() == stale
    with pytest.raises(AuthError, match="expired at"):
        expired.token(force_refresh=True)

    assert StaticTokenAuth.from_environment() is None
    monkeypatch.setenv(ENV_ACCESS_TOKEN, f"  {token}\n")
    from_env = StaticTokenAuth.from_environment()
    assert from_env is not None and from_env.token() == token
    # Set but blank is what a failed $(az ...) leaves: said, not taken for "unset".
    with pytest.raises(AuthError, match="set but empty"):
        StaticTokenAuth.from_environment({ENV_ACCESS_TOKEN: " "})
    with pytest.raises(AuthError, match="usable access token"):
        StaticTokenAuth("two words")
    assert StaticTokenAuth("opaque-token").claims == {}
    assert StaticTokenAuth("opaque-token").token() == "opaque-token"


# -- the scopes a run asks for ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "extra"),
    [
        ([], set()),
        (["--disable-ca-mfa"], {CONDITIONAL_ACCESS_WRITE}),
        (["--disable-security-defaults"], {SECURITY_DEFAULTS_WRITE}),
        (
            ["--disable-ca-mfa", "--disable-security-defaults"],
            {CONDITIONAL_ACCESS_WRITE, SECURITY_DEFAULTS_WRITE},
        ),
    ],
)
def test_device_code_asks_only_for_the_scopes_the_run_needs(
    make_sandbox, tmp_path: Path, options: list[str], extra: set[str]
) -> None:
    sb = make_sandbox(users=10, seed=2)
    args = build_parser().parse_args(["run", "--headless", *options, *target_args(sb, tmp_path)])
    session = Session(session_options(args))
    try:
        prompt = session.start_device_code()  # msal → the sandbox's /devicecode over HTTP
    finally:
        session.close()
    (code,) = [c for c in pending_device_codes(sb) if c["user_code"] == prompt.user_code]
    asked = set(code["scopes"]) - {"openid", "profile", "offline_access"}
    assert asked == set(RUN_SCOPES) | extra


def test_read_only_asks_for_read_scopes_only(make_sandbox, tmp_path: Path) -> None:
    sb = make_sandbox(users=10, seed=2)
    args = build_parser().parse_args(
        ["plan", "--read-only", "--disable-ca-mfa", *target_args(sb, tmp_path)]
    )
    session = Session(session_options(args))
    try:
        prompt = session.start_device_code()
    finally:
        session.close()
    (code,) = [c for c in pending_device_codes(sb) if c["user_code"] == prompt.user_code]
    asked = set(code["scopes"]) - {"openid", "profile", "offline_access"}
    assert asked == set(READ_ONLY_SCOPES)


def test_a_tenant_that_never_consented_to_the_policy_writes_can_still_sign_in(
    make_sandbox, tmp_path: Path
) -> None:
    sb = make_sandbox(granted_scopes=frozenset(RUN_SCOPES))
    for options, consented in (([], True), (["--disable-ca-mfa"], False)):
        args = build_parser().parse_args(
            ["run", "--headless", *options, *target_args(sb, tmp_path)]
        )
        session = Session(session_options(args))
        try:
            prompt = session.start_device_code()
            approve_device_code(sb, prompt.user_code)
            if consented:
                session.wait_device_code(prompt, threading.Event())
                assert session.auth.granted_scopes == set(RUN_SCOPES)
            else:
                with pytest.raises(AuthError, match="AADSTS65001"):
                    session.wait_device_code(prompt, threading.Event())
        finally:
            session.close()


# -- claims, scopes, routes ---------------------------------------------------------------------


def test_token_claims_and_app_only() -> None:
    assert token_claims("not-a-jwt") == {}
    assert token_claims("a.b.c.d.e") == {}
    assert token_claims("x.%%%.y") == {}
    assert is_app_only({"roles": ["User.Read.All"]})
    assert not is_app_only({"scp": "User.Read", "roles": ["x"]})
    assert not is_app_only({})


def test_scopes_are_qualified_per_cloud() -> None:
    assert scoped(None, ["User.Read"]) == ["User.Read"]
    assert scoped("https://graph.microsoft.us/", ["User.Read", "openid"]) == [
        "https://graph.microsoft.us/User.Read",
        "openid",
    ]
    assert scoped("https://graph.microsoft.us", ["https://graph.microsoft.us/User.Read"]) == [
        "https://graph.microsoft.us/User.Read"
    ]
    assert "Directory.AccessAsUser.All" in GRAPH_SCOPES and len(GRAPH_SCOPES) == 11
    assert not any(
        s.startswith(("User.ReadWrite", "Application.ReadWrite")) for s in READ_ONLY_SCOPES
    )


def test_loopback_http_client_refuses_other_hosts(network_attempts: list[str]) -> None:
    client = LoopbackHttpClient()
    for url in (
        "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration",
        "https://127.0.0.1.example.com/x",
        "ftp://127.0.0.1/x",
    ):
        with pytest.raises(AuthError, match="Refused"):
            client.get(url)
        with pytest.raises(AuthError, match="Refused"):
            client.post(url, data={"a": "b"})
    assert network_attempts == []  # refused before any lookup
    assert (
        LoopbackHttpClient.to_loopback_http("https://[::1]:8443/t?x=1") == "http://[::1]:8443/t?x=1"
    )
    assert is_loopback_host("localhost") and is_loopback_host("127.8.9.10")
    assert not is_loopback_host("login.microsoftonline.com") and not is_loopback_host(None)


def test_routes_by_authority_host() -> None:
    sandbox = msal_route("http://127.0.0.1:8080/contoso.onmicrosoft.com", None)
    assert sandbox.authority == "https://127.0.0.1:8080/contoso.onmicrosoft.com"
    assert isinstance(sandbox.http_client, LoopbackHttpClient)
    assert sandbox.instance_discovery is False

    for host in ("login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn"):
        real = msal_route(f"https://{host}/organizations", None)
        assert real.http_client is None and real.instance_discovery is None

    other = msal_route("https://login.example.org/tenant", None)
    assert other.http_client is None and other.instance_discovery is False
    with pytest.raises(AuthError, match="plain http"):
        msal_route("http://login.example.org/tenant", None)
    with pytest.raises(AuthError, match="Invalid authority"):
        msal_route("https://login.microsoftonline.com", None)


def test_a_real_cloud_authority_uses_msal_default_client_and_the_guard_holds(
    network_attempts: list[str],
) -> None:
    auth = DeviceCodeAuth(
        DEFAULT_CLIENT_ID,
        "https://login.microsoftonline.com/organizations",
        list(GRAPH_SCOPES),
        cache=None,
    )
    with pytest.raises(
        AuthError, match=r"Could not reach the sign-in service at login\.microsoftonline\.com"
    ):
        auth.try_silent()
    assert "login.microsoftonline.com" in network_attempts
    with pytest.raises(requests.ConnectionError):
        requests.get("https://graph.microsoft.com/v1.0/me", timeout=5)
