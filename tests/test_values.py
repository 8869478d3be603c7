"""Unit tests of the primitives (``regie.dsl.values``) and the builtins (``regie.dsl.builtins``).

Both evaluators call these functions, so they are where the meaning of each operation
lives. The module docstrings are the contract: null in, null out; unknown propagates;
``true`` is not ``1``; every function is total.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pytest

from regie.dsl.builtins import BUILTINS, EvalContext, compile_regex, glob_to_regex
from regie.dsl.types import ANY, BOOL, ERROR, INT, STR, ListType, MapType, SetType
from regie.dsl.values import (
    REDUCERS,
    UNKNOWN_TRUTH,
    Unknown,
    arith,
    contains,
    count_items,
    equal,
    get_field,
    get_index,
    is_unknown,
    iterate,
    jsonable,
    order,
    reduce_all,
    reduce_any,
    reduce_count,
    reduce_extreme,
    reduce_most_common,
    reduce_share,
    reduce_sum,
    render_value,
    truth,
)
from regie.engine.facts import Resource

U = Unknown("known after apply")
V = Unknown("another reason")
HUGE = 10**400
TODAY = dt.date(2026, 1, 15)
CTX = EvalContext(TODAY)


def call(name: str, *args: Any) -> Any:
    return BUILTINS[name].impl(CTX, *args)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same type, recursively: ``True`` is not ``1`` here."""
    if type(a) is not type(b):
        return False
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


# --- Unknown and truth ---------------------------------------------------------------------


def test_unknowns_are_equal_by_reason_and_hashable() -> None:
    assert Unknown("a") == Unknown("a")
    assert Unknown("a") != Unknown("b")
    assert Unknown("a") != "a"
    assert len({Unknown("a"), Unknown("a"), Unknown("b")}) == 2
    assert repr(Unknown("a")) == "Unknown('a')"
    assert is_unknown(U) and not is_unknown(None) and not is_unknown("known after apply")


@pytest.mark.parametrize(
    ("value", "want"),
    [(True, True), (False, False), (None, False), (1, False), ("true", False), ([True], False), (U, None)],
)
def test_only_the_boolean_true_is_true(value: Any, want: bool | None) -> None:
    assert truth(value) is want


def test_unknown_truth_is_the_third_value() -> None:
    assert UNKNOWN_TRUTH is None
    assert truth(U) is UNKNOWN_TRUTH


# --- fields and indexes --------------------------------------------------------------------


def test_get_field_reads_maps_and_records() -> None:
    r = Resource("a", provider="aws")
    assert get_field({"x": 1}, "x") == 1
    assert get_field({"x": 1}, "y") is None
    assert get_field(r, "provider") == "aws"
    assert get_field(r, "nope") is None


@pytest.mark.parametrize("obj", [None, "text", 3, 2.5, True, [1, 2], frozenset({"x"})])
def test_get_field_of_anything_else_is_null(obj: Any) -> None:
    assert get_field(obj, "x") is None
    assert get_field(obj, "__class__") is None


def test_get_field_of_unknown_is_that_unknown() -> None:
    assert get_field(U, "x") is U


def test_get_index_of_maps() -> None:
    m = {"a": 1, "b": None}
    assert get_index(m, "a") == 1
    assert get_index(m, "b") is None
    assert get_index(m, "c") is None
    assert get_index(m, ["unhashable"]) is None


def test_get_index_of_lists_and_strings() -> None:
    xs = [10, 20, 30]
    assert get_index(xs, 0) == 10
    assert get_index(xs, -1) == 30
    assert get_index(xs, 3) is None
    assert get_index(xs, -4) is None
    assert get_index(xs, 1.0) is None
    assert get_index(xs, True) is None  # a boolean is not a position
    assert get_index(xs, "0") is None
    assert get_index("abc", 1) == "b"
    assert get_index("abc", 5) is None


def test_get_index_null_and_unknown() -> None:
    assert get_index(None, "a") is None
    assert get_index({"a": 1}, None) is None
    assert get_index(U, "a") is U
    assert get_index({"a": 1}, U) is U
    assert get_index(U, V) is U
    assert get_index(None, U) is U
    assert get_index(5, "a") is None


