"""The parser and the AST builder: text to `regie.dsl.ast`, and syntax errors to diagnostics.

Expected trees are built by hand; AST equality ignores spans and types, so they
compare equal to parsed trees wherever the text came from. Spans are checked
separately, through ``span.snippet()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from regie.dsl import ast as A
from regie.dsl.build import parse_expr, parse_module
from regie.dsl.diagnostics import Diagnostic, render_all
from regie.dsl.source import Source

# --- helpers -------------------------------------------------------------------------------


def parse(text: str) -> A.Module:
    result = parse_module(Source("p.regie", text))
    assert not isinstance(result, list), render_all(result)
    return result


def expr(text: str) -> A.Expr:
    result = parse_expr(Source("<expr>", text))
    assert not isinstance(result, list), render_all(result)
    return result


def syntax_error(text: str) -> Diagnostic:
    result = parse_module(Source("p.regie", text))
    assert isinstance(result, list), f"expected a syntax error, parsed {result!r}"
    assert len(result) == 1, render_all(result)
    return result[0]


def policy_with(steps: str, head: str = "") -> A.Policy:
    """The one policy of ``policy p { head for r in resources steps }``."""
    module = parse(f"policy p {{\n{head}  for r in resources\n{steps}\n}}\n")
    (item,) = module.items
    assert isinstance(item, A.Policy)
    return item


def message_parts(message: str) -> tuple[str | A.Expr, ...]:
    step = policy_with(f"  require true\n  message {message}").steps[-1]
    assert isinstance(step, A.Message)
    return step.template.parts


def ref(name: str) -> A.Ref:
    return A.Ref(name=name)


def lit(value: Any) -> A.Literal:
    return A.Literal(value=value)


def path(dotted: str) -> A.Expr:
    """``r.a.b`` as nested Field nodes over a Ref."""
    head, *names = dotted.split(".")
    node: A.Expr = ref(head)
    for name in names:
        node = A.Field(obj=node, name=name)
    return node


def cmp(op: A.CompareOp, left: A.Expr, right: A.Expr) -> A.Compare:
    return A.Compare(op=op, left=left, right=right)


def binary(op: Any, left: A.Expr, right: A.Expr) -> A.Binary:
    return A.Binary(op=op, left=left, right=right)


def logical(op: Any, left: A.Expr, right: A.Expr) -> A.Logical:
    return A.Logical(op=op, left=left, right=right)


def not_(operand: A.Expr) -> A.Unary:
    return A.Unary(op="not", operand=operand)


a, b, c, x, y, z = (ref(n) for n in "abcxyz")

# --- expressions ---------------------------------------------------------------------------

EXPRESSIONS: list[tuple[str, A.Expr]] = [
    # literals
    ("42", lit(42)),
    ("1.5", lit(1.5)),
    ("1e3", lit(1000.0)),
    ("1.5e-3", lit(0.0015)),
    ("-7", lit(-7)),  # folded into the literal
    ("-0.25", lit(-0.25)),
    ('"text"', lit("text")),
    ("true", lit(True)),
    ("false", lit(False)),
    ("null", lit(None)),
    # names, fields, indexes, calls
    ("resources", ref("resources")),
    ("r.a.b", path("r.a.b")),
    ('r.labels["team"]', A.Index(obj=path("r.labels"), key=lit("team"))),
    ("a.b[0].c", A.Field(obj=A.Index(obj=path("a.b"), key=lit(0)), name="c")),
    ("len(r.name)", A.Call(name="len", args=(path("r.name"),))),
    ('startswith(r.name, "x")', A.Call(name="startswith", args=(path("r.name"), lit("x")))),
    ("today()", A.Call(name="today", args=())),
    # aggregates: with a bound variable, or over a collection
    (
        "count(x in rs: x.vital)",
        A.Aggregate(func="count", var="x", collection=ref("rs"), body=path("x.vital")),
    ),
    ("count(rs)", A.Aggregate(func="count", var=None, collection=ref("rs"), body=None)),
    (
        "share(x in rs: x.provider == top)",
        A.Aggregate(
            func="share", var="x", collection=ref("rs"), body=cmp("==", path("x.provider"), ref("top"))
        ),
    ),
    # collections
    ("[]", A.ListLit(items=())),
    ("[1, 2,]", A.ListLit(items=(lit(1), lit(2)))),
    ('{"a", "b"}', A.SetLit(items=(lit("a"), lit("b")))),
    ("{1, 2,}", A.SetLit(items=(lit(1), lit(2)))),
    ("{}", A.MapLit(entries=())),
    ('{a: 1, "b": 2}', A.MapLit(entries=((lit("a"), lit(1)), (lit("b"), lit(2))))),  # bare key = string
    ('{"k": [x]}', A.MapLit(entries=((lit("k"), A.ListLit(items=(x,))),))),
    # every comparison operator
    *[(f"a {op} b", cmp(op, a, b)) for op in ("==", "!=", "<", "<=", ">", ">=")],
    ("a in b", cmp("in", a, b)),
    ("a not in b", cmp("not in", a, b)),
    ("(a)", a),
]

PRECEDENCE: list[tuple[str, A.Expr]] = [
    ("a or b and not c", logical("or", a, logical("and", b, not_(c)))),
    ("not a or b", logical("or", not_(a), b)),
    ("(a or b) and c", logical("and", logical("or", a, b), c)),
    ("a and b and c", logical("and", logical("and", a, b), c)),  # left-associative
    ("a or b or c", logical("or", logical("or", a, b), c)),
    ("x ?? y == z", cmp("==", A.Coalesce(left=x, right=y), z)),  # ?? binds tighter than ==
    ("x ?? y ?? z", A.Coalesce(left=x, right=A.Coalesce(left=y, right=z))),  # right-associative
    ("x.a ?? 0 + 1", A.Coalesce(left=path("x.a"), right=binary("+", lit(0), lit(1)))),
    ("a + b * c", binary("+", a, binary("*", b, c))),
    ("a * b + c", binary("+", binary("*", a, b), c)),
    ("a - b - c", binary("-", binary("-", a, b), c)),  # left-associative
    ("a % b / c", binary("/", binary("%", a, b), c)),
    ("(a + b) * c", binary("*", binary("+", a, b), c)),
    ("-x.y", A.Unary(op="-", operand=path("x.y"))),  # postfix binds tighter than unary minus
    ("- -x", A.Unary(op="-", operand=A.Unary(op="-", operand=x))),
    ("-x * y", binary("*", A.Unary(op="-", operand=x), y)),
    ("not a in b", not_(cmp("in", a, b))),  # `not` applies to the whole comparison
    ("not not a", not_(not_(a))),
    ("a + 1 < b * 2", cmp("<", binary("+", a, lit(1)), binary("*", b, lit(2)))),
    ("a == b and c != x", logical("and", cmp("==", a, b), cmp("!=", c, x))),
    ("a in b or c not in x", logical("or", cmp("in", a, b), cmp("not in", c, x))),
]


@pytest.mark.parametrize(("text", "expected"), EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expression_parses_to_the_expected_tree(text: str, expected: A.Expr) -> None:
    assert expr(text) == expected


@pytest.mark.parametrize(("text", "expected"), PRECEDENCE, ids=[t for t, _ in PRECEDENCE])
def test_precedence_and_associativity(text: str, expected: A.Expr) -> None:
    assert expr(text) == expected


def test_comparisons_do_not_chain() -> None:
    diag = syntax_error("policy p {\n  for r in resources\n  require a == b == c\n}\n")
    assert diag.code == "REG-P001"
    assert (diag.span.line, diag.span.column, diag.span.snippet()) == (3, 18, "==")


def test_ast_equality_ignores_spans() -> None:
    assert expr("a  +\n  b") == expr("a + b")
    assert expr("a + b").span != expr("  a + b").span


# --- policies and tests --------------------------------------------------------------------

FULL_POLICY = """\
policy cloud.location.eu {
  title "Data in the EU"
  title.en "Data in the EU"
  source "Cloud policy 2022, section 3"
  requirement "CLOUD-01", "CSBN-01"
  severity high
  enforce deny
  enforce.audit warn
  weight 3

  param levels: set[str] = {"BBN2"}
  param shares: map[str, float] = {"aws": 0.5}
  param limit: int = 2

  for r in resources
  where r.kind == "storage"
  let p = providers[r.provider]
  for t in r.labels
  group by r.service as service into rs
  require count(rs) <= limit
  require p != null
  message "{service}: {count(rs)} resources"
}
"""


def _meta(key: str, *values: str, quoted: bool = True) -> A.Meta:
    return A.Meta(key=key, values=tuple(A.MetaValue(text=v, quoted=quoted) for v in values))


def test_every_policy_construct_parses_to_the_expected_tree() -> None:
    expected = A.Policy(
        id="cloud.location.eu",
        meta=(
            _meta("title", "Data in the EU"),
            _meta("title.en", "Data in the EU"),
            _meta("source", "Cloud policy 2022, section 3"),
            _meta("requirement", "CLOUD-01", "CSBN-01"),
            _meta("severity", "high", quoted=False),
            _meta("enforce", "deny", quoted=False),
            _meta("enforce.audit", "warn", quoted=False),
            _meta("weight", "3", quoted=False),
        ),
        params=(
            A.Param(
                name="levels",
                type=A.TypeExpr(name="set", args=(A.TypeExpr(name="str"),)),
                default=A.SetLit(items=(lit("BBN2"),)),
            ),
            A.Param(
                name="shares",
                type=A.TypeExpr(name="map", args=(A.TypeExpr(name="str"), A.TypeExpr(name="float"))),
                default=A.MapLit(entries=((lit("aws"), lit(0.5)),)),
            ),
            A.Param(name="limit", type=A.TypeExpr(name="int"), default=lit(2)),
        ),
        steps=(
            A.ForEach(var="r", source=ref("resources")),
            A.Where(cond=cmp("==", path("r.kind"), lit("storage"))),
            A.Let(name="p", value=A.Index(obj=ref("providers"), key=path("r.provider"))),
            A.ForEach(var="t", source=path("r.labels")),
            A.GroupBy(key=path("r.service"), name="service", members="rs"),
            A.Require(
                cond=cmp(
                    "<=", A.Aggregate(func="count", var=None, collection=ref("rs"), body=None), ref("limit")
                )
            ),
            A.Require(cond=cmp("!=", ref("p"), lit(None))),
            A.Message(
                template=A.Template(
                    parts=(
                        ref("service"),
                        ": ",
                        A.Aggregate(func="count", var=None, collection=ref("rs"), body=None),
                        " resources",
                    )
                )
            ),
        ),
    )
    assert parse(FULL_POLICY) == A.Module(items=(expected,))


def test_param_without_default_parses() -> None:
    """`param x: float` has no default (its value comes from configuration): evaluate.py expects None."""
    result = parse_module(
        Source("p.regie", "policy p {\n  param x: float\n  for r in resources\n  require true\n}\n")
    )
    assert not isinstance(result, list), render_all(result)
    (policy,) = result.items
    assert isinstance(policy, A.Policy)
    assert policy.params == (A.Param(name="x", type=A.TypeExpr(name="float"), default=None),)


def test_every_test_construct_parses_to_the_expected_tree() -> None:
    text = """\
