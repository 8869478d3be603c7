"""What every connector shares: the context it pulls in, its error, and the ownership conventions.

A connector is a function ``pull(target: str, ctx: PullContext) -> list[Resource]``
that turns one native source (a file, a URL, a cluster) into resources of the
fact model. Connectors are the only code below the shell that does I/O.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource, truthy_label

__all__ = [
    "REDACTED",
    "ConnectorError",
    "Ownership",
    "PullContext",
    "Puller",
    "ownership_from_labels",
]

#: What a secret is replaced by, everywhere: attributes, evidence, messages, logs, the store.
REDACTED = "(sensitive)"


class ConnectorError(Exception):
    """A source that cannot be read: ``where`` names it (file, URL, field), ``message`` what is wrong."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True, slots=True)
class Ownership:
    """Which labels or tags carry the ownership facts (design.md; configurable)."""

    service: tuple[str, ...] = ("service", "app.kubernetes.io/part-of")
    classification: tuple[str, ...] = ("classification", "regie.dev/classification")
    vital: tuple[str, ...] = ("vital", "regie.dev/vital")
    exit_plan: tuple[str, ...] = ("exit_plan", "regie.dev/exit-plan")
    owner: tuple[str, ...] = ("owner", "regie.dev/owner")


@dataclass(frozen=True, slots=True)
class PullContext:
    """What a pull may use: the catalogues (to normalise providers, regions, registries),
    environment variables (credentials come from there, never from files), a timeout,
    and an HTTP client factory that tests can point at a local server."""

    catalogs: Catalogs
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    timeout: float = 30.0
    ownership: Ownership = field(default_factory=Ownership)
    #: Builds an httpx.Client (typed loosely to keep httpx out of the engine's imports).
    http_client: Callable[..., Any] | None = None


Puller = Callable[[str, PullContext], list[Resource]]


def ownership_from_labels(labels: Mapping[str, str], own: Ownership) -> dict[str, Any]:
    """service, classification, vital, exit_plan and owner from labels, by the configured names.

    >>> ownership_from_labels({"service": "pay", "vital": "true"}, Ownership())["vital"]
    True
    """

    def first(keys: tuple[str, ...]) -> str | None:
        for key in keys:
            value = labels.get(key)
            if value:
                return value
        return None

    vital = first(own.vital)
    return {
        "service": first(own.service),
        "classification": first(own.classification),
        "vital": truthy_label(vital) if vital is not None else None,
        "exit_plan": first(own.exit_plan),
        "owner": first(own.owner),
    }