# --- equality ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (0, -0.0, True),
        ("a", "a", True),
        ("1", 1, False),
        (None, None, True),
        (None, False, False),
        (None, 0, False),
        (None, "", False),
        (True, True, True),
        (True, 1, False),
        (1, True, False),
        (False, 0, False),
        (0.0, False, False),
        ([1, "a"], [1, "a"], True),
        ([1], [1.0], True),
        ([1, 2], [2, 1], False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        (frozenset({"a", "b"}), frozenset({"b", "a"}), True),
        (math.nan, math.nan, False),
    ],
)
def test_equal(a: Any, b: Any, want: bool) -> None:
    assert equal(a, b) is want
    assert equal(b, a) is want


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([True], [1]),
        ([1], [True]),
        ({"k": True}, {"k": 1}),
        ([[False]], [[0]]),
        (frozenset({True}), frozenset({1})),
    ],
    ids=["[true] [1]", "[1] [true]", "{k: true} {k: 1}", "[[false]] [[0]]", "{true} {1}"],
)
def test_true_is_not_one_inside_collections_either(a: Any, b: Any) -> None:
    assert equal(a, b) is False


def test_equal_with_unknown_is_unknown() -> None:
    assert equal(U, 1) is U
    assert equal(1, U) is U
    assert equal(U, U) is U
    assert equal(None, U) is U
    assert equal(U, V) is U


def test_collections_holding_unknowns_are_not_known_equal() -> None:
    assert is_unknown(equal([U], [U]))
    assert is_unknown(equal({"a": U}, {"a": U}))


def test_resources_are_equal_only_to_themselves() -> None:
    a, b = Resource("a"), Resource("a")
    assert equal(a, a) is True
    assert equal(a, b) is False


# --- order ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "a", "b", "want"),
    [
        ("<", 1, 2, True),
        ("<", 2, 2, False),
        ("<=", 2, 2.0, True),
        (">", 2.5, 2, True),
        (">=", -1, 0, False),
        ("<", "B", "a", True),
        ("<", "a", "ab", True),
        ("<", "", "a", True),
        (">", "é", "z", True),
        ("<", 1, "2", False),
        (">=", "2", 1, False),
        ("<", None, 1, False),
        (">=", None, 1, False),
        ("<=", None, None, False),
        ("<", False, True, False),
        ("<", True, 2, False),
        ("<", [1], [2], False),
        ("<", math.nan, 1, False),
        (">=", math.nan, 1, False),
        ("<", -math.inf, HUGE, True),
        ("<", HUGE, math.inf, True),
    ],
)
def test_order(op: str, a: Any, b: Any, want: bool) -> None:
    assert order(op, a, b) is want


def test_order_with_unknown_is_unknown() -> None:
    assert order("<", U, 1) is U
    assert order("<", 1, U) is U
    assert order(">=", None, U) is U


# --- contains ------------------------------------------------------------------------------


def test_contains_substring() -> None:
    assert contains("ghcr.io/app", "io/") is True
    assert contains("abc", "") is True
    assert contains("abc", "B") is False
    assert contains("123", 1) is False


def test_contains_in_lists_uses_equality() -> None:
    assert contains([1, 2], 1.0) is True
    assert contains([1, 2], True) is False
    assert contains([[1], "a"], [1]) is True
    assert contains([], "a") is False


def test_contains_in_sets_and_map_keys() -> None:
    assert contains(frozenset({"a", "b"}), "a") is True
    assert contains(frozenset({"a"}), "c") is False
    assert contains({"k": 1}, "k") is True
    assert contains({"k": 1}, 1) is False
    assert contains(frozenset({"a"}), ["unhashable"]) is False
    assert contains({"k": 1}, {"unhashable": 1}) is False


def test_contains_in_a_set_agrees_with_a_list() -> None:
    for item in (1, 0, True, False, 1.0):
        items = [True, False]
        assert contains(frozenset(items), item) is contains(items, item), item
        assert contains({k: None for k in items}, item) is contains(items, item), item


def test_null_is_in_nothing_and_nothing_is_in_null() -> None:
    assert contains([None], None) is False
    assert contains(frozenset({None}), None) is False
    assert contains(None, "a") is False
    assert contains(None, None) is False


