"""The OData the sandbox honours, with Graph's refusals: query options and type names.

``$select`` (unknown properties refused), ``$top`` 1–999, opaque ``$skiptoken`` next links,
``$count`` only with ``ConsistencyLevel: eventual``, a small ``$filter`` grammar where ``ne`` and
``not`` need advanced query mode, and ``$skip`` refused on directory objects.

Type names: Graph's ``$metadata`` declares ``<Schema Namespace="microsoft.graph" Alias="graph">``,
so a cast segment may use either (``/directory/deletedItems/graph.user``, which Microsoft's
SDKs always send, is ``…/microsoft.graph.user``), and so may the ``@odata.type`` annotation that
the SDKs put in every update body built from a model. An update body's type must be the
resource's own (OData: "equal to either the expected type or a derived type").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .http import GraphHttpError, Request

MAX_TOP = 999
DEFAULT_TOP = 100
NAMESPACE = "microsoft.graph"
ALIAS = "graph"


def is_eventual(req: Request) -> bool:
    return (req.header("ConsistencyLevel") or "").strip().lower() == "eventual"


def wants_count(req: Request) -> bool:
    value = req.query.get("$count")
    if value is None:
        return False
    if value.lower() not in ("true", "false"):
        raise GraphHttpError(400, "Request_BadRequest", f"Invalid $count value '{value}'.")
    if value.lower() == "true" and not is_eventual(req):
        raise GraphHttpError(400, "Request_BadRequest", "$count is not currently supported.")
    return value.lower() == "true"


def require_eventual_for_count(req: Request) -> None:
    """For ``/users/$count`` and friends (ULIST example 3)."""
    if not is_eventual(req):
        raise GraphHttpError(400, "Request_BadRequest", "$count is not currently supported.")


def page_size(req: Request) -> int:
    raw = req.query.get("$top")
    if raw is None:
        return DEFAULT_TOP
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        raise GraphHttpError(
            400,
            "Request_UnsupportedQuery",
            f"Invalid page size specified: '{raw}'. Must be between 1 and {MAX_TOP} inclusive.",
        )
    return int(raw)


def reject_unsupported(req: Request, *, allow_orderby: bool = False) -> None:
    if "$skip" in req.query:
        raise GraphHttpError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
    if "$search" in req.query and not is_eventual(req):
        raise GraphHttpError(
            400,
            "Request_UnsupportedQuery",
            "Request with $search query parameter only works through MSGraph with a special "
            "request header: 'ConsistencyLevel: eventual'",
        )
    if "$orderby" in req.query and not (allow_orderby or is_eventual(req)):
        raise GraphHttpError(
            400, "Request_UnsupportedQuery", "Sorting not supported for current query."
        )


def project(
    obj: dict[str, Any],
    req: Request,
    entity: str,
    allowed: Iterable[str],
    default: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Apply ``$select``; without it, the entity's default property set."""
    raw = req.query.get("$select")
    if raw:
        wanted = [p.strip() for p in raw.split(",") if p.strip()]
        allowed_set = set(allowed)
        for prop in wanted:
            if prop not in allowed_set:
                raise GraphHttpError(
                    400,
                    "Request_BadRequest",
                    f"Could not find a property named '{prop}' on type 'microsoft.graph.{entity}'.",
                )
        keys = ["id", *[p for p in wanted if p != "id"]] if "id" in obj else wanted
    else:
        keys = list(default) if default is not None else list(obj)
    return {k: obj.get(k) for k in keys}


# -- $filter ------------------------------------------------------------------------------

_CLAUSE = re.compile(
    r"^\s*(?P<neg>not\s*\(\s*)?(?P<prop>[A-Za-z]+)\s+(?P<op>eq|ne)\s+(?P<lit>'(?:[^']|'')*'|true|false|null|-?\d+)\s*(?(neg)\))\s*$"
)


def _literal(raw: str) -> Any:
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    return {"true": True, "false": False, "null": None}.get(
        raw, raw if not raw.lstrip("-").isdigit() else int(raw)
    )


@dataclass(frozen=True)
class Clause:
    prop: str
    negate: bool
    value: Any


def parse_filter(
    req: Request, entity: str, filterable: Iterable[str]
) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate over the entity's full Graph dict, or None without ``$filter``."""
    raw = req.query.get("$filter")
    if not raw:
        return None
    allowed = set(filterable)
    clauses: list[Clause] = []
    for part in re.split(r"\s+and\s+", raw.strip()):
        m = _CLAUSE.match(part)
        if not m:
            raise GraphHttpError(
                400,
                "Request_UnsupportedQuery",
                "Unsupported or invalid query filter clause specified.",
            )
        prop = m.group("prop")
        if prop not in allowed:
            raise GraphHttpError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{prop}' of "
                f"resource '{entity[0].upper()}{entity[1:]}'.",
            )
        negate = (m.group("op") == "ne") != bool(m.group("neg"))
        if (m.group("op") == "ne" or m.group("neg")) and not (
            is_eventual(req) and "$count" in req.query
        ):
            # AQ: ne and not are advanced queries (ConsistencyLevel: eventual and $count=true).
            raise GraphHttpError(
                400,
                "Request_UnsupportedQuery",
                f"Unsupported or invalid query filter clause specified for property '{prop}' of "
                f"resource '{entity[0].upper()}{entity[1:]}'.",
            )
        clauses.append(Clause(prop, negate, _literal(m.group("lit"))))

    def keep(obj: dict[str, Any]) -> bool:
        for c in clauses:
            value = obj.get(c.prop)
            if isinstance(value, str) and isinstance(c.value, str):
                equal = value.lower() == c.value.lower()
            else:
                equal = value == c.value
            if equal == c.negate:
                return False
        return True

    return keep


