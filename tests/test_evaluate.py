"""Evaluation: enforcement per context, unknown modes, parameters, the kind index, isolation of failures."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from regie.dsl.build import parse_module
from regie.dsl.diagnostics import render_all
from regie.dsl.source import Source
from regie.engine.evaluate import Evaluation, PolicySet, evaluate
from regie.engine.facts import Inventory, resources_from_records
from regie.loading import InputError, load_catalogs, load_config

TODAY = dt.date(2026, 11, 29)


def policy_set(text: str, params: dict[str, object] | None = None) -> PolicySet:
    module = parse_module(Source("t.regie", text))
    assert not isinstance(module, list), render_all(module)
    result = PolicySet.build([module], params={k: (v, "test") for k, v in (params or {}).items()})
    assert not isinstance(result, list), render_all(result)
    return result


def run(ps: PolicySet, records: list[dict[str, object]], context: str | None = None):  # type: ignore[no-untyped-def]
    inventory = Inventory(resources_from_records(records, "facts"))
    return evaluate(ps, inventory, load_catalogs(), context=context, today=TODAY)


LOCATION = """
policy t.location {
  title "EU only"
  source "test"
  enforce deny
  enforce.audit advisory
  UNKNOWN
  for r in resources
  where r.region != null
  require r.country in eu
}
"""


@pytest.mark.parametrize(("context", "level"), [(None, "deny"), ("ci", "deny"), ("audit", "advisory")])
def test_enforcement_follows_the_context(context: str | None, level: str) -> None:
    ps = policy_set(LOCATION.replace("UNKNOWN", ""))
    result = run(ps, [{"id": "a", "region": "us-east-1", "country": "US"}], context)
    assert [v.enforcement for v in result.violations] == [level]
    assert bool(result.blocking) is (level == "deny")


UNDECIDED = [
    {"id": "a", "region": {"unknown": "known after apply"}, "country": {"unknown": "known after apply"}}
]


def test_unknown_is_reported_at_most_as_warning_by_default() -> None:
    ps = policy_set(LOCATION.replace("UNKNOWN", ""))
    (v,) = run(ps, UNDECIDED).violations
    assert (v.outcome, v.enforcement, v.reason) == ("unknown", "warn", "known after apply")
    assert not v.blocking


def test_unknown_violation_fails_closed() -> None:
    ps = policy_set(LOCATION.replace("UNKNOWN", "unknown violation"))
    (v,) = run(ps, UNDECIDED).violations
    assert (v.outcome, v.enforcement) == ("violation", "deny")
    assert v.blocking


def test_unknown_pass_must_be_said_and_drops_the_finding() -> None:
    ps = policy_set(LOCATION.replace("UNKNOWN", "unknown pass"))
    assert run(ps, UNDECIDED).violations == []


def test_violation_carries_policy_metadata_and_resource_facts() -> None:
    ps = policy_set("""
policy t.meta {
  title "Titel"
  title.en "Title"
  source "Document, section 3"
  requirement "CLOUD-01", "CSBN-02"
  severity critical
  enforce deny
  basis inferred
  for r in resources
  require r.vital != true
  message "vital: {r.service}"
}
""")
    records = [
        {"id": "a", "vital": True, "service": "pay", "address": "aws_s3_bucket.a", "source": "state.json"}
    ]
    (v,) = run(ps, records).violations
    assert v.to_dict() == {
        "policy": "t.meta",
        "title": "Titel",
        "titles": {"en": "Title"},
        "requirements": ["CLOUD-01", "CSBN-02"],
        "source": "Document, section 3",
        "basis": "inferred",
        "severity": "critical",
        "enforcement": "deny",
        "outcome": "violation",
        "resource": "a",
        "item": None,
        "address": "aws_s3_bucket.a",
        "origin": "state.json",
        "service": "pay",
        "message": "vital: pay",
        "reason": None,
        "evidence": {"r.vital": True},
        "waived": False,
        "waiver": None,
    }


def test_parameter_overrides_are_typed_and_named() -> None:
    text = """
policy t.p {
  title "t"
  source "s"
  param limit: int = 3
  for r in resources
  require len(r.labels) <= limit
}
"""
    ps = policy_set(text, {"t.p.limit": 1})
    assert [v.resource for v in run(ps, [{"id": "a", "labels": {"x": "1", "y": "2"}}]).violations] == ["a"]
    module = parse_module(Source("t.regie", text))
    assert not isinstance(module, list)
    for params, code in (
        ({"t.p.limit": "many"}, "REG-T007"),
        ({"t.p.limt": 1}, "REG-T008"),
        ({"t.q.limit": 1}, "REG-T008"),
    ):
        result = PolicySet.build([module], params={k: (v, "regie.toml") for k, v in params.items()})
        assert isinstance(result, list)
        assert [d.code for d in result] == [code]
    result = PolicySet.build([module], params={"t.p.limt": (1, "regie.toml")})
    assert isinstance(result, list) and result[0].help == "did you mean `limit`?"


def test_kind_index_only_changes_which_resources_are_tried() -> None:
    ps = policy_set("""
policy t.k {
  title "t"
  source "s"
  for r in resources
  where r.kind == "storage" and r.type in {"b1", "b2"}
  require false
}
""")
    assert ps.policies[0].checked.selector.kinds == frozenset({"storage"})
    records = [
        {"id": "a", "kind": "storage", "type": "b1"},
        {"id": "b", "kind": "compute", "type": "b1"},
        {"id": "c", "kind": "storage", "type": "b2"},
        {"id": "d", "kind": "storage", "type": "x"},
    ]
    assert [v.resource for v in run(ps, records).violations] == ["a", "c"]


def test_one_failing_policy_does_not_stop_the_others() -> None:
    ps = policy_set("""