def test_contains_of_anything_else_is_false() -> None:
    assert contains(5, 5) is False
    assert contains(Resource("a"), "id") is False


def test_contains_with_unknown_is_unknown() -> None:
    assert contains(U, "a") is U
    assert contains(["a"], U) is U
    assert contains(None, U) is U
    assert contains(U, None) is U


def test_an_unknown_item_makes_contains_unknown_unless_found() -> None:
    assert contains([U, "a"], "a") is True
    assert is_unknown(contains([U, "b"], "a"))


# --- arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "a", "b", "want"),
    [
        ("+", 2, 3, 5),
        ("-", 2, 3, -1),
        ("*", 2, 3, 6),
        ("/", 6, 3, 2.0),
        ("/", 7, 2, 3.5),
        ("%", 7, 3, 1),
        ("%", -1, 3, 2),
        ("%", 1, -3, -2),
        ("+", 0.5, 1, 1.5),
        ("*", 1e308, 10, math.inf),
        ("+", "a", "b", "ab"),
        ("+", [1], [2], [1, 2]),
        ("+", "a", ["b"], None),
        ("+", ["a"], "b", None),
        ("-", "a", "b", None),
        ("*", "ab", 2, None),
        ("*", [1], 2, None),
        ("+", True, 1, None),
        ("+", 1, False, None),
        ("+", None, 1, None),
        ("+", 1, None, None),
        ("+", None, None, None),
        ("/", 1, 0, None),
        ("/", 1.0, 0.0, None),
        ("/", 0, -0.0, None),
        ("%", 1, 0, None),
        ("%", 1.5, 0.0, None),
    ],
)
def test_arith(op: str, a: Any, b: Any, want: Any) -> None:
    assert same(arith(op, a, b), want)


def test_arith_keeps_integers_and_promotes_to_float() -> None:
    assert type(arith("+", 1, 2)) is int
    assert type(arith("+", 1, 2.0)) is float
    assert type(arith("/", 4, 2)) is float


def test_arith_does_not_change_its_operands() -> None:
    a, b = [1], [2]
    arith("+", a, b)
    assert (a, b) == ([1], [2])


def test_arith_with_unknown_is_unknown() -> None:
    assert arith("+", U, 1) is U
    assert arith("/", 1, U) is U
    assert arith("+", U, V) is U
    assert arith("+", None, U) is U
    assert arith("/", U, 0) is U


@pytest.mark.parametrize(
    ("op", "a", "b"),
    [
        ("/", HUGE, 3),
        ("/", HUGE, 0.5),
        ("+", HUGE, 0.5),
        ("*", HUGE, 1.5),
        ("-", 0.5, HUGE),
        ("%", HUGE, 0.5),
    ],
    ids=["huge / 3", "huge / 0.5", "huge + 0.5", "huge * 1.5", "0.5 - huge", "huge % 0.5"],
)
def test_arith_is_total_on_huge_integers(op: str, a: Any, b: Any) -> None:
    arith(op, a, b)  # must not raise; null or a float are both fine


# --- iteration -----------------------------------------------------------------------------


def test_iterate() -> None:
    assert list(iterate([1, 2])) == [1, 2]
    assert list(iterate((1, 2))) == [1, 2]
    assert sorted(iterate(frozenset({"b", "a"}))) == ["a", "b"]
    assert iterate({"a": 1, "b": 2}) == ["a", "b"]
    assert list(iterate(None)) == []
    assert list(iterate("abc")) == []
    assert list(iterate(5)) == []
    assert list(iterate(Resource("a"))) == []
    assert iterate(U) is U


def test_count_items() -> None:
    assert count_items([1, None, 1]) == 3
    assert count_items({"a": 1}) == 1
    assert count_items(frozenset({"a", "b"})) == 2
    assert count_items(None) == 0
    assert count_items("abc") == 0
    assert count_items(U) is U


