"""Differential tests: the compiled forms mean what the reference interpreter means.

Hypothesis writes random *well-typed* policies over the real fact schema (as
source text, so the parser, builder and checker are on the path too) and random
worlds (resources with null, unknown, empty and odd values; nested native
attributes; random catalogues and parameters). For each pair it checks that

- :func:`regie.dsl.interp.run_policy`, the generated function of
  :func:`regie.dsl.codegen.generate_policy` (what :func:`compile_policy` runs) and the
  closures alone (``compile_policy(..., generate=False)``) give the same findings
  (outcome, target, item, message, evidence, reason and resource);
- running the compiled policy on the roots the kind index picks
  (``Inventory.select(checked.selector)``) gives the same findings as running it on
  every resource (the index only skips resources that cannot produce a finding);
- no evaluator raises (evaluation is total).

:func:`regie.dsl.compile.compile_expr` (closures),
:func:`regie.dsl.codegen.generate_expr` (generated code) and
:func:`regie.dsl.interp.eval_expr` are compared on random expressions the same way.

The generator mirrors the checker's type rules closely enough that almost every
program checks; the few that do not are discarded with ``assume``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from regie.dsl import ast
from regie.dsl.build import parse_module
from regie.dsl.builtins import EvalContext
from regie.dsl.check import CheckedPolicy, check_policy
from regie.dsl.codegen import generate_expr
from regie.dsl.compile import compile_expr, compile_policy
from regie.dsl.interp import eval_expr, run_policy
from regie.dsl.runtime import Finding, RunContext
from regie.dsl.source import Source
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import VIOLATION_ROWS, as_violations, to_violations, violation_rows
from regie.engine.facts import FACT_FIELDS, Inventory, Resource
from regie.engine.schema import fact_schema
from regie.engine.violations import Violation

TODAY = dt.date(2026, 1, 15)

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- the world ---------------------------------------------------------------------------

PROVIDERS = ["aws", "hcloud", "ovh", "azurerm"]
REGION_NAMES = ["eu-central-1", "fsn1", "GRA11", "westeurope"]
REGION_KEYS = ["aws/eu-central-1", "hcloud/fsn1", "ovh/GRA11", "azurerm/westeurope"]
COUNTRIES = ["NL", "DE", "US", "FR", "GB"]
KINDS = ["storage", "compute", "database"]
TYPES = ["aws_s3_bucket", "apps/v1/Deployment"]
SERVICES = ["payments", "web"]
LEVELS = ["BBN1", "BBN2", "BBN3"]
LABEL_KEYS = ["env", "service", "app.kubernetes.io/part-of", ""]
ATTR_KEYS = ["a", "b", "l", "n", "s", "ok", "name", "cs", "p"]
ODD = ["", " ", "a b", "Ünïcødé", "null", "true", "1", "a\nb", '"q"', "{x}", "*", "\\"]

UNKNOWNS = st.sampled_from([Unknown("known after apply"), Unknown("not in the catalogue")])


def _text_from(pool: list[str]) -> st.SearchStrategy[Any]:
    """A pool value (so that lookups and groups hit), or null, unknown, or an odd string."""
    return st.one_of(
        st.sampled_from(pool),
        st.none(),
        UNKNOWNS,
        st.sampled_from(ODD),
        st.text(max_size=3),
    )


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.0, -0.0, 0.5, 1.5, 2.0, 1e308, math.inf, -math.inf, math.nan]),
    st.sampled_from([2**63, 10**400]),
    st.sampled_from([*PROVIDERS, *COUNTRIES, *KINDS, *ODD, "2025-12-31", "^a", "a*", "[", "a,b"]),
    UNKNOWNS,
)

_NATIVE = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.sampled_from(ATTR_KEYS), children, max_size=3)
    ),
    max_leaves=8,
)


_IDS = st.sampled_from(["", "", "a/b#c", "Ünï"])
_LABELS = st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(["", "web", "prod", "x"]), max_size=3)
_ATTRIBUTES = st.dictionaries(st.sampled_from(ATTR_KEYS), _NATIVE, max_size=4)
_FIELDS = {
    "kind": _text_from(KINDS),
    "type": _text_from(TYPES),
    "name": _text_from(["web", "db"]),
    "address": _text_from(["aws_s3_bucket.logs", "module.net.aws_vpc.main[0]"]),
    "source": _text_from(["terraform:prod.tfstate"]),
    "provider": _text_from(PROVIDERS),
    "region": _text_from(REGION_NAMES),
    "country": _text_from(COUNTRIES),
    "service": _text_from(SERVICES),
    "classification": _text_from(LEVELS),
    "vital": st.one_of(st.booleans(), st.none(), UNKNOWNS),
    "exit_plan": _text_from(["docs/exit.md"]),
    "labels": _LABELS,
    "attributes": _ATTRIBUTES,
}


@st.composite
def resources(draw: st.DrawFn) -> list[Resource]:
    out = []
    for i in range(draw(st.integers(0, 5))):
        ident = draw(_IDS) or f"r{i}"
        out.append(Resource(ident, **{name: draw(strategy) for name, strategy in _FIELDS.items()}))
    return out


_NAMES = st.sampled_from([*COUNTRIES, "Amazon", "", "Hetzner"])
_CATALOGS = {
    "providers": st.dictionaries(
        st.sampled_from(PROVIDERS),
        st.fixed_dictionaries(
            {"source": st.just("test")},
            optional={
                "name": _NAMES,
                "parent": _NAMES,
                "parent_jurisdiction": st.sampled_from(COUNTRIES),
                "hq_country": st.sampled_from(COUNTRIES),
            },
        ),
    ),
    "regions": st.dictionaries(
        st.sampled_from(REGION_KEYS),
        st.fixed_dictionaries(
            {"source": st.just("test")},
            optional={"country": st.sampled_from(COUNTRIES), "provider": st.sampled_from(PROVIDERS)},
        ),
    ),
    "countries": st.dictionaries(
        st.sampled_from(COUNTRIES),
        st.fixed_dictionaries({"source": st.just("test")}, optional={"eu": st.booleans(), "name": _NAMES}),
    ),
}


@st.composite
def catalogs(draw: st.DrawFn) -> dict[str, Any]:
    """Catalogue globals (``providers``, ``regions``, ``countries``, …, and ``eu``)."""
    cats = Catalogs()
    for name, strategy in _CATALOGS.items():
        cats.merge(name, draw(strategy), "test")
    return cats.globals()


PARAMS = {
    "levels": ("set[str]", '{"BBN2", "BBN3"}'),
    "limit": ("float", "0.5"),
    "n": ("int", "2"),
    "tag": ("str", '"web"'),
}


@st.composite
def param_values(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "levels": draw(st.frozensets(st.sampled_from(LEVELS))),
        "limit": draw(st.sampled_from([0.0, 0.5, 0.8, 1.0, 2])),
        "n": draw(st.integers(-1, 3)),
        "tag": draw(st.sampled_from(["web", "", "prod"])),
    }


# --- well-typed programs -----------------------------------------------------------------

# Generator types, named as the checker prints them.
BOOL, INT, FLOAT, STR, ANY = "bool", "int", "float", "str", "any"
LIST_STR, SET_STR, MAP_STR, LIST_ANY = "list[str]", "set[str]", "map[str, str]", "list[any]"
RES, LIST_RES = "Resource", "list[Resource]"
PROVIDER, REGION, COUNTRY = "Provider", "Region", "Country"

ELEMENT = {LIST_RES: RES, LIST_STR: STR, SET_STR: STR, MAP_STR: STR, ANY: ANY, LIST_ANY: ANY}
RECORD_FIELDS: dict[str, dict[str, str]] = {
    RES: {name: ty for name, ty, _ in FACT_FIELDS},  # the fact model names types as the checker does
    PROVIDER: {name: STR for name in ("name", "parent", "parent_jurisdiction", "hq_country", "source")},
    REGION: {name: STR for name in ("name", "provider", "country", "city")},
    COUNTRY: {"name": STR, "eu": BOOL, "eea": BOOL},
}
GLOBALS = {"resources": LIST_RES, "today": STR, "eu": SET_STR}
PARAM_TYPES = {"levels": SET_STR, "limit": FLOAT, "n": INT, "tag": STR}
# The catalogues are looked up through the productions PROVIDER, REGION and COUNTRY; as names
# they only appear on the right of `in` and in `keys(providers)`.
BASE_SCOPE = {**GLOBALS, **PARAM_TYPES, "providers": "catalog", "regions": "catalog", "countries": "catalog"}
COLLECTIONS = [LIST_RES, LIST_STR, SET_STR, MAP_STR, ANY, LIST_ANY]
ANY_TYPE = [BOOL, INT, FLOAT, STR, ANY, LIST_STR, SET_STR, RES]

STRINGS = [*PROVIDERS, *KINDS, *COUNTRIES, *LEVELS, *REGION_KEYS, "", "web", "a b", "Ünï", "true", "1"]
REGEXES = ["^a", "s$", "a.c", "^[a-z]+$", "(eu|us)-", r"\d+", "", "é", ".*", "a{2}", "^$"]
GLOBS = ["*", "a*", "*-1", "?", "[ab]*", "[!a]*", "eu-*-?", "", "*.io/*"]


def quote(text: str) -> str:
    """``text`` as a Regie string literal."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\t", "\\t")
        .replace("{", "\\{")
        .replace("}", "\\}")
    )
    return f'"{escaped}"'


