"""Bearer tokens with roles, kept as SHA-256 hashes in a file (``--tokens``).

Everything but ``/admission``, ``/healthz`` and ``/readyz`` needs a token. Roles:
``reader`` reads (policies, catalogues, evaluations, metrics, later the feed);
``admin`` can do all a reader can and, later, manage waivers. Without a tokens file
the API refuses every request (secure by default) and says how to configure one.

The file (YAML or TOML) holds only hashes, so it can live in a ConfigMap or a git
repository; ``regie token NAME`` makes a new token and its entry::

    tokens:
      - name: grafana
        role: reader
        sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

__all__ = [
    "ROLES",
    "AuthError",
    "Principal",
    "TokenFileError",
    "TokenStore",
    "hash_token",
    "load_tokens",
    "new_token",
    "token_entry",
]

Role = Literal["reader", "admin"]
ROLES: tuple[Role, ...] = ("reader", "admin")
_RANK = {"reader": 0, "admin": 1}
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HOW = (
    "create a token with `regie token NAME --role reader`, put the printed entry in a tokens file, "
    "and start the server with `regie serve --tokens FILE` (docs/service.md, Access)"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid token belongs to."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


class TokenFileError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


class AuthError(Exception):
    """401 (no or bad token) or 403 (a token without the role); ``message`` says which and why."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A random token: 256 bits, URL-safe, with a prefix that secret scanners can match."""
    return "regie_" + secrets.token_urlsafe(32)


def token_entry(name: str, role: Role, token: str) -> str:
    """The tokens-file entry (YAML) for ``token``: its hash, never the token."""
    return f"  - name: {name}\n    role: {role}\n    sha256: {hash_token(token)}\n"


def load_tokens(path: str) -> dict[str, Principal]:
    """The tokens file as {sha256: principal}; every mistake names the entry and field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise TokenFileError(path, err.strerror or str(err)) from None
    data: Any
    try:
        data = tomllib.loads(text) if path.endswith(".toml") else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as err:
        raise TokenFileError(
            path, f"not valid {'TOML' if path.endswith('.toml') else 'YAML'}: {err}"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("tokens"), list):
        raise TokenFileError(path, "expected a `tokens` list of {name, role, sha256}")
    out: dict[str, Principal] = {}
    for i, entry in enumerate(data["tokens"]):
        where = f"{path}: tokens[{i}]"
        if not isinstance(entry, dict):
            raise TokenFileError(where, "expected a map with name, role and sha256")
        if "token" in entry:
            raise TokenFileError(
                f"{where}.token", "the file must hold the token's sha256 hash, never the token itself"
            )
        unknown = set(entry) - {"name", "role", "sha256"}
        if unknown:
            raise TokenFileError(
                f"{where}.{sorted(unknown)[0]}", "unknown field; expected name, role, sha256"
            )
        name, role, digest = entry.get("name"), entry.get("role"), entry.get("sha256")
        if not isinstance(name, str) or not name:
            raise TokenFileError(f"{where}.name", "expected a non-empty string")
        if role not in ROLES:
            raise TokenFileError(f"{where}.role", f"expected reader or admin, got {role!r}")
        if not isinstance(digest, str) or not _HEX64.match(digest.lower()):
            raise TokenFileError(
                f"{where}.sha256", "expected 64 hexadecimal characters (the token's SHA-256)"
            )
        if digest.lower() in out:
            raise TokenFileError(f"{where}.sha256", f"the same token as `{out[digest.lower()].name}`")
        out[digest.lower()] = Principal(name, role)
    return out


class TokenStore:
    """The tokens in force; re-read when the file changes (checked at most once a second).

    A tokens file that turns bad keeps the previous tokens (and is logged by the caller
    through ``problem``), like the policy set.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.problem: str | None = None
        self._tokens: dict[str, Principal] = load_tokens(path) if path else {}
        self._mtime = self._stat()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        return self.path is not None

    def authenticate(self, authorization: str | None, role: Role) -> Principal:
        """The principal for an ``Authorization`` header value, or AuthError (401 or 403)."""
        if self.path is None:
            raise AuthError(401, f"this server has no API tokens configured: {_HOW}")
        if not authorization:
            raise AuthError(401, "missing bearer token: send `Authorization: Bearer TOKEN`")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise AuthError(401, "expected `Authorization: Bearer TOKEN`")
        self._refresh()
        digest = hash_token(token)
        principal = None
        for known, who in self._tokens.items():  # compare with every entry, in constant time
            if hmac.compare_digest(known, digest):
                principal = who
        if principal is None:
            raise AuthError(401, "unknown or revoked token")
        if not principal.may(role):
            raise AuthError(403, f"token `{principal.name}` has role {principal.role}; this needs {role}")
        return principal

    def _stat(self) -> int:
        if self.path is None:
            return 0
        try:
            return Path(self.path).stat().st_mtime_ns
        except OSError:
            return -1

    def _refresh(self) -> None:
        now = time.monotonic()
        if self.path is None or now - self._checked < 1.0:
            return
        with self._lock:
            self._checked = now
            mtime = self._stat()
            if mtime == self._mtime:
                return
            self._mtime = mtime
            try:
                self._tokens = load_tokens(self.path)
                self.problem = None
            except TokenFileError as err:
                self.problem = str(err)
