"""The sandbox's identity endpoints: a small Microsoft Entra look-alike on loopback.

OpenID discovery, the device code flow (issue, approve or deny, expire, poll), refresh tokens
and certificate client credentials, so that the real msal library signs in against the
sandbox exactly as it does against ``login.microsoftonline.com``: same paths, same JSON shapes,
same ``AADSTS`` errors. One module per job: :mod:`.oauth` (wire format), :mod:`.resolution`
(tenant and scopes), :mod:`.provider` (registrations and device codes), :mod:`.discovery`,
:mod:`.device_code_flow`, :mod:`.token_endpoint`, :mod:`.user_tokens`,
:mod:`.client_credentials` and :mod:`.signin_pages`. Handlers are module-level functions
``handler(sb, req)``, registered in :mod:`services.sandbox.routing`.

A person approves a code in a browser at ``/devicelogin``; the demo and the tests approve
through ``POST /_sandbox/devicelogin`` or :func:`.provider.approve_device_code`, or let
``SandboxConfig.device_code_auto_approve`` do it.

Import from the module that owns a name; this package re-exports nothing.
"""
