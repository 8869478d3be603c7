"""Regie as an external engine of the peer benchmark (shared/bench-peers, "Plugging in regie").

    .venv/bin/python bench/peer.py --workload w1 --input data/tfstate-1000.json --iterations 5

Prints one JSON object on stdout: ``load_s`` and ``eval_s`` (seconds per iteration,
measured in this process: bytes → facts, facts → violations), ``violations`` as
``[rule, target]`` pairs, ``maxrss_mib`` (peak RSS of this process). Policies are compiled
and catalogues loaded once, untimed; warm-up iterations (untimed) run first.

Targets are the harness's: the Terraform address, the container name, ``deployment``,
``service:<name>``. Rule ids are the policies' ``requirement`` (R01…, A01…).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workloads import Bench, Pair, check_catalogue


def peak_rss_mib() -> float:
    """VmHWM of this process (ru_maxrss survives exec on Linux and can report the parent's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["w1", "w2"], required=True)
    ap.add_argument("--input", type=Path, required=True)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--warmup", type=int, help="untimed iterations first (default: w1 1, w2 20)")
    ap.add_argument(
        "--gc",
        choices=["frozen", "engine"],
        default="frozen",
        help="frozen: each W1 decision under bench/workloads.py frozen_gc (default); engine: evaluate's own",
    )
    ap.add_argument(
        "--catalogue",
        type=Path,
        help="the harness's catalogue.json: fail unless bench/catalog holds its facts",
    )
    args = ap.parse_args(argv)
    warmup = args.warmup if args.warmup is not None else (1 if args.workload == "w1" else 20)

    bench = Bench.prepare(args.workload, freeze_gc=args.gc == "frozen")
    if args.catalogue is not None:
        problems = check_catalogue(bench.catalogs, args.catalogue)
        if problems:
            print(
                "bench/catalog differs from the harness's catalogue:", *problems, sep="\n  ", file=sys.stderr
            )
            return 2
    raw = args.input.read_bytes()
    source = args.input.name
    load_s: list[float] = []
    eval_s: list[float] = []
    found: set[Pair] = set()
    clock = time.perf_counter
    for i in range(warmup + max(1, args.iterations)):
        # As the harness's worker.py does: the previous iteration's facts and results are
        # released by these assignments, inside the timings.
        t0 = clock()
        facts = bench.load(raw, source)
        t1 = clock()
        found = bench.decide(facts)
        t2 = clock()
        if i >= warmup:
            load_s.append(t1 - t0)
            eval_s.append(t2 - t1)
    doc = {
        "load_s": load_s,
        "eval_s": eval_s,
        "violations": sorted([rule, target] for rule, target in found),
        "maxrss_mib": round(peak_rss_mib(), 1),
        "unknowns": bench.unknowns,
    }
    sys.stdout.write(json.dumps(doc) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
