"""Load `regie serve`'s admission webhook over loopback at a fixed request rate.

    .venv/bin/python bench/load.py                                  # 300 rps for 60 s, then in-process
    .venv/bin/python bench/load.py --rate 20 --duration 2 --warmup 0 --iterations 100 --json
    .venv/bin/python bench/load.py --target healthz --client httpx  # the generator's own cost

It starts `regie serve` (plain HTTP on a free loopback port, the built-in library, the
default ``--deadline-ms``) as a child process, waits for ``/readyz``, and sends
``bench/admission/deployment-review.json`` to ``POST /admission``.

The load is open-loop: request ``i`` is due at ``start + i / rate`` whatever happened to
the earlier ones, and its latency runs from that due time to the last byte of the
answer. A closed loop (send, wait, send) slows down with the server and so hides the
queueing a slow answer causes (coordinated omission); here a stall shows as the
latency of every request that was due during it. A request waits for a free
keep-alive connection of the pool (``--connections``), and that wait counts too.

An error is a status other than 200, a transport error, or no answer within
``--timeout``. The in-process figures time the webhook's own code on the same review
without HTTP: ``parse_review`` → ``decide`` (with the deadline's ``PolicyTimer``, as
the webhook calls it) → ``response_body``, and then ``handle_admission``, which adds
the evaluation thread pool, the metrics, the span and the JSON log line.

Two clients: ``raw`` (the default), a minimal HTTP/1.1 keep-alive client on asyncio
streams, and ``httpx`` (``AsyncClient`` with a pool of the same size). The report gives
the generator's CPU time per request and how late it sent (its lag behind the
schedule), so a generator that cannot keep up shows instead of passing as server latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
REVIEW = ROOT / "bench" / "admission" / "deployment-review.json"
CLK_TCK = os.sysconf("SC_CLK_TCK")

Send = Callable[[], Awaitable[tuple[int, bytes]]]


# --- the server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def regie_serve(extra: list[str], ready_timeout: float = 60.0) -> Iterator[tuple[int, int, Path]]:
    """`regie serve` on a free port: (port, pid, log file); stopped with SIGTERM on exit.

    It runs in an empty working directory, so no ``regie.toml`` of the caller's is read,
    and logs to a file: a pipe nobody reads would fill up and stall the server.
    """
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="regie-load-"))
    log_path = work / "serve.log"
    cmd = [sys.executable, "-m", "regie", "serve", "--host", "127.0.0.1", "--port", str(port), *extra]
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(cmd, cwd=work, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, port, log_path, ready_timeout)
        yield port, proc.pid, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path, timeout: float) -> None:
    end = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as client:
        while time.monotonic() < end:
            if proc.poll() is not None:
                raise SystemExit(
                    f"regie serve exited with {proc.returncode}:\n{log_path.read_text()[-2000:]}"
                )
            with contextlib.suppress(httpx.TransportError):
                if client.get("/readyz").status_code == 200:
                    return
            time.sleep(0.1)
    raise SystemExit(f"regie serve was not ready within {timeout:g} s:\n{log_path.read_text()[-2000:]}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


# --- the clients ---------------------------------------------------------------------------------


class RawConnection:
    """One HTTP/1.1 keep-alive connection on asyncio streams: only what uvicorn's answers need."""

    def __init__(self, port: int, request: bytes) -> None:
        self.port = port
        self.request = request
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def send(self) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length = None
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection" and value.strip().lower() == b"close":
                close = True
        if length is None:
            raise OSError("answer without Content-Length")  # uvicorn always sends one for these routes
        body = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class RawPool:
    """``size`` connections; a request waits for a free one (and that wait is part of its latency)."""

    def __init__(self, port: int, size: int, method: str, path: str, body: bytes) -> None:
        head = f"{method} {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
        if method == "POST":
            head += f"content-type: application/json\r\ncontent-length: {len(body)}\r\n"
        request = head.encode() + b"\r\n" + (body if method == "POST" else b"")
        self.free: asyncio.LifoQueue[RawConnection] = asyncio.LifoQueue()
        for _ in range(size):
            self.free.put_nowait(RawConnection(port, request))

    async def send(self) -> tuple[int, bytes]:
        conn = await self.free.get()
        try:
            return await conn.send()
        except BaseException:
            conn.close()  # a half-read answer must not be read as the next one's
            raise
        finally:
            self.free.put_nowait(conn)

    async def aclose(self) -> None:
        while not self.free.empty():
            self.free.get_nowait().close()


class HttpxPool:
    def __init__(self, port: int, size: int, method: str, path: str, body: bytes) -> None:
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        # The pool wait is bounded by the per-request timeout of run_load, not by httpx.
        self.client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=None)
        self.method = method
        self.path = path
        self.body = body if method == "POST" else None
        self.headers = {"content-type": "application/json"} if method == "POST" else {}

    async def send(self) -> tuple[int, bytes]:
        r = await self.client.request(self.method, self.path, content=self.body, headers=self.headers)
        return r.status_code, r.content

    async def aclose(self) -> None:
        await self.client.aclose()


