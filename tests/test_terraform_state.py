"""The Terraform state connector, against real state files (shared/corpus/tfstate) and small cases."""

from __future__ import annotations

import copy
import doctest
import json
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

import regie.connectors.terraform.state as state_module
from regie.connectors.base import REDACTED, ConnectorError, Ownership, PullContext
from regie.connectors.terraform import (
    SENSITIVE,
    StateError,
    kind_of,
    load_state,
    provider_key,
    pull,
    resources_from_state,
)
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Inventory, Resource

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "tfstate"

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"state corpus not found at {CORPUS}")


def corpus(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / name).read_text(encoding="utf-8"))
    return data


def catalogs(**regions: str) -> Catalogs:
    """Catalogues with the given regions (`provider/region` → country)."""
    cats = Catalogs()
    entries = {
        key: {"provider": key.split("/")[0], "country": c, "source": "test"} for key, c in regions.items()
    }
    cats.merge("regions", entries, "test")
    return cats


def by_address(resources: list[Resource]) -> dict[str | None, Resource]:
    return {r.address: r for r in resources}


def state(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"version": 4, "terraform_version": "1.9.8", "resources": list(blocks)}


def block(rtype: str, name: str, *instances: dict[str, Any], **extra: Any) -> dict[str, Any]:
    provider = extra.pop("provider", 'provider["registry.terraform.io/hashicorp/aws"]')
    return {
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider": provider,
        **extra,
        "instances": list(instances),
    }


# --- addresses and ids, on real states ------------------------------------------------------


@needs_corpus
def test_modules_and_for_each_keys_give_terraform_addresses() -> None:
    resources = resources_from_state(corpus("opentofu_v4-modules.tfstate"), "modules.tfstate", Catalogs())
    assert [r.address for r in resources] == [
        "null_resource.bar",
        'module.modB.null_resource.bar["a"]',
        'module.modB.null_resource.bar["b"]',
        "module.modA.null_resource.resource",
    ]
    first = resources[0]
    assert first.id == "terraform:modules.tfstate#null_resource.bar"
    assert first.source == "terraform:modules.tfstate"
    assert (first.type, first.name, first.kind, first.provider) == ("null_resource", "bar", "other", "null")
    # pre-0.12 `attributes_flat` is unflattened; its values stay strings
    assert first.attributes == {"id": "5388490630832483079", "triggers": {"whaaat": "0,1"}}
    assert resources[3].attributes["triggers"] == {"input": "test"}


@needs_corpus
def test_a_single_module_resource() -> None:
    (r,) = resources_from_state(corpus("opentofu_v4-foreach.tfstate"), "s", Catalogs())
    assert r.id == "terraform:s#module.modA.null_resource.resource"
    assert r.region is None and r.country is None and r.labels == {}


@needs_corpus
def test_count_string_keys_nested_modules_and_data_sources() -> None:
    data = corpus("tfstate-lookup_aws-modules-count.tfstate")
    resources = resources_from_state(data, "prod.tfstate", Catalogs())
    found = by_address(resources)
    assert 'module.logs.aws_cloudwatch_log_group.main["app"]' in found
    assert (
        "aws_iam_role_policy_attachment.ec2[0]" in found and "aws_iam_role_policy_attachment.ec2[1]" in found
    )
    assert 'aws_iam_user.users["foo.bar"]' in found
    assert "module.webapp.module.ecs_task_roles.aws_iam_role.task_execution_role" in found
    assert "module.subnets.aws_subnet.main[1]" in found
    # data sources are not resources of the estate
    assert not any(".data." in a or a.startswith("data.") for a in found if a)
    assert not any(
        r.type in ("aws_caller_identity", "terraform_remote_state", "aws_lb_target_group") for r in resources
    )
    managed = sum(len(b["instances"]) for b in data["resources"] if b["mode"] == "managed")
    assert len(resources) == managed
    # legacy `provider.aws` and registry addresses give the same key; kinds from the table
    assert {r.provider for r in resources} == {"aws"}
    assert found["module.subnets.aws_subnet.main[0]"].kind == "network"
    assert found['aws_iam_user.users["foo.bar"]'].kind == "identity"
    assert len({r.id for r in resources}) == len(resources)


