"""``closeout sandbox serve`` runs the sandbox alone and prints what a client needs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def test_serve_prints_base_url_domain_and_a_working_token() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app.cli",
            "sandbox",
            "serve",
            "--users",
            "25",
            "--seed",
            "2",
            "--time-scale",
            "60",
            "--latency-ms",
            "1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C" in line:
                break
        out = "".join(lines)
        base = re.search(r"Graph root\s+(http://127\.0\.0\.1:\d+)", out)
        domain = re.search(r"initial domain\s+(\S+\.onmicrosoft\.com)", out)
        token = re.search(r"CLOSEOUT_ACCESS_TOKEN=(\S+)", out)
        assert base and domain and token, out
        resp = requests.get(
            f"{base.group(1)}/v1.0/organization",
            headers={"Authorization": f"Bearer {token.group(1)}"},
            timeout=10,
        )
        assert resp.status_code == 200
        names = [d["name"] for d in resp.json()["value"][0]["verifiedDomains"] if d["isInitial"]]
        assert names == [domain.group(1)]
        assert requests.get(f"{base.group(1)}/v1.0/organization", timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
