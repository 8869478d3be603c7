"""Time Regie on its own inputs, beside the parse floor, a plain-Python baseline and regorus.

    .venv/bin/python bench/run.py                       # W1 at 1k/10k/100k, then W2 (a few minutes)
    .venv/bin/python bench/run.py --sizes 1000 10000 --engines regie python

W1: bench/gen.py's Terraform states (bench/data/, generated on first use). Per engine and
size, one child process (its own peak RSS) times ``--iterations`` runs after a warm-up:
load (bytes → the engine's input) and eval (→ (rule, target) pairs). Engines:

- ``orjson``: ``orjson.loads`` with the cyclic GC on, the parse floor the peer harness uses;
- ``orjson-nogc``: the same with the GC paused, which is how Regie's connector parses;
- ``python``: bench/baseline.py, the rules as hand-written loops over orjson's output;
- ``regie``: bytes → regie.connectors.terraform → ``evaluate`` (bench/rules/sovereignty.regie),
  each decision under ``frozen_gc`` (bench/workloads.py);
- ``regie-gc``: the same, with ``evaluate``'s own collector handling (deferred collections
  included);
- ``regorus``: bench/rules/sovereignty.rego in regorus (``pip install -e '.[bench]'``).

W2 also as ``regie-k8s``: the review through regie.connectors.kubernetes (the webhook's
path: redaction, derived image facts) instead of the object as one resource.

Every engine's pairs are checked against the baseline's. W2: one AdmissionReview
(bench/data/admission.json) decided ``--decisions`` times in process after a warm-up;
p50/p99 of the decision (bytes → pairs) and of ``evaluate`` alone.

Results: bench/results/results.md and results.json.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

ENGINES = ["orjson", "orjson-nogc", "python", "regie", "regie-gc", "regie-k8s", "regorus"]
FLOORS = {"orjson", "orjson-nogc"}


# --- one cell, in a child process ------------------------------------------------------------


def peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def regorus_data() -> str:
    """bench/catalog and the policies' parameters as the Rego files read them (data.bench)."""
    import baseline
    from workloads import bench_catalogs

    catalogs = bench_catalogs()
    cat = baseline.catalogue(catalogs)
    return json.dumps(
        {
            "bench": {
                "eu": sorted(cat["eu"]),
                "providers": catalogs.entries["providers"],
                "regions": cat["regions"],
                "bare_regions": cat["bare_regions"],
                "levels": sorted(baseline.LEVELS),
                "classifications": sorted(baseline.CLASSIFICATIONS),
                "models": sorted(baseline.MODELS),
                "registries": list(baseline.REGISTRIES),
                "max_share": baseline.MAX_SHARE,
            }
        }
    )


Step = Callable[[Any], Any]


def prepare(engine: str, workload: str) -> tuple[Step, Step]:
    """(load, evaluate) for one engine; compiling and catalogue loading happen here, untimed."""
    import orjson

    if engine in FLOORS:
        if engine == "orjson":
            return orjson.loads, lambda _: None

        def parse_nogc(raw: bytes) -> Any:
            gc.disable()
            try:
                return orjson.loads(raw)
            finally:
                gc.enable()

        return parse_nogc, lambda _: None
    if engine == "python":
        import baseline
        from workloads import bench_catalogs

        cat = baseline.catalogue(bench_catalogs())
        fn = baseline.evaluate_w1 if workload == "w1" else baseline.evaluate_w2
        return orjson.loads, lambda data: fn(data, cat)
    if engine in ("regie", "regie-gc", "regie-k8s"):
        from workloads import Bench

        bench = Bench.prepare(workload, freeze_gc=engine != "regie-gc", k8s=engine == "regie-k8s")
        return bench.load, bench.decide
    if engine == "regorus":
        import regorus  # type: ignore[import-untyped,unused-ignore]

        rules = HERE / "rules" / ("sovereignty.rego" if workload == "w1" else "admission.rego")
        query = "data.bench.w1.violations" if workload == "w1" else "data.bench.w2.deny"
        rego = regorus.Engine()
        rego.add_policy_from_file(str(rules))
        rego.add_data_json(regorus_data())

        def load(raw: bytes) -> None:
            rego.set_input_json(raw.decode())

        def decide(_: None) -> set[tuple[str, str]]:
            return {(r, t) for r, t in json.loads(rego.eval_rule_as_json(query))}

        return load, decide
    raise SystemExit(f"unknown engine {engine}")


