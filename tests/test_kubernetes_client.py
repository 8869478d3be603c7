"""The live-cluster connector against a local HTTPS API server that replays recorded list responses.

Certificates (a CA, a server certificate for 127.0.0.1, a client certificate) are made
with `openssl` for the session; requests go over real sockets with real TLS.
"""
# ruff: noqa: E501, RUF043

from __future__ import annotations

import base64
import json
import logging
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.kubernetes import ClusterConfig, in_cluster_config, load_kubeconfig, pull_in_cluster
from regie.connectors.kubernetes.client import ClusterPull, pull_cluster, pull_context
from regie.dsl.values import Unknown
from regie.loading import load_catalogs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "kubernetes"
TOKEN = "s3cr3t-bearer-token"

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="openssl is needed to make certificates"
)


@dataclass
class Certs:
    ca: str
    server_cert: Path
    server_key: Path
    client_cert: str
    client_key: str
    ca_path: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    d = tmp_path_factory.mktemp("pki")
    (d / "ca.cnf").write_text(
        "[req]\ndistinguished_name=dn\n[dn]\n[ext]\nbasicConstraints=critical,CA:TRUE\n"
        "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n"
    )
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
        "-subj", "/CN=regie-test-ca", "-config", "ca.cnf", "-extensions", "ext", cwd=d,
    )  # fmt: skip
    for name, ext in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        (d / f"{name}.ext").write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n" + ext
        )
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={name}", cwd=d)  # fmt: skip
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
                 "-out", f"{name}.crt", "-days", "2", "-extfile", f"{name}.ext", cwd=d)  # fmt: skip
    return Certs(
        ca=(d / "ca.crt").read_text(),
        server_cert=d / "server.crt",
        server_key=d / "server.key",
        client_cert=(d / "client.crt").read_text(),
        client_key=(d / "client.key").read_text(),
        ca_path=d / "ca.crt",
    )


NOT_FOUND = b'{"kind":"Status","message":"the server could not find the requested resource"}'


