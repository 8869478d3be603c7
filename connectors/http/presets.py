"""Ready connectors: OpenAI-compatible ``/v1/models``, the LiteLLM proxy, and a SaaS inventory export.

Each has a pure part (a parsed document in, resources out: ``*_resources``)
and a thin ``pull_*`` shell that reads the file or asks the server.

Models become ``ai.model`` resources. ``provider`` is who *serves* the model:
the route's provider, as a providers-catalogue key where the catalogue has one
(``azure/…`` → ``azurerm``, ``bedrock/…`` → ``aws``, ``vertex_ai/…`` →
``google``), the route's own name otherwise (``openai``, ``mistral``,
``anthropic``, …), and ``self-hosted`` for servers an organisation runs itself
(``ollama``, ``vllm``, ``hosted_vllm``, …). What the model *is* goes in
``attributes``: ``model`` (the identifier) and ``model_key`` (the models
catalogue entry whose ``identifiers`` contain it, or null).
"""

from __future__ import annotations

import csv
import io
import ipaddress
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import httpx
import yaml

from regie.connectors.base import ConnectorError, Ownership, PullContext, ownership_from_labels
from regie.connectors.http.client import display_url, get_json, open_client
from regie.connectors.http.normalise import ENV_REFERENCE, country_of, redact, saas_key
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource, truthy_label

__all__ = [
    "LITELLM_TOKEN_ENV",
    "OPENAI_TOKEN_ENV",
    "ROUTE_PROVIDERS",
    "SAAS_COLUMNS",
    "litellm_resources",
    "openai_models_resources",
    "pull_litellm",
    "pull_openai_models",
    "pull_saas_export",
    "route_provider",
    "saas_resources",
]

#: The bearer token for a LiteLLM proxy (its master or a virtual key), if the proxy wants one.
LITELLM_TOKEN_ENV: Final = "REGIE_LITELLM_TOKEN"
#: The bearer token for a ``/v1/models`` endpoint. Deliberately not OPENAI_API_KEY: that key
#: must not be sent to whatever URL a source names.
OPENAI_TOKEN_ENV: Final = "REGIE_OPENAI_TOKEN"

SELF_HOSTED: Final = "self-hosted"

#: LiteLLM route prefix → provider (providers-catalogue key where there is one).
ROUTE_PROVIDERS: Final[Mapping[str, str]] = {
    "azure": "azurerm",
    "azure_ai": "azurerm",
    "azure_text": "azurerm",
    "openai": "openai",
    "text-completion-openai": "openai",
    "mistral": "mistral",
    "codestral": "mistral",
    "anthropic": "anthropic",
    "bedrock": "aws",
    "sagemaker": "aws",
    "vertex_ai": "google",
    "vertex_ai_beta": "google",
    "gemini": "google",
    "cohere": "cohere",
    "cohere_chat": "cohere",
    "groq": "groq",
    "together_ai": "together_ai",
    "openrouter": "openrouter",
    "deepseek": "deepseek",
    "huggingface": "huggingface",
    "fireworks_ai": "fireworks_ai",
    "perplexity": "perplexity",
    "xai": "xai",
    "databricks": "databricks",
    "watsonx": "ibm",
    "ollama": SELF_HOSTED,
    "ollama_chat": SELF_HOSTED,
    "vllm": SELF_HOSTED,
    "hosted_vllm": SELF_HOSTED,
    "llamafile": SELF_HOSTED,
    "lm_studio": SELF_HOSTED,
    "xinference": SELF_HOSTED,
    "triton": SELF_HOSTED,
}

#: A bare model name (no route prefix) → the provider LiteLLM infers from it.
_BARE_MODELS: Final = (
    (
        re.compile(r"^(gpt-|o[1-9]\b|o[1-9]-|chatgpt|text-embedding|davinci|babbage|whisper|tts-|dall-e)"),
        "openai",
    ),
    (re.compile(r"^claude"), "anthropic"),
    (re.compile(r"^(mistral-|open-mistral|open-mixtral|codestral|pixtral|ministral|magistral)"), "mistral"),
    (re.compile(r"^command"), "cohere"),
    (re.compile(r"^gemini"), "google"),
)