@needs_corpus
def test_an_old_terraform_version_in_a_version_4_state_reads() -> None:
    resources = resources_from_state(
        corpus("EDGE_driftctl_unsupported-terraform-version.tfstate"), "d", Catalogs()
    )
    assert resources and all(r.provider == "aws" for r in resources)


@needs_corpus
def test_index_keys_and_null_attributes() -> None:
    resources = resources_from_state(corpus("tfjson_110-sensitive-values.tfstate"), "t", Catalogs())
    found = by_address(resources)
    assert [a for a in found if a and a.startswith("null_resource.baz")] == [
        "null_resource.baz[0]",
        "null_resource.baz[1]",
        "null_resource.baz[2]",
    ]
    assert found["module.foo.null_resource.aliased"].attributes["triggers"] is None


# --- versions and shape -------------------------------------------------------------------


@needs_corpus
def test_a_version_3_state_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"format version 3 is not supported.*version 4"):
        resources_from_state(corpus("opentofu_v3-simple.tfstate"), "old.tfstate", Catalogs())
    with pytest.raises(ConnectorError, match=r"^old.tfstate: Terraform state format version 3"):
        load_state((CORPUS / "opentofu_v3-simple.tfstate").read_bytes(), "old.tfstate", Catalogs())


@needs_corpus
def test_a_plan_is_not_taken_for_a_state() -> None:
    plan = CORPUS.parent / "tfplan" / "opentofu_modules.plan.json"
    with pytest.raises(StateError, match="a plan"):
        load_state(plan.read_bytes(), plan.name, Catalogs(), freeze=False)


@pytest.mark.parametrize("data", [{"version": 5, "resources": []}, {"resources": []}, {"version": "4"}, []])
def test_other_versions_and_shapes_are_refused(data: Any) -> None:
    with pytest.raises(StateError):
        resources_from_state(data, "x", Catalogs())


def test_a_malformed_block_names_its_position() -> None:
    with pytest.raises(ValueError, match=r"resources\[1\]"):
        resources_from_state(
            state(block("aws_vpc", "a", {"attributes": {}}), {"mode": "managed"}), "x", Catalogs()
        )


# --- sensitive values ---------------------------------------------------------------------


@needs_corpus
def test_sensitive_attributes_are_redacted_without_changing_the_input() -> None:
    data = corpus("opentofu_sensitive-variables.tfstate")
    before = copy.deepcopy(data)
    (r,) = resources_from_state(data, "s", Catalogs())
    assert r.attributes == {"id": "621124146446964903", "ami": SENSITIVE}
    assert data == before


def test_a_parsed_state_is_read_not_consumed_and_its_bytes_read_the_same() -> None:
    # load_state drops each block of the state it parsed once read; a caller's state stays.
    data = state(
        block("aws_s3_bucket", "a", {"attributes": {"id": "a", "password": "x"}}),
        block(
            "aws_s3_bucket",
            "b",
            {"index_key": 0, "attributes": {"id": "b"}},
            {"index_key": 1, "attributes": {}},
        ),
    )
    before = copy.deepcopy(data)
    read = resources_from_state(data, "s", Catalogs())
    assert data == before
    loaded = load_state(orjson.dumps(data), "s", Catalogs())
    assert [(r.id, r.attributes) for r in loaded] == [(r.id, r.attributes) for r in read]
    assert [r.address for r in read] == ["aws_s3_bucket.a", "aws_s3_bucket.b[0]", "aws_s3_bucket.b[1]"]
    assert read[0].attributes["password"] == SENSITIVE


