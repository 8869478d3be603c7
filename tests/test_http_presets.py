"""The presets: LiteLLM configs (the corpus) and a running proxy, /v1/models, SaaS exports."""
# ruff: noqa: E501, RUF043, SIM117

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from test_http_server import Request, json_answer, serve

from regie.connectors.base import REDACTED, ConnectorError, PullContext
from regie.connectors.http import pull_litellm, pull_openai_models, pull_saas_export
from regie.dsl.values import Unknown
from regie.loading import load_catalogs

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "ai-gateway"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "http"
CTX = PullContext(catalogs=load_catalogs(), env={}, timeout=5)

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

#: Every file of the ai-gateway corpus, and which connector loads it (the other refuses it).
CORPUS_FILES = {
    "litellm_azure_config.yaml": "litellm",
    "litellm_guardrails_eu_ai_act.yaml": "litellm",
    "litellm_load_balancer.yaml": "litellm",
    "openai_models-retrieve.response.json": "openai-models",
}
#: Literal secrets in the corpus that must never reach a fact.
CORPUS_SECRETS = ("sk-uj6F", "sk-Imn", "eYVX71")


def dumped(resources: list[Any]) -> str:
    return json.dumps([r.to_dict() for r in resources], default=str)


@needs_corpus
def test_every_corpus_file_loads_or_is_refused_clearly() -> None:
    assert sorted(p.name for p in CORPUS.iterdir()) == sorted(CORPUS_FILES)
    pullers = {"litellm": pull_litellm, "openai-models": pull_openai_models}
    for name, loader in CORPUS_FILES.items():
        for scheme, pull in pullers.items():
            if scheme == loader:
                assert pull(str(CORPUS / name), CTX), name
            else:
                with pytest.raises(ConnectorError, match="not a LiteLLM proxy config|not JSON"):
                    pull(str(CORPUS / name), CTX)


@needs_corpus
def test_litellm_corpus_configs() -> None:
    azure = pull_litellm(str(CORPUS / "litellm_azure_config.yaml"), CTX)  # CRLF line endings
    assert [r.id for r in azure] == [
        "litellm:litellm_azure_config.yaml#gpt-4-team1", "litellm:litellm_azure_config.yaml#gpt-4-team2",
    ]  # fmt: skip
    a = azure[1]
    assert (a.kind, a.provider, a.region, a.country) == ("ai.model", "azurerm", None, None)
    assert a.attributes["model"] == "gpt-4" and a.attributes["route_provider"] == "azure"
    assert a.attributes["model_key"] == "openai-gpt"
    # An environment reference stays a reference: never resolved, whatever the environment holds.
    assert a.attributes["litellm_params"]["api_key"] == "os.environ/AZURE_API_KEY"
    lb = pull_litellm(str(CORPUS / "litellm_load_balancer.yaml"), CTX)
    assert [r.id.split("#")[1] for r in lb] == [
        "gpt-3.5-turbo[0]", "gpt-3.5-turbo[1]", "gpt-3.5-turbo[2]", "mistral-7b-instruct",
    ]  # fmt: skip
    assert [r.provider for r in lb[:3]] == ["openai", "openai", "openrouter"]
    assert isinstance(lb[3].provider, Unknown) and "mistralai" in lb[3].provider.reason
    assert lb[0].attributes["litellm_params"]["api_key"] == REDACTED
    assert lb[0].attributes["deployment"] == {"tpm": 20000, "rpm": 3}
    guard = pull_litellm(str(CORPUS / "litellm_guardrails_eu_ai_act.yaml"), CTX)
    assert [(r.name, r.provider) for r in guard] == [("gpt-4o-mini", "openai")]


@needs_corpus
def test_no_secret_reaches_the_facts() -> None:
    env = {"AZURE_API_KEY": "azure-secret-from-env", "OPENAI_API_KEY": "sk-from-env"}
    ctx = PullContext(catalogs=CTX.catalogs, env=env)
    for name, loader in CORPUS_FILES.items():
        pull = pull_litellm if loader == "litellm" else pull_openai_models
        text = dumped(pull(str(CORPUS / name), ctx))
        for secret in (*CORPUS_SECRETS, *env.values()):
            assert secret not in text, (name, secret)


def test_litellm_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("model_list:\n  - model_name: x\n    litellm_params: {api_base: http://h}\n")
    with pytest.raises(ConnectorError, match=r"model_list\[0\].litellm_params.model: .*needs"):
        pull_litellm(str(bad), CTX)
    bad.write_text("model_list: [\n")
    with pytest.raises(ConnectorError, match=r"c.yaml:\d+: not valid YAML"):
        pull_litellm(str(bad), CTX)
    with pytest.raises(ConnectorError, match="cannot read"):
        pull_litellm(str(tmp_path / "missing.yaml"), CTX)


