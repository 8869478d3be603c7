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
    """Structural equality; ``true`` is not ``1``; unknown if either side is unknown."""
    if a.__class__ is Unknown:
        return a
    if b.__class__ is Unknown:
        return b
    if (a.__class__ is bool) is not (b.__class__ is bool):
        return False
    return a == b


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
            return item in coll
        except TypeError:
            return False
    if coll.__class__ is list:
        return any(equal(item, x) is True for x in coll)
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
        return str(value)
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
    if value is None or value.__class__ in (str, int, bool):
        return value
    cls = value.__class__
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
    counts: dict[Any, int] = {}
    for v in values:
        if v.__class__ is Unknown:
            return v
        if v is None:
            continue
        try:
            counts[v] = counts.get(v, 0) + 1
        except TypeError:  # unhashable values (lists, maps) are not counted
            continue
    best, best_n = None, 0
    for value, n in counts.items():
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