def test_nested_sensitive_paths_are_redacted_and_containers_copied() -> None:
    attrs = {
        "password": "hunter2",
        "settings": [{"admin": {"code": "c0d3", "user": "root"}}, {"admin": {"code": "other"}}],
        "env": {"SECRET": "s", "PUBLIC": "p"},
        "untouched": {"a": 1},
    }
    paths = [
        [{"type": "get_attr", "value": "password"}],
        [
            {"type": "get_attr", "value": "settings"},
            {"type": "index", "value": {"value": 0, "type": "number"}},
            {"type": "get_attr", "value": "admin"},
            {"type": "get_attr", "value": "code"},
        ],
        [
            {"type": "get_attr", "value": "env"},
            {"type": "index", "value": {"value": "SECRET", "type": "string"}},
        ],
        [{"type": "get_attr", "value": "missing"}, {"type": "get_attr", "value": "x"}],
        [
            {"type": "get_attr", "value": "settings"},
            {"type": "index", "value": {"value": 7, "type": "number"}},
        ],
    ]
    original = copy.deepcopy(attrs)
    data = state(block("aws_db_instance", "db", {"attributes": attrs, "sensitive_attributes": paths}))
    (r,) = resources_from_state(data, "x", Catalogs())
    assert r.attributes["password"] == SENSITIVE
    assert r.attributes["settings"][0]["admin"] == {"code": SENSITIVE, "user": "root"}
    assert r.attributes["settings"][1] == {"admin": {"code": "other"}}
    assert r.attributes["env"] == {"SECRET": SENSITIVE, "PUBLIC": "p"}
    assert "missing" not in r.attributes
    assert attrs == original
    assert r.attributes["untouched"] is attrs["untouched"]  # only the paths' containers are copied


def test_attributes_are_shared_not_copied() -> None:
    attrs = {"tags": {"service": "s"}, "region": "eu-west-1"}
    (r,) = resources_from_state(state(block("aws_vpc", "v", {"attributes": attrs})), "x", Catalogs())
    assert r.attributes is attrs
    assert r.labels is attrs["tags"]


# --- provider, region, country ------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ('provider["registry.terraform.io/hashicorp/aws"]', "aws"),
        ('provider["registry.terraform.io/hetznercloud/hcloud"]', "hcloud"),
        ('provider["registry.terraform.io/hashicorp/aws"].eu_west', "aws"),
        ('module.db.provider["registry.opentofu.org/scaleway/scaleway"]', "scaleway"),
        ('provider["registry.terraform.io/hashicorp/google-beta"]', "google"),
        ("provider.aws", "aws"),
        ("provider.aws.west", "aws"),
        ("module.a.provider.azurerm", "azurerm"),
        ("", None),
        (None, None),
    ],
)
def test_provider_keys(address: Any, key: str | None) -> None:
    assert provider_key(address) == key


def test_region_is_the_first_of_region_location_zone_and_country_comes_from_the_catalogue() -> None:
    cats = catalogs(**{"aws/eu-central-1": "DE", "azurerm/westeurope": "NL", "google/europe-west4": "NL"})
    data = state(
        block("aws_s3_bucket", "a", {"attributes": {"region": "eu-central-1", "location": "ignored"}}),
        block(
            "azurerm_storage_account",
            "b",
            {"attributes": {"region": None, "location": "westeurope"}},
            provider='provider["registry.terraform.io/hashicorp/azurerm"]',
        ),
        block(
            "google_compute_instance",
            "c",
            {"attributes": {"zone": "europe-west4-a"}},
            provider='provider["registry.terraform.io/hashicorp/google"]',
        ),
        block("aws_iam_role", "d", {"attributes": {"name": "global"}}),
        block("aws_s3_bucket", "e", {"attributes": {"region": "eu-central-3"}}),
    )
    found = by_address(resources_from_state(data, "x", cats))
    assert (found["aws_s3_bucket.a"].region, found["aws_s3_bucket.a"].country) == ("eu-central-1", "DE")
    assert (found["azurerm_storage_account.b"].region, found["azurerm_storage_account.b"].country) == (
        "westeurope",
        "NL",
    )
    # a zone falls back to its region
    assert found["google_compute_instance.c"].region == "europe-west4-a"
    assert found["google_compute_instance.c"].country == "NL"
    # no region: null country; an unknown region: an unknown country, with the reason
    assert found["aws_iam_role.d"].region is None and found["aws_iam_role.d"].country is None
    unknown = found["aws_s3_bucket.e"].country
    assert isinstance(unknown, Unknown)
    assert unknown.reason == "region `eu-central-3` of provider `aws` is not in the regions catalogue"


