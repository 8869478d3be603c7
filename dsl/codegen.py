"""Step four, fast path: one generated Python function per checked policy.

:class:`~regie.dsl.compile.CompiledPolicy` runs a policy as a tree of closures: a
condition such as ``r.region != null`` is several Python calls per resource. This
module writes the same policy as *one* function of straight-line code: ``for``,
``where``, ``let`` and ``require`` fused into loops over local variables, field chains
as attribute and dict reads, Kleene logic as ``if`` statements, quantifiers as inline
loops. It is what a person would write by hand, and it runs several times faster.

Safety. The source is built from the checked AST only, and no text of the policy ever
becomes code: every literal, field name, map key, pattern, message text and label is
an entry of a constants table (``_k0``, ``_k1``, …) bound in the function's namespace;
every identifier is generated (``v3``, ``t12``), never taken from the policy; the only
other tokens are Python keywords, operators from a fixed set, slot numbers and the
names of this module's helpers. ``tests/test_codegen.py`` checks this token by token.

Meaning. The generated code calls the same primitives as the interpreter
(:mod:`regie.dsl.values`, the builtins), with the fast paths of the closure compiler.
Findings that are undecided (unknown) go through the closure policy's own ``_emit``,
so their messages and evidence come from one place; violations are built inline with
the same message and the same lazy evidence, as :class:`Finding` tuples or, for a
caller's :class:`~regie.dsl.runtime.RowLayout` (the engine's ``Violation``), as its rows.
The differential tests run the interpreter, the closures and this path on random
policies and facts.

A construct the generator does not handle raises :class:`Unsupported`; the policy then
runs as closures (:func:`regie.dsl.compile.compile_policy` does this).
"""

from __future__ import annotations

import keyword
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from regie.dsl import ast
from regie.dsl.builtins import BUILTINS, compile_regex, glob_to_regex
from regie.dsl.compile import _constant_str_set, _constant_value  # the closure compiler's folding
from regie.dsl.interp import default_message
from regie.dsl.runtime import Finding, RowLayout, item_label
from regie.dsl.types import STR, ListType, RecordType, SetType
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
    make_map,
    make_set,
    order,
    render_value,
)

if TYPE_CHECKING:
    from regie.dsl.compile import CompiledPolicy

__all__ = ["GeneratedRun", "Unsupported", "generate_expr", "generate_policy"]

#: A generated policy: ``(env, roots, findings)``; ``env`` holds the context and the free names.
GeneratedRun = Callable[[list[Any], Iterable[Any], list[Finding]], None]


class Unsupported(Exception):
    """The generator does not handle this construct; the policy runs as closures."""


def generate_policy(compiled: CompiledPolicy, layout: RowLayout | None = None) -> tuple[Any, str]:
    """The policy as one generated function, and its source (for tests and ``--debug``).

    Without ``layout`` a :data:`GeneratedRun` that appends :class:`Finding` tuples; with one, a
    function ``(env, roots, found, head, tail)`` that appends each decided violation as a row
    of the layout (:class:`~regie.dsl.runtime.RowLayout`). Raises :class:`Unsupported` for
    what the generator does not handle.
    """
    gen = _PolicyGen(compiled, layout)
    try:
        source = gen.source()
        fn = _load(source, gen.consts, "_policy")
    except (RecursionError, SyntaxError) as err:
        # Python caps nesting (100 indentation levels, 20 nested loops): a policy with
        # expressions that deep runs as closures.
        raise Unsupported(f"too deeply nested: {type(err).__name__}") from None
    return fn, source


def generate_expr(e: ast.Expr, names: Sequence[str]) -> tuple[Callable[[list[Any]], Any], str]:
    """One checked expression over ``names`` (slots 1…n, slot 0 the evaluation context) as a
    generated function of the slot list, and its source. For the differential tests."""
    gen = _ExprGen()
    scope = {name: _Var(f"n{i + 1}", i + 1) for i, name in enumerate(names)}
    gen.line("def _expr(env):")
    with gen.indented():
        gen.line("ctx = env[0]")
        for var in scope.values():
            gen.line(f"{var.local} = env[{var.slot}]")
        result = gen.expr(e, scope)
        gen.line(f"return {result}")
    source = gen.text()
    return _load(source, gen.consts, "_expr"), source


# --- what generated code may call --------------------------------------------------------

_new_finding = tuple.__new__


def _prefix_arg(p: Any) -> Any:
    """``startswith``'s second argument as ``str.startswith`` takes it, or None when the
    builtin must decide (the builtin keeps only the strings of a collection)."""
    if p.__class__ is str:
        return p
    if isinstance(p, list | frozenset | set):
        return tuple(x for x in p if x.__class__ is str)
    return None


