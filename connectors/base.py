"""What every connector shares: the context it pulls in, its error, and the ownership conventions.

A connector is a function ``pull(target: str, ctx: PullContext) -> list[Resource]``
that turns one native source (a file, a URL, a cluster) into resources of the
fact model. Connectors are the only code below the shell that does I/O.
"""

from __future__ import annotations

import functools
import os
import re
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
    "is_secret_key",
    "ownership_from_labels",
    "redact_in_python",
    "redact_secret_names",
    "redaction_args",
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


_SECRET_WORDS = re.compile(
    r"passw(or)?d|passphrase|secret|token|private[_-]?key|access[_-]?key|api[_-]?key|client[_-]?key|"
    r"connection[_-]?string|credential|primary[_-]?(access[_-]?)?key|secondary[_-]?(access[_-]?)?key|"
    r"master[_-]?key|auth[_-]?key|sas[_-]?(url|token)",
    re.IGNORECASE,
)
# Names that mention a secret without holding one: its id, name, ARN, length, policy, expiry.
_NOT_SECRET = re.compile(
    r"(_arn|_id|_ids|_name|_names|_version|_length|_policy|_type|_enabled|_count|_ttl|_expir\w*|_reset\w*"
    r"|_rotation\w*|_wo_version)$",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=4096)
def is_secret_key(name: str) -> bool:
    """Whether an attribute name is obviously a secret's (its string values are redacted).

    >>> is_secret_key("master_password"), is_secret_key("secret_arn"), is_secret_key("region")
    (True, False, False)
    """
    return bool(_SECRET_WORDS.search(name)) and not _NOT_SECRET.search(name)


def redact_secret_names(value: Any) -> Any:
    """``value`` with every non-empty string under an obviously secret name replaced by
    :data:`REDACTED`, at any depth. Returns ``value`` itself when nothing changes (no copy);
    numbers and booleans under such names (``password_reset_required``) are kept.

    >>> redact_secret_names({"name": "db", "settings": [{"admin_password": "hunter2"}]})
    {'name': 'db', 'settings': [{'admin_password': '(sensitive)'}]}

    This walks every attribute of every resource a connector reads: the compiled walk of
    ``connectors/_speedups.c`` does it where it was built (a C compiler at install time), and
    :func:`redact_in_python`, its reference, everywhere else.
    """
    if _native is None:
        return redact_in_python(value)
    return _native(value, _SECRET_NAMES, _is_secret_name, REDACTED)


def redact_in_python(value: Any) -> Any:
    """:func:`redact_secret_names` in Python: the reference for the compiled walk, and the
    walk itself where that was not built."""
    # Written for speed (a plain dict as the name cache, strings first, copies only along
    # changed paths).
    cls = value.__class__
    if cls is dict:
        out: dict[str, Any] | None = None
        cache = _SECRET_NAMES
        for key, item in value.items():
            icls = item.__class__
            if icls is str:
                secret = cache.get(key)
                if secret is None:
                    secret = cache[key] = key.__class__ is str and is_secret_key(key)
                if not secret or not item or item == REDACTED:
                    continue
                new: Any = REDACTED
            elif icls is dict or icls is list:
                new = redact_in_python(item)
                if new is item:
                    continue
            else:
                continue
            if out is None:
                out = dict(value)
            out[key] = new
        return value if out is None else out
    if cls is list:
        changed: list[Any] | None = None
        for i, item in enumerate(value):
            icls = item.__class__
            if icls is dict or icls is list:
                new = redact_in_python(item)
                if new is not item:
                    if changed is None:
                        changed = list(value)
                    changed[i] = new
        return value if changed is None else changed
    return value


_SECRET_NAMES: dict[Any, bool] = {}


def _is_secret_name(key: Any) -> bool:
    return key.__class__ is str and is_secret_key(key)


def redaction_args() -> tuple[dict[Any, bool], Callable[[Any], bool], str]:
    """What the compiled walk takes besides the value: the name cache, the classifier and
    :data:`REDACTED` (the compiled state reader redacts with them)."""
    return _SECRET_NAMES, _is_secret_name, REDACTED


_native: Callable[[Any, dict[Any, bool], Callable[[Any], bool], str], Any] | None
try:
    from regie.connectors._speedups import redact as _native
except ImportError:  # not built where Regie was installed: the Python walk does the same
    _native = None
