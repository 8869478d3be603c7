"""The Terraform plan reader (``terraform show -json``), against the plan corpus and small cases."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from regie.connectors.base import REDACTED, ConnectorError, PullContext
from regie.connectors.terraform import PlanError, StateError, pull, resources_from_plan
from regie.connectors.terraform.plan import AFTER_APPLY
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

ROOT = Path(__file__).resolve().parent.parent
CORPUS_ROOT = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus"))
PLANS = CORPUS_ROOT / "tfplan"
STATES = CORPUS_ROOT / "tfstate"

needs_corpus = pytest.mark.skipif(not PLANS.is_dir(), reason=f"plan corpus not found at {PLANS}")

#: Every plan of the corpus: the number of resources it gives, or the error it is refused with.
EXPECTED: dict[str, int | str] = {
    "EDGE_opentofu_plan-error.plan.json": "the plan errored",
    "EDGE_tfjson_invalid.plan.json": "not valid JSON",
    "infracost_terraform-v0.14-aws.plan.json": 26,
    "opentofu_drift.plan.json": 2,
    "opentofu_modules.plan.json": 4,
    "opentofu_provider-aliasing.plan.json": 10,
    "opentofu_sensitive-values.plan.json": 1,
    "tfcompliance_for-each-and-modules.plan.json": 6,
    "tfcompliance_issue-158.plan.json": 29,
    "tfjson_110-sensitive-values.plan.json": 7,
    "tfjson_action-reason-deposed.plan.json": 1,
    "tfjson_basic-tf015.plan.json": 1,
    "tfjson_basic.plan.json": 7,  # 8 changes, one of them a data source
    "tfjson_has-checks.plan.json": 2,
    "tfjson_moved-block.plan.json": 1,
}


def ctx(**regions: str) -> PullContext:
    cats = Catalogs()
    entries = {k: {"provider": k.split("/")[0], "country": c, "source": "test"} for k, c in regions.items()}
    cats.merge("regions", entries, "test")
    return PullContext(catalogs=cats, env={})


def load(name: str) -> list[Resource]:
    return pull(str(PLANS / name), ctx())


def by_address(resources: list[Resource]) -> dict[str | None, Resource]:
    return {r.address: r for r in resources}


def plan_data(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PLANS / name).read_text(encoding="utf-8"))
    return data


@needs_corpus
def test_the_expectations_cover_the_corpus() -> None:
    assert sorted(p.name for p in PLANS.iterdir()) == sorted(EXPECTED)


@needs_corpus
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_corpus_plan_loads_or_is_refused_clearly(name: str) -> None:
    expected = EXPECTED[name]
    if isinstance(expected, str):
        with pytest.raises(ConnectorError) as info:
            load(name)
        assert expected in info.value.message
        assert name in info.value.where
    else:
        resources = load(name)
        assert len(resources) == expected
        assert len({r.id for r in resources}) == len(resources)
        for r in resources:
            assert r.id == f"terraform:{PLANS / name}#{r.address}"
            assert r.action in ("create", "update", "replace", "no-op", "read")
        json.dumps([r.to_dict() for r in resources], default=repr)


@needs_corpus
def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(PlanError) as info:
        load("EDGE_tfjson_invalid.plan.json")
    assert info.value.where.endswith("EDGE_tfjson_invalid.plan.json:676:29")


@needs_corpus
def test_unknown_after_apply_values_are_unknown_not_null() -> None:
    resources = by_address(load("tfjson_basic.plan.json"))
    assert "data.null_data_source.baz" not in resources
    bar = resources["null_resource.bar"]
    assert bar.attributes["id"] == Unknown(AFTER_APPLY)
    assert bar.attributes["triggers"] == Unknown(AFTER_APPLY)
    foo = resources["null_resource.foo"]
    assert foo.attributes == {"triggers": {"foo": "bar"}, "id": Unknown(AFTER_APPLY)}
    assert foo.action == "create"
    assert bar.to_dict()["attributes"]["id"] == {"unknown": AFTER_APPLY}  # as facts files write it


@needs_corpus
@pytest.mark.parametrize(
    ("name", "secrets"),
    [
        ("opentofu_sensitive-values.plan.json", ["boop"]),
        ("tfjson_basic-tf015.plan.json", ["boop"]),
    ],
)
def test_sensitive_values_never_appear(name: str, secrets: list[str]) -> None:
    resources = load(name)
    text = json.dumps([r.to_dict() for r in resources], default=repr)
    for secret in secrets:
        assert secret in (PLANS / name).read_text(encoding="utf-8")
        assert secret not in text
    assert resources[0].attributes["ami"] == REDACTED


@needs_corpus
def test_sensitive_outputs_of_a_plan_are_not_read() -> None:
    # tfjson_110-sensitive-values: the secret is the sensitive output `foo`; no resource carries it.
    name = "tfjson_110-sensitive-values.plan.json"
    data = plan_data(name)
    secret = data["output_changes"]["foo"]["after"]
    assert data["output_changes"]["foo"]["after_sensitive"] is True
    text = json.dumps([r.to_dict() for r in load(name)], default=repr)
    assert "output" not in text
    # "bar" is also a (non-sensitive) trigger value; the output itself is never read
    assert secret == "bar"
    assert all(set(r.attributes) <= {"id", "triggers"} for r in load(name))


@needs_corpus
@pytest.mark.parametrize("name", [n for n, e in sorted(EXPECTED.items()) if isinstance(e, int)])
def test_every_after_sensitive_path_is_redacted(name: str) -> None:
    resources = by_address(load(name))

    def check(value: Any, mask: Any) -> None:
        if mask is True:
            assert value == REDACTED
        elif isinstance(mask, dict) and isinstance(value, dict):
            for key, sub in mask.items():
                if key in value:
                    check(value[key], sub)

    for change in plan_data(name)["resource_changes"]:
        r = resources.get(change["address"])
        if r is not None:
            check(r.attributes, change["change"].get("after_sensitive"))


@needs_corpus
def test_has_checks_redacts_sensitive_content() -> None:
    r = load("tfjson_has-checks.plan.json")[0]
    assert r.address == 'module.files.local_file.foo["file1.txt"]'
    assert r.attributes["sensitive_content"] == REDACTED
    assert r.attributes["content"] == "Hello, World!"


@needs_corpus
def test_provider_aliasing_follows_provider_config_keys() -> None:
    regions = {r.address: r.region for r in load("opentofu_provider-aliasing.plan.json")}
    assert regions == {
        "test_instance.test": "somewhere",
        "test_instance.test_backup": "elsewhere",
        "module.child.test_instance.test_primary": "somewhere",
        "module.child.test_instance.test_secondary": "elsewhere",
        "module.sibling.test_instance.test_primary": "somewhere",
        "module.sibling.test_instance.test_secondary": "somewhere",
        "module.child.module.grandchild.test_instance.test_alternate": "elsewhere",
        "module.child.module.grandchild.test_instance.test_main": "somewhere",
        "module.sibling.module.grandchild.test_instance.test_alternate": "somewhere",
        "module.sibling.module.grandchild.test_instance.test_main": "somewhere",
    }
    assert {r.provider for r in load("opentofu_provider-aliasing.plan.json")} == {"test"}


@needs_corpus
def test_modules_count_and_for_each_addresses() -> None:
    addresses = [r.address for r in load("tfcompliance_for-each-and-modules.plan.json")]
    assert 'aws_iam_role.test_iam_role["repository_1"]' in addresses
    assert 'module.ecr_repository["repository_2"].aws_instance.ecr_repository' in addresses
    infracost = by_address(
        pull(str(PLANS / "infracost_terraform-v0.14-aws.plan.json"), ctx(**{"aws/us-east-1": "US"}))
    )
    deep = infracost["module.db.module.db_1.module.db_instance.aws_db_instance.this[0]"]
    assert (deep.action, deep.kind, deep.provider) == ("update", "database", "aws")
    # a module's provider without its own region inherits the root provider's region
    assert (deep.region, deep.country) == ("us-east-1", "US")
    assert infracost['aws_instance.instance_named["test.1"]'].action == "no-op"
    assert infracost["aws_instance.instance_counted[1]"].action == "create"


@needs_corpus
def test_pre_013_provider_names_and_provider_region() -> None:
    resources = by_address(
        pull(str(PLANS / "tfcompliance_issue-158.plan.json"), ctx(**{"aws/eu-west-1": "IE"}))
    )
    eip = resources["module.vpc.aws_eip.nat[0]"]
    assert (eip.provider, eip.region, eip.country) == ("aws", "eu-west-1", "IE")
    assert by_address(load("tfjson_basic.plan.json"))["module.foo.null_resource.aliased"].provider == "null"


@needs_corpus
def test_tainted_replacement_is_replace() -> None:
    (r,) = load("tfjson_action-reason-deposed.plan.json")
    assert r.action == "replace"
    assert r.attributes["triggers"] == {"name": "demo"}


def change(address: str, actions: list[str], after: Any, **extra: Any) -> dict[str, Any]:
    rtype, name = address.rsplit(".", 2)[-2:]
    body = {"actions": actions, "after": after}
    body.update({k: v for k, v in extra.items() if k.startswith(("after_", "before_"))})
    out = {"address": address, "mode": "managed", "type": rtype, "name": name, "change": body}
    out.update({k: v for k, v in extra.items() if not k.startswith(("after_", "before_"))})
    out.setdefault("provider_name", "registry.terraform.io/hashicorp/aws")
    return out


def plan(*changes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"format_version": "1.2", "resource_changes": list(changes), **extra}


def test_actions_deletions_data_and_deposed() -> None:
    data = plan(
        change("aws_s3_bucket.new", ["create"], {"bucket": "a"}),
        change("aws_s3_bucket.changed", ["update"], {"bucket": "b"}),
        change("aws_s3_bucket.gone", ["delete"], None),
        change("aws_s3_bucket.swap", ["create", "delete"], {"bucket": "c"}),
        change("aws_s3_bucket.same", ["no-op"], {"bucket": "d"}),
        change("aws_s3_bucket.forgotten", ["forget"], None),
        change("aws_s3_bucket.old", ["delete"], None, deposed="00000001"),
        change("aws_s3_bucket.new2", ["create"], {"bucket": "e"}, deposed="00000002"),
        {**change("data.aws_region.here", ["read"], {"name": "x"}), "mode": "data"},
    )
    actions = {r.address: r.action for r in resources_from_plan(data, "p.json", Catalogs())}
    assert actions == {
        "aws_s3_bucket.new": "create",
        "aws_s3_bucket.changed": "update",
        "aws_s3_bucket.swap": "replace",
        "aws_s3_bucket.same": "no-op",
    }


def test_nested_unknown_and_sensitive_paths_are_exact() -> None:
    data = plan(
        change(
            "aws_db_instance.main",
            ["create"],
            {
                "tags": {"service": "pay", "vital": "true"},
                "password": "hunter2",
                "blocks": [{"a": 1, "k": "s3cr3t"}],
            },
            after_unknown={"arn": True, "tags": {"owner": True}, "blocks": [{"b": True}]},
            after_sensitive={"password": True, "blocks": [{"k": True}]},
            before_sensitive={"tags": {"vital": False}},
        ),
    )
    (r,) = resources_from_plan(data, "p.json", Catalogs())
    assert r.attributes["arn"] == Unknown(AFTER_APPLY)
    assert r.attributes["tags"] == {"service": "pay", "vital": "true", "owner": Unknown(AFTER_APPLY)}
    assert r.attributes["blocks"] == [{"a": 1, "k": REDACTED, "b": Unknown(AFTER_APPLY)}]
    assert r.attributes["password"] == REDACTED
    assert (r.service, r.vital, r.owner) == ("pay", True, None)
    assert r.labels == {"service": "pay", "vital": "true"}
    text = json.dumps(r.to_dict(), default=repr)
    assert "hunter2" not in text and "s3cr3t" not in text


def test_region_known_after_apply_is_unknown() -> None:
    data = plan(change("google_storage_bucket.b", ["create"], {}, after_unknown={"location": True}))
    (r,) = resources_from_plan(data, "p.json", Catalogs())
    assert isinstance(r.region, Unknown) and isinstance(r.country, Unknown)


def test_not_a_plan() -> None:
    with pytest.raises(PlanError, match="format version"):
        resources_from_plan({"format_version": "2.0", "resource_changes": []}, "p", Catalogs())
    with pytest.raises(PlanError, match="not a plan"):
        resources_from_plan({"format_version": "1.0", "values": {}}, "p", Catalogs())
    with pytest.raises(PlanError, match="JSON object"):
        resources_from_plan([], "p", Catalogs())


def test_keys_sorted_plan_is_still_recognised(tmp_path: Path) -> None:
    data = plan(change("aws_s3_bucket.new", ["create"], {"bucket": "a"}))
    path = tmp_path / "sorted.json"
    path.write_text(json.dumps({"padding": "x" * 5000, **data}, sort_keys=True))
    assert [r.address for r in pull(str(path), ctx())] == ["aws_s3_bucket.new"]


@pytest.mark.skipif(not STATES.is_dir(), reason="state corpus not found")
def test_state_version_3_is_refused_with_how_to_upgrade() -> None:
    with pytest.raises(StateError) as info:
        pull(str(STATES / "opentofu_v3-simple.tfstate"), ctx())
    assert "version 3" in info.value.message
    assert "terraform apply -refresh-only" in info.value.message


@needs_corpus
def test_a_plan_on_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = (PLANS / "tfjson_basic.plan.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(raw)))
    resources = pull("-", ctx())
    assert len(resources) == 7
    assert resources[0].id.startswith("terraform:stdin#")