# -- paging ---------------------------------------------------------------------------------


def encode_skiptoken(collection: str, position: int) -> str:
    payload = json.dumps({"c": collection, "p": position}, separators=(",", ":")).encode()
    return "RFNwdAIAAQAAA" + base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_skiptoken(req: Request, collection: str) -> int:
    token = req.query.get("$skiptoken")
    if token is None:
        return 0
    try:
        if not token.startswith("RFNwdAIAAQAAA"):
            raise ValueError
        raw = token[len("RFNwdAIAAQAAA") :]
        data = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        if data["c"] != collection:
            raise ValueError
        return int(data["p"])
    except (ValueError, KeyError, TypeError):
        raise GraphHttpError(
            400,
            "Directory_ExpiredPageToken",
            "The specified page token value has expired and can no longer be included in your request.",
        ) from None


def next_link(base_url: str, req: Request, collection: str, position: int) -> str:
    params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
    params["$skiptoken"] = encode_skiptoken(collection, position)
    return f"{base_url}{req.path}?{urlencode(params, safe='$,')}"


def collection_body(
    base_url: str,
    req: Request,
    context: str,
    items: list[dict[str, Any]],
    next_position: int | None,
    collection: str,
    count: int | None = None,
) -> dict[str, Any]:
    version = req.path.split("/", 2)[1]
    body: dict[str, Any] = {
        "@odata.context": f"https://graph.microsoft.com/{version}/$metadata#{context}"
    }
    if count is not None and "$skiptoken" not in req.query:
        # PAGING: @odata.count is present only in the first page.
        body["@odata.count"] = count
    if next_position is not None:
        body["@odata.nextLink"] = next_link(base_url, req, collection, next_position)
    body["value"] = items
    return body


# -- type names: cast segments and @odata.type --------------------------------------------

# The types the sandbox's model knows: what it serves, and what those resources are made of.
# Another name is one Graph's model would not resolve either, as far as this sandbox can tell.
KNOWN_TYPES = frozenset(
    f"{NAMESPACE}.{name}".lower()
    for name in (
        "entity",
        "directoryObject",
        "user",
        "group",
        "organization",
        "application",
        "servicePrincipal",
        "directoryRole",
        "unifiedRoleAssignment",
        "subscribedSku",
        "companySubscription",
        "policyBase",
        "identitySecurityDefaultsEnforcementPolicy",
        "conditionalAccessPolicy",
        "strongAuthenticationRequirements",
        "administrativeUnit",
        "device",
        "contact",
    )
)


def qualified_type(name: str) -> str:
    """A type name as ``microsoft.graph.x``: the alias expanded, a leading ``#`` dropped."""
    bare = name.removeprefix("#")
    head, dot, rest = bare.partition(".")
    if dot and head.lower() == ALIAS:
        return f"{NAMESPACE}.{rest}"
    return bare


_ALIASED_CAST = re.compile(rf"^{ALIAS}\.[A-Za-z_]\w*$", re.IGNORECASE)


def canonical_path(path: str) -> str:
    """The path with each ``graph.x`` cast segment spelled ``microsoft.graph.x``, so that one
    route serves both spellings (and the throttle, faults and recorder see one). Only a bare
    qualified name is a cast: a key such as ``graph.admin@contoso.com`` stays a key."""
    if f"/{ALIAS}." not in path.lower():
        return path
    return "/".join(
        qualified_type(seg) if _ALIASED_CAST.match(seg) else seg for seg in path.split("/")
    )


def update_body(req: Request, entity: str) -> dict[str, Any]:
    """A PATCH body as a dict of the properties to change, its ``@odata.type`` checked and
    removed: Microsoft's SDKs send ``"@odata.type": "#microsoft.graph.<entity>"`` with every
    update built from a model, and Graph accepts it when it names the resource's own type."""
    body = req.json()
    if not isinstance(body, dict):
        raise GraphHttpError(400, "BadRequest", "The request body must be a JSON object.")
    annotation = body.pop("@odata.type", None)
    if annotation is None:
        return body
    expected = f"{NAMESPACE}.{entity}"
    given = qualified_type(str(annotation))
    if given.lower() == expected.lower():
        return body
    if given.lower() not in KNOWN_TYPES:
        raise GraphHttpError(
            400,
            "Request_BadRequest",
            f"A type named '{given}' could not be resolved by the model. When a model is "
            "available, each type name must resolve to a valid type.",
        )
    raise GraphHttpError(
        400,
        "Request_BadRequest",
        f"A resource with type '{given}' was found, but it is not assignable to the expected "
        f"type '{expected}'. The type specified in the resource must be equal to either the "
        "expected type or a derived type.",
    )
