"""WritePacer on a fake clock: bursts, the sliding window, pressure, holds and stops."""

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


def test_burst_up_to_headroom_goes_at_once_then_waits_for_the_oldest_to_age_out():
    pacer, ft = _pacer(100, 10.0)
    assert pacer.capacity == 98
    stop = threading.Event()
    for _ in range(49):
        assert pacer.acquire(1, stop)
    ft.now = 4.0
    for _ in range(49):
        assert pacer.acquire(1, stop)
    assert ft.sleeps == [] and ft.now == 4.0
    assert pacer.in_window() == 98
    assert pacer.available() == 0
    # The next 10 only fit once the 49 writes from t=0 leave the window, at t=10.
    assert pacer.acquire(10, stop)
    assert 10.0 <= ft.now < 10.001
    assert pacer.in_window() == 49 + 10
    # The t=4 group leaves at t=14; 39 more fit before that.
    assert pacer.available() == 98 - 59
    assert pacer.acquire(39, stop)
    assert ft.now < 10.001
    assert pacer.acquire(1, stop)
    assert 14.0 <= ft.now < 14.001


def test_writes_never_exceed_the_quota_in_any_window_over_a_long_random_run():
    rng = random.Random(7)
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    grants: list[tuple[float, int]] = []
    while ft.now < 2000:
        ft.now += rng.choice([0.0, 0.0, 0.01, rng.expovariate(2.0)])
        n = rng.randint(1, 20)
        if rng.random() < 0.01:
            pacer.observe(rng.uniform(0.8, 1.5))
        if rng.random() < 0.005:
            pacer.hold(rng.uniform(0.1, 3.0))
        assert pacer.acquire(n, stop)
        grants.append((ft.now, n))
        assert pacer.in_window() <= 98
    assert len(grants) > 1000
    assert _max_in_window(grants, 10.0) <= 98
    # The check above is not vacuous: the demand saturated the window many times.
    assert _max_in_window(grants, 10.0) >= 90


def test_sustained_demand_stays_within_5_percent_of_the_quota_floor():
    pacer, ft = _pacer(3000, 150.0)
    stop = threading.Event()
    writes = 14_700
    sent = 0
    while sent < writes:
        assert pacer.acquire(20, stop)
        sent += 20
    # Graph's own floor: the first 3,000 at once, then 3,000 more per 150 s.
    floor = (writes - 3000) / 3000 * 150.0
    assert ft.now <= 1.05 * floor
    assert ft.now >= floor * 0.99  # and we never beat the quota either


def test_hold_blocks_all_writes_until_it_expires():
    pacer, ft = _pacer(100, 10.0)
    stop = threading.Event()
    pacer.hold(2.5)
    assert pacer.available() == 0
    assert pacer.status().held_for == pytest.approx(2.5)
    assert pacer.acquire(1, stop)
    assert 2.5 <= ft.now < 2.501
    # A shorter hold later never shortens an existing one.
    pacer.hold(5.0)
    pacer.hold(1.0)
    assert pacer.acquire(1, stop)
    assert 7.5 <= ft.now < 7.501
    # A 429 also counts as pressure: the pace drops to 85 % until it recovers.
    assert pacer.capacity == int(100 * 0.98 * 0.85)
    ft.now += 100
    assert pacer.capacity == 98
    before = ft.now
    pacer.hold(0)
    pacer.hold(-3)
    assert pacer.acquire(1, stop)
    assert ft.now == before


def test_observe_slows_down_under_pressure_then_recovers_gradually():
    pacer, ft = _pacer(3000, 150.0)
    stop = threading.Event()
    assert pacer.capacity == 2940
    pacer.observe(None)
    pacer.observe(0.85)  # below the back-off threshold: no change
    assert pacer.capacity == 2940

    pacer.observe(1.2)
    reduced = pacer.capacity
    assert reduced == int(3000 * 0.98 * 0.85 / 1.2)
    # Under pressure writes are spread evenly, no burst: the second batch waits its slot.
    assert pacer.acquire(20, stop)
    t1 = ft.now
    assert pacer.acquire(20, stop)
    gap = ft.now - t1
    assert gap == pytest.approx(20 * 150.0 / reduced, rel=0.01)

    # Higher pressure lowers it further; a milder reading does not raise it back.
    pacer.observe(1.7)
    assert pacer.capacity == int(3000 * 0.98 * 0.5)
    pacer.observe(1.0)
    assert pacer.capacity == int(3000 * 0.98 * 0.5)

    # Absent header: nothing for recovery_delay (15 s), then linear over 75 s.
    start = ft.now
    ft.now = start + 10
    pacer.observe(None)
    assert pacer.capacity == int(3000 * 0.98 * 0.5)
    ft.now = start + 15 + 37.5
    mid = pacer.capacity
    assert int(3000 * 0.98 * 0.5) < mid < 2940
    ft.now = start + 15 + 75 + 0.1
    assert pacer.capacity == 2940
    assert pacer.status().pressure_factor == 1.0


