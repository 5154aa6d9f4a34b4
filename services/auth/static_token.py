"""A bring-your-own access token (``CLOSEOUT_ACCESS_TOKEN``), e.g. from
``az account get-access-token``: closeout sends it as it is and cannot renew it.

The token is opaque to closeout: it may be encrypted or not a JWT at all. What its claims say
when it happens to be readable (who, which permissions, when it expires) only makes messages
friendlier; Graph's answers decide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.auth.scopes import token_claims
from services.errors import AuthError
from services.i18n import _

__all__ = ["ENV_ACCESS_TOKEN", "StaticTokenAuth"]

ENV_ACCESS_TOKEN = "CLOSEOUT_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token


class StaticTokenAuth:
    """A token obtained elsewhere (``CLOSEOUT_ACCESS_TOKEN``); closeout cannot renew it."""

    def __init__(self, token: str) -> None:
        value = (token or "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value or any(ch.isspace() for ch in value):
            raise AuthError(
                _("{env} does not hold a usable access token").format(env=ENV_ACCESS_TOKEN),
                hint=_("set it to the token alone, without quotes or line breaks"),
            )
        self._token = value
        self._claims = token_claims(value)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StaticTokenAuth | None:
        """The token in ``CLOSEOUT_ACCESS_TOKEN``, or None if it is unset or empty."""
        value = (os.environ if environ is None else environ).get(ENV_ACCESS_TOKEN, "")
        return cls(value) if value.strip() else None

    @property
    def claims(self) -> dict[str, Any]:
        return dict(self._claims)

    @property
    def account_upn(self) -> str | None:
        return self._claims.get("upn") or self._claims.get("preferred_username") or None

    @property
    def expires_at(self) -> datetime | None:
        exp = self._claims.get("exp")
        return datetime.fromtimestamp(exp, UTC) if isinstance(exp, int | float) else None

    @property
    def granted_scopes(self) -> None:
        """Unknown: closeout did not obtain this token, and does not read it to find out."""
        return None

    def _rejected(self, why: str) -> AuthError:
        return AuthError(
            _(
                "The access token from {env} {why}, and closeout cannot renew a token it did "
                "not obtain itself."
            ).format(env=ENV_ACCESS_TOKEN, why=why),
            hint=_(
                "get a new one, e.g. `az account get-access-token --resource-type ms-graph "
                "--query accessToken -o tsv`, put it in {env} and run again "
                "(or unset {env} to sign in with a device code)"
            ).format(env=ENV_ACCESS_TOKEN),
        )

    def token(self, *, force_refresh: bool = False) -> str:
        """The token, sent as it is; ``force_refresh`` (Graph answered 401) cannot be met.

        The expiry a readable token claims is not checked before sending (a wrong clock on
        this machine must not refuse a good token): it only names the likely cause once Graph
        has refused it.
        """
        if force_refresh:
            expires = self.expires_at
            if expires is not None and expires <= datetime.now(UTC):
                raise self._rejected(
                    _(
                        "was rejected by Microsoft Graph; it says it expired at {when:%Y-%m-%d %H:%M:%S} UTC"
                    ).format(when=expires)
                )
            raise self._rejected(_("was rejected by Microsoft Graph (expired or revoked)"))
        return self._token

    def __repr__(self) -> str:
        return "StaticTokenAuth(<token hidden>)"
