"""WritePacer on a fake clock: bursts, the sliding window, pressure, holds and stops.

Most tests answer each grant at once (``_send``), so a write stays in the window exactly one
window from its grant; the tests of the window model itself put time between grant, send,
the moment the server counts and the answer, as the journal, the network and the garbage
collector do.
"""

from __future__ import annotations

import random
import threading
import time

import pytest

from services.control import RunControl
from services.pacing import WritePacer


class FakeTime:
    """A clock that only moves when the pacer sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleeper(self, seconds: float, stop) -> bool:
        self.sleeps.append(seconds)
        self.now += seconds
        return stop.wait(0)


def _pacer(quota: int = 100, window: float = 10.0, **kw) -> tuple[WritePacer, FakeTime]:
    ft = FakeTime()
    return WritePacer(quota, window, clock=ft.clock, sleeper=ft.sleeper, **kw), ft


def _send(pacer: WritePacer, n: int, stop, *, up_to: bool = False) -> int:
    """Acquire ``n`` (or up to ``n``) slots and answer the request at once; how many went."""
    grant = pacer.acquire_up_to(n, stop) if up_to else pacer.acquire(n, stop)
    if grant is None:
        return 0
    pacer.answered(grant)
    return grant.n


def _max_in_window(grants: list[tuple[float, int]], window: float) -> int:
    """The most writes granted in any half-open window (t - window, t]."""
    best = 0
    lo = 0
    total = 0
    for t, n in grants:
        total += n
        while grants[lo][0] <= t - window:
            total -= grants[lo][1]
            lo += 1
        best = max(best, total)
    return best


def test_the_whole_quota_is_used_by_default():
    pacer, ft = _pacer(3000, 150.0)
    stop = threading.Event()
    assert pacer.capacity == 3000
    assert _send(pacer, 3000, stop) == 3000
    assert ft.now == 0.0


def test_burst_up_to_headroom_goes_at_once_then_waits_for_the_oldest_to_age_out():
    pacer, ft = _pacer(100, 10.0, headroom=0.98)
    assert pacer.capacity == 98
    stop = threading.Event()
    for _ in range(49):
        assert _send(pacer, 1, stop)
    ft.now = 4.0
    for _ in range(49):
        assert _send(pacer, 1, stop)
    assert ft.sleeps == [] and ft.now == 4.0
    assert pacer.in_window() == 98
    assert pacer.available() == 0
    # The next 10 only fit once the 49 writes from t=0 leave the window, at t=10.
    assert _send(pacer, 10, stop)
    assert 10.0 <= ft.now < 10.001
    assert pacer.in_window() == 49 + 10
    # The t=4 group leaves at t=14; 39 more fit before that.
    assert pacer.available() == 98 - 59
    assert _send(pacer, 39, stop)
    assert ft.now < 10.001
    assert _send(pacer, 1, stop)
    assert 14.0 <= ft.now < 14.001


def test_writes_never_exceed_the_quota_in_any_window_over_a_long_random_run():
    rng = random.Random(7)
    pacer, ft = _pacer(100, 10.0, headroom=0.98)
    stop = threading.Event()
    grants: list[tuple[float, int]] = []
    while ft.now < 2000:
        ft.now += rng.choice([0.0, 0.0, 0.01, rng.expovariate(2.0)])
        n = rng.randint(1, 20)
        if rng.random() < 0.01:
            pacer.observe(rng.uniform(0.8, 1.5))
        if rng.random() < 0.005:
            pacer.hold(rng.uniform(0.1, 3.0), sent_at=ft.now - rng.uniform(0, 1))
        assert _send(pacer, n, stop)
        grants.append((ft.now, n))
        assert pacer.in_window() <= 98
    assert len(grants) > 1000
    assert _max_in_window(grants, 10.0) <= 98
    # The check above is not vacuous: the demand saturated the window many times.
    assert _max_in_window(grants, 10.0) >= 90


def test_sustained_demand_lands_on_the_quota_floor():
    pacer, ft = _pacer(3000, 150.0)
    stop = threading.Event()
    writes = 14_700
    sent = 0
    while sent < writes:
        assert _send(pacer, 20, stop)
        sent += 20
    # Graph's own floor: the first 3,000 at once, then 3,000 more per 150 s.
    floor = (writes - 1) // 3000 * 150.0
    assert ft.now == pytest.approx(floor, abs=0.001)


def test_hold_blocks_all_writes_until_it_expires():
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    pacer.hold(2.5)
    assert pacer.available() == 0
    assert pacer.status().held_for == pytest.approx(2.5)
    assert _send(pacer, 1, stop)
    assert 2.5 <= ft.now < 2.501
    # A shorter hold later never shortens an existing one.
    pacer.hold(5.0)
    pacer.hold(1.0)
    assert _send(pacer, 1, stop)
    assert 7.5 <= ft.now < 7.501
    # A hold on its own is not pressure: the whole quota is there once it ends.
    assert pacer.capacity == 100
    before = ft.now
    pacer.hold(0)
    pacer.hold(-3)
    assert _send(pacer, 1, stop)
    assert ft.now == before


def test_one_foreign_429_costs_its_retry_after_and_not_a_window_of_capacity():
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    writes, sent = 1000, 0
    while sent < writes:
        grant = pacer.acquire(20, stop)
        assert grant is not None
        pacer.answered(grant)
        if sent == 40:
            # A 429 that our pacing did not cause (someone else's load on Graph).
            pacer.hold(0.5, sent_at=grant.at)
            assert pacer.capacity == 100
        sent += grant.n
    floor = (writes - 1) // 100 * 10.0
    assert ft.now <= floor + 0.5 + 0.001


def test_429s_again_right_after_a_hold_lower_the_quota_step_by_step():
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    first = pacer.acquire(20, stop)
    on_its_way = pacer.acquire(20, stop)
    assert first is not None and on_its_way is not None
    ft.now = 0.2
    pacer.hold(1.0, sent_at=first.at)
    # The other request left before we knew: its 429 is the same event.
    pacer.hold(1.0, sent_at=on_its_way.at)
    assert pacer.capacity == 100
    # Sent after the hold and throttled again: the hold did not cure it.
    again = pacer.acquire(20, stop)
    assert again is not None and ft.now == pytest.approx(1.2, abs=0.001)
    pacer.hold(1.0, sent_at=again.at)
    assert pacer.capacity == 85
    third = pacer.acquire(5, stop)
    assert third is not None
    pacer.hold(1.0, sent_at=third.at)
    assert pacer.capacity == int(100 * 0.85 * 0.85)
    # The pressure fades; a lone 429 much later only holds.
    ft.now += 100
    assert pacer.capacity == 100
    late = pacer.acquire(1, stop)
    pacer.hold(1.0, sent_at=late.at)
    assert pacer.capacity == 100


def test_observe_slows_down_under_pressure_then_recovers_gradually():
    pacer, ft = _pacer(3000, 150.0)
    stop = threading.Event()
    assert pacer.capacity == 3000
    pacer.observe(None)
    pacer.observe(0.85)  # below the back-off threshold: no change
    assert pacer.capacity == 3000

    pacer.observe(1.2)
    reduced = pacer.capacity
    assert reduced == int(3000 * 0.85 / 1.2)
    # Under pressure writes are spread evenly, no burst: the second batch waits its slot.
    assert _send(pacer, 20, stop)
    t1 = ft.now
    assert _send(pacer, 20, stop)
    gap = ft.now - t1
    assert gap == pytest.approx(20 * 150.0 / reduced, rel=0.01)

    # Higher pressure lowers it further; a milder reading does not raise it back.
    pacer.observe(1.7)
    assert pacer.capacity == int(3000 * 0.5)
    pacer.observe(1.0)
    assert pacer.capacity == int(3000 * 0.5)

    # Absent header: nothing for recovery_delay (15 s), then linear over 75 s.
    start = ft.now
    ft.now = start + 10
    pacer.observe(None)
    assert pacer.capacity == int(3000 * 0.5)
    ft.now = start + 15 + 37.5
    mid = pacer.capacity
    assert int(3000 * 0.5) < mid < 3000
    ft.now = start + 15 + 75 + 0.1
    assert pacer.capacity == 3000
    assert pacer.status().pressure_factor == 1.0


def test_a_high_reading_explained_by_our_own_full_window_is_not_pressure():
    pacer, _ = _pacer(100, 10.0)
    stop = threading.Event()
    assert pacer.acquire(95, stop)  # in flight: they count as ours too
    pacer.observe(0.97)  # 95 % ours: Graph only sees what we sent
    assert pacer.capacity == 100
    # We pace to the whole quota, so Graph saying "at the limit" is still just us.
    pacer.observe(1.0)
    assert pacer.capacity == 100
    pacer.observe(1.02)  # but beyond it someone else is being throttled: back off
    assert pacer.capacity == int(100 * 0.85 / 1.02)


def test_a_reading_taken_before_our_window_emptied_is_still_ours():
    # At the start of a burst old writes leave our window while a request is on its way:
    # Graph read a full window, and by the answer ours is no longer full. Still us.
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    for k in range(5):
        ft.now = 0.1 * k
        pacer.answered(pacer.acquire(20, stop))
    grant = pacer.acquire(20, stop)  # at t=10.0, when the first 20 have left
    assert grant is not None and ft.now == pytest.approx(10.0, abs=0.001)
    ft.now = 10.35  # three more groups left while it was on its way
    pacer.answered(grant)
    assert pacer.in_window() == 40
    pacer.observe(1.0, grant)
    assert pacer.capacity == 100
    # More than even a full window of ours explains is someone else's.
    pacer.observe(1.1, grant)
    assert pacer.capacity == int(100 * 0.85 / 1.1)


def test_a_high_reading_with_an_empty_window_is_someone_elses_load():
    pacer, _ = _pacer(100, 10.0)
    pacer.observe(0.95)
    assert pacer.capacity == int(100 * 0.85 / 0.95)


def test_pressure_never_drops_below_the_floor_factor():
    pacer, _ = _pacer(3000, 150.0, min_factor=0.25)
    pacer.observe(50.0)
    assert pacer.capacity == int(3000 * 0.25)


def test_a_batch_larger_than_the_lowered_capacity_still_goes_once_the_window_is_empty():
    pacer, ft = _pacer(20, 10.0, headroom=1.0)
    stop = threading.Event()
    pacer.observe(1.8)  # capacity 20 * 0.47 → 9
    assert pacer.capacity == 9
    assert _send(pacer, 15, stop)  # empty window: allowed, else it could never go
    assert _send(pacer, 1, stop)
    assert ft.now >= 10.0


def test_a_write_stays_in_the_window_until_a_window_after_its_answer():
    pacer, ft = _pacer(10, 10.0)
    stop = threading.Event()
    grant = pacer.acquire(10, stop)
    assert grant is not None and grant.n == 10 and grant.at == 0.0
    ft.now = 3.0  # journal, network, Graph: the answer comes 3 s after the grant
    pacer.answered(grant)
    pacer.answered(grant)  # a second call changes nothing
    assert pacer.status().in_flight == 0
    assert _send(pacer, 1, stop)
    assert ft.now == pytest.approx(13.0, abs=0.001)


def test_writes_in_flight_hold_their_slots_until_answered():
    pacer, ft = _pacer(10, 10.0)
    stop = threading.Event()
    grant = pacer.acquire(10, stop)
    assert grant is not None
    ft.now = 50.0  # however long the answer takes, the slots are not free before it
    assert pacer.in_window() == 10
    assert pacer.available() == 0
    assert pacer.status().in_flight == 10
    pacer.answered(grant)
    assert pacer.available() == 0
    ft.now = 60.0
    assert pacer.available() == 10


def test_a_cancelled_grant_gives_its_slots_back_at_once():
    pacer, ft = _pacer(10, 10.0)
    stop = threading.Event()
    grant = pacer.acquire(10, stop)
    pacer.cancel(grant)  # the journal refused, or a pause came: nothing was sent
    pacer.answered(grant)  # and a late answered() cannot put it back
    assert pacer.in_window() == 0
    assert _send(pacer, 10, stop) == 10
    assert ft.now == 0.0


def _simulate(quota: int, window: float, seed: int, total: int) -> tuple[list[float], float]:
    """Four workers sending batches of 20 through one pacer, on a stepped fake clock.

    Between grant and send a worker stalls for up to a fifth of a window (journal fsync, lock,
    a garbage-collection pause); the server counts each request at a random moment between
    send and answer. Returns the server's counting times and when the last one was counted.
    """
    rng = random.Random(seed)
    ft = FakeTime()
    pacer = WritePacer(quota, window, clock=ft.clock, sleeper=ft.sleeper)
    stop = threading.Event()
    counted: list[float] = []
    # Per worker: None (idle) or (send_at, count_at, answer_at, grant).
    busy: list[tuple[float, float, float, object] | None] = [None] * 4
    granted = 0
    dt = window / 1000
    while len(counted) < total:
        for i, job in enumerate(busy):
            if job is not None:
                _send_at, count_at, answer_at, grant = job
                if count_at is not None and ft.now >= count_at:
                    counted.extend([count_at] * grant.n)
                    busy[i] = (_send_at, None, answer_at, grant)
                elif count_at is None and ft.now >= answer_at:
                    pacer.answered(grant)
                    busy[i] = None
            if busy[i] is None and granted < total and pacer.available() > 0:
                grant = pacer.acquire_up_to(min(20, total - granted), stop)
                assert grant is not None and ft.sleeps == []
                granted += grant.n
                send_at = ft.now + rng.choice([0.0, 0.0, rng.uniform(0, window / 5)])
                count_at = send_at + rng.uniform(0, window / 50)
                busy[i] = (send_at, count_at, count_at + rng.uniform(0, window / 50), grant)
        ft.now += dt
    return counted, max(counted)


def test_delays_between_grant_and_send_never_overfill_the_servers_window():
    quota, window = 100, 10.0
    for seed in range(5):
        counted, last = _simulate(quota, window, seed, total=1500)
        counted.sort()
        busiest = _max_in_window([(t, 1) for t in counted], window)
        assert busiest <= quota, f"seed {seed}: the server counted {busiest} in one window"
        # Not by stalling: the window was full, and the run took about the floor plus the
        # stalls (the floor for 1,500 writes is 14 windows).
        assert busiest == quota
        assert last < 14 * window * 1.5


def test_acquire_up_to_grants_what_fits_now_and_waits_only_for_one_slot():
    pacer, ft = _pacer(10, 10.0, headroom=1.0)
    stop = threading.Event()
    assert _send(pacer, 7, stop)
    assert _send(pacer, 5, stop, up_to=True) == 3
    assert ft.now == 0.0
    assert _send(pacer, 5, stop, up_to=True) == 5  # all 10 from t=0 left at t=10
    assert 10.0 <= ft.now < 10.001
    assert pacer.in_window() == 5
    stop.set()
    assert pacer.acquire_up_to(1, stop) is None
    assert pacer.in_window() == 5


def test_acquire_returns_false_when_stopped_without_recording():
    pacer, _ = _pacer(10, 10.0, headroom=1.0)
    stop = threading.Event()
    stop.set()
    assert pacer.acquire(1, stop) is None
    assert pacer.in_window() == 0
    assert pacer.acquire(0, stop) is None


def test_stop_interrupts_a_real_wait():
    # Judged by what ended the wait: without the stop it lasts the hour's window, far beyond
    # the minute a loaded machine may take to run the thread again.
    pacer = WritePacer(5, 3600.0)  # real clock, real sleeper
    control = RunControl()
    pacer.answered(pacer.acquire(5, control))
    box: dict[str, object] = {}

    def blocked() -> None:
        t0 = time.monotonic()
        box["ok"] = pacer.acquire(1, control)
        box["elapsed"] = time.monotonic() - t0

    thread = threading.Thread(target=blocked, daemon=True)
    thread.start()
    time.sleep(0.1)
    assert thread.is_alive()
    control.stop()
    thread.join(60)
    assert not thread.is_alive()
    assert box["ok"] is None
    assert box["elapsed"] < 3600
    assert pacer.in_window() == 5


def test_concurrent_acquirers_share_one_window():
    ft_lock = threading.Lock()
    pacer = WritePacer(50, 0.3)
    stop = threading.Event()
    grants: list[tuple[float, int]] = []

    def worker() -> None:
        for _ in range(10):
            grant = pacer.acquire(5, stop)
            assert grant
            pacer.answered(grant)
            with ft_lock:
                # The pacer's own clock reading, taken under its lock as it granted: a time
                # read after acquire returned could lag by however long a loaded machine kept
                # this thread waiting, and pack earlier grants into a later window.
                grants.append((grant.at, grant.n))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    grants.sort()
    assert sum(n for _, n in grants) == 200
    # A grant stays in the window at least a window from its grant (until a window after its
    # answer), so no window of grant times holds more than the quota; a little under the
    # window keeps float rounding at its edges out of the count.
    assert _max_in_window(grants, 0.29) <= 50
    assert grants[-1][0] - grants[0][0] >= 0.3 * 3 * 0.95


def test_rejects_nonsense_configuration():
    with pytest.raises(ValueError):
        WritePacer(0, 10.0)
    with pytest.raises(ValueError):
        WritePacer(10, 0)
    with pytest.raises(ValueError):
        WritePacer(10, 10.0, headroom=1.5)
