"""The declarative HTTP connector against a local server over real sockets: paging, retries, errors."""
# ruff: noqa: E501, RUF043, SIM117

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_http_server import Answer, Request, json_answer, serve

from regie.connectors.base import REDACTED, ConnectorError, PullContext
from regie.connectors.http import load_config, pull_config
from regie.connectors.http.client import Paging, RetryPolicy, get_json, iter_pages
from regie.loading import load_catalogs

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "http"
APPS: list[dict[str, Any]] = json.loads((FIXTURES / "apps.json").read_text())
TOKEN = "tok-3c9f1e-local-only"
CATALOGS = load_catalogs()


def ctx(**env: str) -> PullContext:
    return PullContext(catalogs=CATALOGS, env={"APPS_TOKEN": TOKEN, **env}, timeout=5)


def config(tmp_path: Path, base: str, body: str) -> str:
    path = tmp_path / "apps.yaml"
    path.write_text(
        f"name: cmdb\nbase_url: {base}/api/\nendpoint: apps\n"
        "auth: {type: bearer, token_env: APPS_TOKEN}\nretry: {attempts: 3, backoff: 0.01, max_wait: 2}\n"
        + body
        + "\nfacts:\n  id: '{sys_id}'\n  kind: saas.application\n  fields:\n    name: name\n"
        "    provider: hosting.provider\n    region: hosting.region\n  labels: tags\n"
    )
    return str(path)


def authorised(route: Callable[[Request], Answer]) -> Callable[[Request], Answer]:
    def check(req: Request) -> Answer:
        if req.headers.get("authorization") != f"Bearer {TOKEN}":
            return json_answer({"error": "unauthorised"}, 401)
        return route(req)

    return check


def check_apps(resources: list[Any]) -> None:
    assert [r.id for r in resources] == [f"http:cmdb#a{i}" for i in range(1, 6)]
    teams = resources[0]
    assert (teams.kind, teams.name, teams.provider, teams.region) == (
        "saas.application", "Microsoft Teams", "azurerm", "westeurope",
    )  # fmt: skip
    assert teams.country == "NL"
    assert (teams.service, teams.classification, teams.vital) == ("samenwerken", "BBN2", True)
    assert teams.attributes["admin_password"] == REDACTED
    assert resources[2].labels == {"service": "servicedesk"}  # tags as [{key, value}]
    assert resources[2].service == "servicedesk"
    assert resources[4].region is None and resources[4].owner == "team-ux"
    dumped = json.dumps([r.to_dict() for r in resources], default=str)
    assert "hunter2" not in dumped and TOKEN not in dumped


def test_link_header_paging(tmp_path: Path) -> None:
    def page(req: Request) -> Answer:
        n = int(req.query.get("p", "1"))
        headers = {"Link": f'</api/apps?p={n + 1}>; rel="next", </api/apps?p=1>; rel="first"'} if n < 3 else {}
        return json_answer({"items": APPS[(n - 1) * 2 : n * 2]}, headers=headers)

    with serve({"/api/apps": authorised(page)}) as srv:
        resources = pull_config(config(tmp_path, srv.base, "records: items\npagination: {style: link}"), ctx())
    check_apps(resources)
    assert [r.query.get("p") for r in srv.requests] == [None, "2", "3"]


def test_cursor_paging(tmp_path: Path) -> None:
    def page(req: Request) -> Answer:
        start = int(req.query.get("cursor", "0"))
        nxt = start + 2 if start + 2 < len(APPS) else None
        return json_answer({"data": {"records": APPS[start : start + 2]}, "meta": {"next": nxt}})

    body = "records: data.records\npagination: {style: cursor, cursor_path: meta.next, cursor_param: cursor}"
    with serve({"/api/apps": authorised(page)}) as srv:
        resources = pull_config(config(tmp_path, srv.base, body), ctx())
    check_apps(resources)
    assert [r.query.get("cursor") for r in srv.requests] == [None, "2", "4"]


