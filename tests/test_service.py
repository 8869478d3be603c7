"""`regie serve` over real sockets: the admission webhook, the /v1 API, tokens, metrics, reload."""
# ruff: noqa: E501

from __future__ import annotations

import datetime as dt
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from test_service_server import (
    CORPUS,
    EU_IMAGE,
    SLOW_POLICY,
    Recorder,
    Running,
    corpus_review,
    deployment,
    review,
    running,
    wait_for,
    write_policies,
)

from regie.loading import BUILTIN_POLICIES
from regie.service import ServiceOptions, hash_token
from regie.service.admission import MAX_STATUS_CHARS, MAX_WARNING_CHARS, MAX_WARNINGS_CHARS, bound_warnings
from regie.service.models import CatalogResponse, EvaluateResponse, PoliciesResponse, Readiness

needs_corpus = pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus not found")

READER = "regie_reader-token-for-tests"
ADMIN = "regie_admin-token-for-tests"


def tokens_file(folder: Path) -> Path:
    path = folder / "tokens.yaml"
    path.write_text(
        "tokens:\n"
        f"  - {{name: dashboard, role: reader, sha256: {hash_token(READER)}}}\n"
        f"  - {{name: officer, role: admin, sha256: {hash_token(ADMIN)}}}\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("service")
    policies = write_policies(folder / "policies")
    recorder = Recorder()
    options = ServiceOptions(
        policies=[str(policies)],  # the built-in library is tested in test_library.py and below
        tokens=str(tokens_file(folder)),
        max_body=64 * 1024,
        reload_interval=0,
    )
    with running(options, recorder) as r:
        r.recorder = recorder  # type: ignore[attr-defined]
        yield r


def admit(server: Running, body: Any, **kwargs: Any) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    return httpx.post(f"{server.base}/admission", content=content, headers=headers, timeout=10, **kwargs)


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


# --- admission -----------------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("name", sorted(p.name for p in CORPUS.glob("*.json")) if CORPUS.is_dir() else [])
def test_every_corpus_review_gets_an_admission_review_back(server: Running, name: str) -> None:
    sent = corpus_review(name)
    answer = admit(server, sent)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["apiVersion"] == "admission.k8s.io/v1"
    assert body["kind"] == "AdmissionReview"
    assert body["response"]["uid"] == sent["request"]["uid"]
    assert isinstance(body["response"]["allowed"], bool)
    for warning in body["response"].get("warnings", []):
        assert len(warning) <= MAX_WARNING_CHARS
    if sent["request"]["operation"] == "DELETE":
        assert body["response"] == {"uid": sent["request"]["uid"], "allowed": True}


@needs_corpus
def test_a_us_registry_image_is_denied_with_policy_message_and_source(server: Running) -> None:
    answer = admit(server, corpus_review("kubewarden_deployment.admissionreview.json")).json()["response"]
    assert answer["allowed"] is False
    status = answer["status"]
    assert (status["status"], status["code"], status["reason"]) == ("Failure", 403, "Forbidden")
    message = status["message"]
    assert message.startswith("Regie denied Deployment default/nginx: 1 policy violation")
    assert "test.images.eu_registry [image:nginx] (high)" in message
    assert "ghcr.io/nginx/nginx-unprivileged:1.29.0-alpine-perl comes from a registry under US law" in message
    assert "(source: CSBN 2025, risk 1 (extraterritorial law))" in message
    # warn-level findings come along as warnings, advisory ones not at all
    assert any("test.workloads.owner" in w for w in answer["warnings"])
    assert not any("test.workloads.service" in w for w in answer["warnings"])


def test_an_eu_pinned_owned_deployment_is_allowed_without_warnings(server: Running) -> None:
    obj = deployment(labels={"regie.dev/owner": "team-payments", "app.kubernetes.io/part-of": "payments"})
    answer = admit(server, review(obj, uid="uid-clean")).json()["response"]
    assert answer == {"uid": "uid-clean", "allowed": True}


def test_warn_level_findings_allow_with_warnings(server: Running) -> None:
    obj = deployment(images=["rg.nl-ams.scw.cloud/ministry/api:1.0"])
    answer = admit(server, review(obj, uid="uid-warn")).json()["response"]
    assert answer["allowed"] is True
    assert "status" not in answer
    assert answer["warnings"] == [
        "Regie test.images.digest [image:c0]: image rg.nl-ams.scw.cloud/ministry/api:1.0 is not pinned by "
        "digest (source: BIO2 8.19)",
        "Regie test.workloads.owner: workload api names no owner (label regie.dev/owner) (source: BIO2 5.9)",
    ]


def test_many_findings_stay_within_the_api_servers_warning_and_message_limits(server: Running) -> None:
    images = [f"ghcr.io/example/{'very-long-name-' * 8}{i}:latest" for i in range(120)]
    answer = admit(server, review(deployment(images=images), uid="uid-many")).json()["response"]
    assert answer["allowed"] is False
    assert len(answer["status"]["message"]) <= MAX_STATUS_CHARS
    assert answer["status"]["message"].splitlines()[-1].startswith("- … and ")
    warnings = answer["warnings"]
    assert all(len(w) <= MAX_WARNING_CHARS for w in warnings)
    assert sum(len(w) for w in warnings) <= MAX_WARNINGS_CHARS
    assert warnings[-1].startswith("Regie: ") and "more warning(s) not shown" in warnings[-1]


def test_bound_warnings_deduplicates_cuts_and_caps() -> None:
    out = bound_warnings(["a\nb", "a\nb", "x" * 1000, *[f"w{i}" * 40 for i in range(100)]])
    assert out[0] == "a b"
    assert len(out[1]) == MAX_WARNING_CHARS and out[1].endswith("…")
    assert sum(len(w) for w in out) <= MAX_WARNINGS_CHARS
    assert out[-1].startswith("Regie: ") and len(set(out)) == len(out)


def test_delete_is_allowed_without_evaluation_and_not_recorded(server: Running) -> None:
    calls = len(server.recorder.calls)  # type: ignore[attr-defined]
    sent = review(deployment(images=["ghcr.io/x/y:1"]), operation="DELETE", uid="uid-del", old=deployment())
    answer = admit(server, sent).json()
    assert answer["response"] == {"uid": "uid-del", "allowed": True}
    time.sleep(0.1)
    assert len(server.recorder.calls) == calls  # type: ignore[attr-defined]


def test_dry_run_is_evaluated_but_not_recorded(server: Running) -> None:
    rec: Recorder = server.recorder  # type: ignore[attr-defined]
    bad = deployment(images=["ghcr.io/x/y:1"])
    before = len(rec.calls)
    dry = admit(server, review(bad, uid="uid-dry", dry_run=True)).json()["response"]
    assert dry["allowed"] is False  # evaluated all the same
    real = admit(server, review(bad, uid="uid-real")).json()["response"]
    assert real["allowed"] is False
    assert wait_for(lambda: len(rec.calls) > before)
    time.sleep(0.1)
    recorded = [call for call in rec.calls[before:]]
    assert [c[0]["uid"] for c in recorded] == ["uid-real"]
    _, allowed, violations, policy_hash = recorded[0]
    assert allowed is False
    assert {v.policy for v in violations} >= {"test.images.eu_registry", "test.workloads.service"}
    assert policy_hash == server.service.holder.current.hash


@pytest.mark.parametrize(
    ("body", "field", "expected"),
    [
        (b"", "body", "empty"),
        (b'{"apiVersion": ', "body", "invalid JSON at line 1"),
        (b"[1, 2]", "body", "expected a JSON object"),
        (b'{"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview"}', "apiVersion", "admission.k8s.io/v1"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "ConversionReview"}', "kind", "AdmissionReview"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}', "request", "AdmissionRequest"),
        (b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}}', "request.uid", "non-empty"),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "PATCH"}}',
            "request.operation",
            "CREATE, UPDATE",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "CREATE"}}',
            "request.object",
            "needs `object`",
        ),
        (
            b'{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {"uid": "u", "operation": "CREATE", "dryRun": "yes"}}',
            "request.dryRun",
            "true or false",
        ),
    ],
)  # fmt: skip
def test_malformed_reviews_get_400_naming_the_field(
    server: Running, body: bytes, field: str, expected: str
) -> None:
    answer = admit(server, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()
    assert error["error"] == "bad AdmissionReview"
    assert error["field"] == field
    assert expected in error["message"]


def test_oversized_bodies_are_refused_while_reading(server: Running) -> None:
    big = orjson.dumps(review(deployment(labels={"x": "y" * 70_000})))
    answer = admit(server, big)
    assert answer.status_code == 400
    assert answer.json()["field"] == "body" and "--max-body" in answer.json()["message"]

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming
        for i in range(0, len(big), 8192):
            yield big[i : i + 8192]

    streamed = httpx.post(f"{server.base}/admission", content=chunks(), timeout=10)
    assert streamed.status_code == 400
    assert "larger than 65536 bytes" in streamed.json()["message"]
    # a lying Content-Length is refused before a byte of the body is read
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /admission HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n")
        head = s.recv(4096)
    assert head.startswith(b"HTTP/1.1 400")


def test_a_stalled_body_times_out_instead_of_hanging(tmp_path: Path) -> None:
    options = ServiceOptions(
        policies=[str(write_policies(tmp_path / "p"))], read_timeout=0.5, reload_interval=0
    )
    with running(options) as r, socket.create_connection(("127.0.0.1", r.port), timeout=10) as s:
        s.sendall(b"POST /admission HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        started = time.monotonic()
        head = s.recv(4096)
        assert head.startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 5


# --- deadline --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_a_slow_policy_set_answers_by_the_failure_mode_at_the_deadline(tmp_path: Path, mode: str) -> None:
    policies = write_policies(tmp_path / "p", extra=SLOW_POLICY)
    options = ServiceOptions(
        policies=[str(policies)],
        deadline_ms=100,
        failure_mode=mode,
        reload_interval=0,  # type: ignore[arg-type]
    )
    images = [f"{EU_IMAGE[:-3]}{i:03d}" for i in range(2500)]
    with running(options) as r:
        started = time.monotonic()
        answer = admit(r, review(deployment(images=images), uid=f"uid-slow-{mode}"))
        took = time.monotonic() - started
        assert answer.status_code == 200
        response = answer.json()["response"]
        assert response["uid"] == f"uid-slow-{mode}"
        if mode == "open":
            assert response["allowed"] is True
            assert "exceeded its deadline of 100 ms" in response["warnings"][0]
            assert "failure mode open" in response["warnings"][0]
        else:
            assert response["allowed"] is False
            assert response["status"]["code"] == 503
            assert "denied because its failure mode is closed" in response["status"]["message"]
        assert took < 2.0, took
        assert r.service.metrics.deadline_hits.value(mode) == 1
        assert r.service.metrics.decisions.value(f"fail_{mode}") == 1


# --- evaluation API, policies, catalogues ----------------------------------------------------------


def test_evaluate_facts_returns_violations_as_regie_eval_does(server: Running) -> None:
    facts = {
        "resources": [
            {
                "id": "k8s:img",
                "kind": "container.image",
                "name": "ghcr.io/x/y:1",
                "attributes": {"jurisdiction": "US"},
            },
            {"id": "k8s:api", "kind": "kubernetes.workload", "name": "api", "owner": "team-a"},
        ]
    }
    answer = httpx.post(
        f"{server.base}/v1/evaluate",
        json={"resources": facts["resources"], "context": "ci", "today": "2026-06-01"},
        headers=auth(READER),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    body = EvaluateResponse.model_validate(answer.json())
    assert body.context == "ci"
    assert body.summary.resources == 2
    assert body.policy_set_hash == server.service.holder.current.hash
    found = {(v.policy, v.resource, v.enforcement) for v in body.violations}
    assert found == {
        ("test.images.eu_registry", "k8s:img", "warn"),  # deny at admission, warn in ci
        ("test.images.digest", "k8s:img", "warn"),
        ("test.workloads.service", "k8s:api", "advisory"),
    }
    assert all(v.source for v in body.violations)
    assert body.summary.blocking == 0

    only = httpx.post(
        f"{server.base}/v1/evaluate",
        json={"resources": facts["resources"], "policies": ["test.workloads.owner"]},
        headers=auth(READER),
        timeout=30,
    ).json()
    assert only["summary"]["policies"] == 1


@pytest.mark.parametrize(
    ("payload", "field", "text"),
    [
        ({"resources": [{"id": "a"}, {"kind": "x"}]}, "resources[1]", "non-empty string `id`"),
        ({"resources": [], "policies": ["test.workloads.ownr"]}, "policies[0]", "did you mean `test.workloads.owner`"),
        ({"resources": [], "context": "prod"}, "context", "'ci', 'admission' or 'audit'"),
        ({"resources": "all"}, "resources", "valid list"),
        ({"facts": []}, "resources", "Field required"),
    ],
)  # fmt: skip
def test_bad_evaluate_requests_get_400_naming_the_field(
    server: Running, payload: dict[str, Any], field: str, text: str
) -> None:
    answer = httpx.post(f"{server.base}/v1/evaluate", json=payload, headers=auth(READER), timeout=10)
    assert answer.status_code == 400, answer.text
    assert answer.json()["field"] == field
    assert text in answer.json()["message"]


def test_policies_lists_what_is_in_force(server: Running) -> None:
    body = PoliciesResponse.model_validate(
        httpx.get(f"{server.base}/v1/policies", headers=auth(READER), timeout=10).json()
    )
    by_id = {p.id: p for p in body.policies}
    image = by_id["test.images.eu_registry"]
    assert image.titles == {"en": "Images from a registry under EU jurisdiction"}
    assert image.requirements == ["CLOUD-01"]
    assert image.enforcement.model_dump() == {
        "default": "warn",
        "ci": "warn",
        "admission": "deny",
        "audit": "warn",
    }
    assert by_id["test.workloads.service"].params[0].model_dump() == {
        "name": "label",
        "type": "str",
        "value": "app.kubernetes.io/part-of",
    }
    assert len(by_id) == len(server.service.holder.current.policy_set.policies)


def test_catalog_shows_entries_with_their_origin(server: Running) -> None:
    body = CatalogResponse.model_validate(
        httpx.get(f"{server.base}/v1/catalog/registries", headers=auth(READER), timeout=10).json()
    )
    assert body.entries["ghcr.io"]["jurisdiction"] == "US"
    assert body.entries["ghcr.io"]["origin"] == "built-in"
    missing = httpx.get(f"{server.base}/v1/catalog/registry", headers=auth(READER), timeout=10)
    assert missing.status_code == 404
    assert "did you mean `registries`" in missing.json()["message"]


def test_openapi_documents_every_model_field(server: Running) -> None:
    schema = httpx.get(f"{server.base}/openapi.json", timeout=10).json()
    for path in ("/admission", "/v1/evaluate", "/v1/policies", "/v1/catalog/{name}", "/readyz", "/metrics"):
        assert path in schema["paths"]
    undocumented = [
        f"{name}.{field}"
        for name, model in schema["components"]["schemas"].items()
        if name not in ("HTTPValidationError", "ValidationError")
        for field, spec in model.get("properties", {}).items()
        if "description" not in spec
    ]
    assert undocumented == []
    assert "AdmissionReviewIn" in schema["components"]["schemas"]


# --- access --------------------------------------------------------------------------------------


def test_api_needs_a_token_and_the_right_one(server: Running) -> None:
    url = f"{server.base}/v1/policies"
    missing = httpx.get(url, timeout=10)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "missing bearer token" in missing.json()["message"]
    wrong = httpx.get(url, headers=auth("regie_not-a-token"), timeout=10)
    assert (wrong.status_code, wrong.json()["error"]) == (401, "unauthorized")
    basic = httpx.get(url, headers={"authorization": "Basic dXNlcjpwdw=="}, timeout=10)
    assert basic.status_code == 401
    assert httpx.get(url, headers=auth(ADMIN), timeout=10).status_code == 200  # admin can read too
    assert httpx.get(f"{server.base}/healthz", timeout=10).json() == {"status": "ok"}
    ready = Readiness.model_validate(httpx.get(f"{server.base}/readyz", timeout=10).json())
    assert ready.ready and not ready.stale


def test_a_reader_token_is_forbidden_what_needs_admin(server: Running) -> None:
    from regie.service.auth import AuthError

    store = server.service.tokens
    assert store.authenticate(f"Bearer {ADMIN}", "admin").name == "officer"
    with pytest.raises(AuthError) as err:
        store.authenticate(f"Bearer {READER}", "admin")
    assert err.value.status == 403
    assert "role reader; this needs admin" in err.value.message


def test_without_a_tokens_file_the_api_refuses_and_says_how_but_admission_works(tmp_path: Path) -> None:
    options = ServiceOptions(policies=[str(write_policies(tmp_path / "p"))], reload_interval=0)
    with running(options) as r:
        answer = httpx.get(f"{r.base}/v1/policies", headers=auth(READER), timeout=10)
        assert answer.status_code == 401
        assert "no API tokens configured" in answer.json()["message"]
        assert "regie token" in answer.json()["message"]
        assert httpx.get(f"{r.base}/metrics", timeout=10).status_code == 401
        assert admit(r, review(deployment(labels={"regie.dev/owner": "x"}), uid="u1")).json()["response"] == {
            "uid": "u1",
            "allowed": True,
        }


def test_a_tokens_file_with_a_plain_token_is_refused(tmp_path: Path) -> None:
    from regie.service.auth import TokenFileError, load_tokens

    path = tmp_path / "tokens.yaml"
    path.write_text("tokens:\n  - {name: x, role: reader, token: hunter2}\n", encoding="utf-8")
    with pytest.raises(TokenFileError, match=r"tokens\[0\]\.token: the file must hold the token's sha256"):
        load_tokens(str(path))
    path.write_text("tokens:\n  - {name: x, role: root, sha256: abc}\n", encoding="utf-8")
    with pytest.raises(TokenFileError, match=r"tokens\[0\]\.role: expected reader or admin"):
        load_tokens(str(path))
    toml = tmp_path / "tokens.toml"
    toml.write_text(
        f'[[tokens]]\nname = "x"\nrole = "admin"\nsha256 = "{hash_token(ADMIN)}"\n', encoding="utf-8"
    )
    assert load_tokens(str(toml))[hash_token(ADMIN)].role == "admin"


# --- metrics -------------------------------------------------------------------------------------


def test_metrics_count_decisions_and_time_each_policy(server: Running) -> None:
    admit(server, review(deployment(images=["ghcr.io/x/y:1"]), uid="uid-m1"))
    admit(server, b"nonsense")
    text = httpx.get(f"{server.base}/metrics", headers=auth(READER), timeout=10).text
    lines = text.splitlines()
    assert "# TYPE regie_admission_decisions_total counter" in lines
    assert any(line.startswith('regie_admission_decisions_total{outcome="denied"} ') for line in lines)
    assert any(line.startswith('regie_admission_decisions_total{outcome="bad_request"} ') for line in lines)
    assert any(
        line.startswith('regie_policy_evaluation_seconds_bucket{policy="test.images.eu_registry",le="+Inf"} ')
        for line in lines
    )
    assert any(
        line.startswith('regie_policy_evaluation_seconds_count{policy="test.workloads.owner"}')
        for line in lines
    )
    assert any(line.startswith("regie_policy_set_info{hash=") for line in lines)
    assert "regie_policy_reload_failures_total 0" in lines
    for line in lines:  # every sample line is `name{labels} value`
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])


# --- reload ----------------------------------------------------------------------------------------


def test_a_broken_reload_keeps_the_last_good_set_serving(tmp_path: Path) -> None:
    folder = write_policies(tmp_path / "p")
    options = ServiceOptions(policies=[str(folder)], reload_interval=0.1)
    with running(options) as r:
        holder = r.service.holder
        first = holder.current.hash
        (folder / "test.regie").write_text(
            (folder / "test.regie").read_text(encoding="utf-8").replace("r.owner != null", "r.ownr != null"),
            encoding="utf-8",
        )
        assert wait_for(lambda: holder.status.failures == 1)
        ready = httpx.get(f"{r.base}/readyz", timeout=10).json()
        assert ready["ready"] is True and ready["stale"] is True
        assert ready["policy_set_hash"] == first
        assert "ownr" in ready["last_reload"]["problems"][0]
        assert r.service.metrics.reload_failures.value() == 1
        assert r.service.metrics.stale.value() == 1
        # still deciding with the last good set
        answer = admit(r, review(deployment(images=["ghcr.io/x/y:1"]), uid="u-stale")).json()["response"]
        assert answer["allowed"] is False
        # a fix loads
        (folder / "test.regie").write_text(
            (folder / "test.regie")
            .read_text(encoding="utf-8")
            .replace("r.ownr != null", "r.owner != null")
            .replace("names no owner", "has no owner"),
            encoding="utf-8",
        )
        assert wait_for(lambda: holder.status.ok and holder.current.hash != first)
        assert httpx.get(f"{r.base}/readyz", timeout=10).json()["stale"] is False
        assert r.service.metrics.stale.value() == 0


# --- speed -----------------------------------------------------------------------------------------


@needs_corpus
def test_in_process_decisions_are_repeatable(server: Running) -> None:
    """The decision path without HTTP (parse, facts, every policy in force, the answer), over and
    over on one snapshot, each request parsed anew and redacted in place as the webhook does:
    every answer the same, so nothing of one decision leaks into the next. The latency is
    printed for the curious; it is measured in bench/ (W2), not asserted here."""
    from regie.service.admission import decide, parse_review, response_body
    from regie.service.reload import load_snapshot

    raw = orjson.dumps(corpus_review("kubewarden_deployment.admissionreview.json"))
    tests = str(server.service.holder.policies[0])
    snapshot = load_snapshot([str(BUILTIN_POLICIES), tests], [], None)
    today = dt.date.today()
    times = []
    answers = set()
    for _ in range(300):
        started = time.perf_counter()
        request = parse_review(raw)["request"]
        body = response_body(decide(request, snapshot, fail_closed=True, today=today, owned=True))
        times.append(time.perf_counter() - started)
        answers.add(body)
    assert len(answers) == 1, answers
    assert b'"allowed":false' in next(iter(answers))  # the corpus Deployment breaks library policies
    times.sort()
    p50, p99 = times[len(times) // 2], times[int(len(times) * 0.99)]
    print(
        f"in-process decision: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms, {len(snapshot.policy_set.policies)} policies"
    )
