"""Waivers: reading them (errors name the field), matching violations, expiry, and unused waivers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from regie.engine.violations import Violation
from regie.engine.waivers import Waiver, WaiverError, apply_waivers, waivers_from_records

TODAY = dt.date(2026, 6, 1)

RECORD: dict[str, Any] = {
    "id": "W-1",
    "policy": "cloud.location.*",
    "resource": "terraform:prod.tfstate#aws_instance.*",
    "reason": "Migration planned for Q1 2027",
    "approved_by": "CISO",
    "expires": "2027-03-31",
}


def waiver(**changes: Any) -> Waiver:
    (w,) = waivers_from_records([{**RECORD, **changes}], "waivers.yaml")
    return w


def violation(
    policy: str = "cloud.location.eu_region",
    resource: str = "terraform:prod.tfstate#aws_instance.portal",
    *,
    item: str | None = None,
    service: str | None = "citizen-portal",
    enforcement: Any = "deny",
) -> Violation:
    return Violation(
        policy=policy,
        title="Data in an EU region",
        requirements=("CLOUD-01",),
        citation="Cloud policy 2022",
        severity="high",
        enforcement=enforcement,
        outcome="violation",
        resource=resource,
        item=item,
        message="region eu-west-2 is in GB",
        evidence={},
        service=service,
    )


# --- reading -------------------------------------------------------------------------------


def test_a_waiver_is_read() -> None:
    w = waiver()
    assert w == Waiver(
        id="W-1",
        policy="cloud.location.*",
        resource="terraform:prod.tfstate#aws_instance.*",
        service=None,
        reason="Migration planned for Q1 2027",
        approved_by="CISO",
        expires=dt.date(2027, 3, 31),
        where="waivers.yaml: waivers[0]",
    )


def test_a_list_or_a_map_with_waivers_and_default_ids() -> None:
    plain = {k: v for k, v in RECORD.items() if k != "id"}
    from_list = waivers_from_records([plain, plain], "w.yaml")
    from_map = waivers_from_records({"waivers": [plain]}, "w.yaml")
    assert [w.id for w in from_list] == ["waiver-1", "waiver-2"]
    assert [w.id for w in from_map] == ["waiver-1"]
    assert waivers_from_records({"waivers": []}, "w.yaml") == []


def test_dates_from_yaml_are_accepted() -> None:
    assert waiver(expires=dt.date(2027, 1, 31)).expires == dt.date(2027, 1, 31)
    assert waiver(expires=dt.datetime(2027, 1, 31, 12, 0)).expires == dt.date(2027, 1, 31)


@pytest.mark.parametrize("field", ["policy", "resource", "reason", "approved_by", "expires"])
def test_a_missing_required_field_is_named(field: str) -> None:
    record = {k: v for k, v in RECORD.items() if k != field}
    with pytest.raises(WaiverError) as err:
        waivers_from_records([RECORD, record], "waivers.yaml")
    assert err.value.where == f"waivers.yaml: waivers[1].{field}"
    assert err.value.message == f"a waiver needs `{field}`"


@pytest.mark.parametrize("field", ["policy", "resource", "reason", "approved_by"])
def test_an_empty_required_field_is_missing(field: str) -> None:
    with pytest.raises(WaiverError) as err:
        waiver(**{field: ""})
    assert err.value.where == f"waivers.yaml: waivers[0].{field}"


WAIVER_ERRORS: list[tuple[str, Any, str, str]] = [
    # (id, data, where, message)
    (
        "day first",
        [{**RECORD, "expires": "31-03-2027"}],
        "waivers.yaml: waivers[0].expires",
        "expected a date like 2027-01-31, got '31-03-2027'",
    ),
    (
        "impossible date",
        [{**RECORD, "expires": "2027-02-30"}],
        "waivers.yaml: waivers[0].expires",
        "expected a date like 2027-01-31, got '2027-02-30'",
    ),
    (
        "a year",
        [{**RECORD, "expires": 2027}],
        "waivers.yaml: waivers[0].expires",
        "expected a date like 2027-01-31, got 2027",
    ),
    (
        "unknown field",
        [{**RECORD, "expirs": "2027-01-01"}],
        "waivers.yaml: waivers[0].expirs",
        "unknown field (did you mean `expires`?)",
    ),
    (
        "policy not a string",
        [{**RECORD, "policy": 3}],
        "waivers.yaml: waivers[0].policy",
        "expected a string, got 3",
    ),
    ("duplicate id", [RECORD, RECORD], "waivers.yaml: waivers[1].id", "duplicate waiver id `W-1`"),
    ("not a map", ["W-1"], "waivers.yaml: waivers[0]", "a waiver is a map"),
    (
        "a map without waivers",
        {"waiver": [RECORD]},
        "waivers.yaml",
        "expected a list of waivers (or a map with a `waivers` list)",
    ),
]


@pytest.mark.parametrize(
    ("data", "where", "message"), [c[1:] for c in WAIVER_ERRORS], ids=[c[0] for c in WAIVER_ERRORS]
)
def test_waiver_error_names_the_field(data: Any, where: str, message: str) -> None:
    with pytest.raises(WaiverError) as err:
        waivers_from_records(data, "waivers.yaml")
    assert (err.value.where, err.value.message) == (where, message)


def test_a_service_that_is_not_a_string_is_an_error() -> None:
    """`service: 3` could never match (services are strings): say so instead of never waiving."""
    with pytest.raises(WaiverError) as err:
        waiver(service=3)
    assert err.value.where == "waivers.yaml: waivers[0].service"


# --- matching ------------------------------------------------------------------------------

MATCHES: list[tuple[str, dict[str, Any], Violation, bool]] = [
    # (id, waiver fields, violation, matches)
    ("policy glob", {"policy": "cloud.location.*"}, violation(), True),
    ("exact policy", {"policy": "cloud.location.eu_region"}, violation(), True),
    ("other policy", {"policy": "cloud.jurisdiction.*"}, violation(), False),
    ("a glob matches the whole id", {"policy": "cloud.location"}, violation(), False),
    (
        "dots are literal",
        {"policy": "cloud.location.eu_regio?"},
        violation("cloudXlocation.eu_region"),
        False,
    ),
    ("? is one character", {"policy": "cloud.location.eu_regio?"}, violation(), True),
    ("star over dots", {"policy": "*"}, violation(), True),
    ("resource glob", {"resource": "terraform:prod.tfstate#aws_instance.*"}, violation(), True),
    ("other resource", {"resource": "terraform:prod.tfstate#aws_db_instance.*"}, violation(), False),
    (
        "resource with an item, by resource",
        {"resource": "k8s:prod/Deployment/web"},
        violation(resource="k8s:prod/Deployment/web", item="nginx"),
        True,
    ),
    (
        "resource/item",
        {"resource": "k8s:prod/Deployment/web/nginx"},
        violation(resource="k8s:prod/Deployment/web", item="nginx"),
        True,
    ),
    (
        "resource/other item",
        {"resource": "k8s:prod/Deployment/web/sidecar"},
        violation(resource="k8s:prod/Deployment/web", item="nginx"),
        False,
    ),
    (
        "resource/item glob",
        {"resource": "k8s:prod/Deployment/*/nginx"},
        violation(resource="k8s:prod/Deployment/web", item="nginx"),
        True,
    ),
    ("service", {"resource": "*", "service": "citizen-portal"}, violation(), True),
    ("other service", {"resource": "*", "service": "archive"}, violation(), False),
    ("service is exact", {"resource": "*", "service": "citizen-*"}, violation(), False),
    (
        "service on a violation without one",
        {"resource": "*", "service": "citizen-portal"},
        violation(service=None),
        False,
    ),
    ("group targets", {"resource": "service:*"}, violation(resource="service:payments"), True),
]


@pytest.mark.parametrize(("fields", "v", "matches"), [c[1:] for c in MATCHES], ids=[c[0] for c in MATCHES])
def test_waiver_matching(fields: dict[str, Any], v: Violation, matches: bool) -> None:
    assert waiver(**fields).matches(v) is matches


# --- applying ------------------------------------------------------------------------------


def test_a_matching_waiver_marks_the_violation_waived() -> None:
    (v,), (status,) = apply_waivers([violation()], [waiver()], TODAY)
    assert v.waived and not v.blocking
    assert v.waiver is not None
    assert (v.waiver.id, v.waiver.reason, v.waiver.approved_by, v.waiver.expires) == (
        "W-1",
        "Migration planned for Q1 2027",
        "CISO",
        "2027-03-31",
    )
    assert (status.matched, status.expired) == (1, False)
    assert v.to_dict()["waived"] is True and v.to_dict()["waiver"]["id"] == "W-1"


def test_a_waiver_applies_on_its_last_day_and_not_after() -> None:
    last_day = dt.date(2027, 3, 31)
    (v,), (status,) = apply_waivers([violation()], [waiver()], last_day)
    assert v.waived and not status.expired
    (v,), (status,) = apply_waivers([violation()], [waiver()], last_day + dt.timedelta(days=1))
    assert not v.waived and v.blocking
    assert status.expired and status.matched == 1  # still reported: what it would cover


def test_an_expired_waiver_gives_way_to_a_valid_one() -> None:
    old = waiver(id="W-old", expires="2026-01-01")
    new = waiver(id="W-new")
    (v,), statuses = apply_waivers([violation()], [old, new], TODAY)
    assert v.waiver is not None and v.waiver.id == "W-new"
    assert [(s.waiver.id, s.matched, s.expired) for s in statuses] == [
        ("W-old", 1, True),
        ("W-new", 1, False),
    ]


def test_a_waiver_matching_nothing_is_reported() -> None:
    stale = waiver(id="W-stale", policy="cloud.retired.*")
    _, statuses = apply_waivers([violation()], [waiver(), stale], TODAY)
    assert [(s.waiver.id, s.matched) for s in statuses] == [("W-1", 1), ("W-stale", 0)]
    assert statuses[1].to_dict() == {
        "id": "W-stale",
        "policy": "cloud.retired.*",
        "resource": "terraform:prod.tfstate#aws_instance.*",
        "service": None,
        "reason": "Migration planned for Q1 2027",
        "approved_by": "CISO",
        "expires": "2027-03-31",
        "matched": 0,
        "expired": False,
        "where": "waivers.yaml: waivers[0]",
    }


def test_waivers_change_nothing_else() -> None:
    vs = [
        violation(resource="terraform:prod.tfstate#aws_instance.a"),
        violation(resource="terraform:prod.tfstate#aws_db_instance.b"),
        violation(policy="cloud.jurisdiction.x", resource="terraform:prod.tfstate#aws_instance.c"),
    ]
    out, (status,) = apply_waivers(vs, [waiver()], TODAY)
    assert [v.resource for v in out] == [v.resource for v in vs]
    assert [v.waived for v in out] == [True, False, False]
    assert out[1] == vs[1] and out[2] == vs[2]
    assert status.matched == 1


def test_no_waivers() -> None:
    vs = [violation()]
    assert apply_waivers(vs, [], TODAY) == (vs, [])
