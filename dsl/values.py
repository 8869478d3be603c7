"""Runtime values and the primitive operations both evaluators share.

Values are plain Python: ``str``, ``int``, ``float``, ``bool``, ``None`` (null),
``list``, ``frozenset``, ``dict``, records (objects with attributes, such as
resources), and :class:`Unknown`.

*Null* is a missing value: a field of null is null, comparing with null is
false, and ``??`` replaces it. *Unknown* is a value that exists but cannot be
known now (a planned value known only after apply, a provider no catalogue
knows). It propagates through every operation; ``and``/``or`` follow Kleene's
three-valued logic, so ``false and unknown`` is false and ``true or unknown``
is true. A condition is true only when it is the boolean ``true``.

The interpreter and the compiler both call these functions, so they cannot
disagree on what an operation means.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "UNKNOWN_TRUTH",
    "Unknown",
    "arith",
    "contains",
    "equal",
    "get_field",
    "get_index",
    "is_unknown",
    "iterate",
    "jsonable",
    "order",
    "render_value",
    "truth",
]


class Unknown:
    """A value that cannot be known now, with the reason why.

    >>> Unknown("known after apply")
    Unknown('known after apply')
    """

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Unknown({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(("Unknown", self.reason))


#: What :func:`truth` returns for an unknown condition (a third truth value besides True and False).
UNKNOWN_TRUTH: Final = None


def is_unknown(value: object) -> bool:
    return value.__class__ is Unknown


def truth(value: object) -> bool | None:
    """True, False, or None for unknown. Only the boolean ``true`` is true.

    >>> truth(True), truth(None), truth("yes"), truth(Unknown("x"))
    (True, False, False, None)
    """
    if value is True:
        return True
    if value.__class__ is Unknown:
        return None
    return False


def get_field(obj: Any, name: str) -> Any:
    """``obj.name``: dict key, record attribute, null for anything else."""
    cls = obj.__class__
    if cls is dict:
        return obj.get(name)
    if obj is None or cls is Unknown:
        return obj
    if cls in (str, int, float, bool, list, frozenset):
        return None
    return getattr(obj, name, None)


def get_index(obj: Any, key: Any) -> Any:
    """``obj[key]``: map lookup, list position (negative from the end), null when absent."""
    if obj.__class__ is Unknown:
        return obj
    if key.__class__ is Unknown:
        return key
    if obj is None or key is None:
        return None
    if isinstance(obj, Mapping):
        try:
            return obj.get(key)
        except TypeError:  # an unhashable key cannot be in the map
            return None
    if isinstance(obj, list | str) and type(key) is int:
        try:
            return obj[key]
        except IndexError:
            return None
    return None


def equal(a: Any, b: Any) -> Any:
    """Structural equality, all the way down: ``true`` is not ``1`` (not inside lists either);
    unknown if an unknown could decide it."""
    ca, cb = a.__class__, b.__class__
    if ca is Unknown:
        return a
    if cb is Unknown:
        return b
    if (ca is bool) is not (cb is bool):
        return False
    if ca is list and cb is list:
        if len(a) != len(b):
            return False
        unknown = None
        for x, y in zip(a, b, strict=True):
            v = equal(x, y)
            if v is False:
                return False
            if v is not True and unknown is None:
                unknown = v
        return True if unknown is None else unknown
    if ca is dict and cb is dict:
        if a.keys() != b.keys():
            return False
        return equal([a[k] for k in a], [b[k] for k in a])
    if ca is frozenset and cb is frozenset:
        return a == b and _same_kinds(a, b)
    return a == b


def _same_kinds(a: frozenset[Any], b: frozenset[Any]) -> bool:
    """Python's sets hold `true` and `1` as one member; ours do not."""
    return {(x.__class__ is bool, x) for x in a} == {(x.__class__ is bool, x) for x in b}


def order(op: str, a: Any, b: Any) -> Any:
    """``<``, ``<=``, ``>``, ``>=`` between two numbers or two strings; false otherwise."""
    if a.__class__ is Unknown:
        return a
    if b.__class__ is Unknown:
        return b
    ta, tb = a.__class__, b.__class__
    numeric = ta in (int, float) and tb in (int, float)
    if not (numeric or (ta is str and tb is str)):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def contains(coll: Any, item: Any) -> Any:
    """``item in coll`` for lists, sets, map keys and substrings; null on either side is false."""
    if item.__class__ is Unknown:
        return item
    if coll.__class__ is Unknown:
        return coll
    if item is None or coll is None:
        return False
    if coll.__class__ is str:
        return item.__class__ is str and item in coll
    if isinstance(coll, frozenset | set | dict):
        try:
            found = item in coll
        except TypeError:  # a list or map is never a member or key
            return False
        if found and item.__class__ in (int, float, bool):
            # Python's `1 in {True}` is true; `true` is not `1` here.
            flag = item.__class__ is bool
            return any(x == item and (x.__class__ is bool) is flag for x in coll)
        return found
    if coll.__class__ is list:
        unknown = None
        for x in coll:
            v = equal(item, x)
            if v is True:
                return True
            if v is not False and unknown is None:
                unknown = v
        return False if unknown is None else unknown
    return False


def arith(op: str, a: Any, b: Any) -> Any:
    """``+ - * / %``; null in, null out; ``+`` also joins strings and lists; division by zero is null."""
    if a.__class__ is Unknown:
        return a
    if b.__class__ is Unknown:
        return b
    if a is None or b is None:
        return None
    ta, tb = a.__class__, b.__class__
    if op == "+" and ta is tb and ta in (str, list):
        return a + b
    if ta not in (int, float) or tb not in (int, float):
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if b == 0:
            return None
        if op == "/":
            return a / b
        return a % b
    except OverflowError:  # a number too large for a float: no value, not a crash
        return None