def _helpers() -> dict[str, Any]:
    from regie.dsl.compile import _NO_EVIDENCE, _lazy, _resource_id

    return {
        "__builtins__": {},
        "Unknown": Unknown,
        "Finding": Finding,
        "new_finding": _new_finding,
        "lazy": _lazy,
        "NO_EVIDENCE": _NO_EVIDENCE,
        "resource_id": _resource_id,
        "item_label": item_label,
        "arith": arith,
        "contains": contains,
        "count_items": count_items,
        "equal": equal,
        "get_field": get_field,
        "get_index": get_index,
        "group_key": group_key,
        "iterate": iterate,
        "make_map": make_map,
        "make_set": make_set,
        "order": order,
        "render_value": render_value,
        "prefix_arg": _prefix_arg,
        "str": str,
        "dict": dict,
        "frozenset": frozenset,
        "list": list,
        "int": int,
        "bool": bool,
        "getattr": getattr,
    }


#: Names generated code may use besides generated ones (``tests/test_codegen.py`` checks).
HELPER_NAMES = frozenset(
    {
        "Unknown", "Finding", "new_finding", "lazy", "NO_EVIDENCE", "resource_id", "item_label",
        "arith", "contains", "count_items", "equal", "get_field", "get_index", "group_key",
        "iterate", "make_map", "make_set", "order", "render_value", "prefix_arg", "str", "dict",
        "frozenset", "list", "int", "bool", "getattr", "env", "roots", "findings", "emit", "ctx",
        "head", "tail", "final",
        "append", "get", "search", "startswith", "endswith", "join", "values", "groups",
    }
)  # fmt: skip


def _load(source: str, consts: list[Any], name: str) -> Any:
    namespace = _helpers()
    namespace.update({f"_k{i}": value for i, value in enumerate(consts)})
    exec(
        compile(source, "<regie generated policy>", "exec"), namespace
    )  # the source holds no policy text (module doc)
    return namespace[name]


# --- expressions --------------------------------------------------------------------------


@dataclass(slots=True)
class _Var:
    """A policy name as generated code holds it."""

    local: str
    slot: int | None  # where the closures (evidence, messages) expect it; None: not in env
    root: bool = False  # the root item: always a record of the fact model
    free: bool = False  # a parameter or global: fixed for the whole run


_ORDER_OPS = ("<", "<=", ">", ">=")
_ARITH_OPS = ("+", "-", "*", "/", "%")


