"""The service inventory: schema, errors with file and line, service resources, and the join onto tags."""
# ruff: noqa: E501

from __future__ import annotations

import json
from pathlib import Path

import pytest

from regie.connectors.base import ConnectorError
from regie.connectors.inventory import (
    Conflict,
    ServiceInventory,
    inventory_resources,
    join,
    load_inventory,
)
from regie.dsl.values import Unknown
from regie.engine.facts import Resource

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "inventory"


@pytest.fixture(scope="module")
def inv() -> ServiceInventory:
    return load_inventory(FIXTURES / "services.yaml")


def test_the_annotated_example_loads(inv: ServiceInventory) -> None:
    svc = inv.by_name()["toeslagen-portaal"]
    assert svc.vital is True and svc.dpia is not None and svc.dpia.risk_level == "high"
    assert [c.name for c in svc.certifications] == ["ISO 27001", "BSI C5"]
    assert svc.suppliers.saas == ["microsoft-teams", "zivver"]


def test_service_resources(inv: ServiceInventory) -> None:
    rs = inventory_resources(inv)
    assert [r.id for r in rs] == ["inventory:services.yaml#toeslagen-portaal", "inventory:services.yaml#intranet"]
    r = rs[0]
    assert (r.kind, r.service, r.vital, r.classification, r.owner, r.exit_plan) == (
        "service", "toeslagen-portaal", True, "BBN2", "team-toeslagen", "EXIT-TP-2025",
    )  # fmt: skip
    a = r.attributes
    assert a["risk_assessment"]["decision_date"] == "2025-04-15"  # ISO strings, for days_since
    assert a["fallback"]["provider"] == "previder" and a["backup"]["last_restore_test"] == "2025-11-03"
    assert a["ai_contract"] == {
        "reference": "CTR-GPTNL-2026-01",
        "data_sharing": False,
        "retention_days": 0,
        "no_training_on_prompts": True,
    }
    assert a["ai_use"]["iama"] == {"reference": "IAMA-2026-004", "date": "2026-01-20"}
    assert a["ai_use"]["generated_media"] == [] and a["deployment_model"] == "hybrid"
    assert a["supplier_audit"]["date"] == "2025-12-15"
    assert rs[1].attributes["dpia"] is None  # absent evidence is null, so a policy can require it
    json.dumps([x.to_dict() for x in rs])


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("services:\n  - name: a\n    vitall: true\n", r"s.yaml:3: services.0.vitall: unknown field `vitall`"),
        (
            "services:\n  - name: a\n    exit_plan:\n      reference: X\n      last_tested: 2025-13-01\n",
            r"s.yaml:5: services.0.exit_plan.last_tested: Input should be a valid date",
        ),
        (
            "services:\n  - name: a\n  - name: b\n    risk_assessment:\n      date: 2025-01-01\n",
            r"s.yaml:4: services.1.risk_assessment.reference: `reference` is required",
        ),
        (
            "services:\n  - name: a\n    dpia: {risk_level: hoog}\n",
            r"s.yaml:3: services.0.dpia.risk_level: Input should be 'low', 'medium' or 'high'",
        ),
        ("services:\n  - name: a\n  - name: a\n", r"s.yaml:1: .*service `a` is listed twice"),
        ("services:\n  - name: a\n    vital: [\n", r"s.yaml:\d+: not valid YAML"),
        ("- name: a\n", r"s.yaml:1: a service inventory is a map with a `services` list"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, pattern: str) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ConnectorError, match=pattern):
        load_inventory(path)


def test_join_fills_what_tags_leave_out_and_reports_conflicts(inv: ServiceInventory) -> None:
    untagged = Resource("a", kind="storage", service="toeslagen-portaal")
    disagrees = Resource("b", kind="storage", service="toeslagen-portaal", classification="BBN1", owner="Team-Toeslagen")
    unknown = Resource("c", kind="compute", service="toeslagen-portaal", vital=Unknown("known after apply"))
    other = Resource("d", kind="storage", service="not-in-inventory")
    rs, conflicts = join([untagged, disagrees, unknown, other], inv)
    a, b, c, d = rs
    assert (a.vital, a.classification, a.exit_plan, a.owner) == (True, "BBN2", "EXIT-TP-2025", "team-toeslagen")
    assert untagged.vital is None  # the input is not changed
    assert b.classification == "BBN1" and b.vital is True  # tags win by default; owner differs only in case
    assert conflicts == [Conflict("b", "toeslagen-portaal", "classification", "BBN1", "BBN2", "tags")]
    assert "kept the tags value" in str(conflicts[0])
    assert c.vital is True and d is other
    rs, conflicts = join([disagrees], inv, prefer="inventory")
    assert rs[0].classification == "BBN2" and conflicts[0].kept == "inventory"
    with pytest.raises(ValueError, match="prefer"):
        join([], inv, prefer="labels")  # type: ignore[arg-type]


def test_join_takes_two_labels_of_one_classification_level_as_agreeing(inv: ServiceInventory) -> None:
    from regie.loading import load_catalogs

    levels = load_catalogs().classification_labels()
    spelled = Resource("e", kind="storage", service="toeslagen-portaal", classification="BBN 2")
    lower = Resource("f", kind="storage", service="toeslagen-portaal", classification="BBN3")
    rs, conflicts = join([spelled, lower], inv, same_level=levels)
    assert rs[0].classification == "BBN 2"  # the same level: no conflict, the tag's spelling stays
    assert [c.resource for c in conflicts] == ["f"]  # a different level still conflicts
    _, without = join([spelled], inv)
    assert [c.resource for c in without] == ["e"]  # without the scale, spellings differ
