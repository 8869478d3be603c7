"""Types of the policy language.

The language is typed against schemas given to the checker (the fact model
and the catalogues live in ``regie.engine``; this module only knows how to
describe them). Every value may be null, and any value may turn out to be
*unknown* at evaluation time, so neither is part of a type.

``any`` is the type of native data (``r.attributes``): fields of it are
``any``, and it is compatible with every type. ``error`` is the checker's
recovery type: it unifies with everything and silences follow-on errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = [
    "ANY",
    "BOOL",
    "ERROR",
    "FLOAT",
    "INT",
    "NULL",
    "STR",
    "ListType",
    "MapType",
    "Prim",
    "RecordType",
    "Schema",
    "SetType",
    "Type",
    "assignable",
    "element_type",
    "is_numeric",
    "join",
]


@dataclass(frozen=True, slots=True)
class Prim:
    name: str  # str, int, float, bool, null, any, error

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class ListType:
    elem: Type

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@dataclass(frozen=True, slots=True)
class SetType:
    elem: Type

    def __str__(self) -> str:
        return f"set[{self.elem}]"


@dataclass(frozen=True, slots=True)
class MapType:
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"map[{self.key}, {self.value}]"


@dataclass(frozen=True, slots=True)
class RecordType:
    """A named record with known fields: a resource, a catalogue entry.

    ``open`` records (none yet) would allow unknown fields as ``any``.
    """

    name: str
    fields: tuple[tuple[str, Type], ...]
    doc: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    #: The Python class whose instances carry these fields as attributes, when every value of
    #: this type is one (resources); None when values are maps (catalogue entries).
    runtime: type | None = field(default=None, compare=False)

    def field_type(self, name: str) -> Type | None:
        for key, ty in self.fields:
            if key == name:
                return ty
        return None

    def field_names(self) -> list[str]:
        return [key for key, _ in self.fields]

    def __str__(self) -> str:
        return self.name


Type = Prim | ListType | SetType | MapType | RecordType

STR = Prim("str")
INT = Prim("int")
FLOAT = Prim("float")
BOOL = Prim("bool")
NULL = Prim("null")
ANY = Prim("any")
ERROR = Prim("error")


@dataclass(frozen=True, slots=True)
class Schema:
    """The global names a policy may use, with their types (``resources``, catalogues)."""

    globals: Mapping[str, Type]
    #: Names of globals that are iterated by the first ``for`` and indexed by kind.
    roots: frozenset[str] = frozenset({"resources"})


def is_numeric(ty: Type) -> bool:
    return ty in (INT, FLOAT, ANY, ERROR)


def element_type(ty: Type) -> Type | None:
    """The type iteration yields, or None when ``ty`` is not a collection.

    Iterating a map yields its keys.
    """
    if isinstance(ty, ListType | SetType):
        return ty.elem
    if isinstance(ty, MapType):
        return ty.key
    if ty in (ANY, ERROR):
        return ty
    return None


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type ``value`` fits where ``target`` is expected.

    >>> assignable(INT, FLOAT), assignable(FLOAT, INT), assignable(ListType(INT), ListType(ANY))
    (True, False, True)
    """
    if value in (target, NULL) or ANY in (value, target) or ERROR in (value, target):
        return True
    if value == INT and target == FLOAT:
        return True
    if isinstance(value, ListType) and isinstance(target, ListType | SetType):
        return assignable(value.elem, target.elem)
    if isinstance(value, SetType) and isinstance(target, SetType):
        return assignable(value.elem, target.elem)
    if isinstance(value, MapType) and isinstance(target, MapType):
        return assignable(value.key, target.key) and assignable(value.value, target.value)
    return False


def join(a: Type, b: Type) -> Type:
    """The least type of both, for list elements and ``??``; ``any`` when they differ.

    >>> str(join(INT, FLOAT)), str(join(NULL, STR)), str(join(STR, INT))
    ('float', 'str', 'any')
    """
    if a == b:
        return a
    if ERROR in (a, b):
        return ERROR
    if a == NULL:
        return b
    if b == NULL:
        return a
    if {a, b} == {INT, FLOAT}:
        return FLOAT
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType(join(a.elem, b.elem))
    if isinstance(a, SetType) and isinstance(b, SetType):
        return SetType(join(a.elem, b.elem))
    if isinstance(a, MapType) and isinstance(b, MapType):
        return MapType(join(a.key, b.key), join(a.value, b.value))
    return ANY