@pytest.mark.parametrize(
    ("zone", "country"),
    [("fr-par-1", "FR"), ("europe-west4-b", "NL"), ("eu-central-1a", "DE"), ("fr-par", "FR")],
)
def test_zone_fallback(zone: str, country: str) -> None:
    cats = catalogs(**{"scaleway/fr-par": "FR", "scaleway/europe-west4": "NL", "scaleway/eu-central-1": "DE"})
    data = state(
        block(
            "scaleway_instance_server",
            "s",
            {"attributes": {"zone": zone}},
            provider='provider["registry.terraform.io/scaleway/scaleway"]',
        )
    )
    (r,) = resources_from_state(data, "x", cats)
    assert r.country == country
    if zone != "fr-par":
        (strict,) = resources_from_state(data, "x", cats, zone_fallback=False)
        assert isinstance(strict.country, Unknown)


def test_the_same_region_name_at_another_provider_is_not_found() -> None:
    cats = catalogs(**{"aws/eu-central-1": "DE"})
    data = state(
        block(
            "hcloud_server",
            "h",
            {"attributes": {"location": "eu-central-1"}},
            provider='provider["registry.terraform.io/hetznercloud/hcloud"]',
        )
    )
    (r,) = resources_from_state(data, "x", cats)
    assert isinstance(r.country, Unknown)


# --- labels and ownership -----------------------------------------------------------------


def test_ownership_facts_come_from_tags_else_labels() -> None:
    tags = {
        "service": "zaak",
        "classification": "BBN2",
        "vital": "True",
        "exit_plan": "EP-1",
        "owner": "team-1",
    }
    data = state(
        block("aws_instance", "a", {"attributes": {"tags": tags, "labels": {"service": "other"}}}),
        block("google_storage_bucket", "b", {"attributes": {"labels": {"service": "web", "vital": "false"}}}),
        block("aws_instance", "c", {"attributes": {"tags": None}}),
    )
    found = by_address(resources_from_state(data, "x", Catalogs()))
    a = found["aws_instance.a"]
    assert (a.service, a.classification, a.vital, a.exit_plan, a.owner) == (
        "zaak",
        "BBN2",
        True,
        "EP-1",
        "team-1",
    )
    b = found["google_storage_bucket.b"]
    assert (b.service, b.vital, b.classification) == ("web", False, None)
    assert found["aws_instance.c"].labels == {} and found["aws_instance.c"].vital is None


def test_labels_become_strings_and_tag_lists_become_maps() -> None:
    data = state(
        block("aws_instance", "a", {"attributes": {"tags": {"vital": True, "n": 3, "none": None}}}),
        block(
            "scaleway_instance_server",
            "b",
            {"attributes": {"tags": ["service=zaak", "vital=true", "bare"]}},
            provider='provider["registry.terraform.io/scaleway/scaleway"]',
        ),
    )
    found = by_address(resources_from_state(data, "x", Catalogs()))
    assert found["aws_instance.a"].labels == {"vital": "true", "n": "3", "none": ""}
    assert found["aws_instance.a"].vital is True
    b = found["scaleway_instance_server.b"]
    assert b.labels == {"service": "zaak", "vital": "true", "bare": ""}
    assert (b.service, b.vital) == ("zaak", True)


def test_tag_names_are_configurable_and_the_first_non_empty_wins() -> None:
    data = state(block("aws_instance", "a", {"attributes": {"tags": {"Service": "zaak", "Vital": "yes"}}}))
    own = Ownership(service=("Service",), vital=("Vital",))
    (r,) = resources_from_state(data, "x", Catalogs(), ownership=own)
    assert (r.service, r.vital) == ("zaak", True)
    data = state(
        block(
            "aws_instance", "b", {"attributes": {"tags": {"service": "", "app.kubernetes.io/part-of": "p"}}}
        )
    )
    (r,) = resources_from_state(data, "x", Catalogs())
    assert r.service == "p"
    data = state(
        block("aws_instance", "c", {"attributes": {"tags": {"exit_plan": "", "classification": ""}}})
    )
    (r,) = resources_from_state(data, "x", Catalogs())
    assert (r.exit_plan, r.classification) == (None, None)
    assert r.labels == {"exit_plan": "", "classification": ""}


