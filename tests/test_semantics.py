"""The language's meaning, as data: every case in ``tests/cases/*.yaml``, run by both evaluators.

A case file is a list of cases, each a map with

- ``note``: what the case shows (the test id is ``"<file stem>: <note>"``);
- ``policy``: the source text of one policy;
- ``facts``: resource records, as ``regie.engine.facts.resources_from_records`` reads them
  (``{unknown: reason}`` marks an unknown value);
- ``catalogs`` (optional): entries per catalogue, ``{providers: {aws: {...}}, ...}``; there are
  no built-in entries, so a case says every fact it rests on;
- ``params`` (optional): parameter values by name (the defaults fill in the rest);
- ``today`` (optional): the evaluation date, ISO (default 2026-01-15);
- either ``want``: the findings, in order, each with ``outcome`` and ``target`` and optionally
  ``item`` (absent means none), ``message``, ``reason`` and ``evidence`` (compared when given);
- or ``want_error``: ``code`` and ``underline``, the diagnostic the policy must be rejected with
  and the source text its span covers.

Each case runs through the reference interpreter, the compiled policy, and the compiled
policy over the roots the kind index picks; all three must give the wanted findings.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from regie.dsl import ast
from regie.dsl.build import parse_module
from regie.dsl.builtins import EvalContext
from regie.dsl.check import CheckedPolicy, check_policy
from regie.dsl.compile import compile_policy
from regie.dsl.diagnostics import Diagnostic, render_all
from regie.dsl.interp import eval_expr, run_policy
from regie.dsl.runtime import Finding, RunContext
from regie.dsl.source import Source
from regie.dsl.types import SetType
from regie.engine.catalog import Catalogs
from regie.engine.facts import Inventory, resources_from_records
from regie.engine.schema import fact_schema

CASES_DIR = Path(__file__).resolve().parent / "cases"
DEFAULT_TODAY = "2026-01-15"

CASE_KEYS = {"note", "policy", "facts", "catalogs", "params", "today", "want", "want_error"}
FINDING_KEYS = {"outcome", "target", "item", "message", "reason", "evidence"}


def load_cases() -> list[tuple[str, dict[str, Any]]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, list), f"{path.name}: a case file is a list of cases"
        for case in data:
            cases.append((f"{path.stem}: {case.get('note')}", case))
    return cases


CASES = load_cases()


def test_every_topic_has_cases() -> None:
    topics = {case_id.split(":")[0] for case_id, _ in CASES}
    wanted = {"null", "unknown", "aggregates", "group_by", "nested_for", "strings", "messages", "equality"}
    assert wanted <= topics, sorted(wanted - topics)
    ids = [case_id for case_id, _ in CASES]
    assert len(ids) == len(set(ids)), "notes repeat within a file"


@pytest.mark.parametrize("case", [c for _, c in CASES], ids=[i for i, _ in CASES])
def test_case(case: dict[str, Any]) -> None:
    unknown_keys = set(case) - CASE_KEYS
    assert not unknown_keys, f"unknown case keys {sorted(unknown_keys)}"
    assert_string_keys(case)
    assert ("want" in case) != ("want_error" in case), "a case has `want` or `want_error`"
    source = Source("case.regie", case["policy"])
    if "want_error" in case:
        assert_rejected(source, case["want_error"])
        return
    checked = accept(source)
    resources = resources_from_records(case.get("facts") or [], "facts")
    run = run_context(checked, resources, case)
    compiled = compile_policy(checked)
    evaluators: dict[str, Callable[[], list[Finding]]] = {
        "interpreter": lambda: run_policy(checked, run),
        "compiled": lambda: compiled.run(run),
        "compiled over the kind index": lambda: compiled.run(
            run, Inventory(resources).select(checked.selector)
        ),
    }
    want = [expected(w) for w in case["want"] or []]
    failures = []
    for name, evaluate in evaluators.items():
        try:
            findings = evaluate()
            got = [seen(f, want[i] if i < len(want) else {}) for i, f in enumerate(findings)]
        except Exception as err:
            failures.append(f"{name} raised {type(err).__name__}: {err}")
            continue
        if got != want:
            failures.append(f"{name} gave\n  {got}\nwanted\n  {want}")
    assert not failures, "\n".join(failures)


def assert_string_keys(data: Any, path: str = "case") -> None:
    """YAML 1.1 reads the keys `on`, `no`, `yes` as booleans: a case must quote them."""
    if isinstance(data, dict):
        for key, value in data.items():
            assert isinstance(key, str), f"{path}: key {key!r} is not a string; quote it"
            assert_string_keys(value, f"{path}.{key}")
    elif isinstance(data, list):
        for i, value in enumerate(data):
            assert_string_keys(value, f"{path}[{i}]")


def accept(source: Source) -> CheckedPolicy:
    module = parse_module(source)
    assert not isinstance(module, list), render_all(module)
    policies = [item for item in module.items if isinstance(item, ast.Policy)]
    assert len(policies) == 1, "a case holds exactly one policy"
    checked = check_policy(policies[0], fact_schema())
    assert not isinstance(checked, list), render_all(checked)
    return checked


def assert_rejected(source: Source, want: dict[str, str]) -> None:
    assert set(want) == {"code", "underline"}, "`want_error` has `code` and `underline`"
    module = parse_module(source)
    diagnostics: list[Diagnostic]
    if isinstance(module, list):
        diagnostics = module
    else:
        diagnostics = []
        for item in module.items:
            if isinstance(item, ast.Policy):
                result = check_policy(item, fact_schema())
                if isinstance(result, list):
                    diagnostics.extend(result)
    assert diagnostics, "the policy was accepted"
    got = [(d.code, d.span.snippet()) for d in diagnostics]
    assert (want["code"], want["underline"]) in got, render_all(diagnostics)


def run_context(checked: CheckedPolicy, resources: list[Any], case: dict[str, Any]) -> RunContext:
    today = dt.date.fromisoformat(str(case.get("today", DEFAULT_TODAY)))
    ctx = EvalContext(today)
    catalogs = Catalogs()
    for name, entries in (case.get("catalogs") or {}).items():
        catalogs.merge(name, entries, "case")
    values = catalogs.globals()
    values["resources"] = resources
    values["today"] = today.isoformat()
    params: dict[str, Any] = {}
    for name, default in checked.param_defaults.items():
        params[name] = eval_expr(default, {}, ctx) if default is not None else None
    for name, value in (case.get("params") or {}).items():
        assert name in checked.param_types, f"the policy has no parameter `{name}`"
        if isinstance(checked.param_types[name], SetType):
            value = frozenset(value)
        params[name] = value
    return RunContext(values, params, ctx)


def expected(want: dict[str, Any]) -> dict[str, Any]:
    unknown_keys = set(want) - FINDING_KEYS
    assert not unknown_keys, f"unknown finding keys {sorted(unknown_keys)}"
    assert {"outcome", "target"} <= set(want), "a wanted finding has `outcome` and `target`"
    return {"item": None, **want}


def seen(finding: Finding, want: dict[str, Any]) -> dict[str, Any]:
    """The parts of a finding that ``want`` speaks about (outcome, target and item at least)."""
    full = {
        "outcome": finding.outcome,
        "target": finding.target,
        "item": finding.item,
        "message": finding.message,
        "reason": finding.reason,
        "evidence": dict(finding.evidence),
    }
    keys = set(want) | {"outcome", "target", "item"}
    return {k: v for k, v in full.items() if k in keys}