# --- rendering and evidence ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        ("text", "text"),
        ("", ""),
        (0, "0"),
        (-3, "-3"),
        (0.5, "0.5"),
        (1e3, "1000.0"),
        (0.1 + 0.2, "0.30000000000000004"),
        (math.inf, "inf"),
        (-math.inf, "-inf"),
        (math.nan, "nan"),
        (U, "(unknown: known after apply)"),
        (["a", 1, None, [True]], "[a, 1, null, [true]]"),
        ([], "[]"),
        (frozenset({"b", "a", "c"}), "{a, b, c}"),
        (frozenset({10, 9}), "{10, 9}"),
        ({"z": 1, "a": [U]}, "{z: 1, a: [(unknown: known after apply)]}"),
        ({}, "{}"),
        (Resource("terraform:x#y"), "terraform:x#y"),
    ],
)
def test_render_value(value: Any, text: str) -> None:
    assert render_value(value) == text


def test_render_value_of_a_record_without_id_is_its_repr() -> None:
    class Thing:
        def __repr__(self) -> str:
            return "<thing>"

    assert render_value(Thing()) == "<thing>"


def test_render_value_is_total_on_huge_integers() -> None:
    assert render_value(10**5000)  # Python refuses str() of ints over 4300 digits


def test_jsonable() -> None:
    assert jsonable(None) is None
    assert same(jsonable(True), True)
    assert jsonable(U) == {"unknown": "known after apply"}
    assert jsonable(math.nan) == "nan"
    assert jsonable(math.inf) == "inf"
    assert jsonable(0.5) == 0.5
    assert jsonable((1, 2)) == [1, 2]
    assert jsonable(frozenset({"b", "a"})) == ["a", "b"]
    assert jsonable({1: frozenset({"x"})}) == {"1": ["x"]}
    assert jsonable(Resource("r1")) == "r1"
    assert jsonable({"a": [U, {"b": None}]}) == {"a": [{"unknown": "known after apply"}, {"b": None}]}


def test_jsonable_bounds_size_and_depth() -> None:
    assert len(jsonable(list(range(100)))) == 50
    assert len(jsonable({str(i): i for i in range(100)})) == 50
    deep: Any = "bottom"
    for _ in range(10):
        deep = [deep]
    out = jsonable(deep)
    for _ in range(7):
        out = out[0]
    assert out == "…"


# --- aggregates ----------------------------------------------------------------------------


def test_reduce_any() -> None:
    assert reduce_any([]) is False
    assert reduce_any([False, None, 1, "true"]) is False
    assert reduce_any([False, True]) is True
    assert reduce_any([U, True]) is True
    assert reduce_any([False, U, V]) is U


def test_reduce_any_stops_at_the_first_true() -> None:
    def values() -> Any:
        yield True
        raise AssertionError("read past the first true")

    assert reduce_any(values()) is True


def test_reduce_all() -> None:
    assert reduce_all([]) is True
    assert reduce_all([True, True]) is True
    assert reduce_all([True, None]) is False
    assert reduce_all([True, 1]) is False
    assert reduce_all([U, False]) is False
    assert reduce_all([U, True, V]) is U


def test_reduce_count() -> None:
    assert reduce_count([]) == 0
    assert reduce_count([True, False, None, 1, True]) == 2
    assert reduce_count([True, U]) is U


def test_reduce_share() -> None:
    assert reduce_share([]) is None
    assert reduce_share([True, False, None, True]) == 0.5
    assert reduce_share([True, True]) == 1.0
    assert type(reduce_share([False])) is float
    assert reduce_share([True, U]) is U


def test_reduce_sum() -> None:
    assert same(reduce_sum([]), 0)
    assert same(reduce_sum([1, 2, 3]), 6)
    assert same(reduce_sum([1, 2.5, None, "4", True, [5]]), 3.5)
    assert reduce_sum([1, U]) is U


def test_reduce_min_and_max() -> None:
    assert REDUCERS["min"]([3, 1.5, None, 2]) == 1.5
    assert REDUCERS["max"]([3, 1.5, None, 2]) == 3
    assert REDUCERS["min"](["b", "B", "a"]) == "B"
    assert REDUCERS["max"](["b", "B", "a"]) == "b"
    assert REDUCERS["min"]([]) is None
    assert REDUCERS["max"]([None]) is None
    assert REDUCERS["min"]([1, "a"]) is None
    assert REDUCERS["max"]([True, False]) is None
    assert REDUCERS["max"]([1, True]) is None
    assert reduce_extreme([1, U], largest=False) is U


