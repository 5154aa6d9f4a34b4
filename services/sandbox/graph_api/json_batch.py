"""JSON batching (``POST /v1.0/$batch`` and ``/beta/$batch``) as BATCH documents it.

At most 20 requests; ids unique; relative urls (an absolute one fails as Graph fails it);
``headers`` with ``Content-Type`` whenever a ``body`` is present; ``dependsOn`` sequencing with
424 for dependents of a failed request; every item authenticated, throttled and served on its
own; responses in no guaranteed order.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from services.sandbox.http import GraphHttpError, Request, Response

if TYPE_CHECKING:
    from services.sandbox.core import Sandbox

MAX_BATCH = 20
_PASS_HEADERS = (
    "retry-after",
    "x-ms-resource-unit",
    "x-ms-throttle-limit-percentage",
    "x-ms-throttle-scope",
    "x-ms-throttle-information",
    "content-type",
    "location",
)


def _bad(message: str) -> GraphHttpError:
    return GraphHttpError(400, "BadRequest", message)


def _order(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items so that each comes after what it depends on; cycles and unknown ids refused."""
    by_id = {it["id"]: it for it in items}
    done: set[str] = set()
    visiting: set[str] = set()
    out: list[dict[str, Any]] = []

    def visit(item: dict[str, Any]) -> None:
        iid = item["id"]
        if iid in done:
            return
        if iid in visiting:
            raise _bad("Batch request has a circular dependsOn.")
        visiting.add(iid)
        for dep in item.get("dependsOn") or []:
            if dep not in by_id:
                raise _bad(f"Request id '{iid}' depends on unknown id '{dep}'.")
            visit(by_id[dep])
        visiting.discard(iid)
        done.add(iid)
        out.append(item)

    for it in items:
        visit(it)
    return out


def handle_batch(sb: Sandbox, req: Request) -> Response | None:
    version = req.path.split("/")[1]
    payload = req.json()
    items = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        raise _bad("Invalid batch payload format.")
    if len(items) > MAX_BATCH:
        raise _bad(f"Number of batch requests exceeds the limit of {MAX_BATCH}.")
    ids: set[str] = set()
    for it in items:
        if not isinstance(it, dict) or not {"id", "method", "url"} <= set(it):
            raise _bad("Each batch request needs id, method and url.")
        it["id"] = str(it["id"])
        if it["id"] in ids:
            raise _bad(f"Batch request contains a duplicate id '{it['id']}'.")
        ids.add(it["id"])
        if "body" in it and not any(k.lower() == "content-type" for k in (it.get("headers") or {})):
            raise _bad(f"Request id '{it['id']}' has a body but no Content-Type header.")
    status_of: dict[str, int] = {}
    responses: list[dict[str, Any]] = []
    drop = False
    for it in _order(items):
        iid = it["id"]
        if any(status_of.get(dep, 0) >= 400 for dep in it.get("dependsOn") or []):
            status_of[iid] = 424
            responses.append(
                {
                    "id": iid,
                    "status": 424,
                    "headers": {},
                    "body": {
                        "error": {
                            "code": "FailedDependency",
                            "message": "A request this one depends on failed.",
                        }
                    },
                }
            )
            continue
        url = str(it["url"])
        if url.startswith(("http://", "https://")):
            # Graph reads the url as a path under the version, so an absolute one fails on its
            # first segment (msgraph-sdk-python #1015; "/v1.0/groups" fails on 'v1.0', JS #1178).
            status_of[iid] = 400
            responses.append(
                {
                    "id": iid,
                    "status": 400,
                    "headers": {"Content-Type": "application/json"},
                    "body": {
                        "error": {
                            "code": "BadRequest",
                            "message": f"Resource not found for the segment '{url.split('/')[0]}'.",
                        }
                    },
                }
            )
            continue
        headers = {k: str(v) for k, v in (it.get("headers") or {}).items()}
        headers["Authorization"] = req.header("Authorization") or ""
        headers["client-request-id"] = req.client_request_id
        body = json.dumps(it["body"]).encode() if "body" in it else b""
        sub = Request.from_target(str(it["method"]), f"/{version}/{url.lstrip('/')}", headers, body)
        resp = sb.handle(sub, top_level=False)
        if resp is None:
            drop = True  # a failure after the server already acted on what came before
            continue
        status_of[iid] = resp.status
        entry: dict[str, Any] = {
            "id": iid,
            "status": resp.status,
            "headers": {k: v for k, v in resp.headers.items() if k.lower() in _PASS_HEADERS},
        }
        if resp.body is not None:
            entry["body"] = resp.body
            if resp.content_type and resp.content_type.startswith("text/"):
                entry["headers"]["Content-Type"] = "text/plain"
            else:
                entry["headers"].setdefault("Content-Type", "application/json")
        responses.append(entry)
    if drop:
        return None
    sb.rng.shuffle(responses)  # BATCH: "order not guaranteed"
    return Response(body={"responses": responses})
