"""The typed syntax tree of Regie policy files.

Nodes are frozen, slotted, keyword-only dataclasses. Children are tuples.
``span`` (where the node came from) and ``ty`` (its type, filled in by the
checker) take no part in equality, so two trees parsed from differently laid
out text compare equal: ``parse(fmt(x)) == parse(x)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal as TLiteral
from typing import TypeAlias

from regie.dsl.source import NO_SPAN, Span
from regie.dsl.types import Type

__all__ = [
    "AGGREGATES",
    "Aggregate",
    "Binary",
    "Call",
    "Coalesce",
    "Comment",
    "Compare",
    "Expect",
    "Expr",
    "Field",
    "ForEach",
    "Given",
    "GroupBy",
    "Index",
    "Item",
    "Let",
    "ListLit",
    "Literal",
    "Logical",
    "MapLit",
    "Message",
    "Meta",
    "MetaValue",
    "Module",
    "Param",
    "Policy",
    "Ref",
    "Require",
    "SetLit",
    "Step",
    "Template",
    "TestBlock",
    "TypeExpr",
    "Unary",
    "Where",
]

Scalar: TypeAlias = str | int | float | bool | None

#: Functions that bind a variable over a collection: ``count(x in xs: x.vital)``.
AGGREGATES = frozenset({"any", "all", "count", "sum", "min", "max", "share", "most_common"})


# --- expressions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Literal:
    value: Scalar
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListLit:
    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class SetLit:
    items: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MapLit:
    entries: tuple[tuple[Expr, Expr], ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ref:
    """A name: a loop variable, a ``let``, a parameter or a global (``resources``, a catalogue)."""

    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """``obj.name``; null-safe: a field of null is null."""

    obj: Expr
    name: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Index:
    """``obj[key]``; null when the key is absent (catalogue lookups)."""

    obj: Expr
    key: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Unary:
    op: TLiteral["not", "-"]
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Binary:
    op: TLiteral["+", "-", "*", "/", "%"]
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


CompareOp: TypeAlias = TLiteral["==", "!=", "<", "<=", ">", ">=", "in", "not in"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Compare:
    op: CompareOp
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Logical:
    """``and`` / ``or``: short-circuiting, three-valued (Kleene) over unknown."""

    op: TLiteral["and", "or"]
    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Coalesce:
    """``left ?? right``: right when left is null (not when it is unknown)."""

    left: Expr
    right: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Call:
    """A built-in function; there is no way to call anything else."""

    name: str
    args: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Aggregate:
    """``func(var in collection: body)``, or ``func(collection)`` with ``var`` None."""

    func: str
    var: str | None
    collection: Expr
    body: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Template:
    """A message: text with ``{expr}`` holes."""

    parts: tuple[str | Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    ty: Type | None = field(default=None, compare=False, repr=False)


Expr: TypeAlias = (
    Literal
    | ListLit
    | SetLit
    | MapLit
    | Ref
    | Field
    | Index
    | Unary
    | Binary
    | Compare
    | Logical
    | Coalesce
    | Call
    | Aggregate
    | Template
)

# --- policies --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class MetaValue:
    text: str
    quoted: bool
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Meta:
    """A metadata line: ``severity high``, ``title.en "…"``, ``requirement "CLOUD-01", "CSBN-01"``."""

    key: str
    values: tuple[MetaValue, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeExpr:
    name: str
    args: tuple[TypeExpr, ...] = ()
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Param:
    name: str
    type: TypeExpr
    default: Expr | None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ForEach:
    """``for var in source``: the first step of every policy, and nested iteration after it."""

    var: str
    source: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Where:
    cond: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Let:
    name: str
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupBy:
    """``group by key as name into members``: one finding per failing group."""

    key: Expr
    name: str
    members: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Require:
    cond: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    template: Template
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


Step: TypeAlias = ForEach | Where | Let | GroupBy | Require | Message


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    id: str
    meta: tuple[Meta, ...]
    params: tuple[Param, ...]
    steps: tuple[Step, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
    id_span: Span = field(default=NO_SPAN, compare=False, repr=False)


# --- tests -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Given:
    """A test's input: ``given resources [...]``, ``given param p.id.name = v``,
    ``given catalog name {...}`` or ``given today "…"``."""

    what: TLiteral["resources", "param", "catalog", "today"]
    name: str | None
    value: Expr
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Expect:
    """``expect [no] violation|unknown [POLICY] [on "resource"]``, or ``expect N violations [POLICY]``."""

    outcome: TLiteral["violation", "unknown"]
    negated: bool
    policy: str | None
    resource: str | None
    count: int | None = None
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TestBlock:
    name: str
    givens: tuple[Given, ...]
    expects: tuple[Expect, ...]
    span: Span = field(default=NO_SPAN, compare=False, repr=False)

    __test__ = False  # not a pytest class


Item: TypeAlias = Policy | TestBlock


@dataclass(frozen=True, slots=True, kw_only=True)
class Comment:
    text: str
    span: Span = field(default=NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Module:
    """One ``.regie`` file."""

    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    span: Span = field(default=NO_SPAN, compare=False, repr=False)