@dataclass
class ProgramGen:
    """Draws well-typed expression text of a wanted type over a scope of typed names."""

    draw: st.DrawFn
    counter: int = 0
    in_hole: bool = False  # message holes cannot hold `{…}` literals

    def pick(self, options: list[Callable[[], str]]) -> str:
        return options[self.draw(st.integers(0, len(options) - 1))]()

    def one(self, options: list[Any]) -> Any:
        return self.draw(st.sampled_from(options))

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def expr(self, ty: str, scope: dict[str, str], depth: int) -> str:
        leaves, composites = self.productions(ty, scope, depth - 1)
        if depth <= 0 or not composites:
            return self.pick(leaves)
        return self.pick(leaves + composites)

    # --- productions per type ------------------------------------------------------------

    def productions(
        self, ty: str, scope: dict[str, str], d: int
    ) -> tuple[list[Callable[[], str]], list[Callable[[], str]]]:
        """Leaves (no recursion) and composites of type ``ty``; simplest first, for shrinking."""
        one = self.one

        def sub(t: str | list[str]) -> str:
            """A sub-expression of type ``t`` (or of one of the types ``t``)."""
            return self.expr(one(t) if isinstance(t, list) else t, scope, d)

        def refs() -> list[Callable[[], str]]:
            return [lambda name=name: name for name in sorted(n for n, t in scope.items() if t == ty)]

        def record_field(want: str) -> list[Callable[[], str]]:
            out: list[Callable[[], str]] = []
            for record, fields in RECORD_FIELDS.items():
                names = sorted(f for f, t in fields.items() if t == want)
                if names:
                    out.append(lambda record=record, names=names: f"{sub(record)}.{one(names)}")
            return out

        def binder(func: str | list[str], body_type: str) -> str:
            coll = one(COLLECTIONS)
            var = self.fresh("x")
            body = self.expr(body_type, {**scope, var: ELEMENT[coll]}, d)
            return f"{one(func) if isinstance(func, list) else func}({var} in {sub(coll)}: {body})"

        no_braces = self.in_hole
        if ty == BOOL:
            return [lambda: one(["true", "false"]), *refs()], [
                *record_field(BOOL),
                lambda: f"(not {sub(BOOL)})",
                lambda: f"({sub(BOOL)} and {sub(BOOL)})",
                lambda: f"({sub(BOOL)} or {sub(BOOL)})",
                lambda: f"({sub(BOOL)} ?? {sub(BOOL)})",
                *[self.comparison(scope, d)] * 4,  # comparisons are most of real policies
                *[self.membership(scope, d)] * 2,
                lambda: f"known({sub(ANY_TYPE)})",
                lambda: f"{one(['startswith', 'endswith'])}({sub(STR)}, {sub([STR, LIST_STR])})",
                lambda: f"matches({sub(STR)}, {quote(one(REGEXES))})",
                lambda: f"glob({sub(STR)}, {quote(one(GLOBS))})",
                lambda: f"{one(['matches', 'glob'])}({sub(STR)}, {sub(STR)})",
                lambda: binder(["any", "all"], BOOL),
                lambda: f"{one(['any', 'all'])}({sub(ANY)})",
                lambda: sub(ANY),  # native data used as a condition
            ]
        if ty == INT:
            return [lambda: str(one([0, 1, 2, -1, 3, 100, 2**40])), *refs()], [
                lambda: f"({sub(INT)} {one(['+', '-', '*', '%'])} {sub(INT)})",
                lambda: f"(-{sub(INT)})",
                lambda: f"({sub(INT)} ?? {sub(INT)})",
                lambda: f"len({sub([STR, LIST_STR, SET_STR, MAP_STR, ANY])})",
                lambda: f"count({sub(COLLECTIONS)})",
                lambda: binder("count", BOOL),
                lambda: binder(["sum", "min", "max"], INT),
                lambda: f"days_since({sub(STR)})",
            ]
        if ty == FLOAT:
            return [lambda: one(["0.0", "0.5", "1.5", "-2.25", "1e3", "0.8"]), *refs()], [
                lambda: binder("share", BOOL),
                lambda: f"({sub(INT)} / {sub(INT)})",
                lambda: f"({sub(FLOAT)} {one(['+', '-', '*', '/', '%'])} {sub([INT, FLOAT])})",
                lambda: f"(-{sub(FLOAT)})",
                lambda: f"({sub(FLOAT)} ?? {sub(FLOAT)})",
                lambda: binder("share", BOOL),
                lambda: f"share({sub(ANY)})",
            ]
        if ty == STR:
            pool = [s for s in STRINGS if s.isalnum()] if no_braces else STRINGS
            return [lambda: quote(one(pool)), *refs()], [
                *record_field(STR),
                lambda: f"{sub(MAP_STR)}[{sub(STR)}]",
                lambda: f"{sub(MAP_STR)}.{one(['env', 'service'])}",
                lambda: f"{sub(LIST_STR)}[{sub(INT)}]",
                lambda: f"({sub(STR)} + {sub(STR)})",
                lambda: f"({sub(STR)} ?? {sub(STR)})",
                lambda: f"{one(['lower', 'upper', 'trim'])}({sub(STR)})",
                lambda: f"string({sub(ANY_TYPE)})",
                lambda: f"percent({sub([FLOAT, INT])})",
                lambda: f"join({sub([LIST_STR, SET_STR, ANY])}, {sub(STR)})",
                lambda: binder(["most_common", "min", "max"], STR),
                lambda: f"{one(['most_common', 'min', 'max'])}({sub(LIST_STR)})",
            ]
        if ty == ANY:
            leaves = refs() or [lambda: f"{self.expr(RES, scope, 0)}.attributes.{one(ATTR_KEYS)}"]
            return leaves, [
                lambda: f"{sub(RES)}.attributes",
                lambda: f"{sub(ANY)}.{one(ATTR_KEYS)}",
                lambda: f"{sub(ANY)}[{quote(one(ATTR_KEYS))}]",
                lambda: f"{sub(ANY)}[{sub(INT)}]",
                lambda: f"({sub(ANY)} {one(['+', '-', '*', '/', '%'])} {sub(ANY)})",
                lambda: f"({sub(ANY)} ?? {sub(ANY_TYPE)})",
                lambda: f"{one(['sum', 'min', 'max', 'most_common'])}({sub(ANY)})",
                lambda: binder("most_common", ANY),
                lambda: f"(-{sub(ANY)})",
            ]
        if ty == LIST_STR:
            return [lambda: "[]", *refs()], [
                lambda: f"[{sub(STR)}, {sub(STR)}]",
                lambda: f"split({sub(STR)}, {sub(STR)})",
                lambda: f"keys({sub(MAP_STR)})",
                lambda: "keys(providers)",
                lambda: f"values({sub(MAP_STR)})",
                lambda: f"distinct({sub(LIST_STR)})",
                lambda: f"({sub(LIST_STR)} + {sub(LIST_STR)})",
            ]
        if ty == SET_STR:
            if no_braces:
                return refs(), []
            literal = st.lists(st.sampled_from(STRINGS), min_size=1, max_size=3)
            return [*refs(), lambda: "{" + ", ".join(quote(s) for s in self.draw(literal)) + "}"], [
                lambda: f"{{{sub(STR)}, {sub(STR)}}}"
            ]
        if ty == MAP_STR:
            leaves = [*refs(), lambda: f"{self.expr(RES, scope, 0)}.labels"]
            if no_braces:
                return leaves, [lambda: f"{sub(RES)}.labels"]
            return leaves, [lambda: f"{sub(RES)}.labels", lambda: f"{{{sub(STR)}: {sub(STR)}}}"]
        if ty == LIST_ANY:
            composites = [
                lambda: f"values({sub(ANY)})",
                lambda: f"keys({sub(ANY)})",
                lambda: f"distinct({sub(ANY)})",
                lambda: f"[{sub(ANY)}, {sub(INT)}, {sub(STR)}]",
            ]
            if not no_braces:
                composites.append(lambda: f'values({{"a": {sub(ANY)}, "b": {sub(INT)}}})')
            return [*refs(), lambda: '[1, "a", null, true]'], composites
        if ty == RES:
            return [*refs(), lambda: "resources[0]"], [lambda: f"{sub(LIST_RES)}[{sub(INT)}]"]
        if ty == LIST_RES:
            return refs(), []
        if ty == PROVIDER:
            return [lambda: f"providers.{one(PROVIDERS)}"], [lambda: f"providers[{sub(STR)}]"]
        if ty == REGION:
            return [lambda: f"regions[{quote(one(REGION_KEYS))}]"], [
                lambda: f"regions[{sub(STR)}]",
                lambda: f'regions[{sub(RES)}.provider + "/" + {sub(RES)}.region]',
            ]
        if ty == COUNTRY:
            return [lambda: f"countries[{quote(one(COUNTRIES))}]"], [lambda: f"countries[{sub(STR)}]"]
        raise AssertionError(ty)

    def comparison(self, scope: dict[str, str], d: int) -> Callable[[], str]:
        one = self.one

        def sub(t: str | list[str]) -> str:
            return self.expr(one(t) if isinstance(t, list) else t, scope, d)

        def make() -> str:
            kind = one(["order", "equal", "null", "any"])
            if kind == "order":
                ty = one([INT, FLOAT, STR, ANY])
                other = {INT: FLOAT, FLOAT: INT}.get(ty, ty)
                return f"({sub(ty)} {one(['<', '<=', '>', '>='])} {sub([ty, other])})"
            op = one(["==", "!="])
            if kind == "null":
                return f"({sub(ANY_TYPE)} {op} null)"
            if kind == "any":
                return f"({sub(ANY)} {op} {sub(ANY_TYPE)})"
            ty = one([BOOL, INT, FLOAT, STR, LIST_STR, SET_STR, RES, MAP_STR])
            return f"({sub(ty)} {op} {sub(ty)})"

        return make

    def membership(self, scope: dict[str, str], d: int) -> Callable[[], str]:
        one = self.one

        def make() -> str:
            op = one(["in", "not in"])
            right = one([SET_STR, LIST_STR, STR, MAP_STR, ANY, "catalog", "literal"])
            left = self.expr(ANY if right == ANY else STR, scope, d)
            if right == "catalog":
                return f"({left} {op} {one(['providers', 'regions', 'countries', 'eu'])})"
            if right == "literal":
                items = self.draw(st.lists(st.sampled_from(STRINGS), max_size=3))
                return f"({left} {op} [{', '.join(quote(s) for s in items)}])"
            return f"({left} {op} {self.expr(right, scope, d)})"

        return make

    # --- policies ------------------------------------------------------------------------

    def clauses(self, scope: dict[str, str], depth: int, lines: list[str]) -> None:
        for _ in range(self.draw(st.integers(0, 2))):
            if self.draw(st.booleans()):
                lines.append(f"  where {self.expr(BOOL, scope, depth)}")
            else:
                ty = self.one([BOOL, INT, FLOAT, STR, ANY, RES, PROVIDER, LIST_STR])
                name = self.fresh("v")
                lines.append(f"  let {name} = {self.expr(ty, scope, depth)}")
                scope[name] = ty

    def selector(self, scope: dict[str, str]) -> str:
        """A condition on ``r.kind`` or ``r.type`` of the shapes the checker turns into a selector."""
        which = self.one(["kind", "type"])
        pool = KINDS if which == "kind" else TYPES
        values = self.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=2))
        if len(values) == 1 and self.draw(st.booleans()):
            cond = f"r.{which} == {quote(values[0])}"
        else:
            cond = f"r.{which} in [{', '.join(quote(v) for v in values)}]"
        if self.draw(st.booleans()):
            cond = f"{cond} and {self.expr(BOOL, scope, 1)}"
        return cond

    def message(self, scope: dict[str, str], depth: int) -> str:
        self.in_hole = True
        local = sorted(set(scope) - set(BASE_SCOPE))
        parts = []
        for _ in range(self.draw(st.integers(0, 3))):
            parts.append(self.one(["", "at ", ": ", " {{x}} ", "é "]))
            if local and self.draw(st.booleans()):
                parts.append("{" + self.one(local) + "}")
            else:
                ty = self.one([t for t in ANY_TYPE if t != SET_STR])
                parts.append("{" + self.expr(ty, scope, min(depth, 2)) + "}")
        self.in_hole = False
        return f'  message "{"".join(parts) or "fixed text"}"'

    def policy(self) -> str:
        """A policy: for, where/let, nested for, group by, where/let, requires, message."""
        depth = self.draw(st.integers(1, 3))
        scope = {**BASE_SCOPE, "r": RES}
        lines = ["policy gen.p {", '  title "Generated"', '  source "hypothesis"']
        lines += [f"  param {name}: {ty} = {default}" for name, (ty, default) in PARAMS.items()]
        lines.append("  for r in resources")
        clauses: list[str] = []
        selector = self.selector(dict(scope)) if self.draw(st.booleans()) else None
        self.clauses(scope, depth, clauses)
        if selector is not None:  # what the kind index reads, anywhere among the first clauses
            clauses.insert(self.draw(st.integers(0, len(clauses))), f"  where {selector}")
        lines += clauses
        innermost = RES
        for var in ("c", "d")[: self.draw(st.integers(0, 2))]:
            source_ty = self.one([ANY, LIST_STR, MAP_STR, SET_STR])
            lines.append(f"  for {var} in {self.expr(source_ty, scope, depth)}")
            innermost = ELEMENT[source_ty]
            scope[var] = innermost
            self.clauses(scope, depth, lines)
        if self.draw(st.booleans()):
            key_ty = self.one([STR, ANY, BOOL, INT])
            lines.append(f"  group by {self.expr(key_ty, scope, depth)} as k into rs")
            members = {RES: LIST_RES, STR: LIST_STR, ANY: LIST_ANY}[innermost]
            scope = {**BASE_SCOPE, "k": key_ty, "rs": members}
            self.clauses(scope, depth, lines)
        for _ in range(self.draw(st.integers(1, 3))):
            lines.append(f"  require {self.expr(BOOL, scope, depth)}")
        if self.draw(st.booleans()):
            lines.append(self.message(scope, depth))
        lines.append("}")
        return "\n".join(lines)


