"""Running the ``test`` blocks that sit beside policies (``regie test``)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from regie.dsl import ast
from regie.dsl.builtins import EvalContext
from regie.dsl.check import conforms, is_constant
from regie.dsl.diagnostics import did_you_mean
from regie.dsl.interp import eval_expr
from regie.dsl.source import Span
from regie.engine.catalog import CATALOG_TYPES, CatalogError, Catalogs, check_entries
from regie.engine.evaluate import PolicySet, _freeze, evaluate
from regie.engine.facts import FactError, Inventory, resources_from_records
from regie.engine.violations import Violation

__all__ = ["TestResult", "run_tests"]


@dataclass(slots=True)
class TestResult:
    name: str
    module: str
    span: Span
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    __test__ = False  # not a pytest class

    @property
    def passed(self) -> bool:
        return not self.failures


def run_tests(
    policy_set: PolicySet, catalogs: Catalogs, *, today: dt.date | None = None, match: str | None = None
) -> list[TestResult]:
    """Run every test block (whose name contains ``match``, if given)."""
    results = []
    for block, module in policy_set.tests:
        if match and match not in block.name:
            continue
        started = time.perf_counter()
        result = TestResult(block.name, module, block.span)
        try:
            _run_one(block, module, policy_set, catalogs, today, result)
        except _TestSetupError as err:
            result.failures.append(str(err))
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results


class _TestSetupError(Exception):
    pass


def _run_one(
    block: ast.TestBlock,
    module: str,
    policy_set: PolicySet,
    catalogs: Catalogs,
    today: dt.date | None,
    result: TestResult,
) -> None:
    ctx = EvalContext(today or dt.date.today())
    resources: list[Any] = []
    params: dict[str, dict[str, Any]] = {}
    overrides: dict[str, dict[str, dict[str, Any]]] = {}
    for given in block.givens:
        at = given.span.location()
        value = eval_expr(given.value, {}, ctx) if is_constant(given.value) else None
        if value is None and given.what != "today":
            raise _TestSetupError(f"{at}: `given {given.what}` takes a literal value")
        if given.what == "resources":
            try:
                resources = resources_from_records(value, f"{at}: given resources")
            except FactError as err:
                raise _TestSetupError(str(err)) from None
        elif given.what == "param":
            assert given.name is not None
            policy_id, _, name = given.name.rpartition(".")
            lp = policy_set.get(policy_id)
            if lp is None:
                raise _TestSetupError(f"{at}: no policy `{policy_id}`" + _hint(policy_id, policy_set))
            ty = lp.checked.param_types.get(name)
            if ty is None:
                raise _TestSetupError(f"{at}: policy `{policy_id}` has no parameter `{name}`")
            if not conforms(value, ty):
                raise _TestSetupError(f"{at}: parameter `{given.name}` must be `{ty}`, got {value!r}")
            params.setdefault(policy_id, {})[name] = _freeze(value, ty)
        elif given.what == "catalog":
            assert given.name is not None
            if given.name not in CATALOG_TYPES:
                hint = did_you_mean(given.name, list(CATALOG_TYPES))
                raise _TestSetupError(
                    f"{at}: unknown catalogue `{given.name}`" + (f" ({hint})" if hint else "")
                )
            if not isinstance(value, dict):
                raise _TestSetupError(f"{at}: a catalogue is a map from key to entry")
            try:
                overrides[given.name] = check_entries(given.name, value.items(), f"{at}: {given.name}")
            except CatalogError as err:
                raise _TestSetupError(str(err)) from None
        else:
            text = given.value.value if isinstance(given.value, ast.Literal) else None
            try:
                ctx = EvalContext(dt.date.fromisoformat(str(text)))
            except ValueError:
                raise _TestSetupError(f'{at}: `given today` takes a date like "2026-01-31"') from None

    in_scope = {lp.id for lp in policy_set.policies if lp.module == module}
    for expect in block.expects:
        if expect.policy is not None:
            if policy_set.get(expect.policy) is None:
                raise _TestSetupError(
                    f"{expect.span.location()}: no policy `{expect.policy}`"
                    + _hint(expect.policy, policy_set)
                )
            in_scope.add(expect.policy)
    evaluation = evaluate(
        policy_set,
        Inventory(resources),
        catalogs.with_overrides(overrides),
        today=ctx.today,
        only=in_scope,
        params=params,
    )
    if evaluation.errors:
        for error in evaluation.errors:
            result.failures.append(f"policy `{error.policy}` failed: {error.message}")
    for expect in block.expects:
        failure = _check(expect, evaluation.violations)
        if failure:
            result.failures.append(f"{expect.span.location()}: {failure}")


def _check(expect: ast.Expect, violations: Sequence[Violation]) -> str | None:
    def selected(v: Violation) -> bool:
        if v.outcome != expect.outcome:
            return False
        if expect.policy is not None and v.policy != expect.policy:
            return False
        return expect.resource is None or expect.resource in (v.resource, v.item, f"{v.resource}/{v.item}")

    hits = [v for v in violations if selected(v)]
    what = f"{expect.outcome}{'' if expect.count is None or expect.count == 1 else 's'}"
    of = f" of `{expect.policy}`" if expect.policy else ""
    on = f" on `{expect.resource}`" if expect.resource else ""
    if expect.count is not None:
        if len(hits) != expect.count:
            return f"expected {expect.count} {what}{of}, got {len(hits)}{_listing(hits or list(violations))}"
        return None
    if expect.negated and hits:
        return f"expected no {expect.outcome}{of}{on}, got {len(hits)}{_listing(hits)}"
    if not expect.negated and not hits:
        return (
            f"expected a{'n' if expect.outcome == 'unknown' else ''} {expect.outcome}{of}{on}, got none"
            + (_listing(list(violations)))
        )
    return None


def _listing(violations: Sequence[Violation]) -> str:
    if not violations:
        return ""
    lines = [
        f"{v.outcome} {v.policy} on {v.resource}{'/' + v.item if v.item else ''}: {v.message}"
        for v in violations[:5]
    ]
    more = f"\n      … and {len(violations) - 5} more" if len(violations) > 5 else ""
    return "\n      findings: " + "\n                ".join(lines) + more


def _hint(name: str, policy_set: PolicySet) -> str:
    hint = did_you_mean(name, [p.id for p in policy_set.policies])
    return f" ({hint})" if hint else ""
