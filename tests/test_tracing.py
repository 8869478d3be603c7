"""OpenTelemetry spans around each connector pull, each evaluation and each admission decision.

The spans go through the OpenTelemetry API only. To see them without the SDK (an optional
extra), the test installs a small TracerProvider of its own through the API's public hook,
in a separate process so no other test sees it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r'''
import contextlib, json, sys
from opentelemetry import trace

names = []

class Span(trace.NonRecordingSpan):
    def __init__(self, name, attributes):
        super().__init__(trace.INVALID_SPAN_CONTEXT)
        self.attrs = dict(attributes or {})
        names.append((name, self.attrs))
    def set_attribute(self, key, value):
        self.attrs[key] = value

class Tracer(trace.Tracer):
    def start_span(self, name, context=None, kind=None, attributes=None, *args, **kwargs):
        return Span(name, attributes)
    @contextlib.contextmanager
    def start_as_current_span(self, name, context=None, kind=None, attributes=None, *args, **kwargs):
        yield Span(name, attributes)

class Provider(trace.TracerProvider):
    def get_tracer(self, *args, **kwargs):
        return Tracer()

trace.set_tracer_provider(Provider())

from regie.cli import app
try:
    app(["scan", "--config", "examples/ministry/regie.toml", "--today", "2026-11-29", "--format", "json"],
        standalone_mode=False)
except SystemExit:
    pass

from test_service_server import deployment, review
from regie.service.runtime import Service, ServiceOptions
from regie.service.webhook import handle_admission
import asyncio, orjson
service = Service(ServiceOptions(policies=["policies"], reload_interval=0))
service.start()
status, _ = asyncio.run(handle_admission(service, orjson.dumps(review(deployment()))))
service.close()
sys.stderr.write(json.dumps(names) + "\n")
'''


def test_pulls_evaluations_and_admission_decisions_have_spans() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests"), "NO_COLOR": "1"}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120,
        check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    spans = json.loads(run.stderr.strip().splitlines()[-1])
    names = [name for name, _ in spans]
    pulls = [attrs for name, attrs in spans if name == "regie.pull"]
    assert {p["regie.source.kind"] for p in pulls} == {"terraform", "k8s:manifests", "litellm", "saas"}
    assert all(p["regie.resources"] > 0 for p in pulls)
    assert "regie.evaluate" in names and "regie.admission" in names
    assert not any("EXAMPLE" in json.dumps(attrs) for _, attrs in spans)  # no secrets in span attributes
