"""Step three: the type checker.

It checks every expression against the schema (the fact model and the
catalogues), every parameter against its declared type, and every policy's
metadata; it collects all diagnostics instead of stopping at the first, and
returns new, type-annotated policies. A sub-expression that failed to check
gets the ``error`` type, which fits everywhere, so one typo gives one error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from regie.dsl import ast
from regie.dsl.builtins import BUILTINS, compile_regex, glob_to_regex
from regie.dsl.diagnostics import Diagnostic, did_you_mean
from regie.dsl.meta import PolicyMeta, read_meta
from regie.dsl.source import Span
from regie.dsl.types import (
    ANY,
    BOOL,
    ERROR,
    FLOAT,
    INT,
    NULL,
    STR,
    ListType,
    MapType,
    RecordType,
    Schema,
    SetType,
    Type,
    assignable,
    element_type,
    is_numeric,
    join,
)

_E = TypeVar("_E", bound=ast.Expr)

__all__ = ["CheckedPolicy", "Selector", "check_policy", "conforms", "is_constant", "resolve_type"]

_CONDITION_TYPES = (BOOL, ANY, ERROR, NULL)
_SCALARS = (STR, INT, FLOAT, BOOL, ANY, ERROR, NULL)


@dataclass(frozen=True, slots=True)
class Selector:
    """Which resources a policy can apply to, read from its ``where`` clauses (None: any)."""

    kinds: frozenset[str] | None = None
    types: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class CheckedPolicy:
    """A policy that parsed and checked: annotated AST, metadata, parameter types and defaults."""

    policy: ast.Policy
    meta: PolicyMeta
    param_types: Mapping[str, Type]
    param_defaults: Mapping[str, ast.Expr | None]
    root: str
    selector: Selector

    @property
    def id(self) -> str:
        return self.policy.id


def check_policy(policy: ast.Policy, schema: Schema) -> CheckedPolicy | list[Diagnostic]:
    """Check one policy; the checked policy, or every diagnostic found.

    >>> from regie.dsl.build import parse_module
    >>> from regie.dsl.source import Source
    >>> schema = Schema({"resources": ListType(RecordType("Resource", (("id", STR),)))})
    >>> text = 'policy p { title "t" source "s" for r in resources require r.idd != null }'
    >>> m = parse_module(Source("p.regie", text))
    >>> [d.message for d in check_policy(m.items[0], schema)]
    ['`Resource` has no field `idd`']
    """
    checker = _Checker(schema)
    meta, diags = read_meta(policy)
    checked = checker.policy(policy)
    diags.extend(checker.diags)
    if diags:
        return sorted(diags, key=Diagnostic.sort_key)
    return CheckedPolicy(
        policy=checked,
        meta=meta,
        param_types=checker.param_types,
        param_defaults={p.name: p.default for p in checked.params},
        root=checker.root,
        selector=_selector(checked),
    )


def resolve_type(texpr: ast.TypeExpr) -> Type | Diagnostic:
    """A declared parameter type (``set[str]``) as a :class:`Type`."""
    simple = {"str": STR, "int": INT, "float": FLOAT, "bool": BOOL, "any": ANY}
    if texpr.name in simple:
        if texpr.args:
            return Diagnostic("REG-T003", f"`{texpr.name}` takes no type arguments", texpr.span)
        return simple[texpr.name]
    arity = {"list": 1, "set": 1, "map": 2}
    if texpr.name not in arity:
        names = [*simple, *arity]
        return Diagnostic(
            "REG-T003",
            f"unknown type `{texpr.name}`",
            texpr.span,
            help=did_you_mean(texpr.name, names) or f"types are {', '.join(names)}",
        )
    if len(texpr.args) != arity[texpr.name]:
        want = "one type" if arity[texpr.name] == 1 else "two types"
        return Diagnostic(
            "REG-T003",
            f"`{texpr.name}` takes {want} in brackets",
            texpr.span,
            help="for example `set[str]` or `map[str, float]`",
        )
    args = []
    for a in texpr.args:
        t = resolve_type(a)
        if isinstance(t, Diagnostic):
            return t
        args.append(t)
    if texpr.name == "list":
        return ListType(args[0])
    if texpr.name == "set":
        return SetType(args[0])
    return MapType(args[0], args[1])


def conforms(value: Any, ty: Type) -> bool:
    """Whether a runtime value (from configuration or a test) fits a declared type.

    >>> conforms(frozenset({"a"}), SetType(STR)), conforms([1, "a"], ListType(INT))
    (True, False)
    """
    if value is None or ty in (ANY, ERROR):
        return True
    if ty == STR:
        return isinstance(value, str)
    if ty == BOOL:
        return isinstance(value, bool)
    if ty == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if ty == FLOAT:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(ty, ListType | SetType):
        return isinstance(value, list | tuple | frozenset | set) and all(conforms(v, ty.elem) for v in value)
    if isinstance(ty, MapType):
        return isinstance(value, dict) and all(
            conforms(k, ty.key) and conforms(v, ty.value) for k, v in value.items()
        )
    return False


class _Checker:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.diags: list[Diagnostic] = []
        self.param_types: dict[str, Type] = {}
        self.root = ""
        #: Names that ended at `group by`, and the name of the members list that replaced them.
        self.ended: dict[str, str] = {}

    def error(self, code: str, message: str, span: Span, help: str | None = None) -> Type:
        self.diags.append(Diagnostic(code, message, span, help=help))
        return ERROR

    # --- policies --------------------------------------------------------------------

    def policy(self, policy: ast.Policy) -> ast.Policy:
        scope: dict[str, Type] = dict(self.schema.globals)
        params = []
        for p in policy.params:
            params.append(self.param(p, scope))
        steps = self.steps(policy.steps, scope)
        return dataclasses.replace(policy, params=tuple(params), steps=steps)

    def param(self, p: ast.Param, scope: dict[str, Type]) -> ast.Param:
        declared = resolve_type(p.type)
        if isinstance(declared, Diagnostic):
            self.diags.append(declared)
            declared = ERROR
        if p.name in self.param_types:
            self.error("REG-P005", f"parameter `{p.name}` is declared twice", p.span)
        elif p.name in scope:
            self.error(
                "REG-P005",
                f"parameter `{p.name}` hides the global `{p.name}`",
                p.span,
                help="choose another name",
            )
        default = p.default
        if default is not None and not is_constant(default):
            self.error(
                "REG-T007",
                "a parameter default must be a constant",
                default.span,
                help="use literals: numbers, strings, lists, sets and maps of them",
            )
            default = None
        elif default is not None:
            if isinstance(default, ast.MapLit) and not default.entries and isinstance(declared, SetType):
                default = ast.SetLit(items=(), span=default.span)  # `{}` is also the empty set
            default = self.expr(default, {})
            if isinstance(default, ast.ListLit | ast.SetLit) and not default.items:
                default = dataclasses.replace(default, ty=declared)
            if not assignable(default.ty or ERROR, declared):
                self.error(
                    "REG-T007",
                    f"default of `{p.name}` is `{default.ty}`, expected `{declared}`",
                    default.span,
                )
        self.param_types[p.name] = declared
        scope[p.name] = declared
        return dataclasses.replace(p, default=default)

    def steps(self, steps: Iterable[ast.Step], scope: dict[str, Type]) -> tuple[ast.Step, ...]:
        out: list[ast.Step] = []
        scope = dict(scope)
        local: list[str] = []
        grouped = False
        for i, step in enumerate(steps):
            if isinstance(step, ast.ForEach):
                source = self.expr(step.source, scope)
                if i == 0:
                    if not (isinstance(source, ast.Ref) and source.name in self.schema.roots):
                        roots = ", ".join(f"`{r}`" for r in sorted(self.schema.roots))
                        self.error(
                            "REG-T003",
                            "a policy starts by iterating a root collection",
                            source.span,
                            help=f"for example `for r in resources`; roots are {roots}",
                        )
                    else:
                        self.root = source.name
                elem = element_type(source.ty or ERROR)
                if elem is None:
                    self.error(
                        "REG-T003",
                        f"cannot iterate over `{source.ty}`",
                        source.span,
                        help="`for` walks a list, a set, or the keys of a map",
                    )
                    elem = ERROR
                self.bind(step.var, elem, scope, local, step.span)
                out.append(dataclasses.replace(step, source=source))
            elif isinstance(step, (ast.Where, ast.Require)):
                out.append(dataclasses.replace(step, cond=self.condition(step.cond, scope)))
            elif isinstance(step, ast.Let):
                value = self.expr(step.value, scope)
                self.bind(step.name, value.ty or ERROR, scope, local, step.span)
                out.append(dataclasses.replace(step, value=value))
            elif isinstance(step, ast.GroupBy):
                if grouped:
                    self.error("REG-P005", "a policy groups at most once", step.span)
                grouped = True
                key = self.expr(step.key, scope)
                item_var = next((s.var for s in reversed(out) if isinstance(s, ast.ForEach)), None)
                item_type = scope.get(item_var, ERROR) if item_var else ERROR
                for name in local:  # per-item names end where the groups begin
                    scope.pop(name, None)
                    self.ended[name] = step.members
                local = []
                self.bind(step.name, key.ty or ERROR, scope, local, step.span)
                self.bind(step.members, ListType(item_type), scope, local, step.span)
                out.append(dataclasses.replace(step, key=key))
            elif isinstance(step, ast.Message):
                out.append(dataclasses.replace(step, template=self.template(step.template, scope)))
        return tuple(out)

    def bind(self, name: str, ty: Type, scope: dict[str, Type], local: list[str], span: Span) -> None:
        if name in scope:
            what = (
                "a parameter"
                if name in self.param_types
                else ("a global" if name in self.schema.globals else "a variable")
            )
            self.error("REG-P005", f"`{name}` is already {what}", span, help="choose another name")
        scope[name] = ty
        local.append(name)

    def condition(self, e: ast.Expr, scope: Mapping[str, Type]) -> ast.Expr:
        checked = self.expr(e, scope)
        if checked.ty not in _CONDITION_TYPES:
            self.error(
                "REG-T003",
                f"a condition must be `bool`, got `{checked.ty}`",
                e.span,
                help='compare it, for example `x != null` or `x == "value"`',
            )
        return checked

    def template(self, t: ast.Template, scope: Mapping[str, Type]) -> ast.Template:
        parts = tuple(p if isinstance(p, str) else self.expr(p, scope) for p in t.parts)
        return dataclasses.replace(t, parts=parts, ty=STR)

    # --- expressions -----------------------------------------------------------------

    def expr(self, e: ast.Expr, scope: Mapping[str, Type]) -> ast.Expr:
        method = getattr(self, f"_{type(e).__name__}")
        result: ast.Expr = method(e, scope)
        return result

    def _typed(self, e: _E, ty: Type, **changes: Any) -> _E:
        return dataclasses.replace(e, ty=ty, **changes)

    def _Literal(self, e: ast.Literal, scope: Mapping[str, Type]) -> ast.Expr:
        v = e.value
        ty = (
            NULL
            if v is None
            else BOOL
            if isinstance(v, bool)
            else INT
            if isinstance(v, int)
            else (FLOAT if isinstance(v, float) else STR)
        )
        return self._typed(e, ty)

    def _ListLit(self, e: ast.ListLit, scope: Mapping[str, Type]) -> ast.Expr:
        items = tuple(self.expr(i, scope) for i in e.items)
        return self._typed(e, ListType(self._join_all(items)), items=items)

    def _SetLit(self, e: ast.SetLit, scope: Mapping[str, Type]) -> ast.Expr:
        items = tuple(self.expr(i, scope) for i in e.items)
        elem = self._join_all(items)
        if elem not in _SCALARS:
            self.error(
                "REG-T003",
                f"set items must be strings, numbers or booleans, got `{elem}`",
                e.span,
                help="use a list `[…]` for other values",
            )
            elem = ERROR
        return self._typed(e, SetType(elem), items=items)

    def _MapLit(self, e: ast.MapLit, scope: Mapping[str, Type]) -> ast.Expr:
        entries = tuple((self.expr(k, scope), self.expr(v, scope)) for k, v in e.entries)
        key = self._join_all(k for k, _ in entries)
        if key not in _SCALARS:
            self.error("REG-T003", f"map keys must be strings, numbers or booleans, got `{key}`", e.span)
        value = self._join_all(v for _, v in entries)
        return self._typed(e, MapType(key, value), entries=entries)

    def _join_all(self, items: Iterable[ast.Expr]) -> Type:
        ty: Type | None = None
        for item in items:
            ty = item.ty if ty is None else join(ty, item.ty or ERROR)
        return ANY if ty is None or ty == NULL else ty

    def _Ref(self, e: ast.Ref, scope: Mapping[str, Type]) -> ast.Expr:
        ty = scope.get(e.name)
        if ty is None:
            if e.name in self.ended:
                members = self.ended[e.name]
                return self._typed(
                    e,
                    self.error(
                        "REG-T001",
                        f"`{e.name}` is a per-item name, and those end at `group by`",
                        e.span,
                        help=f"after grouping, walk the group's members: `any(x in {members}: …)`",
                    ),
                )
            hint = did_you_mean(e.name, list(scope))
            if hint is None and e.name in BUILTINS:
                hint = f"`{e.name}` is a function: call it as `{e.name}(…)`"
            return self._typed(e, self.error("REG-T001", f"unknown name `{e.name}`", e.span, help=hint))
        return self._typed(e, ty)

    def _Field(self, e: ast.Field, scope: Mapping[str, Type]) -> ast.Expr:
        obj = self.expr(e.obj, scope)
        ty = obj.ty or ERROR
        result: Type
        if isinstance(ty, RecordType):
            found = ty.field_type(e.name)
            if found is None:
                result = self.error(
                    "REG-T002",
                    f"`{ty.name}` has no field `{e.name}`",
                    _name_span(e),
                    help=did_you_mean(e.name, ty.field_names())
                    or f"fields are {', '.join(ty.field_names())}",
                )
            else:
                result = found
        elif isinstance(ty, MapType) and ty.key in (STR, ANY):
            result = ty.value
        elif ty in (ANY, ERROR):
            result = ty
        else:
            result = self.error(
                "REG-T002",
                f"`{ty}` has no fields",
                _name_span(e),
                help="fields are read from records and maps"
                + ("; use `[…]` for a list position" if isinstance(ty, ListType) else ""),
            )
        return self._typed(e, result, obj=obj)

    def _Index(self, e: ast.Index, scope: Mapping[str, Type]) -> ast.Expr:
        obj = self.expr(e.obj, scope)
        key = self.expr(e.key, scope)
        ty, kty = obj.ty or ERROR, key.ty or ERROR
        result: Type
        if isinstance(ty, MapType):
            if not assignable(kty, ty.key):
                result = self.error("REG-T003", f"key of `{ty}` must be `{ty.key}`, got `{kty}`", key.span)
            else:
                result = ty.value
        elif isinstance(ty, ListType):
            if not assignable(kty, INT):
                result = self.error("REG-T003", f"a list position must be `int`, got `{kty}`", key.span)
            else:
                result = ty.elem
        elif ty in (ANY, ERROR):
            result = ty
        else:
            result = self.error(
                "REG-T003",
                f"cannot index `{ty}`",
                e.span,
                help="`[…]` reads a map by key or a list by position",
            )
        return self._typed(e, result, obj=obj, key=key)

    def _Unary(self, e: ast.Unary, scope: Mapping[str, Type]) -> ast.Expr:
        operand = self.expr(e.operand, scope)
        ty = operand.ty or ERROR
        if e.op == "not":
            if ty not in _CONDITION_TYPES:
                self.error("REG-T003", f"`not` takes a `bool`, got `{ty}`", operand.span)
            return self._typed(e, BOOL, operand=operand)
        if not is_numeric(ty):
            return self._typed(
                e, self.error("REG-T003", f"`-` takes a number, got `{ty}`", operand.span), operand=operand
            )
        return self._typed(e, ty, operand=operand)

    def _Binary(self, e: ast.Binary, scope: Mapping[str, Type]) -> ast.Expr:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        lt, rt = left.ty or ERROR, right.ty or ERROR
        result: Type
        if ERROR in (lt, rt):
            result = ERROR
        elif e.op == "+" and lt == rt and (lt == STR or isinstance(lt, ListType)):
            result = lt
        elif (
            e.op == "+"
            and ANY in (lt, rt)
            and (STR in (lt, rt) or isinstance(lt, ListType) or isinstance(rt, ListType))
        ):
            result = ANY  # native data joined with text or a list: decided at run time
        elif is_numeric(lt) and is_numeric(rt):
            if ANY in (lt, rt):
                result = ANY
            elif e.op == "/" or FLOAT in (lt, rt):
                result = FLOAT
            else:
                result = INT
        else:
            result = self.error(
                "REG-T003",
                f"`{e.op}` does not apply to `{lt}` and `{rt}`",
                e.span,
                help="arithmetic takes numbers; `+` also joins two strings or two lists",
            )
        return self._typed(e, result, left=left, right=right)

    def _Compare(self, e: ast.Compare, scope: Mapping[str, Type]) -> ast.Expr:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        lt, rt = left.ty or ERROR, right.ty or ERROR
        if ERROR in (lt, rt):
            pass
        elif e.op in ("==", "!="):
            if not (assignable(lt, rt) or assignable(rt, lt)):
                self.error(
                    "REG-T003",
                    f"comparing `{lt}` with `{rt}` is always {'false' if e.op == '==' else 'true'}",
                    e.span,
                    help=_compare_help(left, right),
                )
        elif e.op in ("<", "<=", ">", ">="):
            if not ((is_numeric(lt) and is_numeric(rt)) or (assignable(lt, STR) and assignable(rt, STR))):
                self.error(
                    "REG-T003", f"`{e.op}` compares two numbers or two strings, got `{lt}` and `{rt}`", e.span
                )
        else:
            if rt == STR:
                if not assignable(lt, STR):
                    self.error(
                        "REG-T003", f"`{e.op}` on a string looks for a substring, got `{lt}`", left.span
                    )
            else:
                elem = element_type(rt)
                if elem is None:
                    self.error(
                        "REG-T003",
                        f"`{e.op}` needs a collection on the right, got `{rt}`",
                        right.span,
                        help="a list, a set, a map (its keys) or a string",
                    )
                elif not (assignable(lt, elem) or assignable(elem, lt)):
                    self.error("REG-T003", f"`{lt}` can never be in `{rt}`", e.span)
        return self._typed(e, BOOL, left=left, right=right)

    def _Logical(self, e: ast.Logical, scope: Mapping[str, Type]) -> ast.Expr:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        for side in (left, right):
            if side.ty not in _CONDITION_TYPES:
                self.error(
                    "REG-T003",
                    f"`{e.op}` takes `bool` operands, got `{side.ty}`",
                    side.span,
                    help="compare it, for example `x != null`",
                )
        return self._typed(e, BOOL, left=left, right=right)

    def _Coalesce(self, e: ast.Coalesce, scope: Mapping[str, Type]) -> ast.Expr:
        left, right = self.expr(e.left, scope), self.expr(e.right, scope)
        lt, rt = left.ty or ERROR, right.ty or ERROR
        if not (assignable(rt, lt) or assignable(lt, rt)):
            self.error("REG-T003", f"`??` default is `{rt}`, but the value is `{lt}`", right.span)
        return self._typed(e, join(lt, rt), left=left, right=right)

    def _Call(self, e: ast.Call, scope: Mapping[str, Type]) -> ast.Expr:
        args = tuple(self.expr(a, scope) for a in e.args)
        builtin = BUILTINS.get(e.name)
        if builtin is None:
            if e.name in ast.AGGREGATES:
                result = self.error(
                    "REG-T004",
                    f"`{e.name}` takes a collection, or `x in xs: …`",
                    e.span,
                    help=f"for example `{e.name}(x in xs: …)`",
                )
            else:
                hint = did_you_mean(e.name, [*BUILTINS, *ast.AGGREGATES])
                result = self.error("REG-T005", f"unknown function `{e.name}`", _call_name_span(e), help=hint)
            return self._typed(e, result, args=args)
        if any(a.ty == ERROR for a in args):
            return self._typed(e, ERROR, args=args)
        rule = builtin.type_rule([a.ty or ERROR for a in args])
        if isinstance(rule, str):
            return self._typed(
                e, self.error("REG-T004", f"`{e.name}` {rule}", e.span, help=builtin.signature), args=args
            )
        for i in builtin.pattern_args:
            arg = args[i]
            if isinstance(arg, ast.Literal) and isinstance(arg.value, str):
                pattern = glob_to_regex(arg.value) if e.name == "glob" else arg.value
                try:
                    compile_regex(pattern)
                except ValueError as err:
                    self.error(
                        "REG-T006",
                        f"invalid {'glob' if e.name == 'glob' else 'regular expression'}: {err}",
                        arg.span,
                        help="globs know `*`, `?` and `[…]`"
                        if e.name == "glob"
                        else "patterns use RE2 syntax (no backreferences or lookaround)",
                    )
        return self._typed(e, rule, args=args)

    def _Aggregate(self, e: ast.Aggregate, scope: Mapping[str, Type]) -> ast.Expr:
        if e.func not in ast.AGGREGATES:
            # `f(x in xs: …)` parses for any name; only aggregates bind a variable.
            name_span = Span(e.span.source, e.span.start, e.span.start + len(e.func))
            if e.func in BUILTINS:
                misuse = self.error(
                    "REG-T004",
                    f"`{e.func}` does not bind a variable",
                    e.span,
                    help=BUILTINS[e.func].signature,
                )
            else:
                misuse = self.error(
                    "REG-T005",
                    f"unknown function `{e.func}`",
                    name_span,
                    help=did_you_mean(e.func, sorted(ast.AGGREGATES)),
                )
            return self._typed(e, misuse)
        coll = self.expr(e.collection, scope)
        elem = element_type(coll.ty or ERROR)
        if elem is None:
            self.error("REG-T003", f"`{e.func}` needs a collection, got `{coll.ty}`", coll.span)
            elem = ERROR
        body: ast.Expr | None = None
        value_type = elem
        if e.var is not None and e.body is not None:
            if e.var in scope:
                self.error("REG-P005", f"`{e.var}` is already defined", e.span, help="choose another name")
            inner = {**scope, e.var: elem}
            body = self.expr(e.body, inner)
            value_type = body.ty or ERROR
        func = e.func
        result: Type
        if func in ("any", "all", "count", "share"):
            if value_type not in _CONDITION_TYPES and not (func == "count" and e.var is None):
                self.error(
                    "REG-T003",
                    f"`{func}` needs a condition, got `{value_type}`",
                    (body or coll).span,
                    help=f"for example `{func}(x in xs: x.vital)`",
                )
            result = {"any": BOOL, "all": BOOL, "count": INT, "share": FLOAT}[func]
        elif func == "sum":
            if not is_numeric(value_type):
                self.error("REG-T003", f"`sum` adds numbers, got `{value_type}`", (body or coll).span)
            result = value_type if value_type in (INT, FLOAT) else ANY
        else:  # min, max, most_common
            if func in ("min", "max") and value_type not in (INT, FLOAT, STR, ANY, ERROR):
                self.error(
                    "REG-T003",
                    f"`{func}` compares numbers or strings, got `{value_type}`",
                    (body or coll).span,
                )
            result = value_type
        return self._typed(e, result, collection=coll, body=body)

    def _Template(self, e: ast.Template, scope: Mapping[str, Type]) -> ast.Expr:
        return self.template(e, scope)


def _name_span(e: ast.Field) -> Span:
    """The span of the field name after the dot, for a caret under the typo."""
    end = e.span.end
    return Span(e.span.source, max(e.span.start, end - len(e.name)), end)


def _call_name_span(e: ast.Call) -> Span:
    return Span(e.span.source, e.span.start, e.span.start + len(e.name))


def _compare_help(left: ast.Expr, right: ast.Expr) -> str | None:
    for side in (left, right):
        if isinstance(side, ast.Literal) and isinstance(side.value, str) and side.value in ("true", "false"):
            return f'`"{side.value}"` is a string; write `{side.value}` without quotes for the boolean'
    return None


def is_constant(e: ast.Expr) -> bool:
    """Whether an expression is a literal, or a list, set or map of literals (parameter values, tests)."""
    if isinstance(e, ast.Literal):
        return True
    if isinstance(e, ast.ListLit | ast.SetLit):
        return all(is_constant(i) for i in e.items)
    if isinstance(e, ast.MapLit):
        return all(is_constant(k) and is_constant(v) for k, v in e.entries)
    if isinstance(e, ast.Unary) and e.op == "-":
        return is_constant(e.operand)
    return False


def _selector(policy: ast.Policy) -> Selector:
    """Kinds and types a policy can apply to, from ``where`` conjuncts on the root variable.

    Only ``where`` clauses before anything that could change the item (a nested
    ``for``, a ``group by``) count. This narrows which resources are tried; the
    clauses are still evaluated, so a conservative answer is always correct.
    """
    first = policy.steps[0]
    if not isinstance(first, ast.ForEach):
        return Selector()
    var = first.var
    kinds: frozenset[str] | None = None
    types: frozenset[str] | None = None
    for step in policy.steps[1:]:
        if isinstance(step, ast.Let):
            continue
        if not isinstance(step, ast.Where):
            break
        for conj in _conjuncts(step.cond):
            found = _field_values(conj, var)
            if found is None:
                continue
            name, values = found
            if name == "kind":
                kinds = values if kinds is None else kinds & values
            else:
                types = values if types is None else types & values
    return Selector(kinds=kinds, types=types)


def _conjuncts(e: ast.Expr) -> list[ast.Expr]:
    if isinstance(e, ast.Logical) and e.op == "and":
        return _conjuncts(e.left) + _conjuncts(e.right)
    return [e]


def _field_values(e: ast.Expr, var: str) -> tuple[str, frozenset[str]] | None:
    if not isinstance(e, ast.Compare) or e.op not in ("==", "in"):
        return None
    left = e.left
    if not (
        isinstance(left, ast.Field)
        and left.name in ("kind", "type")
        and isinstance(left.obj, ast.Ref)
        and left.obj.name == var
    ):
        return None
    right = e.right
    if e.op == "==" and isinstance(right, ast.Literal) and isinstance(right.value, str):
        return left.name, frozenset({right.value})
    if e.op == "in" and isinstance(right, ast.ListLit | ast.SetLit):
        values = [i.value for i in right.items if isinstance(i, ast.Literal)]
        if len(values) == len(right.items) and all(isinstance(v, str) for v in values):
            return left.name, frozenset(v for v in values if isinstance(v, str))
    return None
