"""The Terraform configuration (HCL, ``*.tf``) reader, against the HCL corpus and small cases."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.terraform import HclError, load_hcl, pull
from regie.connectors.terraform.hcl import BEFORE_PLAN
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

ROOT = Path(__file__).resolve().parent.parent
HCL = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "hcl"

needs_corpus = pytest.mark.skipif(not HCL.is_dir(), reason=f"HCL corpus not found at {HCL}")

#: Every file of the corpus: the number of resources (and module calls) it gives, or its error.
EXPECTED: dict[str, int | str] = {
    "EDGE_opentofu_json-as-native-syntax.tf": "this is JSON",
    "EDGE_opentofu_resource-count-and-for_each.tf": 1,
    "conftest_hcl2_terraform.tf": 5,
    "infracost_aws_autoscaling_group.tf": 48,
    "infracost_aws_cloudfront_distribution.tf": 10,
    "infracost_aws_db_instance.tf": 39,
    "infracost_aws_eks_node_group.tf": 18,
    "infracost_azure_storage_account.tf": 9,
    "infracost_azure_virtual_machine.tf": 10,
    "infracost_vendored-registry-module_main.tf": 2,
    "infracost_vendored-registry-module_variables.tf": 0,
    "opentofu_provider-aliasing_main.tf": 4,
    "opentofu_show-json-modules_main.tf": 2,
    "tfjson_110-basic.terraform.lock.hcl": "dependency lock file",
}


def ctx(**regions: str) -> PullContext:
    cats = Catalogs()
    entries = {k: {"provider": k.split("/")[0], "country": c, "source": "test"} for k, c in regions.items()}
    cats.merge("regions", entries, "test")
    return PullContext(catalogs=cats, env={})


def by_address(resources: list[Resource]) -> dict[str | None, Resource]:
    return {r.address: r for r in resources}


def load(name: str, **regions: str) -> list[Resource]:
    return pull(str(HCL / name), ctx(**regions))


@needs_corpus
def test_the_expectations_cover_the_corpus() -> None:
    assert sorted(p.name for p in HCL.iterdir()) == sorted(EXPECTED)


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_file_loads_or_is_refused_clearly(name: str) -> None:
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(ConnectorError) as info:
            load(name)
        assert expected in info.value.message
        assert name in info.value.where
    else:
        resources = load(name)
        assert len(resources) == expected
        for r in resources:
            assert r.id == f"terraform:{HCL / name}#{r.address}"
            assert r.action is None
        json.dumps([r.to_dict() for r in resources], default=repr)


@needs_corpus
def test_parse_error_names_file_line_and_column() -> None:
    with pytest.raises(HclError) as info:
        load("EDGE_opentofu_json-as-native-syntax.tf")
    assert info.value.where.endswith("EDGE_opentofu_json-as-native-syntax.tf:1:1")


@needs_corpus
def test_a_folder_with_a_broken_file_is_refused_naming_it() -> None:
    with pytest.raises(HclError) as info:
        pull(str(HCL), ctx())
    assert "EDGE_opentofu_json-as-native-syntax.tf" in info.value.where


@needs_corpus
def test_literals_references_and_tags() -> None:
    resources = by_address(load("conftest_hcl2_terraform.tf"))
    rule = resources["aws_security_group_rule.my-rule"]
    assert rule.attributes == {"type": "ingress", "cidr_blocks": ["0.0.0.0/0"]}
    bucket = resources["aws_s3_bucket.valid"]
    assert (bucket.provider, bucket.kind, bucket.owner) == ("aws", "storage", "devops")
    assert bucket.labels == {"environment": "prod", "owner": "devops"}
    disk = resources["azurerm_managed_disk.source"]
    assert disk.attributes == {"encryption_settings": [{"enabled": False}]}
    acl = by_address(load("infracost_aws_cloudfront_distribution.tf"))["aws_s3_bucket_acl.b_acl"]
    assert acl.attributes["bucket"] == Unknown(BEFORE_PLAN)
    assert acl.attributes["acl"] == "private"


@needs_corpus
def test_count_and_for_each_are_kept_in_attributes() -> None:
    (r,) = load("EDGE_opentofu_resource-count-and-for_each.tf")
    assert r.address == "test.foo"
    assert r.attributes == {"count": 2, "for_each": ["a"]}
    (inst, _) = load("infracost_vendored-registry-module_main.tf")
    assert inst.attributes["count"] == Unknown(BEFORE_PLAN)
    storage = by_address(load("infracost_azure_storage_account.tf"))["azurerm_storage_account.blockblob"]
    assert storage.attributes["for_each"] == Unknown(BEFORE_PLAN)
    assert isinstance(storage.region, Unknown)


@needs_corpus
def test_provider_block_region_and_country() -> None:
    db = by_address(load("infracost_aws_db_instance.tf", **{"aws/us-east-1": "US"}))
    r = db["aws_db_instance.mysql-default"]
    assert (r.provider, r.region, r.country, r.kind) == ("aws", "us-east-1", "US", "database")
    group = by_address(load("infracost_azure_virtual_machine.tf"))["azurerm_resource_group.main"]
    assert (group.provider, group.region) == ("azurerm", "eastus")


@needs_corpus
def test_provider_aliases_and_module_calls() -> None:
    resources = by_address(load("opentofu_provider-aliasing_main.tf"))
    assert resources["test_instance.test"].region == "somewhere"
    backup = resources["test_instance.test_backup"]
    assert (backup.provider, backup.region, backup.attributes["provider"]) == (
        "test",
        "elsewhere",
        "test.backup",
    )
    child = resources["module.child"]
    assert (child.kind, child.type, child.provider) == ("module", "module", None)
    assert child.attributes["source"] == "./child"
    modules = by_address(load("opentofu_show-json-modules_main.tf"))
    assert modules["module.module_test_foo"].attributes == {"source": "./foo", "test_var": "baz"}


def test_required_providers_heredoc_escapes_and_folder(tmp_path: Path) -> None:
    (tmp_path / "providers.tf").write_text(
        """
