#!/usr/bin/env python3
"""The main job as a newcomer runs it: `policy serve POLICY --demo` on a fresh data
directory, then the whole approval loop over HTTP with the printed demo tokens (inbox,
approve with the digest seen, the agent's wait, claim, report), then SIGTERM: the service
must stop cleanly. Standard library only.

usage: serve_smoke.py POLICY_BINARY POLICY_DIR
"""
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def call(base, method, path, token=None, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text.startswith(("{", "[")) else text)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


def expect(cond, what):
    if not cond:
        sys.exit(f"serve smoke: FAILED: {what}")


def main():
    binary, policy = sys.argv[1], sys.argv[2]
    data = tempfile.mkdtemp(prefix="holdpoint-smoke-")
    proc = subprocess.Popen(
        [binary, "serve", policy, "--demo", "--data", data, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    seen, base, agent, approver, second = [], None, None, None, None
    deadline = time.time() + 60
    while time.time() < deadline and not (base and agent and approver and second):
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if m := re.search(r"export HOLDPOINT_SERVER=(\S+)", line):
            base = m.group(1)
        if m := re.search(r"export AGENT_TOKEN=(\S+)", line):
            agent = m.group(1)
        if m := re.search(r"export APPROVER_TOKEN=(\S+)", line):
            approver = m.group(1)
        if m := re.search(r"export APPROVER_TOKEN_2=(\S+)", line):
            second = m.group(1)
    expect(base and agent and approver and second,
           "the demo printed no URL and tokens (an agent's, and an approver's for each waiting group):\n"
           + "".join(seen))
    try:
        status, body = call(base, "GET", "/healthz")
        expect(status == 200, f"/healthz answered {status}")
        status, inbox = call(base, "GET", "/v1/inbox", approver)
        expect(status == 200 and inbox["requests"], f"the demo approver's inbox is empty: {inbox}")
        # The demo's two refunds wait for finance (fiona), the bulk update for support leads.
        tools = sorted(r["tool"] for r in inbox["requests"])
        expect(tools == ["stripe.refund", "stripe.refund"], f"the finance inbox holds {tools}")
        status, leads = call(base, "GET", "/v1/inbox", second)
        expect(status == 200 and [r["tool"] for r in leads["requests"]] == ["crm.bulk_update"],
               f"the second demo approver's inbox: {leads}")
        rid = inbox["requests"][0]["request"]
        status, forged = call(base, "POST", f"/v1/requests/{rid}/decisions", agent,
                              {"decision": "approve", "digest": inbox["requests"][0]["digest"]})
        expect(status == 403, f"an agent's approval was not refused: {status} {forged}")
        status, req = call(base, "GET", f"/v1/requests/{rid}", approver)
        expect(status == 200, f"the request does not read: {req}")
        status, later = call(base, "GET", f"/v1/requests/{inbox['requests'][1]['request']}", approver)
        expect(status == 200 and later["run"]["totals"].get("amount") == 1600,
               f"the second refund's run does not total 900 + 700: {later.get('run')}")
        status, decided = call(base, "POST", f"/v1/requests/{rid}/decisions", approver,
                               {"decision": "approve", "digest": req["digest"]})
        expect(status == 200, f"the approval was refused: {status} {decided}")
        status, waited = call(base, "GET", f"/v1/requests/{rid}/wait?timeout=5", agent)
        expect(status == 200 and waited["state"] == "approved", f"the wait gave {waited}")
        status, claim = call(base, "POST", f"/v1/requests/{rid}/claim", agent, {})
        expect(status == 200 and claim["permit"].startswith("hp1."), f"the claim gave {claim}")
        status, again = call(base, "POST", f"/v1/requests/{rid}/claim", agent, {})
        expect(status == 409, f"a second claim was not refused: {status} {again}")
        status, reported = call(base, "POST", f"/v1/requests/{rid}/report", agent,
                                {"claim": claim["claim"], "outcome": "executed", "result": "ok"})
        expect(status == 200 and reported["state"] == "executed", f"the report gave {reported}")
    finally:
        proc.terminate()
    try:
        code = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        sys.exit("serve smoke: FAILED: the service did not stop within 20 s of SIGTERM")
    expect(code == 0, f"the service exited with {code} on SIGTERM")
    print(f"serve smoke: ok (demo, inbox, forged approval refused, approve, wait, claim once, report, clean stop) on {base}")


if __name__ == "__main__":
    main()
