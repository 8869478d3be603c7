"""Canonical JSON and the hashes the decision records rest on.

One canonical form (sorted keys, no whitespace, UTF-8) so that the same data always
hashes the same, in this process, in another replica, and years later in an audit.

The policy-set hash is :func:`policy_set_hash`: the source text of every policy, its
parameter values and enforcement levels in force, every catalogue entry, and the ownership
label names where the configuration changes them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson

from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import PolicySet

if TYPE_CHECKING:
    from regie.connectors.base import Ownership

__all__ = ["canonical", "loads", "policy_set_hash", "sha256"]

#: Raised when the hashed form of a policy set changes, so old and new hashes never collide.
_POLICY_SET_FORMAT = "regie.policy-set.v1"


def canonical(value: Any) -> bytes:
    """The one JSON form hashes are taken over.

    >>> canonical({"b": [1, 2], "a": None})
    b'{"a":null,"b":[1,2]}'
    """
    data: bytes = orjson.dumps(value, default=_plain, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
    return data


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def policy_set_hash(policy_set: PolicySet, catalogs: Catalogs, ownership: Ownership | None = None) -> str:
    """The hash of what decides: every policy's source text and parameters, every catalogue entry,
    and the ownership label names when they are not the defaults (``[ownership]``: they decide
    which labels an admitted object's service and classification are read from).

    Test blocks and file names are left out: they do not change a decision. A policy
    whose text changes in any way (a comment too) changes the hash; that errs towards
    telling an auditor "something changed" rather than missing a change.
    """
    policies = sorted(
        (
            {
                "id": lp.id,
                "text": lp.checked.policy.span.snippet(),
                "params": {name: _plain_deep(value) for name, value in lp.params.items()},
                # the levels in force: an organisation's [enforce] overrides change decisions too
                "enforce": {"": lp.checked.meta.enforce, **lp.checked.meta.enforce_by_context},
            }
            for lp in policy_set.policies
        ),
        key=lambda p: str(p["id"]),
    )
    payload: dict[str, Any] = {
        "format": _POLICY_SET_FORMAT,
        "policies": policies,
        "catalogs": catalogs.entries,
    }
    if ownership is not None and ownership != type(ownership)():
        # only when configured, so that the hashes of every default set stay what they were
        payload["ownership"] = {
            f.name: list(getattr(ownership, f.name)) for f in dataclasses.fields(ownership)
        }
    return sha256(canonical(payload))


def _plain(value: Any) -> Any:
    """What orjson cannot write itself: sets (sorted, so their order never changes a hash), unknowns."""
    if isinstance(value, set | frozenset):
        return sorted((_plain_deep(v) for v in value), key=lambda v: canonical(v))
    if isinstance(value, Unknown):
        return {"unknown": value.reason}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def _plain_deep(value: Any) -> Any:
    if isinstance(value, set | frozenset | Unknown):
        return _plain(value)
    return value