terraform {
  required_providers {
    hcloud = { source = "hetznercloud/hcloud" }
  }
}
provider "hcloud" {}
"""
    )
    (tmp_path / "main.tf").write_text(
        """
resource "hcloud_server" "web" {
  location = "fsn1"
  name     = "web-${var.env}"
  image    = "debian-12"
  note     = "costs $${5}"
  labels   = { service = "shop", vital = "yes", team = var.team }
  user_data = <<EOF
#!/bin/sh
echo hi
EOF
  depends_on = [hcloud_network.main]
}
data "hcloud_image" "x" {}
variable "env" {}
"""
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "other.tf").write_text('resource "aws_s3_bucket" "ignored" {}\n')
    (r,) = load_hcl(str(tmp_path), ctx(**{"hcloud/fsn1": "DE"}).catalogs)
    assert (r.id, r.provider, r.region, r.country) == (
        f"terraform:{tmp_path}#hcloud_server.web",
        "hcloud",
        "fsn1",
        "DE",
    )
    assert r.attributes["name"] == Unknown(BEFORE_PLAN)
    assert r.attributes["note"] == "costs ${5}"
    assert r.attributes["user_data"].startswith("#!/bin/sh")
    assert r.attributes["depends_on"] == ["hcloud_network.main"]
    assert r.labels == {"service": "shop", "vital": "yes"}
    assert (r.service, r.vital) == ("shop", True)


def test_empty_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HclError, match="no Terraform configuration"):
        pull(str(tmp_path), ctx())
    with pytest.raises(HclError, match="no such file"):
        pull(str(tmp_path / "nope.tf"), ctx())


def test_hcl_without_tf_suffix_is_recognised_from_content(tmp_path: Path) -> None:
    path = tmp_path / "main"
    path.write_text('resource "google_storage_bucket" "b" {\n  location = "EU"\n}\n')
    (r,) = pull(str(path), ctx())
    assert (r.provider, r.region) == ("google", "EU")


def test_broken_hcl_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tf"
    path.write_text('resource "a_b" "c" {\n  x = 1\n  y = = 2\n}\n')
    with pytest.raises(HclError) as info:
        pull(str(path), ctx())
    assert info.value.where.startswith(f"{path}:3:")
