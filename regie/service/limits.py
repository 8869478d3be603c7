"""A request body limit enforced while reading, and a read timeout, for every route.

The body is read here in chunks and the request refused as soon as it passes the
limit (or announces a larger ``Content-Length``), so no route ever holds more than
``max_body`` bytes of one request; a client that stops sending mid-body gets 408
instead of holding a worker. ``/admission`` answers 400, as the API server (and
this project's contract) expect for bad input; other routes answer 413.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyLimit"]

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS"})


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_body: int, read_timeout: float = 10.0) -> None:
        self.app = app
        self.max_body = max_body
        self.read_timeout = read_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _NO_BODY:
            await self.app(scope, receive, send)
            return
        too_large = 400 if scope["path"] == "/admission" else 413
        length = _content_length(scope)
        if length is not None and (length < 0 or length > self.max_body):
            await _error(send, too_large, self._too_large_message(length if length >= 0 else None))
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                # asyncio.timeout, not wait_for: the same per-chunk limit without a task per chunk
                async with asyncio.timeout(self.read_timeout):
                    message = await receive()
            except TimeoutError:
                await _error(send, 408, f"the request body did not arrive within {self.read_timeout:g} s", "")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await _error(send, too_large, self._too_large_message(None))
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large_message(self, length: int | None) -> str:
        got = f" (Content-Length {length})" if length is not None else ""
        return f"the request body is larger than {self.max_body} bytes{got}; the limit is set by --max-body"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return None


async def _error(send: Send, status: int, message: str, field: str = "body") -> None:
    payload: dict[str, Any] = {
        "error": "request body too large" if status in (400, 413) else "request timeout",
        "message": message,
        "field": field or None,
    }
    body = orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
