"""The Terraform connector (``terraform:PATH|URL``): Terraform and OpenTofu data as Regie resources.

:func:`pull` recognises the source from its content:

* a state file in format version 4 (JSON with ``version`` and ``resources``, as
  ``terraform state pull`` writes it): :mod:`regie.connectors.terraform.state`;
  older versions are refused with how to upgrade them;
* a plan (``terraform show -json PLANFILE``: ``format_version`` with
  ``resource_changes``/``planned_values``): :mod:`regie.connectors.terraform.plan`;
* a ``.tf`` file or a folder of them (HCL): :mod:`regie.connectors.terraform.hcl`;
* an ``http://``/``https://`` URL: Terraform's HTTP backend, whose GET returns the
  state (:mod:`regie.connectors.terraform.remote`);
* ``-``: a state or plan on standard input.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.terraform.hcl import HclError, load_hcl
from regie.connectors.terraform.plan import PlanError, load_plan, resources_from_plan
from regie.connectors.terraform.remote import fetch_state
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
    "HclError",
    "PlanError",
    "StateError",
    "fetch_state",
    "kind_of",
    "load_hcl",
    "load_plan",
    "load_state",
    "provider_key",
    "pull",
    "read_json",
    "resources_from_plan",
    "resources_from_state",
]

_VERSION = re.compile(rb'"version"\s*:\s*(-?[0-9]+)')
_SNIFF = 4096


def pull(target: str, ctx: PullContext) -> list[Resource]:
    """Resources of a Terraform state, plan, configuration or HTTP backend (see the module doc)."""
    if target.startswith(("http://", "https://")):
        from regie.connectors.http.client import display_url

        return read_json(fetch_state(target, ctx), display_url(target), ctx)
    if target == "-":
        return read_json(sys.stdin.buffer.read(), "stdin", ctx)
    path = Path(target)
    if path.is_dir() or path.suffix in (".tf", ".hcl"):
        return load_hcl(target, ctx.catalogs, ownership=ctx.ownership)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConnectorError(target, "no such file") from None
    except OSError as err:
        raise ConnectorError(target, f"cannot read: {err.strerror or err}") from None
    head = raw[:_SNIFF].lstrip()
    if head and not head.startswith((b"{", b"[")) and not head.startswith(b"\xef\xbb\xbf"):
        # Not JSON: a configuration without the .tf suffix, or nothing Regie reads.
        return load_hcl(target, ctx.catalogs, ownership=ctx.ownership)
    return read_json(raw, target, ctx)


def read_json(raw: bytes, source: str, ctx: PullContext) -> list[Resource]:
    """A state or a plan, told apart by content; ``source`` names it in ids and errors."""
    if b'"format_version"' in raw[:_SNIFF]:
        return load_plan(raw, source, ctx.catalogs, ownership=ctx.ownership)
    try:
        return load_state(raw, source, ctx.catalogs, ownership=ctx.ownership)
    except StateError as err:
        if b'"format_version"' in raw:  # a plan with its keys reordered (jq -S)
            return load_plan(raw, source, ctx.catalogs, ownership=ctx.ownership)
        match = _VERSION.search(raw[:_SNIFF])
        if match and int(match.group(1)) < 4 and "format version" in err.message:
            found = int(match.group(1))
            raise StateError(
                source,
                f"Terraform state format version {found} (written by Terraform 0.11 or older) is not "
                "supported; Regie reads version 4. Upgrade the state by running `terraform apply "
                "-refresh-only` (or `terraform refresh`) once with Terraform 0.12 or later, which "
                "rewrites it in version 4, then pass `terraform state pull` output",
            ) from None
        raise
