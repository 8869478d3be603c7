"""The type checker and the metadata reader: every mistake is one diagnostic, at the right text.

Each error case asserts the code, the underlined text (``span.snippet()``), the
message and the help, so a span that drifts onto the wrong node fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pytest

from regie.dsl import ast as A
from regie.dsl.build import parse_module
from regie.dsl.builtins import BUILTINS
from regie.dsl.check import CheckedPolicy, Selector, check_policy
from regie.dsl.diagnostics import Diagnostic, render_all
from regie.dsl.source import Source
from regie.dsl.types import BOOL, FLOAT, INT, STR, MapType, Schema, SetType
from regie.engine.evaluate import PolicySet

HEAD = '  title "t"\n  source "s"\n'


def src(body: str, *, head: str = HEAD, params: str = "", root: str = "resources") -> str:
    """A policy `p`: line 1 `policy p {`, then head (title line 2, source line 3), params,
    `for r in <root>`, and the body."""
    return f"policy p {{\n{head}{params}  for r in {root}\n{body}\n}}\n"


def check(text: str, schema: Schema) -> CheckedPolicy | list[Diagnostic]:
    module = parse_module(Source("p.regie", text))
    assert not isinstance(module, list), render_all(module)
    (policy,) = module.items
    assert isinstance(policy, A.Policy)
    return check_policy(policy, schema)


def diagnostics(text: str, schema: Schema) -> list[Diagnostic]:
    result = check(text, schema)
    assert isinstance(result, list), f"expected diagnostics, the policy checked:\n{text}"
    return result


def checked(text: str, schema: Schema) -> CheckedPolicy:
    result = check(text, schema)
    assert not isinstance(result, list), render_all(result)
    return result


class Case(NamedTuple):
    id: str
    source: str
    code: str
    underline: str
    message: str
    help: str | None


def _ids(cases: list[Case]) -> list[str]:
    return [c.id for c in cases]


def assert_one(case: Case, schema: Schema) -> None:
    diags = diagnostics(case.source, schema)
    assert len(diags) == 1, render_all(diags)
    (d,) = diags
    assert (d.code, d.span.snippet(), d.message) == (case.code, case.underline, case.message), render_all(
        diags
    )
    assert d.help == case.help
    assert d.severity == "error"


# --- expressions ---------------------------------------------------------------------------

EXPRESSION_ERRORS = [
    Case(
        "unknown field with a suggestion",
        src('  require r.clasification == "BBN2"'),
        "REG-T002",
        "clasification",
        "`Resource` has no field `clasification`",
        "did you mean `classification`?",
    ),
    Case(
        "unknown field without a close match lists the fields",
        src("  require r.zzz != null"),
        "REG-T002",
        "zzz",
        "`Resource` has no field `zzz`",
        "fields are id, source, kind, type, address, name, provider, region, country, service, "
        "classification, vital, exit_plan, owner, action, labels, attributes",
    ),
    Case(
        "unknown field deep in a path",
        src('  require r.labels.team == "x" and providers[r.provider].parnt != null'),
        "REG-T002",
        "parnt",
        "`Provider` has no field `parnt`",
        "did you mean `parent`?",
    ),
    Case(
        "field of a set",
        src("  require eu.members != null"),
        "REG-T002",
        "members",
        "`set[str]` has no fields",
        "fields are read from records and maps",
    ),
    Case(
        "field of a list",
        src("  require resources.id != null"),
        "REG-T002",
        "id",
        "`list[Resource]` has no fields",
        "fields are read from records and maps; use `[…]` for a list position",
    ),
    Case(
        "unknown name",
        src("  require r.country in euu"),
        "REG-T001",
        "euu",
        "unknown name `euu`",
        "did you mean `eu`?",
    ),
    Case(
        "function used as a name",
        src("  require len > 0"),
        "REG-T001",
        "len",
        "unknown name `len`",
        "`len` is a function: call it as `len(…)`",
    ),
    Case(
        "unknown function",
        src("  require lenght(r.name) > 3"),
        "REG-T005",
        "lenght",
        "unknown function `lenght`",
        "did you mean `len`?",
    ),
    Case(
        "too many arguments",
        src("  require len(r.name, 1) > 1"),
        "REG-T004",
        "len(r.name, 1)",
        "`len` takes 1 argument, got 2",
        BUILTINS["len"].signature,
    ),
    Case(
        "too few arguments",
        src("  require startswith(r.name)"),
        "REG-T004",
        "startswith(r.name)",
        "`startswith` takes 2 arguments, got 1",
        BUILTINS["startswith"].signature,
    ),
    Case(
        "argument of the wrong type",
        src("  require matches(r.name, 1)"),
        "REG-T004",
        "matches(r.name, 1)",
        "`matches` argument 2 must be `str`, got `int`",
        BUILTINS["matches"].signature,
    ),
    Case(
        "len of a number",
        src("  require len(1) > 0"),
        "REG-T004",
        "len(1)",
        "`len` argument 1 must be a string or a collection, got `int`",
        BUILTINS["len"].signature,
    ),
    Case(
        "aggregate called with two arguments",
        src("  require count(r.labels, 1) > 0"),
        "REG-T004",
        "count(r.labels, 1)",
        "`count` takes a collection, or `x in xs: …`",
        "for example `count(x in xs: …)`",
    ),
    Case(
        "a bool compared with the string true",
        src('  require r.vital == "true"'),
        "REG-T003",
        'r.vital == "true"',
        "comparing `bool` with `str` is always false",
        '`"true"` is a string; write `true` without quotes for the boolean',
    ),
    Case(
        "a string compared with a number",
        src("  require r.name != 1"),
        "REG-T003",
        "r.name != 1",
        "comparing `str` with `int` is always true",
        None,
    ),
    Case(
        "== where `in` was meant",
        src('  require r.classification == {"BBN2", "BBN3"}'),
        "REG-T003",
        'r.classification == {"BBN2", "BBN3"}',
        "comparing `str` with `set[str]` is always false",
        None,
    ),
    Case(
        "ordering a string and a number",
        src("  require r.name > 1"),
        "REG-T003",
        "r.name > 1",
        "`>` compares two numbers or two strings, got `str` and `int`",
        None,
    ),
    Case(
        "require of a string",
        src("  require r.name"),
        "REG-T003",
        "r.name",
        "a condition must be `bool`, got `str`",
        'compare it, for example `x != null` or `x == "value"`',
    ),
    Case(
        "where of a map",
        src("  where r.labels\n  require true"),
        "REG-T003",
        "r.labels",
        "a condition must be `bool`, got `map[str, str]`",
        'compare it, for example `x != null` or `x == "value"`',
    ),
    Case(
        "not of a string",
        src("  require not r.name"),
        "REG-T003",
        "r.name",
        "`not` takes a `bool`, got `str`",
        None,
    ),
    Case(
        "and of a string",
        src("  require r.name and r.vital"),
        "REG-T003",
        "r.name",
        "`and` takes `bool` operands, got `str`",
        "compare it, for example `x != null`",
    ),
    Case(
        "in on a number",
        src("  require r.name in 5"),
        "REG-T003",
        "5",
        "`in` needs a collection on the right, got `int`",
        "a list, a set, a map (its keys) or a string",
    ),
    Case(
        "in a list of another type",
        src('  require 1 in ["a"]'),
        "REG-T003",
        '1 in ["a"]',
        "`int` can never be in `list[str]`",
        None,
    ),
    Case(
        "substring search for a number",
        src("  require 1 in r.name"),
        "REG-T003",
        "1",
        "`in` on a string looks for a substring, got `int`",
        None,
    ),
    Case(
        "adding a string to a number",
        src('  require 1 + "a" > 0'),
        "REG-T003",
        '1 + "a"',
        "`+` does not apply to `int` and `str`",
        "arithmetic takes numbers; `+` also joins two strings or two lists",
    ),
    Case(
        "negating a string",
        src("  require -r.name < 0"),
        "REG-T003",
        "r.name",
        "`-` takes a number, got `str`",
        None,
    ),
    Case(
        "?? default of another type",
        src("  require (r.name ?? 1) != null"),
        "REG-T003",
        "1",
        "`??` default is `int`, but the value is `str`",
        None,
    ),
    Case(
        "map key of the wrong type",
        src('  require r.labels[1] == "x"'),
        "REG-T003",
        "1",
        "key of `map[str, str]` must be `str`, got `int`",
        None,
    ),
    Case(
        "indexing a string",
        src('  require r.name[0] == "a"'),
        "REG-T003",
        "r.name[0]",
        "cannot index `str`",
        "`[…]` reads a map by key or a list by position",
    ),
    Case(
        "count of a collection of a string",
        src("  require count(r.name) > 1"),
        "REG-T003",
        "r.name",
        "`count` needs a collection, got `str`",
        None,
    ),
    Case(
        "count with a body that is not a condition",
        src("  require count(x in [1, 2]: x) > 0"),
        "REG-T003",
        "x",
        "`count` needs a condition, got `int`",
        "for example `count(x in xs: x.vital)`",
    ),
    Case(
        "sum of strings",
        src("  require sum(x in resources: x.name) > 1"),
        "REG-T003",
        "x.name",
        "`sum` adds numbers, got `str`",
        None,
    ),
    Case(
        "max of booleans",
        src("  require max(x in resources: x.vital)"),
        "REG-T003",
        "x.vital",
        "`max` compares numbers or strings, got `bool`",
        None,
    ),
]


@pytest.mark.parametrize("case", EXPRESSION_ERRORS, ids=_ids(EXPRESSION_ERRORS))
def test_expression_error(case: Case, schema: Schema) -> None:
    assert_one(case, schema)


def test_unknown_function_with_a_bound_variable(schema: Schema) -> None:
    """`f(x in xs: …)` parses as an aggregate whatever `f` is; an unknown `f` is still unknown."""
    diags = diagnostics(src("  require frobnicate(x in resources: x.vital)"), schema)
    assert [(d.code, d.span.snippet(), d.message) for d in diags] == [
        ("REG-T005", "frobnicate", "unknown function `frobnicate`")
    ], render_all(diags)


def test_builtin_that_binds_no_variable_called_with_one(schema: Schema) -> None:
    """`distinct` takes a collection; `distinct(x in rs: x.provider)` is a mistake, not a `str`."""
    diags = diagnostics(src('  require distinct(x in resources: x.provider) == "aws"'), schema)
    assert [d.code for d in diags] == ["REG-T004"], render_all(diags)
    assert diags[0].span.snippet().startswith("distinct(")


PATTERNS = [
    ("matches", "^(prod|test", "invalid regular expression: "),
    ("matches", "(?=lookahead)", "invalid regular expression: "),
    ("matches", "a{2,1}", "invalid regular expression: "),
    ("glob", "[z-a]", "invalid glob: "),
]


@pytest.mark.parametrize(("func", "pattern", "prefix"), PATTERNS, ids=[p for _, p, _ in PATTERNS])
def test_invalid_pattern_is_reported_at_the_literal(
    func: str, pattern: str, prefix: str, schema: Schema
) -> None:
    diags = diagnostics(src(f'  require {func}(r.name, "{pattern}")'), schema)
    assert len(diags) == 1, render_all(diags)
    (d,) = diags
    assert (d.code, d.span.snippet()) == ("REG-T006", f'"{pattern}"')
    assert d.message.startswith(prefix)
    assert (d.span.line, d.span.column) == (5, 11 + len(func) + len("(r.name, "))


def test_invalid_regex_message_is_plain_text(schema: Schema) -> None:
    (d,) = diagnostics(src('  require matches(r.name, "^(prod|test")'), schema)
    # RE2's reason, as text: not the repr of a bytes object (`b'missing ): …'`).
    assert d.message == "invalid regular expression: missing ): ^(prod|test"


def test_patterns_that_are_not_literals_are_checked_at_run_time(schema: Schema) -> None:
    checked(src('  require matches(r.name, r.type ?? "x") and glob(r.name, "[a-z]*")'), schema)


# --- steps ---------------------------------------------------------------------------------

STEP_ERRORS = [
    Case(
        "first for over something else than a root",
        src("  require true", root="eu"),
        "REG-T003",
        "eu",
        "a policy starts by iterating a root collection",
        "for example `for r in resources`; roots are `resources`",
    ),
    Case(
        "iterating a string",
        src("  for x in r.name\n  require true"),
        "REG-T003",
        "r.name",
        "cannot iterate over `str`",
        "`for` walks a list, a set, or the keys of a map",
    ),
    Case(
        "let shadows the item",
        src("  let r = 1\n  require true"),
        "REG-P005",
        "let r = 1",
        "`r` is already a variable",
        "choose another name",
    ),
    Case(
        "let shadows a global",
        src("  let eu = 1\n  require true"),
        "REG-P005",
        "let eu = 1",
        "`eu` is already a global",
        "choose another name",
    ),
    Case(
        "nested for reuses the item name",
        src("  for r in r.labels\n  require true"),
        "REG-P005",
        "for r in r.labels",
        "`r` is already a variable",
        "choose another name",
    ),
    Case(
        "aggregate variable shadows the item",
        src("  require any(r in resources: r.vital)"),
        "REG-P005",
        "any(r in resources: r.vital)",
        "`r` is already defined",
        "choose another name",
    ),
    Case(
        "grouping twice",
        src("  group by r.service as s into rs\n  group by s as n into ns\n  require true"),
        "REG-P005",
        "group by s as n into ns",
        "a policy groups at most once",
        None,
    ),
]


@pytest.mark.parametrize("case", STEP_ERRORS, ids=_ids(STEP_ERRORS))
def test_step_error(case: Case, schema: Schema) -> None:
    assert_one(case, schema)


# --- parameters ----------------------------------------------------------------------------

PARAM_ERRORS = [
    Case(
        "default of the wrong type",
        src("  require true", params='  param max_share: float = "80%"\n'),
        "REG-T007",
        '"80%"',
        "default of `max_share` is `str`, expected `float`",
        None,
    ),
    Case(
        "set default of the wrong element type",
        src("  require true", params="  param levels: set[str] = {1, 2}\n"),
        "REG-T007",
        "{1, 2}",
        "default of `levels` is `set[int]`, expected `set[str]`",
        None,
    ),
    Case(
        "non-constant default",
        src("  require true", params="  param limit: int = 1 + 2\n"),
        "REG-T007",
        "1 + 2",
        "a parameter default must be a constant",
        "use literals: numbers, strings, lists, sets and maps of them",
    ),
    Case(
        "unknown type",
        src("  require true", params='  param levels: sett[str] = {"a"}\n'),
        "REG-T003",
        "sett[str]",
        "unknown type `sett`",
        "did you mean `set`?",
    ),
    Case(
        "collection type without its element type",
        src("  require true", params="  param xs: list = []\n"),
        "REG-T003",
        "list",
        "`list` takes one type in brackets",
        "for example `set[str]` or `map[str, float]`",
    ),
    Case(
        "type argument on a scalar",
        src("  require true", params='  param x: str[int] = "a"\n'),
        "REG-T003",
        "str[int]",
        "`str` takes no type arguments",
        None,
    ),
    Case(
        "duplicate parameter",
        src("  require true", params="  param x: int = 1\n  param x: int = 2\n"),
        "REG-P005",
        "param x: int = 2",
        "parameter `x` is declared twice",
        None,
    ),
    Case(
        "parameter named like a global",
        src("  require true", params='  param eu: set[str] = {"NL"}\n'),
        "REG-P005",
        'param eu: set[str] = {"NL"}',
        "parameter `eu` hides the global `eu`",
        "choose another name",
    ),
]


@pytest.mark.parametrize("case", PARAM_ERRORS, ids=_ids(PARAM_ERRORS))
def test_param_error(case: Case, schema: Schema) -> None:
    assert_one(case, schema)


def test_a_default_naming_another_value_is_one_error(schema: Schema) -> None:
    """`param limit: int = other` is one mistake (a non-constant default), not also an unknown name."""
    diags = diagnostics(src("  require true", params="  param limit: int = other\n"), schema)
    assert [(d.code, d.span.snippet()) for d in diags] == [("REG-T007", "other")], render_all(diags)


def test_parameter_types_and_defaults(schema: Schema) -> None:
    params = (
        '  param levels: set[str] = {"BBN2", "BBN3"}\n'
        '  param shares: map[str, float] = {"aws": 1}\n'
        "  param max_share: float = 1\n"  # an int fits a float
        "  param floor: int = -3\n"
        "  param strict: bool = false\n"
    )
    policy = checked(
        src("  require r.classification in levels and floor < 0 and not strict", params=params), schema
    )
    assert dict(policy.param_types) == {
        "levels": SetType(STR),
        "shares": MapType(STR, FLOAT),
        "max_share": FLOAT,
        "floor": INT,
        "strict": BOOL,
    }
    assert policy.param_defaults["floor"] == A.Literal(value=-3)
    assert policy.param_defaults["levels"] == A.SetLit(
        items=(A.Literal(value="BBN2"), A.Literal(value="BBN3"))
    )


def test_empty_braces_are_an_empty_set_default(schema: Schema) -> None:
    """`{}` is both the empty map and the empty set; as a `set[str]` default it is the set."""
    policy = checked(src("  require r.name in levels", params="  param levels: set[str] = {}\n"), schema)
    assert policy.param_types["levels"] == SetType(STR)
    assert isinstance(policy.param_defaults["levels"], A.SetLit)


# --- metadata ------------------------------------------------------------------------------

META_ERRORS = [
    Case(
        "unknown key with a suggestion",
        src("  require true", head=HEAD + "  severty high\n"),
        "REG-P003",
        "severty high",
        "unknown metadata key `severty`",
        "did you mean `severity`?",
    ),
    Case(
        "unknown key without a close match",
        src("  require true", head=HEAD + "  colour red\n"),
        "REG-P003",
        "colour red",
        "unknown metadata key `colour`",
        None,
    ),
    Case(
        "suffix on a key that takes none",
        src("  require true", head=HEAD + '  source.en "x"\n'),
        "REG-P003",
        'source.en "x"',
        "unknown metadata key `source.en`",
        "only `title`, `description` and `enforce` take a `.suffix`",
    ),
    Case(
        "bad severity",
        src("  require true", head=HEAD + "  severity hihg\n"),
        "REG-P003",
        "hihg",
        "`hihg` is not a valid `severity`",
        "did you mean `high`?",
    ),
    Case(
        "bad enforce",
        src("  require true", head=HEAD + "  enforce block\n"),
        "REG-P003",
        "block",
        "`block` is not a valid `enforce`",
        "one of advisory, warn, deny",
    ),
    Case(
        "bad enforce in a context",
        src("  require true", head=HEAD + "  enforce.ci denny\n"),
        "REG-P003",
        "denny",
        "`denny` is not a valid `enforce.ci`",
        "did you mean `deny`?",
    ),
    Case(
        "unknown enforcement context",
        src("  require true", head=HEAD + "  enforce.prod deny\n"),
        "REG-P003",
        "enforce.prod deny",
        "unknown enforcement context `prod`",
        "contexts are ci, admission, audit",
    ),
    Case(
        "bad unknown mode",
        src("  require true", head=HEAD + "  unknown maybe\n"),
        "REG-P003",
        "maybe",
        "`maybe` is not a valid `unknown`",
        "one of report, violation, pass",
    ),
    Case(
        "bad basis",
        src("  require true", head=HEAD + "  basis guessed\n"),
        "REG-P003",
        "guessed",
        "`guessed` is not a valid `basis`",
        "one of verified, secondary, inferred",
    ),
    Case(
        "duplicate key",
        src("  require true", head=HEAD + "  severity high\n  severity low\n"),
        "REG-P003",
        "severity low",
        "`severity` is given twice",
        "first given at p.regie:4:3",
    ),
    Case(
        "duplicate context override",
        src("  require true", head=HEAD + "  enforce.ci deny\n  enforce.ci warn\n"),
        "REG-P003",
        "enforce.ci warn",
        "`enforce.ci` is given twice",
        "first given at p.regie:4:3",
    ),
    Case(
        "two values for a single-valued key",
        src("  require true", head=HEAD + "  severity high, low\n"),
        "REG-P003",
        "severity high, low",
        "`severity` takes one value, got 2",
        None,
    ),
    Case(
        "unquoted list value",
        src("  require true", head=HEAD + "  tags cloud\n"),
        "REG-P003",
        "cloud",
        "`tags` takes strings",
        'write `"cloud"`',
    ),
    Case(
        "unquoted translation",
        src("  require true", head=HEAD + "  title.en Data\n"),
        "REG-P003",
        "Data",
        "`title.en` takes a string",
        'write `"Data"`',
    ),
    Case(
        "missing title",
        src("  require true", head='  source "s"\n'),
        "REG-P003",
        "p",
        "policy `p` has no `title`",
        'every policy names what it enforces: `title "…"` and `source "document, section"`',
    ),
    Case(
        "missing source",
        src("  require true", head='  title "t"\n'),
        "REG-P003",
        "p",
        "policy `p` has no `source`",
        'every policy names what it enforces: `title "…"` and `source "document, section"`',
    ),
]


@pytest.mark.parametrize("case", META_ERRORS, ids=_ids(META_ERRORS))
def test_metadata_error(case: Case, schema: Schema) -> None:
    assert_one(case, schema)


def test_an_unquoted_title_is_one_error(schema: Schema) -> None:
    """The title is there, only unquoted: say that, and not also that it is missing."""
    diags = diagnostics(src("  require true", head='  title Data\n  source "s"\n'), schema)
    assert [(d.code, d.span.snippet(), d.message) for d in diags] == [
        ("REG-P003", "Data", "`title` takes a string")
    ], render_all(diags)


def test_metadata_is_read(schema: Schema) -> None:
    head = (
        '  title "Gegevens in de EU"\n'
        '  title.en "Data in the EU"\n'
        '  description "Long text"\n'
        '  source "Cloud policy 2022, section 3"\n'
        '  requirement "CLOUD-01", "CSBN-01"\n'
        '  tags "sovereignty", "location"\n'
        "  severity critical\n"
        "  enforce deny\n"
        "  enforce.audit advisory\n"
        "  enforce.ci warn\n"
        "  unknown violation\n"
        "  basis verified\n"
    )
    meta = checked(src("  require true", head=head), schema).meta
    assert meta.title == "Gegevens in de EU"
    assert meta.titles == {"en": "Data in the EU"}
    assert meta.description == "Long text"
    assert meta.source == "Cloud policy 2022, section 3"
    assert meta.requirements == ("CLOUD-01", "CSBN-01")
    assert meta.tags == ("sovereignty", "location")
    assert meta.severity == "critical"
    assert (meta.unknown, meta.basis) == ("violation", "verified")
    assert meta.enforce == "deny"
    assert meta.enforce_by_context == {"audit": "advisory", "ci": "warn"}


@pytest.mark.parametrize(
    ("context", "level"), [(None, "deny"), ("ci", "warn"), ("audit", "advisory"), ("admission", "deny")]
)
def test_enforce_context_overrides(context: str | None, level: str, schema: Schema) -> None:
    head = HEAD + "  enforce deny\n  enforce.ci warn\n  enforce.audit advisory\n"
    assert checked(src("  require true", head=head), schema).meta.enforcement(context) == level


def test_metadata_defaults(schema: Schema) -> None:
    meta = checked(src("  require true"), schema).meta
    assert (meta.severity, meta.enforce, meta.unknown, meta.basis) == ("medium", "warn", "report", None)
    assert meta.enforcement("ci") == "warn"
    assert (meta.requirements, meta.tags, meta.titles) == ((), (), {})


# --- the checked tree ----------------------------------------------------------------------


def test_the_checked_policy_is_annotated_with_types(schema: Schema) -> None:
    policy = checked(src('  let n = len(r.name ?? "")\n  require n > 2 and r.vital'), schema)
    assert policy.root == "resources"
    let, require = policy.policy.steps[1], policy.policy.steps[2]
    assert isinstance(let, A.Let) and isinstance(require, A.Require)
    assert let.value.ty == INT
    assert isinstance(require.cond, A.Logical)
    assert require.cond.ty == BOOL
    assert isinstance(require.cond.right, A.Field)
    assert require.cond.right.ty == BOOL
    assert require.cond.right.obj.ty is not None and str(require.cond.right.obj.ty) == "Resource"


WELL_TYPED = [
    '  require r.labels.team == "platform"',  # map fields are map lookups
    '  require r.labels["team"] ?? "" != ""',
    "  require r.attributes.versioning[0].enabled == true",  # native data is `any`
    '  require "prod" in r.name',  # substring
    '  require r.country in eu and r.provider in {"aws", "azurerm"}',
    '  for k in r.labels\n  require startswith(k, "x")',  # iterating a map yields its keys
    "  let p = providers[r.provider]\n  require p.parent_jurisdiction in eu",
    "  require count(x in resources: x.service == r.service) >= 1",
    "  require r.vital == true or r.vital == null",
]


@pytest.mark.parametrize("body", WELL_TYPED, ids=[b.strip() for b in WELL_TYPED])
def test_well_typed_policy_checks(body: str, schema: Schema) -> None:
    checked(src(body), schema)


def test_the_quickstart_policies_check(quickstart: Path) -> None:
    text = (quickstart / "policies" / "sovereignty.regie").read_text(encoding="utf-8")
    module = parse_module(Source("sovereignty.regie", text))
    assert not isinstance(module, list), render_all(module)
    result = PolicySet.build([module])
    assert not isinstance(result, list), render_all(result)
    assert len(result.policies) == 4
    assert len(result.tests) == 7


# --- group by ------------------------------------------------------------------------------


def test_the_item_is_out_of_scope_after_group_by(schema: Schema) -> None:
    (d,) = diagnostics(src("  group by r.service as s into rs\n  require r.name != null"), schema)
    assert (d.code, d.span.snippet(), d.span.line) == ("REG-T001", "r", 6)
    assert d.message == "`r` is a per-item name, and those end at `group by`"
    assert d.help == "after grouping, walk the group's members: `any(x in rs: …)`"


def test_a_let_before_group_by_is_out_of_scope_after_it(schema: Schema) -> None:
    body = "  let p = r.provider\n  group by r.service as s into rs\n  require p != null"
    (d,) = diagnostics(src(body), schema)
    assert (d.code, d.span.snippet()) == ("REG-T001", "p")
    assert d.message == "`p` is a per-item name, and those end at `group by`"


def test_group_names_are_in_scope_after_group_by(schema: Schema) -> None:
    body = (
        "  let p = r.provider\n"
        "  group by r.service as s into rs\n"
        "  let top = most_common(x in rs: x.provider)\n"
        '  require s != "" and share(x in rs: x.provider == top) < 0.8 and rs[0].vital != false'
    )
    checked(src(body), schema)


def test_the_member_list_has_the_item_type(schema: Schema) -> None:
    (d,) = diagnostics(src("  group by r.service as s into rs\n  require rs[0].nmae != null"), schema)
    assert (d.code, d.span.snippet(), d.message) == ("REG-T002", "nmae", "`Resource` has no field `nmae`")
    assert d.help == "did you mean `name`?"


def test_the_member_list_has_the_innermost_item_type(schema: Schema) -> None:
    body = "  for k in r.labels\n  group by k as key into ks\n  require ks[0] == 1"
    (d,) = diagnostics(src(body), schema)
    assert (d.code, d.message) == ("REG-T003", "comparing `str` with `int` is always false")


def test_the_group_name_has_the_key_type(schema: Schema) -> None:
    (d,) = diagnostics(src('  group by r.vital as v into rs\n  require v == "yes"'), schema)
    assert (d.code, d.span.snippet(), d.message) == (
        "REG-T003",
        'v == "yes"',
        "comparing `bool` with `str` is always false",
    )


# --- selector ------------------------------------------------------------------------------

SELECTORS: list[tuple[str, Selector]] = [
    ('  where r.kind == "storage"', Selector(kinds=frozenset({"storage"}))),
    (
        '  where r.type in {"aws_s3_bucket", "aws_db_instance"}',
        Selector(types=frozenset({"aws_s3_bucket", "aws_db_instance"})),
    ),
    ('  where r.type in ["a", "b"]', Selector(types=frozenset({"a", "b"}))),
    ('  where r.kind == "k" and r.type == "t"', Selector(kinds=frozenset({"k"}), types=frozenset({"t"}))),
    ('  where r.type in ["a", "b"]\n  where r.type == "a"', Selector(types=frozenset({"a"}))),  # intersected
    ('  let n = r.name\n  where r.kind == "k"', Selector(kinds=frozenset({"k"}))),  # a let changes nothing
    ('  where r.kind == "a" or r.kind == "b"', Selector()),  # a disjunction is not narrowed
    ('  where r.kind in {"a", r.name}', Selector()),  # not all literals
    ('  where r.kind != "k"', Selector()),
    ('  where r.name == "k"', Selector()),  # neither kind nor type
    ('  for l in r.labels\n  where r.kind == "k"', Selector()),  # after a nested for: ignored
    ('  group by r.service as s into rs\n  where s == "k"', Selector()),
    ("", Selector()),
]


@pytest.mark.parametrize(
    ("wheres", "selector"), SELECTORS, ids=[w.strip() or "no where" for w, _ in SELECTORS]
)
def test_selector(wheres: str, selector: Selector, schema: Schema) -> None:
    body = f"{wheres}\n  require true" if wheres else "  require true"
    assert checked(src(body), schema).selector == selector


# --- all errors at once, sorted, without cascades -------------------------------------------


def test_all_errors_are_reported_at_once_sorted_by_position(schema: Schema) -> None:
    text = (
        "policy p {\n"  # 1: no title (found last, reported first)
        '  source "s"\n'
        "  severity hihg\n"  # 3
        '  param max_share: float = "high"\n'  # 4
        "  for r in resources\n"
        "  where r.clasification in levels\n"  # 6: two errors on one line
        "  require lenn(r.name) > 1\n"  # 7
        '  message "{r.nmae}"\n'  # 8
        "}\n"
    )
    diags = diagnostics(text, schema)
    assert [(d.code, d.span.location(), d.span.snippet()) for d in diags] == [
        ("REG-P003", "p.regie:1:8", "p"),
        ("REG-P003", "p.regie:3:12", "hihg"),
        ("REG-T007", "p.regie:4:28", '"high"'),
        ("REG-T002", "p.regie:6:11", "clasification"),
        ("REG-T001", "p.regie:6:28", "levels"),
        ("REG-T005", "p.regie:7:11", "lenn"),
        ("REG-T002", "p.regie:8:15", "nmae"),
    ], render_all(diags)


def test_policy_set_reports_every_policy_of_every_file_sorted(schema: Schema) -> None:
    b = src("  require r.nmae != null").replace("policy p", "policy b")
    a = src("  require r.knd != null\n  require lenn(1) > 0").replace("policy p", "policy a")
    modules = [parse_module(Source(name, text)) for name, text in (("b.regie", b), ("a.regie", a))]
    assert all(isinstance(m, A.Module) for m in modules)
    result = PolicySet.build([m for m in modules if isinstance(m, A.Module)], schema=schema)
    assert isinstance(result, list)
    assert [d.span.location() for d in result] == ["a.regie:5:13", "a.regie:6:11", "b.regie:5:13"]


def test_a_policy_defined_twice(schema: Schema) -> None:
    first, second = src("  require true"), src("  require true")
    modules = [parse_module(Source("a.regie", first)), parse_module(Source("b.regie", second))]
    result = PolicySet.build([m for m in modules if isinstance(m, A.Module)], schema=schema)
    assert isinstance(result, list)
    (d,) = result
    assert (d.code, d.span.location(), d.span.snippet()) == ("REG-P005", "b.regie:1:8", "p")
    assert d.message == "policy `p` is defined twice"
    assert d.help == "first defined at a.regie:1:8"


NO_CASCADE = [
    # (body, code, underline): one typo, one error, however often its result is used
    ('  require r.clasification.level.name == "x"', "REG-T002", "clasification"),
    (
        '  let x = r.nmae\n  require x == "a" and len(x) > 1 and x in ["a"] and x + 1 > 2 and not x\n'
        '  message "{x} {x.y}"',
        "REG-T002",
        "nmae",
    ),
    (
        "  let p = provders[r.provider]\n"
        "  require p.parent_jurisdiction in eu\n"
        '  message "{p.name ?? r.name}"',
        "REG-T001",
        "provders",
    ),
    ('  require lenn(r.name) + 1 > "x"', "REG-T005", "lenn"),
    ("  require count(x in resourcs: x.vital) > 1", "REG-T001", "resourcs"),
    ('  group by r.servce as s into rs\n  require count(rs) > 1 and s != ""', "REG-T002", "servce"),
    ('  for l in r.lables\n  require l != "" and startswith(l, "x")', "REG-T002", "lables"),
]


@pytest.mark.parametrize(("body", "code", "underline"), NO_CASCADE, ids=[u for _, _, u in NO_CASCADE])
def test_one_typo_gives_one_error(body: str, code: str, underline: str, schema: Schema) -> None:
    diags = diagnostics(src(body), schema)
    assert [(d.code, d.span.snippet()) for d in diags] == [(code, underline)], render_all(diags)
