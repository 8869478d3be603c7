"""The declarative connector (``http:CONFIG.yaml``): any JSON REST API, configured in YAML.

A configuration says where the list is (``base_url`` + ``endpoint``), how to
authenticate (bearer or basic, from environment variables: a secret written in
the file is refused), how to page (``link``, ``cursor``, ``page``, ``offset``),
where the records are in each answer (``records``: a dotted path) and how a
record becomes a resource (``facts``). See ``docs/connectors-http-inventory.md``.

:func:`load_config` validates with pydantic; an error names the file, the line
and the field. :func:`resources_from_records` is the pure mapping, and
:func:`pull_config` the thin shell that fetches.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from regie.connectors.base import ConnectorError, PullContext, ownership_from_labels
from regie.connectors.http.client import Paging, RetryPolicy, iter_pages, open_client, path_get
from regie.connectors.http.normalise import country_of, is_secret_key, redact
from regie.connectors.inventory import load_yaml_located, validation_error
from regie.engine.facts import FACT_FIELDS, Resource, truthy_label

__all__ = ["ConnectorConfig", "load_config", "pull_config", "render_id", "resources_from_records"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
#: Fact fields a record field can be mapped onto (id, kind and type have their own keys).
MAPPABLE: tuple[str, ...] = tuple(
    n
    for n, _, _ in FACT_FIELDS
    if n not in ("id", "source", "kind", "type", "labels", "attributes", "action")
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(
            f"`{value[:4]}…` is not an environment variable name; put the secret in an environment "
            "variable and write its name here"
        )
    return value


class BearerAuth(_Strict):
    type: Literal["bearer"]
    token_env: str

    _check = field_validator("token_env")(_env_name)


class BasicAuth(_Strict):
    type: Literal["basic"]
    username_env: str
    password_env: str

    _check = field_validator("username_env", "password_env")(_env_name)


class Retry(_Strict):
    attempts: int = Field(default=4, ge=1, le=10)
    backoff: float = Field(default=0.5, ge=0)
    max_wait: float = Field(default=30.0, ge=0, le=600)


class Pagination(_Strict):
    style: Literal["none", "link", "cursor", "page", "offset"] = "none"
    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"
    page_param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = Field(default=None, ge=1)
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(default=100, ge=1)
    max_pages: int = Field(default=1000, ge=1)


class FactMapping(_Strict):
    id: str = Field(min_length=1, description="template: `{dotted.path}` placeholders")
    kind: str = Field(min_length=1)
    type: str | None = None
    fields: dict[str, str] = Field(default_factory=dict)
    labels: str | None = None

    @field_validator("fields")
    @classmethod
    def _known(cls, value: dict[str, str]) -> dict[str, str]:
        import difflib

        for key in value:
            if key not in MAPPABLE:
                close = difflib.get_close_matches(key, MAPPABLE, n=1)
                hint = f" (did you mean `{close[0]}`?)" if close else f"; one of {', '.join(MAPPABLE)}"
                raise ValueError(f"`{key}` is not a fact field{hint}")
        return value


class ConnectorConfig(_Strict):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    base_url: str
    endpoint: str = ""
    params: dict[str, str | int] = Field(default_factory=dict)
    headers: dict[str, str] = Field(default_factory=dict)
    auth: BearerAuth | BasicAuth | None = Field(default=None, discriminator="type")
    timeout: float | None = Field(default=None, gt=0)
    retry: Retry = Field(default_factory=Retry)
    pagination: Pagination = Field(default_factory=Pagination)
    records: str = ""
    facts: FactMapping

    @model_validator(mode="before")
    @classmethod
    def _no_literal_secrets(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            auth = data.get("auth")
            if isinstance(auth, Mapping):
                for key in ("token", "password", "username", "api_key"):
                    if key in auth:
                        raise ValueError(
                            f"`auth.{key}` holds a literal credential; the file must not: write "
                            f"`auth.{'token_env' if key in ('token', 'api_key') else key + '_env'}` with the "
                            "name of an environment variable"
                        )
        return data

    @field_validator("headers")
    @classmethod
    def _no_secret_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if is_secret_key(key) or key.lower() in ("cookie", "x-auth"):
                raise ValueError(f"header `{key}` would put a credential in the file; use `auth` instead")
        return value

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        url = httpx.URL(value)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError("expected an http(s) URL")
        if url.userinfo:
            raise ValueError("the URL holds a user name or password; use `auth` with environment variables")
        return value


def load_config(path: str | Path) -> ConnectorConfig:
    """Read and validate a connector configuration; errors name the file, line and field."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise ConnectorError(
            where, f"cannot read the connector configuration: {err.strerror or err}"
        ) from None
    data, lines = load_yaml_located(text, where)
    if not isinstance(data, Mapping):
        raise ConnectorError(f"{where}:1", "a connector configuration is a map (base_url, facts, …)")
    try:
        return ConnectorConfig.model_validate(data)
    except ValidationError as err:
        raise validation_error(err, where, lines) from None