@st.composite
def policies(draw: st.DrawFn) -> str:
    return ProgramGen(draw).policy()


@dataclass
class World:
    resources: list[Resource]
    globals: dict[str, Any]
    params: dict[str, Any]
    run: RunContext = field(init=False)

    def __post_init__(self) -> None:
        values = {**self.globals, "resources": self.resources, "today": TODAY.isoformat()}
        self.run = RunContext(values, self.params, EvalContext(TODAY))


@st.composite
def worlds(draw: st.DrawFn) -> World:
    return World(draw(resources()), draw(catalogs()), draw(param_values()))


# --- comparing results -------------------------------------------------------------------


def canon(value: Any) -> Any:
    """A value in a form where ``==`` tells ``true``, ``1`` and ``1.0`` apart and NaN equals NaN."""
    if value is None or value.__class__ in (bool, int, str):
        return (value.__class__.__name__, value)
    if value.__class__ is float:
        return ("float", "nan" if math.isnan(value) else value)
    if isinstance(value, Unknown):
        return ("unknown", value.reason)
    if isinstance(value, list | tuple):
        return ("list", tuple(canon(v) for v in value))
    if isinstance(value, frozenset | set):
        return ("set", tuple(sorted((canon(v) for v in value), key=repr)))
    if isinstance(value, dict):
        return ("map", tuple((canon(k), canon(v)) for k, v in value.items()))
    return ("object", id(value))