# --- open-loop load ------------------------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int = 0
    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)  # seconds, from the due time, completed only
    lags: list[float] = field(default_factory=list)  # seconds the generator sent after the due time
    decisions: Counter[str] = field(default_factory=Counter)
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float | None = None


async def run_load(
    send: Send, rate: float, duration: float, timeout: float, judge: Callable[[bytes], str] | None
) -> LoadResult:
    """``rate * duration`` requests, request i due at start + i / rate; waits for the last one."""
    loop = asyncio.get_running_loop()
    result = LoadResult()
    total = round(rate * duration)
    tasks: set[asyncio.Task[None]] = set()

    async def one(due: float) -> None:
        result.lags.append(loop.time() - due)
        try:
            status, body = await asyncio.wait_for(send(), timeout)
        except TimeoutError:
            result.errors["timeout"] += 1
            return
        except (OSError, asyncio.IncompleteReadError, httpx.HTTPError) as err:
            result.errors[type(err).__name__] += 1
            return
        latency = loop.time() - due
        if status != 200:
            result.errors[f"status {status}"] += 1
            return
        result.completed += 1
        result.latencies.append(latency)
        if judge is not None:
            result.decisions[judge(body)] += 1

    cpu0 = _self_cpu()
    start = loop.time() + 0.01
    for i in range(total):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        result.sent += 1
    if tasks:
        await asyncio.wait(set(tasks))
    result.wall = loop.time() - start
    result.client_cpu = _self_cpu() - cpu0
    return result


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def admission_outcome(uid: str) -> Callable[[bytes], str]:
    """allowed, warned (allowed with warnings) or denied; "wrong uid" would be a webhook bug."""

    def judge(body: bytes) -> str:
        response = orjson.loads(body)["response"]
        if response.get("uid") != uid:
            return "wrong uid"
        if not response["allowed"]:
            return "denied"
        return "warned" if response.get("warnings") else "allowed"

    return judge


async def drive(
    port: int,
    args: argparse.Namespace,
    review: bytes,
    server_pid: int | None,
) -> tuple[LoadResult | None, LoadResult]:
    if args.target == "admission":
        method, path, body = "POST", "/admission", review
        judge: Callable[[bytes], str] | None = admission_outcome(orjson.loads(review)["request"]["uid"])
    else:
        method, path, body, judge = "GET", "/healthz", b"", None
    pool_type = RawPool if args.client == "raw" else HttpxPool
    pool = pool_type(port, args.connections, method, path, body)
    try:
        warm = None
        if args.warmup > 0:
            warm = await run_load(pool.send, args.rate, args.warmup, args.timeout, judge)
        cpu0 = cpu_seconds(server_pid) if server_pid else None
        measured = await run_load(pool.send, args.rate, args.duration, args.timeout, judge)
        if server_pid and cpu0 is not None:
            measured.server_cpu = cpu_seconds(server_pid) - cpu0
        return warm, measured
    finally:
        await pool.aclose()


# --- in process ----------------------------------------------------------------------------------