def test_a_high_reading_explained_by_our_own_full_window_is_not_pressure():
    pacer, _ = _pacer(100, 10.0)
    stop = threading.Event()
    assert pacer.acquire(95, stop)
    pacer.observe(0.97)  # 95 % ours: Graph only sees what we sent
    assert pacer.capacity == 98
    pacer.observe(1.0)  # but at the limit itself we back off regardless
    assert pacer.capacity == int(100 * 0.98 * 0.85)


def test_a_high_reading_with_an_empty_window_is_someone_elses_load():
    pacer, _ = _pacer(100, 10.0)
    pacer.observe(0.95)
    assert pacer.capacity == int(100 * 0.98 * 0.85 / 0.95)


def test_pressure_never_drops_below_the_floor_factor():
    pacer, _ = _pacer(3000, 150.0, min_factor=0.25)
    pacer.observe(50.0)
    assert pacer.capacity == int(3000 * 0.98 * 0.25)


def test_a_batch_larger_than_the_lowered_capacity_still_goes_once_the_window_is_empty():
    pacer, ft = _pacer(20, 10.0, headroom=1.0)
    stop = threading.Event()
    pacer.observe(1.8)  # capacity 20 * 0.47 → 9
    assert pacer.capacity == 9
    assert pacer.acquire(15, stop)  # empty window: allowed, else it could never go
    assert pacer.acquire(1, stop)
    assert ft.now >= 10.0


def test_latency_margin_keeps_writes_in_the_window_a_round_trip_longer():
    pacer, ft = _pacer(10, 10.0, headroom=1.0)
    stop = threading.Event()
    pacer.note_latency(0.5)
    assert pacer.acquire(10, stop)
    assert pacer.acquire(1, stop)
    assert ft.now == pytest.approx(10.5, abs=0.001)


def test_acquire_up_to_grants_what_fits_now_and_waits_only_for_one_slot():
    pacer, ft = _pacer(10, 10.0, headroom=1.0)
    stop = threading.Event()
    assert pacer.acquire(7, stop)
    assert pacer.acquire_up_to(5, stop) == 3
    assert ft.now == 0.0
    assert pacer.acquire_up_to(5, stop) == 5  # all 10 from t=0 left at t=10
    assert 10.0 <= ft.now < 10.001
    assert pacer.in_window() == 5
    stop.set()
    assert pacer.acquire_up_to(1, stop) == 0
    assert pacer.in_window() == 5


def test_acquire_returns_false_when_stopped_without_recording():
    pacer, _ = _pacer(10, 10.0, headroom=1.0)
    stop = threading.Event()
    stop.set()
    assert pacer.acquire(1, stop) is False
    assert pacer.in_window() == 0
    assert pacer.acquire(0, stop) is False


def test_stop_interrupts_a_real_wait_within_a_fraction_of_a_second():
    pacer = WritePacer(5, 60.0, headroom=1.0)  # real clock, real sleeper
    control = RunControl()
    assert pacer.acquire(5, control)
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
    thread.join(2)
    assert box["ok"] is False
    assert box["elapsed"] < 0.5
    assert pacer.in_window() == 5


def test_concurrent_acquirers_share_one_window():
    ft_lock = threading.Lock()
    pacer = WritePacer(50, 0.3, headroom=1.0)
    stop = threading.Event()
    grants: list[tuple[float, int]] = []

    def worker() -> None:
        for _ in range(10):
            assert pacer.acquire(5, stop)
            with ft_lock:
                grants.append((time.monotonic(), 5))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    grants.sort()
    assert sum(n for _, n in grants) == 200
    # Recorded just after acquire returned, so allow some scheduling slack (50 ms).
    assert _max_in_window(grants, 0.25) <= 50
    assert grants[-1][0] - grants[0][0] >= 0.3 * 3 * 0.95


def test_rejects_nonsense_configuration():
    with pytest.raises(ValueError):
        WritePacer(0, 10.0)
    with pytest.raises(ValueError):
        WritePacer(10, 0)
    with pytest.raises(ValueError):
        WritePacer(10, 10.0, headroom=1.5)
