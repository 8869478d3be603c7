"""The generated fast path (:mod:`regie.dsl.codegen`): same meaning, and no policy text as code.

The random differential tests are in ``test_equivalence.py``; here every spec case of
``tests/cases`` runs through the generated function *and* the closures alone, the
generated source of real and hostile policies is checked token by token, and a policy
the generator declines still runs (as closures).
"""

from __future__ import annotations

import io
import keyword
import re
import tokenize
from pathlib import Path
from typing import Any

import pytest
from test_equivalence import finding_view
from test_semantics import CASES, accept, run_context

from regie.dsl import ast, codegen
from regie.dsl.build import parse_module
from regie.dsl.check import CheckedPolicy, check_policy
from regie.dsl.compile import compile_policy
from regie.dsl.interp import run_policy
from regie.dsl.source import Source
from regie.engine.evaluate import VIOLATION_ROWS
from regie.engine.facts import Inventory, resources_from_records
from regie.engine.schema import fact_schema

ROOT = Path(__file__).resolve().parent.parent
RUNNABLE = [(case_id, c) for case_id, c in CASES if "want_error" not in c]


@pytest.mark.parametrize("case", [c for _, c in RUNNABLE], ids=[i for i, _ in RUNNABLE])
def test_spec_case_generated_equals_closures(case: dict[str, Any]) -> None:
    checked = accept(Source("case.regie", case["policy"]))
    resources = resources_from_records(case.get("facts") or [], "facts")
    run = run_context(checked, resources, case)
    generated = compile_policy(checked)
    closures = compile_policy(checked, generate=False)
    assert generated.generated is not None, "the generator declined a spec case"
    want = [finding_view(f) for f in run_policy(checked, run)]
    assert [finding_view(f) for f in closures.run(run)] == want
    assert [finding_view(f) for f in generated.run(run)] == want
    roots = Inventory(resources).select(checked.selector)
    assert [finding_view(f) for f in generated.run(run, roots)] == [
        finding_view(f) for f in closures.run(run, roots)
    ]


# --- no policy text in generated code ----------------------------------------------------

HOSTILE = r"""
policy evil.p {
  title "\"); import os; os.system(\"x\") #"
  source "it's \"quoted\" {not a hole}"
  param tag: str = "__import__('os')"
  param prefixes: list[str] = ["a\"b", "{x}", "\\"]
  for r in resources
  where r.kind == "exec(\"1\")" or r.labels["x'y"] == tag
  let m = {"k\"": r.attributes.__class__, "l": r.attributes["'); raise SystemExit #"]}
  for c in r.attributes.items ?? []
  where startswith(c.name, prefixes) and matches(c.image, "^(a|\"b)$")
  group by c.name ?? "--" as k into cs
  require count(x in cs: x.lambda_ == "globals()") > 0
  message "pwned {k} \"); print(1) # {tag}"
}
"""

#: The only names generated code may contain besides generated ones (``v3``, ``_k12``).
GENERATED_NAME = re.compile(r"^(?:[a-z]\d+|_k\d+|_policy|_expr)$")
ATTRIBUTE_NAMES = {name for name, _ in fact_schema().globals["resources"].elem.fields}  # type: ignore[union-attr]
ALLOWED_NAMES = codegen.HELPER_NAMES | ATTRIBUTE_NAMES | {"__class__", "is", "not"} | set(keyword.kwlist)


def checked_policies(text: str) -> list[CheckedPolicy]:
    module = parse_module(Source("p.regie", text))
    assert not isinstance(module, list), module
    out = []
    for item in module.items:
        if isinstance(item, ast.Policy):
            checked = check_policy(item, fact_schema())
            assert not isinstance(checked, list), checked
            out.append(checked)
    return out


def assert_no_policy_text(source: str) -> None:
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        assert tok.type != tokenize.STRING, f"a string literal in generated code: {tok.string}"
        if tok.type == tokenize.NAME:
            assert tok.string in ALLOWED_NAMES or GENERATED_NAME.match(tok.string), tok.string
        if tok.type == tokenize.NUMBER:
            assert tok.string.isdigit(), tok.string  # slot numbers and positions only