def finding_view(f: Finding) -> tuple[Any, ...]:
    return (
        f.outcome,
        f.target,
        f.item,
        f.message,
        canon(dict(f.evidence)),
        f.reason,
        id(f.resource) if f.resource is not None else None,
    )


def results(run: Callable[[], list[Finding]]) -> Any:
    """Findings as comparable tuples, or the exception an evaluator raised (compared too)."""
    try:
        return [finding_view(f) for f in run()]
    except Exception as err:
        return ("raised", type(err).__name__, str(err))


def check(text: str) -> CheckedPolicy:
    note(f"policy:\n{text}")
    module = parse_module(Source("gen.regie", text))
    assert not isinstance(module, list), f"the generator wrote text that does not parse:\n{text}\n{module}"
    (policy,) = module.items
    assert isinstance(policy, ast.Policy)
    checked = check_policy(policy, fact_schema())
    assume(not isinstance(checked, list))
    assert isinstance(checked, CheckedPolicy)
    return checked


def evaluations(checked: CheckedPolicy, world: World) -> dict[str, Callable[[], list[Finding]]]:
    compiled = compile_policy(checked)
    closures = compile_policy(checked, generate=False)
    assert compiled.generated is not None, "the generator declined a policy of the test language"
    assert closures.generated is None

    def indexed() -> list[Finding]:
        roots = Inventory(world.resources).select(checked.selector)
        return compiled.run(world.run, roots)

    return {
        "interpreter": lambda: run_policy(checked, world.run),
        "compiled": lambda: compiled.run(world.run),
        "closures": lambda: closures.run(world.run),
        "compiled over the kind index": indexed,
    }


