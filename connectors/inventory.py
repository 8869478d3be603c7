"""The service inventory (``services.yaml``): the facts no API holds.

Tags say which service a bucket or a deployment belongs to; only people know
whether that service is vital, who owns it, whether a DPIA was done, when the
exit plan was last tested and what takes over when the provider stops
delivering (the *terugvaloptie*). This file records that, per service, and
:func:`join` lends it to every resource whose ``service`` names one.

Public:

- :func:`load_inventory` reads and validates a file (pydantic; extra fields are
  errors, dates are dates); an error names the file, the line and the field.
- :func:`inventory_resources` gives one ``service`` resource per service, its
  records in ``attributes`` (dates as ISO strings, for ``days_since``).
- :func:`join` fills vital, classification, exit_plan and owner onto resources
  where their tags say nothing, and reports a :class:`Conflict` where both say
  different things; the inventory wins a conflict only with ``prefer="inventory"``.

The schema, annotated, is in ``docs/connectors-http-inventory.md`` and
``tests/fixtures/inventory/services.yaml``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regie.connectors.base import ConnectorError
from regie.dsl.values import Unknown
from regie.engine.catalog import label_key
from regie.engine.facts import Resource

__all__ = [
    "JOINED_FIELDS",
    "AiContract",
    "AiUse",
    "Backup",
    "Certification",
    "Conflict",
    "Dpia",
    "DpiaStep",
    "Evidence",
    "ExitPlan",
    "Fallback",
    "RiskAssessment",
    "Service",
    "ServiceInventory",
    "Suppliers",
    "inventory_resources",
    "join",
    "load_inventory",
    "load_yaml_located",
    "validation_error",
]

#: The resource fields :func:`join` fills from the inventory.
JOINED_FIELDS: tuple[str, ...] = ("vital", "classification", "exit_plan", "owner")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RiskAssessment(_Strict):
    """The documented risk assessment, and the decision taken on it (CLOUD-02)."""

    reference: str
    date: dt.date
    decision_reference: str | None = None
    decision_date: dt.date | None = None


class DpiaStep(_Strict):
    reference: str
    date: dt.date


class Evidence(_Strict):
    """A document that shows something was done: its reference and its date."""

    reference: str
    date: dt.date


class Dpia(_Strict):
    """Pre-scan DPIA, and the full DPIA when the pre-scan found high risk (CLOUD-03)."""

    prescan: DpiaStep | None = None
    full: DpiaStep | None = None
    risk_level: Literal["low", "medium", "high"] | None = None


class ExitPlan(_Strict):
    """The exit strategy (BIO2 5.20.06) and when it was last rehearsed."""

    reference: str
    last_tested: dt.date | None = None


class Fallback(_Strict):
    """The terugvaloptie: what takes over, at which provider, last tested (CLOUD-09)."""

    description: str
    provider: str | None = None
    last_tested: dt.date | None = None


class Backup(_Strict):
    """Where backups go and when a restore was last tested (BIO2 8.13)."""

    target_provider: str
    target_region: str | None = None
    immutable: bool | None = None
    last_restore_test: dt.date | None = None


class AiContract(_Strict):
    """Contract terms with the AI supplier (GENAI-02): data sharing, retention, no retraining."""

    reference: str | None = None
    data_sharing: bool | None = None
    retention_days: int | None = Field(default=None, ge=0)
    no_training_on_prompts: bool | None = None


class AiUse(_Strict):
    """How the service uses (generative) AI: the facts the GENAI and AI Act requirements ask for."""

    purpose: str | None = None
    human_review: bool | None = None
    decisions_about_people: bool | None = None
    impact: Literal["low", "high"] | None = None
    algorithm_register_id: str | None = None
    iama: Evidence | None = None
    high_risk: bool | None = None
    fria: Evidence | None = None
    eu_database_id: str | None = None
    ai_disclosure: bool | None = None
    generated_media: list[Literal["image", "video", "voice"]] = Field(default_factory=list)
    public_consumer_tools: list[str] = Field(default_factory=list)


class Certification(_Strict):
    name: str
    reference: str | None = None
    valid_until: dt.date | None = None


class Suppliers(_Strict):
    """Who the service depends on: providers-catalogue keys, SaaS-catalogue keys, models-catalogue keys."""

    providers: list[str] = Field(default_factory=list)
    saas: list[str] = Field(default_factory=list)
    ai_models: list[str] = Field(default_factory=list)


class Service(_Strict):
    name: str = Field(min_length=1)
    description: str | None = None
    vital: bool | None = None
    classification: str | None = None
    personal_data: bool | None = None
    owner: str | None = None
    deployment_model: Literal["public", "private", "community", "hybrid", "on-premises"] | None = None
    suppliers: Suppliers = Field(default_factory=Suppliers)
    risk_assessment: RiskAssessment | None = None
    sovereignty_assessment: Evidence | None = None
    dependency_assessment: Evidence | None = None
    supplier_audit: Evidence | None = None
    dpia: Dpia | None = None
    exit_plan: ExitPlan | None = None
    fallback: Fallback | None = None
    backup: Backup | None = None
    ai_contract: AiContract | None = None
    ai_use: AiUse | None = None
    certifications: list[Certification] = Field(default_factory=list)

    @field_validator("certifications", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # `- ISO 27001` is short for `- {name: ISO 27001}`.
        if isinstance(value, list):
            return [{"name": v} if isinstance(v, str) else v for v in value]
        return value


class ServiceInventory(_Strict):
    version: Literal[1] = 1
    services: list[Service]
    #: The file it was read from (set by :func:`load_inventory`; not part of the file).
    path: str = Field(default="services.yaml", exclude=True)

    @model_validator(mode="after")
    def _unique(self) -> ServiceInventory:
        seen: set[str] = set()
        for svc in self.services:
            if svc.name in seen:
                raise ValueError(f"service `{svc.name}` is listed twice")
            seen.add(svc.name)
        return self

    def by_name(self) -> dict[str, Service]:
        return {s.name: s for s in self.services}


# --- YAML with line numbers ---------------------------------------------------------------

Lines = dict[tuple[str, ...], int]


class _Loader(yaml.SafeLoader):
    """Safe YAML, with timestamps left as text: pydantic parses dates, and says which one is wrong
    (PyYAML itself raises a bare ValueError on ``2025-13-01``)."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def load_yaml_located(text: str, where: str) -> tuple[Any, Lines]:
    """Parse YAML; also return the 1-based line of every node, by its path (keys and list indices as text).

    >>> data, lines = load_yaml_located("a:\\n  - x: 1\\n", "f")
    >>> lines[("a", "0", "x")]
    2
    """
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConnectorError(f"{where}{at}", f"not valid YAML: {problem}") from None
    lines: Lines = {}

    def walk(n: yaml.Node | None, path: tuple[str, ...]) -> None:
        if n is None:
            return
        lines[path] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            for key, value in n.value:
                # A value on the key's line points at the key (a nested map starts a line later).
                k = str(key.value)
                walk(value, (*path, k))
                lines[(*path, k)] = key.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, (*path, str(i)))

    walk(node, ())
    return data, lines


