"""Terraform configurations (``*.tf``, HCL) to resources, before any plan exists.

Read with python-hcl2. A target is a ``.tf`` file or a folder: the ``*.tf`` files
directly in it (one Terraform module; subfolders are other modules and are not
read; ``*.tf.json`` files are not read).

Each ``resource "TYPE" "NAME"`` block becomes one resource, address
``TYPE.NAME``, id ``terraform:{source}#TYPE.NAME``, ``action`` null:

``attributes``
    The block's arguments and nested blocks (a nested block is a list of maps, as
    in Terraform's JSON). Literal values are kept; anything computed (a reference
    such as ``var.x`` or ``aws_vpc.main.id``, an interpolation ``"${…}"``, a
    function call, a ``for`` expression) is ``Unknown("not known before plan")``.
    ``count`` and ``for_each`` stay in the attributes (literal or unknown); the
    address has no instance key, since the instances exist only after planning.
    ``provider`` holds the provider reference as text (``aws.west``), and
    ``depends_on`` the referenced addresses.
``provider``
    From the ``provider`` argument (``aws.west`` → ``aws``), else from the type's
    prefix (``aws_s3_bucket`` → ``aws``); a local name declared in
    ``terraform { required_providers { … } }`` with a ``source`` takes the last part
    of the source (``hcloud = { source = "hetznercloud/hcloud" }``).
``region`` and ``country``
    The first literal among the ``region``, ``location``, ``zone`` and
    ``availability_zone`` arguments, else the literal ``region`` of the
    ``provider`` block the resource uses (the alias followed) in the same
    folder. A computed region is unknown; the country comes from the regions
    catalogue as for states.
``labels`` and ownership
    The literal values of ``tags`` (else ``labels``); computed tag values are left
    out. Ownership facts from them as in every connector.

Module calls (``module "NAME" {…}``) are recorded, not followed: one resource of
kind and type ``module``, address ``module.NAME``, whose attributes are the call's
arguments (``source``, ``version``, inputs). Data sources, variables, outputs and
locals produce nothing. A dependency lock file (``.terraform.lock.hcl``) is refused,
and so is a file that does not parse (the error names the file, line and column).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import hcl2
from hcl2.utils import SerializationOptions
from lark.exceptions import UnexpectedInput

from regie.connectors.base import ConnectorError, Ownership, ownership_from_labels, redact_secret_names
from regie.connectors.terraform.state import _labels, kind_of, locate, provider_key
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

__all__ = ["BEFORE_PLAN", "HclError", "load_hcl", "parse_file"]

#: The reason of every value an HCL source cannot know.
BEFORE_PLAN: Final = "not known before plan"

_OPTIONS: Final = SerializationOptions(with_comments=False, preserve_heredocs=False)
_DEFAULT_OWNERSHIP: Final = Ownership()
_REGION_ARGS: Final = ("region", "location", "zone", "availability_zone")


class HclError(ConnectorError, ValueError):
    """A configuration that cannot be read (does not parse, a lock file, an empty folder)."""


def parse_file(path: Path) -> dict[str, Any]:
    """One ``.tf`` file as python-hcl2 gives it (string literals keep their quotes)."""
    name = str(path)
    if path.name.endswith(".lock.hcl"):
        raise HclError(
            name, "a dependency lock file (.terraform.lock.hcl), not a Terraform configuration (*.tf)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HclError(name, "no such file") from None
    except UnicodeDecodeError:
        raise HclError(name, "not a text file (UTF-8)") from None
    except OSError as err:
        raise HclError(name, f"cannot read: {err.strerror or err}") from None
    try:
        data = hcl2.loads(text, serialization_options=_OPTIONS)
    except UnexpectedInput as err:
        line, column = getattr(err, "line", None), getattr(err, "column", None)
        where = f"{name}:{line}:{column}" if isinstance(line, int) and line > 0 else name
        hint = (
            " (this is JSON: Terraform's JSON syntax belongs in a `.tf.json` file, which Regie does not read)"
            if text.lstrip().startswith("{")
            else ""
        )
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise HclError(where, f"not valid HCL: {first}{hint}") from None
    except Exception as err:  # python-hcl2 raises assorted errors for odd input
        raise HclError(name, f"not valid HCL: {err}") from None
    if not isinstance(data, dict):
        raise HclError(name, "not a Terraform configuration")
    if _is_lock_file(data):
        raise HclError(name, "a dependency lock file, not a Terraform configuration (*.tf)")
    return data


def _is_lock_file(data: Mapping[str, Any]) -> bool:
    providers = data.get("provider")
    if set(data) != {"provider"} or not isinstance(providers, list) or not providers:
        return False
    return all(
        isinstance(p, dict)
        and all("/" in str(k) and isinstance(v, dict) and "hashes" in v for k, v in p.items())
        for p in providers
    )


def load_hcl(target: str, catalogs: Catalogs, *, ownership: Ownership = _DEFAULT_OWNERSHIP) -> list[Resource]:
    """The resources of a ``.tf`` file, or of the ``*.tf`` files of a folder."""
    path = Path(target)
    if path.is_dir():
        files = sorted(p for p in path.glob("*.tf") if p.is_file())
        if not files:
            raise HclError(target, "no Terraform configuration (*.tf) files in this folder")
    else:
        files = [path]
    parsed = [(f, parse_file(f)) for f in files]
    sources: dict[str, str] = {}
    provider_regions: dict[str, Any] = {}
    for _, data in parsed:
        for block in _blocks(data, "terraform"):
            for req in block.get("required_providers") or ():
                if isinstance(req, Mapping):
                    for local, spec in req.items():
                        src = _value(spec.get("source")) if isinstance(spec, Mapping) else None
                        if isinstance(src, str):
                            sources[_unquote(local)] = src
        for block in _blocks(data, "provider"):
            for label, body in block.items():
                if not isinstance(body, Mapping):
                    continue
                alias = _value(body.get("alias"))
                key = _unquote(label) + (f".{alias}" if isinstance(alias, str) else "")
                provider_regions.setdefault(key, _value(body.get("region")))
    regions: Mapping[str, Mapping[str, Any]] = catalogs.entries.get("regions", {})
    out: list[Resource] = []
    for _, data in parsed:
        for block in _blocks(data, "resource"):
            for rtype_q, named in block.items():
                if not isinstance(named, Mapping):
                    continue
                for name_q, body in named.items():
                    if isinstance(body, Mapping):
                        rtype, name = _unquote(rtype_q), _unquote(name_q)
                        out.append(
                            _resource(
                                target, rtype, name, body, sources, provider_regions, regions, ownership
                            )
                        )
        for block in _blocks(data, "module"):
            for name_q, body in block.items():
                if isinstance(body, Mapping):
                    name = _unquote(name_q)
                    address = f"module.{name}"
                    out.append(
                        Resource(
                            f"terraform:{target}#{address}",
                            source=f"terraform:{target}",
                            kind="module",
                            type="module",
                            address=address,
                            name=name,
                            attributes=redact_secret_names(_attributes(body)),
                        )
                    )
    return out


def _resource(
    target: str,
    rtype: str,
    name: str,
    body: Mapping[str, Any],
    sources: Mapping[str, str],
    provider_regions: Mapping[str, Any],
    regions: Mapping[str, Mapping[str, Any]],
    ownership: Ownership,
) -> Resource:
    attrs = _attributes(body)
    ref = attrs.get("provider")
    local = ref.split(".", 1)[0] if isinstance(ref, str) and ref else rtype.split("_", 1)[0]
    config_key = ref if isinstance(ref, str) and ref else local
    src = sources.get(local)
    provider = provider_key(f'provider["{src}"]') if src else provider_key(f"provider.{local}")
    candidates = (*(attrs.get(a) for a in _REGION_ARGS), provider_regions.get(config_key))
    region, country = locate(candidates, regions, provider, BEFORE_PLAN)
    tags = attrs.get("tags")
    if not isinstance(tags, dict) or not tags:
        tags = attrs.get("labels")
    labels: dict[str, str] = {}
    if isinstance(tags, dict):
        labels = _labels({k: v for k, v in tags.items() if not isinstance(v, Unknown)})
    address = f"{rtype}.{name}"
    return Resource(
        f"terraform:{target}#{address}",
        source=f"terraform:{target}",
        kind=kind_of(rtype),
        type=rtype,
        address=address,
        name=name,
        provider=provider,
        region=region,
        country=country,
        labels=labels,
        attributes=redact_secret_names(attrs),
        **ownership_from_labels(labels, ownership),
    )


def _blocks(data: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
    blocks = data.get(kind)
    return [b for b in blocks if isinstance(b, dict)] if isinstance(blocks, list) else []


def _unquote(value: Any) -> str:
    text = str(value)
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return text[1:-1]
    return text


def _reference(value: Any) -> Any:
    """A meta-argument reference (``aws.west``, ``${aws.west}``) as text."""
    if isinstance(value, str):
        if value.startswith("${") and value.endswith("}"):
            return value[2:-1].strip()
        return _unquote(value)
    if isinstance(value, list):
        return [_reference(v) for v in value]
    return value


def _attributes(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("__"):
            continue
        if key in ("provider", "depends_on"):
            out[key] = _reference(value)
        else:
            out[_unquote(key)] = _value(value)
    return out


def _value(value: Any) -> Any:
    """A python-hcl2 value as data: literals kept, expressions unknown."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            inner = value[1:-1]
            if "${" in inner.replace("$${", "") or "%{" in inner.replace("%%{", ""):
                return Unknown(BEFORE_PLAN)
            try:
                text = json.loads(value)
            except ValueError:
                text = inner
            return str(text).replace("$${", "${").replace("%%{", "%{")
        return Unknown(BEFORE_PLAN)  # a reference, a call, an operation
    if isinstance(value, dict):
        return _attributes(value)
    if isinstance(value, list):
        return [_value(v) for v in value]
    return value
