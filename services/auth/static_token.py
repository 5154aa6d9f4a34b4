"""A bring-your-own access token (``CLOSEOUT_ACCESS_TOKEN``), e.g. from
``az account get-access-token``: closeout sends it as it is and cannot renew it.

The token is opaque to closeout: it may be encrypted or not a JWT at all. What its claims say
when it happens to be readable (who, which permissions, when it expires) only makes messages
friendlier; Graph's answers decide.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from services.auth.scopes import token_claims
from services.errors import AuthError
from services.i18n import _

__all__ = ["ENV_ACCESS_TOKEN", "StaticTokenAuth"]

ENV_ACCESS_TOKEN = "CLOSEOUT_ACCESS_TOKEN"  # noqa: S105 - the variable's name, not a token


# Far beyond any access token Entra issues (a few kilobytes, more with many group claims): a
# longer value is something else pasted by mistake, and no server would take it as a header.
MAX_TOKEN_LENGTH = 32_768
# Earliest and latest expiry a readable token's ``exp`` is believed for (a hint, never checked
# before sending): outside them, or not a number, it is ignored.
_EXP_RANGE = (0.0, datetime(9999, 1, 1, tzinfo=UTC).timestamp())


class StaticTokenAuth:
    """A token obtained elsewhere (``CLOSEOUT_ACCESS_TOKEN``); closeout cannot renew it.

    Checked before anything is sent: one line of plain ASCII (what an HTTP header can carry
    and every access token is), of a sane length; each problem is an :class:`AuthError`
    naming it (for a wrong character, which and where), never the token itself.
    """

    def __init__(self, token: str) -> None:
        value = (token or "").strip()
        if value.lower().startswith("bearer "):
            value = value[7:].strip()
        if not value:
            raise AuthError(
                _("{env} is set but empty").format(env=ENV_ACCESS_TOKEN),
                hint=_(
                    "put the access token in it (did the command that prints it fail?), or unset "
                    "{env} to sign in with a device code"
                ).format(env=ENV_ACCESS_TOKEN),
            )
        _check_characters(value)
        if len(value) > MAX_TOKEN_LENGTH:
            raise AuthError(
                _("{env} holds {n:,} characters, more than any access token").format(
                    env=ENV_ACCESS_TOKEN, n=len(value)
                ),
                hint=_("set it to the token alone"),
            )
        self._token = value
        self._claims = token_claims(value)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> StaticTokenAuth | None:
        """The token in ``CLOSEOUT_ACCESS_TOKEN``, or None if it is unset.

        Set but empty (or only spaces) is an error, not "unset": it is what a failed
        ``$(az account get-access-token …)`` leaves, and signing in some other way instead
        would hide that.
        """
        value = (os.environ if environ is None else environ).get(ENV_ACCESS_TOKEN)
        return None if value is None else cls(value)

    @property
    def claims(self) -> dict[str, Any]:
        return dict(self._claims)

    @property
    def account_upn(self) -> str | None:
        for key in ("upn", "preferred_username"):
            value = self._claims.get(key)
            if isinstance(value, str) and value:
                return value
        return None

    @property
    def expires_at(self) -> datetime | None:
        """When a readable token says it expires: a hint for a message, None when it says
        nothing believable (not a number, NaN, infinite, before 1970 or after 9999)."""
        exp = self._claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            return None
        try:
            seconds = float(exp)
        except OverflowError:  # an int too large for a float
            return None
        if not _EXP_RANGE[0] <= seconds <= _EXP_RANGE[1]:  # NaN fails this too
            return None
        return datetime.fromtimestamp(seconds, UTC)

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


def _check_characters(value: str) -> None:
    """Refuse the first character no access token holds, naming it and where it is (a pasted
    token picks up typographic quotes, a no-break space, a line break or a terminal escape)."""
    for position, ch in enumerate(value, start=1):
        if "!" <= ch <= "~":
            continue
        name = unicodedata.name(ch, "") or (
            _("line break") if ch in "\r\n" else _("control character")
        )
        shown = ch if ch.isprintable() and not ch.isspace() else ""
        raise AuthError(
            _(
                "{env} does not hold a usable access token: it has {shown}(U+{code:04X} {name}) "
                "at character {position}, and a token is plain ASCII without spaces"
            ).format(
                env=ENV_ACCESS_TOKEN,
                shown=f"{shown} " if shown else "",
                code=ord(ch),
                name=name,
                position=position,
            ),
            hint=_(
                "set it to the token alone, without quotes (typographic quotes come from "
                "copying it through a word processor or chat) or line breaks"
            ),
        )
