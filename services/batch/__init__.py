"""The batch executor: runs many Graph requests as ``$batch`` POSTs and judges every item.

Given a list of :class:`~.items.BatchItem` (one object, one request each),
:class:`~.executor.BatchExecutor` packs up to 20 of the same API version into one
``POST /{version}/$batch``, keeps several batches in flight, paces writes to the tenant's write
quota, and decides each item's fate from its own sub-response: done, already gone (404 on a
DELETE), retried later (429 after its own ``Retry-After``; 424, an item's own 401, a read's
5xx and network errors with jittered backoff), or failed with Graph's code and message. A write
whose request may have reached Graph but got no answer that can be trusted (a 5xx, which a
gateway may send after Graph acted; the connection broke after sending; a malformed envelope;
sub-responses for ids that were not asked, or twice, or not at all) is ``unknown``: not resent
blindly, and never ``done`` on an answer that may be another item's; its step settles it with
a fresh read (:mod:`services.settle`).
Pause and stop act between batches; a stop never leaves a sent request unrecorded: in-flight
POSTs are judged, and everything unfinished is reported ``skipped`` (code ``NotSent`` when it
was never sent at all).

One module per job: the items and their results (:mod:`.items`), the bookkeeping of one run
(:mod:`.work`), retry timing and how outcomes are recorded and reported (:mod:`.outcomes`),
judging a POST's answer item by item (:mod:`.judging`), and the workers that pace and send
(:mod:`.executor`). Import from the module that owns a name; this package re-exports nothing.
"""
