"""The Graph client's and the batch executor's test parts: a token provider backed by the
sandbox's issuer, the users to act on, and the batch item that deletes one."""

from __future__ import annotations

from services.batch.items import BatchItem
from services.graph.client import GraphClient
from services.sandbox import Sandbox


class SandboxTokens:
    """Refreshable tokens, as msal gives them: a forced refresh issues a new one (counted)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        self.current = sb.issue_token()
        self.refreshes = 0

    def token(self, *, force_refresh: bool = False) -> str:
        if force_refresh:
            self.refreshes += 1
            self.current = self.sb.issue_token()
        return self.current


def user_ids(client: GraphClient, sb: Sandbox) -> list[str]:
    """Every user's id but the signed-in admin's."""
    users = client.get_all("/users", params={"$top": 999, "$select": "id"})
    return [u["id"] for u in users if u["id"] != sb.admin_id]


def delete(uid: str) -> BatchItem:
    """The batch item that deletes user ``uid``."""
    return BatchItem(key=uid, method="DELETE", url=f"/users/{uid}", action="delete-user", label=uid)
