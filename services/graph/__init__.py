"""The Microsoft Graph HTTP client: one ``requests.Session``, retries, paging, batching, records.

:class:`~.client.GraphClient` owns everything about a single Graph exchange: the bearer token
(refreshed once on a 401), a fresh ``client-request-id`` per request, the response
``request-id``, timeouts, retries on throttling (honouring fractional ``Retry-After``), server
faults and network errors, interruptible waits, paging through opaque ``@odata.nextLink`` URLs,
``$count``, raw ``$batch`` POSTs, read-only enforcement, and a
:class:`~.responses.CallRecord` per exchange for the log panel. Judging the items of a batch is
the batch executor's job (``services.batch``).

One module per job: the limits it keeps to (:mod:`.bounds`); responses and call records
(:mod:`.responses`); what an answer must look like to be read (:mod:`.answers`); failures that
got no answer of Graph's (:mod:`.failures`); the session and one recorded exchange
(:mod:`.transport`); URLs, versions and read-only (:mod:`.addressing`); retries and waits
(:mod:`.retry`); the public calls, paging included (:mod:`.client`). Import from the module
that owns a name; this package re-exports nothing.

Tokens never leave this package except in the ``Authorization`` header: they are not logged,
not put in records and not put in error messages.
"""
