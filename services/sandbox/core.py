"""The sandbox tenant: state, clock, tokens, throttling, faults and request dispatch.

``Sandbox.handle`` is the one entry for every request, top-level or inside a ``$batch``:
control endpoints (``/_sandbox/…``), identity endpoints (OAuth, device code) and Graph
(``/v1.0/…``, ``/beta/…``), each found in :mod:`.routing`'s table. Graph requests are
authenticated, may meet an injected fault, are throttled as documented, then served under the
tenant lock and recorded.

What changes as the simulated clock runs is :mod:`.sim_time`'s; what a person does in the
admin centers, :mod:`.admin_center`'s; the state they share, :mod:`.host`'s.
"""

from __future__ import annotations

import random
import re
import threading
import time
import uuid
from datetime import datetime
from typing import Any

from . import odata
from .admin_center import AdminCenter
from .authz import ALL_SCOPES
from .clock import SimClock, http_date
from .config import SandboxConfig
from .faults import EXPIRE_AFTER, FaultRule, Faults
from .http import GraphHttpError, Request, Response
from .identity.provider import IdentityProvider
from .recorder import Recorder
from .routing import build_routers
from .seed import build_tenant
from .tenant import GRAPH_CLI_APP_ID, OWN_APP_ID, Tenant
from .tokens import Principal, TokenRejected, TokenStore

DROP = None  # handle() returns this when the connection must be dropped without an answer
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


