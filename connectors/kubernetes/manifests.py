"""Manifest files (``k8s:manifests:PATH``): multi-document YAML or JSON, a file or a folder.

Every document must be a Kubernetes object (a map with ``apiVersion``, ``kind`` and
``metadata.name``) or a list of them (``kind: List`` or a typed ``*List`` such as
``ConfigMapList``, whose items may leave out ``apiVersion`` and ``kind``). Empty
documents are skipped. Helm-rendered output (``# Source:`` comments) is ordinary YAML.

Refused, with ``file:line``: YAML that does not parse; a document that is not an
object; an object without ``apiVersion``/``kind``/name; and unrendered templates
(``{{ … }}`` in a name, namespace, label, kind, apiVersion or image, or a file that
does not parse and holds ``{{``) — render them first (``helm template``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.kubernetes.facts import resources_from_objects
from regie.engine.facts import Resource

__all__ = ["SUFFIXES", "load_manifest_text", "load_manifests", "pull_manifests"]

#: File names a folder is searched for.
SUFFIXES = (".yaml", ".yml", ".json")

_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{\{")


def load_manifest_text(text: str, where: str) -> list[dict[str, Any]]:
    """The objects of one manifest file's text; ``where`` names the file in errors.

    >>> text = "kind: A\\napiVersion: v1\\nmetadata: {name: a}\\n---\\n"
    >>> [o["kind"] for o in load_manifest_text(text, "f")]
    ['A']
    """
    objects: list[dict[str, Any]] = []
    try:
        loader = yaml.CSafeLoader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                line = node.start_mark.line + 1 if node is not None else 0
                data = loader.construct_document(node) if node is not None else None
                if data is None:
                    continue
                objects.extend(_objects(data, f"{where}:{line}", text, line))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 0
        tline = _template_line(text, 1)
        if tline is not None:
            raise ConnectorError(
                f"{where}:{tline[0]}",
                f"unrendered template `{tline[1]}`: render it first (helm template, kustomize build)",
            ) from None
        raise ConnectorError(f"{where}:{line}", f"not valid YAML: {err.problem or err}") from None
    except yaml.YAMLError as err:
        raise ConnectorError(where, f"not valid YAML: {err}") from None
    return objects


def _template_line(text: str, start: int) -> tuple[int, str] | None:
    lines = text.splitlines()
    for i in range(max(start - 1, 0), len(lines)):
        if lines[i].lstrip().startswith("#"):
            continue
        m = _TEMPLATE.search(lines[i])
        if m:
            return i + 1, m.group(0)
    return None


def _objects(data: Any, where: str, text: str, line: int) -> list[dict[str, Any]]:
    if not isinstance(data, Mapping):
        what = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        raise ConnectorError(
            where, f"expected a Kubernetes object (a map with apiVersion and kind), got {what}"
        )
    kind = data.get("kind")
    items = data.get("items")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(items, list):
        item_kind = None if kind == "List" else kind.removesuffix("List")
        out = []
        for i, item in enumerate(items):
            if isinstance(item, Mapping) and item_kind is not None:
                item = {"apiVersion": data.get("apiVersion"), "kind": item_kind, **item}
            out.extend(_objects(item, f"{where}: items[{i}]", text, line))
        return out
    obj = dict(data)
    for key in ("apiVersion", "kind"):
        if not isinstance(obj.get(key), str) or not obj[key]:
            raise ConnectorError(where, f"a Kubernetes object needs `{key}`")
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not (meta.get("name") or meta.get("generateName")):
        raise ConnectorError(where, f"the {obj['kind']} has no metadata.name")
    _check_rendered(obj, where, text, line)
    return [obj]


def _structural_values(obj: Mapping[str, Any]) -> list[tuple[str, Any]]:
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    out: list[tuple[str, Any]] = [
        ("apiVersion", obj.get("apiVersion")),
        ("kind", obj.get("kind")),
        ("metadata.name", meta.get("name")),
        ("metadata.namespace", meta.get("namespace")),
    ]
    labels = meta.get("labels")
    if isinstance(labels, Mapping):
        out.extend((f"metadata.labels.{k}", f"{k}={v}") for k, v in labels.items())
    from regie.connectors.kubernetes.facts import _all_containers

    out.extend((f"image of container {c.get('name')}", c.get("image")) for c in _all_containers(obj))
    return out


def _check_rendered(obj: Mapping[str, Any], where: str, text: str, line: int) -> None:
    for field, value in _structural_values(obj):
        if isinstance(value, str) and "{{" in value:
            m = _TEMPLATE.search(value)
            token = m.group(0) if m else "{{"
            found = _find_line(text, token, line)
            file = where.rsplit(":", 1)[0] if where.rsplit(":", 1)[-1].isdigit() else where
            raise ConnectorError(
                f"{file}:{found}" if found else where,
                f"unrendered template placeholder `{token}` in {field}: "
                "render the template first (helm template, kustomize build)",
            )


def _find_line(text: str, token: str, start: int) -> int | None:
    lines = text.splitlines()
    for i in range(max(start - 1, 0), len(lines)):
        if token in lines[i]:
            return i + 1
    return None


def load_manifests(path: Path, label: str | None = None) -> list[tuple[str, dict[str, Any]]]:
    """(file label, object) for a manifest file, or for every ``*.yaml``/``*.yml``/``*.json``
    under a folder (sorted, hidden files and folders skipped)."""
    label = label or str(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in SUFFIXES
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        out: list[tuple[str, dict[str, Any]]] = []
        for f in files:
            out.extend(load_manifests(f, f"{label.rstrip('/')}/{f.relative_to(path).as_posix()}"))
        return out
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConnectorError(label, "no such file or folder") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConnectorError(label, f"cannot read: {err}") from None
    if path.suffix.lower() == ".json" and text.strip():
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConnectorError(f"{label}:{err.lineno}", f"not valid JSON: {err.msg}") from None
        return [(label, o) for o in _objects(data, f"{label}:1", text, 1)]
    return [(label, o) for o in load_manifest_text(text, label)]


def pull_manifests(target: str, ctx: PullContext) -> list[Resource]:
    """Resources for the manifests at ``target`` (a file or a folder)."""
    loaded = load_manifests(Path(target), target)
    seen: dict[tuple[Any, ...], str] = {}
    for label, obj in loaded:
        meta = obj.get("metadata") or {}
        key = (obj.get("apiVersion"), obj.get("kind"), meta.get("namespace"), meta.get("name"))
        if key in seen and meta.get("name"):
            raise ConnectorError(
                label,
                f"{obj['kind']} `{meta.get('name')}` appears twice (also in {seen[key]}); "
                "one object per name and namespace",
            )
        seen[key] = label
    return resources_from_objects(
        [o for _, o in loaded],
        source=target.rstrip("/") or target,
        origin=f"k8s:manifests:{target}",
        catalogs=ctx.catalogs,
        ownership=ctx.ownership,
    )
