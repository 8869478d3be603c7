"""Facts: records to resources, validated once where they enter, and the inventory index."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from regie.dsl.check import Selector
from regie.dsl.values import Unknown
from regie.engine.facts import (
    FACT_FIELDS,
    FactError,
    Inventory,
    Resource,
    resource_from_record,
    resources_from_records,
)

# --- one record ----------------------------------------------------------------------------


def test_a_full_record_becomes_a_resource() -> None:
    record = {
        "id": "terraform:prod.tfstate#aws_s3_bucket.records",
        "source": "terraform:prod.tfstate",
        "kind": "storage",
        "type": "aws_s3_bucket",
        "address": "aws_s3_bucket.records",
        "name": "records",
        "provider": "aws",
        "region": "eu-central-1",
        "country": "DE",
        "service": "citizen-portal",
        "classification": "BBN2",
        "vital": True,
        "exit_plan": "EP-1",
        "owner": "platform",
        "action": "create",
        "labels": {"team": "platform"},
        "attributes": {"versioning": [{"enabled": True}]},
    }
    r = resource_from_record(record, "facts.yaml[0]")
    assert r.to_dict() == record
    assert (r.id, r.kind, r.vital, r.labels) == (record["id"], "storage", True, {"team": "platform"})


def test_missing_fields_are_null_and_collections_empty() -> None:
    r = resource_from_record({"id": "a"}, "facts.yaml[0]")
    assert (r.kind, r.region, r.vital, r.action) == (None, None, None, None)
    assert (r.labels, r.attributes) == ({}, {})
    assert set(r.to_dict()) == {name for name, _, _ in FACT_FIELDS}


@pytest.mark.parametrize(
    ("given", "vital"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("Yes", True),
        ("1", True),
        ("no", False),
        ("FALSE", False),
    ],
)
def test_vital_is_read_from_tag_text(given: Any, vital: bool) -> None:
    assert resource_from_record({"id": "a", "vital": given}, "f[0]").vital is vital


def test_labels_become_strings() -> None:
    r = resource_from_record({"id": "a", "labels": {"n": 1, "b": True, "z": None}}, "f[0]")
    assert r.labels == {"n": "1", "b": "true", "z": ""}


def test_unknown_values() -> None:
    r = resource_from_record(
        {
            "id": "a",
            "region": {"unknown": "known after apply"},
            "vital": {"unknown": "tag not set yet"},
            "attributes": {"arn": {"unknown": "known after apply"}, "tags": ["x", {"unknown": "later"}]},
        },
        "plan.json[0]",
    )
    assert r.region == Unknown("known after apply")
    assert r.vital == Unknown("tag not set yet")
    assert r.attributes == {"arn": Unknown("known after apply"), "tags": ["x", Unknown("later")]}
    assert r.to_dict()["region"] == {"unknown": "known after apply"}


def test_a_map_with_more_than_unknown_is_not_an_unknown() -> None:
    with pytest.raises(FactError) as err:
        resource_from_record({"id": "a", "region": {"unknown": "x", "why": "y"}}, "f[0]")
    assert (err.value.where, err.value.message) == ("f[0].region", "expected a string, got a map")


RECORD_ERRORS: list[tuple[str, Any, str, str]] = [
    # (id, record, where, message)
    ("not a map", "bucket", "f[0]", "a resource must be a map, got a string"),
    ("a list", ["a"], "f[0]", "a resource must be a map, got a list"),
    ("no id", {"kind": "storage"}, "f[0]", "a resource needs a non-empty string `id`"),
    ("empty id", {"id": ""}, "f[0]", "a resource needs a non-empty string `id`"),
    ("numeric id", {"id": 7}, "f[0]", "a resource needs a non-empty string `id`"),
    ("null id", {"id": None}, "f[0]", "a resource needs a non-empty string `id`"),
    (
        "misspelt field",
        {"id": "a", "regoin": "eu-west-1"},
        "f[0].regoin",
        "unknown resource field `regoin` (did you mean `region`?); native data goes in `attributes`",
    ),
    (
        "native field",
        {"id": "a", "bucket_acl": "private"},
        "f[0].bucket_acl",
        "unknown resource field `bucket_acl`; native data goes in `attributes`",
    ),
    ("number for a string field", {"id": "a", "kind": 3}, "f[0].kind", "expected a string, got a number"),
    ("list for a string field", {"id": "a", "region": ["a"]}, "f[0].region", "expected a string, got a list"),
    (
        "bool for a string field",
        {"id": "a", "country": True},
        "f[0].country",
        "expected a string, got a boolean",
    ),
    (
        "vital that is not a boolean",
        {"id": "a", "vital": "maybe"},
        "f[0].vital",
        "expected true or false, got 'maybe'",
    ),
    (
        "labels that are a list",
        {"id": "a", "labels": ["x"]},
        "f[0].labels",
        "expected a map of strings, got a list",
    ),
    (
        "attributes that are a list",
        {"id": "a", "attributes": [1]},
        "f[0].attributes",
        "expected a map, got a list",
    ),
]


@pytest.mark.parametrize(
    ("record", "where", "message"), [c[1:] for c in RECORD_ERRORS], ids=[c[0] for c in RECORD_ERRORS]
)
def test_record_error_names_the_record_and_field(record: Any, where: str, message: str) -> None:
    with pytest.raises(FactError) as err:
        resource_from_record(record, "f[0]")
    assert (err.value.where, err.value.message) == (where, message)
    assert str(err.value) == f"{where}: {message}"


# --- many records --------------------------------------------------------------------------


def test_a_list_and_a_map_with_resources_are_both_read() -> None:
    records = [{"id": "a"}, {"id": "b", "kind": "compute"}]
    assert [r.id for r in resources_from_records(records, "facts.yaml")] == ["a", "b"]
    assert [r.id for r in resources_from_records({"resources": records}, "facts.yaml")] == ["a", "b"]
    assert resources_from_records([], "facts.yaml") == []


RECORDS_ERRORS: list[tuple[str, Any, str, str]] = [
    (
        "duplicate ids",
        [{"id": "a"}, {"id": "b"}, {"id": "a"}],
        "facts.yaml[2].id",
        "duplicate resource id `a`",
    ),
    (
        "bad second record",
        [{"id": "a"}, {"kind": "x"}],
        "facts.yaml[1]",
        "a resource needs a non-empty string `id`",
    ),
    (
        "bad record under resources",
        {"resources": [{"id": "a", "knd": "x"}]},
        "facts.yaml: resources[0].knd",
        "unknown resource field `knd` (did you mean `kind`?); native data goes in `attributes`",
    ),
    ("a string", "resources", "facts.yaml", "expected a list of resources, got a string"),
    (
        "a map without resources",
        {"resource": []},
        "facts.yaml",
        "expected a list of resources, or a map with a `resources` list; "
        "did you mean `resources` for `resource`?",
    ),
    (
        "resources that are a map",
        {"resources": {"id": "a"}},
        "facts.yaml: resources",
        "expected a list of resources, got a map",
    ),
    ("null", None, "facts.yaml", "expected a list of resources, got null"),
]


@pytest.mark.parametrize(
    ("data", "where", "message"), [c[1:] for c in RECORDS_ERRORS], ids=[c[0] for c in RECORDS_ERRORS]
)
def test_records_error_names_the_position(data: Any, where: str, message: str) -> None:
    with pytest.raises(FactError) as err:
        resources_from_records(data, "facts.yaml")
    assert (err.value.where, err.value.message) == (where, message)


def test_the_quickstart_facts_load(quickstart: Path) -> None:
    data = yaml.safe_load((quickstart / "facts.yaml").read_text(encoding="utf-8"))
    resources = resources_from_records(data, "facts.yaml")
    assert len(resources) == 7
    new = next(r for r in resources if r.id == "terraform:plan.json#aws_s3_bucket.new")
    assert isinstance(new.region, Unknown) and new.action == "create"


# --- inventory -----------------------------------------------------------------------------


def _inventory() -> Inventory:
    return Inventory(
        [
            Resource("s1", kind="storage", type="aws_s3_bucket"),
            Resource("c1", kind="compute", type="aws_instance"),
            Resource("s2", kind="storage", type="scaleway_object_bucket"),
            Resource("d1", kind="database", type="aws_db_instance"),
            Resource("s3", kind="storage", type="aws_s3_bucket"),
        ]
    )


@pytest.mark.parametrize(
    ("selector", "ids"),
    [
        (Selector(), ["s1", "c1", "s2", "d1", "s3"]),
        (Selector(kinds=frozenset({"storage"})), ["s1", "s2", "s3"]),
        (Selector(kinds=frozenset({"database", "compute"})), ["c1", "d1"]),  # inventory order, not set order
        (Selector(types=frozenset({"aws_s3_bucket"})), ["s1", "s3"]),
        (Selector(types=frozenset({"aws_s3_bucket", "aws_instance"})), ["s1", "c1", "s3"]),
        (Selector(kinds=frozenset({"compute"}), types=frozenset({"aws_s3_bucket", "aws_instance"})), ["c1"]),
        (Selector(kinds=frozenset({"network"})), []),
    ],
)
def test_inventory_select(selector: Selector, ids: list[str]) -> None:
    assert [r.id for r in _inventory().select(selector)] == ids


def test_inventory_keeps_every_resource_in_order() -> None:
    inventory = _inventory()
    assert len(inventory) == 5
    assert [r.seq for r in inventory] == [0, 1, 2, 3, 4]
