"""Terraform plans (``terraform show -json PLANFILE``) to resources.

A plan says what the estate will be after ``apply``. Each entry of
``resource_changes`` with ``mode: managed`` becomes one resource, built from
its planned ``change.after`` values, with the planned action in the
``action`` fact:

==========================================  ==========
``change.actions``                          ``action``
==========================================  ==========
``["create"]``                              create
``["update"]``                              update
``["delete", "create"]``/``["create", ...]``  replace
``["no-op"]``                               no-op
``["read"]``                                read
``["delete"]``, ``["forget"]``              (no resource)
==========================================  ==========

Deletions (and OpenTofu's ``forget``, a resource leaving the state without
being destroyed) produce no resource: policies are told about what the estate
will be, and a resource on its way out must not raise violations. Data sources
(``mode: data``) and deposed objects (entries with a ``deposed`` key, left over
by ``create_before_destroy``) are kept apart the same way: skipped. An
``errored`` plan (``terraform plan`` failed) is refused: its changes are
incomplete.

Values:

* every path marked in ``change.after_unknown`` holds
  ``Unknown("known after apply")`` (nested paths are marked exactly: a map
  whose one key is unknown keeps its other keys);
* every path marked in ``change.after_sensitive`` or ``change.before_sensitive``
  holds the redaction marker ``"(sensitive)"`` (a whole value when the mark is
  ``true``); the plan's ``prior_state``, ``variables`` and outputs are not read.

Provider and location: the provider key comes from ``provider_name``
(``registry.terraform.io/hashicorp/aws`` → ``aws``; pre-0.13 ``null.aliased`` →
``null``). The region is the first string among the planned ``region`` and
``location`` attributes, the ``region`` constant of the provider configuration
the resource uses (``configuration.provider_config``, aliases and modules
followed through ``provider_config_key``; a module's provider without its own
region inherits the root one of the same name), then the ``zone`` and
``availability_zone`` attributes. A region known only after apply gives an
unknown region and country. The country comes from the regions catalogue, as
for states (:mod:`regie.connectors.terraform.state`).

Ids are ``terraform:{source}#{address}`` with Terraform's own address
(``module.ecr["a"].aws_instance.this[0]``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from regie.connectors import json_doc
from regie.connectors.base import (
    REDACTED,
    ConnectorError,
    Ownership,
    ownership_from_labels,
    redact_secret_names,
)
from regie.connectors.terraform.state import (
    _labels,
    arn_region,
    kind_of,
    locate,
    provider_key,
    with_model_key,
)
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

__all__ = ["AFTER_APPLY", "PlanError", "is_plan", "load_plan", "resources_from_plan"]

#: The reason of every value a plan knows only after apply.
AFTER_APPLY: Final = "known after apply"

_DEFAULT_OWNERSHIP: Final = Ownership()

_ACTIONS: Final[dict[tuple[str, ...], str | None]] = {
    ("create",): "create",
    ("update",): "update",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("no-op",): "no-op",
    ("read",): "read",
    ("delete",): None,
    ("forget",): None,
}

_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|[0-9]+)\]')


class PlanError(ConnectorError, ValueError):
    """Not a plan this module can read (invalid JSON, wrong shape, an errored plan)."""


def is_plan(data: Any) -> bool:
    """Whether parsed JSON looks like ``terraform show -json`` output of a plan."""
    return (
        isinstance(data, Mapping)
        and "format_version" in data
        and ("resource_changes" in data or "planned_values" in data)
    )


def load_plan(
    raw: bytes, source: str, catalogs: Catalogs, *, ownership: Ownership = _DEFAULT_OWNERSHIP
) -> list[Resource]:
    """Parse a plan's JSON bytes and read its resources."""
    try:
        data = json_doc.loads(raw)
    except json_doc.JSONDecodeError as err:
        raise PlanError(f"{source}:{err.lineno}:{err.colno}", f"not valid JSON: {err.msg}") from None
    return resources_from_plan(data, source, catalogs, ownership=ownership)