def in_process(review: bytes, iterations: int, deadline_ms: int) -> dict[str, dict[str, float]]:
    """Latency of the webhook's code on this review, without HTTP: seconds per percentile."""
    from regie.loading import BUILTIN_POLICIES
    from regie.service.admission import decide, parse_review, response_body
    from regie.service.deadline import Deadline, PolicyTimer
    from regie.service.logs import JsonFormatter
    from regie.service.runtime import Service, ServiceOptions
    from regie.service.webhook import handle_admission

    # As `regie serve` runs: a JSON log line per decision at level info, here into /dev/null.
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below, after the loop that logs
    handler = logging.StreamHandler(devnull)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved = root.handlers, root.level
    root.handlers, root.level = [handler], logging.INFO
    options = ServiceOptions(policies=[str(BUILTIN_POLICIES)], reload_interval=0, deadline_ms=deadline_ms)
    service = Service(options)
    try:
        snapshot = service.start()

        def decide_once() -> None:
            request = parse_review(review)["request"]
            decision = decide(
                request,
                snapshot,
                fail_closed=True,
                progress=PolicyTimer(Deadline(deadline_ms / 1000)),
                owned=True,  # as the webhook: the review is parsed for this decision alone
            )
            response_body(decision)

        decide_times = _time(decide_once, iterations)

        async def handler_times() -> list[float]:
            out = []
            for _ in range(iterations // 10 + iterations):
                t0 = time.perf_counter()
                status, _ = await handle_admission(service, review)
                out.append(time.perf_counter() - t0)
                assert status == 200
            return out[iterations // 10 :]

        handle_times = asyncio.run(handler_times())
        return {
            "decide": _summary(decide_times) | {"policies": len(snapshot.policy_set.policies)},
            "handle_admission": _summary(handle_times),
        }
    finally:
        service.close()
        root.handlers, root.level = saved
        devnull.close()


def _time(fn: Callable[[], None], iterations: int) -> list[float]:
    for _ in range(iterations // 10):
        fn()
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    gc.collect()
    return out


# --- the report ----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile: a value that was actually measured."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(rank) - 1]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "p99": percentile(values, 99),
        "max": max(values) if values else float("nan"),
        "mean": statistics.fmean(values) if values else float("nan"),
    }


def load_report(r: LoadResult) -> dict[str, Any]:
    errors = sum(r.errors.values())
    return {
        "sent": r.sent,
        "completed": r.completed,
        "errors": errors,
        "error_kinds": dict(r.errors),
        "seconds": r.wall,
        "throughput_rps": r.completed / r.wall if r.wall else 0.0,
        "latency": _summary(r.latencies),
        "generator_lag": _summary(r.lags),
        "decisions": dict(r.decisions),
        "client_cpu_ms_per_request": 1000 * r.client_cpu / r.sent if r.sent else None,
        "server_cpu_ms_per_request": 1000 * r.server_cpu / r.sent
        if r.sent and r.server_cpu is not None
        else None,
        "server_cpu_share": r.server_cpu / r.wall if r.wall and r.server_cpu is not None else None,
    }


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _pcts(s: dict[str, float]) -> str:
    return "  ".join(f"{k} {_ms(s[k])}" for k in ("p50", "p90", "p99", "max"))


def print_report(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    print(f"command: {report['command']}")
    load = report["load"]
    print(
        f"\n{report['target']} over HTTP ({report['client']} client, {report['connections']} connections): "
        f"{report['rate']:g} rps for {report['duration']:g} s after {report['warmup']:g} s of warm-up"
    )
    kinds = f" {load['error_kinds']}" if load["error_kinds"] else ""
    print(f"  sent {load['sent']}, completed {load['completed']}, errors {load['errors']}{kinds}")
    print(f"  throughput {load['throughput_rps']:.1f} rps over {load['seconds']:.2f} s")
    print(f"  latency   {_pcts(load['latency'])}")
    print(f"  generator lag behind schedule: {_pcts(load['generator_lag'])}")
    line = f"  CPU per request: generator {load['client_cpu_ms_per_request']:.3f} ms"
    server = load["server_cpu_ms_per_request"]
    if server is not None:
        line += f", server {server:.3f} ms (server busy {100 * load['server_cpu_share']:.0f} % of one core)"
    print(line)
    if load["decisions"]:
        print(f"  decisions: {', '.join(f'{k} {v}' for k, v in sorted(load['decisions'].items()))}")
    for name, s in report.get("in_process", {}).items():
        policies = f", {s['policies']} policies" if "policies" in s else ""
        print(f"\nin process, {name}: {s['n']} iterations{policies}\n  {_pcts(s)}")


def machine() -> str:
    py = platform.python_version()
    return f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, CPython {py}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--rate", type=float, default=300.0, help="requests per second (default 300)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds measured (default 60)")
    p.add_argument(
        "--warmup", type=float, default=5.0, help="seconds at the same rate, not counted (default 5)"
    )
    p.add_argument(
        "--connections", type=int, default=32, help="keep-alive connections in the pool (default 32)"
    )
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before a request counts as an error")
    p.add_argument("--client", choices=["raw", "httpx"], default="raw")
    p.add_argument("--target", choices=["admission", "healthz"], default="admission")
    p.add_argument("--review", type=Path, default=REVIEW, help="the AdmissionReview to send")
    p.add_argument("--iterations", type=int, default=2000, help="in-process decisions timed (0: skip)")
    p.add_argument("--port", type=int, help="drive a `regie serve` already on this loopback port")
    p.add_argument("--pid", type=int, help="with --port: the server's process id, for its CPU time")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    args = p.parse_args(argv)
    if args.rate <= 0 or args.duration <= 0 or args.connections < 1:
        p.error("--rate, --duration and --connections must be positive")

    review = args.review.read_bytes()
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join(["bench/load.py", *(argv if argv is not None else sys.argv[1:])]),
        "target": "POST /admission" if args.target == "admission" else "GET /healthz",
        "client": args.client,
        "rate": args.rate,
        "duration": args.duration,
        "warmup": args.warmup,
        "connections": args.connections,
    }
    if args.port:
        _, measured = asyncio.run(drive(args.port, args, review, args.pid))
    else:
        with regie_serve([]) as (port, pid, _):
            _, measured = asyncio.run(drive(port, args, review, pid))
    report["load"] = load_report(measured)
    if args.iterations > 0 and args.target == "admission":
        report["in_process"] = in_process(review, args.iterations, deadline_ms=2000)
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print_report(report)
    return 0 if report["load"]["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
