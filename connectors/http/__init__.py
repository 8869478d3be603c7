"""SaaS and AI-gateway connectors: a declarative connector for any JSON REST API, and presets.

Source forms (``regie scan --source …``):

- ``http:CONFIG.yaml``: :func:`pull_config`, the declarative connector;
- ``openai-models:PATH|URL``: :func:`pull_openai_models`, an OpenAI-compatible ``/v1/models``;
- ``litellm:PATH|URL``: :func:`pull_litellm`, a LiteLLM proxy config or a running proxy;
- ``saas:PATH``: :func:`pull_saas_export`, a SaaS application inventory export (CSV or JSON).

``client`` holds the HTTP part (retries, paging), ``declarative`` the configured
connector, ``presets`` the ready ones, ``normalise`` the pure helpers (redaction,
catalogue keys).
"""

from __future__ import annotations

from regie.connectors.http.declarative import ConnectorConfig, load_config, pull_config
from regie.connectors.http.presets import (
    litellm_resources,
    openai_models_resources,
    pull_litellm,
    pull_openai_models,
    pull_saas_export,
    saas_resources,
)

__all__ = [
    "ConnectorConfig",
    "litellm_resources",
    "load_config",
    "openai_models_resources",
    "pull_config",
    "pull_litellm",
    "pull_openai_models",
    "pull_saas_export",
    "saas_resources",
]
