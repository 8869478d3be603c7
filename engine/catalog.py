"""Catalogues: the reference data policies look things up in.

Providers and their ultimate parents' jurisdictions, regions and their
countries, countries and their EU membership, AI models, container
registries and SaaS applications. Each catalogue is a map from a key to an
entry; each entry records where its facts come from (``source``) and when
they were last checked (``checked``).

Catalogues are merged in order: an organisation's own files add entries or
replace whole entries of the built-in ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regie.dsl.check import conforms
from regie.dsl.types import BOOL, INT, STR, ListType, MapType, RecordType, SetType, Type

__all__ = [
    "CATALOG_TYPES",
    "CatalogError",
    "Catalogs",
    "catalog_from_data",
    "catalog_globals_schema",
    "label_key",
]

_PROVENANCE: tuple[tuple[str, Type], ...] = (("source", STR), ("checked", STR), ("notes", STR))

#: Every catalogue, with the fields of its entries. ``source`` is required everywhere.
CATALOG_TYPES: dict[str, RecordType] = {
    "providers": RecordType(
        "Provider",
        (
            ("name", STR),
            ("hq_country", STR),
            ("parent", STR),
            ("parent_country", STR),
            ("parent_jurisdiction", STR),
            ("family", STR),
            ("deployment", STR),
            ("sovereign_offering", STR),
            *_PROVENANCE,
        ),
    ),
    "regions": RecordType(
        "Region", (("name", STR), ("provider", STR), ("country", STR), ("city", STR), *_PROVENANCE)
    ),
    "countries": RecordType("Country", (("name", STR), ("eu", BOOL), ("eea", BOOL), *_PROVENANCE)),
    "models": RecordType(
        "Model",
        (
            ("name", STR),
            ("vendor", STR),
            ("origin_country", STR),
            ("open_weights", BOOL),
            ("licence", STR),
            ("identifiers", ListType(STR)),
            *_PROVENANCE,
        ),
    ),
    "registries": RecordType(
        "Registry", (("name", STR), ("operator", STR), ("parent", STR), ("jurisdiction", STR), *_PROVENANCE)
    ),
    "saas": RecordType(
        "SaasVendor", (("name", STR), ("vendor", STR), ("parent", STR), ("jurisdiction", STR), *_PROVENANCE)
    ),
    # One ordered scheme for both vocabularies in use (BIO levels and VIR-BI rubricering).
    # In policies the catalogue is indexed by every label that names a level, lower-cased
    # (the key and each alias), and each entry carries its canonical key as `level`.
    "classifications": RecordType(
        "Classification",
        (
            ("name", STR),
            ("level", STR),
            ("scheme", STR),
            ("rank", INT),
            ("aliases", ListType(STR)),
            *_PROVENANCE,
        ),
    ),
}


class CatalogError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


@dataclass(slots=True)
class Catalogs:
    """The catalogues in force, merged from one or more files."""

    entries: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {name: {} for name in CATALOG_TYPES}
    )
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    _globals: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    _model_ids: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def merge(self, name: str, entries: Mapping[str, dict[str, Any]], origin: str) -> None:
        self._globals = None
        self._model_ids = None
        target = self.entries[name]
        for key, entry in entries.items():
            target[key] = entry
            self.origins[(name, key)] = origin

    def globals(self) -> dict[str, Any]:
        """Values for the policy language: each catalogue by name, and ``eu``, the EU member states.

        A fresh dict each time (callers add ``resources``), over entries computed once.
        """
        if self._globals is None:
            values: dict[str, Any] = dict(self.entries)
            values["eu"] = frozenset(
                code for code, c in self.entries["countries"].items() if c.get("eu") is True
            )
            values["classifications"] = self.classification_labels()
            self._globals = values
        return dict(self._globals)

    def model_key(self, identifier: str) -> str | None:
        """The models catalogue key whose ``identifiers`` contain ``identifier``, or None.

        Case-insensitive. Tried as written, then without a ``hf://`` scheme, then without a
        route prefix (``mistral/mistral-large-2411``), each also without an Ollama
        ``:latest`` tag: the first form that matches wins.

        >>> c = Catalogs()
        >>> c.merge("models", {"m": {"identifiers": ["mistralai/Mistral-7B-v0.3", "mistral:7b"]}}, "t")
        >>> c.model_key("hf://mistralai/mistral-7b-v0.3"), c.model_key("ollama/mistral:7b"), c.model_key("x")
        ('m', 'm', None)
        """
        if self._model_ids is None:
            index: dict[str, str] = {}
            for key, entry in self.entries["models"].items():
                for ident in entry.get("identifiers") or ():
                    index.setdefault(str(ident).lower(), key)
            self._model_ids = index
        wanted = identifier.strip().lower()
        for scheme in ("hf://", "huggingface://"):
            wanted = wanted.removeprefix(scheme)
        forms = [wanted]
        if "/" in wanted:
            forms.append(wanted.split("/", 1)[1])
        for form in forms:
            for candidate in (form, form.removesuffix(":latest")):
                if candidate in self._model_ids:
                    return self._model_ids[candidate]
        return None

    def classification_labels(self) -> dict[str, dict[str, Any]]:
        """Every label that names a classification level, lower-cased and trimmed, to its entry.

        Raises :class:`CatalogError` when one label names two levels: a label must be unambiguous.
        """
        out: dict[str, dict[str, Any]] = {}
        for key, entry in self.entries["classifications"].items():
            full = {**entry, "level": key}
            for label in (key, *entry.get("aliases", ())):
                folded = label_key(str(label))
                other = out.get(folded)
                if other is not None and other["level"] != key:
                    origin = self.origins.get(("classifications", key), "classifications")
                    raise CatalogError(
                        f"{origin}: entries.{key}.aliases",
                        f"label {label!r} already names level `{other['level']}`",
                    )
                out[folded] = full
        return out

    def with_overrides(self, overrides: Mapping[str, Mapping[str, dict[str, Any]]]) -> Catalogs:
        copy = Catalogs({name: dict(entries) for name, entries in self.entries.items()}, dict(self.origins))
        for name, entries in overrides.items():
            copy.merge(name, entries, "test")
        return copy


def label_key(label: str) -> str:
    """How a classification label is looked up: trimmed, inner spaces single, lower case.

    >>> label_key("  Stg.  Geheim ")
    'stg. geheim'
    """
    return " ".join(label.split()).lower()


def catalog_globals_schema() -> dict[str, Type]:
    schema: dict[str, Type] = {name: MapType(STR, ty) for name, ty in CATALOG_TYPES.items()}
    schema["eu"] = SetType(STR)
    return schema


def catalog_from_data(data: Any, where: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """Read one catalogue file's data: ``{catalog: NAME, entries: {KEY: {field: value}}}``."""
    if not isinstance(data, Mapping):
        raise CatalogError(where, "a catalogue file is a map with `catalog` and `entries`")
    name = data.get("catalog")
    if name not in CATALOG_TYPES:
        raise CatalogError(
            f"{where}: catalog", f"unknown catalogue {name!r}; expected one of {', '.join(CATALOG_TYPES)}"
        )
    extra = set(data) - {"catalog", "entries", "description"}
    if extra:
        raise CatalogError(
            where,
            f"unexpected key `{sorted(extra)[0]}`; a catalogue file has `catalog`, "
            "`description` and `entries`",
        )
    entries = data.get("entries")
    if not isinstance(entries, Mapping):
        raise CatalogError(f"{where}: entries", "expected a map from key to entry")
    return name, {
        str(k): _entry(CATALOG_TYPES[name], k, v, f"{where}: entries.{k}") for k, v in entries.items()
    }