# --- kinds, instances, modes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("rtype", "kind"),
    [
        ("aws_s3_bucket", "storage"),
        ("aws_db_instance", "database"),
        ("aws_instance", "compute"),
        ("hcloud_server", "compute"),
        ("azurerm_cognitive_deployment", "ai.model"),
        ("ovh_cloud_project_kube", "kubernetes.cluster"),
        ("aws_vpc", "network"),
        ("aws_iam_role", "identity"),
        ("google_sql_user", "database"),
        ("scaleway_instance_ip", "network"),
        ("aws_cloudwatch_log_group", "other"),
        ("null_resource", "other"),
    ],
)
def test_kinds(rtype: str, kind: str) -> None:
    assert kind_of(rtype) == kind


def test_deposed_objects_and_data_sources_are_skipped_and_string_keys_quoted() -> None:
    data = state(
        block(
            "aws_instance",
            "web",
            {"attributes": {"id": "new"}},
            {"deposed": "00abc", "attributes": {"id": "old"}},
        ),
        {
            "mode": "data",
            "type": "aws_ami",
            "name": "a",
            "provider": "provider.aws",
            "instances": [{"attributes": {}}],
        },
        block("aws_instance", "k", {"index_key": 'say "hi"', "attributes": {}}),
    )
    resources = resources_from_state(data, "x", Catalogs())
    assert [r.address for r in resources] == ["aws_instance.web", 'aws_instance.k["say \\"hi\\""]']
    assert resources[0].attributes == {"id": "new"}


# --- bytes in ------------------------------------------------------------------------------


@needs_corpus
def test_load_state_reads_bytes_and_builds_an_inventory() -> None:
    raw = (CORPUS / "tfstate-lookup_aws-modules-count.tfstate").read_bytes()
    resources = load_state(raw, "prod.tfstate", Catalogs(), freeze=False)
    assert resources == [] or isinstance(resources[0], Resource)
    assert [r.id for r in resources] == [
        r.id for r in resources_from_state(orjson.loads(raw), "prod.tfstate", Catalogs())
    ]
    inventory = Inventory(resources)
    assert len(inventory) == len(resources)


def test_load_state_refuses_invalid_json_with_line_and_column() -> None:
    with pytest.raises(StateError, match=r"^x:2:1: not valid JSON"):
        load_state(b'{"version": 4,\n]', "x", Catalogs(), freeze=False)


@needs_corpus
def test_pull_reads_a_state_file(tmp_path: Path) -> None:
    target = str(CORPUS / "opentofu_v4-foreach.tfstate")
    (r,) = pull(target, PullContext(Catalogs(), env={}))
    assert r.id == f"terraform:{target}#module.modA.null_resource.resource"
    assert r.source == f"terraform:{target}"


def test_pull_names_a_missing_file() -> None:
    with pytest.raises(ConnectorError, match=r"^missing.tfstate: no such file"):
        pull("missing.tfstate", PullContext(Catalogs(), env={}))


def test_the_redaction_marker_is_the_connectors_one() -> None:
    assert SENSITIVE == REDACTED


def test_doctests() -> None:
    result = doctest.testmod(state_module)
    assert result.failed == 0 and result.attempted > 0


def test_attributes_with_obviously_secret_names_are_redacted_even_when_not_marked() -> None:
    attrs = {
        "master_password": "hunter2",
        "password_reset_required": True,
        "secret_arn": "arn:aws:secretsmanager:eu-central-1:1:secret:x",
        "settings": [{"connection_string": "Server=x;Password=y"}],
        "region": "eu-central-1",
    }
    (r,) = resources_from_state(state(block("aws_db_instance", "db", {"attributes": attrs})), "x", Catalogs())
    assert r.attributes["master_password"] == "(sensitive)"
    assert r.attributes["settings"] == [{"connection_string": "(sensitive)"}]
    assert r.attributes["password_reset_required"] is True  # not a secret's value
    assert r.attributes["secret_arn"].startswith("arn:")  # names a secret, does not hold one
    assert attrs["master_password"] == "hunter2"  # the input is not changed