def iterate(coll: Any) -> Any:
    """The items a quantifier walks: list and set items, map keys; null is empty; unknown stays unknown."""
    if coll is None:
        return ()
    cls = coll.__class__
    if cls is Unknown:
        return coll
    if cls in (list, tuple, frozenset, set):
        return coll
    if cls is dict:
        return list(coll)
    return ()


def render_value(value: Any) -> str:
    """How a value reads inside a message.

    >>> render_value(None), render_value(0.5), render_value(["a", 1]), render_value(Unknown("x"))
    ('null', '0.5', '[a, 1]', '(unknown: x)')
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    cls = value.__class__
    if cls is str:
        return value  # type: ignore[no-any-return]
    if cls is Unknown:
        return f"(unknown: {value.reason})"
    if cls is float:
        return repr(value) if math.isfinite(value) else str(value)
    if cls is int:
        try:
            return str(value)
        except ValueError:  # more digits than Python will print
            return f"(an integer of {value.bit_length()} bits)"
    if cls is list:
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if cls in (frozenset, set):
        return "{" + ", ".join(sorted(render_value(v) for v in value)) + "}"
    if cls is dict:
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in value.items()) + "}"
    ident = getattr(value, "id", None)
    return str(ident) if ident is not None else repr(value)


def jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of a value, for evidence: records become their id, sets sorted lists."""
    if value is None or value.__class__ in (str, bool):
        return value
    cls = value.__class__
    if cls is int:
        # JSON readers (and orjson) stop at 64 bits; larger numbers travel as text.
        return value if -(2**63) <= value < 2**64 else render_value(value)
    if cls is float:
        return value if math.isfinite(value) else str(value)
    if cls is Unknown:
        return {"unknown": value.reason}
    if depth > 6:
        return "…"
    if cls in (list, tuple):
        return [jsonable(v, depth + 1) for v in value[:50]]
    if cls in (frozenset, set):
        return sorted((jsonable(v, depth + 1) for v in value), key=repr)[:50]
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in list(value.items())[:50]}
    ident = getattr(value, "id", None)
    return str(ident) if ident is not None else repr(value)


def make_set(items: list[Any]) -> Any:
    """A set literal's value: unknown if a member is unknown, null if a member cannot be in a set."""
    for x in items:
        if x.__class__ is Unknown:
            return x
    try:
        return frozenset(items)
    except TypeError:  # a list or a map from the facts
        return None


def make_map(pairs: list[tuple[Any, Any]]) -> Any:
    """A map literal's value: unknown if a key is unknown, null if a key cannot be a map key."""
    out: dict[Any, Any] = {}
    for k, v in pairs:
        if k.__class__ is Unknown:
            return k
        try:
            out[k] = v
        except TypeError:
            return None
    return out


def group_key(value: Any) -> Any:
    """A value as a dict key that keeps `true` and `1` apart and accepts lists and maps."""
    if value.__class__ is bool:
        return ("bool", value)
    try:
        hash(value)
    except TypeError:
        return ("repr", repr(value))
    return value


# --- aggregates: both evaluators feed these the values of the body, item by item ---------


def reduce_any(values: Any) -> Any:
    unknown = None
    for v in values:
        if v is True:
            return True
        if v.__class__ is Unknown and unknown is None:
            unknown = v
    return False if unknown is None else unknown


def reduce_all(values: Any) -> Any:
    unknown = None
    for v in values:
        if v is True:
            continue
        if v.__class__ is Unknown:
            if unknown is None:
                unknown = v
            continue
        return False
    return True if unknown is None else unknown


def reduce_count(values: Any) -> Any:
    n = 0
    for v in values:
        if v is True:
            n += 1
        elif v.__class__ is Unknown:
            return v
    return n


def reduce_share(values: Any) -> Any:
    n = total = 0
    for v in values:
        total += 1
        if v is True:
            n += 1
        elif v.__class__ is Unknown:
            return v
    return None if total == 0 else n / total


def reduce_sum(values: Any) -> Any:
    total: Any = 0
    for v in values:
        cls = v.__class__
        if cls is int or cls is float:
            total += v
        elif cls is Unknown:
            return v
    return total


def reduce_extreme(values: Any, largest: bool) -> Any:
    items = []
    for v in values:
        if v.__class__ is Unknown:
            return v
        if v is not None:
            items.append(v)
    if not items:
        return None
    if all(x.__class__ in (int, float) for x in items) or all(x.__class__ is str for x in items):
        return max(items) if largest else min(items)
    return None


def reduce_most_common(values: Any) -> Any:
    counts: dict[Any, list[Any]] = {}  # key -> [first value seen, count]
    for v in values:
        if v.__class__ is Unknown:
            return v
        if v is None:
            continue
        entry = counts.get(group_key(v))
        if entry is None:
            counts[group_key(v)] = [v, 1]
        else:
            entry[1] += 1
    best, best_n = None, 0
    for value, n in counts.values():
        if n > best_n:
            best, best_n = value, n
    return best


def count_items(coll: Any) -> Any:
    items = iterate(coll)
    if items.__class__ is Unknown:
        return items
    return len(items)


REDUCERS = {
    "any": reduce_any,
    "all": reduce_all,
    "count": reduce_count,
    "share": reduce_share,
    "sum": reduce_sum,
    "min": lambda vs: reduce_extreme(vs, False),
    "max": lambda vs: reduce_extreme(vs, True),
    "most_common": reduce_most_common,
}