#: Endpoint host → operator, for ``/v1/models`` endpoints and OpenAI-protocol routes.
_HOSTS: Final = (
    (re.compile(r"(^|\.)openai\.com$"), "openai"),
    (
        re.compile(r"\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$"),
        "azurerm",
    ),
    (re.compile(r"(^|\.)mistral\.ai$"), "mistral"),
    (re.compile(r"(^|\.)anthropic\.com$"), "anthropic"),
    (re.compile(r"(^|\.)googleapis\.com$"), "google"),
    (re.compile(r"(^|\.)amazonaws\.com$"), "aws"),
    (re.compile(r"(^localhost$|\.svc$|\.svc\.cluster\.local$|\.internal$|\.local$)"), SELF_HOSTED),
)


def _host_provider(host: str) -> str | None:
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return SELF_HOSTED if ip.is_private or ip.is_loopback or ip.is_link_local else None
    for pattern, provider in _HOSTS:
        if pattern.search(host):
            return provider
    return None


def _azure_region(host: str, catalogs: Catalogs) -> str | None:
    """An Azure region named in an endpoint host (``westeurope.api.cognitive.microsoft.com``,
    ``my-res-swedencentral.openai.azure.com``); None when the host names none."""
    regions = {k.split("/", 1)[1] for k in catalogs.entries.get("regions", {}) if k.startswith("azurerm/")}
    labels = host.lower().split(".")
    for token in [*labels, *(t for label in labels for t in label.split("-"))]:
        if token in regions:
            return token
    return None


def route_provider(route: str, params: Mapping[str, Any], catalogs: Catalogs) -> tuple[Any, Any, str | None]:
    """(provider, region, route prefix) of a LiteLLM ``model`` string and its ``litellm_params``.

    >>> route_provider("mistral/mistral-large-latest", {}, Catalogs())
    ('mistral', None, 'mistral')
    >>> route_provider("ollama/llama3", {}, Catalogs())
    ('self-hosted', None, 'ollama')
    """
    prefix: str | None = None
    custom = params.get("custom_llm_provider")
    if isinstance(custom, str) and custom:
        prefix = custom
    elif "/" in route:
        prefix = route.split("/", 1)[0]
    api_base = params.get("api_base") or params.get("base_url")
    host = httpx.URL(api_base).host if isinstance(api_base, str) and "://" in api_base else ""
    provider: Any
    if prefix is None:
        provider = next((p for rx, p in _BARE_MODELS if rx.search(route)), None)
        if provider is None:
            provider = Unknown(f"model `{route}` has no route prefix and its provider cannot be inferred")
    elif prefix in ROUTE_PROVIDERS:
        provider = ROUTE_PROVIDERS[prefix]
    else:
        provider = Unknown(f"route prefix `{prefix}` of `{route}` is not a LiteLLM provider known to Regie")
    if provider == "openai" and host and _host_provider(host) != "openai":
        # `openai/…` with an api_base is LiteLLM's way to reach any OpenAI-compatible server.
        provider = _host_provider(host) or Unknown(
            f"`{route}` is served over the OpenAI protocol at {host}, whose operator is not known"
        )
    region: Any = None
    for key in ("region_name", "aws_region_name", "vertex_location", "azure_region"):
        value = params.get(key)
        if isinstance(value, str) and value and not value.startswith(ENV_REFERENCE):
            region = value
            break
    if region is None and provider == "azurerm" and host:
        region = _azure_region(host, catalogs)
    return provider, region, prefix


# --- LiteLLM -----------------------------------------------------------------------------------