def _attribute_ok(name: str) -> bool:
    """A record field the generated code may read with ``.name``: schema field names are
    ours, not the policy's, but this is checked rather than trusted."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


_CLASSES: dict[str, type] = {"str": str, "dict": dict, "frozenset": frozenset, "int": int}


def _both(a: str, b: str) -> str:
    """``a and b`` over generated tests, with ``True``/``False`` folded."""
    if a == "False" or b == "False":
        return "False"
    if a == "True":
        return b
    if b == "True":
        return a
    return f"{a} and {b}"


def _any_of(a: str, b: str) -> str:
    """``(a or b)`` over generated tests, with ``True``/``False`` folded."""
    if a == "True" or b == "True":
        return "True"
    if a == "False":
        return b
    if b == "False":
        return a
    return f"({a} or {b})"


def _either(cond: str, then: str, otherwise: str) -> str:
    """``then if cond else otherwise``, only the side taken when ``cond`` is known."""
    if cond == "True":
        return then
    if cond == "False":
        return otherwise
    return f"{then} if {cond} else {otherwise}"


class _ExprGen:
    """Writes statements that compute expressions into fresh locals."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0
        self.consts: list[Any] = []
        self._const_ids: dict[Any, int] = {}
        self._counter = 0
        #: Per open block, the reads (field and key lookups) already assigned to a local in it:
        #: a later read of the same thing in that block or a nested one uses the local.
        self._reads: list[dict[str, str]] = [{}]
        #: Locals that hold the same value for the whole run (parameters, globals, hoisted).
        self._fixed: set[str] = set()

    # --- writing ------------------------------------------------------------------------

    def line(self, text: str) -> None:
        self.lines.append("    " * self.depth + text)

    @contextmanager
    def indented(self) -> Iterator[None]:
        self.depth += 1
        self._reads.append({})
        try:
            yield
        finally:
            self._reads.pop()
            self.depth -= 1

    @contextmanager
    def block(self, header: str) -> Iterator[None]:
        self.line(header + ":")
        with self.indented():
            yield

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"

    def temp(self, prefix: str = "t") -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def const(self, value: Any) -> str:
        """A name for a constant value; the value never appears in the source."""
        if value is None or value is True or value is False:
            return repr(value)
        cls = value.__class__
        key: Any = (cls, repr(value)) if cls in (str, int, float) else ("id", id(value))
        index = self._const_ids.get(key)
        if index is None:
            index = self._const_ids[key] = len(self.consts)
            self.consts.append(value)
        return f"_k{index}"

    def assign(self, value: str) -> str:
        t = self.temp()
        self.line(f"{t} = {value}")
        return t

    def hoist(self, value: str) -> str:
        """``value`` of names fixed for the run: computed once (here: where it is needed)."""
        return self.assign(value)

    def read(self, value: str) -> str:
        """A field or key lookup (pure: the facts do not change during a run), assigned to a
        local once per block: ``r.attributes`` read by three conditions is one attribute load."""
        for known in reversed(self._reads):
            local = known.get(value)
            if local is not None:
                return local
        local = self.assign(value)
        self._reads[-1][value] = local
        return local

    def is_(self, name: str, cls: str) -> str:
        """The test ``name.__class__ is cls`` as generated code: ``True`` or ``False`` for a
        constant, a local computed once per run for a parameter or global, else inline."""
        if name in ("None", "True", "False") or name.startswith("_k"):
            value = {"None": None, "True": True, "False": False}.get(name)
            if name.startswith("_k"):
                value = self.consts[int(name[2:])]
            return "True" if value.__class__ is _CLASSES[cls] else "False"
        if name in self._fixed:
            return self.hoist(f"{name}.__class__ is {cls}")
        return f"{name}.__class__ is {cls}"

    def branch(self, cond: str, then: Callable[[], None], otherwise: Callable[[], None]) -> None:
        """``if cond: then() else: otherwise()``, only the branch taken when ``cond`` is known."""
        if cond == "True":
            then()
        elif cond == "False":
            otherwise()
        else:
            with self.block(f"if {cond}"):
                then()
            with self.block("else"):
                otherwise()

    # --- expressions --------------------------------------------------------------------

    def expr(self, e: ast.Expr, scope: dict[str, _Var]) -> str:
        """Statements computing ``e``; returns a local, a constant name or a keyword."""
        method: Callable[[Any, dict[str, _Var]], str] | None = getattr(self, f"_{type(e).__name__}", None)
        if method is None:
            raise Unsupported(type(e).__name__)
        return method(e, scope)

    def _Literal(self, e: ast.Literal, scope: dict[str, _Var]) -> str:
        return self.const(e.value)

    def _Ref(self, e: ast.Ref, scope: dict[str, _Var]) -> str:
        var = scope.get(e.name)
        if var is None:
            raise Unsupported(f"name {e.name!r} not bound")
        return var.local

    def _ListLit(self, e: ast.ListLit, scope: dict[str, _Var]) -> str:
        items = [self.expr(i, scope) for i in e.items]
        return self.assign("[" + ", ".join(items) + "]")

    def _SetLit(self, e: ast.SetLit, scope: dict[str, _Var]) -> str:
        const = _constant_value(e)
        if isinstance(const, frozenset):
            return self.const(const)
        items = [self.expr(i, scope) for i in e.items]
        return self.assign("make_set([" + ", ".join(items) + "])")

    def _MapLit(self, e: ast.MapLit, scope: dict[str, _Var]) -> str:
        pairs = [(self.expr(k, scope), self.expr(v, scope)) for k, v in e.entries]
        return self.assign("make_map([" + ", ".join(f"({k}, {v})" for k, v in pairs) + "])")

    def _Field(self, e: ast.Field, scope: dict[str, _Var]) -> str:
        obj = e.obj
        o = self.expr(obj, scope)
        name = self.const(e.name)
        record = obj.ty.runtime if isinstance(obj.ty, RecordType) else None
        attr = f"{o}.{e.name}" if _attribute_ok(e.name) else f"getattr({o}, {name})"
        if record is not None and isinstance(obj, ast.Ref) and scope[obj.name].root:
            return self.read(attr)  # the root item is always a record of the fact model
        if record is not None:
            return self.read(f"{attr} if {o}.__class__ is {self.const(record)} else get_field({o}, {name})")
        return self.read(_either(self.is_(o, "dict"), f"{o}.get({name})", f"get_field({o}, {name})"))

    def _Index(self, e: ast.Index, scope: dict[str, _Var]) -> str:
        m = self.expr(e.obj, scope)
        if isinstance(e.key, ast.Literal) and isinstance(e.key.value, str):
            k = self.const(e.key.value)
            return self.read(_either(self.is_(m, "dict"), f"{m}.get({k})", f"get_index({m}, {k})"))
        k = self.expr(e.key, scope)
        return self.read(
            _either(_both(self.is_(m, "dict"), self.is_(k, "str")), f"{m}.get({k})", f"get_index({m}, {k})")
        )

    def _Unary(self, e: ast.Unary, scope: dict[str, _Var]) -> str:
        v = self.expr(e.operand, scope)
        if e.op == "-":
            return self.assign(f"arith({self.const('-')}, 0, {v})")
        return self.assign(f"False if {v} is True else ({v} if {v}.__class__ is Unknown else True)")

    def _Binary(self, e: ast.Binary, scope: dict[str, _Var]) -> str:
        if e.op not in _ARITH_OPS:
            raise Unsupported(e.op)
        a, b = self.expr(e.left, scope), self.expr(e.right, scope)
        return self.assign(f"arith({self.const(e.op)}, {a}, {b})")

    def _Compare(self, e: ast.Compare, scope: dict[str, _Var]) -> str:
        op, right = e.op, e.right
        a = self.expr(e.left, scope)
        if op in ("==", "!=") and isinstance(right, ast.Literal) and right.value is None:
            test = "is" if op == "==" else "is not"
            return self.assign(f"{a} if {a}.__class__ is Unknown else {a} {test} None")
        if op in ("==", "!=") and isinstance(right, ast.Literal) and isinstance(right.value, str):
            return self.assign(f"{a} if {a}.__class__ is Unknown else {a} {op} {self.const(right.value)}")
        t = self.temp()

        def fast() -> None:
            self.line(f"{t} = {a} {op} {b}")

        def general(negate: str) -> Callable[[], None]:
            # ``negate``: how `!=` and `not in` turn the general answer around
            def emit() -> None:
                self.line(f"{t} = {call}")
                if op in ("!=", "not in"):
                    self.line(f"{t} = {negate}")

            return emit

        if op in ("in", "not in"):
            members = _constant_str_set(right)
            if members is not None:
                b = self.const(members)
                call = f"contains({self.const(_constant_value(right))}, {a})"
                self.branch(
                    self.is_(a, "str"), fast, general(f"{t} if {t}.__class__ is Unknown else not {t}")
                )
                return t
        b = self.expr(right, scope)
        if op in ("in", "not in") and isinstance(right.ty, SetType):
            call = f"contains({b}, {a})"
            cond = _both(self.is_(a, "str"), self.is_(b, "frozenset"))
            self.branch(cond, fast, general(f"(not {t}) if {t}.__class__ is bool else {t}"))
            return t
        if op in ("==", "!=") and STR in (e.left.ty, right.ty):
            call = f"equal({a}, {b})"
            cond = _both(self.is_(a, "str"), self.is_(b, "str"))
            self.branch(cond, fast, general(f"{t} if {t}.__class__ is Unknown else not {t}"))
            return t
        if op in ("==", "!="):
            call = f"equal({a}, {b})"
            general(f"{t} if {t}.__class__ is Unknown else not {t}")()
            return t
        if op in ("in", "not in"):
            # A string in a map's keys or a set is Python's `in` (`contains` special-cases
            # numbers and booleans, and lists hold unknowns: those take the general path).
            call = f"contains({b}, {a})"
            container = _any_of(self.is_(b, "dict"), self.is_(b, "frozenset"))
            cond = _both(self.is_(a, "str"), container)
            self.branch(cond, fast, general(f"{t} if {t}.__class__ is Unknown else not {t}"))
            return t
        if op not in _ORDER_OPS:
            raise Unsupported(op)
        # Two ints compare as `order` would (bool is not int here: its class is bool).
        call = f"order({self.const(op)}, {a}, {b})"
        self.branch(_both(self.is_(a, "int"), self.is_(b, "int")), fast, general(""))
        return t

    def _Logical(self, e: ast.Logical, scope: dict[str, _Var]) -> str:
        # Kleene logic, and the right side is evaluated only when the interpreter evaluates it.
        t = self.temp()
        lv = self.expr(e.left, scope)
        if e.op == "and":
            with self.block(f"if {lv} is True or {lv}.__class__ is Unknown"):
                rv = self.expr(e.right, scope)
                with self.block(f"if {lv} is True"):
                    self.line(
                        f"{t} = True if {rv} is True else ({rv} if {rv}.__class__ is Unknown else False)"
                    )
                with self.block("else"):
                    self.line(f"{t} = {lv} if ({rv} is True or {rv}.__class__ is Unknown) else False")
            with self.block("else"):
                self.line(f"{t} = False")
            return t
        with self.block(f"if {lv} is True"):
            self.line(f"{t} = True")
        with self.block("else"):
            rv = self.expr(e.right, scope)
            with self.block(f"if {rv} is True"):
                self.line(f"{t} = True")
            with self.block(f"elif {lv}.__class__ is Unknown"):
                self.line(f"{t} = {lv}")
            with self.block("else"):
                self.line(f"{t} = {rv} if {rv}.__class__ is Unknown else False")
        return t

    def _Coalesce(self, e: ast.Coalesce, scope: dict[str, _Var]) -> str:
        t = self.temp()
        lv = self.expr(e.left, scope)
        with self.block(f"if {lv} is None"):
            rv = self.expr(e.right, scope)
            self.line(f"{t} = {rv}")
        with self.block("else"):
            self.line(f"{t} = {lv}")
        return t

    def _Call(self, e: ast.Call, scope: dict[str, _Var]) -> str:
        impl = self.const(BUILTINS[e.name].impl)
        second = e.args[1] if len(e.args) > 1 else None
        if e.name == "known" and len(e.args) == 1:
            x = self.expr(e.args[0], scope)
            return self.assign(f"{x}.__class__ is not Unknown")
        if (
            e.name in ("matches", "glob")
            and isinstance(second, ast.Literal)
            and isinstance(second.value, str)
        ):
            pattern = second.value
            regex = compile_regex(glob_to_regex(pattern) if e.name == "glob" else pattern)
            s = self.expr(e.args[0], scope)
            return self.assign(
                f"{self.const(regex)}.search({s}) is not None if {s}.__class__ is str "
                f"else {impl}(ctx, {s}, {self.const(pattern)})"
            )
        if e.name in ("startswith", "endswith") and second is not None:
            method = e.name  # one of two fixed names, not policy text
            fixes = _constant_value(second)
            if isinstance(fixes, str) or (
                isinstance(fixes, list | frozenset) and all(isinstance(x, str) for x in fixes)
            ):
                wanted = fixes if isinstance(fixes, str) else tuple(fixes)
                s = self.expr(e.args[0], scope)
                return self.assign(
                    f"{s}.{method}({self.const(wanted)}) if {s}.__class__ is str "
                    f"else {impl}(ctx, {s}, {self.const(fixes)})"
                )
            s = self.expr(e.args[0], scope)
            p = self.expr(second, scope)
            free = isinstance(second, ast.Ref) and scope[second.name].free
            w = self.hoist(f"prefix_arg({p})") if free else self.assign(f"prefix_arg({p})")
            return self.assign(
                f"{s}.{method}({w}) if {s}.__class__ is str and {w} is not None else {impl}(ctx, {s}, {p})"
            )
        args = [self.expr(a, scope) for a in e.args]
        return self.assign(f"{impl}(ctx, {', '.join(args)})" if args else f"{impl}(ctx)")

    def _Aggregate(self, e: ast.Aggregate, scope: dict[str, _Var]) -> str:
        coll = self.expr(e.collection, scope)
        func = e.func
        if func not in REDUCERS:
            raise Unsupported(func)
        if e.var is None or e.body is None:
            if func == "count":
                return self.assign(f"count_items({coll})")
            items = self.assign(f"iterate({coll})")
            return self.assign(
                f"{items} if {items}.__class__ is Unknown else {self.const(REDUCERS[func])}(list({items}))"
            )
        t, items = self.temp(), self.assign(f"iterate({coll})")
        x = self.temp("x")
        inner = {**scope, e.var: _Var(x, None)}
        with self.block(f"if {items}.__class__ is Unknown"):
            self.line(f"{t} = {items}")
        with self.block("else"):
            acc, total = self.temp("a"), self.temp("a")
            if func in ("any", "all"):
                self.line(f"{acc} = None")
            elif func in ("count", "share"):
                self.line(f"{acc} = 0")
                self.line(f"{total} = 0")
            elif func == "most_common":
                self.line(f"{acc} = {{}}")  # group key -> [first value seen, count]
            else:
                self.line(f"{acc} = []")
            with self.block(f"for {x} in {items}"):
                b = self.expr(e.body, inner)
                if func == "any":
                    with self.block(f"if {b} is True"):
                        self.line(f"{t} = True")
                        self.line("break")
                    with self.block(f"if {b}.__class__ is Unknown and {acc} is None"):
                        self.line(f"{acc} = {b}")
                elif func == "all":
                    with self.block(f"if {b} is True"):
                        self.line("continue")
                    with self.block(f"if {b}.__class__ is Unknown"):
                        with self.block(f"if {acc} is None"):
                            self.line(f"{acc} = {b}")
                        self.line("continue")
                    self.line(f"{t} = False")
                    self.line("break")
                elif func in ("count", "share"):
                    self.line(f"{total} += 1")
                    with self.block(f"if {b} is True"):
                        self.line(f"{acc} += 1")
                    with self.block(f"elif {b}.__class__ is Unknown"):
                        self.line(f"{t} = {b}")
                        self.line("break")
                else:
                    # sum, min, max, most_common stop at the first unknown, as their reducers do.
                    with self.block(f"if {b}.__class__ is Unknown"):
                        self.line(f"{t} = {b}")
                        self.line("break")
                    if func == "most_common":
                        self.count_value(acc, b)
                    else:
                        self.line(f"{acc}.append({b})")
            with self.block("else"):
                if func == "any":
                    self.line(f"{t} = False if {acc} is None else {acc}")
                elif func == "all":
                    self.line(f"{t} = True if {acc} is None else {acc}")
                elif func == "count":
                    self.line(f"{t} = {acc}")
                elif func == "share":
                    self.line(f"{t} = None if {total} == 0 else {acc} / {total}")
                elif func == "most_common":
                    self.most_common(acc, t)
                else:
                    self.line(f"{t} = {self.const(REDUCERS[func])}({acc})")
        return t

    def count_value(self, acc: str, b: str) -> None:
        """``most_common``'s count of one value, inline (``values.reduce_most_common`` does the
        same: nulls are not counted; a group key per value, the value itself for a string)."""
        k, entry = self.temp(), self.temp()
        with self.block(f"if {b} is not None"):
            self.line(f"{k} = {b} if {b}.__class__ is str else group_key({b})")
            self.line(f"{entry} = {acc}.get({k})")
            with self.block(f"if {entry} is None"):
                self.line(f"{acc}[{k}] = [{b}, 1]")
            with self.block("else"):
                self.line(f"{entry}[1] += 1")

    def most_common(self, acc: str, t: str) -> None:
        """The value counted most often; the first seen among equals; null when none."""
        n, value, count = self.temp(), self.temp(), self.temp()
        self.line(f"{t} = None")
        self.line(f"{n} = 0")
        with self.block(f"for {value}, {count} in {acc}.values()"), self.block(f"if {count} > {n}"):
            self.line(f"{t} = {value}")
            self.line(f"{n} = {count}")

    def _Template(self, e: ast.Template, scope: dict[str, _Var]) -> str:
        pieces: list[str] = []
        for p in e.parts:
            if isinstance(p, str):
                pieces.append(self.const(p))
            elif isinstance(p, ast.Ref) and scope[p.name].free:
                # A parameter or global is the same for the whole run: render it once.
                v = scope[p.name].local
                pieces.append(self.hoist(f"{v} if {v}.__class__ is str else render_value({v})"))
            else:
                v = self.expr(p, scope)
                pieces.append(f"({v} if {v}.__class__ is str else render_value({v}))")
        if not pieces:
            return self.const("")
        if len(pieces) <= 6:
            return self.assign(" + ".join(pieces))
        return self.assign(f"{self.const('')}.join([{', '.join(pieces)}])")


