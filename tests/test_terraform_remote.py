"""Terraform's HTTP backend, against a local server on 127.0.0.1 serving a corpus state over real sockets."""

from __future__ import annotations

import base64
import contextlib
import os
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.terraform import pull
from regie.engine.catalog import Catalogs

ROOT = Path(__file__).resolve().parent.parent
STATES = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "tfstate"
PLANS = STATES.parent / "tfplan"


def _state_file() -> Path | None:
    """A version 4 corpus state with resources."""
    if not STATES.is_dir():
        return None
    for path in sorted(STATES.iterdir()):
        try:
            if pull(str(path), PullContext(catalogs=Catalogs(), env={})):
                return path
        except ConnectorError:
            continue
    return None


STATE = _state_file()
needs_corpus = pytest.mark.skipif(STATE is None, reason=f"no loadable state in {STATES}")

TOKEN = "t0ken-abc"
USER, PASSWORD = "gitlab-ci", "glpat-secret"


class Handler(BaseHTTPRequestHandler):
    body: bytes = b""

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes = b"") -> None:
        try:
            self.send_response(status)
        except (BrokenPipeError, ConnectionResetError):
            return
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            self.wfile.write(body)

    def do_GET(self) -> None:
        auth = self.headers.get("Authorization", "")
        basic = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        if self.path == "/state/open":
            self._send(200, self.body)
        elif self.path == "/state/bearer":
            self._send(200, self.body) if auth == f"Bearer {TOKEN}" else self._send(401)
        elif self.path == "/state/basic":
            self._send(200, self.body) if auth == basic else self._send(401)
        elif self.path == "/state/slow":
            time.sleep(2)
            self._send(200, self.body)
        elif self.path == "/state/empty":
            self._send(200)
        elif self.path == "/state/plan":
            self._send(200, (PLANS / "tfjson_basic.plan.json").read_bytes())
        elif self.path == "/state/v3":
            self._send(200, (STATES / "opentofu_v3-simple.tfstate").read_bytes())
        elif self.path == "/state/boom":
            self._send(500, b"oops")
        else:
            self._send(404)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    assert STATE is not None
    Handler.body = STATE.read_bytes()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def ctx(env: dict[str, str] | None = None, timeout: float = 5.0) -> PullContext:
    return PullContext(catalogs=Catalogs(), env=env or {}, timeout=timeout)


@needs_corpus
def test_a_state_over_http_reads_like_the_file(server: str) -> None:
    assert STATE is not None
    local = pull(str(STATE), ctx())
    remote = pull(f"{server}/state/open", ctx())
    assert [r.address for r in remote] == [r.address for r in local]
    assert remote[0].id.startswith(f"terraform:{server}/state/open#")


@needs_corpus
def test_bearer_token_from_the_environment(server: str) -> None:
    assert pull(f"{server}/state/bearer", ctx({"TF_HTTP_TOKEN": TOKEN}))
    with pytest.raises(ConnectorError) as info:
        pull(f"{server}/state/bearer", ctx({"TF_HTTP_TOKEN": "wrong"}))
    assert "HTTP 401" in info.value.message and "TF_HTTP_TOKEN" in info.value.message
    assert "wrong" not in str(info.value)


@needs_corpus
def test_basic_auth_from_terraforms_variables(server: str) -> None:
    env = {"TF_HTTP_USERNAME": USER, "TF_HTTP_PASSWORD": PASSWORD}
    assert pull(f"{server}/state/basic", ctx(env))
    with pytest.raises(ConnectorError) as info:
        pull(f"{server}/state/basic", ctx())
    assert "HTTP 401" in info.value.message and "no credentials" in info.value.message


@needs_corpus
def test_credentials_in_the_url_are_used_and_never_shown(server: str) -> None:
    url = server.replace("http://", f"http://{USER}:{PASSWORD}@") + "/state/basic"
    resources = pull(url, ctx())
    assert resources and all(PASSWORD not in r.id for r in resources)
    with pytest.raises(ConnectorError) as info:
        pull(server.replace("http://", f"http://{USER}:{PASSWORD}@") + "/nothing", ctx())
    assert PASSWORD not in str(info.value)


@needs_corpus
def test_404_and_other_statuses(server: str) -> None:
    with pytest.raises(ConnectorError, match="no state at this address"):
        pull(f"{server}/nothing", ctx())
    with pytest.raises(ConnectorError, match="HTTP 500"):
        pull(f"{server}/state/boom", ctx())
    with pytest.raises(ConnectorError, match="holds no state"):
        pull(f"{server}/state/empty", ctx())


@needs_corpus
def test_a_slow_backend_times_out(server: str) -> None:
    with pytest.raises(ConnectorError) as info:
        pull(f"{server}/state/slow", ctx(timeout=0.3))
    assert "within 0.3s" in info.value.message


@needs_corpus
def test_the_http_client_factory_is_used(server: str) -> None:
    built: list[httpx.Client] = []

    def factory() -> httpx.Client:
        client = httpx.Client(timeout=5.0)
        built.append(client)
        return client

    context = PullContext(catalogs=Catalogs(), env={"TF_HTTP_TOKEN": TOKEN}, http_client=factory)
    assert pull(f"{server}/state/bearer", context)
    assert len(built) == 1


@needs_corpus
def test_version_3_and_plans_over_http(server: str) -> None:
    with pytest.raises(ConnectorError, match="version 3"):
        pull(f"{server}/state/v3", ctx())
    assert {r.action for r in pull(f"{server}/state/plan", ctx())} == {"create"}


def test_connection_refused_is_a_clear_error() -> None:
    with pytest.raises(ConnectorError, match="cannot reach the HTTP backend"):
        pull("http://127.0.0.1:9/state", ctx(timeout=2.0))