def litellm_resources(
    data: Any,
    source: str,
    catalogs: Catalogs,
    where: str | None = None,
    ownership: Ownership | None = None,
) -> list[Resource]:
    """``ai.model`` resources from a LiteLLM config (``model_list``) or a ``/model/info`` answer.

    ``model_info.labels`` are the deployment's labels; ownership (``service``, ``classification``,
    …) comes from them by the configured label names, as for every other source.
    """
    own_names = ownership or Ownership()
    where = where or source
    if isinstance(data, Mapping) and isinstance(data.get("data"), list) and "model_list" not in data:
        entries, field = data["data"], "data"
    elif isinstance(data, Mapping) and "model_list" in data:
        entries, field = data["model_list"], "model_list"
        if not isinstance(entries, list):
            raise ConnectorError(f"{where}: model_list", "expected a list of model deployments")
    else:
        raise ConnectorError(
            where,
            "not a LiteLLM proxy config (a map with `model_list`) "
            "nor a `/model/info` answer (a map with `data`)",
        )
    names = Counter(e.get("model_name") for e in entries if isinstance(e, Mapping))
    seen: Counter[Any] = Counter()
    out: list[Resource] = []
    for i, entry in enumerate(entries):
        at = f"{where}: {field}[{i}]"
        if not isinstance(entry, Mapping):
            raise ConnectorError(at, "a model deployment is a map with `model_name` and `litellm_params`")
        alias = entry.get("model_name")
        params = entry.get("litellm_params")
        if not isinstance(alias, str) or not alias:
            raise ConnectorError(f"{at}.model_name", "a deployment needs a `model_name`")
        if not isinstance(params, Mapping) or not isinstance(params.get("model"), str) or not params["model"]:
            raise ConnectorError(f"{at}.litellm_params.model", "a deployment needs `litellm_params.model`")
        route = params["model"]
        provider, region, prefix = route_provider(route, params, catalogs)
        identifier = route.split("/", 1)[1] if prefix and route.startswith(prefix + "/") else route
        raw_info = entry.get("model_info")
        info: Mapping[str, Any] = raw_info if isinstance(raw_info, Mapping) else {}
        # Azure deployment names are chosen by the team; `model_info.base_model` names the model.
        base = info.get("base_model")
        key = (
            (catalogs.model_key(base) if isinstance(base, str) and base else None)
            or catalogs.model_key(route)
            or catalogs.model_key(identifier)
        )
        seen[alias] += 1
        suffix = f"[{seen[alias] - 1}]" if names[alias] > 1 else ""
        ident = str(info.get("id")) if info.get("id") else f"{alias}{suffix}"
        api_base = params.get("api_base")
        attributes: dict[str, Any] = {
            "model_name": alias,
            "route": route,
            "route_provider": prefix,
            "model": identifier,
            "model_key": key,
            "api_base": api_base if isinstance(api_base, str) else None,
            "litellm_params": redact(params),
            "model_info": redact(info),
        }
        extra = {k: v for k, v in entry.items() if k not in ("model_name", "litellm_params", "model_info")}
        if extra:
            attributes["deployment"] = redact(extra)
        if key is None:
            attributes["note"] = f"model `{identifier}` is not in the models catalogue"
        labels = (
            {str(k): str(v) for k, v in (info.get("labels") or {}).items()}
            if isinstance(info.get("labels"), Mapping)
            else {}
        )
        out.append(
            Resource(
                f"litellm:{source}#{ident}",
                source=f"litellm:{source}",
                kind="ai.model",
                type="litellm/deployment",
                name=alias,
                provider=provider,
                region=region,
                country=country_of(provider, region, catalogs),
                labels=labels,
                attributes=attributes,
                **ownership_from_labels(labels, own_names),
            )
        )
    return out


def _is_url(target: str) -> bool:
    return target.startswith(("http://", "https://"))


