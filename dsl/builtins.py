"""The built-in functions: the only functions a policy can call.

Each has a type rule (used by the checker) and an implementation (used by
both evaluators). Implementations take the evaluation context first. All are
total: a wrong-typed or null argument gives null, an unknown one gives
unknown. Regular expressions use RE2, which matches in linear time, so no
pattern can stall the admission path.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import re2

from regie.dsl.types import ANY, BOOL, ERROR, FLOAT, INT, STR, ListType, MapType, SetType, Type, assignable
from regie.dsl.values import Unknown, group_key, render_value

__all__ = ["BUILTINS", "Builtin", "EvalContext", "compile_regex", "glob_to_regex"]


@dataclass(slots=True)
class EvalContext:
    """What builtins may see besides their arguments: today's date (for evidence age)."""

    today: dt.date


#: Result of a type rule: the result type, or an error message about the arguments.
TypeRule = Callable[[Sequence[Type]], "Type | str"]


@dataclass(frozen=True, slots=True)
class Builtin:
    name: str
    signature: str
    doc: str
    type_rule: TypeRule
    impl: Callable[..., Any]
    #: Argument positions that are regular expressions or globs (checked at load time when literal).
    pattern_args: tuple[int, ...] = ()


def _fixed(params: Sequence[Type], result: Type) -> TypeRule:
    def rule(args: Sequence[Type]) -> Type | str:
        if len(args) != len(params):
            return f"takes {len(params)} argument{'s' if len(params) != 1 else ''}, got {len(args)}"
        for i, (arg, want) in enumerate(zip(args, params, strict=True)):
            if not assignable(arg, want):
                return f"argument {i + 1} must be `{want}`, got `{arg}`"
        return result

    return rule


def _prefix_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 2:
        return f"takes 2 arguments, got {len(args)}"
    if not assignable(args[0], STR):
        return f"argument 1 must be `str`, got `{args[0]}`"
    if not (assignable(args[1], STR) or assignable(args[1], ListType(STR))):
        return f"argument 2 must be `str` or a collection of `str`, got `{args[1]}`"
    return BOOL


def _len_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 1:
        return f"takes 1 argument, got {len(args)}"
    if not (args[0] in (STR, ANY, ERROR) or isinstance(args[0], ListType | SetType | MapType)):
        return f"argument 1 must be a string or a collection, got `{args[0]}`"
    return INT


def _keys_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 1:
        return f"takes 1 argument, got {len(args)}"
    ty = args[0]
    if isinstance(ty, MapType):
        return ListType(ty.key)
    if ty in (ANY, ERROR):
        return ListType(ANY)
    return f"argument 1 must be a map, got `{ty}`"


def _values_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 1:
        return f"takes 1 argument, got {len(args)}"
    ty = args[0]
    if isinstance(ty, MapType):
        return ListType(ty.value)
    if ty in (ANY, ERROR):
        return ListType(ANY)
    return f"argument 1 must be a map, got `{ty}`"


def _any_rule(result: Type, arity: int = 1) -> TypeRule:
    def rule(args: Sequence[Type]) -> Type | str:
        if len(args) != arity:
            return f"takes {arity} argument{'s' if arity != 1 else ''}, got {len(args)}"
        return result

    return rule


def _strings(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Null or non-string in, null out; unknown in, unknown out."""

    @functools.wraps(fn)
    def wrapper(ctx: EvalContext, *args: Any) -> Any:
        for a in args:
            if a.__class__ is Unknown:
                return a
        for a in args:
            if a.__class__ is not str:
                return None
        return fn(ctx, *args)

    return wrapper


def _prefix(method: str) -> Callable[..., Any]:
    def impl(ctx: EvalContext, s: Any, p: Any) -> Any:
        if s.__class__ is Unknown:
            return s
        if p.__class__ is Unknown:
            return p
        if s.__class__ is not str:
            return None
        if p.__class__ is str:
            return getattr(s, method)(p)
        if isinstance(p, list | frozenset | set):
            return getattr(s, method)(tuple(x for x in p if x.__class__ is str))
        return None

    return impl


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> Any:
    """Compile with RE2; raises ``ValueError`` with RE2's reason when the pattern is invalid."""
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options)
    except re2.error as err:
        reason = err.args[0] if err.args else ""
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(str(reason) or "invalid regular expression") from None


