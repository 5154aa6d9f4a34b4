"""The Graph client's calls: one request, a JSON object, every page of a list (following opaque
``@odata.nextLink`` URLs, each object once), a report download, ``$count`` and a raw
``$batch`` POST.

Every wait is on the session's :class:`~services.control.RunControl` (or, inside a step, the
step's, see :meth:`GraphClient.waits_on`), says what it waits for and until when, and is bounded:
a ``Retry-After`` (or throttling on one request for longer) beyond ``max_wait`` is not slept
through but raised as :class:`~services.errors.LongWait`, and throttled requests are retried on
that time budget, not on a count. Before Graph has answered once, nothing answering (refused,
no such name) or something that is not Graph answering (no Graph error object, no
``request-id``) is a configuration error at once; after that, a broken network is an outage,
retried for up to ``outage_limit`` seconds and then raised as one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from services.control import Waiting
from services.errors import CloseoutError, NetworkError, Stopped
from services.i18n import _

from .answers import ForeignLink, _first_listing, _json_or_error, listed_objects
from .bounds import _CUT_SHORT_RETRIES, MAX_BATCH
from .failures import _NETWORK_ERRORS
from .responses import GraphResponse
from .retry import _describe, _Retrying

__all__ = ["GraphClient"]

log = logging.getLogger("closeout.graph")


class GraphClient(_Retrying):
    """A synchronous Graph client; safe to share between threads (one session, pooled)."""

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        retry: bool = True,
    ) -> GraphResponse:
        """Send one request with retries; a non-2xx final answer raises :class:`GraphError`.

        GET, PUT, PATCH and DELETE are retried on 429, 5xx, 424 and network errors. A POST is
        retried only when Graph certainly did not act on it (429, or no connection at all);
        ``$batch`` POSTs go through :meth:`post_batch`, whose items the executor retries.

        ``path`` is version-relative (``/users/x``) or an absolute ``@odata.nextLink`` under
        ``graph_url`` (sent unchanged; its version comes from the link). ``retry=False``: one
        attempt only, for a read that has a later chance anyway.
        """
        return self._send(
            method,
            path,
            version=version,
            params=params,
            json=json,
            headers=headers,
            retry=retry,
            raise_for_status=True,
        )

    def get(
        self,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """GET a JSON object (``{}`` for an empty body)."""
        resp, data = self._get_json(path, version=version, params=params, headers=headers)
        return {} if data is None else _json_object(resp, data)

    def iter_pages(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        version: str = "v1.0",
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` as given.

        ``headers`` (e.g. ``ConsistencyLevel: eventual``) go with every page, because Graph
        does not carry them into next links. A stop between pages raises :class:`Stopped`.

        An object that an earlier page already listed (pages can overlap while the directory
        changes under them) is left out: every list closeout reads names each id once, so no
        count is doubled and no object is acted on twice.
        """
        resp, data = self._get_json(path, version=version, params=params, headers=headers)
        seen: set[str] = set()
        listed: set[str] = set()
        while True:
            page = _json_object(resp, data)
            yield _first_listing(listed_objects(page.get("value", []), resp.path), listed)
            next_link = page.get("@odata.nextLink")
            if next_link is None or next_link == "":
                return
            if not isinstance(next_link, str) or not next_link.lower().startswith(
                ("https://", "http://")
            ):
                # Graph's next links are absolute URLs; anything else would be read as a path.
                raise ForeignLink(ascii(next_link)[:200], self.graph_url)
            if next_link in seen:
                raise CloseoutError(
                    _("Graph returned the same next link twice while paging {path}").format(
                        path=path
                    ),
                    hint=_("this looks like a Graph fault; try again later"),
                )
            seen.add(next_link)
            control = self.current_control()
            if control is not None and control.stopped:
                raise Stopped()
            resp, data = self._get_json(str(next_link), headers=headers)

    def _get_json(
        self,
        path: str,
        *,
        version: str = "v1.0",
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[GraphResponse, Any]:
        """GET and decode. An answer that says it is JSON but does not parse was cut short on
        its way (a proxy, a lost chunk): a read is safe to repeat, so it is read again, four
        times at most; anything else that is not JSON is said at once."""
        cut = 0
        while True:
            resp = self.request("GET", path, version=version, params=params, headers=headers)
            try:
                return resp, resp.json()
            except ValueError:
                if (
                    cut >= _CUT_SHORT_RETRIES
                    or "json" not in (resp.header("Content-Type") or "").lower()
                ):
                    return resp, _json_or_error(resp)
            cut += 1
            # A transport glitch, not a busy Graph: read again soon, without backing off more.
            delay = self._backoff(1)
            log.warning(
                "GET %s -> %d with its JSON cut short; reading it again in %.1f s (%d/%d)",
                resp.path,
                resp.status,
                delay,
                cut,
                _CUT_SHORT_RETRIES,
            )
            why = _("Graph's answer was cut short: reading it again in {seconds}")
            self._wait(delay, Waiting.starting_now(_describe("GET", resp.path, None), why, delay))

    def get_all(
        self,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        version: str = "v1.0",
    ) -> list[dict[str, Any]]:
        """Every item of every page."""
        items: list[dict[str, Any]] = []
        for page in self.iter_pages(path, params=params, headers=headers, version=version):
            items.extend(page)
        return items

    def download(self, path: str, *, version: str = "v1.0", max_bytes: int = 512 << 20) -> bytes:
        """GET a call Graph answers with a ``302`` to a preauthenticated download URL (the usage
        reports), and the file that URL holds; a direct ``200`` is taken as the file.

        The download URL is fetched on its own, without the bearer token: it needs none, and
        it may be another host's (graph-api.md §14). Raises :class:`GraphError` for a refusal,
        :class:`NetworkError` when the download fails.
        """
        resp = self._send(
            "GET",
            path,
            version=version,
            params=None,
            json=None,
            headers={"Accept": "application/octet-stream"},
            retry=True,
            raise_for_status=False,
        )
        if resp.ok:
            return resp.content
        location = resp.header("Location")
        if resp.status not in (301, 302, 303, 307, 308) or not location:
            raise resp.error()
        if not location.lower().startswith(("https://", "http://")):
            raise CloseoutError(_("Graph sent a download link that is not a web address."))
        try:
            with self.session.get(
                location,
                headers={"User-Agent": self.user_agent},
                timeout=self.timeout,
                allow_redirects=True,
                stream=True,
            ) as raw:
                if not 200 <= raw.status_code < 300:
                    raise CloseoutError(
                        _("The report download answered {status}.").format(status=raw.status_code)
                    )
                data = raw.raw.read(max_bytes + 1, decode_content=True)
        except _NETWORK_ERRORS as exc:
            raise NetworkError("GET", urlsplit(location).netloc, exc, attempts=1) from None
        if len(data) > max_bytes:
            raise CloseoutError(_("The report download is larger than closeout reads."))
        return data

    def count(self, path: str, *, filter: str | None = None, version: str = "v1.0") -> int:
        """``GET {path}/$count`` with ``ConsistencyLevel: eventual`` (a text/plain integer)."""
        resp = self.request(
            "GET",
            f"{path.rstrip('/')}/$count",
            version=version,
            params={"$filter": filter} if filter else None,
            headers={"ConsistencyLevel": "eventual", "Accept": "text/plain, application/json"},
        )
        text = resp.text.strip().lstrip("\ufeff")
        try:
            return int(text)
        except ValueError:
            raise CloseoutError(
                _("Unexpected $count response from {path}: {text!r}").format(
                    path=resp.path, text=text[:40]
                )
            ) from None

    def post_batch(self, requests: list[dict[str, Any]], *, version: str = "v1.0") -> GraphResponse:
        """One raw ``POST /{version}/$batch``; returned whatever its status (no retries).

        Sub-requests are ``{"id", "method", "url", ["headers"], ["body"]}`` with ``url``
        relative to the version root. Judging the sub-responses (and retrying) is the
        caller's job. A network failure raises :class:`NetworkError`.
        """
        if not 1 <= len(requests) <= MAX_BATCH:
            raise ValueError(f"a $batch holds 1 to {MAX_BATCH} requests, got {len(requests)}")
        ids: set[str] = set()
        for sub in requests:
            sub_id, url, method = sub.get("id"), sub.get("url"), sub.get("method")
            if not isinstance(sub_id, str) or not sub_id or sub_id in ids:
                raise ValueError(f"batch request ids must be unique non-empty strings: {sub_id!r}")
            ids.add(sub_id)
            if not isinstance(method, str) or not isinstance(url, str):
                raise ValueError(f"batch request {sub_id} needs a method and a url")
            if "://" in url or not url.startswith("/"):
                raise ValueError(
                    f"batch request {sub_id}: url must be version-relative, got {url!r}"
                )
            self._refuse_sandbox(url)
        return self._send(
            "POST",
            "/$batch",
            version=version,
            params=None,
            json={"requests": requests},
            headers=None,
            retry=False,
            raise_for_status=False,
        )


def _json_object(resp: GraphResponse, data: Any) -> dict[str, Any]:
    """``data`` as the JSON object a GET of an object or a page must answer with."""
    if not isinstance(data, dict):
        raise CloseoutError(
            _("Unexpected response from GET {path}: not a JSON object").format(path=resp.path)
        )
    return data