def pull_litellm(target: str, ctx: PullContext) -> list[Resource]:
    """``litellm:PATH|URL``: a proxy ``config.yaml``, or a running proxy (``GET /model/info``).

    ``os.environ/NAME`` references in the config are kept as written, never resolved;
    literal keys are redacted.
    """
    if _is_url(target):
        url = target.rstrip("/")
        if not url.endswith("/model/info"):
            url += "/model/info"
        token = ctx.env.get(LITELLM_TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with open_client(ctx) as client:
            body, _ = get_json(
                client, url, where=f"litellm:{display_url(target)}", headers=headers,
                auth_hint=f"set {LITELLM_TOKEN_ENV} to a key the proxy accepts",
            )  # fmt: skip
        host = httpx.URL(target).netloc.decode()
        return litellm_resources(body, host, ctx.catalogs, where=display_url(url), ownership=ctx.ownership)
    path = Path(target)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConnectorError(target, f"cannot read the LiteLLM config: {err.strerror or err}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        raise ConnectorError(
            f"{target}{at}", f"not valid YAML: {getattr(err, 'problem', None) or err}"
        ) from None
    return litellm_resources(data, path.name, ctx.catalogs, where=target, ownership=ctx.ownership)


# --- OpenAI-compatible /v1/models --------------------------------------------------------------


def openai_models_resources(
    body: Any, source: str, catalogs: Catalogs, provider: Any, where: str | None = None
) -> list[Resource]:
    """``ai.model`` resources from a ``/v1/models`` list (or a single ``/v1/models/{id}`` object)."""
    where = where or source
    if isinstance(body, Mapping) and isinstance(body.get("data"), list):
        records = body["data"]
    elif isinstance(body, Mapping) and body.get("object") == "model" and isinstance(body.get("id"), str):
        records = [body]
    else:
        raise ConnectorError(
            where, 'not a /v1/models answer: expected `{"object": "list", "data": [...]}` or a model object'
        )
    out = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("id"), str) or not rec["id"]:
            raise ConnectorError(f"{where}: data[{i}]", "a model needs a string `id`")
        ident = rec["id"]
        key = catalogs.model_key(ident)
        attributes = {"model": ident, "model_key": key, "owned_by": rec.get("owned_by"), **redact(rec)}
        if key is None:
            attributes["note"] = f"model `{ident}` is not in the models catalogue"
        out.append(
            Resource(
                f"openai-models:{source}#{ident}",
                source=f"openai-models:{source}",
                kind="ai.model",
                type="openai/model",
                name=ident,
                provider=provider,
                attributes=attributes,
            )
        )
    return out


