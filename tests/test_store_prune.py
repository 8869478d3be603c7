"""Pruning the stored inputs of old decision records (``Store.prune_inputs``, ``regie prune``).

Data minimisation: an admission request names the user who made it, a scan's facts describe a
whole estate; neither needs to be kept forever. Pruning removes the inputs of records decided
before a date and keeps the records, their hashes and the chain; a ``prune`` record in the chain
lists what went, so ``verify`` can tell a pruned input from a removed one. On both backends.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from regie.engine.evaluate import PolicySet
from regie.loading import BUILTIN_POLICIES, InputError, load_catalogs, load_modules
from regie.replay import replay_record
from regie.store import Record, Store, open_store
from regie.store.testing import sqlite_file

ENV = {**{k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "REGIE_DEBUG")}, "NO_COLOR": "1"}
JAN, MAR, JUN = (dt.datetime(2026, month, 2, 9, 30, tzinfo=dt.UTC) for month in (1, 3, 6))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        yield s


def admit(store: Store, user: str, at: dt.datetime, name: str = "p") -> Record:
    request = {
        "uid": f"u-{user}-{name}",
        "operation": "CREATE",
        "userInfo": {"username": user},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}},
    }
    return store.record_admission(request, allowed=True, messages=[], policy_set_hash="f" * 64, at=at)


def stored_input(store: Store, record: Record) -> Any:
    got = store.get_record(record.id, with_input=True)
    assert got is not None
    return got.input


def test_old_inputs_go_the_records_and_the_chain_stay(store: Store) -> None:
    old, older, new = admit(store, "alice", JAN), admit(store, "bob", MAR), admit(store, "carol", JUN)
    result = store.prune_inputs(dt.date(2026, 4, 1))
    assert (result.records, result.inputs) == (2, 2)
    assert result.record is not None and result.record.kind == "prune" and result.record.id == 4
    assert result.record.decision["inputs"] == sorted([old.input_hash, older.input_hash])
    assert "alice" not in str(stored_input(store, old)) and "bob" not in str(stored_input(store, older))
    assert stored_input(store, old) == {"pruned_by_record": 4, "before": "2026-04-01"}
    assert stored_input(store, new)["request"]["userInfo"]["username"] == "carol"
    still = store.get_record(old.id)
    assert still is not None and (still.hash, still.decision) == (old.hash, old.decision)
    report = store.verify_chain()
    assert report.ok and report.records == 4 and report.pruned == 2, report.summary()
    assert report.summary() == "chain intact: 4 records (2 with their inputs pruned)"
    assert (
        "pruned the inputs of 2 records (2 distinct) decided before 2026-04-01; record 4" in result.summary()
    )


def test_pruning_again_finds_nothing_and_adds_no_record(store: Store) -> None:
    admit(store, "alice", JAN)
    store.prune_inputs(dt.date(2026, 4, 1))
    again = store.prune_inputs(dt.date(2026, 4, 1))
    assert (again.records, again.inputs, again.record) == (0, 0, None)
    assert again.summary().startswith("nothing to prune")
    assert store.verify_chain().records == 2


def test_a_dry_run_changes_nothing(store: Store) -> None:
    old = admit(store, "alice", JAN)
    dry = store.prune_inputs(dt.date(2026, 4, 1), dry_run=True)
    assert (dry.records, dry.inputs, dry.record) == (1, 1, None)
    assert dry.summary().startswith("would prune the inputs of 1 record (1 distinct)")
    assert stored_input(store, old)["request"]["userInfo"]["username"] == "alice"
    assert store.verify_chain().records == 1


def test_an_input_a_newer_record_shares_stays(store: Store) -> None:
    # the same request decided twice: one stored input, kept while a newer record needs it
    old, new = admit(store, "alice", JAN), admit(store, "alice", JUN)
    assert old.input_hash == new.input_hash
    result = store.prune_inputs(dt.date(2026, 4, 1))
    assert (result.records, result.inputs) == (0, 0)
    assert stored_input(store, old)["request"]["userInfo"]["username"] == "alice"


def test_an_input_decided_again_after_pruning_comes_back(store: Store) -> None:
    old = admit(store, "alice", JAN)
    store.prune_inputs(dt.date(2026, 4, 1))
    again = admit(store, "alice", JUN)
    assert again.input_hash == old.input_hash
    assert stored_input(store, again)["request"]["userInfo"]["username"] == "alice"
    report = store.verify_chain()
    assert report.ok and report.pruned == 0, report.summary()  # the old record's input is whole again


@pytest.mark.parametrize(
    ("tamper", "broken_at", "problem"),
    [
        # an input emptied by hand, with no prune record to say so
        ("UPDATE record_inputs SET body = '{\"pruned_by_record\"\\:9}' "
         "WHERE hash = (SELECT input_hash FROM records WHERE id = 3)", 3, "input was altered"),
        # the prune record's list changed to cover another input
        ("UPDATE records SET decision = '{}' WHERE kind = 'prune'", 4, "altered"),
    ],
)  # fmt: skip
def test_a_removal_the_chain_does_not_attest_shows(
    store: Store, tamper: str, broken_at: int, problem: str
) -> None:
    admit(store, "alice", JAN), admit(store, "bob", MAR), admit(store, "carol", JUN)
    store.prune_inputs(dt.date(2026, 4, 1))
    with store.engine.begin() as conn:
        conn.execute(text(tamper))
    report = store.verify_chain()
    assert not report.ok and report.broken_at == broken_at and problem in (report.problem or ""), report


def test_a_pruned_record_cannot_be_replayed(store: Store) -> None:
    old = admit(store, "alice", JAN)
    store.prune_inputs(dt.date(2026, 4, 1))
    modules, _ = load_modules([str(BUILTIN_POLICIES)])
    policy_set = PolicySet.build(modules)
    assert isinstance(policy_set, PolicySet)
    with pytest.raises(InputError) as err:
        replay_record(store, old.id, policy_set, load_catalogs())
    assert err.value.where == f"record {old.id}"
    assert "pruned by record 2" in err.value.message and "before 2026-04-01" in err.value.message


# --- regie prune ------------------------------------------------------------------------------------


def regie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "regie", *args], cwd=cwd, capture_output=True, text=True, env=ENV, timeout=120
    )
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr
    return proc


def test_regie_prune_and_verify(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url) as s:
        admit(s, "alice", JAN)
        admit(s, "bob", dt.datetime.now(dt.UTC))
    dry = regie("prune", "--store", store_url, "--keep-days", "30", "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0 and "would prune the inputs of 1 record (1 distinct)" in dry.stdout, dry
    done = regie("prune", "--store", store_url, "--keep-days", "30", cwd=tmp_path)
    assert done.returncode == 0 and "pruned the inputs of 1 record (1 distinct)" in done.stdout, done
    assert "record 3 attests it" in done.stdout
    verified = regie("verify", "--store", store_url, cwd=tmp_path)
    assert verified.returncode == 0 and "chain intact: 3 records (1 with its input pruned)" in verified.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give one of --before DATE or --keep-days N"),
        (("--before", "2026-01-01", "--keep-days", "3"), "give one of --before DATE or --keep-days N"),
        (("--before", "January"), "--before: expected a date like 2026-01-31, got 'January'"),
        (("--before", "2999-01-01"), "is in the future"),
        (("--keep-days", "-1"), "--keep-days: expected 0 or more days, got -1"),
    ],
)
def test_regie_prune_refuses_bad_options(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    with sqlite_file(tmp_path) as store_url:
        run = regie("prune", "--store", store_url, *args, cwd=tmp_path)
    assert run.returncode == 2 and message in run.stderr, run
