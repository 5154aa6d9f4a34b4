"""Keeps secrets out of msal's debug log.

msal masks tokens in the cache event it logs, but not the device code, which can be redeemed
for tokens until it expires. Importing this module installs the filter on msal's loggers.
"""

from __future__ import annotations

import logging
import re

from services.errors import redact

__all__ = ["SecretScrubber", "install_scrubber"]


_SECRET_JSON_FIELDS = re.compile(
    r'("(?:device_code|code|refresh_token|access_token|id_token|client_assertion|assertion|'
    r'client_secret|password)"\s*:\s*")[^"]*(")'
)


class SecretScrubber(logging.Filter):
    """Redacts secrets from msal's debug records before any handler sees them.

    msal masks tokens in the cache event it logs, but not the device code (sent as
    ``device_code`` and ``code``), which can be redeemed for tokens until it expires.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(_SECRET_JSON_FIELDS.sub(r"\1[redacted]\2", message))
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_MSAL_LOGGERS = (
    "msal",
    "msal.application",
    "msal.authority",
    "msal.token_cache",
    "msal.telemetry",
    "msal.throttled_http_client",
    "msal.oauth2cli.oauth2",
    "msal.oauth2cli.oidc",
    "msal.oauth2cli.assertion",
)


def install_scrubber() -> None:
    # Logger-level filters only apply to records created on that very logger, hence the list.
    for name in _MSAL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretScrubber) for f in logger.filters):
            logger.addFilter(SecretScrubber())


install_scrubber()