def check_entries(name: str, entries: Iterable[tuple[str, Any]], where: str) -> dict[str, dict[str, Any]]:
    """Entries given inline (tests), checked like a file's."""
    return {str(k): _entry(CATALOG_TYPES[name], k, v, f"{where}.{k}") for k, v in entries}


def _entry(ty: RecordType, key: Any, value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise CatalogError(where, "an entry is a map of fields")
    out: dict[str, Any] = {}
    for fname, fvalue in value.items():
        fty = ty.field_type(str(fname))
        if fty is None:
            import difflib

            close = difflib.get_close_matches(str(fname), ty.field_names(), n=1)
            hint = (
                f" (did you mean `{close[0]}`?)" if close else f"; fields are {', '.join(ty.field_names())}"
            )
            raise CatalogError(f"{where}.{fname}", f"unknown field `{fname}`{hint}")
        if fname == "checked" and not isinstance(fvalue, str):
            fvalue = str(fvalue)  # YAML reads 2026-11-28 as a date
        if not conforms(fvalue, fty):
            raise CatalogError(f"{where}.{fname}", f"expected {fty}, got {fvalue!r}")
        out[str(fname)] = fvalue
    if not out.get("source"):
        raise CatalogError(where, "every entry needs a `source`: where its facts come from")
    return out