def test_reduce_most_common() -> None:
    assert reduce_most_common([]) is None
    assert reduce_most_common([None, None]) is None
    assert reduce_most_common(["a", None, None]) == "a"
    assert reduce_most_common(["b", "a", "a", "b"]) == "b"  # ties: first seen
    assert reduce_most_common(["a", "b", "c", "c", "b"]) == "b"
    assert reduce_most_common([[1], [1], "x"]) == [1]  # lists and maps are counted too
    assert reduce_most_common(["a", U]) is U


def test_reduce_most_common_tells_true_from_one() -> None:
    assert same(reduce_most_common([1, True, True]), True)
    assert same(reduce_most_common([True, 1, 1]), 1)


def test_reduce_most_common_counts_equal_numbers_together() -> None:
    assert reduce_most_common([1, 1.0, 2]) == 1


def test_reducers_table_names_every_aggregate() -> None:
    from regie.dsl.ast import AGGREGATES

    assert set(REDUCERS) == set(AGGREGATES)


# --- builtins: strings ---------------------------------------------------------------------


def test_case_and_trim() -> None:
    assert call("lower", "ÄbC") == "äbc"
    assert call("upper", "ÄbC") == "ÄBC"
    assert call("trim", " \t a b \n") == "a b"
    for name in ("lower", "upper", "trim"):
        assert call(name, None) is None
        assert call(name, 5) is None
        assert call(name, U) is U


def test_startswith_and_endswith() -> None:
    assert call("startswith", "ghcr.io/x", "ghcr.io/") is True
    assert call("startswith", "ghcr.io/x", "quay") is False
    assert call("startswith", "ghcr.io/x", ["quay", "ghcr"]) is True
    assert call("startswith", "ghcr.io/x", frozenset({"ghcr"})) is True
    assert call("startswith", "ghcr.io/x", []) is False
    assert call("startswith", "ghcr.io/x", ["ghcr", 5, None]) is True
    assert call("endswith", "app:1", ":1") is True
    assert call("endswith", "app:1", [":2", ":3"]) is False


def test_startswith_null_and_unknown() -> None:
    assert call("startswith", None, "a") is None
    assert call("startswith", "abc", None) is None
    assert call("startswith", "abc", 5) is None
    assert call("startswith", U, "a") is U
    assert call("startswith", "abc", U) is U
    assert call("endswith", None, U) is U


def test_startswith_of_a_non_string_is_null() -> None:
    # "a wrong-typed or null argument gives null" (module docstring of regie.dsl.builtins)
    assert call("startswith", 5, "5") is None
    assert call("endswith", ["a"], "a") is None


def test_matches_is_an_re2_search() -> None:
    assert call("matches", "ghcr.io/app", "io/") is True
    assert call("matches", "ghcr.io/app", "^io/") is False
    assert call("matches", "v1.10", r"^v\d+\.\d{1,2}$") is True
    assert call("matches", "abc", "") is True
    assert call("matches", "line1\nline2", "^line2") is False
    assert call("matches", "web\n", "^web$") is False


def test_matches_null_unknown_and_invalid() -> None:
    assert call("matches", None, "a") is None
    assert call("matches", "a", None) is None
    assert call("matches", 5, "5") is None
    assert call("matches", U, "a") is U
    assert call("matches", "a", U) is U
    assert call("matches", "a", "(") is None
    assert call("matches", "aa", r"(a)\1") is None  # backreferences are not RE2


def test_glob_matches_the_whole_string() -> None:
    assert call("glob", "ghcr.io/app", "ghcr.io/*") is True
    assert call("glob", "x.ghcr.io/app", "ghcr.io/*") is False
    assert call("glob", "ghcrxio/app", "ghcr.io/*") is False
    assert call("glob", "ab", "a?") is True
    assert call("glob", "abc", "a?") is False
    assert call("glob", "b1", "[abc][0-9]") is True
    assert call("glob", "d1", "[abc][0-9]") is False
    assert call("glob", "d", "[!abc]") is True
    assert call("glob", "a", "[!abc]") is False
    assert call("glob", "", "*") is True
    assert call("glob", "", "") is True
    assert call("glob", "a+(b)", "a+(b)") is True
    assert call("glob", "a[", "a[") is True


