"""The fact model: resources, whatever their source, and the inventory that indexes them.

A resource is one thing that exists or is about to exist. Resources are plain
slotted objects, not pydantic models: building a model per resource costs too
much at 100k resources. Validation happens once, where records enter
(:func:`resources_from_records`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from regie.dsl.check import Selector
from regie.dsl.values import Unknown

__all__ = [
    "FACT_FIELDS",
    "FactError",
    "Inventory",
    "Resource",
    "resource_from_record",
    "resources_from_records",
    "truthy_label",
]

#: Fields of a resource, their types in the policy language, and what they mean.
FACT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("id", "str", "stable, unique id across sources, e.g. `terraform:prod.tfstate#aws_s3_bucket.logs`"),
    ("source", "str", "the connector and location the fact came from"),
    (
        "kind",
        "str",
        "normalised category: compute, storage, database, network, kubernetes.workload, "
        "container.image, saas.application, ai.model, …",
    ),
    ("type", "str", "the native type: `aws_s3_bucket`, `apps/v1/Deployment`"),
    ("address", "str", "the native address, as the source prints it (`module.db.aws_db_instance.main`)"),
    ("name", "str", "the resource's own name"),
    ("provider", "str", "provider key in the providers catalogue (`aws`, `hcloud`, …)"),
    ("region", "str", "region or location as the provider names it"),
    ("country", "str", "ISO 3166 country code of the region"),
    ("service", "str", "the service this resource belongs to"),
    ("classification", "str", "data classification label (BBN2, dep-v, …)"),
    ("vital", "bool", "whether the service is vital"),
    ("exit_plan", "str", "reference to the exit plan"),
    ("owner", "str", "owning team or person"),
    ("action", "str", "planned action (create, update, delete, replace, no-op); null for existing facts"),
    ("labels", "map[str, str]", "tags and labels, as strings"),
    ("attributes", "any", "the native data, untouched except for redacted secrets"),
)


class FactError(ValueError):
    """A record that cannot become a resource; ``where`` names the record and field."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class Resource:
    """One fact. Every field is present; missing ones are None (null in policies)."""

    __slots__ = (*tuple(name for name, _, _ in FACT_FIELDS), "seq")

    id: str
    source: str | None
    kind: Any
    type: Any
    address: str | None
    name: str | None
    provider: Any
    region: Any
    country: Any
    service: Any
    classification: Any
    vital: Any
    exit_plan: Any
    owner: Any
    action: str | None
    labels: dict[str, str]
    attributes: Any
    seq: int

    def __init__(
        self,
        id: str,
        *,
        source: str | None = None,
        kind: str | None = None,
        type: str | None = None,
        address: str | None = None,
        name: str | None = None,
        provider: Any = None,
        region: Any = None,
        country: Any = None,
        service: Any = None,
        classification: Any = None,
        vital: Any = None,
        exit_plan: Any = None,
        owner: Any = None,
        action: str | None = None,
        labels: dict[str, str] | None = None,
        attributes: Any = None,
    ) -> None:
        self.id = id
        self.source = source
        self.kind = kind
        self.type = type
        self.address = address
        self.name = name
        self.provider = provider
        self.region = region
        self.country = country
        self.service = service
        self.classification = classification
        self.vital = vital
        self.exit_plan = exit_plan
        self.owner = owner
        self.action = action
        self.labels = labels if labels is not None else {}
        self.attributes = attributes if attributes is not None else {}
        self.seq = 0

    def __repr__(self) -> str:
        return f"Resource({self.id!r}, kind={self.kind!r}, type={self.type!r})"

    def to_dict(self) -> dict[str, Any]:
        """The resource as JSON-ready data: unknown values, at any depth, as ``{"unknown": reason}``
        (the form :func:`resource_from_record` reads back)."""
        return {name: _plain(getattr(self, name)) for name, _, _ in FACT_FIELDS}


def _plain(value: Any) -> Any:
    cls = value.__class__
    if cls is Unknown:
        return {"unknown": value.reason}
    if cls is dict:
        return {k: _plain(v) for k, v in value.items()}
    if cls is list or cls is tuple:
        return [_plain(v) for v in value]
    if cls is frozenset or cls is set:
        return sorted((_plain(v) for v in value), key=repr)
    return value