def test_page_and_offset_paging(tmp_path: Path) -> None:
    def by_page(req: Request) -> Answer:
        n, size = int(req.query["page"]), int(req.query["per_page"])
        return json_answer(APPS[(n - 1) * size : n * size])

    def by_offset(req: Request) -> Answer:
        off, lim = int(req.query["offset"]), int(req.query["limit"])
        return json_answer({"results": APPS[off : off + lim]})

    with serve({"/api/apps": authorised(by_page)}) as srv:
        body = "pagination: {style: page, page_param: page, size_param: per_page, size: 2}"
        check_apps(pull_config(config(tmp_path, srv.base, body), ctx()))
    assert [r.query["page"] for r in srv.requests] == ["1", "2", "3"]
    with serve({"/api/apps": authorised(by_offset)}) as srv:
        body = "records: results\npagination: {style: offset, limit: 2}"
        check_apps(pull_config(config(tmp_path, srv.base, body), ctx()))
    assert [r.query["offset"] for r in srv.requests] == ["0", "2", "4"]


def test_429_with_retry_after_then_success(tmp_path: Path) -> None:
    calls: list[float] = []

    def limited(req: Request) -> Answer:
        calls.append(time.monotonic())
        if len(calls) == 1:
            return json_answer({"error": "slow down"}, 429, {"Retry-After": "1"})
        return json_answer(APPS)

    with serve({"/api/apps": authorised(limited)}) as srv:
        resources = pull_config(config(tmp_path, srv.base, ""), ctx())
    assert len(resources) == 5 and len(calls) == 2
    assert calls[1] - calls[0] >= 0.9  # Retry-After was honoured


def test_5xx_retried_then_given_up(tmp_path: Path) -> None:
    with serve({"/api/apps": lambda req: (503, {}, b"maintenance")}) as srv:
        with pytest.raises(ConnectorError, match=r"HTTP 503 \(maintenance\), after 3 attempt"):
            pull_config(config(tmp_path, srv.base, ""), ctx())
    assert len(srv.requests) == 3


def test_retry_after_beyond_the_limit_is_reported_not_obeyed(tmp_path: Path) -> None:
    with serve({"/api/apps": lambda req: json_answer({}, 429, {"Retry-After": "3600"})}) as srv:
        with pytest.raises(ConnectorError, match="asks to wait 3600s.*limit of 2s"):
            pull_config(config(tmp_path, srv.base, ""), ctx())
    assert len(srv.requests) == 1


def test_timeout(tmp_path: Path) -> None:
    def slow(req: Request) -> Answer:
        time.sleep(1.0)
        return json_answer(APPS)

    path = config(tmp_path, "", "")  # rewritten below with the server's address
    with serve({"/api/apps": slow}) as srv:
        text = Path(path).read_text().replace("base_url: /api/", f"base_url: {srv.base}/api/")
        Path(path).write_text(text + "timeout: 0.2\n")
        with pytest.raises(ConnectorError, match=r"no answer within the timeout \(0.2s\), 3 attempt"):
            pull_config(path, ctx())


def test_401_403_404(tmp_path: Path) -> None:
    with serve({"/api/apps": authorised(lambda req: json_answer(APPS))}) as srv:
        with pytest.raises(ConnectorError, match="401 Unauthorized.*check the credentials in APPS_TOKEN") as err:
            pull_config(config(tmp_path, srv.base, ""), ctx(APPS_TOKEN="wrong"))
        assert "wrong" not in str(err.value)
        assert len(srv.requests) == 1  # never retried
    with serve({"/api/apps": lambda req: json_answer({"error": "no"}, 403)}) as srv:
        with pytest.raises(ConnectorError, match="403 Forbidden"):
            pull_config(config(tmp_path, srv.base, ""), ctx())
    with serve({}) as srv:
        with pytest.raises(ConnectorError, match="404 Not Found.*check the base URL"):
            pull_config(config(tmp_path, srv.base, ""), ctx())