# --- properties --------------------------------------------------------------------------


@SETTINGS
@given(text=policies(), world=worlds())
def test_compiled_policy_agrees_with_the_interpreter(text: str, world: World) -> None:
    checked = check(text)
    runs = evaluations(checked, world)
    reference = results(runs["interpreter"])
    assert results(runs["compiled"]) == reference, text
    assert results(runs["closures"]) == reference, text


@SETTINGS
@given(text=policies(), world=worlds())
def test_the_kind_index_is_sound(text: str, world: World) -> None:
    checked = check(text)
    runs = evaluations(checked, world)
    everything = results(runs["compiled"])
    assert results(runs["compiled over the kind index"]) == everything, (text, checked.selector)


@SETTINGS
@given(text=policies(), world=worlds())
def test_evaluation_is_total(text: str, world: World) -> None:
    checked = check(text)
    for name, run in evaluations(checked, world).items():
        outcome = results(run)
        assert not (isinstance(outcome, tuple) and outcome[0] == "raised"), (name, outcome, text)


def violation_results(run: Callable[[], list[Violation]]) -> Any:
    """Violations as comparable tuples (evidence read), or the exception raised."""
    try:
        return [(*v[:10], canon(dict(v.evidence)), *v[11:]) for v in run()]
    except Exception as err:
        return ("raised", type(err).__name__, str(err))


