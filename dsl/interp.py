"""The reference interpreter: a plain recursive walk over the checked AST.

It is the definition of what a policy means. It is kept simple on purpose and
is not fast; :mod:`regie.dsl.compile` must give identical findings, which the
property tests check on random programs and facts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from regie.dsl import ast
from regie.dsl.builtins import BUILTINS, EvalContext
from regie.dsl.check import CheckedPolicy
from regie.dsl.runtime import Finding, RunContext, item_label, resource_id
from regie.dsl.values import (
    REDUCERS,
    Unknown,
    arith,
    contains,
    count_items,
    equal,
    get_field,
    get_index,
    group_key,
    iterate,
    jsonable,
    make_map,
    make_set,
    order,
    render_value,
    truth,
)

__all__ = [
    "default_message",
    "eval_expr",
    "evidence",
    "evidence_plan",
    "group_target",
    "render_template",
    "run_policy",
    "unknown_message",
    "unknown_reason",
    "violation_message",
]

Env = Mapping[str, Any]


def eval_expr(e: ast.Expr, env: Env, ctx: EvalContext) -> Any:
    """The value of an expression in an environment of names.

    >>> from regie.dsl.build import parse_expr
    >>> from regie.dsl.source import Source
    >>> import datetime as dt
    >>> eval_expr(parse_expr(Source("x", 'x.a ?? "none"')), {"x": {}}, EvalContext(dt.date.today()))
    'none'
    """
    match e:
        case ast.Literal(value=v):
            return v
        case ast.Ref(name=name):
            return env[name]
        case ast.ListLit(items=items):
            return [eval_expr(i, env, ctx) for i in items]
        case ast.SetLit(items=items):
            return make_set([eval_expr(i, env, ctx) for i in items])
        case ast.MapLit(entries=entries):
            return make_map([(eval_expr(k, env, ctx), eval_expr(v, env, ctx)) for k, v in entries])
        case ast.Field(obj=obj, name=name):
            return get_field(eval_expr(obj, env, ctx), name)
        case ast.Index(obj=obj, key=key):
            return get_index(eval_expr(obj, env, ctx), eval_expr(key, env, ctx))
        case ast.Unary(op="not", operand=operand):
            v = eval_expr(operand, env, ctx)
            t = truth(v)
            return v if t is None else not t
        case ast.Unary(op="-", operand=operand):
            return arith("-", 0, eval_expr(operand, env, ctx))
        case ast.Binary(op=op, left=left, right=right):
            return arith(op, eval_expr(left, env, ctx), eval_expr(right, env, ctx))
        case ast.Compare(op=op, left=left, right=right):
            a, b = eval_expr(left, env, ctx), eval_expr(right, env, ctx)
            if op == "==":
                return equal(a, b)
            if op == "!=":
                return _negate(equal(a, b))
            if op == "in":
                return contains(b, a)
            if op == "not in":
                return _negate(contains(b, a))
            return order(op, a, b)
        case ast.Logical(op=op, left=left, right=right):
            return _logical(op, left, right, env, ctx)
        case ast.Coalesce(left=left, right=right):
            v = eval_expr(left, env, ctx)
            return eval_expr(right, env, ctx) if v is None else v
        case ast.Call(name=name, args=args):
            return BUILTINS[name].impl(ctx, *(eval_expr(a, env, ctx) for a in args))
        case ast.Aggregate(func=func, var=var, collection=coll, body=body):
            items = iterate(eval_expr(coll, env, ctx))
            if items.__class__ is Unknown:
                return items
            if var is None or body is None:
                if func == "count":
                    return count_items(items)
                return REDUCERS[func](list(items))
            inner = dict(env)

            def values() -> Iterator[Any]:
                for item in items:
                    inner[var] = item
                    yield eval_expr(body, inner, ctx)

            return REDUCERS[func](values())
        case ast.Template():
            return render_template(e, lambda x: eval_expr(x, env, ctx))
    raise AssertionError(f"no interpretation for {type(e).__name__}")


def _negate(v: Any) -> Any:
    return v if v.__class__ is Unknown else not v


def _logical(op: str, left: ast.Expr, right: ast.Expr, env: Env, ctx: EvalContext) -> Any:
    lv = eval_expr(left, env, ctx)
    lt = truth(lv)
    if op == "and":
        if lt is False:
            return False
        rv = eval_expr(right, env, ctx)
        rt = truth(rv)
        if lt is True:
            return rv if rt is None else rt
        return False if rt is False else lv
    if lt is True:
        return True
    rv = eval_expr(right, env, ctx)
    rt = truth(rv)
    if lt is False:
        return rv if rt is None else rt
    return True if rt is True else lv


def render_template(t: ast.Template, value_of: Callable[[ast.Expr], Any]) -> str:
    return "".join(p if isinstance(p, str) else render_value(value_of(p)) for p in t.parts)


def default_message(policy: CheckedPolicy, require: ast.Require | ast.Where, reason: str | None) -> str:
    text = require.cond.span.snippet() or "condition"
    if reason is not None:
        return f"{policy.meta.title}: cannot decide `{text}`: {reason}"
    return f"{policy.meta.title}: `{text}` does not hold"


def evidence_plan(policy: CheckedPolicy, position: int) -> list[tuple[str, ast.Expr]]:
    """What to show as evidence for the clause at ``position``: every ``let`` and group bound
    before it, then each field chain, call and aggregate in the clause itself."""
    steps = policy.policy.steps
    clause = steps[position]
    assert isinstance(clause, ast.Require | ast.Where)
    plan: list[tuple[str, ast.Expr]] = []
    bound: set[str] = set(policy.param_types)
    for s in steps[:position]:
        if isinstance(s, ast.ForEach):
            bound.add(s.var)
        elif isinstance(s, ast.Let):
            bound.add(s.name)
            plan.append((s.name, ast.Ref(name=s.name, ty=s.value.ty)))
        elif isinstance(s, ast.GroupBy):
            # Per-item names end at `group by`: from here on only the group's names exist.
            bound = set(policy.param_types) | {s.name, s.members}
            plan = [(s.name, ast.Ref(name=s.name))]
            plan.append(
                (
                    f"count({s.members})",
                    ast.Aggregate(func="count", var=None, collection=ast.Ref(name=s.members), body=None),
                )
            )
    seen = {label for label, _ in plan}
    for path in _paths(clause.cond, bound):
        text = path.span.snippet()
        if text and text not in seen and len(plan) < 24:
            seen.add(text)
            plan.append((text, path))
    return plan


def evidence(plan: list[tuple[str, ast.Expr]], value_of: Callable[[ast.Expr], Any]) -> dict[str, Any]:
    """The values a decision rested on, JSON-safe. Evidence never fails the finding it explains."""
    out: dict[str, Any] = {}
    for label, e in plan:
        try:
            out[label] = jsonable(value_of(e))
        except Exception as err:
            out[label] = {"error": f"{type(err).__name__}: {err}"}
    return out


def _paths(e: ast.Expr, bound: set[str]) -> Iterator[ast.Expr]:
    """Maximal field and index chains, calls and aggregates: the values worth showing."""
    if isinstance(e, ast.Field | ast.Index | ast.Call | ast.Aggregate):
        yield e
        return
    if isinstance(e, ast.Ref):
        if e.name in bound:
            yield e
        return
    if isinstance(e, ast.Unary):
        yield from _paths(e.operand, bound)
    elif isinstance(e, ast.Binary | ast.Compare | ast.Logical | ast.Coalesce):
        yield from _paths(e.left, bound)
        yield from _paths(e.right, bound)


def message_for_unknown(policy: CheckedPolicy, position: int) -> ast.Template | None:
    """The policy's message as seen from ``position``: holes naming a ``let`` not yet bound
    there read ``(unknown: not evaluated)``."""
    steps = policy.policy.steps
    message = next((s for s in steps if isinstance(s, ast.Message)), None)
    if message is None:
        return None
    later: set[str] = set()
    for s in steps[position:]:
        if isinstance(s, ast.Let):
            later.add(s.name)
        elif isinstance(s, ast.ForEach):
            later.add(s.var)
        elif isinstance(s, ast.GroupBy):
            later.update((s.name, s.members))
    parts: list[str | ast.Expr] = []
    for p in message.template.parts:
        if not isinstance(p, str) and later & _names(p):
            parts.append(ast.Literal(value="(unknown: not evaluated)"))
        else:
            parts.append(p)
    return ast.Template(parts=tuple(parts), span=message.template.span)


def _names(e: ast.Expr) -> set[str]:
    if isinstance(e, ast.Ref):
        return {e.name}
    out: set[str] = set()
    for child in _children(e):
        out |= _names(child)
    return out


def _children(e: ast.Expr) -> Iterator[ast.Expr]:
    match e:
        case ast.ListLit(items=items) | ast.SetLit(items=items):
            yield from items
        case ast.MapLit(entries=entries):
            for k, v in entries:
                yield k
                yield v
        case ast.Field(obj=obj):
            yield obj
        case ast.Index(obj=obj, key=key):
            yield obj
            yield key
        case ast.Unary(operand=operand):
            yield operand
        case (
            ast.Binary(left=l, right=r)
            | ast.Compare(left=l, right=r)
            | ast.Logical(left=l, right=r)
            | ast.Coalesce(left=l, right=r)
        ):
            yield l
            yield r
        case ast.Call(args=args):
            yield from args
        case ast.Aggregate(collection=c, body=b):
            yield c
            if b is not None:
                yield b
        case ast.Template(parts=parts):
            yield from (p for p in parts if not isinstance(p, str))


# --- running a whole policy ----------------------------------------------------------------


def run_policy(policy: CheckedPolicy, run: RunContext) -> list[Finding]:
    """Every finding of one policy over the world in ``run``; no kind index, no shortcuts."""
    env: dict[str, Any] = {**run.globals, **run.params}
    steps = policy.policy.steps
    findings: list[Finding] = []
    walker = _Walker(policy, run.eval, findings)
    group_at = next((i for i, s in enumerate(steps) if isinstance(s, ast.GroupBy)), None)
    if group_at is None:
        walker.steps(0, len(steps), env, None, [])
        return findings

    group = steps[group_at]
    assert isinstance(group, ast.GroupBy)
    groups: dict[Any, tuple[Any, list[Any]]] = {}
    innermost = next(s.var for s in reversed(steps[:group_at]) if isinstance(s, ast.ForEach))

    def collect(local: dict[str, Any], target: str | None, items: list[str]) -> None:
        key = eval_expr(group.key, local, run.eval)
        if key.__class__ is Unknown:  # which group it belongs to cannot be known
            walker.emit(group_at, local, target, items, key)
            return
        groups.setdefault(group_key(key), (key, []))[1].append(local[innermost])

    walker.on_end = collect
    walker.steps(0, group_at, env, None, [])
    walker.on_end = None
    for value, members in groups.values():
        genv = {**run.globals, **run.params, group.name: value, group.members: members}
        walker.steps(group_at + 1, len(steps), genv, group_target(group, value), [])
    return findings


def group_target(group: ast.GroupBy, key: Any) -> str:
    return f"{group.name}:{render_value(key)}"


def violation_message(policy: CheckedPolicy, position: int, value_of: Callable[[ast.Expr], Any]) -> str:
    steps = policy.policy.steps
    message = next((s for s in steps if isinstance(s, ast.Message)), None)
    if message is not None:
        return render_template(message.template, value_of)
    clause = steps[position]
    assert isinstance(clause, ast.Require | ast.Where)
    return default_message(policy, clause, None)


def unknown_message(
    policy: CheckedPolicy, position: int, reason: str, value_of: Callable[[ast.Expr], Any]
) -> str:
    template = message_for_unknown(policy, position)
    if template is not None:
        return undecided(render_template(template, value_of), reason)
    return plain_unknown_message(policy, position, reason)


def plain_unknown_message(policy: CheckedPolicy, position: int, reason: str) -> str:
    """The message of an undecided result for a policy without a ``message``."""
    clause = policy.policy.steps[position]
    if isinstance(clause, ast.ForEach):
        return f"{policy.meta.title}: cannot iterate `{clause.source.span.snippet()}`: {reason}"
    if isinstance(clause, ast.GroupBy):
        return f"{policy.meta.title}: cannot group by `{clause.key.span.snippet()}`: {reason}"
    assert isinstance(clause, ast.Require | ast.Where)
    return default_message(policy, clause, reason)


def undecided(text: str, reason: str) -> str:
    """A message for an undecided result: the reason is added unless the message already shows it."""
    return text if f"(unknown: {reason})" in text else f"{text} (undecided: {reason})"


def unknown_reason(value: Any) -> str:
    return value.reason if isinstance(value, Unknown) else "unknown"


class _Walker:
    def __init__(self, policy: CheckedPolicy, ctx: EvalContext, findings: list[Finding]) -> None:
        self.policy = policy
        self.ctx = ctx
        self.findings = findings
        self.on_end: Callable[[dict[str, Any], str | None, list[str]], None] | None = None
        self.root_var = policy.policy.steps[0].var  # type: ignore[union-attr]

    def steps(self, i: int, end: int, env: dict[str, Any], target: str | None, items: list[str]) -> None:
        steps = self.policy.policy.steps
        ctx = self.ctx
        # Consecutive `where` clauses are one conjunction: an unknown one is reported only if no
        # later one is false (unknown and false is false), when the next other step is reached.
        pending: tuple[int, Any] | None = None
        while i < end:
            step = steps[i]
            if isinstance(step, ast.Where):
                value = eval_expr(step.cond, env, ctx)
                t = truth(value)
                if t is False:
                    return
                if t is None and pending is None:
                    pending = (i, value)
                i += 1
                continue
            if isinstance(step, ast.Let):
                env[step.name] = eval_expr(step.value, env, ctx)
                i += 1
                continue
            if pending is not None:
                self.emit(pending[0], env, target, items, pending[1])
                return
            if isinstance(step, ast.ForEach):
                coll = iterate(eval_expr(step.source, env, ctx))
                root = target is None
                if coll.__class__ is Unknown:
                    if not root:
                        self.emit(i, env, target, items, coll)
                    return
                for item in coll:
                    inner = dict(env)
                    inner[step.var] = item
                    if root:
                        self.steps(i + 1, end, inner, resource_id(item), [])
                    else:
                        self.steps(i + 1, end, inner, target, [*items, item_label(item)])
                return
            if isinstance(step, ast.Require):
                self.decide(i, env, target, items)
                return
            i += 1
        if pending is not None:
            self.emit(pending[0], env, target, items, pending[1])
            return
        if self.on_end is not None:
            self.on_end(env, target, items)

    def decide(self, i: int, env: dict[str, Any], target: str | None, items: list[str]) -> None:
        steps = self.policy.policy.steps
        first_unknown: tuple[int, Any] | None = None
        for j in range(i, len(steps)):
            req = steps[j]
            if not isinstance(req, ast.Require):
                continue
            value = eval_expr(req.cond, env, self.ctx)
            t = truth(value)
            if t is False:
                self.emit(j, env, target, items, None)
                return
            if t is None and first_unknown is None:
                first_unknown = (j, value)
        if first_unknown is not None:
            self.emit(first_unknown[0], env, target, items, first_unknown[1])

    def emit(
        self, position: int, env: dict[str, Any], target: str | None, items: list[str], unknown: Any
    ) -> None:
        """A violation (``unknown`` None) or an unknown result at the clause at ``position``."""

        def value_of(e: ast.Expr) -> Any:
            return eval_expr(e, env, self.ctx)

        step = self.policy.policy.steps[position]
        if unknown is None:
            outcome, reason = "violation", None
            text = violation_message(self.policy, position, value_of)
        else:
            outcome, reason = "unknown", unknown_reason(unknown)
            text = unknown_message(self.policy, position, reason, value_of)
        plan = evidence_plan(self.policy, position) if isinstance(step, ast.Require | ast.Where) else []
        self.findings.append(
            Finding(
                outcome=outcome,  # type: ignore[arg-type]
                target=target or "",
                item="/".join(items) or None,
                message=text,
                evidence=evidence(plan, value_of),
                reason=reason,
                resource=env.get(self.root_var),
            )
        )
