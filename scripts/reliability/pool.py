"""Running reliability trials side by side: a pool of worker processes, one trial at a time each.

A trial drives closeout in its own process's globals (the token variable, stdout, the state
and lock directories), so trials cannot share a process; but each spends most of its time
waiting (on the sandbox's clock, on retries, on a child it is about to kill), so several run
at once. Workers fork from a server that imported closeout and the sandbox once, and each has
closeout's state, runtime and config directories of its own (a per-tenant lock keyed on the
tenant id must not meet another trial's tenant of the same seed).
"""

from __future__ import annotations

import multiprocessing
import resource
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import util
from pathlib import Path

from .model import Trial
from .trials import Spec, private_dirs

# Imported once by the fork server rather than by every worker.
PRELOAD = [
    "scripts.reliability",
    "app.cli.commands.run",
    "app.cli.commands.plan",
    "app.cli.commands.status",
    "services.headless",
    "services.evidence",
    "msal",
]


_EXPECTED = "ignore:'scripts.reliability' found in sys.modules:RuntimeWarning"


def run_all(specs: Sequence[Spec], jobs: int) -> Iterator[Trial]:
    """Each trial of ``specs``, as it finishes, ``jobs`` at a time (1: in this process)."""
    if jobs <= 1 or len(specs) <= 1:
        with tempfile.TemporaryDirectory(prefix="closeout-reliability-xdg-") as xdg:
            private_dirs(Path(xdg))
            for spec in specs:
                yield _run(spec)
        return
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    # Run as ``python -m scripts.reliability``, each worker runs that module again as its
    # __mp_main__ and warns that the fork server imported it first: expected, and harmless.
    # (The fork server starts with this interpreter's -W options; its workers keep them.)
    if _EXPECTED not in sys.warnoptions:
        sys.warnoptions.append(_EXPECTED)
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(specs)), mp_context=ctx, initializer=_worker_started
    ) as pool:
        futures = [pool.submit(_run, spec) for spec in specs]
        for future in as_completed(futures):
            yield future.result()


def _worker_started() -> None:
    xdg = tempfile.mkdtemp(prefix="closeout-reliability-xdg-")
    private_dirs(Path(xdg))
    # Removed as the worker ends (multiprocessing runs its finalizers; atexit it does not).
    util.Finalize(None, shutil.rmtree, args=(xdg,), kwargs={"ignore_errors": True}, exitpriority=0)


def _run(spec: Spec) -> Trial:
    before = _cpu()
    trial = spec.run()
    trial.cpu = _cpu() - before
    return trial


def _cpu() -> float:
    """CPU seconds of this process and of the children it waited for (a kill trial's)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