class JsonHandler(BaseHTTPRequestHandler):
    """A recorded API server's handler: JSON replies, no request log."""

    def reply(self, status: int, body: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client gave up (a timeout test): nothing to answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_tls(
    handler: type[BaseHTTPRequestHandler], certs: Certs, *, client_certs: bool = False
) -> Iterator[str]:
    """``handler`` over HTTPS on a free loopback port with the test server certificate (asking
    for, not requiring, a client certificate with ``client_certs``); yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(certs.server_cert, certs.server_key)
    if client_certs:
        tls.load_verify_locations(cadata=certs.ca)
        tls.verify_mode = ssl.CERT_OPTIONAL
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ApiServer:
    """Replays fixtures by path; `overrides` maps a path (and continue token) to (status, file or body, delay)."""

    url: str = ""
    requests: list[tuple[str, dict[str, list[str]], str | None, str | None]] = field(default_factory=list)
    overrides: dict[tuple[str, str | None], list[tuple[int, str, float]]] = field(default_factory=dict)


def _route(path: str, token: str | None) -> str:
    plural = path.rsplit("/", 1)[-1]
    if plural == "deployments":
        return "deployments-2.json" if token else "deployments-1.json"
    return f"{plural}.json"


@pytest.fixture
def api(certs: Certs) -> Iterator[ApiServer]:
    state = ApiServer()

    class Handler(JsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            token = query.get("continue", [None])[0]
            peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
            subject = None
            for rdn in peer["subject"] if peer else ():
                for key, value in rdn:  # type: ignore[str-unpack]
                    if key == "commonName":
                        subject = str(value)
            state.requests.append((url.path, query, self.headers.get("Authorization"), subject))
            status, name, delay = 200, _route(url.path, token), 0.0
            queued = state.overrides.get((url.path, token))
            if queued:
                status, name, delay = queued.pop(0)
            if delay:
                time.sleep(delay)
            if self.headers.get("Authorization") != f"Bearer {TOKEN}" and subject != "client":
                status, name = 401, "status-401.json"
            path = FIXTURES / name
            body = path.read_bytes() if path.exists() else name.encode()
            if not path.exists() and status == 200 and not name.startswith("{"):
                status, body = 404, NOT_FOUND
            self.reply(status, body)

    with serve_tls(Handler, certs, client_certs=True) as url:
        state.url = url
        yield state


@pytest.fixture(scope="module")
def ctx() -> PullContext:
    return PullContext(catalogs=load_catalogs(), env={}, timeout=5.0)


def config(api: ApiServer, certs: Certs, **kw: Any) -> ClusterConfig:
    return ClusterConfig(name="prod", server=api.url, **{"ca_pem": certs.ca, "token": TOKEN, **kw})


def test_lists_everything_with_pagination(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    resources = pull_cluster(config(api, certs), ctx, page_size=1)
    by_id = {r.id: r for r in resources}
    api_dep = by_id["k8s:prod/apps/v1/Deployment/payments/api"]
    assert api_dep.kind == "kubernetes.workload" and api_dep.type == "apps/v1/Deployment"
    assert "k8s:prod/apps/v1/Deployment/payments/web" in by_id  # from the second page
    deployment_calls = [q for p, q, _, _ in api.requests if p == "/apis/apps/v1/deployments"]
    assert [q.get("limit") for q in deployment_calls] == [["1"], ["1"]]
    assert "continue" in deployment_calls[1]
    # nodes → cluster provider/region/country, inherited by workloads
    assert (api_dep.provider, api_dep.region, api_dep.country) == ("aws", "eu-central-1", "DE")
    # namespace labels → ownership
    assert (api_dep.service, api_dep.classification, api_dep.vital) == ("betalingen", "BBN2", True)
    # every kind listed, the token sent, secrets gone
    paths = {p for p, _, _, _ in api.requests}
    assert {
        "/api/v1/nodes",
        "/api/v1/pods",
        "/apis/batch/v1/cronjobs",
        "/apis/networking.k8s.io/v1/ingresses",
    } <= paths
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth, _ in api.requests)
    dumped = json.dumps([r.to_dict() for r in resources], default=str)
    assert "hunter2" not in dumped
    image = by_id["k8s:prod/apps/v1/Deployment/payments/api#image:api"]
    assert image.provider == "*.dkr.ecr.*.amazonaws.com" and image.country == "US"
    model = by_id["k8s:prod/apps/v1/Deployment/default/llm#model:llm"]
    assert model.kind == "ai.model" and model.attributes["server"] == "vllm"


def test_expired_continue_token_restarts_once(
    api: ApiServer, certs: Certs, ctx: PullContext, caplog: pytest.LogCaptureFixture
) -> None:
    token = json.loads((FIXTURES / "deployments-1.json").read_text())["metadata"]["continue"]
    api.overrides[("/apis/apps/v1/deployments", token)] = [(410, "status-410.json", 0.0)]
    report = ClusterPull()
    with caplog.at_level(logging.WARNING, logger="regie.connectors.kubernetes"):
        resources = pull_cluster(config(api, certs), ctx, page_size=1, report=report)
    assert report.restarted == ["/apis/apps/v1/deployments"]
    assert "410" in caplog.text and "from the start" in caplog.text
    ids = [r.id for r in resources if r.type == "apps/v1/Deployment"]
    assert len(ids) == len(set(ids)) == 3  # the first page is not counted twice


def test_expired_twice_is_an_error(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    token = json.loads((FIXTURES / "deployments-1.json").read_text())["metadata"]["continue"]
    api.overrides[("/apis/apps/v1/deployments", token)] = [(410, "status-410.json", 0.0)] * 2
    with pytest.raises(ConnectorError, match="410 Gone"):
        pull_cluster(config(api, certs), ctx, page_size=1)


def test_401(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    with pytest.raises(ConnectorError, match="401 Unauthorized.*log in again") as err:
        pull_cluster(config(api, certs, token="wrong"), ctx)
    assert "wrong" not in str(err.value)


def test_403(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    api.overrides[("/apis/apps/v1/deployments", None)] = [(403, "status-403.json", 0.0)]
    with pytest.raises(ConnectorError, match="403 Forbidden.*cannot list resource.*ClusterRole"):
        pull_cluster(config(api, certs), ctx)


def test_404(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    api.overrides[("/apis/batch/v1/cronjobs", None)] = [(200, "no-such-fixture", 0.0)]
    with pytest.raises(ConnectorError, match="/apis/batch/v1/cronjobs: 404 Not Found"):
        pull_cluster(config(api, certs), ctx)


def test_slow_answer_hits_the_timeout(api: ApiServer, certs: Certs) -> None:
    api.overrides[("/api/v1/nodes", None)] = [(200, "nodes.json", 2.0)]
    fast = PullContext(catalogs=load_catalogs(), env={}, timeout=0.3)
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="no answer within the timeout"):
        pull_cluster(config(api, certs), fast)
    assert time.monotonic() - started < 1.5


def test_connection_refused(certs: Certs, ctx: PullContext) -> None:
    cfg = ClusterConfig(name="gone", server="https://127.0.0.1:9", ca_pem=certs.ca, token=TOKEN)
    with pytest.raises(ConnectorError, match="cannot connect to https://127.0.0.1:9"):
        pull_cluster(cfg, ctx)


def test_unknown_ca_is_refused_unless_insecure(api: ApiServer, ctx: PullContext) -> None:
    with pytest.raises(ConnectorError, match="cannot connect.*CERTIFICATE_VERIFY_FAILED"):
        pull_cluster(ClusterConfig(name="x", server=api.url, token=TOKEN), ctx)
    assert pull_cluster(ClusterConfig(name="x", server=api.url, token=TOKEN, insecure=True), ctx)


def _kubeconfig(tmp_path: Path, api: ApiServer, certs: Certs, user: dict[str, Any]) -> dict[str, str]:
    b64 = base64.b64encode(certs.ca.encode()).decode()
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "other",
        "clusters": [
            {"name": "prod-cluster", "cluster": {"server": api.url, "certificate-authority-data": b64}},
            {"name": "other-cluster", "cluster": {"server": "https://127.0.0.1:9"}},
        ],
        "users": [{"name": "prod-user", "user": user}],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod-cluster", "user": "prod-user"}},
            {"name": "other", "context": {"cluster": "other-cluster", "user": "prod-user"}},
        ],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(cfg))  # JSON is YAML
    return {"KUBECONFIG": str(tmp_path / "missing") + ":" + str(path), "HOME": str(tmp_path)}


def test_kubeconfig_context_with_token(tmp_path: Path, api: ApiServer, certs: Certs) -> None:
    env = _kubeconfig(tmp_path, api, certs, {"token": TOKEN})
    resources = pull_context("prod", PullContext(catalogs=load_catalogs(), env=env, timeout=5.0))
    assert any(r.id == "k8s:prod/v1/Service/payments/api" for r in resources)
    assert load_kubeconfig(None, env).server == "https://127.0.0.1:9"  # current-context
    with pytest.raises(ConnectorError, match="no context `nope`.*contexts: other, prod"):
        load_kubeconfig("nope", env)


def test_kubeconfig_client_certificate_files(tmp_path: Path, api: ApiServer, certs: Certs) -> None:
    (tmp_path / "c.crt").write_text(certs.client_cert)
    (tmp_path / "c.key").write_text(certs.client_key)
    env = _kubeconfig(tmp_path, api, certs, {"client-certificate": "c.crt", "client-key": "c.key"})
    resources = pull_context("prod", PullContext(catalogs=load_catalogs(), env=env, timeout=5.0))
    assert resources
    assert {subject for _, _, _, subject in api.requests} == {"client"}


def test_kubeconfig_exec_plugin(tmp_path: Path, api: ApiServer, certs: Certs) -> None:
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os, sys\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "assert info['kind'] == 'ExecCredential' and os.environ['EXTRA'] == 'yes'\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential',\n"
        f"  'status': {{'token': {TOKEN!r}, 'expirationTimestamp': '2030-01-01T00:00:00Z'}}}}))\n"
    )
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(plugin)],
            "env": [{"name": "EXTRA", "value": "yes"}],
            "interactiveMode": "Never",
        }
    }
    env = _kubeconfig(tmp_path, api, certs, user)
    assert pull_context("prod", PullContext(catalogs=load_catalogs(), env=env, timeout=5.0))
    failing = {"exec": {**user["exec"], "args": ["-c", "import sys; sys.exit('no login')"]}}
    env = _kubeconfig(tmp_path, api, certs, failing)
    with pytest.raises(ConnectorError, match="failed \\(1\\): no login"):
        load_kubeconfig("prod", env)
    missing = {"exec": {"command": "regie-no-such-plugin", "installHint": "install it"}}
    with pytest.raises(ConnectorError, match="not found: install it"):
        load_kubeconfig("prod", _kubeconfig(tmp_path, api, certs, missing))


def test_no_kubeconfig(tmp_path: Path) -> None:
    with pytest.raises(ConnectorError, match="no kubeconfig found"):
        load_kubeconfig("prod", {"HOME": str(tmp_path)})


def test_in_cluster(tmp_path: Path, api: ApiServer, certs: Certs) -> None:
    (tmp_path / "token").write_text(TOKEN + "\n")
    (tmp_path / "ca.crt").write_text(certs.ca)
    port = api.url.rsplit(":", 1)[1]
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": port}
    ctx = PullContext(catalogs=load_catalogs(), env=env, timeout=5.0)
    resources = pull_in_cluster("", ctx, root=tmp_path)
    assert any(r.id.startswith("k8s:in-cluster/apps/v1/Deployment/") for r in resources)
    assert "token" not in repr(in_cluster_config(env, tmp_path))
    with pytest.raises(ConnectorError, match="not in a pod"):
        in_cluster_config({}, tmp_path)
    with pytest.raises(ConnectorError, match="cannot read the service account"):
        in_cluster_config(env, tmp_path / "missing")


def test_unknown_nodes_give_unknown_location(api: ApiServer, certs: Certs, ctx: PullContext) -> None:
    body = json.dumps({"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": [
        {"metadata": {"name": "n1"}, "spec": {"providerID": "openstack:///4f1a"}}]})  # fmt: skip
    api.overrides[("/api/v1/nodes", None)] = [(200, body, 0.0)]
    resources = pull_cluster(config(api, certs), ctx)
    dep = next(r for r in resources if r.type == "apps/v1/Deployment")
    assert isinstance(dep.provider, Unknown) and "operator" in dep.provider.reason
