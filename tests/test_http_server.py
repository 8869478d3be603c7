"""A local HTTP server for the HTTP connector tests (imported by test_http_*.py): real sockets, recorded payloads, scripted answers.

Each route is a function of the request (path, query, headers) returning
``(status, headers, body)``; requests are recorded so tests can check what was sent.
"""
# ruff: noqa: E501

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]


Answer = tuple[int, dict[str, str], bytes]
Route = Callable[[Request], Answer]


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(body).encode()


@dataclass
class Server:
    base: str
    routes: dict[str, Route]
    requests: list[Request] = field(default_factory=list)


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[Server]:
    holder: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            req = Request(
                parts.path,
                {k: v[-1] for k, v in parse_qs(parts.query).items()},
                {k.lower(): v for k, v in self.headers.items()},
            )
            server = holder[0]
            server.requests.append(req)
            route = server.routes.get(parts.path)
            status, headers, body = route(req) if route else json_answer({"error": "no such path"}, 404)
            try:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    holder.append(Server(f"http://127.0.0.1:{httpd.server_address[1]}", routes))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield holder[0]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_the_server_answers_over_a_real_socket() -> None:
    import httpx

    with serve({"/ping": lambda req: json_answer({"pong": req.query.get("n")})}) as srv:
        assert httpx.get(f"{srv.base}/ping?n=1").json() == {"pong": "1"}
        assert httpx.get(f"{srv.base}/nope").status_code == 404