def cell(engine: str, workload: str, path: Path, iterations: int, warmup: int) -> dict[str, Any]:
    load, decide = prepare(engine, workload)
    raw = path.read_bytes()
    load_s: list[float] = []
    eval_s: list[float] = []
    found: Any = None
    clock = time.perf_counter
    for i in range(warmup + iterations):
        # The previous iteration's data is released by these assignments, inside the timings
        # (as in the peer harness's worker.py).
        t0 = clock()
        loaded = load(raw)
        t1 = clock()
        found = decide(loaded)
        t2 = clock()
        if i >= warmup:
            load_s.append(t1 - t0)
            eval_s.append(t2 - t1)
    out: dict[str, Any] = {"load_s": load_s, "eval_s": eval_s, "maxrss_mib": peak_rss_mib()}
    if found is not None:
        pairs = sorted(found)
        out["violations"] = len(pairs)
        out["sha"] = hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16]
    return out


def decisions(engine: str, path: Path, n: int, warmup: int) -> dict[str, Any]:
    """W2: per decision, bytes → pairs, and evaluation alone, n times."""
    load, decide = prepare(engine, "w2")
    raw = path.read_bytes()
    total: list[float] = []
    evaluation: list[float] = []
    found: Any = None
    clock = time.perf_counter
    for i in range(warmup + n):
        t0 = clock()
        loaded = load(raw)
        t1 = clock()
        found = decide(loaded)
        t2 = clock()
        if i >= warmup:
            total.append(t2 - t0)
            evaluation.append(t2 - t1)
    pairs = sorted(found)
    return {
        "total_s": total,
        "eval_s": evaluation,
        "violations": len(pairs),
        "sha": hashlib.sha256(json.dumps(pairs).encode()).hexdigest()[:16],
        "maxrss_mib": peak_rss_mib(),
    }


# --- the runner -------------------------------------------------------------------------------


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def fmt_t(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.0f} µs"
    if s < 1:
        return f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def fmt_x(x: float | None) -> str:
    return "-" if x is None else (f"{x:.2f}×" if x < 10 else f"{x:.0f}×")