class Sandbox(AdminCenter):
    """A simulated Microsoft 365 tenant behind Graph-shaped HTTP endpoints."""

    def __init__(
        self,
        config: SandboxConfig | None = None,
        *,
        tenant: Tenant | None = None,
        start: datetime | None = None,
    ) -> None:
        """A seeded tenant, or ``tenant`` (a replica, :mod:`.replica`) whose clock starts at
        ``start``."""
        self.config = config or SandboxConfig()
        self.clock = SimClock(self.config.time_scale, start)
        self.tenant: Tenant = tenant if tenant is not None else build_tenant(self.config)
        self.lock = threading.RLock()
        self.tokens = TokenStore(
            tenant_id=self.tenant.org.id,
            lifetime=self.config.token_lifetime,
            opaque=self.config.opaque_tokens,
        )
        from .throttle import Throttle  # local: throttle imports config only

        self.throttle = Throttle(self.config, self.clock, len(self.tenant.users))
        self.faults = Faults(self.config.faults, self.config.seed)
        self.recorder = Recorder()
        self.report_downloads: dict[str, tuple[bytes, float]] = {}
        """Usage reports behind their download URLs: the CSV, and until when (monotonic)."""
        self.rng = random.Random(self.config.seed + 7)
        self.identity_provider = IdentityProvider(self)
        self.base_url = ""
        self._server: Any = None
        self._outage: threading.Timer | None = None
        self._outage_lock = threading.Lock()
        self.graph_routes, self.identity_routes, self.control_routes = build_routers(self)

    # -- identity of the tenant -------------------------------------------------------------

    @property
    def authority(self) -> str:
        """The sandbox's login authority for this tenant (served on the same loopback port)."""
        return f"{self.base_url}/{self.tenant_id}"

    def issue_token(
        self,
        scopes: set[str] | frozenset[str] | None = None,
        lifetime: float | None = None,
        upn: str | None = None,
        app_id: str | None = None,
    ) -> str:
        """A ready delegated token (for tests and ``closeout sandbox serve``), issued to the
        sign-in app: closeout's own registration with the ``own_app`` switch, else Microsoft's
        public client."""
        app_id = app_id or self.sign_in_app_id
        with self.lock:
            user = self.tenant.find_user(upn) if upn else self.tenant.users.get(self.admin_id)
            if user is None:
                raise KeyError(f"no user {upn!r}")
            return self.tokens.issue_user_token(
                user_id=user.id,
                upn=user.user_principal_name,
                app_id=app_id,
                scopes=frozenset(scopes) if scopes is not None else self.granted(ALL_SCOPES),
                lifetime=lifetime,
            )

    @property
    def sign_in_app_id(self) -> str:
        return OWN_APP_ID if self.config.own_app else GRAPH_CLI_APP_ID

    def issue_app_token(self, roles: set[str] | None = None, app_id: str | None = None) -> str:
        return self.tokens.issue_app_token(
            app_id=app_id or "0c9d7d8e-1111-4222-8333-944455556666",
            roles=frozenset(roles if roles is not None else ALL_SCOPES - {"User.Read"}),
        )

    def granted(self, requested: set[str] | frozenset[str]) -> frozenset[str]:
        if self.config.granted_scopes is None:
            return frozenset(requested)
        return frozenset(requested) & self.config.granted_scopes

    def revoke(self, token: str) -> None:
        self.tokens.revoke(token)

    def add_fault(self, **kw: Any) -> FaultRule:
        return self.faults.add(FaultRule(**kw))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Sandbox:
        from .server import SandboxServer

        self._server = SandboxServer(self, self.config.host, self.config.port)
        self.base_url = self._server.base_url
        self._server.start()
        return self

    def stop(self) -> None:
        with self._outage_lock:
            if self._outage is not None:
                self._outage.cancel()
                self._outage = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def connections_open(self) -> int:
        """Client connections still open (tests: the requests of a killed client have all
        been served once its connections are closed)."""
        server = self._server
        return 0 if server is None else server.connections_open()

    def outage(self, seconds: float) -> None:
        """Graph out of reach for ``seconds`` real seconds: the port refuses connections and
        open ones are cut (what a dropped network does to a client), then the same port serves
        again. Nothing that was sent before is lost; the tenant's state stays as it is."""
        from .server import SandboxServer

        server = self._server
        if server is None:
            raise RuntimeError("the sandbox is not running")
        server.stop(drop_connections=True)
        self._server = None

        def back() -> None:
            with self._outage_lock:
                if self._outage is None:
                    return  # stopped for good meanwhile
                self._outage = None
                self._server = SandboxServer(self, server.host, server.port)
                self._server.start()

        with self._outage_lock:
            self._outage = threading.Timer(seconds, back)
            self._outage.daemon = True
            self._outage.start()

    def __enter__(self) -> Sandbox:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- dispatch ----------------------------------------------------------------------------

    def handle(self, req: Request, *, top_level: bool = True) -> Response | None:
        req.request_id = str(uuid.uuid4())
        req.client_request_id = req.header("client-request-id") or req.request_id
        req.in_batch = not top_level
        if top_level and self.config.latency_ms:
            time.sleep(self.config.latency_ms / 1000.0)
        try:
            if req.path.startswith("/_sandbox/"):
                route, req.params = self.control_routes.match(req.method, req.path)
                resp = route.handler(req)
            elif req.path.startswith(("/v1.0/", "/beta/")):
                resp = self._handle_graph(req, top_level)
            else:
                route, req.params = self.identity_routes.match(req.method, req.path)
                resp = route.handler(req)
            if resp is None:
                return DROP
        except GraphHttpError as err:
            resp = err.to_response(
                req.request_id,
                req.client_request_id,
                self.clock.now_dt().strftime("%Y-%m-%dT%H:%M:%S"),
            )
        resp.headers.setdefault("request-id", req.request_id)
        resp.headers.setdefault("client-request-id", req.client_request_id)
        resp.headers.setdefault("Date", self._date())
        resp.headers.setdefault(
            "x-ms-ags-diagnostic",
            '{"ServerInfo":{"DataCenter":"Sandbox","Slice":"E","Ring":"0","ScaleUnit":"000"}}',
        )
        return resp

    def _date(self) -> str:
        return http_date(self.clock.now_dt())

    def _authenticate(self, req: Request) -> Principal:
        auth = req.header("Authorization") or ""
        if not auth.lower().startswith("bearer ") or not auth[7:].strip():
            raise GraphHttpError(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            return self.tokens.validate(auth[7:].strip())
        except TokenRejected as exc:
            raise GraphHttpError(401, "InvalidAuthenticationToken", exc.message) from None

    def _handle_graph(self, req: Request, top_level: bool) -> Response | None:
        req.path = odata.canonical_path(req.path)
        try:
            req.principal = self._authenticate(req)
            if (
                top_level
                and self.tokens.served(req.principal) > EXPIRE_AFTER
                and self.faults.token_expires()
            ):
                # The ``expire`` fault: the token's lifetime ends now, as Graph says it.
                self.tokens.expire_id(req.principal.token_id)
                raise GraphHttpError(
                    401,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                )
        except GraphHttpError:
            # Recorded too: tests prove what a client sent after its tokens died.
            self._record(req, 401, self._object_id(req.path), counted=False)
            raise
        route, req.params = self.graph_routes.match(req.method, req.path)
        cap = self.config.server_page_size
        top = req.query.get("$top")
        if cap and top is not None and top.isdigit() and int(top) > cap:
            req.query["$top"] = str(cap)
        is_batch = req.path.endswith("/$batch")
        object_id = None if is_batch else self._object_id(req.path)
        # Faults reach the $batch envelope too: a whole batch can be throttled, fail or drop.
        fault = self.faults.decide(
            req.method, req.path, top_level=top_level, paged="$skiptoken" in req.query
        )
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.drop and not fault.after:
                self._record(req, 0, object_id, counted=False)
                return DROP
            if fault.status is not None and not fault.after:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:.3f}"
                self._record(req, fault.status, object_id, counted=False)
                raise GraphHttpError(
                    fault.status,
                    fault.code,
                    fault.message,
                    headers=headers,
                    inner_code=str(fault.status) if fault.status == 429 else None,
                )
        if is_batch:
            return self.faults.after_serving(fault, req, route.handler(req))
        verdict = self.throttle.check(
            req.method, req.path, req.query, req.principal.app_id, self.tenant_id
        )
        if not verdict.allowed:
            self._record(req, 429, object_id, counted=False)
            raise GraphHttpError(
                429,
                "TooManyRequests",
                "Please retry again later.",
                headers=verdict.headers,
                inner_code="429",
            )
        status = 500
        try:
            with self.lock:
                self.tick()
                resp = route.handler(req)
            status = 0 if resp is None else resp.status
        except GraphHttpError as err:
            status = err.status
            raise
        finally:
            self._record(req, status, object_id, counted=route.writes)
        if resp is None:
            return DROP
        resp.headers.update(verdict.headers)
        return self.faults.after_serving(fault, req, resp)

    def _object_id(self, path: str) -> str | None:
        m = _GUID.search(path)
        return m.group(0) if m else None

    def _record(self, req: Request, status: int, object_id: str | None, *, counted: bool) -> None:
        self.recorder.record(
            sim_time=self.clock.now(),
            method=req.method,
            path=req.path,
            status=status,
            object_id=object_id,
            app_id=req.principal.app_id if req.principal else None,
            in_batch=req.in_batch,
            counted_write=counted and req.method != "GET",
        )