test "flags a bucket" {
  given resources [{id: "a", kind: "storage"}]
  given param cloud.x.levels = {"BBN3"}
  given catalog providers {aws: {name: "Amazon"}}
  given today "2026-01-31"
  expect violation cloud.x on "a"
  expect no violation
  expect unknown
  expect no unknown cloud.x
  expect 2 violations cloud.x
  expect 0 unknowns
}
"""
    given = A.Given
    expected = A.TestBlock(
        name="flags a bucket",
        givens=(
            given(
                what="resources",
                name=None,
                value=A.ListLit(
                    items=(A.MapLit(entries=((lit("id"), lit("a")), (lit("kind"), lit("storage")))),)
                ),
            ),
            given(what="param", name="cloud.x.levels", value=A.SetLit(items=(lit("BBN3"),))),
            given(
                what="catalog",
                name="providers",
                value=A.MapLit(entries=((lit("aws"), A.MapLit(entries=((lit("name"), lit("Amazon")),))),)),
            ),
            given(what="today", name=None, value=lit("2026-01-31")),
        ),
        expects=(
            A.Expect(outcome="violation", negated=False, policy="cloud.x", resource="a"),
            A.Expect(outcome="violation", negated=True, policy=None, resource=None),
            A.Expect(outcome="unknown", negated=False, policy=None, resource=None),
            A.Expect(outcome="unknown", negated=True, policy="cloud.x", resource=None),
            A.Expect(outcome="violation", negated=False, policy="cloud.x", resource=None, count=2),
            A.Expect(outcome="unknown", negated=False, policy=None, resource=None, count=0),
        ),
    )
    assert parse(text) == A.Module(items=(expected,))


def test_a_file_holds_policies_and_tests_in_order() -> None:
    module = parse(
        'test "one" { expect no violation }\n'
        "policy p { for r in resources require true }\n"
        'test "two" { expect violation p }\n'
    )
    assert [type(i).__name__ for i in module.items] == ["TestBlock", "Policy", "TestBlock"]
    assert parse("") == A.Module(items=())


# --- messages ------------------------------------------------------------------------------

TEMPLATES: list[tuple[str, tuple[str | A.Expr, ...]]] = [
    ('"plain text"', ("plain text",)),
    ('""', ()),
    ('"{x}"', (x,)),
    ('"{r.region} is in {r.country}"', (path("r.region"), " is in ", path("r.country"))),
    ('"{p.name ?? "none"}!"', (A.Coalesce(left=path("p.name"), right=lit("none")), "!")),
    (
        '"{r.name ?? "{"}"',
        (A.Coalesce(left=path("r.name"), right=lit("{")),),
    ),  # a brace inside a hole's string
    ('"{{literal}}"', ("{literal}",)),
    ('"}}"', ("}",)),
    ('"{{ {x} }}"', ("{ ", x, " }")),
    (r'"costs \{x\}"', ("costs {x}",)),  # escaped braces are text
    (r'"a\nb {x}"', ("a\nb ", x)),
    (
        '"{percent(share(x in rs: x.vital))} vital"',
        (
            A.Call(
                name="percent",
                args=(A.Aggregate(func="share", var="x", collection=ref("rs"), body=path("x.vital")),),
            ),
            " vital",
        ),
    ),
]


@pytest.mark.parametrize(("message", "parts"), TEMPLATES, ids=[m for m, _ in TEMPLATES])
def test_message_template_parts(message: str, parts: tuple[str | A.Expr, ...]) -> None:
    assert message_parts(message) == parts


def test_holes_are_read_in_messages_only() -> None:
    step = policy_with('  require r.name == "{x}" and matches(r.name, "^a{2,3}$")').steps[-1]
    assert isinstance(step, A.Require)
    assert step.cond == logical(
        "and",
        cmp("==", path("r.name"), lit("{x}")),
        A.Call(name="matches", args=(path("r.name"), lit("^a{2,3}$"))),
    )


def test_a_hole_points_into_the_file() -> None:
    policy = policy_with('  require true\n  message "at {r.region ?? "nowhere"} now"')
    step = policy.steps[-1]
    assert isinstance(step, A.Message)
    hole = step.template.parts[1]
    assert isinstance(hole, A.Coalesce)
    assert hole.span.snippet() == 'r.region ?? "nowhere"'
    assert (hole.span.line, hole.span.column) == (4, 16)
    assert hole.left.span.snippet() == "r.region"
    assert step.template.span.snippet() == '"at {r.region ?? "nowhere"} now"'


MESSAGE_ERRORS = [
    # (message, code, underline, message text)
    ('"a {r.name"', "REG-P004", "{", "unclosed `{` in a message"),
    ('"a } b"', "REG-P004", "}", "unmatched `}` in a message"),
    ('"a {} b"', "REG-P004", "{}", "empty `{}` in a message"),
    ('"a {  } b"', "REG-P004", "{  }", "empty `{}` in a message"),
]


@pytest.mark.parametrize(
    ("message", "code", "underline", "text"), MESSAGE_ERRORS, ids=[m[0] for m in MESSAGE_ERRORS]
)
def test_malformed_message_holes(message: str, code: str, underline: str, text: str) -> None:
    diag = syntax_error(f"policy p {{\n  for r in resources\n  require true\n  message {message}\n}}\n")
    assert (diag.code, diag.span.snippet(), diag.message) == (code, underline, text)
    assert diag.span.line == 4
    assert diag.help is not None and ("{{" in diag.help or "}}" in diag.help)


def test_a_syntax_error_inside_a_hole_points_into_the_hole() -> None:
    diag = syntax_error('policy p {\n  for r in resources\n  require true\n  message "a {r. + 1} b"\n}\n')
    assert diag.code == "REG-P001"
    assert diag.span.line == 4
    assert 15 <= diag.span.column <= 20  # inside `{r. + 1}`, not at the start of the file


# --- strings -------------------------------------------------------------------------------

ESCAPES = [
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"a\nb\tc\rd"', "a\nb\tc\rd"),
    (r'"\{not a hole\}"', "{not a hole}"),
    (r'"\u00e9t\u00C9"', "étÉ"),
    ('"#not a comment"', "#not a comment"),
    ('"unicode: ☁"', "unicode: ☁"),
]


@pytest.mark.parametrize(("literal", "value"), ESCAPES, ids=[e for e, _ in ESCAPES])
def test_string_escapes(literal: str, value: str) -> None:
    assert expr(literal) == lit(value)


@pytest.mark.parametrize(("literal", "underline"), [(r'"bad \q"', r"\q"), (r'"\u12"', r"\u")])
def test_unknown_escape_is_reported_at_the_escape(literal: str, underline: str) -> None:
    diag = syntax_error(f"policy p {{\n  for r in resources\n  require r.name == {literal}\n}}\n")
    assert diag.code == "REG-P002"
    assert diag.span.snippet() == underline
    assert diag.span.line == 3
    assert diag.help is not None and r"\uXXXX" in diag.help


def test_unknown_escape_in_a_message_is_reported() -> None:
    diag = syntax_error('policy p {\n  for r in resources\n  require true\n  message "bad \\q {x}"\n}\n')
    assert (diag.code, diag.span.snippet(), diag.span.line) == ("REG-P002", "\\q", 4)


# --- spans ---------------------------------------------------------------------------------

SPANS: list[tuple[str, Callable[[Any], Any], str]] = [
    ("r.a.b", lambda e: e, "r.a.b"),
    ("r.a.b", lambda e: e.obj, "r.a"),
    ("r.a.b", lambda e: e.obj.obj, "r"),
    ("f(a, b)[0]", lambda e: e, "f(a, b)[0]"),
    ("f(a, b)[0]", lambda e: e.obj, "f(a, b)"),
    ("f(a, b)[0]", lambda e: e.obj.args[1], "b"),
    ("count(x in rs: x.v) + 1", lambda e: e.left, "count(x in rs: x.v)"),
    ("count(x in rs: x.v) + 1", lambda e: e.left.body, "x.v"),
    ("count(x in rs: x.v) + 1", lambda e: e.left.collection, "rs"),
    ("-x.y", lambda e: e, "-x.y"),
    ("-x.y", lambda e: e.operand, "x.y"),
    ("not a in b", lambda e: e.operand, "a in b"),
    ("a ?? b == c", lambda e: e.left, "a ?? b"),
    ('x in {"a", "b"}', lambda e: e.right, '{"a", "b"}'),
    ('[1, "two"]', lambda e: e.items[1], '"two"'),
    ('{"k": 1}', lambda e: e, '{"k": 1}'),
    ("-1", lambda e: e, "-1"),
    ("a or b and c", lambda e: e.right, "b and c"),
]


@pytest.mark.parametrize(("text", "select", "snippet"), SPANS, ids=[f"{t} -> {s}" for t, _, s in SPANS])
def test_span_of_a_node_covers_its_text(text: str, select: Callable[[Any], Any], snippet: str) -> None:
    assert select(expr(text)).span.snippet() == snippet


def test_spans_in_a_policy() -> None:
    module = parse(FULL_POLICY)
    (policy,) = module.items
    assert isinstance(policy, A.Policy)
    assert policy.id_span.snippet() == "cloud.location.eu"
    assert policy.span.snippet() == FULL_POLICY.rstrip("\n")
    assert policy.meta[3].span.snippet() == 'requirement "CLOUD-01", "CSBN-01"'
    assert [v.span.snippet() for v in policy.meta[3].values] == ['"CLOUD-01"', '"CSBN-01"']
    assert policy.meta[4].values[0].span.snippet() == "high"
    assert policy.params[0].span.snippet() == 'param levels: set[str] = {"BBN2"}'
    assert policy.params[1].type.span.snippet() == "map[str, float]"
    where = policy.steps[1]
    assert isinstance(where, A.Where)
    assert where.span.snippet() == 'where r.kind == "storage"'
    assert isinstance(where.cond, A.Compare)
    assert where.cond.left.span.snippet() == "r.kind"
    assert (where.cond.left.span.line, where.cond.left.span.column) == (16, 9)
    assert where.cond.left.span.location() == "p.regie:16:9"
    assert policy.steps[4].span.snippet() == "group by r.service as service into rs"
    assert policy.steps[-1].span.snippet() == 'message "{service}: {count(rs)} resources"'
    assert module.span.snippet() == FULL_POLICY


def test_spans_in_a_test_block() -> None:
    text = 'test "t" {\n  given today "2026-01-31"\n  expect violation a.b on "x"\n}\n'
    (block,) = parse(text).items
    assert isinstance(block, A.TestBlock)
    assert block.givens[0].span.snippet() == 'given today "2026-01-31"'
    assert block.givens[0].value.span.snippet() == '"2026-01-31"'
    assert block.expects[0].span.snippet() == 'expect violation a.b on "x"'
    assert block.expects[0].span.location() == "p.regie:3:3"


# --- comments ------------------------------------------------------------------------------


def test_comments_are_collected_in_order_with_their_spans() -> None:
    text = (
        "# file header\n"
        "policy p { # after the brace\n"
        '  title "t"   # after a value\n'
        "  for r in resources\n"
        '  require r.name != "#x" # after a string holding a hash\n'
        "}\n"
        "# trailer"
    )
    module = parse(text)
    assert [c.text for c in module.comments] == [
        "# file header",
        "# after the brace",
        "# after a value",
        "# after a string holding a hash",
        "# trailer",
    ]
    assert [c.span.location() for c in module.comments] == [
        "p.regie:1:1",
        "p.regie:2:12",
        "p.regie:3:15",
        "p.regie:5:26",
        "p.regie:7:1",
    ]
    assert all(c.span.snippet() == c.text for c in module.comments)
    # Comments take no part in the tree.
    assert module == parse(text.replace("# after a value", ""))


def test_a_hash_inside_a_string_in_a_message_hole_is_not_a_comment() -> None:
    module = parse('policy p {\n  for r in resources\n  require true\n  message "{r.name ?? "#none"} x"\n}\n')
    assert module.comments == ()


# --- syntax errors -------------------------------------------------------------------------

SYNTAX_ERRORS = [
    # (id, source, (line, column), underline, in message, in help)
    (
        "= instead of ==",
        'policy p {\n  for r in resources\n  where r.kind = "storage"\n  require true\n}\n',
        (3, 16),
        "=",
        "unexpected `=`",
        "compare with `==`",
    ),
    (
        "&& instead of and",
        "policy p {\n  for r in resources\n  require r.vital && r.name != null\n}\n",
        (3, 19),
        "&",
        "unexpected character `&`",
        "use `and`, `or` and `not`",
    ),
    (
        "|| instead of or",
        "policy p {\n  for r in resources\n  require r.vital || r.name != null\n}\n",
        (3, 19),
        "|",
        "unexpected character `|`",
        "use `and`, `or` and `not`",
    ),
    (
        "! instead of not",
        "policy p {\n  for r in resources\n  require !r.vital\n}\n",
        (3, 11),
        "!",
        "unexpected character `!`",
        "use `and`, `or` and `not`",
    ),
    (
        "single quotes",
        "policy p {\n  for r in resources\n  require r.kind == 'storage'\n}\n",
        (3, 21),
        "'",
        "unexpected character `'`",
        "double quotes",
    ),
    (
        "missing require",
        'policy p {\n  for r in resources\n  where r.kind == "storage"\n}\n',
        (4, 1),
        "}",
        "`require`",
        None,
    ),
    (
        "message before require",
        'policy p {\n  for r in resources\n  message "m"\n  require true\n}\n',
        (3, 3),
        "message",
        "`require`",
        None,
    ),
    (
        "misspelt top-level keyword",
        "polcy p {\n  for r in resources\n  require true\n}\n",
        (1, 1),
        "polcy",
        "expected `policy`, `test`",
        None,
    ),
    (
        "missing policy id",
        "policy {\n  for r in resources\n  require true\n}\n",
        (1, 8),
        "{",
        "expected a name",
        None,
    ),
    (
        "=== instead of ==",
        'policy p {\n  for r in resources\n  require r.kind === "x"\n}\n',
        (3, 20),
        "=",
        "unexpected `=`",
        None,
    ),
    (
        "extra closing brace",
        "policy p {\n  for r in resources\n  require true\n}\n}\n",
        (5, 1),
        "}",
        "expected `policy`, `test`, the end of the file",
        None,
    ),
    (
        "aggregate without a bound variable",
        "policy p {\n  for r in resources\n  require count(1: true) > 0\n}\n",
        (3, 17),
        "1",
        "binds a variable",
        "count(x in xs: x.vital)",
    ),
    (
        "expect without an outcome",
        'test "t" {\n  expect\n}\n',
        (3, 1),
        "}",
        "expected `no`, `violation` or `unknown`",
        None,
    ),
]


@pytest.mark.parametrize(
    ("source", "position", "underline", "message", "help"),
    [case[1:] for case in SYNTAX_ERRORS],
    ids=[case[0] for case in SYNTAX_ERRORS],
)
def test_syntax_error(
    source: str, position: tuple[int, int], underline: str, message: str, help: str | None
) -> None:
    diag = syntax_error(source)
    assert diag.code == "REG-P001"
    assert (diag.span.line, diag.span.column) == position
    assert diag.span.snippet() == underline
    assert message in diag.message
    if help is not None:
        assert diag.help is not None and help in diag.help
    assert "\n" not in diag.message and not diag.message.endswith(".")


def test_unclosed_policy_brace_is_reported_at_the_end() -> None:
    diag = syntax_error('policy p {\n  for r in resources\n  require r.kind == "x"\n')
    assert diag.code == "REG-P001"
    assert diag.message.startswith("unexpected end of input")
    assert "`}`" in diag.message
    assert diag.span.line == 3  # at the last token, not at the opening brace


def test_unterminated_string_says_so() -> None:
    diag = syntax_error('policy p {\n  for r in resources\n  require r.kind == "storage\n}\n')
    assert diag.code == "REG-P001"
    assert (diag.span.line, diag.span.column) == (3, 21)  # the opening quote
    # `unexpected character "` alone does not tell a policy author what is wrong.
    assert "string" in diag.message + (diag.help or "")


def test_misspelt_step_keyword_gets_a_suggestion() -> None:
    diag = syntax_error("policy p {\n  for r in resources\n  wher r.vital\n  require true\n}\n")
    assert diag.code == "REG-P001"
    assert diag.span.snippet() == "wher"
    assert diag.help is not None and "`where`" in diag.help


def test_only_the_first_syntax_error_of_a_file_is_reported() -> None:
    result = parse_module(
        Source("p.regie", "policy p { for r in resources require a = 1 }\npolicy q { = }\n")
    )
    assert isinstance(result, list)
    assert [d.span.line for d in result] == [1]


def test_parse_expr_reports_syntax_errors_as_diagnostics() -> None:
    result = parse_expr(Source("--param", "{1, 2"))
    assert isinstance(result, list)
    (diag,) = result
    assert diag.code == "REG-P001"
    assert diag.span.source.name == "--param"