def glob_to_regex(pattern: str) -> str:
    """A glob (``*``, ``?``, ``[abc]``) as an anchored RE2 pattern; ``*`` also crosses line breaks.

    >>> glob_to_regex("ghcr.io/*")
    '(?s)^ghcr\\\\.io\\\\/.*$'
    """
    out = ["(?s)^"]
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re2.escape(ch))
            else:
                body = pattern[i + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re2.escape(ch))
        i += 1
    out.append("$")
    return "".join(out)


@_strings
def _matches(ctx: EvalContext, s: str, pattern: str) -> Any:
    regex = _regex(pattern)
    return None if regex is None else regex.search(s) is not None


@_strings
def _glob(ctx: EvalContext, s: str, pattern: str) -> Any:
    return _glob_match(pattern, s)


@functools.lru_cache(maxsize=16384)
def _glob_match(pattern: str, s: str) -> bool | None:
    # A set of type globs (`aws_dynamodb_*`, …) is tried against the same few resource types
    # again and again: remembering the answers saves most of the regex calls of a decision.
    regex = _glob_regex(pattern)
    return None if regex is None else regex.search(s) is not None


# Patterns usually come from a policy or its parameters (a set of globs tried against every
# resource), so the same few are used over and over: compiling each once matters. The caches
# are bounded, because a pattern can also come from the facts.
@functools.lru_cache(maxsize=2048)
def _regex(pattern: str) -> Any:
    """The compiled RE2 pattern, or None when it is not valid."""
    try:
        return compile_regex(pattern)
    except ValueError:
        return None


@functools.lru_cache(maxsize=2048)
def _glob_regex(pattern: str) -> Any:
    return _regex(glob_to_regex(pattern))


def _len(ctx: EvalContext, x: Any) -> Any:
    if x.__class__ is Unknown:
        return x
    if isinstance(x, str | list | frozenset | set | dict):
        return len(x)
    return None


def _keys(ctx: EvalContext, m: Any) -> Any:
    if m.__class__ is Unknown:
        return m
    return list(m) if isinstance(m, dict) else None


def _values(ctx: EvalContext, m: Any) -> Any:
    if m.__class__ is Unknown:
        return m
    return list(m.values()) if isinstance(m, dict) else None


def _string(ctx: EvalContext, x: Any) -> Any:
    if x.__class__ is Unknown:
        return x
    return None if x is None else render_value(x)


def _percent(ctx: EvalContext, x: Any) -> Any:
    if x.__class__ is Unknown:
        return x
    if x.__class__ not in (int, float):
        return None
    try:
        return f"{math.floor(x * 100 + 0.5)}%"  # half up: 0.125 is 13%
    except (OverflowError, ValueError):  # infinite, not a number, or too large for a float
        return None


def _known(ctx: EvalContext, x: Any) -> Any:
    return x.__class__ is not Unknown


def _or_unknown_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 2:
        return f"takes 2 arguments, got {len(args)}"
    if not assignable(args[1], STR):
        return f"argument 2 must be `str`, got `{args[1]}`"
    return args[0]


def _or_unknown(ctx: EvalContext, x: Any, reason: Any) -> Any:
    # A missing catalogue entry is null; where a requirement depends on it, the policy says
    # "cannot decide" rather than "fails", and says why.
    if x is None:
        return Unknown(reason if reason.__class__ is str else "a value is missing")
    return x