def truthy_label(value: Any) -> bool | None:
    """``vital`` from a tag: ``true``/``yes``/``1`` and ``false``/``no``/``0``, any case; else None.

    >>> truthy_label("True"), truthy_label("no"), truthy_label("maybe")
    (True, False, None)
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("true", "yes", "1", "ja"):
            return True
        if v in ("false", "no", "0", "nee"):
            return False
    return None


_STR_FIELDS = (
    "source",
    "kind",
    "type",
    "address",
    "name",
    "provider",
    "region",
    "country",
    "service",
    "classification",
    "exit_plan",
    "owner",
    "action",
)


def resource_from_record(record: Any, where: str) -> Resource:
    """A resource from a plain record (a facts file, a test's ``given resources``).

    ``{"unknown": "reason"}`` as a field value is an unknown value.

    >>> resource_from_record({"id": "a", "kind": "storage", "vital": "true"}, "facts.json[0]").vital
    True
    """
    if not isinstance(record, Mapping):
        raise FactError(where, f"a resource must be a map, got {_kind(record)}")
    ident = record.get("id")
    if not isinstance(ident, str) or not ident:
        raise FactError(where, "a resource needs a non-empty string `id`")
    allowed = {name for name, _, _ in FACT_FIELDS}
    for key in record:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise FactError(
                f"{where}.{key}", f"unknown resource field `{key}`{hint}; native data goes in `attributes`"
            )
    values: dict[str, Any] = {}
    for key in _STR_FIELDS:
        value = _unknown_or(record.get(key))
        if value is not None and not isinstance(value, str | Unknown):
            raise FactError(f"{where}.{key}", f"expected a string, got {_kind(value)}")
        values[key] = value
    vital = _unknown_or(record.get("vital"))
    if vital is not None and not isinstance(vital, Unknown):
        parsed = truthy_label(vital)
        if parsed is None:
            raise FactError(f"{where}.vital", f"expected true or false, got {vital!r}")
        vital = parsed
    labels = record.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise FactError(f"{where}.labels", f"expected a map of strings, got {_kind(labels)}")
    labels = {str(k): v if isinstance(v, str) else _label_text(v) for k, v in labels.items()}
    attributes = record.get("attributes")
    if attributes is not None and not isinstance(attributes, Mapping):
        raise FactError(f"{where}.attributes", f"expected a map, got {_kind(attributes)}")
    return Resource(ident, vital=vital, labels=labels, attributes=_thaw(attributes or {}), **values)


def resources_from_records(records: Any, where: str) -> list[Resource]:
    """Resources from a list of records; ``where`` names the file. Ids must be unique."""
    if isinstance(records, Mapping) and "resources" in records:
        records = records["resources"]
        where = f"{where}: resources"
    elif isinstance(records, Mapping):
        import difflib

        keys = [str(k) for k in records]
        close = difflib.get_close_matches("resources", keys, n=1)
        hint = f"; did you mean `resources` for `{close[0]}`?" if close else ""
        raise FactError(where, f"expected a list of resources, or a map with a `resources` list{hint}")
    if not isinstance(records, list):
        raise FactError(where, f"expected a list of resources, got {_kind(records)}")
    out = []
    seen: set[str] = set()
    for i, record in enumerate(records):
        resource = resource_from_record(record, f"{where}[{i}]")
        if resource.id in seen:
            raise FactError(f"{where}[{i}].id", f"duplicate resource id `{resource.id}`")
        seen.add(resource.id)
        out.append(resource)
    return out


def _unknown_or(value: Any) -> Any:
    if isinstance(value, Mapping) and set(value) == {"unknown"}:
        return Unknown(str(value["unknown"]))
    return value


def _label_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _thaw(value: Any) -> Any:
    """Native data as the policy language sees it: sets become sorted lists, unknowns marked."""
    if isinstance(value, Mapping):
        if set(value) == {"unknown"}:
            return Unknown(str(value["unknown"]))
        return {str(k): _thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_thaw(v) for v in value]
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        dict: "a map",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


_UNKNOWN = object()
_SEQ = attrgetter("seq")


@dataclass(slots=True)
class _Buckets:
    by_kind: dict[Any, list[Resource]]
    by_type: dict[Any, list[Resource]]


class Inventory:
    """All resources of one evaluation, indexed by kind and by type.

    >>> inv = Inventory([Resource("a", kind="storage"), Resource("b", kind="compute")])
    >>> [r.id for r in inv.select(Selector(kinds=frozenset({"compute"})))]
    ['b']
    """

    def __init__(self, resources: Iterable[Resource]) -> None:
        self.resources: list[Resource] = list(resources)
        by_kind: dict[Any, list[Resource]] = {}
        by_type: dict[Any, list[Resource]] = {}
        for i, r in enumerate(self.resources):
            r.seq = i
            # A kind or type that is unknown could be any: such resources go under _UNKNOWN,
            # which every selection includes (the policy's `where` then says "unknown").
            # (get, then append: setdefault would build a list per resource.)
            key = r.kind
            if key.__class__ is Unknown:
                key = _UNKNOWN
            bucket = by_kind.get(key)
            if bucket is None:
                by_kind[key] = [r]
            else:
                bucket.append(r)
            key = r.type
            if key.__class__ is Unknown:
                key = _UNKNOWN
            bucket = by_type.get(key)
            if bucket is None:
                by_type[key] = [r]
            else:
                bucket.append(r)
        self._buckets = _Buckets(by_kind, by_type)
        self._selected: dict[Selector, Sequence[Resource]] = {}

    def __len__(self) -> int:
        return len(self.resources)

    def __iter__(self) -> Iterator[Resource]:
        return iter(self.resources)

    def select(self, selector: Selector) -> Sequence[Resource]:
        """The resources a policy with this selector can apply to, in inventory order."""
        cache = self._selected
        found = cache.get(selector)
        if found is None:
            found = cache[selector] = self._select(selector)
        return found

    def _select(self, selector: Selector) -> Sequence[Resource]:
        if selector.types is not None:
            chosen = self._union(self._buckets.by_type, selector.types)
            if selector.kinds is not None:
                kinds = selector.kinds
                chosen = [r for r in chosen if r.kind in kinds or r.kind.__class__ is Unknown]
            return chosen
        if selector.kinds is not None:
            return self._union(self._buckets.by_kind, selector.kinds)
        return self.resources

    @staticmethod
    def _union(buckets: dict[Any, list[Resource]], keys: frozenset[str]) -> list[Resource]:
        lists = [buckets[k] for k in (*keys, _UNKNOWN) if k in buckets]
        if len(lists) == 1:
            return lists[0]
        merged = [r for lst in lists for r in lst]
        merged.sort(key=_SEQ)
        return merged