@SETTINGS
@given(
    text=policies(),
    world=worlds(),
    context=st.sampled_from([None, "ci", "admission", "audit"]),
)
def test_violation_rows_equal_converted_findings(text: str, world: World, context: str | None) -> None:
    """The engine's violations as generated code builds them (``VIOLATION_ROWS``) are the
    interpreter's findings as ``to_violations`` converts them, in the same order."""
    checked = check(text)
    compiled = compile_policy(checked, layout=VIOLATION_ROWS)
    assert compiled.generated_rows is not None, "the generator declined a policy of the test language"
    rows = violation_rows(checked, context)
    reference = violation_results(lambda: to_violations(checked, run_policy(checked, world.run), context))
    got = violation_results(lambda: as_violations(checked, compiled.run_rows(world.run, rows), context))
    assert got == reference, text
    # Asked for findings afterwards, the same compiled policy generates that variant too.
    assert results(lambda: compiled.run(world.run)) == results(lambda: run_policy(checked, world.run))


@SETTINGS
@given(text=policies(), world=worlds(), cuts=st.lists(st.integers(0, 5), max_size=3))
def test_a_policy_run_in_parts_equals_one_run(text: str, world: World, cuts: list[int]) -> None:
    """What the engine relies on to run policies slice by slice of the inventory: over
    consecutive parts of the roots, ``part_runner`` gives what one run gives, `group by`
    policies included."""
    checked = check(text)
    assume(checked.root == "resources")
    compiled = compile_policy(checked, layout=VIOLATION_ROWS)
    rows = violation_rows(checked, None)
    found: list[Any] = []
    parts = compiled.part_runner(world.run, rows, found)
    assert parts is not None
    roots = world.resources
    bounds = sorted({0, len(roots), *(min(c, len(roots)) for c in cuts)})

    def in_parts() -> list[Violation]:
        for lo, hi in itertools.pairwise(bounds):
            parts.part(roots[lo:hi])
        parts.finish()  # a `group by` policy decides its groups here
        return as_violations(checked, found, None)

    whole = violation_results(lambda: as_violations(checked, compiled.run_rows(world.run, rows, roots), None))
    assert violation_results(in_parts) == whole, (text, bounds)


