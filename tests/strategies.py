"""Hypothesis strategies for random, syntactically valid Regie syntax trees.

Every tree drawn here is one the parser can produce, so ``parse(fmt(tree)) ==
tree`` must hold; the trees carry no spans. They are random in *syntax* only:
names are not bound, types do not match. Use them for the formatter, the parser,
and as the raw material of checker or evaluator properties (filter or map them
into shape there).

What the parser cannot produce, and these strategies therefore never draw:

- ``Unary("-", Literal(<number>))``: the builder folds ``-1`` into ``Literal(-1)``;
- a one-argument ``Call`` of an aggregate name: ``count(xs)`` is an ``Aggregate``;
- a ``Ref`` as a map key: ``{a: 1}`` has the string key ``"a"``;
- an empty ``SetLit``: ``{}`` is an empty map;
- NaN or infinite numbers (``1e999`` would parse as infinity, but nothing needs it);
- templates anywhere but in ``message``, adjacent text parts, or empty text parts;
- map or set literals inside a message hole: the STRING terminal cannot hold
  braces in a ``{…}`` hole (``message "{f({"a"}, "b")}"`` does not lex).
"""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import strategies as st

from regie.dsl import ast

__all__ = [
    "KEYWORDS",
    "dotted_names",
    "expressions",
    "literals",
    "modules",
    "names",
    "policies",
    "policy_tests",
    "strings",
    "templates",
    "types",
]

#: Every word the grammar spells out (read from the grammar). Names drawn here avoid all
#: of them, although the contextual lexer lets most of them through where no keyword can stand.
KEYWORDS = frozenset(
    word
    for line in Path(ast.__file__).with_name("grammar.lark").read_text(encoding="utf-8").splitlines()
    if not line.lstrip().startswith("//")
    for word in re.findall(r'"([a-z]+)"', line)
)

_FIRST = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
_REST = _FIRST + "0123456789"
_NAMES = ("r", "x", "rs", "p", "id", "kind", "provider", "max_share", "_x1", "eu", "providers", "levels")
_FUNCTIONS = ("lower", "upper", "len", "startswith", "matches", "string", "percent", "known", "days_since")
# Characters that string escaping and the lexer treat specially.
_TRICKY = ("{", "}", "{}", "{3}", '"', '"}"', "\\", "#", "é", "👍")
_CONTROL = ("\n", "\t", "\r", "\x00", "\x1b", "\x7f", "\u2028")


def names() -> st.SearchStrategy[str]:
    """Identifiers that are not keywords: ``r``, ``max_share``, ``_x1``."""
    made = st.tuples(st.sampled_from(_FIRST), st.text(_REST, max_size=7)).map("".join)
    return st.one_of(st.sampled_from(_NAMES), made.filter(lambda n: n not in KEYWORDS))


def dotted_names(max_parts: int = 3) -> st.SearchStrategy[str]:
    """Policy ids and metadata keys: ``cloud.jurisdiction.classified_data``."""
    return st.lists(names(), min_size=1, max_size=max_parts).map(".".join)


def strings(max_size: int = 10) -> st.SearchStrategy[str]:
    """Text, heavy on the characters that escaping and brace handling must get right."""
    piece = st.one_of(st.sampled_from(_TRICKY + _CONTROL), st.characters(), st.characters(codec="ascii"))
    return st.lists(piece, max_size=max_size).map("".join)


def literals() -> st.SearchStrategy[ast.Literal]:
    """``null``, booleans, integers (negative ones too), finite floats and strings."""
    values: st.SearchStrategy[ast.Scalar] = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**12), max_value=10**21),
        st.floats(allow_nan=False, allow_infinity=False),
        strings(),
    )
    return st.builds(ast.Literal, value=values)


def expressions(*, max_leaves: int = 12, braces: bool = True) -> st.SearchStrategy[ast.Expr]:
    """Any expression but a template; ``braces=False`` leaves out map and set literals."""
    field_names = st.one_of(names(), st.sampled_from(sorted(KEYWORDS)))  # `x.in` is a field
    leaves = st.one_of(literals(), st.builds(ast.Ref, name=names()))

    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        items = st.lists(children, max_size=4).map(tuple)
        compounds: list[st.SearchStrategy[ast.Expr]] = [
            st.builds(ast.ListLit, items=items),
            st.builds(ast.Field, obj=children, name=field_names),
            st.builds(ast.Index, obj=children, key=children),
            st.builds(ast.Unary, op=st.just("not"), operand=children),
            st.builds(ast.Unary, op=st.just("-"), operand=children.filter(_not_a_number)),
            st.builds(
                ast.Binary, op=st.sampled_from(["+", "-", "*", "/", "%"]), left=children, right=children
            ),
            st.builds(
                ast.Compare,
                op=st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "not in"]),
                left=children,
                right=children,
            ),
            st.builds(ast.Logical, op=st.sampled_from(["and", "or"]), left=children, right=children),
            st.builds(ast.Coalesce, left=children, right=children),
            st.builds(ast.Call, name=st.one_of(st.sampled_from(_FUNCTIONS), names()), args=items).filter(
                lambda c: not (c.name in ast.AGGREGATES and len(c.args) == 1)
            ),
            st.builds(
                ast.Aggregate,
                func=st.sampled_from(sorted(ast.AGGREGATES)),
                var=names(),
                collection=children,
                body=children,
            ),
            st.builds(
                ast.Aggregate,
                func=st.sampled_from(sorted(ast.AGGREGATES)),
                var=st.none(),
                collection=children,
                body=st.none(),
            ),
        ]
        if braces:
            keys = st.one_of(
                st.builds(
                    ast.Literal, value=st.one_of(names(), strings(), st.sampled_from(sorted(KEYWORDS)))
                ),
                children.filter(lambda e: not isinstance(e, ast.Ref)),
            )
            compounds += [
                st.builds(ast.SetLit, items=st.lists(children, min_size=1, max_size=4).map(tuple)),
                st.builds(ast.MapLit, entries=st.lists(st.tuples(keys, children), max_size=4).map(tuple)),
            ]
        return st.one_of(compounds)

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def _not_a_number(expr: ast.Expr) -> bool:
    return not (isinstance(expr, ast.Literal) and type(expr.value) in (int, float))


