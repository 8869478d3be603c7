"""`regie serve` and `regie token` as commands: a real process, signals, logs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
from test_service_server import deployment, review, wait_for, write_policies
from typer.testing import CliRunner

from regie.cli import app
from regie.service import hash_token

REGIE = [sys.executable, "-m", "regie"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_token_prints_a_new_token_once_and_its_hashed_entry() -> None:
    result = CliRunner().invoke(app, ["token", "grafana", "--role", "admin"])
    assert result.exit_code == 0, result.output
    token = next(line for line in result.stdout.splitlines() if line.startswith("regie_"))
    assert f"sha256: {hash_token(token)}" in result.stdout
    assert "name: grafana" in result.stdout and "role: admin" in result.stdout
    again = CliRunner().invoke(app, ["token", "grafana", "--stdin"], input=token + "\n")
    assert again.exit_code == 0
    assert token not in again.stdout  # hashing an existing token never echoes it
    assert f"sha256: {hash_token(token)}" in again.stdout


def test_serve_refuses_bad_options_with_exit_2() -> None:
    result = CliRunner().invoke(app, ["serve", "--tls-cert", "x.pem", "--no-builtin", "-p", "."])
    assert result.exit_code == 2
    assert "--tls-cert and --tls-key: give both, or neither" in result.stderr
    result = CliRunner().invoke(app, ["serve", "--deadline-ms", "60000"])
    assert result.exit_code == 2
    assert "--deadline-ms: expected 1 to 29000" in result.stderr


def test_serve_reloads_on_sighup_and_logs_json_without_attribute_values(tmp_path: Path) -> None:
    folder = write_policies(tmp_path / "p")
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen(
            [
                *REGIE,
                "serve",
                "--port",
                str(port),
                "--no-builtin",
                "-p",
                str(folder),
                "--reload-interval",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            base = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
                except httpx.TransportError:
                    return False

            assert wait_for(ready, timeout=30), log.read_text()
            first = httpx.get(f"{base}/readyz", timeout=5).json()["policy_set_hash"]
            obj = deployment(images=["ghcr.io/x/y:1"], labels={"team-secret": "SECRET-LABEL-VALUE"})
            answer = httpx.post(
                f"{base}/admission", content=orjson.dumps(review(obj, uid="cli-1")), timeout=5
            )
            assert answer.json()["response"]["allowed"] is False

            policy = folder / "test.regie"
            policy.write_text(policy.read_text().replace("names no owner", "has no owner"), encoding="utf-8")
            proc.send_signal(signal.SIGHUP)
            assert wait_for(
                lambda: httpx.get(f"{base}/readyz", timeout=5).json()["policy_set_hash"] != first, timeout=15
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(20)
    assert code == 0
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.strip()]
    decisions = [e for e in lines if e["message"] == "admission decision"]
    assert decisions[0]["uid"] == "cli-1" and decisions[0]["allowed"] is False
    assert decisions[0]["denied_by"] == ["test.images.eu_registry"]
    assert any(e["message"] == "reloading policies" and e["reason"] == "signal" for e in lines)
    assert "SECRET-LABEL-VALUE" not in log.read_text()
    assert "ghcr.io/x/y" not in log.read_text()
