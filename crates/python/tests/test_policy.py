"""The evaluator through the Python API: the conformance cases give the decisions the Rust
evaluator gives (the same expectations `tests/conformance.rs` checks), load errors and
warnings carry their places, bad calls raise `CallError`, and a `Policy` is shared by
threads."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import yaml

import holdpoint

ROOT = Path(__file__).resolve().parents[3]
CASES = ROOT / "tests" / "cases"


def cases(folder: str) -> list:
    return [
        pytest.param(case, id=f"{path.stem}: {case['name']}")
        for path in sorted((CASES / folder).glob("*.yaml"))
        for case in yaml.safe_load(path.read_text())
    ]


@pytest.mark.parametrize("case", cases("conformance"))
def test_conformance_cases_decide_as_the_rust_evaluator(case):
    if case.get("check_fails"):
        with pytest.raises(holdpoint.PolicyError) as e:
            holdpoint.Policy.from_source(case["policy"], catalog=case.get("catalog"))
        assert case["message_contains"] in str(e.value)
        return
    policy = holdpoint.Policy.from_source(case["policy"], catalog=case.get("catalog"))
    for i, c in enumerate(case["calls"]):
        d = policy.evaluate(c["call"])
        want = c["expect"]
        where = f"call {i}: {c['call']}"
        assert d.effect == want["effect"], where
        if "rules" in want:
            assert sorted(d.rules) == sorted(want["rules"]), where
        if "mode" in want:
            assert d.mode == want["mode"], where
        report = d.to_dict()
        if "default_applied" in want:
            assert report["default_applied"] == want["default_applied"], where
        if "unknown" in want:
            assert bool(d.unknown) == want["unknown"], where
        if "reason" in want:
            assert want["reason"] in [r["reason"] for r in d.reasons], where
        # The same call as JSON text decides the same.
        assert policy.evaluate(json.dumps(c["call"])).to_dict() == report, where


def test_the_support_policy_gates_a_refund_with_its_groups_and_sla():
    policy = holdpoint.Policy.load(ROOT / "policies" / "support")
    d = policy.evaluate({"tool": "stripe.refund", "args": {"amount": 900}})
    assert (d.effect, d.rules, d.mode, d.runs) == ("approve", ["refund_over_lane"], "async", False)
    (gate,) = d.gates
    assert gate["by"] == ["finance"] and gate["within_s"] == 48 * 3600
    assert "900" in d.reasons[0]["reason"]
    small = policy.evaluate({"name": "stripe.refund", "arguments": json.dumps({"amount": 40})})
    assert (small.effect, small.runs) == ("audit", True)
    assert json.loads(d.to_json()) == d.to_dict()


def test_a_policy_with_errors_raises_with_the_clis_message_and_each_place():
    with pytest.raises(holdpoint.PolicyError) as e:
        holdpoint.Policy.from_source('default audit\nallow x { when tool == "a" }\ndeny x { when tool == "b" }\n')
    (first, *_) = [d for d in e.value.diagnostics if d.severity == "error"]
    assert first.code.startswith("E") and first.line == 3 and first.column is not None
    assert first.message in str(e.value)
    assert "-->" in first.rendered or "|" in first.rendered


@pytest.mark.parametrize("case", cases("check"))
def test_check_cases_give_their_findings_with_places(case):
    try:
        policy = holdpoint.Policy.from_source(case["policy"], catalog=case.get("catalog"))
        found = policy.check()
    except holdpoint.PolicyError as e:
        found = e.diagnostics
    want = case["findings"]
    assert [(d.code, d.line, d.column) for d in found] == [(f["code"], f["line"], f["col"]) for f in want]
    for d, f in zip(found, want):
        assert f["message"] in d.message


def test_a_catalog_that_does_not_read_is_a_policy_error_with_diagnostics():
    with pytest.raises(holdpoint.PolicyError) as e:
        holdpoint.Policy.from_source("default allow", catalog="tools: [1, 2")
    assert isinstance(e.value.diagnostics, list)


def test_a_missing_file_is_a_policy_error_naming_it():
    with pytest.raises(holdpoint.PolicyError, match="no-such-policy"):
        holdpoint.Policy.load("/no-such-policy")


@pytest.mark.parametrize("bad", [
    "{not json", "[1, 2]", {"args": {}}, {"tool": "t", "args": {1: 2}}, {"tool": "t", "args": {"x": object()}},
    {"tool": "t", "args": {"x": float("nan")}}, {"tool": "t", "args": {"x": 2**70}},
])
def test_bad_calls_raise_call_error(bad):
    policy = holdpoint.Policy.from_source("default allow")
    with pytest.raises(holdpoint.CallError):
        policy.evaluate(bad)
    assert issubclass(holdpoint.CallError, holdpoint.HoldpointError)


def test_evaluate_many_decides_like_evaluate_and_a_policy_is_shared_by_threads():
    policy = holdpoint.Policy.load(ROOT / "policies" / "support")
    calls = [{"tool": "stripe.refund", "args": {"amount": a}} for a in range(0, 7000, 50)]
    one_by_one = [policy.evaluate(c).to_dict() for c in calls]
    assert [d.to_dict() for d in policy.evaluate_many(calls)] == one_by_one
    results: list[list[dict]] = []

    def work():
        results.append([d.to_dict() for d in policy.evaluate_many(calls)])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [one_by_one] * 4
    with pytest.raises(holdpoint.CallError):
        policy.evaluate_many([calls[0], "{oops"])
