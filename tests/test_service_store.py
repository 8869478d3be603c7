"""`regie serve --store`: admission decisions recorded, the violation API, the change stream,
the Atom feed, waivers, and the web page for compliance officers in a real headless Chromium.

The store is seeded the way an audit CronJob does it: `regie scan … --store URL` of the
example ministry, then a second scan in which a finding has gone away.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from browser import browser, chromium_missing
from test_service import ADMIN, READER, auth, tokens_file
from test_service_server import Running, deployment, review, running

from regie.service import ServiceOptions
from regie.store.api import open_store

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", "TERM": "dumb"}
ATOM = "{http://www.w3.org/2005/Atom}"


def regie(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "regie", *args], cwd=cwd, capture_output=True, text=True,
        encoding="utf-8", env=ENV, timeout=180, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example ministry scanned twice into a SQLite store; the second scan no
    longer has the DeepSeek route, so its findings are resolved."""
    folder = tmp_path_factory.mktemp("estate")
    ministry = folder / "ministry"
    shutil.copytree(ROOT / "examples" / "ministry", ministry)
    db = folder / "regie.db"
    args = ("scan", "--config", "ministry/regie.toml", "--today", "2026-11-29", "--store", str(db))
    first = regie(*args, cwd=folder)
    assert first.returncode == 1 and "store:" in first.stdout, first.stderr
    gateway = ministry / "ai-gateway" / "litellm.yaml"
    text = gateway.read_text(encoding="utf-8")
    cut = text.index("  # Added by a developer")
    gateway.write_text(text[:cut] + text[text.index("general_settings:") :], encoding="utf-8")
    second = regie(*args, cwd=folder)
    assert second.returncode == 1 and "resolved" in second.stdout, second.stderr
    return folder


@pytest.fixture(scope="module")
def server(estate: Path) -> Iterator[Running]:
    options = ServiceOptions(
        policies=[str(ROOT / "policies")],
        tokens=str(tokens_file(estate)),
        store=f"sqlite:///{estate / 'regie.db'}",
        reload_interval=0,
    )
    with running(options) as r:
        yield r


def get(server: Running, path: str, token: str = READER, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.base}{path}", headers=auth(token), params=params, timeout=10)


# --- the violation API ----------------------------------------------------------------------------


def test_violations_are_listed_with_filters_and_cursor_pages(server: Running) -> None:
    first = get(server, "/v1/violations", status="open", limit=5)
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    seen = {v["id"] for v in page["items"]}
    rest = get(server, "/v1/violations", status="open", limit=500, cursor=page["next_cursor"]).json()
    assert not seen & {v["id"] for v in rest["items"]} and rest["next_cursor"] is None
    genai = get(server, "/v1/violations", requirement="GENAI-01", status="open").json()["items"]
    assert genai and all("GENAI-01" in v["requirements"] for v in genai)
    deny = get(server, "/v1/violations", enforcement="deny", service="archief").json()["items"]
    assert deny and {v["service"] for v in deny} == {"archief"}
    bogus = get(server, "/v1/violations", status="bogus")
    assert bogus.status_code == 400 and "status" in bogus.text


def test_a_finding_gone_from_the_second_scan_is_resolved_with_its_history(server: Running) -> None:
    gone = get(server, "/v1/violations", policy="genai.consumer.model_api").json()["items"]
    assert [v["status"] for v in gone] == ["resolved"]
    one = get(server, f"/v1/violations/{gone[0]['id']}").json()
    assert [c["kind"] for c in one["history"]] == ["opened", "resolved"]
    assert one["source"].startswith("Overheidsbreed standpunt generatieve AI") and one["evidence"]
    assert get(server, "/v1/violations/999999").status_code == 404


def test_the_api_needs_a_reader_token(server: Running) -> None:
    assert httpx.get(f"{server.base}/v1/violations", timeout=10).status_code == 401
    assert get(server, "/v1/violations", token="wrong").status_code == 401


# --- waivers and the change stream ----------------------------------------------------------------


