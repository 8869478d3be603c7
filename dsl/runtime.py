"""What evaluating a policy produces, shared by the interpreter and the compiler."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from regie.dsl.builtins import EvalContext
from regie.dsl.values import get_field, render_value

__all__ = ["Finding", "RowLayout", "Rows", "RunContext", "item_label", "resource_id"]

Outcome = Literal["violation", "unknown"]


class Finding(NamedTuple):
    """One failing (or undecidable) policy result, before waivers and enforcement are applied.

    ``target`` is the resource id, or ``name:key`` for a group; ``item`` names the
    nested item (a container, say) when the policy iterates inside a resource.
    A tuple, not a dataclass: a large scan makes one per violation, and a frozen
    dataclass costs several times more to build.
    """

    outcome: Outcome
    target: str
    item: str | None
    message: str
    evidence: Mapping[str, Any]
    reason: str | None = None
    resource: Any = None

    def key(self) -> tuple[str, str | None, str]:
        return (self.target, self.item, self.outcome)

    def same(self, other: Finding) -> bool:
        """Equal in everything but the resource object (which is compared by identity)."""
        return self[:6] == other[:6] and self.resource is other.resource


@dataclass(frozen=True, slots=True)
class RowLayout:
    """The tuple a caller wants for each violation a generated policy decides, instead of a
    :class:`Finding` that the caller would then convert (the engine's ``Violation``: a large
    scan decides tens of thousands, and building each twice costs a tenth of the run).

    A row is ``cls`` built positionally from ``head`` values (given per run, :class:`Rows`),
    the finding's outcome, target, item, message, evidence and reason, then ``facts`` read
    from the root item when it is a ``record`` (None otherwise, and for a group's finding;
    ``(name, True)``: None unless the value is a string), then ``tail`` values. The DSL
    knows nothing else of the row; undecided findings stay :class:`Finding` tuples.
    """

    cls: type[tuple[Any, ...]]
    head: int
    record: type
    facts: tuple[tuple[str, bool], ...]
    tail: int


@dataclass(frozen=True, slots=True)
class Rows:
    """A run's values for the rows of a :class:`RowLayout`."""

    layout: RowLayout
    head: tuple[Any, ...]
    tail: tuple[Any, ...]


@dataclass(slots=True)
class RunContext:
    """The world a policy runs in: global values (resources, catalogues), its parameters, and
    today; ``rows``: violations as the caller's rows (see :class:`RowLayout`)."""

    globals: Mapping[str, Any]
    params: Mapping[str, Any]
    eval: EvalContext = field(default_factory=lambda: EvalContext(today=dt.date.today()))
    rows: Rows | None = None


def resource_id(item: Any) -> str:
    ident = get_field(item, "id")
    return render_value(ident) if ident is not None else render_value(item)


def item_label(item: Any) -> str:
    """How a nested item is named in a finding: its ``name`` if it has one, else its value."""
    name = get_field(item, "name")
    if isinstance(name, str):
        return name
    text = render_value(item)
    return text if len(text) <= 80 else text[:77] + "..."
