"""The violation store, on both backends: SQLite files and the real PostgreSQL on this machine.

Every test that takes ``store`` runs twice, once per backend; PostgreSQL tests each get
a schema of their own (``regie.store.testing``), dropped afterwards.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from regie.engine.catalog import Catalogs
from regie.engine.evaluate import PolicySet
from regie.engine.violations import Violation, WaiverRef
from regie.loading import load_catalogs, load_modules
from regie.store import Scan, Store, StoreError, ViolationFilter, open_store, policy_set_hash
from regie.store.schema import changes, metadata, records
from regie.store.urls import store_url

ROOT = Path(__file__).resolve().parent.parent
T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


def violation(
    resource: str,
    *,
    policy: str = "p.one",
    item: str | None = None,
    message: str = "found",
    source: str | None = "src:a",
    waiver: WaiverRef | None = None,
    requirements: tuple[str, ...] = ("REQ-1",),
    severity: str = "high",
    service: str | None = "portal",
) -> Violation:
    return Violation(
        policy,
        "Title",
        requirements,
        "Some document, section 1",
        severity,
        "deny",
        "violation",
        resource,
        item,
        message,
        {"r.provider": "aws", "p": {"name": "Amazon"}},
        source=source,
        service=service,
        waiver=waiver,
    )


def scan(
    *found: Violation,
    sources: tuple[str, ...] = ("src:a",),
    at: dt.datetime = T0,
    policies: frozenset[str] | None = None,
) -> Scan:
    return Scan(
        sources=frozenset(sources),
        violations=found,
        scope=" + ".join(sorted(sources)),
        policy_set_hash="0" * 64,
        input={"kind": "scan", "resources": [v.resource for v in found]},
        decision={"violations": sorted([v.policy, v.resource, v.item or ""] for v in found)},
        policies=policies,
        at=at,
    )


def statuses(store: Store) -> dict[str, str]:
    return {v.resource + (f"/{v.item}" if v.item else ""): v.status for v in all_violations(store)}


def all_violations(store: Store, where: ViolationFilter | None = None) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        page = store.list_violations(where, cursor=cursor, limit=3)
        out.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return out


def count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


# --- URLs and opening --------------------------------------------------------------------


def test_urls_accept_sqlite_paths_and_map_postgres_to_psycopg(tmp_path: Path) -> None:
    assert store_url(str(tmp_path / "x.db")).render_as_string() == f"sqlite:///{tmp_path / 'x.db'}"
    assert store_url(f"sqlite:///{tmp_path}/x.db").database == f"{tmp_path}/x.db"
    for given in ("postgres://u@h/db", "postgresql://u@h/db", "postgresql+psycopg2://u@h/db"):
        assert store_url(given).drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("given", "where", "expected"),
    [
        ("mysql://u@h/db", "mysql://u@h/db", "unsupported database `mysql`"),
        ("sqlite://", "sqlite://", "in-memory store keeps nothing"),
        ("/no/such/folder/x.db", "/no/such/folder/x.db", "no folder `/no/such/folder`"),
        ("postgresql://u:secret@h", "postgresql://u:***@h", "no database name"),
        ("", "--store", "empty"),
    ],
)
def test_bad_urls_say_where_and_what_was_expected(given: str, where: str, expected: str) -> None:
    with pytest.raises(StoreError) as caught:
        store_url(given)
    assert caught.value.where == where
    assert expected in caught.value.message
    assert "secret" not in str(caught.value)


def test_an_unreachable_server_is_one_clear_error_without_the_password() -> None:
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://regie:secret@127.0.0.1:1/regie")
    assert caught.value.where == "postgresql://regie:***@127.0.0.1:1/regie"
    assert "cannot open the store" in caught.value.message and "refused" in caught.value.message
    assert "secret" not in str(caught.value)


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database, just notes\n" * 100)
    with pytest.raises(StoreError, match="not a database"):
        open_store(str(path))


def test_the_migrations_build_exactly_the_tables_the_queries_use(store: Store) -> None:
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "r.db")) as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_opening_again_keeps_everything(store_url: str) -> None:
    with open_store(store_url) as store:
        store.ingest(scan(violation("a")))
    with open_store(store_url) as store:
        assert statuses(store) == {"a": "open"}


# --- ingesting ---------------------------------------------------------------------------


def test_a_scan_opens_keeps_and_resolves(store: Store) -> None:
    first = store.ingest(scan(violation("a"), violation("b")))
    assert (first.opened, first.kept, first.resolved, first.waived) == (2, 0, 0, 0)
    second = store.ingest(scan(violation("b"), violation("c"), at=T0 + dt.timedelta(hours=1)))
    assert (second.opened, second.kept, second.resolved, second.waived) == (1, 1, 1, 0)
    assert statuses(store) == {"a": "resolved", "b": "open", "c": "open"}
    a = next(v for v in all_violations(store) if v.resource == "a")
    history = store.get_violation(a.id)
    assert history is not None
    assert [(c.kind, c.previous, c.status, c.record_id) for c in history.history] == [
        ("opened", None, "open", first.record_id),
        ("resolved", "open", "resolved", second.record_id),
    ]
    assert history.first_seen == T0 and history.last_seen == T0
    b = next(v for v in all_violations(store) if v.resource == "b")
    assert b.first_seen == T0 and b.last_seen == T0 + dt.timedelta(hours=1)


def test_ingesting_the_same_scan_twice_changes_nothing_but_last_seen(store: Store) -> None:
    found = (violation("a"), violation("b", waiver=WaiverRef("W-1", "why", "CISO", "2099-01-01")))
    store.ingest(scan(*found))
    before = {v.id: v for v in all_violations(store)}
    log = count(store, changes)
    again = store.ingest(scan(*found, at=T0 + dt.timedelta(days=1)))
    assert (again.opened, again.kept, again.resolved, again.waived) == (0, 1, 0, 1)
    assert count(store, changes) == log
    after = {v.id: v for v in all_violations(store)}
    assert {i: v.status for i, v in after.items()} == {i: v.status for i, v in before.items()}
    assert {v.last_seen for v in after.values()} == {T0 + dt.timedelta(days=1)}
    assert {v.changed_at for v in after.values()} == {T0}
    # The scan happened, so it is recorded; its identical input is stored once.
    assert count(store, records) == 2
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM record_inputs")).scalar_one() == 1


def test_only_the_scanned_sources_are_resolved(store: Store) -> None:
    store.ingest(
        scan(violation("a", source="src:a"), violation("b", source="src:b"), sources=("src:a", "src:b"))
    )
    store.ingest(scan(sources=("src:a",)))
    assert statuses(store) == {"a": "resolved", "b": "open"}


def test_violations_of_policies_that_did_not_run_are_not_resolved(store: Store) -> None:
    store.ingest(scan(violation("a", policy="p.one"), violation("b", policy="p.two")))
    store.ingest(scan(policies=frozenset({"p.one"})))
    assert statuses(store) == {"a": "resolved", "b": "open"}


def test_a_finding_without_a_source_belongs_to_the_sources_scanned_together(store: Store) -> None:
    group = violation("service:portal", policy="p.group", source=None)
    store.ingest(scan(group, sources=("src:a", "src:b")))
    (stored,) = all_violations(store)
    assert stored.source == "src:a + src:b"
    store.ingest(scan(sources=("src:a",)))
    assert statuses(store) == {"service:portal": "open"}
    store.ingest(scan(sources=("src:a", "src:b")))
    assert statuses(store) == {"service:portal": "resolved"}


def test_waived_violations_are_waived_and_open_again_when_the_waiver_is_gone(store: Store) -> None:
    ref = WaiverRef("W-1", "migration planned", "CISO", "2026-06-30")
    store.ingest(scan(violation("a", waiver=ref)))
    assert statuses(store) == {"a": "waived"}
    (stored,) = all_violations(store)
    assert stored.waiver == {
        "id": "W-1",
        "reason": "migration planned",
        "approved_by": "CISO",
        "expires": "2026-06-30",
    }
    result = store.ingest(scan(violation("a"), at=T0 + dt.timedelta(days=1)))
    assert (result.opened, result.waived) == (1, 0)
    full = store.get_violation(stored.id)
    assert full is not None and full.waiver is None
    assert [(c.kind, c.previous) for c in full.history] == [("waived", None), ("opened", "waived")]


def test_a_changed_message_is_history_and_a_resolved_violation_reopens(store: Store) -> None:
    store.ingest(scan(violation("a", message="3 of 4 at aws")))
    store.ingest(scan(violation("a", message="4 of 4 at aws"), at=T0 + dt.timedelta(hours=1)))
    store.ingest(scan(at=T0 + dt.timedelta(hours=2)))
    store.ingest(scan(violation("a", message="4 of 4 at aws"), at=T0 + dt.timedelta(hours=3)))
    (stored,) = all_violations(store)
    full = store.get_violation(stored.id)
    assert full is not None
    assert [(c.kind, c.status, c.message) for c in full.history] == [
        ("opened", "open", "3 of 4 at aws"),
        ("message", "open", "4 of 4 at aws"),
        ("resolved", "resolved", None),
        ("opened", "open", "4 of 4 at aws"),
    ]
    assert full.first_seen == T0 and full.message == "4 of 4 at aws"


def test_items_are_separate_violations_of_one_resource(store: Store) -> None:
    store.ingest(scan(violation("pod", item="app"), violation("pod", item="sidecar"), violation("pod")))
    assert statuses(store) == {"pod/app": "open", "pod/sidecar": "open", "pod": "open"}


def test_a_large_scan_goes_in_and_out_in_batches(store: Store) -> None:
    many = [violation(f"r{i}", requirements=(f"REQ-{i % 7}",)) for i in range(1500)]
    assert store.ingest(scan(*many)).opened == 1500
    assert store.ingest(scan(*many[:700])).resolved == 800
    assert len(all_violations(store, ViolationFilter(status="open", requirement="REQ-3"))) == 100


# --- reading -----------------------------------------------------------------------------


def test_filters(store: Store) -> None:
    store.ingest(
        scan(
            violation("a", policy="p.one", severity="high", requirements=("CLOUD-01", "CSBN-01")),
            violation("b", policy="p.two", severity="low", service="intranet", requirements=("AI-02",)),
            violation("c", policy="p.one", severity="low", source="src:b", requirements=()),
            sources=("src:a", "src:b"),
        )
    )
    store.ingest(scan(violation("a", policy="p.one", severity="high", requirements=("CLOUD-01", "CSBN-01")),
                      violation("c", policy="p.one", severity="low", source="src:b", requirements=()),
                      sources=("src:a", "src:b"), at=T0 + dt.timedelta(days=2)))  # fmt: skip

    def ids(**where: Any) -> set[str]:
        return {v.resource for v in all_violations(store, ViolationFilter(**where))}

    assert ids(policy="p.one") == {"a", "c"}
    assert ids(requirement="CSBN-01") == {"a"}
    assert ids(requirement="CSBN") == set()
    assert ids(severity="low") == {"b", "c"}
    assert ids(enforcement="deny") == {"a", "b", "c"}
    assert ids(source="src:b") == {"c"}
    assert ids(service="intranet") == {"b"}
    assert ids(status="resolved") == {"b"}
    assert ids(since=T0 + dt.timedelta(days=1)) == {"b"}
    assert ids(policy="p.one", severity="low", status="open") == {"c"}


def test_cursor_pages_are_stable_while_others_insert(store: Store) -> None:
    store.ingest(scan(*(violation(f"r{i}") for i in range(10))))
    page = store.list_violations(limit=4)
    seen = [v.resource for v in page.items]
    # Another scanner adds violations between two page requests.
    store.ingest(scan(*(violation(f"new{i}", source="src:b") for i in range(5)), sources=("src:b",)))
    cursor = page.next_cursor
    while cursor is not None:
        page = store.list_violations(cursor=cursor, limit=4)
        seen.extend(v.resource for v in page.items)
        cursor = page.next_cursor
    assert sorted(seen) == sorted(f"r{i}" for i in range(10))
    assert len(seen) == len(set(seen))


def test_a_bad_cursor_or_limit_is_a_clear_error(store: Store) -> None:
    with pytest.raises(StoreError, match="not a cursor this store gave out"):
        store.list_violations(cursor="bm90IGEgY3Vyc29y")
    with pytest.raises(StoreError, match="expected 1 to 1000"):
        store.list_violations(limit=0)


def test_one_violation_with_evidence_and_history(store: Store) -> None:
    record = store.ingest(scan(violation("a")))
    (stored,) = all_violations(store)
    full = store.get_violation(stored.id)
    assert full is not None
    data = full.to_dict()
    assert data["evidence"] == {"r.provider": "aws", "p": {"name": "Amazon"}}
    assert data["requirements"] == ["REQ-1"] and data["source"] == "Some document, section 1"
    assert data["status"] == "open" and data["first_seen"] == "2026-03-01T09:00:00Z"
    assert [h["record_id"] for h in data["history"]] == [record.record_id]
    assert store.get_violation(stored.id + 1000) is None


def test_the_change_log_reads_after_an_id(store: Store) -> None:
    store.ingest(scan(violation("a"), violation("b")))
    mark = store.last_change_id()
    store.ingest(scan(violation("b"), violation("c")))
    later = store.changes_after(mark)
    assert [(c.kind, c.violation.resource if c.violation else None) for c in later] == [
        ("resolved", "a"),
        ("opened", "c"),
    ]
    every = store.changes_after(0)
    assert [c.id for c in every] == sorted(c.id for c in every) and len(every) == 4
    assert store.changes_after(store.last_change_id()) == []


def test_open_counts_per_day(store: Store) -> None:
    day = dt.timedelta(days=1)
    store.ingest(scan(violation("a"), violation("b"), at=T0))
    store.ingest(
        scan(violation("b"), violation("c", waiver=WaiverRef("W", "r", "x", "2099-01-01")), at=T0 + 2 * day)
    )
    store.ingest(scan(at=T0 + 4 * day))
    counts = store.open_counts(7, today=(T0 + 5 * day).date())
    assert [(c.day.day, c.open, c.waived) for c in counts] == [
        (27, 0, 0), (28, 0, 0), (1, 2, 0), (2, 2, 0), (3, 1, 1), (4, 1, 1), (5, 0, 0), (6, 0, 0),
    ][1:]  # fmt: skip


# --- waivers -----------------------------------------------------------------------------


def test_waivers_are_created_listed_and_revoked_with_who_and_when(store: Store) -> None:
    store.ingest(scan(violation("terraform:prod#aws_instance.web"), violation("terraform:prod#aws_s3.logs")))
    waiver = store.create_waiver(
        policy="p.*",
        resource="terraform:prod#aws_instance.*",
        reason="Migration planned (CHG-1)",
        approved_by="CISO",
        expires="2099-03-31",
        created_by="alice",
    )
    assert waiver.id == "SW-1" and waiver.created_by == "alice" and waiver.created_at.tzinfo is not None
    assert statuses(store) == {
        "terraform:prod#aws_instance.web": "waived",
        "terraform:prod#aws_s3.logs": "open",
    }
    assert [w.id for w in store.list_waivers()] == ["SW-1"]
    assert [w.id for w in store.waivers_in_force()] == ["SW-1"]
    revoked = store.revoke_waiver("SW-1", revoked_by="bob")
    assert revoked.revoked_by == "bob" and revoked.revoked_at is not None
    assert store.list_waivers() == [] and [w.id for w in store.list_waivers(include_revoked=True)] == ["SW-1"]
    assert statuses(store) == {
        "terraform:prod#aws_instance.web": "open",
        "terraform:prod#aws_s3.logs": "open",
    }
    kinds = [c.kind for c in store.changes_after(0)]
    assert kinds[-4:] == ["waiver_created", "waived", "waiver_revoked", "opened"]


def test_store_waivers_match_as_waiver_files_do(store: Store) -> None:
    store.ingest(scan(violation("pod", item="app"), violation("pod", item="sidecar", service="other")))
    store.create_waiver(
        policy="p.one", resource="pod/app", reason="r", approved_by="x", expires="2099-01-01", created_by="a"
    )
    store.create_waiver(
        policy="p.one", resource="pod", service="nope", reason="r", approved_by="x", expires="2099-01-01",
        created_by="a", waiver_id="W-service",
    )  # fmt: skip
    assert statuses(store) == {"pod/app": "waived", "pod/sidecar": "open"}


def test_bad_waivers_name_the_field(store: Store) -> None:
    with pytest.raises(StoreError) as caught:
        store.create_waiver(
            policy="p", resource="r", reason="r", approved_by="x", expires="soon", created_by="a"
        )
    assert caught.value.where == "waiver.expires" and "2027-01-31" in caught.value.message
    with pytest.raises(StoreError, match="who created it"):
        store.create_waiver(
            policy="p", resource="r", reason="r", approved_by="x", expires="2099-01-01", created_by=""
        )
    store.create_waiver(
        policy="p", resource="r", reason="r", approved_by="x", expires="2099-01-01", created_by="a"
    )
    with pytest.raises(StoreError, match="already exists"):
        store.create_waiver(
            policy="p", resource="r", reason="r", approved_by="x", expires="2099-01-01", created_by="a",
            waiver_id="SW-1",
        )  # fmt: skip
    with pytest.raises(StoreError, match="no such waiver"):
        store.revoke_waiver("W-404", revoked_by="bob")
    store.revoke_waiver("SW-1", revoked_by="bob")
    with pytest.raises(StoreError, match="already revoked by bob"):
        store.revoke_waiver("SW-1", revoked_by="carol")


def test_an_expired_store_waiver_waives_nothing(store: Store) -> None:
    store.ingest(scan(violation("a")))
    store.create_waiver(
        policy="*", resource="*", reason="r", approved_by="x", expires="2020-01-01", created_by="a"
    )
    assert statuses(store) == {"a": "open"}


# --- decision records --------------------------------------------------------------------


def test_records_chain_and_verify(store: Store) -> None:
    for hour in range(3):
        store.ingest(scan(violation(f"r{hour}"), at=T0 + dt.timedelta(hours=hour)))
    admission = store.record_admission(
        {"uid": "u-1", "operation": "CREATE", "object": {"kind": "Pod"}},
        allowed=False,
        messages=["p.one: found"],
        policy_set_hash="f" * 64,
    )
    assert admission.id == 4 and admission.kind == "admission"
    report = store.verify_chain()
    assert report.ok and report.records == 4
    record = store.get_record(2, with_input=True)
    assert record is not None and record.input == {"kind": "scan", "resources": ["r1"]}
    first = store.get_record(1)
    assert first is not None and record.prev_hash == first.hash


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        ("UPDATE records SET decision = '{}' WHERE id = 2", 2, "altered"),
        ("UPDATE records SET policy_set_hash = 'x' WHERE id = 1", 1, "altered"),
        ("DELETE FROM records WHERE id = 2", 2, "record 2 is missing"),
        ("DELETE FROM records WHERE id = 3", 3, "newest records were removed"),
        ("UPDATE record_inputs SET body = '{}' WHERE hash = (SELECT input_hash FROM records WHERE id = 1)",
         1, "input was altered"),
    ],
)  # fmt: skip
def test_a_removed_or_altered_record_shows(store: Store, tamper: str, broken_at: int, problem: str) -> None:
    for hour in range(3):
        store.ingest(scan(violation(f"r{hour}"), at=T0 + dt.timedelta(hours=hour)))
    with store.engine.begin() as conn:
        conn.execute(text(tamper))
    report = store.verify_chain()
    assert not report.ok and report.broken_at == broken_at and problem in (report.problem or "")


def test_an_admission_record_never_keeps_a_secret(store: Store) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db"},
        "data": {"pw": "aHVudGVyMg=="},
    }
    record = store.record_admission(
        {"uid": "u-2", "operation": "UPDATE", "object": secret, "oldObject": secret},
        allowed=True,
        messages=[],
        policy_set_hash="f" * 64,
    )
    with store.engine.connect() as conn:
        bodies = " ".join(conn.execute(text("SELECT body FROM record_inputs")).scalars())
    assert "aHVudGVyMg==" not in bodies and "(sensitive)" in bodies
    assert record.decision["allowed"] is True


def _policy_set(paths: list[str], params: dict[str, tuple[Any, str]] | None = None) -> PolicySet:
    modules, diags = load_modules(paths)
    assert not diags
    result = PolicySet.build(modules, params=params)
    assert isinstance(result, PolicySet)
    return result


def test_the_policy_set_hash_follows_texts_params_and_catalogues(tmp_path: Path) -> None:
    policies = str(ROOT / "examples" / "quickstart" / "policies")
    catalogs = load_catalogs()
    base = policy_set_hash(_policy_set([policies]), catalogs)
    assert policy_set_hash(_policy_set([policies]), load_catalogs()) == base
    param = {"quickstart.concentration.vital_service.max_share": (0.5, "test")}
    assert policy_set_hash(_policy_set([policies], param), catalogs) != base
    changed = Catalogs({name: dict(entries) for name, entries in catalogs.entries.items()})
    changed.merge("providers", {"newcloud": {"name": "New Cloud"}}, "test")
    assert policy_set_hash(_policy_set([policies]), changed) != base
    copy = tmp_path / "policies"
    copy.mkdir()
    for path in sorted(Path(policies).glob("*.regie")):
        (copy / path.name).write_text(path.read_text().replace("severity high", "severity medium", 1))
    assert policy_set_hash(_policy_set([str(copy)]), catalogs) != base