def validation_error(err: ValidationError, where: str, lines: Lines) -> ConnectorError:
    """The first pydantic error as ``file:line: field.path: message`` (all of them, one per line)."""
    parts: list[tuple[int | None, str]] = []
    for e in err.errors():
        # Unions and validators add steps that are not in the file (`bearer`, `function-after[…]`):
        # the place is the longest path of known nodes along the location.
        found: tuple[str, ...] = ()
        shown: list[str] = []
        for step in (str(x) for x in e["loc"]):
            if (*found, step) in lines:
                found = (*found, step)
                shown.append(step)
        loc = [str(x) for x in e["loc"]]
        if loc and loc[-1] not in shown:
            shown.append(loc[-1])  # a missing field is not in the file
        line = lines.get(found)
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown field `{loc[-1]}`"
        elif e["type"] == "missing":
            msg = f"`{loc[-1]}` is required"
        parts.append((line, f"{'.'.join(shown) or '(top)'}: {msg}"))
    first_line = parts[0][0] if parts else None
    if len(parts) > 1:
        text = "; ".join(f"line {n}: {m}" if n else m for n, m in parts)
    else:
        text = parts[0][1] if parts else str(err)
    at = f"{where}:{first_line}" if first_line else where
    return ConnectorError(at, text)


def load_inventory(path: str | Path) -> ServiceInventory:
    """Read and validate a ``services.yaml``. Raises :class:`ConnectorError` naming file, line and field."""
    p = Path(path)
    where = str(p)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConnectorError(where, f"cannot read the inventory: {err.strerror or err}") from None
    data, lines = load_yaml_located(text, where)
    if not isinstance(data, Mapping) or "services" not in data:
        raise ConnectorError(f"{where}:1", "a service inventory is a map with a `services` list")
    try:
        inv = ServiceInventory.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, where, lines) from None
    return inv.model_copy(update={"path": where})


