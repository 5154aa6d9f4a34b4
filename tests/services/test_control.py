"""RunControl: interruptible waits, pause/resume at checkpoints, a final stop."""

from __future__ import annotations

import threading
import time

from services.control import RunControl


def _in_thread(fn):
    """Run ``fn`` in a thread; returns (thread, box) where box gets the result and its time."""
    box: dict[str, object] = {}

    def target() -> None:
        t0 = time.monotonic()
        box["result"] = fn()
        box["elapsed"] = time.monotonic() - t0

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, box


def test_wait_times_out_false_when_running():
    control = RunControl()
    t0 = time.monotonic()
    assert control.wait(0.05) is False
    assert time.monotonic() - t0 >= 0.045
    assert control.wait(0) is False
    assert control.wait(-1) is False


def test_stop_interrupts_a_long_wait():
    # Judged by what the wait did, not by how fast the machine is: a wait that ignored the
    # stop would sleep its whole 30 s (and say False had it been asked before the stop).
    control = RunControl()
    thread, box = _in_thread(lambda: control.wait(30))
    control.stop()
    thread.join(60)
    assert box["result"] is True
    assert box["elapsed"] < 30
    assert control.stopped
    # Once stopped, waits return at once, saying so.
    t0 = time.monotonic()
    assert control.wait(30) is True
    assert time.monotonic() - t0 < 30


def test_checkpoint_passes_when_running_and_blocks_while_paused():
    control = RunControl()
    assert control.checkpoint() is True
    control.pause()
    assert control.paused
    thread, box = _in_thread(control.checkpoint)
    time.sleep(0.15)
    assert thread.is_alive(), "checkpoint must block while paused"
    control.resume()
    thread.join(60)  # a hang guard: a loaded machine may take seconds to run the thread again
    assert not thread.is_alive() and box["result"] is True
    assert not control.paused


def test_stop_releases_a_paused_checkpoint_with_false():
    control = RunControl()
    control.pause()
    thread, box = _in_thread(control.checkpoint)
    control.stop()
    thread.join(60)  # a paused checkpoint has no timeout: only the stop ends it
    assert not thread.is_alive() and box["result"] is False
    assert control.checkpoint() is False


def test_stop_is_final_and_idempotent():
    control = RunControl()
    control.stop()
    control.stop()
    control.pause()  # ignored after a stop: a stopped run cannot be paused into limbo
    assert control.stopped and not control.paused
    control.resume()
    assert control.stopped
    assert "stopped" in repr(control)


def test_listeners_hear_every_state_change_until_removed():
    control = RunControl()
    calls: list[tuple[bool, bool]] = []
    remove = control.add_listener(lambda: calls.append((control.paused, control.stopped)))
    control.pause()
    control.pause()  # no change, no call
    control.resume()
    remove()
    control.stop()
    assert calls == [(True, False), (False, False)]


def test_stop_event_is_a_plain_threading_event():
    control = RunControl()
    assert isinstance(control.stop_event, threading.Event)
    control.stop_event.set()
    assert control.stopped
    assert control.wait(5) is True
