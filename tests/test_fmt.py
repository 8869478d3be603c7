"""The formatter: one canonical layout, the same tree back, every comment kept.

Golden pairs live in ``tests/fixtures/fmt/NAME.in.regie`` and ``NAME.out.regie``;
random trees come from ``tests/strategies.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import KEYWORDS, expressions, modules, policies

from regie.dsl import ast as A
from regie.dsl.build import parse_expr, parse_module
from regie.dsl.diagnostics import Diagnostic, render_all
from regie.dsl.fmt import WIDTH, format_expr, format_module, format_source
from regie.dsl.source import Source

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "fmt"
GOLDEN = sorted(p.name.removesuffix(".in.regie") for p in FIXTURES.glob("*.in.regie"))

PROPERTIES = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
# Each example of the comment property formats and parses a policy six times.
FEWER = settings(PROPERTIES, max_examples=100)

# --- helpers -------------------------------------------------------------------------------


def parse(text: str) -> A.Module:
    result = parse_module(Source("p.regie", text))
    assert not isinstance(result, list), render_all(result) + "\n" + text
    return result


def expr(text: str) -> A.Expr:
    result = parse_expr(Source("<expr>", text))
    assert not isinstance(result, list), render_all(result) + "\n" + text
    return result


def fmt(text: str) -> str:
    result = format_source(text, "p.regie")
    assert not isinstance(result, list), render_all(result)
    return result


def same_tree(a: object, b: object) -> bool:
    """Equal, and equal in repr too: ``Literal(1) == Literal(True) == Literal(1.0)`` in Python."""
    return a == b and repr(a) == repr(b)


def comments(text: str) -> Counter[str]:
    return Counter(c.text for c in parse(text).comments)


def policy(*steps: str, head: str = 'title "t"\n  source "s"\n\n') -> str:
    body = "\n".join(f"  {s}" for s in steps)
    return f"policy p {{\n  {head}  for r in resources\n{body}\n}}\n"


def _string_terminal() -> re.Pattern[str]:
    """The grammar's MESSAGE terminal (which also reads every plain string), to find the places
    outside strings where a comment may go."""
    grammar = (ROOT / "dsl" / "grammar.lark").read_text(encoding="utf-8")
    match = re.search(r"^MESSAGE: /(.*)/$", grammar, re.M)
    assert match is not None
    return re.compile(match.group(1))


_STRING = _string_terminal()


def gaps(text: str) -> list[int]:
    """Offsets of the white space outside string literals and comments (and the end of the text)."""
    out, i = [], 0
    while i < len(text):
        if text[i] == '"':
            match = _STRING.match(text, i)
            assert match is not None, text[i:]
            i = match.end()
            continue
        if text[i] == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
            continue
        if text[i] in " \n":
            out.append(i)
        i += 1
    return [*out, len(text)]


# --- golden files --------------------------------------------------------------------------


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name: str) -> None:
    source = (FIXTURES / f"{name}.in.regie").read_text(encoding="utf-8")
    expected = (FIXTURES / f"{name}.out.regie").read_text(encoding="utf-8")
    assert fmt(source) == expected
    assert fmt(expected) == expected
    assert same_tree(parse(expected).items, parse(source).items)
    assert comments(expected) == comments(source)


def test_golden_files_cover_the_layout() -> None:
    assert {"comments", "long_literals", "precedence", "tests_blocks", "messages"} <= set(GOLDEN)


@pytest.mark.parametrize("path", sorted((ROOT / "examples").rglob("*.regie")), ids=lambda p: p.name)
def test_examples_format_idempotently(path: Path) -> None:
    once = fmt(path.read_text(encoding="utf-8"))
    assert fmt(once) == once


# --- properties ----------------------------------------------------------------------------


@PROPERTIES
@given(expressions())
def test_expression_round_trip(tree: A.Expr) -> None:
    text = format_expr(tree)
    assert "\n" not in text
    assert same_tree(expr(text), tree), text


@PROPERTIES
@given(modules(max_items=2))
def test_module_round_trip_and_idempotence(module: A.Module) -> None:
    text = format_module(module)
    assert same_tree(parse(text).items, module.items), text
    assert fmt(text) == text
    assert text == "" or (text.endswith("}\n") and not text.endswith("\n\n"))
    assert "\n\n\n" not in text and not re.search(r"[ \t]+$", text, re.M)


@FEWER
@given(policies(), st.data())
def test_comments_anywhere_are_kept_once(tree: A.Policy, data: st.DataObject) -> None:
    text = format_module(A.Module(items=(tree,)))
    places = data.draw(st.lists(st.sampled_from(gaps(text)), max_size=6))
    notes = data.draw(st.lists(st.sampled_from(["# a", "# b {x}", '# "q"', "#"]), min_size=len(places)))
    for at, note in sorted(zip(places, notes, strict=False), reverse=True):
        text = text[:at] + note + "\n" + text[at:]
    once = fmt(text)
    again = parse(once)
    assert Counter(c.text for c in again.comments) == comments(text)
    assert same_tree(again.items, (tree,))
    assert fmt(once) == once


def test_comments_in_the_quickstart_anywhere_are_kept_once() -> None:
    text = (ROOT / "examples" / "quickstart" / "policies" / "sovereignty.regie").read_text(encoding="utf-8")
    places = gaps(text)
    for step in (1, 3, 7):
        commented = text
        for i, at in enumerate(reversed(places[::step])):
            commented = commented[:at] + f"# c{i}\n" + commented[at:]
        once = fmt(commented)
        assert comments(once) == comments(commented)
        assert fmt(once) == once


# --- layout --------------------------------------------------------------------------------


def test_layout_of_a_policy() -> None:
    source = (
        'policy  a.b{title "T" title.en "E" requirement "A","B" severity high '
        "param n:int=1 param xs : list[ map[str,int] ] "
        "for r in resources where r.ok let x=r.n group by r.service as s into rs "
        'for c in rs require count(c)>n message "{s}"}'
    )
    assert fmt(source) == (
        "policy a.b {\n"
        '  title "T"\n'
        '  title.en "E"\n'
        '  requirement "A", "B"\n'
        "  severity high\n"
        "\n"
        "  param n: int = 1\n"
        "  param xs: list[map[str, int]]\n"
        "\n"
        "  for r in resources\n"
        "  where r.ok\n"
        "  let x = r.n\n"
        "  group by r.service as s into rs\n"
        "  for c in rs\n"
        "  require count(c) > n\n"
        '  message "{s}"\n'
        "}\n"
    )


def test_blank_line_between_items_and_none_at_the_ends() -> None:
    source = 'test "a" { expect no violation }\n\n\n\ntest "b" { expect no violation }\n\n\n'
    assert fmt(source) == ('test "a" {\n  expect no violation\n}\n\ntest "b" {\n  expect no violation\n}\n')


def test_empty_file() -> None:
    assert fmt("") == ""
    assert fmt("\n\n") == ""
    assert fmt("# only a comment\n") == "# only a comment\n"


def test_crlf_line_ends() -> None:
    source = 'test "a" {  # note\r\n  expect no violation\r\n}\r\n'
    assert fmt(source) == 'test "a" {  # note\n  expect no violation\n}\n'


def test_syntax_errors_are_diagnostics() -> None:
    result = format_source("policy p {\n  require\n}\n", "bad.regie")
    assert isinstance(result, list)
    assert all(isinstance(d, Diagnostic) and d.code.startswith("REG-P") for d in result)
    assert result[0].span.source.name == "bad.regie"


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 13])
def test_a_literal_breaks_only_when_the_line_would_be_too_long(count: int) -> None:
    items = ", ".join(f'{{id: "resource-{i}", kind: "storage"}}' for i in range(count))
    lines = fmt(f'test "t" {{ given resources [{items}] expect no violation }}').splitlines()
    flat = f"  given resources [{items}]"
    if len(flat) <= WIDTH:
        assert lines[1] == flat
    else:
        assert lines[1] == "  given resources ["
        assert lines[2 : 2 + count] == [f'    {{id: "resource-{i}", kind: "storage"}},' for i in range(count)]
        assert lines[2 + count] == "  ]"
    assert all(len(line) <= WIDTH for line in lines)


def test_nested_literals_break_from_the_outside_in() -> None:
    inner = ", ".join(f'"{c * 12}"' for c in "abcdefgh")
    text = fmt(f'test "t" {{ given catalog names {{short: ["x"], long: [{inner}]}} expect no violation }}')
    assert text.splitlines()[1:5] == [
        "  given catalog names {",
        '    short: ["x"],',
        "    long: [",
        '      "aaaaaaaaaaaa",',
    ]


# --- expressions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("(a or b) or c", "a or b or c"),
        ("a or (b or c)", "a or (b or c)"),
        ("(a and b) or (c and d)", "a and b or c and d"),
        ("(a or b) and c", "(a or b) and c"),
        ("not (a and b)", "not (a and b)"),
        ("not (a == b)", "not a == b"),
        ("(not a) == b", "(not a) == b"),
        ("(a == b) == c", "(a == b) == c"),
        ("a in (b in c)", "a in (b in c)"),
        ("(a ?? b) ?? c", "(a ?? b) ?? c"),
        ("a ?? (b ?? c)", "a ?? b ?? c"),
        ("(a + b) ?? c", "a + b ?? c"),
        ("a - (b - c)", "a - (b - c)"),
        ("(a - b) - c", "a - b - c"),
        ("a / (b * c)", "a / (b * c)"),
        ("(a + b) * c", "(a + b) * c"),
        ("-(a + b)", "-(a + b)"),
        ("-(-a)", "- -a"),
        ("a - -1", "a - -1"),
        ("(-1).x", "(-1).x"),
        ("(1).x", "(1).x"),
        ("(1.5).x", "1.5.x"),
        ("(-a).b", "(-a).b"),
        ("(a.b)[c]", "a.b[c]"),
        ("f((a or b), (c))", "f(a or b, c)"),
        ("count(x in (a or b): x)", "count(x in (a or b): x)"),
        ("count(x in a ?? b: (x))", "count(x in a ?? b: x)"),
        ("count((a or b))", "count(a or b)"),
        ("{'k': 1}".replace("'", '"'), "{k: 1}"),
    ],
)
def test_minimal_parentheses(source: str, expected: str) -> None:
    assert format_expr(expr(source)) == expected
    assert same_tree(expr(expected), expr(source))


@pytest.mark.parametrize(
    "value",
    [0.1, 1e20, 1e-5, 5e-324, 1.7976931348623157e308, -0.0, 100.0, 123456789.123, -2.5e-300, float("inf")],
)
def test_floats_round_trip_exactly(value: float) -> None:
    text = format_expr(A.Literal(value=value))
    assert same_tree(expr(text), A.Literal(value=value)), text


def test_float_output_lexes_as_one_number() -> None:
    assert format_expr(A.Literal(value=1e20)) == "1e+20"
    assert (
        format_expr(A.Binary(op="+", left=A.Literal(value=1e20), right=A.Literal(value=1e-7)))
        == "1e+20 + 1e-07"
    )
    with pytest.raises(ValueError, match="NaN"):
        format_expr(A.Literal(value=float("nan")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("a\\b", r'"a\\b"'),
        ("line\nnext\ttab\rret", r'"line\nnext\ttab\rret"'),
        ("\x00\x1b\x7f\u2028", r'"\u0000\u001b\u007f\u2028"'),
        ("é👍", '"é👍"'),
        ("^[a-z]{3}$", '"^[a-z]{3}$"'),  # regexes keep their braces
        ("{}", '"{}"'),
        ("a{", '"a{"'),  # holes are read in messages only
        ("{ab", '"{ab"'),
        ('{"}', r'"{\"}"'),
        ("}", '"}"'),
    ],
)
def test_string_escapes(value: str, expected: str) -> None:
    assert format_expr(A.Literal(value=value)) == expected
    assert same_tree(expr(expected), A.Literal(value=value))


def test_a_brace_in_a_plain_string_needs_no_escape() -> None:
    # Holes are read in messages only, so `"a{", "}"` is two strings.
    tree = A.ListLit(items=(A.Literal(value="a{"), A.Literal(value="}")))
    assert format_expr(tree) == '["a{", "}"]'
    assert same_tree(expr(format_expr(tree)), tree)


@pytest.mark.parametrize("word", sorted(KEYWORDS))
def test_keywords_as_map_keys(word: str) -> None:
    tree = A.MapLit(entries=((A.Literal(value=word), A.Literal(value=1)),))
    text = format_expr(tree)
    assert same_tree(expr(text), tree), text
    bare = word not in {"true", "false", "null", "not"}
    assert text == (f"{{{word}: 1}}" if bare else f'{{"{word}": 1}}')


def test_map_keys_bare_only_when_a_name() -> None:
    entries = tuple((A.Literal(value=k), A.Literal(value=1)) for k in ["id", "_x1", "two words", "1a", ""])
    assert format_expr(A.MapLit(entries=entries)) == '{id: 1, _x1: 1, "two words": 1, "1a": 1, "": 1}'
    assert format_expr(A.MapLit(entries=((A.Literal(value=1), A.Literal(value=True)),))) == "{1: true}"


def test_empty_literals() -> None:
    assert format_expr(expr("[ ]")) == "[]"
    assert format_expr(expr("{ }")) == "{}"
    assert format_expr(A.SetLit(items=())) == "{}"  # no syntax of its own; `{}` where a set is expected


def test_aggregates() -> None:
    assert format_expr(expr("share( x in rs : x.provider==top )")) == "share(x in rs: x.provider == top)"
    assert format_expr(expr("count( rs )")) == "count(rs)"
    nested = A.Compare(op="in", left=A.Ref(name="a"), right=A.Ref(name="b"))
    tree = A.Aggregate(func="max", var="x", collection=nested, body=A.Ref(name="x"))
    assert format_expr(tree) == "max(x in (a in b): x)"
    assert same_tree(expr("max(x in (a in b): x)"), tree)


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("plain",), '"plain"'),
        ((), '""'),
        (("{literal}",), '"{{literal}}"'),
        (("a ", A.Ref(name="x"), " b"), '"a {x} b"'),
        (("{", A.Ref(name="x"), "}"), '"{{{x}}}"'),
        (('say "', A.Ref(name="x"), '"'), r'"say \"{x}\""'),
        (("back\\slash",), r'"back\\slash"'),
        ((A.Coalesce(left=A.Ref(name="x"), right=A.Literal(value="}")),), '"{x ?? "}"}"'),
        ((A.SetLit(items=(A.Ref(name="x"),)),), '"{ {x} }"'),
        (("{",), r'"\{"'),  # a doubled brace at the end would start a hole past the quote
        (('{"',), r'"\{\""'),
    ],
)
def test_message_templates(parts: tuple[str | A.Expr, ...], expected: str) -> None:
    tree = A.Message(template=A.Template(parts=parts))
    text = policy("require r.ok", f"message {expected}")
    assert fmt(text) == text
    built = parse(text).items[0]
    assert isinstance(built, A.Policy)
    assert same_tree(built.steps[-1], tree)


def test_a_hash_inside_a_message_hole_is_not_a_comment() -> None:
    # The builder's comment scan reads `#"}"` here as a comment; it must not be printed twice.
    text = policy("require r.ok", 'message "{r.name ?? "#"}"')
    assert fmt(text) == text


# --- comments ------------------------------------------------------------------------------


def test_comment_in_a_condition_moves_before_the_step() -> None:
    source = policy("where r.a and # why a\n    r.b  # why b", "require r.ok")
    assert fmt(source) == policy("# why a", "where r.a and r.b  # why b", "require r.ok")


def test_blank_lines_around_comments_are_kept() -> None:
    source = '# header\n\ntest "a" {\n  expect no violation\n\n  # later\n\n  expect no violation\n}\n'
    assert fmt(source) == source


def test_comment_inside_a_short_literal_breaks_it() -> None:
    source = 'test "a" {\n  given resources [{id: "a"} # the one\n  ]\n  expect no violation\n}\n'
    assert fmt(source) == (
        'test "a" {\n  given resources [\n    {id: "a"},  # the one\n  ]\n  expect no violation\n}\n'
    )


def test_comment_after_an_opening_bracket() -> None:
    source = 'test "a" {\n  given resources [  # the facts\n    {id: "a"},\n  ]\n  expect no violation\n}\n'
    assert fmt(source) == source


def test_several_trailing_comments_of_one_item() -> None:
    source = (
        'test "a" {\n  given resources [\n    {id: "a"} # one\n    , # two\n  ]\n  expect no violation\n}\n'
    )
    assert fmt(source) == (
        'test "a" {\n  given resources [\n    {id: "a"},  # one\n    # two\n  ]\n  expect no violation\n}\n'
    )
