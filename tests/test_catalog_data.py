"""The built-in catalogue data (policies/catalog/*.yaml).

Every entry says where its facts come from and when they were checked; the
catalogues refer to each other consistently (a region's provider and country,
a provider's countries); and the facts the policy library leans on hold.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from regie.engine.catalog import CATALOG_TYPES, CatalogError, catalog_from_data
from regie.loading import BUILTIN_CATALOG, InputError, load_catalogs, read_data

Entries = dict[str, dict[str, dict[str, Any]]]

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
COUNTRY_CODE = re.compile(r"[A-Z]{2}")

EU_MEMBERS = {
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
    "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
}  # fmt: skip


@pytest.fixture(scope="module")
def cat() -> Entries:
    return load_catalogs().entries


def all_entries(cat: Entries) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, entries in cat.items():
        for key, entry in entries.items():
            yield name, key, entry


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def model_by_identifier(cat: Entries, identifier: str) -> dict[str, Any]:
    (entry,) = [m for m in cat["models"].values() if identifier in m.get("identifiers", [])]
    return entry


# --- the files -----------------------------------------------------------------


def test_each_catalogue_has_exactly_one_builtin_file() -> None:
    names = [catalog_from_data(read_data(str(p)), str(p))[0] for p in sorted(BUILTIN_CATALOG.glob("*.yaml"))]
    assert sorted(names) == sorted(CATALOG_TYPES)


def test_no_catalogue_is_empty(cat: Entries) -> None:
    assert {name for name, entries in cat.items() if not entries} == set()


# --- provenance ----------------------------------------------------------------


def test_every_entry_has_a_source(cat: Entries) -> None:
    missing = [
        f"{name}.{key}"
        for name, key, e in all_entries(cat)
        if not isinstance(e.get("source"), str) or not e["source"].strip()
    ]
    assert missing == []


def test_every_entry_has_an_iso_checked_date(cat: Entries) -> None:
    bad = []
    for name, key, e in all_entries(cat):
        checked = e.get("checked")
        if not isinstance(checked, str) or not ISO_DATE.fullmatch(checked) or not _is_date(checked):
            bad.append(f"{name}.{key}: {checked!r}")
    assert bad == []


def test_an_entry_without_source_is_rejected_naming_the_entry() -> None:
    data = {
        "catalog": "providers",
        "entries": {
            "good": {"name": "Good", "source": "somewhere", "checked": "2026-11-28"},
            "acme": {"name": "Acme Cloud", "parent_jurisdiction": "NL", "checked": "2026-11-28"},
        },
    }
    with pytest.raises(CatalogError) as err:
        catalog_from_data(data, "own/providers.yaml")
    assert err.value.where == "own/providers.yaml: entries.acme"
    assert "source" in err.value.message


def test_an_empty_source_is_rejected_too() -> None:
    data = {
        "catalog": "regions",
        "entries": {"acme/ams": {"provider": "acme", "country": "NL", "source": ""}},
    }
    with pytest.raises(CatalogError, match=r"entries\.acme/ams"):
        catalog_from_data(data, "regions.yaml")


def test_loading_a_file_without_source_names_file_and_entry(tmp_path: Path) -> None:
    path = tmp_path / "own.yaml"
    path.write_text("catalog: saas\nentries:\n  acme-mail: {name: Acme Mail, jurisdiction: NL}\n")
    with pytest.raises(InputError) as err:
        load_catalogs([path], builtin=False)
    assert err.value.where == f"{path}: entries.acme-mail"


# --- references between catalogues -------------------------------------------------


def test_country_keys_are_iso_codes(cat: Entries) -> None:
    assert [code for code in cat["countries"] if not COUNTRY_CODE.fullmatch(code)] == []
    assert cat["countries"]["NO"]["name"] == "Norway"  # YAML 1.1 would read a bare NO as false


def test_every_region_refers_to_a_known_provider_and_country(cat: Entries) -> None:
    bad = []
    for key, r in cat["regions"].items():
        if r.get("provider") not in cat["providers"]:
            bad.append(f"{key}: provider {r.get('provider')!r}")
        if key.split("/", 1)[0] != r.get("provider") or not key.split("/", 1)[1:]:
            bad.append(f"{key}: key is not `{r.get('provider')}/<region>`")
        if "country" in r and r["country"] not in cat["countries"]:
            bad.append(f"{key}: country {r['country']!r}")
    assert bad == []


def test_only_multi_regions_lack_a_country(cat: Entries) -> None:
    without = {key for key, r in cat["regions"].items() if "country" not in r}
    assert without == {"google/EU", "google/ASIA"}
    assert all("multi-region" in cat["regions"][key]["notes"] for key in without)


def test_every_provider_country_is_a_known_country(cat: Entries) -> None:
    bad = [
        f"{key}.{field}: {p[field]!r}"
        for key, p in cat["providers"].items()
        for field in ("hq_country", "parent_country", "parent_jurisdiction")
        if field in p and p[field] not in cat["countries"]
    ]
    assert bad == []
    assert [key for key, p in cat["providers"].items() if "hq_country" not in p] == []


def test_every_other_country_reference_is_a_known_country(cat: Entries) -> None:
    refs = [("models", "origin_country"), ("registries", "jurisdiction"), ("saas", "jurisdiction")]
    bad = [
        f"{name}.{key}.{field}: {e[field]!r}"
        for name, field in refs
        for key, e in cat[name].items()
        if field in e and e[field] not in cat["countries"]
    ]
    assert bad == []


def test_keys_of_models_registries_and_saas_are_lowercase(cat: Entries) -> None:
    bad = [
        f"{name}.{key}"
        for name in ("models", "registries", "saas")
        for key in cat[name]
        if key != key.lower()
    ]
    assert bad == []


def test_a_model_identifier_names_one_model(cat: Entries) -> None:
    seen: dict[str, str] = {}
    clashes = []
    for key, m in cat["models"].items():
        for identifier in m.get("identifiers", []):
            if identifier in seen:
                clashes.append(f"{identifier}: {seen[identifier]} and {key}")
            seen[identifier] = key
    assert clashes == []


# --- facts the policies lean on --------------------------------------------------


def test_the_eu_has_27_members_and_the_eea_adds_three(cat: Entries) -> None:
    countries = cat["countries"]
    eu = {code for code, c in countries.items() if c.get("eu") is True}
    eea = {code for code, c in countries.items() if c.get("eea") is True}
    assert eu == EU_MEMBERS
    assert len(load_catalogs().globals()["eu"]) == 27
    assert eea == EU_MEMBERS | {"IS", "LI", "NO"}
    assert all(isinstance(c.get("eu"), bool) and isinstance(c.get("eea"), bool) for c in countries.values())
    assert countries["GB"]["eu"] is False
    assert countries["CH"]["eea"] is False


def test_aws_stays_under_us_jurisdiction_in_its_european_sovereign_cloud(cat: Entries) -> None:
    region = cat["regions"]["aws/eusc-de-east-1"]
    assert region["country"] == "DE"
    assert region["provider"] == "aws"
    provider = cat["providers"][region["provider"]]
    assert provider["family"] == "aws"
    assert provider["parent"] == "Amazon.com, Inc."
    assert provider["parent_jurisdiction"] == "US"
    assert "European Sovereign Cloud" in provider["sovereign_offering"]


def test_terraform_providers_of_one_cloud_share_its_family_and_parent(cat: Entries) -> None:
    providers = cat["providers"]
    assert {providers[k]["family"] for k in ("aws", "awscc")} == {"aws"}
    assert {providers[k]["family"] for k in ("azurerm", "azapi", "azuread")} == {"azure"}
    us = ("aws", "awscc", "azurerm", "azapi", "azuread", "google")
    assert {providers[k]["parent_jurisdiction"] for k in us} == {"US"}


@pytest.mark.parametrize(
    ("key", "country"),
    [
        ("azurerm/westeurope", "NL"),
        ("azurerm/northeurope", "IE"),
        ("google/europe-west4", "NL"),
        ("scaleway/nl-ams", "NL"),
        ("scaleway/nl-ams-1", "NL"),
        ("oci/eu-amsterdam-1", "NL"),
        ("opentelekomcloud/eu-nl", "NL"),
        ("upcloud/nl-ams1", "NL"),
        ("aws/eu-central-1", "DE"),
        ("aws/eu-west-2", "GB"),
        ("aws/eu-central-2", "CH"),
        ("hcloud/fsn1", "DE"),
        ("hcloud/ash", "US"),
        ("ovh/GRA11", "FR"),
        ("ovh/EU-WEST-PAR-A", "FR"),
        ("alicloud/eu-central-1", "DE"),
        ("ionoscloud/de/fra", "DE"),
    ],
)
def test_region_country(cat: Entries, key: str, country: str) -> None:
    assert cat["regions"][key]["country"] == country


@pytest.mark.parametrize("provider", ["hcloud", "aws", "ovh"])
def test_providers_without_a_dutch_region(cat: Entries, provider: str) -> None:
    dutch = [
        key for key, r in cat["regions"].items() if r["provider"] == provider and r.get("country") == "NL"
    ]
    assert dutch == []


def test_the_same_region_id_means_different_places_per_provider(cat: Entries) -> None:
    assert cat["regions"]["aws/eu-west-1"]["country"] == "IE"
    assert cat["regions"]["alicloud/eu-west-1"]["country"] == "GB"


def test_parent_jurisdictions(cat: Entries) -> None:
    eu = {code for code, c in cat["countries"].items() if c.get("eu") is True}
    providers = cat["providers"]
    for key in ("hcloud", "ovh", "scaleway", "ionoscloud", "stackit", "opentelekomcloud", "upcloud"):
        assert providers[key]["parent_jurisdiction"] in eu, key
    for key in ("alicloud", "huaweicloud", "tencentcloud"):
        assert providers[key]["parent_jurisdiction"] == "CN", key
    # Alibaba's parent is registered in the Cayman Islands but operates in China
    alicloud = providers["alicloud"]
    assert (alicloud["parent_country"], alicloud["parent_jurisdiction"]) == ("KY", "CN")
    assert providers["exoscale"]["hq_country"] == "CH"


def test_models_by_identifier(cat: Entries) -> None:
    gpt = model_by_identifier(cat, "gpt-4o")
    assert (gpt["vendor"], gpt["origin_country"], gpt["open_weights"]) == ("OpenAI", "US", False)
    llama = model_by_identifier(cat, "meta-llama/Llama-3.1-8B-Instruct")
    assert (llama["origin_country"], llama["open_weights"]) == ("US", True)
    assert "Apache" not in llama["licence"]
    mistral = model_by_identifier(cat, "mistralai/Mistral-7B-Instruct-v0.3")
    assert (mistral["origin_country"], mistral["licence"]) == ("FR", "Apache-2.0")
    assert model_by_identifier(cat, "mistral-large-2411")["origin_country"] == "FR"
    assert model_by_identifier(cat, "deepseek-chat")["origin_country"] == "CN"
    assert "EU" in model_by_identifier(cat, "meta-llama/Llama-4-Scout-17B-16E-Instruct")["licence"]


def test_gpt_nl_is_dutch_and_its_openness_is_not_guessed(cat: Entries) -> None:
    gpt_nl = cat["models"]["gpt-nl"]
    assert gpt_nl["origin_country"] == "NL"
    assert "open_weights" not in gpt_nl
    assert "identifiers" not in gpt_nl


def test_registries_and_saas(cat: Entries) -> None:
    registries, saas = cat["registries"], cat["saas"]
    us_hosts = [
        "docker.io",
        "ghcr.io",
        "quay.io",
        "registry.k8s.io",
        "gcr.io",
        "mcr.microsoft.com",
        "public.ecr.aws",
    ]
    assert {host: registries[host]["jurisdiction"] for host in us_hosts} == dict.fromkeys(us_hosts, "US")
    assert registries["ghcr.io"]["parent"] == "Microsoft Corporation"
    assert registries["rg.nl-ams.scw.cloud"]["jurisdiction"] == "FR"
    assert saas["microsoft-365"]["jurisdiction"] == "US"
    assert saas["topdesk"]["jurisdiction"] == "NL"
    assert saas["solvinity"]["jurisdiction"] == "US"  # after the Kyndryl takeover
    assert "jurisdiction" not in saas["zivver"]  # unknown in the source: left out, not guessed