def render_id(template: str, record: Any, where: str) -> str:
    """The id template with each ``{dotted.path}`` replaced by the record's value.

    >>> render_id("app/{sys_id}/{owner.name}", {"sys_id": 7, "owner": {"name": "ops"}}, "r")
    'app/7/ops'
    """

    def value(m: re.Match[str]) -> str:
        v = path_get(record, m.group(1).strip())
        if v is None or isinstance(v, Mapping | list):
            raise ConnectorError(where, f"the id template needs `{m.group(1)}`, which this record lacks")
        return str(v).lower() if isinstance(v, bool) else str(v)

    return _PLACEHOLDER.sub(value, template)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def resources_from_records(
    records: Iterable[tuple[str, Any]], config: ConnectorConfig, ctx: PullContext, source: str
) -> list[Resource]:
    """Map records (each with a ``where`` for messages) onto resources. Pure: no I/O."""
    name = config.name or Path(source).stem
    fm = config.facts
    out: list[Resource] = []
    seen: dict[str, str] = {}
    for where, record in records:
        if not isinstance(record, Mapping):
            raise ConnectorError(where, f"a record must be a JSON object, got {type(record).__name__}")
        rid = f"http:{name}#{render_id(fm.id, record, where)}"
        if rid in seen:
            raise ConnectorError(where, f"id `{rid}` again (first at {seen[rid]}); make `facts.id` unique")
        seen[rid] = where
        labels: dict[str, str] = {}
        if fm.labels:
            raw = path_get(record, fm.labels)
            if isinstance(raw, Mapping):
                labels = {str(k): _text(v) for k, v in raw.items()}
            elif isinstance(raw, list):  # [{key: …, value: …}], as several APIs write tags
                for item in raw:
                    if isinstance(item, Mapping) and "key" in item:
                        labels[str(item["key"])] = _text(item.get("value"))
        values: dict[str, Any] = {k: v for k, v in ownership_from_labels(labels, ctx.ownership).items()}
        for fact, path in fm.fields.items():
            v = path_get(record, path)
            if fact == "vital":
                v = truthy_label(v) if v is not None else values.get("vital")
            elif v is not None:
                v = _text(v) if not isinstance(v, Mapping | list) else None
            if v is not None:
                values[fact] = v
        r = Resource(
            rid,
            source=f"http:{source}",
            kind=fm.kind,
            type=fm.type or name,
            labels=labels,
            attributes=redact(record),
        )
        for fact, v in values.items():
            setattr(r, fact, v)
        if "country" not in fm.fields:
            r.country = country_of(r.provider, r.region, ctx.catalogs)
        out.append(r)
    return out


def pull_config(target: str, ctx: PullContext) -> list[Resource]:
    """``http:CONFIG.yaml``: fetch every page the configuration describes and map its records."""
    config = load_config(target)
    where = target
    auth: httpx.Auth | None = None
    hint = "check the credentials"
    if config.auth is not None:
        names = (
            [config.auth.token_env]
            if isinstance(config.auth, BearerAuth)
            else [config.auth.username_env, config.auth.password_env]
        )
        missing = [n for n in names if not ctx.env.get(n)]
        if missing:
            raise ConnectorError(f"{where}: auth", f"environment variable {missing[0]} is not set")
        hint = f"check the credentials in {' and '.join(names)}"
        if isinstance(config.auth, BearerAuth):
            auth = _Bearer(ctx.env[config.auth.token_env])
        else:
            auth = httpx.BasicAuth(ctx.env[config.auth.username_env], ctx.env[config.auth.password_env])
    url = config.base_url
    if config.endpoint:
        url = str(httpx.URL(url if url.endswith("/") else url + "/").join(config.endpoint.lstrip("/")))
    p = config.pagination
    paging = Paging(
        p.style, p.cursor_path, p.cursor_param, p.page_param, p.start, p.size_param, p.size,
        p.offset_param, p.limit_param, p.limit, p.max_pages,
    )  # fmt: skip
    retry = RetryPolicy(config.retry.attempts, config.retry.backoff, config.retry.max_wait)
    records: list[tuple[str, Any]] = []
    with open_client(ctx) as client:
        if config.timeout is not None:
            client.timeout = httpx.Timeout(config.timeout)
        pages = iter_pages(
            client, url, where=where, records_path=config.records, paging=paging, params=config.params,
            headers=config.headers, auth=auth, retry=retry, auth_hint=hint,
        )  # fmt: skip
        for page in pages:
            records.extend(
                (f"{page.url}: {config.records or 'records'}[{i}]", rec) for i, rec in enumerate(page.records)
            )
    return resources_from_records(records, config, ctx, target)


class _Bearer(httpx.Auth):
    """``Authorization: Bearer …``; the token never appears in a repr or a message."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def __repr__(self) -> str:
        return "_Bearer(token=(sensitive))"