# --- expressions -------------------------------------------------------------------------

EXPR_SCOPE = {
    **GLOBALS,
    **PARAM_TYPES,
    "r": RES,
    "s": STR,
    "i": INT,
    "f": FLOAT,
    "b": BOOL,
    "x": ANY,
    "xs": LIST_STR,
}


@st.composite
def expressions(draw: st.DrawFn) -> str:
    ty = draw(st.sampled_from([BOOL, INT, FLOAT, STR, ANY, LIST_STR, LIST_ANY, RES]))
    return ProgramGen(draw).expr(ty, dict(EXPR_SCOPE), draw(st.integers(1, 4)))


@st.composite
def environments(draw: st.DrawFn) -> dict[str, Any]:
    world = draw(worlds())
    rs = world.run.globals["resources"]
    return {
        **world.run.globals,
        **world.params,
        "r": draw(st.sampled_from(rs)) if rs else Resource("lonely"),
        "s": draw(_text_from(STRINGS)),
        "i": draw(st.one_of(st.integers(-3, 3), st.none(), UNKNOWNS)),
        "f": draw(st.one_of(st.sampled_from([0.0, 0.5, -1.5, math.nan]), st.none(), UNKNOWNS)),
        "b": draw(st.one_of(st.booleans(), st.none(), UNKNOWNS)),
        "x": draw(_NATIVE),
        "xs": draw(st.one_of(st.lists(_text_from(STRINGS), max_size=3), st.none(), UNKNOWNS)),
    }


