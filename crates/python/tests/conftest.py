"""Fixtures: the repository's paths, and `policy serve` started on a loopback port with a
fresh data directory and tokens made as an operator makes them."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SUPPORT = ROOT / "policies" / "support"


def binary() -> str:
    path = os.environ.get("HOLDPOINT_BIN") or str(ROOT / "target" / "debug" / "policy")
    if not os.access(path, os.X_OK):
        pytest.skip(f"no `policy` binary at {path}: cargo build --bin policy, or set HOLDPOINT_BIN")
    return path


class Service:
    """A running `policy serve policies/support`: `base`, `tokens` by name."""

    def __init__(self) -> None:
        self.data = tempfile.mkdtemp(prefix="holdpoint-py-")
        exe = binary()
        self.tokens = {}
        makes = {"agent": ["--agent", "support-bot", "--tenant", "acme"], "fiona": ["--approver", "fiona"]}
        for who, args in makes.items():
            out = subprocess.run([exe, "tokens", "create", "--data", self.data, *args],
                                 check=True, capture_output=True, text=True)
            self.tokens[who] = out.stdout.strip()
        self.proc = subprocess.Popen(
            [exe, "serve", str(SUPPORT), "--listen", "127.0.0.1:0", "--data", self.data, "--rate-limit", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"},
        )
        deadline = time.time() + 30
        self.base = None
        assert self.proc.stdout is not None
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if m := re.search(r" on (http://127\.0\.0\.1:\d+)", line):
                self.base = m.group(1)
                break
        if self.base is None:
            self.stop()
            raise RuntimeError("the service did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def service():
    s = Service()
    yield s
    s.stop()
