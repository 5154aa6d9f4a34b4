"""The OAuth wire format of the sandbox's identity endpoints, as Entra speaks it.

Owns the ``AADSTS`` error and its JSON rendering, ``no-store`` JSON responses, form bodies and
their required parameters, base64url, and the https base URL the endpoints advertise: msal
insists on https authorities, so discovery advertises ``https://127.0.0.1:PORT/…`` while the
server itself speaks plain http (``services.auth`` maps them back for loopback hosts only).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from services.sandbox.http import Request, Response

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JSON_TYPE = "application/json; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


class IdentityError(Exception):
    """An Entra-shaped OAuth error: rendered as ``{"error", "error_description", ...}``."""

    def __init__(
        self,
        error: str,
        code: int,
        description: str,
        *,
        status: int = 400,
        suberror: str | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.error = error
        self.code = code
        self.description = description
        self.status = status
        self.suberror = suberror


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def https_base(sb: Sandbox) -> str:
    """The advertised base URL: the server's own, but https (msal refuses anything else)."""
    base = sb.base_url
    return "https://" + base.split("://", 1)[1] if "://" in base else base


def error_response(sb: Sandbox, req: Request, err: IdentityError) -> Response:
    now = datetime.now(UTC)
    trace_id = str(uuid.uuid4())
    correlation_id = req.header("client-request-id") or str(uuid.uuid4())
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    body: dict[str, Any] = {
        "error": err.error,
        "error_description": (
            f"AADSTS{err.code}: {err.description} Trace ID: {trace_id} "
            f"Correlation ID: {correlation_id} Timestamp: {stamp}"
        ),
        "error_codes": [err.code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{https_base(sb)}/error?code={err.code}",
    }
    if err.suberror:
        body["suberror"] = err.suberror
    return Response(
        status=err.status, body=body, content_type=JSON_TYPE, headers={"Cache-Control": "no-store"}
    )


def json_response(body: dict[str, Any], status: int = 200) -> Response:
    # Token responses must not be cached by anything in between (RFC 6749 §5.1).
    return Response(
        status=status,
        body=body,
        content_type=JSON_TYPE,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def parse_form(req: Request) -> dict[str, str]:
    try:
        text = req.body.decode("utf-8")
    except UnicodeDecodeError:
        raise IdentityError(
            "invalid_request", 900144, "The request body must be form-urlencoded UTF-8."
        ) from None
    return dict(parse_qsl(text, keep_blank_values=True))


def require(form: dict[str, str], name: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise IdentityError(
            "invalid_request",
            900144,
            f"The request body must contain the following parameter: '{name}'.",
        )
    return value