def _parse_date(s: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(s[:10])
    except ValueError:
        return None


def _days_since(ctx: EvalContext, s: Any) -> Any:
    if s.__class__ is Unknown:
        return s
    if s.__class__ is dt.date:
        return (ctx.today - s).days
    if s.__class__ is not str:
        return None
    day = _parse_date(s)
    return None if day is None else (ctx.today - day).days


def _split(ctx: EvalContext, s: Any, sep: Any) -> Any:
    if s.__class__ is Unknown:
        return s
    if sep.__class__ is Unknown:
        return sep
    if s.__class__ is not str or sep.__class__ is not str or not sep:
        return None
    return s.split(sep)


def _join(ctx: EvalContext, xs: Any, sep: Any) -> Any:
    if xs.__class__ is Unknown:
        return xs
    if sep.__class__ is Unknown:
        return sep
    if not isinstance(xs, list | frozenset | set) or sep.__class__ is not str:
        return None
    items = [render_value(x) for x in xs]
    if not isinstance(xs, list):
        items.sort()
    return sep.join(items)


def _distinct(ctx: EvalContext, xs: Any) -> Any:
    if xs.__class__ is Unknown:
        return xs
    if not isinstance(xs, list | frozenset | set):
        return None
    seen: dict[Any, Any] = {}
    for x in xs:
        seen.setdefault(group_key(x), x)  # `true` and `1` stay apart
    return list(seen.values())


def _list_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 1:
        return f"takes 1 argument, got {len(args)}"
    ty = args[0]
    if isinstance(ty, ListType | SetType):
        return ListType(ty.elem)
    if ty in (ANY, ERROR):
        return ListType(ANY)
    return f"argument 1 must be a list or set, got `{ty}`"


def _join_rule(args: Sequence[Type]) -> Type | str:
    if len(args) != 2:
        return f"takes 2 arguments, got {len(args)}"
    if not (isinstance(args[0], ListType | SetType) or args[0] in (ANY, ERROR)):
        return f"argument 1 must be a list or set, got `{args[0]}`"
    if not assignable(args[1], STR):
        return f"argument 2 must be `str`, got `{args[1]}`"
    return STR


BUILTINS: dict[str, Builtin] = {
    b.name: b
    for b in (
        Builtin(
            "startswith",
            "startswith(s: str, prefix: str | list[str]) -> bool",
            "whether `s` starts with the prefix (or with any of the prefixes)",
            _prefix_rule,
            _prefix("startswith"),
        ),
        Builtin(
            "endswith",
            "endswith(s: str, suffix: str | list[str]) -> bool",
            "whether `s` ends with the suffix (or with any of the suffixes)",
            _prefix_rule,
            _prefix("endswith"),
        ),
        Builtin(
            "lower",
            "lower(s: str) -> str",
            "`s` in lower case",
            _fixed([STR], STR),
            _strings(lambda ctx, s: s.lower()),
        ),
        Builtin(
            "upper",
            "upper(s: str) -> str",
            "`s` in upper case",
            _fixed([STR], STR),
            _strings(lambda ctx, s: s.upper()),
        ),
        Builtin(
            "trim",
            "trim(s: str) -> str",
            "`s` without leading and trailing white space",
            _fixed([STR], STR),
            _strings(lambda ctx, s: s.strip()),
        ),
        Builtin(
            "matches",
            "matches(s: str, pattern: str) -> bool",
            "whether the RE2 regular expression matches anywhere in `s` (anchor with `^…$`)",
            _fixed([STR, STR], BOOL),
            _matches,
            pattern_args=(1,),
        ),
        Builtin(
            "glob",
            "glob(s: str, pattern: str) -> bool",
            "whether all of `s` matches the glob (`*` any text, `?` one character, `[abc]` a class)",
            _fixed([STR, STR], BOOL),
            _glob,
            pattern_args=(1,),
        ),
        Builtin(
            "len",
            "len(x: str | list | set | map) -> int",
            "the length of a string or collection",
            _len_rule,
            _len,
        ),
        Builtin("keys", "keys(m: map[K, V]) -> list[K]", "the keys of a map, in order", _keys_rule, _keys),
        Builtin(
            "values",
            "values(m: map[K, V]) -> list[V]",
            "the values of a map, in order",
            _values_rule,
            _values,
        ),
        Builtin(
            "split",
            "split(s: str, sep: str) -> list[str]",
            "`s` cut at every `sep`",
            _fixed([STR, STR], ListType(STR)),
            _split,
        ),
        Builtin(
            "join",
            "join(xs: list | set, sep: str) -> str",
            "the items as text, joined by `sep`",
            _join_rule,
            _join,
        ),
        Builtin(
            "distinct",
            "distinct(xs: list | set) -> list",
            "the items without repeats, in first-seen order",
            _list_rule,
            _distinct,
        ),
        Builtin(
            "string", "string(x) -> str", "any value as text, as a message shows it", _any_rule(STR), _string
        ),
        Builtin(
            "percent",
            "percent(x: float) -> str",
            "a fraction as a whole percentage: `0.83` → `83%`",
            _fixed([FLOAT], STR),
            _percent,
        ),
        Builtin(
            "known",
            "known(x) -> bool",
            "false when `x` is unknown (for example known only after apply)",
            _any_rule(BOOL),
            _known,
        ),
        Builtin(
            "or_unknown",
            "or_unknown(x, reason: str) -> x",
            "`x`, or an unknown value with `reason` when `x` is null (a catalogue entry that is missing)",
            _or_unknown_rule,
            _or_unknown,
        ),
        Builtin(
            "days_since",
            "days_since(date: str) -> int",
            "whole days from an ISO date (`2025-03-01`) to today; null when it is not a date",
            _fixed([STR], INT),
            _days_since,
        ),
    )
}
