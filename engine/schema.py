"""The schema policies are checked against: the fact model and the catalogues."""

from __future__ import annotations

import functools

from regie.dsl.types import ANY, BOOL, STR, MapType, RecordType, Schema, Type
from regie.engine.catalog import catalog_globals_schema
from regie.engine.facts import FACT_FIELDS, Resource

__all__ = ["RESOURCE_TYPE", "fact_schema"]

_TYPES: dict[str, Type] = {"str": STR, "bool": BOOL, "any": ANY, "map[str, str]": MapType(STR, STR)}

RESOURCE_TYPE = RecordType(
    "Resource",
    tuple((name, _TYPES[ty]) for name, ty, _ in FACT_FIELDS),
    doc=tuple((name, doc) for name, _, doc in FACT_FIELDS),
    runtime=Resource,
)


@functools.cache
def fact_schema() -> Schema:
    """``resources``, every catalogue, ``eu``, and ``today`` (the evaluation date, ISO)."""
    from regie.dsl.types import ListType

    globals_: dict[str, Type] = {"resources": ListType(RESOURCE_TYPE), "today": STR}
    globals_.update(catalog_globals_schema())
    return Schema(globals_, roots=frozenset({"resources"}))