def test_glob_star_matches_line_breaks() -> None:
    assert call("glob", "a\nb", "a*b") is True
    assert call("glob", "a\nb", "*") is True
    assert call("glob", "\n", "?") is True


def test_glob_null_unknown_and_invalid() -> None:
    assert call("glob", None, "*") is None
    assert call("glob", U, "*") is U
    assert call("glob", "a", U) is U
    assert call("glob", "a", "[]") is None


def test_glob_to_regex_is_anchored_and_escapes_the_rest() -> None:
    for glob in ("ghcr.io/*", "a?", "[!ab]", "a[", "", "a+(b)|c$"):
        pattern = glob_to_regex(glob)
        assert pattern.startswith("(?s)^") and pattern.endswith("$")  # `*` crosses line breaks
        compile_regex(pattern)
    assert glob_to_regex("a?") == "(?s)^a.$"
    assert glob_to_regex("[!ab]") == "(?s)^[^ab]$"
    assert compile_regex(glob_to_regex("a+(b)|c$")).search("a+(b)|c$") is not None
    assert compile_regex(glob_to_regex("a+(b)|c$")).search("aa(b)") is None


def test_compile_regex_caches_and_explains() -> None:
    assert compile_regex("a+") is compile_regex("a+")
    with pytest.raises(ValueError, match=r"\S"):
        compile_regex("(")


def test_len() -> None:
    assert call("len", "Ünï") == 3
    assert call("len", "") == 0
    assert call("len", [1, None]) == 2
    assert call("len", frozenset({"a"})) == 1
    assert call("len", {"a": 1, "b": 2}) == 2
    assert call("len", None) is None
    assert call("len", 5) is None
    assert call("len", True) is None
    assert call("len", U) is U


def test_keys_and_values_keep_map_order() -> None:
    m = {"z": 1, "a": 2}
    assert call("keys", m) == ["z", "a"]
    assert call("values", m) == [1, 2]
    assert call("keys", {}) == []
    assert call("keys", None) is None
    assert call("values", [1]) is None
    assert call("keys", U) is U
    assert call("values", U) is U


def test_split() -> None:
    assert call("split", "a,,b", ",") == ["a", "", "b"]
    assert call("split", "", ",") == [""]
    assert call("split", "a::b", "::") == ["a", "b"]
    assert call("split", "a,b", "") is None
    assert call("split", None, ",") is None
    assert call("split", "a", None) is None
    assert call("split", U, ",") is U


def test_join() -> None:
    assert call("join", ["b", "a"], ",") == "b,a"
    assert call("join", frozenset({"b", "a"}), ",") == "a,b"
    assert call("join", [1, None, True, 0.5], " ") == "1 null true 0.5"
    assert call("join", [], ",") == ""
    assert call("join", "ab", ",") is None
    assert call("join", ["a"], None) is None
    assert call("join", None, ",") is None
    assert call("join", U, ",") is U


def test_split_and_join_with_an_unknown_separator_are_unknown() -> None:
    assert call("split", "a,b", U) is U
    assert call("join", ["a"], U) is U


def test_distinct_keeps_first_seen_order() -> None:
    assert call("distinct", ["b", "a", "b", "c", "a"]) == ["b", "a", "c"]
    assert call("distinct", [1, 1.0, 2]) == [1, 2]
    assert call("distinct", [[1], [1], None, None]) == [[1], None]
    assert sorted(call("distinct", frozenset({"a", "b"}))) == ["a", "b"]
    assert call("distinct", None) is None
    assert call("distinct", "aa") is None
    assert call("distinct", U) is U


def test_distinct_uses_the_languages_equality() -> None:
    assert same(call("distinct", [1, True, 0, False]), [1, True, 0, False])


def test_string() -> None:
    assert call("string", 1) == "1"
    assert call("string", [1, "a"]) == "[1, a]"
    assert call("string", True) == "true"
    assert call("string", "x") == "x"
    assert call("string", None) is None
    assert call("string", U) is U


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.83, "83%"), (1, "100%"), (0, "0%"), (0.004, "0%"), (2.5, "250%"), (-0.1, "-10%"), (1 / 3, "33%")],
)
def test_percent(value: Any, text: str) -> None:
    assert call("percent", value) == text


