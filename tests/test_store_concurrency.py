"""Several processes on one store at once, and a process killed mid-scan, on both backends.

The child processes are this file run as a script (``python tests/test_store_concurrency.py
MODE URL …``), so they are separate interpreters with their own connections, as two
``regie`` replicas or CronJob pods would be.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select

from regie.store import Store, open_store
from regie.store.schema import changes, records, violations

HERE = Path(__file__).resolve()
SCANS = 12


def child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(HERE), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def snapshot(store: Store) -> dict[str, Any]:
    with store.engine.connect() as conn:
        return {
            "violations": sorted(
                tuple(row)
                for row in conn.execute(select(violations.c.key, violations.c.status, violations.c.message))
            ),
            "changes": conn.execute(select(func.count()).select_from(changes)).scalar_one(),
            "records": conn.execute(select(func.count()).select_from(records)).scalar_one(),
        }  # fmt: skip


def test_two_processes_ingesting_at_once_lose_and_duplicate_nothing(store_url: str) -> None:
    open_store(store_url).close()  # migrate once, so the children race on scans, not on tables
    workers = [child("ingest", store_url, name) for name in ("x", "y")]
    for proc in workers:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    with open_store(store_url) as store:
        rows = store.list_violations(limit=1000).items
        keys = Counter((v.policy, v.resource, v.item) for v in rows)
        assert len(rows) == 20 + 20 + 10 and max(keys.values()) == 1
        # Each worker's last scan (an odd one) found only the first 10 of its own 20.
        status = {v.resource: v.status for v in rows}
        for name in ("x", "y"):
            assert [status[f"{name}{i}"] for i in range(20)] == ["open"] * 10 + ["resolved"] * 10
        assert all(status[f"shared{i}"] == "open" for i in range(10))
        report = store.verify_chain()
        assert report.ok and report.records == 2 * SCANS, report
        # Every history is a consistent sequence: each change starts where the one before ended.
        for v in rows:
            full = store.get_violation(v.id)
            assert full is not None
            previous = None
            for change in full.history:
                if change.kind != "message":
                    assert change.previous == previous, (v.resource, full.history)
                    previous = change.status
            assert previous == v.status
        ids = [c.id for c in store.changes_after(0, limit=1000)]
        assert ids == sorted(ids) and len(ids) == len(set(ids))


def test_a_process_killed_mid_scan_leaves_the_store_as_it_was(store_url: str) -> None:
    with open_store(store_url) as store:
        store.ingest(_scan("base", range(5), {"src:base", "src:big"}))
        before = snapshot(store)
    proc = child("crash", store_url)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "mid-scan", proc.stderr.read() if proc.stderr else line
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with open_store(store_url) as store:
        assert snapshot(store) == before
        assert store.verify_chain().ok
        # The lock the killed process held is gone: the next scan goes through whole.
        result = store.ingest(_scan("big", range(300), {"src:big"}))
        assert result.opened == 300 and store.verify_chain().ok


# --- the child processes -----------------------------------------------------------------


def _scan(name: str, numbers: Any, sources: set[str], shared: bool = False) -> Any:
    from test_store import scan, violation

    found = [violation(f"{name}{i}", source=f"src:{name}") for i in numbers]
    if shared:
        found += [violation(f"shared{i}", source="src:shared") for i in range(10)]
    return scan(*found, sources=tuple(sorted(sources)), at=_now())


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def _ingest(url: str, name: str) -> None:
    with open_store(url) as store:
        for i in range(SCANS):
            numbers = range(20) if i % 2 == 0 else range(10)
            store.ingest(_scan(name, numbers, {f"src:{name}", "src:shared"}, shared=True))


def _crash(url: str) -> None:
    store = open_store(url)
    statements = 0

    def count(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal statements
        statements += statement.startswith("INSERT INTO violations ")
        if statements == 3:  # the record and 400 violations are written, 2600 are not yet
            print("mid-scan", flush=True)
            time.sleep(600)

    event.listen(store.engine, "after_cursor_execute", count)
    store.ingest(_scan("big", range(3000), {"src:big"}))


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    mode, target, *rest = sys.argv[1:]
    if mode == "ingest":
        _ingest(target, rest[0])
    else:
        _crash(target)
