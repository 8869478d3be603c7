"""HTTP for the SaaS and AI-gateway connectors: one GET with retries, and the three kinds of paging.

Everything here takes an ``httpx.Client`` (tests point it at a local server) and
raises :class:`~regie.connectors.base.ConnectorError` with a message a user can
act on: which URL, what the server said, what to check.

Retries: a 429 or a 5xx answer, a timeout and a refused connection are tried
again, up to :attr:`RetryPolicy.attempts` tries in all, waiting
``backoff * 2**n`` seconds between tries, or what ``Retry-After`` asks
(seconds or an HTTP date). No single wait is longer than
:attr:`RetryPolicy.max_wait`: a server asking for more is reported, not obeyed.
401, 403 and 404 are never retried.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from urllib.parse import urlsplit, urlunsplit

import httpx

from regie.connectors.base import ConnectorError, PullContext

__all__ = [
    "Page",
    "Paging",
    "RetryPolicy",
    "display_url",
    "get_json",
    "iter_pages",
    "open_client",
    "path_get",
]

#: Sleeps between retries; tests replace it to keep time.
Sleep = Callable[[float], None]

_RETRY_STATUS: Final = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to try again on 429, 5xx, timeouts and refused connections."""

    attempts: int = 4
    backoff: float = 0.5
    max_wait: float = 30.0


@dataclass(frozen=True, slots=True)
class Paging:
    """How the next page is asked for.

    ``link``: follow the ``Link: <…>; rel="next"`` header. ``cursor``: read the
    cursor at ``cursor_path`` in the body and send it as ``cursor_param``; an
    absent or empty cursor ends the list. ``page``: send ``page_param`` =
    ``start``, ``start + 1``, …; ``offset``: send ``offset_param`` = 0,
    ``limit``, 2×``limit``, … with ``limit_param``. Both end at a page with fewer
    records than ``size`` (or no records when no size is known). ``none``: one
    request.
    """

    style: Literal["none", "link", "cursor", "page", "offset"] = "none"
    cursor_path: str = "next_cursor"
    cursor_param: str = "cursor"
    page_param: str = "page"
    start: int = 1
    size_param: str | None = None
    size: int | None = None
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = 100
    max_pages: int = 1000


@dataclass(frozen=True, slots=True)
class Page:
    """One page: its URL (for messages), its body, and the records found in it."""

    url: str
    body: Any
    records: list[Any]


def open_client(ctx: PullContext) -> httpx.Client:
    """The client of ``ctx`` when it has a factory, else a plain one with the context's timeout."""
    if ctx.http_client is not None:
        client = ctx.http_client()
        if not isinstance(client, httpx.Client):
            raise TypeError("PullContext.http_client must build an httpx.Client")
        return client
    return httpx.Client(timeout=ctx.timeout)


def display_url(url: str | httpx.URL) -> str:
    """A URL fit for messages: without user:password.

    >>> display_url("https://bob:hunter2@api.example.org/v1/x?page=2")
    'https://api.example.org/v1/x?page=2'
    """
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def path_get(data: Any, path: str) -> Any:
    """The value at a dotted path (``meta.next``; ``items.0.id`` indexes lists); None when absent.

    An empty path or ``.`` is the data itself.

    >>> path_get({"a": {"b": [{"c": 1}]}}, "a.b.0.c")
    1
    >>> path_get({"a": 1}, "a.b") is None
    True
    """
    if path in ("", "."):
        return data
    node = data
    for part in path.split("."):
        if isinstance(node, Mapping):
            if part not in node:
                return None
            node = node[part]
        elif isinstance(node, list) and part.lstrip("-").isdigit():
            i = int(part)
            if not -len(node) <= i < len(node):
                return None
            node = node[i]
        else:
            return None
    return node


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _explain(status: int, url: str, response: httpx.Response, auth_hint: str) -> str:
    snippet = response.text.strip().replace("\n", " ")[:200]
    detail = f" ({snippet})" if snippet else ""
    if status == 401:
        return f"{url}: 401 Unauthorized{detail}: the credentials were refused; {auth_hint}"
    if status == 403:
        return f"{url}: 403 Forbidden{detail}: the credentials are valid but may not read this; {auth_hint}"
    if status == 404:
        return f"{url}: 404 Not Found{detail}: check the base URL and the endpoint path"
    return f"{url}: HTTP {status}{detail}"