def test_an_admin_grants_and_revokes_a_waiver_and_the_stream_tells(server: Running) -> None:
    start = get(server, "/feed.atom")  # any reader request: the store is there
    assert start.status_code == 200
    events: list[str] = []
    done = threading.Event()

    def listen() -> None:
        with httpx.stream(
            "GET", f"{server.base}/v1/violations/stream", headers=auth(READER), timeout=15
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith("event: "):
                    events.append(line[7:])
                if "waived" in events or done.is_set():
                    return

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(0.5)
    body = {
        "policy": "cloud.classification.public_cloud_ceiling*",
        "resource": "*archief*",
        "reason": "Archive copy is being moved to the ministry's own data centre (MINDI-5120)",
        "approved_by": "CISO MinDI",
        "expires": "2027-03-31",
    }
    denied = httpx.post(f"{server.base}/v1/waivers", json=body, headers=auth(READER), timeout=10)
    assert denied.status_code == 403
    bad_body = {**body, "expires": "soon"}
    bad = httpx.post(f"{server.base}/v1/waivers", json=bad_body, headers=auth(ADMIN), timeout=10)
    assert bad.status_code in (400, 422) and "expires" in bad.text
    made = httpx.post(f"{server.base}/v1/waivers", json=body, headers=auth(ADMIN), timeout=10)
    assert made.status_code == 201, made.text
    waiver = made.json()
    assert waiver["created_by"] == "officer" and waiver["expires"] == "2027-03-31"
    thread.join(timeout=10)
    done.set()
    assert "waived" in events
    ceiling = "cloud.classification.public_cloud_ceiling"
    archief = get(server, "/v1/violations", policy=ceiling).json()["items"]
    assert {v["status"] for v in archief if "archief" in v["resource"]} == {"waived"}
    assert {v["status"] for v in archief if "archief" not in v["resource"]} <= {"open"}
    revoked = httpx.post(f"{server.base}/v1/waivers/{waiver['id']}/revoke", headers=auth(ADMIN), timeout=10)
    assert revoked.status_code == 200 and revoked.json()["revoked_by"] == "officer"
    listed = get(server, "/v1/waivers", include_revoked="true").json()
    assert any(w["id"] == waiver["id"] and w["revoked_at"] for w in listed)


def test_the_atom_feed_is_a_feed_a_reader_can_follow(server: Running) -> None:
    response = get(server, "/feed.atom")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") and feed.findtext(f"{ATOM}updated")
    entries = feed.findall(f"{ATOM}entry")
    assert entries
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids)
    resolved = [e for e in entries if (e.findtext(f"{ATOM}title") or "").startswith("resolved:")]
    assert resolved and "Source:" in (resolved[0].findtext(f"{ATOM}content") or "")
    link = resolved[0].find(f"{ATOM}link")
    assert link is not None and "/violations/" in link.attrib["href"]
    assert httpx.get(f"{server.base}/feed.atom", timeout=10).status_code == 401


# --- admission decisions are recorded --------------------------------------------------------------


def test_admission_decisions_are_recorded_and_dry_runs_are_not(server: Running, estate: Path) -> None:
    obj = deployment(images=["docker.io/library/nginx:1.27"], labels={"regie.dev/vital": "true"})
    answer = httpx.post(f"{server.base}/admission", content=orjson.dumps(review(obj)), timeout=10).json()
    assert answer["response"]["uid"] == "3f1d6c1e-5a7b-4c1e-9d2a-000000000001"
    dry = review(obj, uid="3f1d6c1e-5a7b-4c1e-9d2a-000000000002", dry_run=True)
    httpx.post(f"{server.base}/admission", content=orjson.dumps(dry), timeout=10)
    with open_store(f"sqlite:///{estate / 'regie.db'}") as store:
        deadline = time.monotonic() + 10
        kinds: list[Any] = []
        while time.monotonic() < deadline:
            records = [store.get_record(i, with_input=True) for i in range(1, 20)]
            kinds = [r for r in records if r is not None and r.kind == "admission"]
            if kinds:
                break
            time.sleep(0.2)
        uids = [r.input["request"].get("uid") if r.input else None for r in kinds]
        assert "3f1d6c1e-5a7b-4c1e-9d2a-000000000001" in uids
        assert "3f1d6c1e-5a7b-4c1e-9d2a-000000000002" not in uids
        assert store.verify_chain().ok


# --- the web page, in a real browser ---------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> None:
    missing = chromium_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the web page tests need Chromium: {missing}")
        pytest.skip(f"the web page tests need Chromium: {missing}")