def pull_openai_models(target: str, ctx: PullContext) -> list[Resource]:
    """``openai-models:PATH|URL``: a saved ``/v1/models`` answer, or the endpoint (a base URL is
    completed with ``/v1/models``). The provider is the endpoint's operator, known from its host;
    a saved file does not say who serves it, so its provider is unknown."""
    if _is_url(target):
        url = target.rstrip("/")
        if not url.endswith("/models"):
            url += "/models" if url.endswith("/v1") else "/v1/models"
        token = ctx.env.get(OPENAI_TOKEN_ENV)
        headers = {"Authorization": f"Bearer {token}"} if token else None
        with open_client(ctx) as client:
            body, _ = get_json(
                client, url, where=f"openai-models:{display_url(target)}", headers=headers,
                auth_hint=f"set {OPENAI_TOKEN_ENV} to a key the endpoint accepts",
            )  # fmt: skip
        host = httpx.URL(url).host
        provider: Any = _host_provider(host) or Unknown(f"the operator of {host} is not known")
        return openai_models_resources(
            body, httpx.URL(url).netloc.decode(), ctx.catalogs, provider, display_url(url)
        )
    try:
        body = json.loads(Path(target).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConnectorError(target, f"cannot read the /v1/models answer: {err.strerror or err}") from None
    except ValueError as err:
        raise ConnectorError(target, f"not JSON: {err}") from None
    provider = Unknown("a saved /v1/models answer does not say who serves the models")
    return openai_models_resources(body, Path(target).name, ctx.catalogs, provider, target)


# --- SaaS inventory export -------------------------------------------------------------------

#: Fact → the column names (any case; spaces, `-` and `_` ignored) it is read from, first found wins.
SAAS_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = {
    "id": ("id", "sys_id", "application_id", "app_id", "ci_id", "asset_id"),
    "name": ("name", "application", "application_name", "app", "app_name", "display_name", "applicatie"),
    "vendor": ("vendor", "supplier", "manufacturer", "publisher", "company", "leverancier"),
    "service": ("service", "business_service", "dienst"),
    "owner": ("owner", "business_owner", "application_owner", "managed_by", "eigenaar"),
    "classification": ("classification", "data_classification", "bbn", "classificatie"),
    "vital": ("vital", "vitaal", "business_critical"),
    "exit_plan": ("exit_plan", "exitplan", "exit_strategy"),
    "region": ("region", "hosting_region", "data_location", "data_residency"),
    "country": ("country", "hosting_country", "land"),
}


def _col(name: str) -> str:
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


def _rows(text: str, suffix: str, where: str) -> list[Any]:
    stripped = text.lstrip("\ufeff").lstrip()
    if suffix == ".json" or stripped.startswith(("[", "{")):
        try:
            data = json.loads(stripped)
        except ValueError as err:
            raise ConnectorError(where, f"not JSON: {err}") from None
        if isinstance(data, list):
            return data
        if isinstance(data, Mapping):
            for key in ("applications", "records", "result", "data", "items", "value"):
                if isinstance(data.get(key), list):
                    return list(data[key])
        raise ConnectorError(
            where,
            "expected a list of applications, or a map with one under `applications`, `result` or `data`",
        )
    dialect: type[csv.Dialect] | csv.Dialect
    try:
        dialect = csv.Sniffer().sniff(stripped.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel()
    reader = csv.DictReader(io.StringIO(stripped), dialect=dialect)
    if not reader.fieldnames:
        raise ConnectorError(where, "the CSV export has no header row")
    return [dict(row) for row in reader]


def saas_resources(
    rows: Sequence[Any], source: str, ctx: PullContext, where: str | None = None
) -> list[Resource]:
    """``saas.application`` resources from export rows (maps of column → value); see :data:`SAAS_COLUMNS`."""
    where = where or source
    out: list[Resource] = []
    used: Counter[str] = Counter()
    for i, row in enumerate(rows):
        at = f"{where}: row {i + 1}"
        if not isinstance(row, Mapping):
            raise ConnectorError(at, f"expected a map of columns, got {type(row).__name__}")
        cols = {_col(str(k)): v for k, v in row.items() if k is not None}
        fact: dict[str, Any] = {}
        for name, aliases in SAAS_COLUMNS.items():
            for alias in aliases:
                v = cols.get(_col(alias))
                if v not in (None, ""):
                    fact[name] = v if isinstance(v, bool) else str(v).strip()
                    break
        if "name" not in fact:
            raise ConnectorError(
                at, f"no application name (a column named one of {', '.join(SAAS_COLUMNS['name'])})"
            )
        ident = fact.get("id") or fact["name"]
        used[ident] += 1
        if used[ident] > 1:
            ident = f"{ident}[{used[ident]}]"
        labels = ownership_from_labels({}, ctx.ownership)
        key = saas_key(fact["name"], fact.get("vendor"), ctx.catalogs)
        provider: Any = key or Unknown(
            f"`{fact['name']}`"
            + (f" by {fact['vendor']}" if fact.get("vendor") else "")
            + " is not in the saas catalogue"
        )
        vital: Any = None
        if "vital" in fact:
            vital = truthy_label(fact["vital"])
            if vital is None:
                vital = Unknown(f"vital is {fact['vital']!r}, not true or false")
        r = Resource(
            f"saas:{source}#{ident}",
            source=f"saas:{source}",
            kind="saas.application",
            type="saas.application",
            name=fact["name"],
            provider=provider,
            region=fact.get("region"),
            country=fact.get("country"),
            service=fact.get("service", labels["service"]),
            classification=fact.get("classification"),
            vital=vital,
            exit_plan=fact.get("exit_plan"),
            owner=fact.get("owner"),
            attributes={"vendor": fact.get("vendor"), "saas_key": key, **redact(dict(row))},
        )
        out.append(r)
    return out


def pull_saas_export(target: str, ctx: PullContext) -> list[Resource]:
    """``saas:PATH``: a SaaS application inventory export, CSV (`,` `;` or tab) or JSON."""
    path = Path(target)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise ConnectorError(target, f"cannot read the SaaS export: {err.strerror or err}") from None
    except UnicodeDecodeError:
        raise ConnectorError(target, "the export is not UTF-8; save it as UTF-8 CSV") from None
    return saas_resources(_rows(text, path.suffix.lower(), target), path.name, ctx, target)
