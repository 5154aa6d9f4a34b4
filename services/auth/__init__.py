"""Sign-in: the bearer tokens closeout sends to Microsoft Graph, and where they come from.

Three ways to get a token (design.md §5 Auth), one module each: the device code flow for a
delegated Global Administrator (:mod:`.device_code`, works over SSH), certificate client
credentials for app-only runs (:mod:`.certificate`), and a bring-your-own token from
``CLOSEOUT_ACCESS_TOKEN`` (:mod:`.static_token`). Each is a :class:`.provider.TokenProvider`,
the one protocol GraphClient takes. Around them: what closeout asks for (:mod:`.scopes`), the
msal plumbing the two msal-backed providers share (:mod:`.msal_app`), Entra's errors in words
(:mod:`.entra_errors`), the private token cache file (:mod:`.token_cache`), the loopback route
that lets msal reach the sandbox (:mod:`.loopback`) and the filter that keeps secrets out of
msal's debug log (:mod:`.scrubber`).

Import from the module that owns a name; this package re-exports nothing. Tokens, refresh
tokens, device codes and private keys never appear in a log record, an exception message or a
``repr``.
"""
