"""What keeping the demo tenant costs: the state file's size and the time to capture (under the
sandbox's lock), encode, write (temp file, fsync, rename), read back and restore it, per size:
wall-clock seconds, and in brackets the CPU seconds of this process (what a loaded machine's
wall clock adds is waiting, not work).

    python -m scripts.bench_demo_state [--users 300,100000]

A benchmark prints numbers; no test times anything.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from services.demo_folder import DemoFolder
from services.sandbox import Sandbox, SandboxConfig
from services.sandbox.saved_state import capture, decode, restore


def measure(users: int) -> tuple[float, dict[str, tuple[float, float]]]:
    config = SandboxConfig(users=users, seed=7, time_scale=3600.0)
    sandbox = Sandbox(config)
    # Half the users deleted, as in the middle of step 1: the recycle bin is as big as it gets.
    with sandbox.lock:
        for user in list(sandbox.tenant.users.values())[1 : users // 2]:
            sandbox.tenant.users.remove(user.id)
            sandbox.tenant.deleted_users.add(user.id, user)
    with tempfile.TemporaryDirectory(prefix="bench-demo-state-") as tmp:
        folder = DemoFolder(Path(tmp) / "demo")
        marks = [_now()]
        state = capture(sandbox)
        marks.append(_now())
        data = state.encode()
        marks.append(_now())
        folder.write_state(data)
        marks.append(_now())
        again = decode(folder.state_path.read_bytes())
        marks.append(_now())
        restored = restore(again, config)
        marks.append(_now())
        assert len(restored.tenant.users) == len(sandbox.tenant.users)
    names = ("capture", "encode", "write", "read", "restore")
    spans = {
        name: (b[0] - a[0], b[1] - a[1])
        for name, a, b in zip(names, marks, marks[1:], strict=False)
    }
    return float(len(data)), spans


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="300,100000")
    args = parser.parse_args()
    for users in (int(s.replace("_", "").replace(",", "")) for s in args.users.split(",")):
        size, spans = measure(users)
        said = ", ".join(f"{name} {wall:.3f} s ({cpu:.3f})" for name, (wall, cpu) in spans.items())
        print(f"{users:>7,} users: file {size / 1e6:.2f} MB; {said}")
        print("         (capture holds the sandbox's lock; write = temp file + fsync + rename)")


if __name__ == "__main__":
    main()
