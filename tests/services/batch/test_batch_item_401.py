"""An item of a ``$batch`` answered 401 was not carried out: its token expired (or was revoked)
while the batch was served, after Graph had let the envelope in. It is sent again, and the
next envelope's own 401 gets the sign-in refreshed (or stops the run if it is gone).

Found by the reliability suite's token-expiry close-outs (scripts/reliability): batches in
flight together share a token, and one that expired under another's items failed a purge.
"""

from __future__ import annotations

from services.batch.executor import BatchExecutor
from services.batch.items import BatchItem, Outcome
from services.control import RunControl
from services.graph.client import GraphClient
from tests.support.graph import SandboxTokens


def test_an_item_refused_for_an_expired_token_is_sent_again_and_done(make_sandbox) -> None:
    sb = make_sandbox(users=12, seed=3, synced_fraction=0.0)
    tokens = SandboxTokens(sb)
    client = GraphClient(sb.base_url, tokens, backoff_base=0.01)
    ids = [u.id for u in sb.tenant.users.values() if u.id != sb.admin_id][:5]
    victim = ids[2]
    # The token expires while the batch is served: the envelope is let in, then this item is
    # refused (as Graph answers it), and the token stays expired for whatever comes next.
    sb.add_fault(
        method="DELETE",
        path=f"/users/{victim}$",
        status=401,
        code="InvalidAuthenticationToken",
        message="Lifetime validation failed, the token is expired.",
        times=1,
    )
    items = [
        BatchItem(key=u, method="DELETE", url=f"/users/{u}", action="delete-user", label=u)
        for u in ids
    ]
    try:
        results = BatchExecutor(client, control=RunControl(), backoff_base=0.01).run(items)
    finally:
        client.close()
    assert {r.item.key: r.outcome for r in results} == dict.fromkeys(ids, Outcome.done)
    assert sb.tenant.users.get(victim) is None
    deletes = [
        r.status for r in sb.recorder.records() if r.method == "DELETE" and r.path.endswith(victim)
    ]
    assert deletes == [401, 204]
