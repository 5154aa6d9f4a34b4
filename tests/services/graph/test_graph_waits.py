"""The Graph client's waits and what it makes of silence (issue 9, items 6 and 13).

Every wait is on a run control, announced with what it waits for and until when, and bounded:
a ``Retry-After`` beyond the sane bound is raised as a wait instead of slept through, throttled
reads are retried on a time budget rather than a count, nothing answering at the first contact
is a configuration error at once, a server that is not Graph is named as such (its 404 is not
Graph's "not found"), and Graph going away after it answered is an outage. All over real
loopback HTTP: the sandbox, a closed port, and a plain ``http.server``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.control import RunControl, Waiting
from services.errors import GraphError, LongWait, NetworkError, NotGraph, Stopped
from services.exit_codes import ExitCode, exit_code_for
from services.graph.client import GraphClient
from services.sandbox import FaultRule, SandboxConfig, start_sandbox


class Token:
    def __init__(self, sb=None) -> None:
        self.value = sb.issue_token() if sb is not None else "not-a-real-token"

    def token(self, *, force_refresh: bool = False) -> str:
        return self.value


@pytest.fixture(scope="module")
def sandbox():
    sb = start_sandbox(SandboxConfig(users=20, seed=4, time_scale=1.0, latency_ms=0))
    yield sb
    sb.stop()


@pytest.fixture
def sb(sandbox):
    sandbox.faults.clear()
    yield sandbox
    sandbox.faults.clear()


def client_for(url: str, tokens=None, **kw) -> tuple[GraphClient, RunControl, list[Waiting]]:
    control = RunControl()
    heard: list[Waiting] = []
    control.add_wait_listener(heard.append)
    kw.setdefault("backoff_base", 0.05)
    return GraphClient(url, tokens or Token(), control=control, **kw), control, heard


def in_thread(fn) -> tuple[threading.Thread, dict[str, object]]:
    box: dict[str, object] = {}

    def target() -> None:
        started = time.monotonic()
        try:
            box["result"] = fn()
        except BaseException as exc:
            box["error"] = exc
        box["elapsed"] = time.monotonic() - started

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class _NotGraph(BaseHTTPRequestHandler):
    """A plain web server: 404 pages in HTML, no request-id, no Graph error object."""

    def do_GET(self) -> None:
        self.send_error(404, "File not found")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _NotGraph)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# -- throttling ------------------------------------------------------------------------------


def test_six_429s_in_a_row_on_a_read_are_waited_out_not_counted(sb):
    # Before: five retries and the sixth 429 ended the run with exit 4.
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/users$", status=429, retry_after=0.2, times=6))
    client, _, _ = client_for(sb.base_url, Token(sb))
    users = client.get("/users", params={"$select": "id"})["value"]
    assert len(users) == 20
    assert sb.faults._rules[0].hits == 6


def test_a_retry_after_beyond_the_bound_is_reported_as_a_wait_not_slept_through(sb):
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/users$", status=429, retry_after=3600, times=-1))
    client, _, _ = client_for(sb.base_url, Token(sb))
    thread, box = in_thread(lambda: client.get("/users"))
    thread.join(60)
    assert not thread.is_alive(), "it slept through Graph's hour"
    error = box["error"]
    assert isinstance(error, LongWait)
    assert exit_code_for(error) == ExitCode.WAITING
    waiting = error.waiting
    assert waiting.seconds == pytest.approx(3600)
    assert abs(waiting.until - (datetime.now(UTC) + timedelta(hours=1))) < timedelta(seconds=10)
    # What it waits for and until when, in one line.
    assert f"until {waiting.until:%H:%M:%S} UTC" in error.message
    assert "Graph asked to wait 1 h 0 min" in error.message
    assert error.message.endswith("reading /users")


def test_throttling_one_read_longer_than_the_bound_in_total_is_a_wait(sb):
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/me$", status=429, retry_after=0.3, times=-1))
    client, _, _ = client_for(sb.base_url, Token(sb), max_wait=1.0)
    with pytest.raises(LongWait) as info:
        client.get("/me")
    assert "throttled it for" in info.value.message
    assert len(sb.faults._rules) == 1 and 3 <= sb.faults._rules[0].hits <= 4


def test_every_wait_is_announced_with_what_and_until_when(sb):
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/organization$", status=429, retry_after=1.2))
    client, _, heard = client_for(sb.base_url, Token(sb))
    before = datetime.now(UTC)
    client.get("/organization")
    after = datetime.now(UTC)
    assert len(heard) == 1
    wait = heard[0]
    assert wait.what == "reading /organization"
    assert wait.seconds == pytest.approx(1.2)
    # Announced after the first answer and waited out before the read returned: bounded by the
    # test's own clock readings, however long a loaded machine took over the round trips.
    assert before + timedelta(seconds=1.2) <= wait.until <= after + timedelta(seconds=0.05)
    assert wait.text().startswith("Graph asked to wait 1.2 s (until ")


def test_a_stop_of_the_client_s_control_ends_a_long_wait(sb):
    # Judged by what ended the wait, not by the machine's speed: without the stop the read
    # sleeps Graph's 200 s, far beyond the minute a loaded machine may take to run the thread.
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/me$", status=429, retry_after=200))
    client, control, heard = client_for(sb.base_url, Token(sb))
    thread, box = in_thread(lambda: client.get("/me"))
    deadline = time.monotonic() + 60
    while not heard and time.monotonic() < deadline:
        time.sleep(0.01)
    assert heard, "the wait was not announced"
    control.stop("SIGTERM")
    thread.join(60)
    assert not thread.is_alive(), "the stop did not end the wait"
    assert box["elapsed"] < 200
    assert isinstance(box["error"], Stopped)
    assert exit_code_for(box["error"]) == ExitCode.WAITING


def test_a_step_s_control_stops_its_reads_and_a_session_stop_reaches_the_step(sb):
    sb.faults.add(FaultRule(method="GET", path=r"^/v1\.0/me$", status=429, retry_after=200, times=-1))
    client, session, _ = client_for(sb.base_url, Token(sb))
    for stop_the_session in (False, True):
        step = session.child()

        def read(step: RunControl = step) -> object:
            with client.waits_on(step):
                return client.get("/me")

        thread, box = in_thread(read)
        time.sleep(0.3)
        (session if stop_the_session else step).stop()
        thread.join(60)  # a hang guard: without the stop the read would wait Graph's 200 s
        assert not thread.is_alive()
        assert isinstance(box["error"], Stopped)
        assert session.stopped is stop_the_session
        step.detach()


# -- nothing there, something else there, and Graph going away ---------------------------------


def test_nothing_listening_at_the_first_contact_is_a_configuration_error_at_once():
    # Before: six attempts over 42 s, then exit 4.
    client, _, heard = client_for(f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(NetworkError) as info:
        client.get("/organization")
    # At once: one attempt and no wait announced (each retry announces its wait), counted
    # rather than timed, so a loaded machine's slowness is no verdict.
    assert not heard
    err = info.value
    assert err.attempts == 1
    assert err.reached is False
    assert exit_code_for(err) == ExitCode.USAGE
    assert err.message.startswith("Nothing answers as Microsoft Graph at http://127.0.0.1:")
    assert err.message.endswith("(GET /v1.0/organization): connection refused")
    assert "--graph-url" in (err.hint or "")


def test_a_server_that_is_not_graph_is_named_so_and_its_404_is_no_object_not_found(web_server):
    client, _, _ = client_for(web_server)
    with pytest.raises(NotGraph) as info:
        client.get("/users/00000000-0000-0000-0000-000000000000")
    err = info.value
    assert not isinstance(err, GraphError)  # not "the object no longer exists"
    assert exit_code_for(err) == ExitCode.USAGE
    assert "is not Microsoft Graph" in err.message and "HTTP 404 (text/html)" in err.message


def test_graph_s_own_404_is_still_graph_s(sb):
    client, _, _ = client_for(sb.base_url, Token(sb))
    with pytest.raises(GraphError) as info:
        client.get("/users/00000000-0000-0000-0000-000000000000")
    assert info.value.status == 404 and info.value.code == "Request_ResourceNotFound"


@pytest.fixture
def own_sandbox() -> Iterator[object]:
    """A sandbox of the test's own: an outage takes it away."""
    sb = start_sandbox(SandboxConfig(users=5, seed=6, time_scale=1.0, latency_ms=0))
    yield sb
    sb.stop()


