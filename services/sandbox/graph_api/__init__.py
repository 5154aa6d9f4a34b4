"""The Graph resources the sandbox serves, one module per resource, as graph-api.md describes them.

Every handler here is a module-level function ``handler(sb, req) -> Response``: it takes the
:class:`~services.sandbox.core.Sandbox` explicitly (its tenant, clock, recorder and behaviour
switches in ``sb.config``) and is registered in :mod:`services.sandbox.routing`, the one table
of everything the sandbox serves. ``Sandbox.handle`` has already authenticated the caller,
applied faults and throttling and taken the tenant lock when a handler runs.
"""