def test_route_providers_and_regions(tmp_path: Path) -> None:
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "model_list:\n"
        "  - {model_name: a, litellm_params: {model: azure/gpt-4o, api_base: 'https://x-westeurope.openai.azure.com/', api_key: sk-lit-1}}\n"
        "  - {model_name: b, litellm_params: {model: mistral/mistral-large-2411}}\n"
        "  - {model_name: c, litellm_params: {model: ollama/mistral:7b, api_base: 'http://ollama:11434'}}\n"
        "  - {model_name: d, litellm_params: {model: openai/utter-project/EuroLLM-9B-Instruct, api_base: 'http://10.0.0.5/v1'}}\n"
        "  - {model_name: e, litellm_params: {model: bedrock/anthropic.claude-3, aws_region_name: eu-central-1, aws_secret_access_key: AKIAsecret}}\n"
        "  - {model_name: f, litellm_params: {model: openai/x, api_base: 'https://llm.example.com/v1'}}\n"
    )  # fmt: skip
    rs = {r.name: r for r in pull_litellm(str(cfg), CTX)}
    assert (rs["a"].provider, rs["a"].region, rs["a"].country) == ("azurerm", "westeurope", "NL")
    assert (rs["b"].provider, rs["b"].attributes["model_key"]) == ("mistral", "mistral-large-2")
    assert (rs["c"].provider, rs["c"].attributes["model_key"]) == ("self-hosted", "mistral-7b")
    assert (rs["d"].provider, rs["d"].attributes["model_key"]) == ("self-hosted", "eurollm")
    assert (rs["e"].provider, rs["e"].region, rs["e"].country) == ("aws", "eu-central-1", "DE")
    assert isinstance(rs["f"].provider, Unknown) and "llm.example.com" in rs["f"].provider.reason
    text = dumped(list(rs.values()))
    assert "sk-lit-1" not in text and "AKIAsecret" not in text


def test_litellm_proxy_model_info_over_http() -> None:
    body = json.loads((FIXTURES / "model_info.json").read_text())
    ctx = PullContext(catalogs=CTX.catalogs, env={"REGIE_LITELLM_TOKEN": "sk-master-local"})

    def info(req: Request) -> Any:
        ok = req.headers.get("authorization") == "Bearer sk-master-local"
        return json_answer(body) if ok else json_answer({"error": "no"}, 401)

    with serve({"/model/info": info}) as srv:
        rs = pull_litellm(srv.base, ctx)
        with pytest.raises(ConnectorError, match="401 Unauthorized.*REGIE_LITELLM_TOKEN"):
            pull_litellm(srv.base, CTX)
    assert [r.id.split("#")[1] for r in rs] == ["3f1c2a", "9b7e10", "77aa01"]
    assert (rs[0].provider, rs[0].region, rs[0].country) == ("azurerm", "swedencentral", "SE")
    assert rs[2].provider == "self-hosted" and rs[2].attributes["model_key"] == "eurollm"
    assert "sk-master-local" not in dumped(rs)


@needs_corpus
def test_openai_models_endpoint_serves_the_corpus_payload() -> None:
    model = json.loads((CORPUS / "openai_models-retrieve.response.json").read_text())
    listing = {"object": "list", "data": [model, {**model, "id": "mistral-large-2411", "owned_by": "mistralai"}]}
    with serve({"/v1/models": lambda req: json_answer(listing)}) as srv:
        rs = pull_openai_models(srv.base, CTX)
        assert srv.requests[0].path == "/v1/models"
    assert [r.name for r in rs] == ["VAR_chat_model_id", "mistral-large-2411"]
    assert rs[0].provider == "self-hosted"  # 127.0.0.1
    assert rs[1].attributes["model_key"] == "mistral-large-2" and rs[1].attributes["owned_by"] == "mistralai"
    saved = pull_openai_models(str(CORPUS / "openai_models-retrieve.response.json"), CTX)
    assert isinstance(saved[0].provider, Unknown)
    assert saved[0].attributes["shutdown_date"] == "2026-10-23"


def test_openai_models_malformed(tmp_path: Path) -> None:
    with serve({"/v1/models": lambda req: json_answer({"models": []})}) as srv:
        with pytest.raises(ConnectorError, match="not a /v1/models answer"):
            pull_openai_models(srv.base + "/v1", CTX)


def test_saas_export_csv() -> None:
    rs = pull_saas_export(str(FIXTURES / "saas_export.csv"), CTX)
    by = {r.name: r for r in rs}
    teams = by["Teams"]
    assert teams.id == "saas:saas_export.csv#ci-001" and teams.kind == "saas.application"
    assert (teams.provider, teams.service, teams.classification, teams.vital) == (
        "microsoft-teams", "samenwerken", "BBN2", True,
    )  # fmt: skip
    assert teams.region == "westeurope" and teams.attributes["Licence count"] == "12000"
    assert by["Zivver"].provider == "zivver" and by["Zivver"].vital is False
    assert by["Microsoft 365 E5"].provider == "microsoft-365"
    acme = by["Acme Roosterplanner"]
    assert isinstance(acme.provider, Unknown) and "not in the saas catalogue" in acme.provider.reason
    assert isinstance(acme.vital, Unknown)


def test_saas_export_json_and_errors(tmp_path: Path) -> None:
    rs = pull_saas_export(str(FIXTURES / "saas_export.json"), CTX)
    assert [(r.name, r.provider, r.service) for r in rs] == [
        ("Slack", "slack", "chat"), ("Le Chat", "le-chat", None),
    ]  # fmt: skip
    assert "xoxb-not-a-real-token" not in dumped(rs)
    bad = tmp_path / "x.csv"
    bad.write_text("id,vendor\n1,Acme\n")
    with pytest.raises(ConnectorError, match="row 1: no application name"):
        pull_saas_export(str(bad), CTX)
    bad.write_text('{"apps": 1}')
    with pytest.raises(ConnectorError, match="expected a list of applications"):
        pull_saas_export(str(bad), CTX)
