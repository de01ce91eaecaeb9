"""The MCP gateway's overhead per allowed call over stdio: the same upstream server (the
gateway tests' `upstream_server.py`, on the official Python SDK) called by the official
Python client directly and through `policy mcp`, the calls alternating between the two
sessions; per-call medians and the median of the paired differences, and the CPU time
the gateway process itself spent per call (its threads' user and system time, from
/proc, without its upstream's).

    target/mcp-venv/bin/python benches/mcp/overhead.py [--policy-bin target/release/policy] [--calls 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "crates" / "mcp" / "tests" / "python"


async def interleaved(direct: StdioServerParameters, gated: StdioServerParameters, calls: int):
    """Both sessions open at once, their calls alternating, so the machine's drift hits
    both alike: (direct µs, gateway µs, median of the paired differences)."""
    async with stdio_client(direct) as (dr, dw), stdio_client(gated) as (gr, gw):
        async with ClientSession(dr, dw) as d, ClientSession(gr, gw) as g:
            await d.initialize()
            await g.initialize()

            async def once(s):
                start = time.perf_counter_ns()
                r = await s.call_tool("read_file", {"path": "/etc/motd"})
                assert not r.is_error
                return (time.perf_counter_ns() - start) / 1000

            for _ in range(50):  # warm up
                await once(d)
                await once(g)
            gateway = gateway_pid()
            cpu_before = cpu_seconds(gateway)
            ds, gs = [], []
            for _ in range(calls):
                ds.append(await once(d))
                gs.append(await once(g))
            cpu_us = (cpu_seconds(gateway) - cpu_before) * 1e6 / calls
            diffs = [b - a for a, b in zip(ds, gs)]
            return statistics.median(ds), statistics.median(gs), statistics.median(diffs), cpu_us


def gateway_pid() -> int | None:
    """The `policy` process this script started (a child of it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == os.getpid() and comm == "policy":
            return int(entry.name)
    return None


def cpu_seconds(pid: int | None) -> float:
    """The process's user and system time (all its threads, not its children)."""
    if pid is None:
        return float("nan")
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--policy-bin", default=str(ROOT / "target" / "release" / "policy"))
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        env = {"CALL_LOG": str(Path(d, "calls.jsonl")), "PATH": os.environ.get("PATH", ""), "UPSTREAM_NAME": "files"}
        server = [str(TESTS / "upstream_server.py")]
        direct = StdioServerParameters(command=sys.executable, args=server, env=env)
        gated = StdioServerParameters(
            command=a.policy_bin,
            args=["mcp", str(TESTS / "policy.gate"), "--upstream", f"files={sys.executable} {server[0]}"],
            env=env)
        d_us, g_us, diff, cpu_us = anyio.run(interleaved, direct, gated, a.calls)
        print(f"direct {d_us:.0f} µs/call, through the gateway {g_us:.0f} µs/call: "
              f"overhead {diff:.0f} µs per allowed call (median of the paired differences); "
              f"the gateway's own CPU {cpu_us:.0f} µs per call")


if __name__ == "__main__":
    main()