def child(args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    try:
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if cp.returncode != 0:
        return {"error": cp.stderr.strip()[-400:]}
    result: dict[str, Any] = json.loads(cp.stdout.strip().splitlines()[-1])
    return result


def machine() -> dict[str, str]:
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    versions = {}
    for dist in ("orjson", "gordon-to-regorus"):
        try:
            from importlib.metadata import version

            versions[dist] = version(dist)
        except Exception:
            versions[dist] = "not installed"
    return {
        "cpus": str(os.cpu_count()),
        "memory": mem,
        "python": platform.python_version(),
        "platform": platform.platform(),
        **versions,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    ap.add_argument("--engines", nargs="+", default=ENGINES, choices=ENGINES)
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--decisions", type=int, default=2000, help="W2 decisions per engine")
    ap.add_argument("--skip-over", type=float, default=90.0, help="skip a size projected beyond this (s)")
    ap.add_argument("--data", type=Path, default=HERE / "data")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-w2", action="store_true")
    # internal: one cell in this process
    ap.add_argument("--cell", nargs=3, metavar=("ENGINE", "WORKLOAD", "INPUT"), help=argparse.SUPPRESS)
    ap.add_argument("--warmup", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.cell:
        engine, workload, path = args.cell
        if workload == "w2":
            result = decisions(engine, Path(path), args.decisions, args.warmup)
        else:
            result = cell(engine, workload, Path(path), args.iterations, args.warmup)
        print(json.dumps(result))
        return 0

    missing = [n for n in args.sizes if not (args.data / f"state-{n}.tfstate").exists()]
    if missing or not (args.data / "admission.json").exists():
        gen = [sys.executable, str(HERE / "gen.py"), "--out", str(args.data), "--seed", str(args.seed)]
        subprocess.run([*gen, "--sizes", *map(str, missing or args.sizes[:1])], check=True)
    engines = [e for e in ENGINES if e in args.engines or e in ("orjson", "python")]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    last: dict[str, tuple[int, float]] = {}
    for n in sorted(args.sizes):
        path = args.data / f"state-{n}.tfstate"
        for engine in engines:
            if engine == "regie-k8s":
                continue  # W2 only
            iterations, warmup = args.iterations, 1
            if engine in last:
                prev_n, prev_t = last[engine]
                projected = prev_t * n / prev_n
                if projected > args.skip_over:
                    rows.append(
                        {"engine": engine, "n": n, "skipped": f"projected ≥ {projected:.0f} s per run"}
                    )
                    print(f"w1 {n:>7} {engine:12} skipped (projected {projected:.0f} s)", flush=True)
                    continue
                if projected > 10:
                    iterations, warmup = 1, 0
            print(f"w1 {n:>7} {engine:12} ...", end=" ", flush=True)
            res = child(
                ["--cell", engine, "w1", str(path), "--iterations", str(iterations), "--warmup", str(warmup)],
                timeout=max(120.0, 3 * args.skip_over),
            )
            res |= {"engine": engine, "n": n}
            if "error" not in res:
                res["load"] = median(res["load_s"])
                res["eval"] = median(res["eval_s"])
                res["total"] = median([a + b for a, b in zip(res["load_s"], res["eval_s"], strict=True)])
                last[engine] = (n, res["total"])
                print(
                    f"load {fmt_t(res['load'])}  eval {fmt_t(res['eval'])}  rss {res['maxrss_mib']:.0f} MiB"
                )
            else:
                print("FAILED:", res["error"])
            rows.append(res)
    ratios(rows)

    w2: list[dict[str, Any]] = []
    if not args.no_w2:
        review = args.data / "admission.json"
        for engine in [e for e in ("python", "regie", "regie-k8s", "regorus") if e in engines]:
            print(f"w2 {engine:12} ...", end=" ", flush=True)
            res = child(
                ["--cell", engine, "w2", str(review), "--decisions", str(args.decisions), "--warmup", "50"],
                timeout=600,
            )
            res["engine"] = engine
            if "error" not in res:
                print(f"p50 {fmt_t(median(res['total_s']))}  p99 {fmt_t(pct(res['total_s'], 0.99))}")
            else:
                print("FAILED:", res["error"])
            w2.append(res)
        reference = next((r for r in w2 if r["engine"] == "python" and "sha" in r), None)
        for r in w2:
            if reference is not None and "sha" in r:
                r["check"] = "equal" if r["sha"] == reference["sha"] else "DIFFERS"

    meta = machine() | {
        "wall_s": f"{time.perf_counter() - started:.0f}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    strip = ("load_s", "eval_s", "total_s")
    doc = {
        "meta": meta,
        "w1": rows,
        "w2": [{k: v for k, v in r.items() if k not in strip} | summary(r) for r in w2],
    }
    (args.out / "results.json").write_text(json.dumps(doc, indent=1))
    md = table(rows, w2, meta)
    (args.out / "results.md").write_text(md)
    print()
    print(md)
    return 0


def summary(r: dict[str, Any]) -> dict[str, Any]:
    if "total_s" not in r:
        return {}
    return {
        "total_p50": median(r["total_s"]),
        "total_p99": pct(r["total_s"], 0.99),
        "eval_p50": median(r["eval_s"]),
        "eval_p99": pct(r["eval_s"], 0.99),
    }


def ratios(rows: list[dict[str, Any]]) -> None:
    index = {(r["engine"], r["n"]): r for r in rows if "total" in r}
    for r in rows:
        if "total" not in r:
            continue
        floor = index.get(("orjson", r["n"]))
        base = index.get(("python", r["n"]))
        if floor:
            r["x_floor"] = r["total"] / floor["total"]
            r["x_floor_load"] = r["load"] / floor["total"]
        if base and r["engine"] not in FLOORS:
            r["x_python_eval"] = r["eval"] / base["eval"]
            r["x_python_total"] = r["total"] / base["total"]
            r["check"] = "equal" if r.get("sha") == base.get("sha") else "DIFFERS"


def table(rows: list[dict[str, Any]], w2: list[dict[str, Any]], meta: dict[str, str]) -> str:
    out = [
        "| engine | N | load | eval | total | load ÷ parse floor | total ÷ parse floor | "
        "eval ÷ python | total ÷ python | peak RSS | violations |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "total" not in r:
            why = r.get("skipped") or r.get("error", "failed")
            out.append(f"| {r['engine']} | {r['n']:,} | {why} ||||||||| ")
            continue
        violations = "-" if r["engine"] in FLOORS else f"{r.get('violations', '-')} {r.get('check', '')}"
        out.append(
            f"| {r['engine']} | {r['n']:,} | {fmt_t(r['load'])} | {fmt_t(r['eval'])} | {fmt_t(r['total'])} | "
            f"{fmt_x(r.get('x_floor_load'))} | {fmt_x(r.get('x_floor'))} | {fmt_x(r.get('x_python_eval'))} | "
            f"{fmt_x(r.get('x_python_total'))} | {r['maxrss_mib']:.0f} MiB | {violations} |"
        )
    if w2:
        out += [
            "",
            "| engine | W2 decisions | p50 decision (bytes → pairs) | p99 decision | p50 eval | p99 eval "
            "| violations |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in w2:
            if "total_s" not in r:
                out.append(f"| {r['engine']} | {r.get('error', 'failed')} ||||||")
                continue
            s = summary(r)
            out.append(
                f"| {r['engine']} | {len(r['total_s'])} | {fmt_t(s['total_p50'])} | "
                f"{fmt_t(s['total_p99'])} | {fmt_t(s['eval_p50'])} | {fmt_t(s['eval_p99'])} | "
                f"{r['violations']} {r.get('check', '')} |"
            )
    out += ["", "Machine: " + ", ".join(f"{k} {v}" for k, v in meta.items())]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
