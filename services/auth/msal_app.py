"""What the two msal-backed providers share: the lazy msal application, the route to the
authority, cache persistence after every call, the mapping of msal's failures to
:class:`~services.errors.AuthError`, and one lock.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import msal
import requests

from services.auth import scrubber  # noqa: F401 - installs the filter before msal logs anything
from services.auth.entra_errors import AADSTS, auth_error, network_error
from services.auth.loopback import msal_route
from services.auth.token_cache import TokenCacheFile
from services.errors import AuthError, redact
from services.i18n import _

__all__ = ["MsalAuth"]

log = logging.getLogger("closeout.auth")


class MsalAuth:
    """Shared plumbing: lazy msal app, cache persistence, error mapping, one lock."""

    def __init__(
        self,
        client_id: str,
        authority: str,
        scopes: Sequence[str],
        *,
        cache: TokenCacheFile | None,
        http_client: Any,
    ) -> None:
        if not client_id or not client_id.strip():
            raise AuthError(_("No client id given"), hint=_("pass --client-id or use the default"))
        self.client_id = client_id.strip()
        self.authority = authority.rstrip("/")
        self.scopes: list[str] = list(scopes)
        self._cache_file = cache
        self._memory_cache = msal.TokenCache() if cache is None else None
        self._route = msal_route(self.authority, http_client)
        self._lock = threading.RLock()
        self._app: msal.ClientApplication | None = None

    @property
    def _token_cache(self) -> msal.TokenCache:
        if self._cache_file is not None:
            return self._cache_file.cache
        assert self._memory_cache is not None
        return self._memory_cache

    def _build(self) -> msal.ClientApplication:
        raise NotImplementedError

    def _msal(self) -> msal.ClientApplication:
        """The msal application, built on first use (building it fetches OIDC discovery)."""
        with self._lock:
            if self._app is None:
                try:
                    self._app = self._build()
                except AuthError:
                    raise
                except ValueError as exc:
                    raise self._discovery_error(exc) from None
                except requests.RequestException as exc:
                    raise network_error(exc, self._route.host) from None
            return self._app

    def _discovery_error(self, exc: ValueError) -> AuthError:
        # msal wraps the discovery response in a generic ValueError; the Entra error (e.g.
        # AADSTS90002 for an unknown or deleted tenant) is in the chained exception's text.
        text = " ".join(str(e) for e in (exc, exc.__context__) if e is not None)
        match = re.search(r"(\{.*\})", text, re.DOTALL)
        if match:
            with contextlib.suppress(ValueError):
                body = json.loads(match.group(1))
                if isinstance(body, dict) and body.get("error"):
                    return self._error(body)
        if AADSTS.search(text):
            return self._error({"error_description": text})
        return AuthError(
            _("The authority {authority} is not a usable sign-in endpoint.").format(
                authority=self.authority
            ),
            hint=_("check --tenant, --cloud and --authority"),
        )

    def _error(self, result: Mapping[str, Any]) -> AuthError:
        return auth_error(
            result, client_id=self.client_id, scopes=self.scopes, authority=self.authority
        )

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run an msal call, turning transport failures into AuthError and saving the cache."""
        try:
            return fn(*args, **kwargs)
        except AuthError:
            raise
        except requests.RequestException as exc:
            raise network_error(exc, self._route.host) from None
        except msal.exceptions.MsalServiceError as exc:
            raise AuthError(
                _("The sign-in service answered with an error: {error}").format(
                    error=redact(str(exc))[:200]
                ),
                hint=_("try again in a minute"),
            ) from None
        except ValueError as exc:
            # msal parses every answer as JSON; an HTML error page from a proxy lands here.
            raise AuthError(
                _(
                    "The sign-in service at {host} sent an answer closeout could not use: {error}"
                ).format(host=self._route.host, error=redact(str(exc))[:200]),
                hint=_("check --authority and any proxy between here and the sign-in service"),
            ) from None
        finally:
            self._save()

    def _save(self) -> None:
        if self._cache_file is not None:
            try:
                self._cache_file.save()
            except OSError as exc:
                # Losing the cache costs a sign-in next time; it must not stop the run.
                log.warning(
                    "Could not save the token cache %s: %s", self._cache_file.path, exc.strerror
                )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(client_id={self.client_id!r}, authority={self.authority!r})"
