"""The Terraform connector (``terraform:PATH``): Terraform and OpenTofu data as Regie resources.

So far: state files in format version 4 (:mod:`regie.connectors.terraform.state`).
Plans, HCL and remote (HTTP) backends come later; :func:`pull` says so for them.
"""

from __future__ import annotations

from pathlib import Path

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.terraform.state import (
    KINDS,
    SENSITIVE,
    StateError,
    kind_of,
    load_state,
    provider_key,
    resources_from_state,
)
from regie.engine.facts import Resource

__all__ = [
    "KINDS",
    "SENSITIVE",
    "StateError",
    "kind_of",
    "load_state",
    "provider_key",
    "pull",
    "resources_from_state",
]


def pull(target: str, ctx: PullContext) -> list[Resource]:
    """Resources of a Terraform state file (``terraform state pull > state.json``)."""
    if target.startswith(("http://", "https://")):
        raise ConnectorError(
            target, "remote state backends are not supported yet; pass a state file (terraform state pull)"
        )
    path = Path(target)
    if path.is_dir() or path.suffix == ".tf":
        raise ConnectorError(
            target, "Terraform configurations (HCL) are not supported yet; pass a state file"
        )
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConnectorError(target, "no such file") from None
    except OSError as err:
        raise ConnectorError(target, f"cannot read: {err.strerror or err}") from None
    return load_state(raw, target, ctx.catalogs, ownership=ctx.ownership)
