"""Pure helpers shared by the HTTP connectors: secrets out, catalogue keys in."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from regie.connectors.base import REDACTED
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs

__all__ = [
    "ENV_REFERENCE",
    "country_of",
    "is_secret_key",
    "redact",
    "saas_key",
]

#: A LiteLLM value that names an environment variable instead of holding the secret.
ENV_REFERENCE: Final = "os.environ/"

_SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|secret|token|passw(or)?d|credential|private[_-]?key|access[_-]?key|"
    r"authorization|bearer|session[_-]?key|client[_-]?secret|master[_-]?key)",
    re.IGNORECASE,
)


def is_secret_key(key: str) -> bool:
    """Whether a field name looks like it holds a secret.

    >>> is_secret_key("api_key"), is_secret_key("aws_secret_access_key"), is_secret_key("api_base")
    (True, True, False)
    """
    return bool(_SECRET_KEY.search(key))


def redact(value: Any) -> Any:
    """A copy with every value under a secret-looking key replaced by ``REDACTED``.

    References to environment variables (``os.environ/NAME``) are kept as
    written: they name where the secret is, not the secret, and are never
    resolved.

    >>> redact({"api_key": "sk-1", "n": [{"password": "x", "api_base": "u"}], "token": "os.environ/T"})
    {'api_key': '(sensitive)', 'n': [{'password': '(sensitive)', 'api_base': 'u'}], 'token': 'os.environ/T'}
    """
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            key = str(k)
            if is_secret_key(key) and v not in (None, "") and not isinstance(v, Mapping | list):
                out[key] = v if isinstance(v, str) and v.startswith(ENV_REFERENCE) else REDACTED
            elif is_secret_key(key) and isinstance(v, Mapping | list):
                out[key] = REDACTED
            else:
                out[key] = redact(v)
        return out
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def country_of(provider: Any, region: Any, catalogs: Catalogs) -> Any:
    """The country of ``provider/region`` in the regions catalogue; unknown (with the reason) when missing."""
    if not isinstance(region, str) or not region:
        return None
    if not isinstance(provider, str):
        return Unknown(f"region `{region}` of an unknown provider cannot be placed in a country")
    entry = catalogs.entries.get("regions", {}).get(f"{provider}/{region}")
    if entry is None:
        return Unknown(f"region `{provider}/{region}` is not in the regions catalogue")
    country = entry.get("country")
    return country if country else Unknown(f"region `{provider}/{region}` has no country in the catalogue")


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def saas_key(name: str | None, vendor: str | None, catalogs: Catalogs) -> str | None:
    """The saas catalogue key for an application name (and vendor), or None.

    Matches, in order: the key or the entry name equal to the name; equal to
    "vendor name" (``Teams`` by ``Microsoft`` → ``Microsoft Teams``); the
    longest entry name that starts the application name at a word boundary
    (``Microsoft 365 E5`` → ``microsoft-365``). Case, spaces and punctuation are
    ignored.
    """
    if not name:
        return None
    entries = catalogs.entries.get("saas", {})
    n = _norm(name)
    candidates = [n]
    if vendor and not n.startswith(_norm(vendor)):
        candidates.append(_norm(f"{vendor} {name}"))
    names = {key: {_norm(key), _norm(str(e.get("name", "")))} for key, e in entries.items()}
    for cand in candidates:
        for key, forms in names.items():
            if cand in forms:
                return key
    best: tuple[int, str] | None = None
    for cand in candidates:
        for key, forms in names.items():
            for form in forms:
                if form and cand.startswith(form + " ") and (best is None or len(form) > best[0]):
                    best = (len(form), key)
    return best[1] if best else None
