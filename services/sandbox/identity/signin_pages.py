"""The HTML pages a person sees: ``/devicelogin`` where a user code is entered and approved or
declined, and the answer to a browser-redirect sign-in, which the sandbox does not offer."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from services.sandbox.http import Request, Response

from .oauth import HTML_TYPE

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox


def authorize(sb: Sandbox, req: Request) -> Response:
    # Browser-redirect sign-in is not part of the sandbox: closeout signs in with the device
    # code flow (or a certificate), which works over SSH.
    return Response(
        status=400,
        body=_page(
            "Interactive sign-in is not available",
            "<p>The sandbox supports the device code flow and certificate client "
            "credentials only.</p>",
        ),
        content_type=HTML_TYPE,
    )


def devicelogin_page(sb: Sandbox, req: Request) -> Response:
    prefill = html.escape(req.query.get("otc", ""))
    admin = html.escape(sb.admin_upn)
    return Response(
        body=_page(
            "Enter code",
            f"""<p>Enter the code displayed on your device to allow access.</p>
<form method="post" action="/devicelogin">
  <p><label>Code <input name="user_code" value="{prefill}" autofocus
     autocomplete="off" size="12"></label></p>
  <p><label>Sign in as <input name="upn" placeholder="{admin}" size="40"></label></p>
  <p><button name="action" value="approve">Sign in</button>
     <button name="action" value="deny">Cancel</button></p>
</form>""",
        ),
        content_type=HTML_TYPE,
        headers={"Cache-Control": "no-store"},
    )


def devicelogin_submit(sb: Sandbox, req: Request) -> Response:
    idp = sb.identity_provider
    form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
    user_code = form.get("user_code", "")
    try:
        if form.get("action") == "deny":
            idp.deny(user_code)
            return Response(
                body=_page("Sign-in cancelled", "<p>You declined the sign-in request.</p>"),
                content_type=HTML_TYPE,
            )
        result = idp.approve(user_code, form.get("upn", "").strip() or None)
    except LookupError as exc:
        return Response(
            status=400,
            body=_page(
                "Sign-in failed",
                f'<p>{html.escape(str(exc))}</p><p><a href="/devicelogin">Try again</a></p>',
            ),
            content_type=HTML_TYPE,
        )
    return Response(
        body=_page(
            "You're signed in",
            f"<p>Signed in as {html.escape(result['upn'] or '')}. You have signed in to the "
            "closeout application on your device. You may now close this window.</p>",
        ),
        content_type=HTML_TYPE,
    )


def _page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} · closeout sandbox</title>
<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
input,button{{font-size:1.1rem;padding:.3rem}} .note{{color:#666;font-size:.9rem}}</style></head>
<body><h1>{html.escape(title)}</h1>{body}
<p class="note">closeout sandbox: a simulated Microsoft Entra sign-in page. Nothing here
talks to Microsoft.</p></body></html>"""