def test_an_officer_signs_in_filters_and_opens_a_violation(server: Running, chromium: None) -> None:
    with browser() as b:
        b.get(f"{server.base}/")
        assert "/login" in b.url  # not signed in: to the sign-in page, not a 401 in the face
        b.find("input[name=token]").type("not-a-token")
        b.find("button[type=submit]").click()
        assert "not valid" in b.find("p[role=alert]").text
        b.find("input[name=token]").type(READER)
        b.find("button[type=submit]").click()
        summary = b.find("#summary").text  # waits for the page after the sign-in
        assert b.url.rstrip("/") == server.base
        assert "violations" in summary and "deny" in summary
        services = [s.attribute("data-service") for s in b.find_all("section.service")]
        assert {"archief", "burgerchat", "subsidieregister"} <= set(services)
        headings = {h.text for h in b.find_all("section.service h3")}
        assert "Rijksbreed cloudbeleid 2022" in headings and any("generatieve AI" in h for h in headings)
        assert b.find("#trend svg rect")  # the count over time

        # filter: the deny-level findings of one service
        b.find("select[name=enforcement] option[value=deny]").click()
        b.find("select[name=service] option[value=archief]").click()
        b.find("form.filters button[type=submit]").click()
        assert "service=archief" in b.wait_for_url("enforcement=deny")
        rows = b.find_all("tr.violation")
        assert rows and [s.attribute("data-service") for s in b.find_all("section.service")] == ["archief"]
        assert all("deny" in row.text for row in rows)

        # open one: message, evidence, the policy's source, history
        rows[0].find("a").click()
        b.wait_for_url("/violations/")
        assert b.find("#message").text
        assert "Rijksbreed cloudbeleid 2022" in b.find("#citation").text
        assert b.find("#status").text in ("open", "waived")
        assert b.find_all("#evidence tr") and b.find_all("#history tbody tr")

        # the resolved finding is there when asked for, with its history
        b.get(f"{server.base}/?status=resolved")
        assert "genai.consumer.model_api" in b.text()

        b.get(f"{server.base}/waivers")
        assert "Waivers" in b.find("h1").text
        rows = [row.text for row in b.find_all("tr.waiver")]
        assert any("MINDI-5120" in row and "revoked by officer" in row for row in rows)


def test_the_web_page_escapes_what_it_shows(server: Running, chromium: None) -> None:
    body = {
        "policy": "genai.*",
        "resource": "<script>alert(1)</script>",
        "reason": "<b>not bold</b>",
        "approved_by": "CISO",
        "expires": "2027-01-01",
    }
    made = httpx.post(f"{server.base}/v1/waivers", json=body, headers=auth(ADMIN), timeout=10)
    assert made.status_code == 201
    page = httpx.get(f"{server.base}/waivers", cookies={"regie_token": READER}, timeout=10)
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;" in page.text
    with browser() as b:
        b.get(f"{server.base}/login?next=/waivers")
        b.find("input[name=token]").type(READER)
        b.find("button[type=submit]").click()
        rows = [row.text for row in b.find_all("tr.waiver")]
        assert any("<b>not bold</b>" in row for row in rows)  # shown as text, not markup
    httpx.post(f"{server.base}/v1/waivers/{made.json()['id']}/revoke", headers=auth(ADMIN), timeout=10)


def test_a_login_never_redirects_off_site(server: Running) -> None:
    response = httpx.post(
        f"{server.base}/login",
        content=f"token={READER}&next=//evil.example/",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert "httponly" in response.headers["set-cookie"].lower()


# --- two webhook replicas, one PostgreSQL -----------------------------------------------------------


def test_two_serve_processes_on_one_postgresql_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    import socket
    from concurrent.futures import ThreadPoolExecutor

    from regie.store.testing import ensure_postgres, postgres_schema

    ensure_postgres()
    tokens = tokens_file(tmp_path)
    with postgres_schema() as url:
        open_store(url).close()  # the schema exists before both replicas start
        ports, procs = [], []
        for _ in range(2):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                ports.append(s.getsockname()[1])
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "regie", "serve", "--port", str(ports[-1]), "--store", url,
                     "--tokens", str(tokens), "--reload-interval", "0"],
                    cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )
            )  # fmt: skip
        try:
            for port in ports:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    assert time.monotonic() < deadline, "regie serve did not become ready"
                    time.sleep(0.2)
            uids = [f"3f1d6c1e-5a7b-4c1e-9d2a-{i:012d}" for i in range(60)]
            obj = deployment(images=["docker.io/library/nginx:1.27"])

            def send(i: int) -> int:
                body = orjson.dumps(review(obj, uid=uids[i]))
                port = ports[i % 2]
                return httpx.post(f"http://127.0.0.1:{port}/admission", content=body, timeout=30).status_code

            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(send, range(len(uids)))) == {200}
        finally:
            for proc in procs:
                proc.terminate()  # SIGTERM: each replica records what it queued, then exits
            for proc in procs:
                _, errors = proc.communicate(timeout=30)  # also closes the pipe
                assert proc.returncode == 0, errors
        with open_store(url) as store:
            records = []
            i = 1
            while (record := store.get_record(i, with_input=True)) is not None:
                records.append(record)
                i += 1
            seen = [r.input["request"]["uid"] for r in records if r.kind == "admission" and r.input]
            assert sorted(seen) == sorted(uids)  # every decision once: none lost, none twice
            assert store.verify_chain().ok