def test_percent_of_anything_else() -> None:
    assert call("percent", None) is None
    assert call("percent", "0.5") is None
    assert call("percent", True) is None
    assert call("percent", U) is U


def test_percent_is_total() -> None:
    call("percent", HUGE)
    call("percent", math.nan)
    call("percent", math.inf)


def test_known() -> None:
    assert call("known", U) is False
    assert call("known", None) is True
    assert call("known", [U]) is True  # only the value itself is looked at
    assert call("known", "x") is True


def test_days_since() -> None:
    assert call("days_since", "2026-01-01") == 14
    assert call("days_since", "2026-01-15") == 0
    assert call("days_since", "2026-02-01") == -17
    assert call("days_since", "2025-12-01T10:00:00Z") == 45
    assert call("days_since", dt.date(2026, 1, 14)) == 1
    assert call("days_since", "not a date") is None
    assert call("days_since", "2025-13-01") is None
    assert call("days_since", "") is None
    assert call("days_since", None) is None
    assert call("days_since", 20260101) is None
    assert call("days_since", U) is U


# --- builtins: type rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "result"),
    [
        ("startswith", [STR, STR], BOOL),
        ("startswith", [STR, ListType(STR)], BOOL),
        ("startswith", [ANY, ANY], BOOL),
        ("lower", [STR], STR),
        ("matches", [STR, STR], BOOL),
        ("len", [STR], INT),
        ("len", [MapType(STR, INT)], INT),
        ("len", [SetType(STR)], INT),
        ("len", [ANY], INT),
        ("keys", [MapType(STR, INT)], ListType(STR)),
        ("values", [MapType(STR, INT)], ListType(INT)),
        ("keys", [ANY], ListType(ANY)),
        ("split", [STR, STR], ListType(STR)),
        ("join", [SetType(STR), STR], STR),
        ("distinct", [SetType(INT)], ListType(INT)),
        ("string", [ListType(INT)], STR),
        ("percent", [INT], STR),
        ("known", [ERROR], BOOL),
        ("days_since", [STR], INT),
    ],
)
def test_type_rules_accept(name: str, args: list[Any], result: Any) -> None:
    assert BUILTINS[name].type_rule(args) == result


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("startswith", [STR]),
        ("startswith", [INT, STR]),
        ("startswith", [STR, ListType(INT)]),
        ("lower", [INT]),
        ("lower", [STR, STR]),
        ("len", [INT]),
        ("len", [BOOL]),
        ("keys", [ListType(STR)]),
        ("values", [STR]),
        ("join", [STR, STR]),
        ("join", [ListType(STR), INT]),
        ("distinct", [MapType(STR, STR)]),
        ("percent", [STR]),
        ("string", []),
        ("known", [STR, STR]),
    ],
)
def test_type_rules_reject_with_a_reason(name: str, args: list[Any]) -> None:
    rule = BUILTINS[name].type_rule(args)
    assert isinstance(rule, str) and rule


def test_pattern_arguments_are_declared() -> None:
    assert BUILTINS["matches"].pattern_args == (1,)
    assert BUILTINS["glob"].pattern_args == (1,)
    assert all(b.pattern_args == () for n, b in BUILTINS.items() if n not in ("matches", "glob"))


def test_every_builtin_is_total_on_null_and_unknown() -> None:
    for name, builtin in BUILTINS.items():
        binary = ("startswith", "endswith", "matches", "glob", "split", "join", "or_unknown")
        arity = 2 if name in binary else 1
        for arg in (None, U, 0, "", [], {}, math.nan, True, Resource("a")):
            args = [arg] * arity
            builtin.impl(CTX, *args)  # never raises
            if name != "known":
                result = builtin.impl(CTX, *[U] * arity)
                assert result is U, (name, result)
        if name == "or_unknown":  # null becomes unknown, with the reason given
            made = builtin.impl(CTX, None, "not in the catalogue")
            assert isinstance(made, Unknown) and made.reason == "not in the catalogue"
            assert builtin.impl(CTX, 3, "r") == 3 and builtin.impl(CTX, None, None).reason
        assert "`" not in builtin.signature
        assert builtin.doc