def test_graph_going_away_after_it_answered_is_an_outage_waited_out_then_a_wait(own_sandbox):
    sb = own_sandbox
    client, _, heard = client_for(sb.base_url, Token(sb), outage_limit=1.0, backoff_base=1.0)
    assert client.get("/organization")["value"]
    sb.outage(30)
    started = time.monotonic()
    with pytest.raises(NetworkError) as info:
        client.get("/users")
    elapsed = time.monotonic() - started
    err = info.value
    # Both the limit and the tries: a slow machine's few slow tries are no outage yet.
    assert elapsed >= 1.0 and err.outage is not None and err.outage >= 1.0
    assert err.attempts == client.outage_tries
    assert err.reached is True
    assert exit_code_for(err) == ExitCode.WAITING
    assert err.message.startswith("Microsoft Graph has not answered for")
    assert "connection refused" in err.message
    # Each retry said what it waited for.
    assert heard and all(w.what == "reading /users" for w in heard)
    assert all("Graph did not answer (connection refused): retrying in" in w.text() for w in heard)


def test_an_outage_that_ends_in_time_is_simply_waited_out(own_sandbox):
    sb = own_sandbox
    client, _, heard = client_for(sb.base_url, Token(sb), outage_limit=30, backoff_base=1.0)
    assert client.get("/organization")["value"]
    sb.outage(0.8)
    users = client.get("/users", params={"$select": "id"})["value"]
    assert len(users) == 5
    assert heard


def test_a_non_graph_answer_after_graph_answered_is_an_outage_not_a_missing_object(own_sandbox):
    # A proxy's error page in Graph's place: not "this user does not exist".
    sb = own_sandbox
    httpd = None
    try:
        client, _, _ = client_for(sb.base_url, Token(sb), outage_limit=1.0)
        assert client.get("/organization")["value"]
        port = int(sb.base_url.rsplit(":", 1)[1])
        sb.outage(60)  # cuts the kept-alive connection too; a web server takes the port
        httpd = ThreadingHTTPServer(("127.0.0.1", port), _NotGraph)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        with pytest.raises(NetworkError) as info:
            client.get("/users/00000000-0000-0000-0000-000000000000")
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
    assert info.value.reached is True
    assert "without Graph's request-id" in info.value.message
    assert exit_code_for(info.value) == ExitCode.WAITING
