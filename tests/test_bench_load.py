"""bench/load.py end to end: a real `regie serve`, a couple of seconds of load, a sane report.

No timing is asserted: the machine is shared, and the figures belong in bench/README.md.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent


def test_load_reports_sane_numbers() -> None:
    cmd = [
        sys.executable,
        str(ROOT / "bench" / "load.py"),
        *("--rate", "20", "--duration", "2", "--warmup", "0.5", "--connections", "4"),
        *("--iterations", "20", "--json"),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    report = orjson.loads(done.stdout)
    load = report["load"]
    assert load["sent"] == 40
    assert load["completed"] > 0
    assert load["errors"] == 0, load["error_kinds"]
    assert load["completed"] == load["sent"]
    # The review has vital containers pulled from registries outside the EU: warned, never denied.
    assert set(load["decisions"]) == {"warned"}
    assert load["latency"]["p50"] <= load["latency"]["p99"] <= load["latency"]["max"]
    assert load["server_cpu_ms_per_request"] is not None
    decide = report["in_process"]["decide"]
    assert decide["n"] == 20 and decide["policies"] > 50  # the whole built-in library
    assert report["in_process"]["handle_admission"]["n"] == 20
