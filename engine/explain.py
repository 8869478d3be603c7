"""``explain``: one policy on one resource (or group), step by step, with every value."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regie.dsl import ast
from regie.dsl.builtins import EvalContext
from regie.dsl.interp import eval_expr, group_target
from regie.dsl.runtime import item_label, resource_id
from regie.dsl.values import group_key, jsonable, truth
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import LoadedPolicy
from regie.engine.facts import Inventory

__all__ = ["Explanation", "Step", "explain"]


@dataclass(frozen=True, slots=True)
class Step:
    """One clause as evaluated: its kind, its text, its value, and what it decided."""

    kind: str
    text: str
    value: Any
    verdict: str  # continue | skip | pass | fail | unknown | bind
    depth: int = 0


@dataclass(slots=True)
class Explanation:
    policy: str
    target: str
    steps: list[Step] = field(default_factory=list)
    outcome: str = "not applicable"

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "target": self.target,
            "outcome": self.outcome,
            "steps": [
                {
                    "kind": s.kind,
                    "text": s.text,
                    "value": jsonable(s.value),
                    "verdict": s.verdict,
                    "depth": s.depth,
                }
                for s in self.steps
            ],
        }


class ExplainError(LookupError):
    pass


def explain(
    lp: LoadedPolicy, target: str, inventory: Inventory, catalogs: Catalogs, *, today: dt.date | None = None
) -> Explanation:
    """Trace ``lp`` on the resource whose id is ``target`` (or the group ``name:key``)."""
    today = today or dt.date.today()
    ctx = EvalContext(today)
    globals_ = catalogs.globals()
    globals_["resources"] = inventory.resources
    globals_["today"] = today.isoformat()
    env: dict[str, Any] = {**globals_, **lp.params}
    steps = lp.checked.policy.steps
    out = Explanation(lp.id, target)
    group_at = next((i for i, s in enumerate(steps) if isinstance(s, ast.GroupBy)), None)
    first = steps[0]
    assert isinstance(first, ast.ForEach)
    if group_at is None:
        resource = next((r for r in inventory if r.id == target), None)
        if resource is None:
            raise ExplainError(f"no resource with id `{target}`")
        env[first.var] = resource
        out.steps.append(
            Step("for", f"for {first.var} in {first.source.span.snippet()}", resource.id, "bind")
        )
        out.outcome = _trace(steps, 1, len(steps), env, ctx, out, 0)
        return out
    group = steps[group_at]
    assert isinstance(group, ast.GroupBy)
    groups: dict[Any, tuple[Any, list[Any]]] = {}
    innermost = next(s.var for s in reversed(steps[:group_at]) if isinstance(s, ast.ForEach))
    quiet = Explanation(lp.id, target)
    for item in inventory.select(lp.checked.selector):
        local = {**env, first.var: item}
        members: list[dict[str, Any]] = []
        if _trace(steps, 1, group_at, local, ctx, quiet, 0, collect=members) == "grouped":
            for m in members:
                key = eval_expr(group.key, m, ctx)
                groups.setdefault(group_key(key), (key, []))[1].append(m[innermost])
    for value, items in groups.values():
        if group_target(group, value) == target:
            genv = {**env, group.name: value, group.members: items}
            out.steps.append(
                Step(
                    "group",
                    f"group by {group.key.span.snippet()} as {group.name} into {group.members}",
                    f"{len(items)} members",
                    "bind",
                )
            )
            out.outcome = _trace(steps, group_at + 1, len(steps), genv, ctx, out, 0)
            return out
    raise ExplainError(
        f"no group `{target}`; groups are "
        + ", ".join(group_target(group, v) for v, _ in list(groups.values())[:10])
    )


def _trace(
    steps: tuple[ast.Step, ...],
    i: int,
    end: int,
    env: dict[str, Any],
    ctx: EvalContext,
    out: Explanation,
    depth: int,
    collect: list[dict[str, Any]] | None = None,
) -> str:
    pending = False  # an unknown `where`: reported unless a later one is false (one conjunction)
    while i < end:
        step = steps[i]
        if pending and not isinstance(step, ast.Where | ast.Let):
            return "unknown"
        if isinstance(step, ast.ForEach):
            coll = eval_expr(step.source, env, ctx)
            items = (
                coll
                if isinstance(coll, list | tuple | frozenset)
                else list(coll or [])
                if isinstance(coll, Mapping)
                else []
            )
            out.steps.append(
                Step(
                    "for",
                    f"for {step.var} in {step.source.span.snippet()}",
                    f"{len(items)} items",
                    "bind",
                    depth,
                )
            )
            outcomes = []
            for item in items:
                inner = {**env, step.var: item}
                out.steps.append(
                    Step("item", f"{step.var} = {item_label(item)}", resource_id(item), "bind", depth + 1)
                )
                outcomes.append(_trace(steps, i + 1, end, inner, ctx, out, depth + 1, collect))
            for verdict in ("violation", "unknown", "grouped", "pass"):
                if verdict in outcomes:
                    return verdict
            return "not applicable"
        text = _text(step)
        if isinstance(step, ast.Where):
            value = eval_expr(step.cond, env, ctx)
            t = truth(value)
            out.steps.append(
                Step("where", text, value, {True: "continue", False: "skip", None: "unknown"}[t], depth)
            )
            if t is False:
                return "not applicable"
            if t is None:
                pending = True
        elif isinstance(step, ast.Let):
            env[step.name] = eval_expr(step.value, env, ctx)
            out.steps.append(Step("let", text, env[step.name], "bind", depth))
        elif isinstance(step, ast.Require):
            verdicts = []
            for s in steps[i:]:
                if isinstance(s, ast.Require):
                    value = eval_expr(s.cond, env, ctx)
                    t = truth(value)
                    verdict = {True: "pass", False: "fail", None: "unknown"}[t]
                    verdicts.append(verdict)
                    out.steps.append(Step("require", _text(s), value, verdict, depth))
            if "fail" in verdicts:
                return "violation"
            return "unknown" if "unknown" in verdicts else "pass"
        i += 1
    if pending:
        return "unknown"
    if collect is not None:
        collect.append(dict(env))
    return "grouped"


def _text(step: ast.Step) -> str:
    span = step.span
    return " ".join(span.snippet().split())