# --- facts ---------------------------------------------------------------------------------


def inventory_resources(inv: ServiceInventory, source: str | None = None) -> list[Resource]:
    """One ``service`` resource per service; its records in ``attributes`` (dates as ISO strings).

    ``source`` defaults to the file name of the inventory.
    """
    name = source if source is not None else Path(inv.path).name
    out = []
    for svc in inv.services:
        attributes = svc.model_dump(mode="json")
        out.append(
            Resource(
                f"inventory:{name}#{svc.name}",
                source=f"inventory:{name}",
                kind="service",
                type="service",
                name=svc.name,
                service=svc.name,
                classification=svc.classification,
                vital=svc.vital,
                exit_plan=svc.exit_plan.reference if svc.exit_plan else None,
                owner=svc.owner,
                attributes=attributes,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Conflict:
    """Tags and the inventory say different things about one field of one resource."""

    resource: str
    service: str
    field: str
    tags: Any
    inventory: Any
    kept: Literal["tags", "inventory"]

    def __str__(self) -> str:
        return (
            f"{self.resource}: `{self.field}` is {self.tags!r} by its tags but {self.inventory!r} "
            f"in the inventory for service `{self.service}`; kept the {self.kept} value"
        )


def _service_values(svc: Service) -> dict[str, Any]:
    return {
        "vital": svc.vital,
        "classification": svc.classification,
        "exit_plan": svc.exit_plan.reference if svc.exit_plan else None,
        "owner": svc.owner,
    }


def _copy(r: Resource) -> Resource:
    c = Resource(r.id)
    for slot in Resource.__slots__:
        setattr(c, slot, getattr(r, slot))
    return c


def join(
    resources: Iterable[Resource],
    inv: ServiceInventory,
    prefer: Literal["tags", "inventory"] = "tags",
    same_level: Mapping[str, Any] | None = None,
) -> tuple[list[Resource], list[Conflict]]:
    """Fill service facts onto resources whose ``service`` is in the inventory.

    A field the tags leave null (or unknown) takes the inventory's value. Where
    both have a value and they differ, a :class:`Conflict` is reported and the
    tags' value stays, unless ``prefer="inventory"``. Changed resources are
    copies; the input is not modified. ``service`` resources themselves are
    passed through.

    ``same_level`` maps classification labels (lower-cased) to their level (the
    classifications catalogue): two labels of one level (``Dep. V`` and ``dep-v``) agree.
    """
    if prefer not in ("tags", "inventory"):
        raise ValueError(f"prefer must be 'tags' or 'inventory', not {prefer!r}")
    services = {name: _service_values(svc) for name, svc in inv.by_name().items()}
    out: list[Resource] = []
    conflicts: list[Conflict] = []
    for r in resources:
        values = services.get(r.service) if isinstance(r.service, str) and r.kind != "service" else None
        if values is None:
            out.append(r)
            continue
        updated: Resource | None = None
        for field in JOINED_FIELDS:
            theirs = values[field]
            if theirs is None:
                continue
            ours = getattr(r, field)
            if ours is None or isinstance(ours, Unknown):
                take = True
            elif _same(ours, theirs) or (
                field == "classification" and same_level is not None and _same_level(ours, theirs, same_level)
            ):
                continue
            else:
                conflicts.append(Conflict(r.id, r.service, field, ours, theirs, prefer))
                take = prefer == "inventory"
            if take:
                updated = updated or _copy(r)
                setattr(updated, field, theirs)
        out.append(updated or r)
    return out, conflicts


def _same_level(a: Any, b: Any, levels: Mapping[str, Any]) -> bool:
    if not (isinstance(a, str) and isinstance(b, str)):
        return False
    la = levels.get(label_key(a))
    lb = levels.get(label_key(b))
    return la is not None and lb is not None and la.get("level") == lb.get("level")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.strip().casefold() == b.strip().casefold()
    return bool(a == b)


def conflicts_text(conflicts: Sequence[Conflict]) -> list[str]:
    """Conflicts as lines for a report."""
    return [str(c) for c in conflicts]