def test_hostile_policy_text_never_becomes_code() -> None:
    (checked,) = checked_policies(HOSTILE)
    compiled = compile_policy(checked)
    assert compiled.generated is not None and compiled.source is not None
    assert_no_policy_text(compiled.source)
    for fragment in ("import", "os.system", "SystemExit", "pwned", "globals()", "lambda_", "exec("):
        assert fragment not in compiled.source
    resources = resources_from_records(
        [{"id": "a", "kind": 'exec("1")', "attributes": {"items": [{"name": 'a"b1', "image": "a"}]}}], "facts"
    )
    run = run_context(checked, resources, {})
    want = [finding_view(f) for f in run_policy(checked, run)]
    assert want, "the hostile policy finds something (its text reaches the findings)"
    assert [finding_view(f) for f in compiled.run(run)] == want


@pytest.mark.parametrize("name", ["sovereignty", "admission"])
def test_bench_policies_are_generated_and_clean(name: str) -> None:
    text = (ROOT / "bench" / "rules" / f"{name}.regie").read_text(encoding="utf-8")
    for checked in checked_policies(text):
        compiled = compile_policy(checked)
        assert compiled.source is not None, checked.id
        assert_no_policy_text(compiled.source)
        rows = compile_policy(checked, layout=VIOLATION_ROWS)  # the engine's variant
        assert rows.generated_rows is not None and rows.source is not None, checked.id
        assert_no_policy_text(rows.source)


def test_hostile_policy_text_never_becomes_code_in_violation_rows() -> None:
    (checked,) = checked_policies(HOSTILE)
    compiled = compile_policy(checked, layout=VIOLATION_ROWS)
    assert compiled.generated_rows is not None and compiled.source is not None
    assert_no_policy_text(compiled.source)
    assert "pwned" not in compiled.source and "import" not in compiled.source


def test_most_common_keeps_the_first_of_equal_counts() -> None:
    (checked,) = checked_policies(
        'policy p { title "t" source "s" for r in resources group by "all" as g into rs '
        'require most_common(x in rs: x.provider) == "none" '
        'message "{most_common(x in rs: x.provider)}" }'
    )
    compiled = compile_policy(checked)
    assert compiled.generated is not None
    records = [
        {"id": str(i), "provider": p} for i, p in enumerate(["b", None, "a", "a", "c", "b", None, None])
    ]
    run = run_context(checked, resources_from_records(records, "facts"), {})
    want = [finding_view(f) for f in run_policy(checked, run)]
    assert [f[3] for f in want] == ["b"]  # b and a twice each, nulls not counted: b came first
    assert [finding_view(f) for f in compiled.run(run)] == want


def test_a_declined_policy_runs_as_closures(monkeypatch: pytest.MonkeyPatch) -> None:
    def decline(compiled: Any) -> Any:
        raise codegen.Unsupported("for the test")

    monkeypatch.setattr(codegen, "generate_policy", decline)
    (checked,) = checked_policies(
        'policy p { title "t" source "s" for r in resources where r.kind == "x" require r.name != null }'
    )
    compiled = compile_policy(checked)
    assert compiled.generated is None
    resources = resources_from_records([{"id": "a", "kind": "x"}, {"id": "b", "kind": "y"}], "facts")
    run = run_context(checked, resources, {})
    assert [f.target for f in compiled.run(run)] == ["a"]


def test_a_policy_too_deep_for_python_runs_as_closures() -> None:
    cond = "r.name != null"
    for i in range(120):  # right-nested: each `and` is one more indented block
        cond = f'(r.kind != "{i}" and {cond})'
    (checked,) = checked_policies(f'policy p {{ title "t" source "s" for r in resources require {cond} }}')
    compiled = compile_policy(checked)
    assert compiled.generated is None  # Python's nesting limits: the closures run it
    resources = resources_from_records([{"id": "a", "kind": "0"}, {"id": "b", "name": "x"}], "facts")
    run = run_context(checked, resources, {})
    assert [finding_view(f) for f in compiled.run(run)] == [finding_view(f) for f in run_policy(checked, run)]