def resources_from_plan(
    data: Any, source: str, catalogs: Catalogs, *, ownership: Ownership = _DEFAULT_OWNERSHIP
) -> list[Resource]:
    """One resource per managed, non-deleted resource change of a parsed plan."""
    if not isinstance(data, Mapping):
        raise PlanError(source, f"a Terraform plan is a JSON object, got {type(data).__name__}")
    version = data.get("format_version")
    if not isinstance(version, str) or version.split(".", 1)[0] not in ("0", "1"):
        raise PlanError(
            source, f"plan JSON format version {version!r} is not supported; Regie reads 0.x and 1.x"
        )
    if "resource_changes" not in data and "planned_values" not in data:
        raise PlanError(
            source,
            "`terraform show -json` output without `resource_changes`: not a plan "
            "(for a state, pass `terraform state pull` output)",
        )
    if data.get("errored"):
        raise PlanError(
            source,
            "the plan errored (`terraform plan` failed), so its resource changes are incomplete; "
            "fix the errors and plan again",
        )
    changes = data.get("resource_changes") or []
    if not isinstance(changes, list):
        raise PlanError(f"{source}: resource_changes", f"expected a list, got {type(changes).__name__}")
    config = data.get("configuration")
    regions_of = _ProviderRegions(config if isinstance(config, Mapping) else {})
    out: list[Resource] = []
    for i, change in enumerate(changes):
        where = f"{source}: resource_changes[{i}]"
        if not isinstance(change, Mapping):
            raise PlanError(where, "expected an object")
        if change.get("mode", "managed") != "managed" or "deposed" in change:
            continue  # data sources and deposed objects are kept apart
        address, rtype = change.get("address"), change.get("type")
        if not isinstance(address, str) or not isinstance(rtype, str):
            raise PlanError(where, "needs a string `address` and `type`")
        body = change.get("change")
        if not isinstance(body, Mapping):
            raise PlanError(f"{where} ({address})", "needs a `change` object")
        actions = body.get("actions")
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise PlanError(f"{where} ({address})", "`change.actions` must be a list of strings")
        key = tuple(actions)
        if key in _ACTIONS:
            action = _ACTIONS[key]
            if action is None:
                continue  # deletions: the resource is going away
        else:
            action = "-".join(actions)
        after = body.get("after")
        attrs: Any = dict(after) if isinstance(after, Mapping) else {}
        attrs = _mark_unknown(attrs, body.get("after_unknown"))
        for mask in (body.get("before_sensitive"), body.get("after_sensitive")):
            attrs = _mark_sensitive(attrs, mask)
        if not isinstance(attrs, dict):
            attrs = {}
        resource = _resource(change, address, rtype, attrs, action, source, catalogs, regions_of, ownership)
        out.append(resource)
    return out


def _resource(
    change: Mapping[str, Any],
    address: str,
    rtype: str,
    attrs: dict[str, Any],
    action: str,
    source: str,
    catalogs: Catalogs,
    regions_of: _ProviderRegions,
    ownership: Ownership,
) -> Resource:
    regions: Mapping[str, Mapping[str, Any]] = catalogs.entries.get("regions", {})
    provider_name = change.get("provider_name")
    provider = _provider(provider_name)
    candidates: list[Any] = [
        attrs.get("region"),
        attrs.get("location"),
        regions_of.region(change, address),
        attrs.get("zone"),
        attrs.get("availability_zone"),
        arn_region(attrs.get("arn")),
    ]
    region, country = locate(candidates, regions, provider, AFTER_APPLY)
    tags = attrs.get("tags")
    if not tags:
        tags = attrs.get("labels")
    labels = (
        _labels({k: v for k, v in tags.items() if not isinstance(v, Unknown)})
        if isinstance(tags, dict)
        else (_labels(tags) if isinstance(tags, list) else {})
    )
    own = ownership_from_labels(labels, ownership)
    name = change.get("name")
    kind = kind_of(rtype)
    attributes = redact_secret_names(attrs)
    if kind == "ai.model":
        attributes = with_model_key(rtype, attributes, catalogs)
    return Resource(
        f"terraform:{source}#{address}",
        source=f"terraform:{source}",
        kind=kind,
        type=rtype,
        address=address,
        name=name if isinstance(name, str) else None,
        provider=provider,
        region=region,
        country=country,
        action=action,
        labels=labels,
        attributes=attributes,
        **own,
    )