# --- policies -----------------------------------------------------------------------------


@dataclass(slots=True)
class _Frame:
    """Where generated code stands: names bound so far, and how to name a finding here."""

    scope: dict[str, _Var]
    target: str  # Python expression for the finding's target
    root: str | None  # local of the root item (None after `group by`)
    items: list[str]  # locals of the nested `for` items, outermost first


class _PolicyGen(_ExprGen):
    def __init__(self, compiled: CompiledPolicy, layout: RowLayout | None = None) -> None:
        super().__init__()
        self.cp = compiled
        self.layout = layout
        self._head: list[str] = []
        self._tail: list[str] = []
        self.steps = compiled.steps
        self.group_at = compiled.group_at
        message = next((s for s in self.steps if isinstance(s, ast.Message)), None)
        self.message = message.template if message is not None else None
        self._prologue = 0
        self._hoisted: dict[str, str] = {}

    def source(self) -> str:
        cp = self.cp
        layout = self.layout
        if layout is None:
            self.line("def _policy(env, roots, findings):")
        else:
            if not all(_attribute_ok(name) for name, _ in layout.facts):
                raise Unsupported("a fact of the row layout is not a plain attribute name")
            # A `group by` policy in rows is run in parts (CompiledPolicy.part_runner): its
            # groups are the caller's, and only the last call (``final``) decides them.
            grouped = ", groups, final" if self.group_at is not None else ""
            self.line(f"def _policy(env, roots, findings, head, tail{grouped}):")
        with self.indented():
            if layout is not None:
                # The run's values of the row, as locals: a row is then one BUILD_TUPLE.
                self._head = [self.temp("c") for _ in range(layout.head)]
                self._tail = [self.temp("c") for _ in range(layout.tail)]
                for names, source in ((self._head, "head"), (self._tail, "tail")):
                    if len(names) == 1:
                        self.line(f"({names[0]},) = {source}")
                    elif names:
                        self.line(f"{', '.join(names)} = {source}")
            self.line("ctx = env[0]")
            self.line(f"emit = {self.const(cp._emit)}")
            scope: dict[str, _Var] = {}
            for name in cp.free:
                slot = cp.scope[name]
                var = scope[name] = _Var(self.temp("g"), slot, free=True)
                self._fixed.add(var.local)
                self.line(f"{var.local} = env[{slot}]")
            if self.group_at is not None and layout is None:
                self.line("groups = {}")
            self._prologue = len(self.lines)
            root = _Var(self.temp("v"), cp.root_slot, root=True)
            with self.block(f"for {root.local} in roots"):
                # Up to the end, or to `group by`, where each item joins its group.
                inner = {**scope, cp.root_var: root}
                r = root.local
                first = self.steps[0]
                assert isinstance(first, ast.ForEach)
                record = first.source.ty.elem if isinstance(first.source.ty, ListType) else None
                # A fact-model record has a string id (else resource_id renders what it has).
                target = (
                    f"({r}.id if {r}.id.__class__ is str else resource_id({r}))"
                    if isinstance(record, RecordType) and record.runtime is not None
                    else f"resource_id({r})"
                )
                self.steps_(1, len(self.steps), _Frame(inner, target, r, []))
            if self.group_at is not None and layout is None:
                self.group_phase(scope)
            elif self.group_at is not None:
                with self.block("if final"):
                    self.group_phase(scope)
        return self.text()

    def hoist(self, value: str) -> str:
        """Computed once per run, before the loop over the roots (``value`` reads free names only)."""
        local = self._hoisted.get(value)
        if local is None:
            local = self._hoisted[value] = self.temp("h")
            self._fixed.add(local)
            self.lines.insert(self._prologue, f"    {local} = {value}")
            self._prologue += 1
        return local

    def group_phase(self, scope: dict[str, _Var]) -> None:
        group = self.steps[self.group_at]  # type: ignore[index]
        assert isinstance(group, ast.GroupBy)
        key, members = self.temp("v"), self.temp("v")
        gscope = {
            **scope,
            group.name: _Var(key, self.cp.scope[group.name]),
            group.members: _Var(members, self.cp.scope[group.members]),
        }
        prefix = self.const(f"{group.name}:")
        target = f"{prefix} + ({key} if {key}.__class__ is str else render_value({key}))"
        with self.block(f"for {key}, {members} in groups.values()"):
            self.steps_(self.group_at + 1, len(self.steps), _Frame(gscope, target, None, []))  # type: ignore[operator]

    def steps_(self, i: int, end: int, frame: _Frame) -> None:
        """Steps ``i``…``end`` inside a loop; ``continue`` ends this item, as the walker's return."""
        scope = frame.scope
        # A run of `where`s (with `let`s between) is one conjunction; the first unknown one is
        # reported when the next other step is reached, unless a later one is false.
        pending: str | None = None  # local holding the first unknown (position, value), if any
        run_wheres = 0
        while i < end:
            step = self.steps[i]
            if isinstance(step, ast.Where):
                after = self.steps[i + 1] if i + 1 < end else None
                if run_wheres == 0 and not isinstance(after, ast.Where | ast.Let):
                    # A `where` alone: its unknown is reported right here, where the run
                    # would flush it, without a pending local per item.
                    c = self.expr(step.cond, scope)
                    with self.block(f"if {c} is not True"):
                        with self.block(f"if {c}.__class__ is not Unknown"):
                            self.line("continue")
                        self.slow_emit(str(i), c, frame)
                        self.line("continue")
                    i += 1
                    continue
                if run_wheres == 0:
                    pending = self.temp("p")
                    self.line(f"{pending} = None")
                run_wheres += 1
                c = self.expr(step.cond, scope)
                with self.block(f"if {c} is not True"):
                    with self.block(f"if {c}.__class__ is not Unknown"):
                        self.line("continue")
                    with self.block(f"if {pending} is None"):
                        self.line(f"{pending} = ({i}, {c})")
                i += 1
                continue
            if isinstance(step, ast.Let):
                local = self.expr(step.value, scope)  # temps are assigned once per item: no copy
                scope = {**scope, step.name: _Var(local, self.cp.scope[step.name])}
                frame = _Frame(scope, frame.target, frame.root, frame.items)
                i += 1
                continue
            if pending is not None:
                self.flush(pending, frame)
                pending, run_wheres = None, 0
            if isinstance(step, ast.ForEach):
                coll = self.assign(f"iterate({self.expr(step.source, scope)})")
                with self.block(f"if {coll}.__class__ is Unknown"):
                    self.slow_emit(str(i), coll, frame)
                    self.line("continue")
                var = _Var(self.temp("v"), self.cp.scope[step.var])
                with self.block(f"for {var.local} in {coll}"):
                    inner = _Frame(
                        {**scope, step.var: var}, frame.target, frame.root, [*frame.items, var.local]
                    )
                    self.steps_(i + 1, end, inner)
                return
            if isinstance(step, ast.Require):
                self.decide(i, frame)
                return
            if isinstance(step, ast.GroupBy):
                self.collect(step, frame)
                return
            i += 1  # the message
        if pending is not None:
            self.flush(pending, frame)

    def flush(self, pending: str, frame: _Frame) -> None:
        with self.block(f"if {pending} is not None"):
            self.slow_emit(f"{pending}[0]", f"{pending}[1]", frame)
            self.line("continue")

    def collect(self, group: ast.GroupBy, frame: _Frame) -> None:
        innermost = frame.items[-1] if frame.items else frame.root
        assert innermost is not None
        k = self.expr(group.key, frame.scope)
        with self.block(f"if {k}.__class__ is Unknown"):  # which group it belongs to cannot be known
            self.slow_emit(str(self.group_at), k, frame)
            self.line("continue")
        gk, g = self.temp(), self.temp()
        self.line(f"{gk} = {k} if {k}.__class__ is str else group_key({k})")
        self.line(f"{g} = groups.get({gk})")
        with self.block(f"if {g} is None"):
            self.line(f"groups[{gk}] = ({k}, [{innermost}])")
        with self.block("else"):
            self.line(f"{g}[1].append({innermost})")

    def decide(self, i: int, frame: _Frame) -> None:
        """The `require`s from ``i`` on: the first false one is the violation; else the first
        unknown one is reported."""
        positions = [j for j in range(i, len(self.steps)) if isinstance(self.steps[j], ast.Require)]
        unknown = self.temp("u")
        if len(positions) > 1:
            self.line(f"{unknown} = None")
        for n, j in enumerate(positions):
            req = self.steps[j]
            assert isinstance(req, ast.Require)
            v = self.expr(req.cond, frame.scope)
            with self.block(f"if {v} is not True"):
                with self.block(f"if {v}.__class__ is not Unknown"):
                    self.violation(j, frame)
                    self.line("continue")
                if len(positions) == 1:
                    self.slow_emit(str(j), v, frame)
                elif n == 0:
                    self.line(f"{unknown} = ({j}, {v})")
                else:
                    with self.block(f"if {unknown} is None"):
                        self.line(f"{unknown} = ({j}, {v})")
        if len(positions) > 1:
            with self.block(f"if {unknown} is not None"):
                self.slow_emit(f"{unknown}[0]", f"{unknown}[1]", frame)

    # --- findings -----------------------------------------------------------------------

    def store(self, frame: _Frame) -> None:
        """Bound names into their slots: evidence and undecided messages are closures over env."""
        for var in frame.scope.values():
            if var.slot is not None and not var.free:
                self.line(f"env[{var.slot}] = {var.local}")

    def items(self, frame: _Frame) -> str:
        return "[" + ", ".join(f"item_label({x})" for x in frame.items) + "]"

    def slow_emit(self, position: str, unknown: str, frame: _Frame) -> None:
        """An undecided finding: the closure policy's ``_emit`` builds it."""
        self.store(frame)
        self.line(f"emit({position}, env, {frame.target}, {self.items(frame)}, findings, {unknown})")

    def violation(self, position: int, frame: _Frame) -> None:
        """A violation at ``position``, built here as ``CompiledPolicy._emit`` builds it."""
        self.store(frame)
        if self.message is not None:
            text = self.expr(self.message, frame.scope)
        else:
            step = self.steps[position]
            assert isinstance(step, ast.Require)
            text = self.const(default_message(self.cp.checked, step, None))
        plan = self.cp._plans.get(position)
        evidence = f"lazy({self.const(plan)}, env[:])" if plan else "NO_EVIDENCE"
        item = f"{self.const('/')}.join({self.items(frame)}) or None" if frame.items else "None"
        root = frame.root if frame.root is not None else "None"
        outcome = self.const("violation")
        if self.layout is None:
            self.line(
                f"findings.append(new_finding(Finding, ({outcome}, {frame.target}, {item}, {text}, "
                f"{evidence}, None, {root})))"
            )
            return
        facts = self.facts(self.layout, frame.root)
        row = [*self._head, outcome, frame.target, item, text, evidence, "None", *facts, *self._tail]
        self.line(f"findings.append(new_finding({self.const(self.layout.cls)}, ({', '.join(row)},)))")

    def facts(self, layout: RowLayout, root: str | None) -> list[str]:
        """The layout's facts of the root item, as locals (all None for a group's finding)."""
        if root is None or not layout.facts:
            return ["None"] * len(layout.facts)
        names = [self.temp() for _ in layout.facts]
        with self.block(f"if {root}.__class__ is {self.const(layout.record)}"):
            for name, (attr, strings) in zip(names, layout.facts, strict=True):
                self.line(f"{name} = {root}.{attr}")
                if strings:
                    with self.block(f"if {name}.__class__ is not str"):
                        self.line(f"{name} = None")
        with self.block("else"):
            self.line(" = ".join(names) + " = None")
        return names