def checked_expr(text: str) -> ast.Expr:
    """The expression, type-checked in the scope of ``EXPR_SCOPE`` (as a ``let`` of a policy)."""
    params = "\n".join(f"  param {name}: {ty} = {default}" for name, (ty, default) in PARAMS.items())
    lets = "\n".join(
        f"  let {name} = {init}"
        for name, init in [
            ("s", "r.id"),
            ("i", "len(r.id)"),
            ("f", "0.5"),
            ("b", "r.vital"),
            ("x", "r.attributes"),
            ("xs", "keys(r.labels)"),
        ]
    )
    source = (
        f'policy e {{\n  title "e"\n  source "e"\n{params}\n  for r in resources\n{lets}\n'
        f"  let value = {text}\n  require true\n}}"
    )
    checked = check(source)
    let = checked.policy.steps[-2]
    assert isinstance(let, ast.Let) and let.name == "value"
    return let.value


@SETTINGS
@given(text=expressions(), env=environments())
def test_compiled_expression_agrees_with_the_interpreter(text: str, env: dict[str, Any]) -> None:
    expr = checked_expr(text)
    ctx = EvalContext(TODAY)
    names = sorted(env)
    fn, size = compile_expr(expr, names)
    generated, source = generate_expr(expr, names)
    note(f"generated:\n{source}")
    slots: list[Any] = [ctx, *(env[n] for n in names)]
    slots += [None] * (size - len(slots))

    def interpreted() -> Any:
        return canon(eval_expr(expr, env, ctx))

    def compiled() -> Any:
        return canon(fn(slots))

    def generated_code() -> Any:
        return canon(generated(slots[: len(names) + 1]))

    def outcome(f: Callable[[], Any]) -> Any:
        try:
            return f()
        except Exception as err:
            return ("raised", type(err).__name__, str(err))

    reference = outcome(interpreted)
    assert outcome(compiled) == reference, text
    assert outcome(generated_code) == reference, text