def _provider(name: Any) -> str | None:
    """The catalogue key of a plan's ``provider_name`` (registry address or pre-0.13 ``null.alias``)."""
    if not isinstance(name, str) or not name:
        return None
    if "/" in name:
        return provider_key(f'provider["{name}"]')
    return provider_key(f"provider.{name}")


class _ProviderRegions:
    """The ``region`` constant of the provider configuration each resource uses."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        pc = config.get("provider_config")
        self.providers: Mapping[str, Any] = pc if isinstance(pc, Mapping) else {}
        self.keys: dict[tuple[str, str], str] = {}
        root = config.get("root_module")
        if isinstance(root, Mapping):
            self._walk(root, "")

    def _walk(self, module: Mapping[str, Any], path: str) -> None:
        resources = module.get("resources")
        for res in resources if isinstance(resources, list) else ():
            if isinstance(res, Mapping) and isinstance(res.get("provider_config_key"), str):
                local = f"{res.get('type')}.{res.get('name')}"
                if res.get("mode") == "data":
                    local = f"data.{local}"
                self.keys[(path, local)] = res["provider_config_key"]
        calls = module.get("module_calls")
        if isinstance(calls, Mapping):
            for name, call in calls.items():
                child = call.get("module") if isinstance(call, Mapping) else None
                if isinstance(child, Mapping):
                    self._walk(child, f"{path}.module.{name}" if path else f"module.{name}")

    def _constant(self, key: str) -> str | None:
        entry = self.providers.get(key)
        if not isinstance(entry, Mapping):
            return None
        expressions = entry.get("expressions")
        if not isinstance(expressions, Mapping):
            return None
        region = expressions.get("region")
        value = region.get("constant_value") if isinstance(region, Mapping) else None
        return value if isinstance(value, str) else None

    def region(self, change: Mapping[str, Any], address: str) -> str | None:
        if not self.providers:
            return None
        module = change.get("module_address")
        if not isinstance(module, str):
            tail = f"{change.get('type')}.{change.get('name')}"
            at = address.rfind("." + tail)
            module = address[:at] if at > 0 else ""
        path = _INSTANCE_KEY.sub("", module)
        key = self.keys.get((path, f"{change.get('type')}.{change.get('name')}"))
        if key is None:
            name = change.get("provider_name")
            short = _provider(name)
            key = name.rsplit("/", 1)[-1] if isinstance(name, str) and "/" not in name else short or ""
        region = self._constant(key)
        if region is None and ":" in key:
            # A module's provider without its own configuration: the root one of that name.
            region = self._constant(key.rsplit(":", 1)[1])
        return region


def _mark_unknown(value: Any, mask: Any) -> Any:
    """``value`` with every path marked ``true`` in ``mask`` replaced by an unknown."""
    if mask is True:
        return Unknown(AFTER_APPLY)
    if isinstance(mask, dict) and mask:
        out = dict(value) if isinstance(value, dict) else {}
        for key, sub in mask.items():
            marked = _mark_unknown(out.get(key), sub)
            if marked is not None or key in out:
                out[key] = marked
        return out if isinstance(value, dict) or out else value
    if isinstance(mask, list) and mask:
        if not isinstance(value, list):
            return value
        items = list(value)
        for i, sub in enumerate(mask[: len(items)]):
            items[i] = _mark_unknown(items[i], sub)
        for sub in mask[len(items) :]:
            items.append(_mark_unknown(None, sub))
        return items
    return value


def _mark_sensitive(value: Any, mask: Any) -> Any:
    """``value`` with every path marked ``true`` in ``mask`` redacted."""
    if mask is True:
        return REDACTED
    if isinstance(mask, dict) and mask and isinstance(value, dict):
        out = dict(value)
        for key, sub in mask.items():
            if key in out:
                out[key] = _mark_sensitive(out[key], sub)
        return out
    if isinstance(mask, list) and mask and isinstance(value, list):
        items = list(value)
        for i, sub in enumerate(mask[: len(items)]):
            items[i] = _mark_sensitive(items[i], sub)
        return items
    return value