def templates(max_parts: int = 5) -> st.SearchStrategy[ast.Template]:
    """Messages: text and ``{expr}`` holes, as the builder splits them."""
    part = st.one_of(strings().filter(bool), expressions(max_leaves=4, braces=False))
    return st.lists(part, max_size=max_parts).map(lambda parts: ast.Template(parts=_merge_text(parts)))


def _merge_text(parts: list[str | ast.Expr]) -> tuple[str | ast.Expr, ...]:
    out: list[str | ast.Expr] = []
    for part in parts:
        if isinstance(part, str) and out and isinstance(out[-1], str):
            out[-1] += part
        else:
            out.append(part)
    return tuple(out)


def types(max_depth: int = 2) -> st.SearchStrategy[ast.TypeExpr]:
    """Parameter types: ``str``, ``set[str]``, ``map[str, list[int]]`` (and nonsense like ``x[y]``)."""
    simple = st.builds(
        ast.TypeExpr, name=st.one_of(st.sampled_from(["str", "int", "float", "bool", "any"]), names())
    )
    if max_depth <= 0:
        return simple
    args = st.lists(types(max_depth - 1), min_size=1, max_size=2).map(tuple)
    return st.one_of(simple, st.builds(ast.TypeExpr, name=st.sampled_from(["list", "set", "map"]), args=args))


# --- policies and tests ----------------------------------------------------------------

_META_KEYS = ("title", "title.en", "description", "source", "requirement", "severity", "enforce", "tags")


def _meta() -> st.SearchStrategy[ast.Meta]:
    value = st.one_of(
        st.builds(ast.MetaValue, text=strings(), quoted=st.just(True)),
        st.builds(ast.MetaValue, text=names(), quoted=st.just(False)),
        st.builds(
            ast.MetaValue,
            text=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,2})?", fullmatch=True),
            quoted=st.just(False),
        ),
    )
    return st.builds(
        ast.Meta,
        key=st.one_of(st.sampled_from(_META_KEYS), dotted_names(2)),
        values=st.lists(value, min_size=1, max_size=3).map(tuple),
    )


def _param() -> st.SearchStrategy[ast.Param]:
    return st.builds(
        ast.Param, name=names(), type=types(), default=st.one_of(st.none(), expressions(max_leaves=6))
    )


def _steps() -> st.SearchStrategy[tuple[ast.Step, ...]]:
    expr = expressions(max_leaves=6)
    for_each = st.builds(ast.ForEach, var=names(), source=expr)
    middle = st.one_of(
        st.builds(ast.Where, cond=expr),
        st.builds(ast.Let, name=names(), value=expr),
        for_each,
        st.builds(ast.GroupBy, key=expr, name=names(), members=names()),
    )
    requires = st.lists(st.builds(ast.Require, cond=expr), min_size=1, max_size=2)
    message = st.one_of(st.none(), st.builds(ast.Message, template=templates()))
    return st.tuples(for_each, st.lists(middle, max_size=3), requires, message).map(
        lambda t: (t[0], *t[1], *t[2], *([t[3]] if t[3] is not None else []))
    )


def policies() -> st.SearchStrategy[ast.Policy]:
    """A policy: metadata, parameters, and ``for`` … ``require`` … [``message``]."""
    return st.builds(
        ast.Policy,
        id=dotted_names(),
        meta=st.lists(_meta(), max_size=3).map(tuple),
        params=st.lists(_param(), max_size=2).map(tuple),
        steps=_steps(),
    )


def _given() -> st.SearchStrategy[ast.Given]:
    expr = expressions(max_leaves=6)
    return st.one_of(
        st.builds(ast.Given, what=st.just("resources"), name=st.none(), value=expr),
        st.builds(ast.Given, what=st.just("param"), name=dotted_names(4), value=expr),
        st.builds(ast.Given, what=st.just("catalog"), name=names(), value=expr),
        st.builds(
            ast.Given, what=st.just("today"), name=st.none(), value=st.builds(ast.Literal, value=strings())
        ),
    )


def _expect() -> st.SearchStrategy[ast.Expect]:
    outcome = st.sampled_from(["violation", "unknown"])
    policy = st.one_of(st.none(), dotted_names())
    return st.one_of(
        st.builds(
            ast.Expect,
            outcome=outcome,
            negated=st.booleans(),
            policy=policy,
            resource=st.one_of(st.none(), strings()),
        ),
        st.builds(
            ast.Expect,
            outcome=outcome,
            negated=st.just(False),
            policy=policy,
            resource=st.none(),
            count=st.integers(min_value=0, max_value=1000),
        ),
    )


def policy_tests() -> st.SearchStrategy[ast.TestBlock]:
    """A ``test "…" { given … expect … }`` block (not named ``tests``: pytest would collect it)."""
    return st.builds(
        ast.TestBlock,
        name=strings(),
        givens=st.lists(_given(), max_size=3).map(tuple),
        expects=st.lists(_expect(), min_size=1, max_size=3).map(tuple),
    )


def modules(max_items: int = 3) -> st.SearchStrategy[ast.Module]:
    """A file of policies and tests, without comments."""
    items = st.lists(st.one_of(policies(), policy_tests()), max_size=max_items).map(tuple)
    return st.builds(ast.Module, items=items)
