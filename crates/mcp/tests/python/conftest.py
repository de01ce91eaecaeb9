"""Fixtures: `policy serve` on a loopback port with this directory's policy, a fresh
data directory, and tokens made as an operator makes them (an agent for the gateway, an
approver)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


class Service:
    """A running `policy serve`: `base`, `tokens` by name, and the approver's API."""

    def __init__(self, binary: str) -> None:
        self.data = tempfile.mkdtemp(prefix="holdpoint-mcp-")
        self.tokens = {}
        for who, args in {"agent": ["--agent", "gateway", "--tenant", "shop"],
                          "fiona": ["--approver", "fiona"]}.items():
            out = subprocess.run([binary, "tokens", "create", "--data", self.data, *args],
                                 check=True, capture_output=True, text=True)
            self.tokens[who] = out.stdout.strip()
        self.proc = subprocess.Popen(
            [binary, "serve", str(HERE / "policy.gate"), "--listen", "127.0.0.1:0", "--data", self.data,
             "--rate-limit", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "RUST_LOG": "warn"},
        )
        self.base = None
        deadline = time.time() + 30
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

    def api(self, method: str, path: str, body=None, who: str = "fiona"):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.tokens[who]}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def decide(self, request_id: str, decision: str, **extra):
        shown = self.api("GET", f"/v1/requests/{request_id}")
        return self.api("POST", f"/v1/requests/{request_id}/decisions",
                        {"decision": decision, "digest": shown["digest"], **extra})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture
def service():
    s = Service(os.environ["HOLDPOINT_BIN"])
    yield s
    s.stop()