def get_json(
    client: httpx.Client,
    url: str,
    *,
    where: str,
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy = RetryPolicy(),
    auth_hint: str = "check the credentials",
    sleep: Sleep = time.sleep,
) -> tuple[Any, httpx.Response]:
    """GET ``url`` and parse the JSON answer, trying again on 429, 5xx, timeouts and refused connections."""
    attempts = max(1, retry.attempts)
    for attempt in range(attempts):
        last = attempt == attempts - 1
        wait = min(retry.backoff * (2**attempt), retry.max_wait)
        try:
            response = client.get(url, params=params, headers=headers, auth=auth or httpx.USE_CLIENT_DEFAULT)
        except httpx.TimeoutException:
            if last:
                raise ConnectorError(
                    where,
                    f"{display_url(url)}: no answer within the timeout ({client.timeout.read}s), "
                    f"{attempts} attempt(s)",
                ) from None
            sleep(wait)
            continue
        except httpx.TransportError as err:
            if last:
                raise ConnectorError(where, f"cannot connect to {display_url(url)}: {err}") from None
            sleep(wait)
            continue
        shown = display_url(response.url)
        status = response.status_code
        if status in _RETRY_STATUS:
            asked = _retry_after(response)
            if asked is not None and asked > retry.max_wait:
                raise ConnectorError(
                    where,
                    f"{shown}: HTTP {status}, and the server asks to wait {asked:.0f}s before trying again, "
                    f"longer than the limit of {retry.max_wait:.0f}s; try again later",
                )
            if last:
                raise ConnectorError(
                    where, f"{_explain(status, shown, response, auth_hint)}, after {attempts} attempt(s)"
                )
            sleep(asked if asked is not None else wait)
            continue
        if status >= 400:
            raise ConnectorError(where, _explain(status, shown, response, auth_hint))
        try:
            body = response.json()
        except ValueError:
            kind = response.headers.get("content-type", "no content type")
            start = response.text.strip()[:60].replace("\n", " ")
            raise ConnectorError(
                where, f"{shown}: the answer is not JSON ({kind}; starts with {start!r})"
            ) from None
        return body, response
    raise AssertionError("unreachable")  # pragma: no cover


def _records(body: Any, records_path: str, url: str, where: str) -> list[Any]:
    found = path_get(body, records_path)
    if found is None:
        shown = records_path or "the body"
        raise ConnectorError(where, f"{url}: no records at `{shown}` in the answer")
    if not isinstance(found, list):
        raise ConnectorError(
            where, f"{url}: the records at `{records_path or '.'}` are not a list but {type(found).__name__}"
        )
    return found


def iter_pages(
    client: httpx.Client,
    url: str,
    *,
    where: str,
    records_path: str,
    paging: Paging = Paging(),
    params: Mapping[str, str | int] | None = None,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    retry: RetryPolicy = RetryPolicy(),
    auth_hint: str = "check the credentials",
    sleep: Sleep = time.sleep,
) -> Iterator[Page]:
    """Every page of a list, in order. Stops after ``paging.max_pages`` with an error, and on a loop."""
    base: dict[str, str | int] = dict(params or {})
    style = paging.style
    if style == "page":
        number = paging.start
        base[paging.page_param] = number
        if paging.size_param and paging.size:
            base[paging.size_param] = paging.size
    elif style == "offset":
        base[paging.offset_param] = 0
        base[paging.limit_param] = paging.limit
    next_url: str | None = url
    query: dict[str, str | int] | None = base
    seen: set[str] = set()
    for count in range(paging.max_pages + 1):
        if next_url is None:
            return
        if count == paging.max_pages:
            raise ConnectorError(
                where, f"{display_url(url)}: more than {paging.max_pages} pages; raise `pagination.max_pages`"
            )
        body, response = get_json(
            client, next_url, where=where, params=query, headers=headers, auth=auth, retry=retry,
            auth_hint=auth_hint, sleep=sleep,
        )  # fmt: skip
        shown = display_url(response.url)
        if str(response.url) in seen:
            raise ConnectorError(where, f"{shown}: the server sent the same page twice; paging is looping")
        seen.add(str(response.url))
        records = _records(body, records_path, shown, where)
        yield Page(shown, body, records)
        if style == "link":
            link = response.links.get("next")
            target = link.get("url") if link else None
            # The next URL carries its own query; the first request's parameters are not re-sent.
            next_url, query = (str(response.url.join(target)), None) if target else (None, None)
        elif style == "cursor":
            cursor = path_get(body, paging.cursor_path)
            if cursor in (None, "") or not records:
                return
            query = {**base, paging.cursor_param: str(cursor)}
        elif style == "page":
            if not records or (paging.size is not None and len(records) < paging.size):
                return
            number += 1
            query = {**base, paging.page_param: number}
        elif style == "offset":
            if len(records) < paging.limit:
                return
            query = {**base, paging.offset_param: int(base[paging.offset_param]) + (count + 1) * paging.limit}
        else:
            return
