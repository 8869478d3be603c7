"""Step four: checked policies to Python closures, and to one generated function each.

Each expression becomes a closure over a flat list of slots (``env``); slot 0
holds the evaluation context for builtins. The closures call the same
primitives as the interpreter (:mod:`regie.dsl.values`), with fast paths for
the common shapes (string constants, resource fields, literal sets and
patterns); tests check that both give identical findings.

:func:`compile_policy` also generates one Python function per policy
(:mod:`regie.dsl.codegen`: the decisions as straight-line code, several times
faster); the closures remain for evidence and undecided messages, and run the
whole policy when the generator declines a construct. The generated source
holds no policy text (see that module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

from regie.dsl import ast
from regie.dsl.builtins import BUILTINS, compile_regex, glob_to_regex
from regie.dsl.check import CheckedPolicy
from regie.dsl.interp import default_message as _default_message
from regie.dsl.interp import (
    evidence_plan,
    group_target,
    message_for_unknown,
    plain_unknown_message,
    render_template,
    undecided,
    unknown_reason,
)
from regie.dsl.runtime import Finding, RowLayout, Rows, RunContext, item_label, resource_id
from regie.dsl.types import STR, RecordType, SetType, Type
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
)

__all__ = ["CompiledPolicy", "compile_expr", "compile_policy"]

Env = list[Any]
Fn = Callable[[Env], Any]
#: A policy generated for rows: ``(env, roots, found, head, tail)``, and for a `group by`
#: policy also ``(groups, final)`` (see :mod:`regie.dsl.codegen`).
RowRun = Callable[..., None]


def compile_policy(
    policy: CheckedPolicy, *, generate: bool = True, layout: RowLayout | None = None
) -> CompiledPolicy:
    """Compile a checked policy once; run it many times.

    ``generate`` (the default) runs it as one generated function when the generator handles
    every construct in it; ``generate=False`` keeps the closures (the differential tests
    compare both with the interpreter). With a ``layout`` the function is generated for
    :meth:`CompiledPolicy.run_rows` with that layout (the engine's case), and for
    :meth:`CompiledPolicy.run` only when that is first called.
    """
    compiled = CompiledPolicy(policy)
    if generate:
        # Imported here: the generator builds on this module (its closures, _emit, helpers).
        from regie.dsl.codegen import Unsupported, generate_policy

        with contextlib.suppress(Unsupported):  # else the closures run it
            if layout is None:
                compiled.generated, compiled.source = generate_policy(compiled)
            else:
                compiled.generated_rows, compiled.source = generate_policy(compiled, layout)
                compiled.layout = layout
    return compiled


def compile_expr(e: ast.Expr, names: Sequence[str]) -> tuple[Fn, int]:
    """Compile one checked expression over the given names (slots 1…n); returns the closure and
    the number of slots its env needs. For tests and tools."""
    scope = {name: i + 1 for i, name in enumerate(names)}
    compiler = _ExprCompiler(scope, root_slots=set())
    fn = compiler.expr(e, scope)
    return fn, compiler.size


_new_finding = tuple.__new__
_NO_EVIDENCE: Mapping[str, Any] = {}


def _lazy(plan: Sequence[tuple[str, Fn]], env: Env) -> LazyEvidence:
    ev = LazyEvidence.__new__(LazyEvidence)
    ev._plan = plan
    ev._env = env
    ev._data = None
    return ev


class LazyEvidence(Mapping[str, Any]):
    """Evidence computed when first read: most findings of a large scan are counted, not shown."""

    __slots__ = ("_data", "_env", "_plan")

    def __init__(self, plan: Sequence[tuple[str, Fn]], env: Env) -> None:
        self._plan: Sequence[tuple[str, Fn]] | None = plan
        self._env: Env | None = env
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            assert self._plan is not None and self._env is not None
            env = self._env
            self._data = {}
            for label, fn in self._plan:
                try:
                    self._data[label] = jsonable(fn(env))
                except Exception as err:
                    self._data[label] = {"error": f"{type(err).__name__}: {err}"}
            self._plan = self._env = None
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return repr(self._load())


@dataclass(frozen=True, slots=True)
class PartRun:
    """A policy run in parts (:meth:`CompiledPolicy.part_runner`): ``part`` for each
    consecutive part of its roots, then ``finish`` once."""

    part: Callable[[Iterable[Any]], None]
    finish: Callable[[], None]


def _nothing() -> None:
    pass


class CompiledPolicy:
    """A policy as closures. :meth:`run` gives the same findings as the interpreter."""

    def __init__(self, checked: CheckedPolicy) -> None:
        self.checked = checked
        policy = checked.policy
        self.steps = policy.steps
        # Slots: 0 is the evaluation context; then globals and params are bound by name at run time.
        self.scope: dict[str, int] = {}
        self._compiler = _ExprCompiler(self.scope, root_slots=set())
        first = self.steps[0]
        assert isinstance(first, ast.ForEach)
        self.root_var = first.var
        self.root_slot = self._compiler.slot(first.var)
        self._compiler.root_slots.add(self.root_slot)
        self.free = sorted(_free_names(policy, set(checked.param_types)))
        for name in self.free:
            self._compiler.slot(name)
        self.code: list[tuple[str, int, Fn | None]] = []
        self.group_at: int | None = None
        self.group_innermost = 0
        for_slots: list[int] = []
        for i, step in enumerate(self.steps):
            if isinstance(step, ast.ForEach):
                slot = self.root_slot if i == 0 else self._compiler.slot(step.var)
                for_slots.append(slot)
                self.code.append(("for", slot, self._compiler.expr(step.source, self.scope)))
            elif isinstance(step, ast.Where):
                self.code.append(("where", 0, self._compiler.expr(step.cond, self.scope)))
            elif isinstance(step, ast.Let):
                fn = self._compiler.expr(step.value, self.scope)
                self.code.append(("let", self._compiler.slot(step.name), fn))
            elif isinstance(step, ast.GroupBy):
                self.group_at = i
                self.group_innermost = for_slots[-1]
                key = self._compiler.expr(step.key, self.scope)
                self._compiler.slot(step.name)
                self._compiler.slot(step.members)
                self.code.append(("group", 0, key))
            elif isinstance(step, ast.Require):
                self.code.append(("require", 0, self._compiler.expr(step.cond, self.scope)))
            else:
                self.code.append(("message", 0, None))
        message = next((s for s in self.steps if isinstance(s, ast.Message)), None)
        self.message: Fn | None = (
            self._compiler.expr(message.template, self.scope) if message is not None else None
        )
        # Evidence and messages for undecided results are compiled now, not when first needed:
        # their aggregates take slots, and every env of a run must have room for all of them.
        self._plans: dict[int, list[tuple[str, Fn]]] = {}
        self._unknown_messages: dict[int, Fn | None] = {}
        for i, step in enumerate(self.steps):
            if isinstance(step, ast.Where | ast.Require):
                self._plans[i] = [
                    (label, self._compiler.expr(e, self.scope)) for label, e in evidence_plan(self.checked, i)
                ]
            if isinstance(step, ast.Where | ast.Require | ast.ForEach | ast.GroupBy):
                template = message_for_unknown(self.checked, i)
                self._unknown_messages[i] = (
                    self._compiler.expr(template, self.scope) if template is not None else None
                )
        self.size = self._compiler.size
        self._shape: tuple[tuple[Any, ...], tuple[Any, ...]] | None = None
        self.requires = tuple(i for i, (kind, _, _) in enumerate(self.code) if kind == "require")
        self.simple = self.group_at is None and all(
            kind in ("where", "let", "require", "message") for kind, _, _ in self.code[1:]
        )
        self._free_slots = tuple((name, self.scope[name]) for name in self.free)
        #: The generated function that runs the policy (see compile_policy), and its source.
        self.generated: Callable[[Env, Iterable[Any], list[Finding]], None] | None = None
        self.source: str | None = None
        #: The generated function for rows of ``layout`` (:meth:`run_rows`), when compiled for one.
        self.generated_rows: RowRun | None = None
        self.layout: RowLayout | None = None

    # --- running ---------------------------------------------------------------------

    def run_rows(self, run: RunContext, rows: Rows, roots: Iterable[Any] | None = None) -> list[Any]:
        """As :meth:`run`, but each violation the policy decides is a row of ``rows.layout``
        (undecided findings stay :class:`Finding` tuples), when it was generated for that layout;
        otherwise the findings of :meth:`run`, for the caller to convert."""
        if self.generated_rows is None or rows.layout != self.layout:
            return self.run(run, roots)
        env = self._env(run)
        found: list[Any] = []
        roots = self._roots(env) if roots is None else roots
        if self.group_at is None:
            self.generated_rows(env, roots, found, rows.head, rows.tail)
        else:
            self.generated_rows(env, roots, found, rows.head, rows.tail, {}, True)
        return found

    def part_runner(self, run: RunContext, rows: Rows, found: list[Any]) -> PartRun | None:
        """:meth:`run_rows` in parts: ``part(roots)`` over consecutive parts of the roots, then
        ``finish()``, append to ``found`` what one run over all of them gives (each root is
        decided on its own; a `group by` policy gathers its groups part by part and decides
        them in ``finish``). The engine uses it to run several policies slice by slice of the
        inventory, while those resources are in the CPU's caches. None when the policy was not
        generated for ``rows.layout``."""
        fn = self.generated_rows
        if fn is None or rows.layout != self.layout:
            return None
        env = self._env(run)
        head, tail = rows.head, rows.tail
        if self.group_at is None:

            def part(roots: Iterable[Any]) -> None:
                fn(env, roots, found, head, tail)

            return PartRun(part, _nothing)
        groups: dict[Any, tuple[Any, list[Any]]] = {}

        def gather(roots: Iterable[Any]) -> None:
            fn(env, roots, found, head, tail, groups, False)

        def finish() -> None:
            fn(env, (), found, head, tail, groups, True)

        return PartRun(gather, finish)

    def _env(self, run: RunContext) -> Env:
        env: Env = [None] * self.size
        env[0] = run.eval
        params, globals_ = run.params, run.globals
        for name, slot in self._free_slots:
            env[slot] = params[name] if name in params else globals_[name]
        return env

    def run(self, run: RunContext, roots: Iterable[Any] | None = None) -> list[Finding]:
        """Run over the world in ``run``; ``roots`` are the root items when an index already chose them."""
        env = self._env(run)
        findings: list[Finding] = []
        if roots is None:
            roots = self._roots(env)
        if self.generated is None and self.generated_rows is not None:
            # Generated for rows (the engine's case) and now asked for findings: once.
            from regie.dsl.codegen import Unsupported, generate_policy

            with contextlib.suppress(Unsupported):  # it was generated once: not expected
                self.generated = generate_policy(self)[0]
        if self.generated is not None:
            self.generated(env, roots, findings)
            return findings
        if self.group_at is None:
            if self.simple:
                self._run_simple(roots, env, findings)
            else:
                for item in roots:
                    env[self.root_slot] = item
                    self._steps(1, len(self.code), env, _resource_id(item), [], findings, None)
            return findings
        groups: dict[Any, tuple[Any, list[Any]]] = {}
        key_fn = self.code[self.group_at][2]
        assert key_fn is not None
        innermost = self.group_innermost
        group_at = self.group_at

        def collect(local: Env, target: str, items: list[str]) -> None:
            key = key_fn(local)
            if key.__class__ is Unknown:  # which group it belongs to cannot be known
                self._emit(group_at, local, target, items, findings, key)
                return
            groups.setdefault(group_key(key), (key, []))[1].append(local[innermost])

        for item in roots:
            env[self.root_slot] = item
            self._steps(1, self.group_at, env, _resource_id(item), [], findings, collect)
        group = self.steps[self.group_at]
        assert isinstance(group, ast.GroupBy)
        name_slot, members_slot = self.scope[group.name], self.scope[group.members]
        for value, members in groups.values():
            genv: Env = [None] * self.size
            genv[0] = run.eval
            for name in self.free:
                genv[self.scope[name]] = env[self.scope[name]]
            genv[name_slot] = value
            genv[members_slot] = members
            self._steps(
                self.group_at + 1,
                len(self.code),
                genv,
                group_target(group, value),
                [],
                findings,
                None,
                root=False,
            )
        return findings

    def _roots(self, env: Env) -> Iterable[Any]:
        fn = self.code[0][2]
        assert fn is not None
        coll = iterate(fn(env))
        return () if coll.__class__ is Unknown else coll

    def _run_simple(self, roots: Iterable[Any], env: Env, findings: list[Finding]) -> None:
        """The common shape: ``for``, then ``where``/``let`` clauses, then ``require``s."""
        root_slot = self.root_slot
        shape = self._shape
        if shape is None:
            code = self.code
            shape = self._shape = (
                tuple(
                    (i, kind, slot, fn) for i, (kind, slot, fn) in enumerate(code) if kind in ("where", "let")
                ),
                tuple((i, fn) for i, (kind, _, fn) in enumerate(code) if kind == "require"),
            )
        pre, requires = shape
        if len(requires) == 1 and len(pre) == 1 and pre[0][1] == "where":
            (ri, req), emit = requires[0], self._emit
            wi, where = pre[0][0], pre[0][3]
            for item in roots:
                env[root_slot] = item
                value = where(env)
                if value is not True:
                    if value.__class__ is Unknown:
                        emit(wi, env, _resource_id(item), [], findings, value)
                    continue
                value = req(env)
                if value is not True:
                    emit(
                        ri,
                        env,
                        _resource_id(item),
                        [],
                        findings,
                        value if value.__class__ is Unknown else None,
                    )
            return
        for item in roots:
            env[root_slot] = item
            # The `where` clauses are one conjunction (see interp._Walker.steps).
            pending: tuple[int, Any] | None = None
            for i, kind, slot, fn in pre:
                value = fn(env)
                if kind == "let":
                    env[slot] = value
                elif value is not True:
                    if value.__class__ is not Unknown:
                        break
                    if pending is None:
                        pending = (i, value)
            else:
                if pending is not None:
                    self._emit(pending[0], env, _resource_id(item), [], findings, pending[1])
                    continue
                unknown: tuple[int, Any] | None = None
                for i, fn in requires:
                    value = fn(env)
                    if value is True:
                        continue
                    if value.__class__ is Unknown:
                        if unknown is None:
                            unknown = (i, value)
                        continue
                    self._emit(i, env, _resource_id(item), [], findings, None)
                    break
                else:
                    if unknown is not None:
                        self._emit(unknown[0], env, _resource_id(item), [], findings, unknown[1])

    def _steps(
        self,
        i: int,
        end: int,
        env: Env,
        target: str,
        items: list[str],
        findings: list[Finding],
        on_end: Callable[[Env, str, list[str]], None] | None,
        root: bool = True,
    ) -> None:
        code = self.code
        pending: tuple[int, Any] | None = None  # the first unknown `where` of a run of them
        while i < end:
            kind, slot, fn = code[i]
            if kind == "where":
                assert fn is not None
                value = fn(env)
                if value is not True:
                    if value.__class__ is not Unknown:
                        return
                    if pending is None:
                        pending = (i, value)
                i += 1
                continue
            if kind == "let":
                assert fn is not None
                env[slot] = fn(env)
                i += 1
                continue
            if pending is not None:
                self._emit(pending[0], env, target, items, findings, pending[1])
                return
            if kind == "for":
                assert fn is not None
                coll = iterate(fn(env))
                if coll.__class__ is Unknown:
                    self._emit(i, env, target, items, findings, coll)
                    return
                for item in coll:
                    env[slot] = item
                    self._steps(i + 1, end, env, target, [*items, item_label(item)], findings, on_end, root)
                return
            if kind == "require":
                self._decide(i, env, target, items, findings)
                return
            i += 1
        if pending is not None:
            self._emit(pending[0], env, target, items, findings, pending[1])
            return
        if on_end is not None:
            on_end(env, target, items)

    def _decide(self, i: int, env: Env, target: str, items: list[str], findings: list[Finding]) -> None:
        unknown: tuple[int, Any] | None = None
        for j in range(i, len(self.code)):
            kind, _, fn = self.code[j]
            if kind != "require":
                continue
            assert fn is not None
            value = fn(env)
            if value is True:
                continue
            if value.__class__ is Unknown:
                if unknown is None:
                    unknown = (j, value)
                continue
            self._emit(j, env, target, items, findings, None)
            return
        if unknown is not None:
            self._emit(unknown[0], env, target, items, findings, unknown[1])

    def _emit(
        self, position: int, env: Env, target: str, items: list[str], findings: list[Finding], unknown: Any
    ) -> None:
        if unknown is None:
            message = self.message
            if message is not None:
                text = message(env)
            else:
                step = self.steps[position]
                assert isinstance(step, ast.Require | ast.Where)
                text = _default_message(self.checked, step, None)
            outcome = "violation"
            reason = None
        else:
            reason = unknown_reason(unknown)
            text = self._unknown_message(position, env, reason)
            outcome = "unknown"
        plan = self._plans.get(position)
        group_at = self.group_at
        root_item = env[self.root_slot] if group_at is None or position <= group_at else None
        findings.append(
            _new_finding(
                Finding,
                (
                    outcome,
                    target,
                    ("/".join(items) or None) if items else None,
                    text,
                    _lazy(plan, env[:]) if plan else _NO_EVIDENCE,
                    reason,
                    root_item,
                ),
            )
        )

    def _plan(self, position: int) -> list[tuple[str, Fn]]:
        return self._plans.get(position, [])

    def _unknown_message(self, position: int, env: Env, reason: str) -> str:
        fn = self._unknown_messages.get(position)
        if fn is not None:
            return undecided(fn(env), reason)
        return plain_unknown_message(self.checked, position, reason)


def _free_names(policy: ast.Policy, params: set[str]) -> set[str]:
    """Globals and parameters a policy reads (bound into slots once per run)."""
    bound: set[str] = set()
    for s in policy.steps:
        if isinstance(s, ast.ForEach):
            bound.add(s.var)
        elif isinstance(s, ast.Let):
            bound.add(s.name)
        elif isinstance(s, ast.GroupBy):
            bound.update((s.name, s.members))
    names: set[str] = set(params)
    for s in policy.steps:
        for e in _step_exprs(s):
            names |= _refs(e)
    return names - bound - _aggregate_vars(policy)


def _step_exprs(s: ast.Step) -> list[ast.Expr]:
    if isinstance(s, ast.ForEach):
        return [s.source]
    if isinstance(s, ast.Where | ast.Require):
        return [s.cond]
    if isinstance(s, ast.Let):
        return [s.value]
    if isinstance(s, ast.GroupBy):
        return [s.key]
    return [s.template]


def _refs(e: ast.Expr) -> set[str]:
    from regie.dsl.interp import _children

    if isinstance(e, ast.Ref):
        return {e.name}
    out: set[str] = set()
    for child in _children(e):
        out |= _refs(child)
    return out


def _aggregate_vars(policy: ast.Policy) -> set[str]:
    from regie.dsl.interp import _children

    out: set[str] = set()

    def walk(e: ast.Expr) -> None:
        if isinstance(e, ast.Aggregate) and e.var is not None:
            out.add(e.var)
        for child in _children(e):
            walk(child)

    for s in policy.steps:
        for e in _step_exprs(s):
            walk(e)
    return out


class _ExprCompiler:
    def __init__(self, scope: dict[str, int], root_slots: set[int]) -> None:
        self.scope = scope
        self.root_slots = root_slots
        self.size = max(scope.values(), default=0) + 1

    def slot(self, name: str) -> int:
        if name not in self.scope:
            self.scope[name] = self.size
            self.size += 1
        return self.scope[name]

    def fresh(self) -> int:
        self.size += 1
        return self.size - 1

    def expr(self, e: ast.Expr, scope: dict[str, int]) -> Fn:
        method: Callable[[Any, dict[str, int]], Fn] = getattr(self, f"_{type(e).__name__}")
        return method(e, scope)

    # --- leaves ----------------------------------------------------------------------

    def _Literal(self, e: ast.Literal, scope: dict[str, int]) -> Fn:
        value = e.value
        return lambda env: value

    def _Ref(self, e: ast.Ref, scope: dict[str, int]) -> Fn:
        return itemgetter(scope[e.name])

    def _ListLit(self, e: ast.ListLit, scope: dict[str, int]) -> Fn:
        fns = [self.expr(i, scope) for i in e.items]
        return lambda env: [f(env) for f in fns]

    def _SetLit(self, e: ast.SetLit, scope: dict[str, int]) -> Fn:
        const = _constant_set(e)
        if const is not None:
            return lambda env: const
        fns = [self.expr(i, scope) for i in e.items]
        return lambda env: make_set([f(env) for f in fns])

    def _MapLit(self, e: ast.MapLit, scope: dict[str, int]) -> Fn:
        pairs = [(self.expr(k, scope), self.expr(v, scope)) for k, v in e.entries]
        return lambda env: make_map([(k(env), v(env)) for k, v in pairs])

    # --- access ----------------------------------------------------------------------

    def _Field(self, e: ast.Field, scope: dict[str, int]) -> Fn:
        if isinstance(e.obj, ast.Field):
            return self._field_chain(e, scope)
        name = e.name
        obj = e.obj
        if (
            isinstance(obj, ast.Ref)
            and scope.get(obj.name) in self.root_slots
            and isinstance(obj.ty, RecordType)
            and obj.ty.runtime is not None
        ):
            # The root item of a policy is always a record of the fact model.
            get = attrgetter(name)
            slot = scope[obj.name]
            return lambda env: get(env[slot])
        sub = self.expr(obj, scope)
        record = obj.ty.runtime if isinstance(obj.ty, RecordType) else None
        if record is not None:
            # A variable of a record type holds that record, or null, or an unknown.
            def record_field(env: Env) -> Any:
                o = sub(env)
                if o.__class__ is record:
                    return getattr(o, name)
                return get_field(o, name)

            return record_field

        def field(env: Env) -> Any:
            o = sub(env)
            if o.__class__ is dict:
                return o.get(name)
            return get_field(o, name)

        return field

    def _field_chain(self, e: ast.Field, scope: dict[str, int]) -> Fn:
        """``r.attributes.spec.template.spec`` as one closure that walks the names, not one per dot.

        Each step means what :func:`get_field` means (a map's key, a record's attribute, null
        through null, unknown through unknown), so the walk equals the nested form.
        """
        names: list[str] = []
        node: ast.Expr = e
        while isinstance(node, ast.Field):
            names.append(node.name)
            node = node.obj
        names.reverse()
        first = ast.Field(obj=node, name=names[0], span=node.span, ty=_first_field_type(node, names[0]))
        head = self._Field(first, scope)
        rest = tuple(names[1:])

        def chain(env: Env) -> Any:
            o = head(env)
            for name in rest:
                o = o.get(name) if o.__class__ is dict else get_field(o, name)
            return o

        return chain

    def _Index(self, e: ast.Index, scope: dict[str, int]) -> Fn:
        obj, key = self.expr(e.obj, scope), self.expr(e.key, scope)

        def index(env: Env) -> Any:
            m, k = obj(env), key(env)
            if m.__class__ is dict and k.__class__ is str:
                return m.get(k)
            return get_index(m, k)

        return index

    # --- operators -------------------------------------------------------------------

    def _Unary(self, e: ast.Unary, scope: dict[str, int]) -> Fn:
        sub = self.expr(e.operand, scope)
        if e.op == "-":
            return lambda env: arith("-", 0, sub(env))

        def not_(env: Env) -> Any:
            v = sub(env)
            if v is True:
                return False
            return v if v.__class__ is Unknown else True

        return not_

    def _Binary(self, e: ast.Binary, scope: dict[str, int]) -> Fn:
        left, right, op = self.expr(e.left, scope), self.expr(e.right, scope), e.op
        return lambda env: arith(op, left(env), right(env))

    def _Compare(self, e: ast.Compare, scope: dict[str, int]) -> Fn:
        left = self.expr(e.left, scope)
        op = e.op
        right_node = e.right
        if op in ("==", "!=") and isinstance(right_node, ast.Literal) and right_node.value is None:
            if op == "==":

                def is_null(env: Env) -> Any:
                    a = left(env)
                    return a if a.__class__ is Unknown else a is None

                return is_null

            def not_null(env: Env) -> Any:
                a = left(env)
                return a if a.__class__ is Unknown else a is not None

            return not_null
        if op in ("==", "!=") and isinstance(right_node, ast.Literal) and isinstance(right_node.value, str):
            const = right_node.value
            if op == "==":

                def eq_str(env: Env) -> Any:
                    a = left(env)
                    return a if a.__class__ is Unknown else a == const

                return eq_str

            def ne_str(env: Env) -> Any:
                a = left(env)
                return a if a.__class__ is Unknown else a != const

            return ne_str
        if op in ("in", "not in"):
            members = _constant_str_set(right_node)
            if members is not None:
                original = _constant_value(right_node)
                negate = op == "not in"

                def in_const(env: Env) -> Any:
                    a = left(env)
                    if a.__class__ is str:
                        return (a in members) is not negate
                    v = contains(original, a)
                    if negate and v.__class__ is not Unknown:
                        return not v
                    return v

                return in_const
        right = self.expr(right_node, scope)
        if op in ("in", "not in") and isinstance(right_node.ty, SetType):
            negate = op == "not in"

            def in_set(env: Env) -> Any:
                a, s = left(env), right(env)
                if a.__class__ is str and s.__class__ is frozenset:
                    return (a in s) is not negate
                v = contains(s, a)
                return (not v) if negate and v.__class__ is bool else v

            return in_set
        if op in ("==", "!=") and STR in (e.left.ty, right_node.ty):
            same = op == "=="

            def eq_text(env: Env) -> Any:
                a, b = left(env), right(env)
                if a.__class__ is str and b.__class__ is str:
                    return (a == b) is same
                v = equal(a, b)
                return v if same or v.__class__ is Unknown else not v

            return eq_text
        if op == "==":
            return lambda env: equal(left(env), right(env))
        if op == "!=":
            return lambda env: _negate(equal(left(env), right(env)))
        if op == "in":
            return lambda env: contains(right(env), left(env))
        if op == "not in":
            return lambda env: _negate(contains(right(env), left(env)))
        return lambda env: order(op, left(env), right(env))

    def _Logical(self, e: ast.Logical, scope: dict[str, int]) -> Fn:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        if e.op == "and":

            def and_(env: Env) -> Any:
                lv = left(env)
                if lv is True:
                    rv = right(env)
                    if rv is True:
                        return True
                    return rv if rv.__class__ is Unknown else False
                if lv.__class__ is not Unknown:
                    return False
                rv = right(env)
                return lv if (rv is True or rv.__class__ is Unknown) else False

            return and_

        def or_(env: Env) -> Any:
            lv = left(env)
            if lv is True:
                return True
            rv = right(env)
            if rv is True:
                return True
            if lv.__class__ is Unknown:
                return lv
            return rv if rv.__class__ is Unknown else False

        return or_

    def _Coalesce(self, e: ast.Coalesce, scope: dict[str, int]) -> Fn:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)

        def coalesce(env: Env) -> Any:
            v = left(env)
            return right(env) if v is None else v

        return coalesce

    # --- calls -----------------------------------------------------------------------

    def _Call(self, e: ast.Call, scope: dict[str, int]) -> Fn:
        impl = BUILTINS[e.name].impl
        args = [self.expr(a, scope) for a in e.args]
        second = e.args[1] if len(e.args) > 1 else None
        if (
            e.name in ("matches", "glob")
            and isinstance(second, ast.Literal)
            and isinstance(second.value, str)
        ):
            pattern = second.value
            regex = compile_regex(glob_to_regex(pattern) if e.name == "glob" else pattern)
            subject = args[0]

            def match(env: Env) -> Any:
                s = subject(env)
                if s.__class__ is str:
                    return regex.search(s) is not None
                return impl(env[0], s, pattern)

            return match
        if e.name in ("startswith", "endswith"):
            fixes = _constant_value(second) if second is not None else None
            if isinstance(fixes, str) or (
                isinstance(fixes, list | frozenset) and all(isinstance(x, str) for x in fixes)
            ):
                wanted = fixes if isinstance(fixes, str) else tuple(fixes)
                method = str.startswith if e.name == "startswith" else str.endswith
                subject = args[0]

                def prefix(env: Env) -> Any:
                    s = subject(env)
                    if s.__class__ is str:
                        return method(s, wanted)
                    return impl(env[0], s, fixes)

                return prefix
        if e.name == "known" and len(args) == 1:
            (k,) = args
            return lambda env: k(env).__class__ is not Unknown
        if len(args) == 1:
            (a,) = args
            return lambda env: impl(env[0], a(env))
        if len(args) == 2:
            a, b = args
            return lambda env: impl(env[0], a(env), b(env))
        return lambda env: impl(env[0], *(f(env) for f in args))

    def _Aggregate(self, e: ast.Aggregate, scope: dict[str, int]) -> Fn:
        coll = self.expr(e.collection, scope)
        reducer = REDUCERS[e.func]
        if e.var is None or e.body is None:
            if e.func == "count":
                return lambda env: count_items(coll(env))

            def plain(env: Env) -> Any:
                items = iterate(coll(env))
                if items.__class__ is Unknown:
                    return items
                return reducer(list(items))

            return plain
        slot = self.fresh()
        inner = {**scope, e.var: slot}
        body = self.expr(e.body, inner)

        def aggregate(env: Env) -> Any:
            items = iterate(coll(env))
            if items.__class__ is Unknown:
                return items

            def values() -> Iterator[Any]:
                for item in items:
                    env[slot] = item
                    yield body(env)

            return reducer(values())

        return aggregate

    def _Template(self, e: ast.Template, scope: dict[str, int]) -> Fn:
        pieces: list[Fn] = [
            _text(p) if isinstance(p, str) else _rendered(self.expr(p, scope)) for p in e.parts
        ]

        if sum(1 for p in e.parts if not isinstance(p, str)) <= 2:
            texts: list[str] = [""]
            fns: list[Fn] = []
            for p in e.parts:
                if isinstance(p, str):
                    texts[-1] += p
                else:
                    fns.append(self.expr(p, scope))
                    texts.append("")
            if not fns:
                const = texts[0]
                return lambda env: const
            if len(fns) == 1:
                t0, t1 = texts
                (f0,) = fns

                def template1(env: Env) -> str:
                    v = f0(env)
                    return t0 + (v if v.__class__ is str else render_value(v)) + t1

                return template1
            t0, t1, t2 = texts
            f0, f1 = fns

            def template2(env: Env) -> str:
                v = f0(env)
                w = f1(env)
                v = v if v.__class__ is str else render_value(v)
                return t0 + v + t1 + (w if w.__class__ is str else render_value(w)) + t2

            return template2

        def template(env: Env) -> str:
            return "".join([piece(env) for piece in pieces])

        return template


def _resource_id(item: Any) -> str:
    ident = getattr(item, "id", None)
    return ident if ident.__class__ is str else resource_id(item)


def _first_field_type(obj: ast.Expr, name: str) -> Type | None:
    ty = obj.ty
    return ty.field_type(name) if isinstance(ty, RecordType) else None


def _text(text: str) -> Fn:
    return lambda env: text


def _rendered(fn: Fn) -> Fn:
    def rendered(env: Env) -> str:
        v = fn(env)
        return v if v.__class__ is str else render_value(v)

    return rendered


def _negate(v: Any) -> Any:
    return v if v.__class__ is Unknown else not v


def _constant_value(e: ast.Expr | None) -> Any:
    if isinstance(e, ast.Literal):
        return e.value
    if isinstance(e, ast.ListLit | ast.SetLit) and all(isinstance(i, ast.Literal) for i in e.items):
        values = [i.value for i in e.items]  # type: ignore[union-attr]
        return values if isinstance(e, ast.ListLit) else frozenset(values)
    return None


def _constant_set(e: ast.SetLit) -> frozenset[Any] | None:
    value = _constant_value(e)
    return value if isinstance(value, frozenset) else None


def _constant_str_set(e: ast.Expr) -> frozenset[str] | None:
    value = _constant_value(e)
    if isinstance(value, list | frozenset) and value and all(isinstance(v, str) for v in value):
        return frozenset(value)
    return None


_ = render_template  # the interpreter's renderer is the reference for _Template