policy t.a { title "a" source "s" for r in resources require false }
policy t.b { title "b" source "s" for r in resources require false }
""")

    def broken(*args: object) -> list[object]:
        raise RuntimeError("boom")

    ps.policies[0].compiled.run = broken  # type: ignore[method-assign]
    ps.policies[0].compiled.run_rows = broken  # type: ignore[method-assign]
    result = run(ps, [{"id": "x"}])
    assert [(e.policy, e.message) for e in result.errors] == [("t.a", "RuntimeError: boom")]
    assert [v.policy for v in result.violations] == ["t.b"]


def test_config_file_sets_parameters_in_both_forms(tmp_path: Path) -> None:
    config = tmp_path / "regie.toml"
    config.write_text('[params]\n"t.p.limit" = 5\n[params."t.q"]\nnames = ["a"]\n', encoding="utf-8")
    loaded = load_config(str(config))
    assert loaded.params(["t.p", "t.q"]) == {
        "t.p.limit": (5, f"{config}: params.t.p.limit"),
        "t.q.names": (["a"], f"{config}: params.t.q.names"),
    }


def test_config_file_errors_name_the_file(tmp_path: Path) -> None:
    config = tmp_path / "regie.toml"
    config.write_text("[params\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(str(config))
    assert err.value.where == str(config) and "invalid TOML" in err.value.message
    config.write_text("[parms]\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_config(str(config))
    assert "unknown section" in err.value.message


SLICED = """
policy t.bucket { title "b" source "s" for r in resources where r.type == "bucket" require r.name != null }
policy t.all { title "a" source "s" for r in resources where r.kind != "skip" require r.provider == "eu" }
policy t.group {
  title "g" source "s"
  for r in resources group by r.provider ?? "none" as p into rs require count(rs) < 3
}
policy t.each { title "e" source "s" for r in resources require r.region != null message "{r.id} {r.region}" }
"""


def test_policies_run_slice_by_slice_give_what_one_run_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    from regie.engine import evaluate as engine

    ps = policy_set(SLICED)
    records = [
        {"id": f"r{i}", "kind": ["storage", "skip"][i % 2], "type": ["bucket", "vm", "db"][i % 3],
         "name": None if i % 4 == 0 else f"n{i}", "provider": ["eu", "us", None][i % 3],
         "region": None if i % 5 == 0 else "eu-west"}
        for i in range(23)
    ]  # fmt: skip
    whole = run(ps, records)
    monkeypatch.setattr(engine, "SLICE", 4)
    sliced = run(ps, records)
    assert [v.key() for v in sliced.violations] == [v.key() for v in whole.violations]
    assert sliced.violations == whole.violations
    assert len(whole.violations) > 10 and not whole.errors


def sliced_with(
    monkeypatch: pytest.MonkeyPatch, policy_id: str, wrap: Callable[[Any], Any]
) -> tuple[Evaluation, Evaluation]:
    """SLICED over ten buckets in one run and in slices of 3, with the parts of ``policy_id``
    replaced by what ``wrap`` makes of them (a ``PartRun``)."""
    from regie.dsl.compile import CompiledPolicy
    from regie.engine import evaluate as engine

    ps = policy_set(SLICED)
    records = [{"id": f"r{i}", "type": "bucket", "provider": "us"} for i in range(10)]
    whole = run(ps, records)
    monkeypatch.setattr(engine, "SLICE", 3)
    real = CompiledPolicy.part_runner

    def wrapped(self: CompiledPolicy, *args: Any) -> Any:
        parts = real(self, *args)
        return wrap(parts) if parts is not None and self.checked.id == policy_id else parts

    monkeypatch.setattr(CompiledPolicy, "part_runner", wrapped)
    return whole, run(ps, records)


def test_a_policy_failing_in_a_slice_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from regie.dsl.compile import PartRun

    calls: list[object] = []

    def failing_on_the_second_slice(parts: PartRun) -> PartRun:
        def flaky(roots: Any) -> None:
            calls.append(roots)
            if len(calls) == 2:
                raise RuntimeError("boom")
            parts.part(roots)

        return PartRun(flaky, parts.finish)

    whole, result = sliced_with(monkeypatch, "t.all", failing_on_the_second_slice)
    assert [(e.policy, e.message) for e in result.errors] == [("t.all", "RuntimeError: boom")]
    assert result.violations == [v for v in whole.violations if v.policy != "t.all"]
    assert result.policies == whole.policies == 4


def test_a_group_policy_failing_as_it_decides_its_groups_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    from regie.dsl.compile import PartRun

    gathered: list[object] = []

    def failing_at_the_end(parts: PartRun) -> PartRun:
        def gather(roots: Any) -> None:
            gathered.append(roots)
            parts.part(roots)

        def finish() -> None:
            raise RuntimeError("no groups today")

        return PartRun(gather, finish)

    whole, result = sliced_with(monkeypatch, "t.group", failing_at_the_end)
    assert len(gathered) == 4  # the group policy went through the slices with the others
    assert [(e.policy, e.message) for e in result.errors] == [("t.group", "RuntimeError: no groups today")]
    assert result.violations == [v for v in whole.violations if v.policy != "t.group"]
    assert any(v.policy == "t.group" for v in whole.violations)