def test_malformed_pages(tmp_path: Path) -> None:
    def html(req: Request) -> Answer:
        return 200, {"Content-Type": "text/html"}, b"<html>login</html>"

    with serve({"/api/apps": html}) as srv:
        with pytest.raises(ConnectorError, match=r"/api/apps: the answer is not JSON \(text/html"):
            pull_config(config(tmp_path, srv.base, ""), ctx())
    with serve({"/api/apps": lambda req: json_answer({"data": []})}) as srv:
        with pytest.raises(ConnectorError, match="no records at `items`"):
            pull_config(config(tmp_path, srv.base, "records: items"), ctx())
    with serve({"/api/apps": lambda req: json_answer({"items": {"a": 1}})}) as srv:
        with pytest.raises(ConnectorError, match="not a list but dict"):
            pull_config(config(tmp_path, srv.base, "records: items"), ctx())
    with serve({"/api/apps": lambda req: json_answer([{"name": "no id"}])}) as srv:
        with pytest.raises(ConnectorError, match=r"records\[0\]: the id template needs `sys_id`"):
            pull_config(config(tmp_path, srv.base, ""), ctx())


def test_a_looping_cursor_is_stopped() -> None:
    with serve({"/x": lambda req: json_answer({"items": [1], "next_cursor": "same"})}) as srv:
        with httpx.Client(timeout=5) as client:
            pages = iter_pages(
                client, f"{srv.base}/x", where="t", records_path="items", paging=Paging("cursor"),
                retry=RetryPolicy(1),
            )  # fmt: skip
            with pytest.raises(ConnectorError, match="same page twice"):
                list(pages)


def test_retry_after_as_http_date_and_injected_sleep() -> None:
    slept: list[float] = []
    answers = iter([json_answer({}, 429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), json_answer([1])])
    with serve({"/x": lambda req: next(answers)}) as srv, httpx.Client(timeout=5) as client:
        body, _ = get_json(client, f"{srv.base}/x", where="t", sleep=slept.append)
    assert body == [1] and slept == [0.0]  # a date in the past: try again at once


# --- configuration errors name the file, the line and the field ---------------------------------


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_config_errors(tmp_path: Path) -> None:
    base = "base_url: https://cmdb.example.org/api\nfacts: {id: '{id}', kind: saas.application}\n"
    cases = {
        "auth:\n  type: bearer\n  token: sk-live-123\n": r"c.yaml:\d*.*`auth.token` holds a literal credential",
        "auth:\n  type: bearer\n  token_env: sk-live-123\n": r"c.yaml:5: auth.token_env: `sk-l…` is not an environment variable name",
        "headers:\n  Authorization: Bearer abc\n": r"c.yaml:3: headers: header `Authorization` would put a credential",
        "pagination:\n  style: pages\n": r"c.yaml:4: pagination.style: Input should be 'none', 'link'",
        "timout: 3\n": r"c.yaml:3: timout: unknown field `timout`",
    }
    for extra, pattern in cases.items():
        with pytest.raises(ConnectorError, match=pattern) as err:
            load_config(write(tmp_path, base + extra))
        assert "sk-live-123" not in str(err.value) and "abc" not in str(err.value)
    with pytest.raises(ConnectorError, match=r"facts.fields: .*`regoin` is not a fact field \(did you mean `region`"):
        load_config(write(tmp_path, "base_url: https://x.org\nfacts:\n  id: a\n  kind: k\n  fields: {regoin: r}\n"))
    with pytest.raises(ConnectorError, match=r"c.yaml:1: .*base_url: .*user name or password"):
        load_config(write(tmp_path, "base_url: https://u:p@x.org\nfacts: {id: a, kind: k}\n"))
    with pytest.raises(ConnectorError, match=r"c.yaml:\d+: not valid YAML"):
        load_config(write(tmp_path, "base_url: [\nfacts: {\n"))


def test_missing_environment_variable(tmp_path: Path) -> None:
    path = config(tmp_path, "http://127.0.0.1:9", "")
    with pytest.raises(ConnectorError, match="auth: environment variable APPS_TOKEN is not set"):
        pull_config(path, PullContext(catalogs=CATALOGS, env={}))
