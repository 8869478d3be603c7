"""Terraform's HTTP backend (``terraform:https://…``): the state a GET on its address returns.

The URL is the backend's ``address``; a GET returns the state's JSON, which is then
read like a state file. Credentials come from environment variables, never from
files or the command line:

``TF_HTTP_TOKEN``
    A bearer token (``Authorization: Bearer …``). Regie's own name: Terraform's HTTP
    backend has no bearer token setting. It wins when the basic-auth variables are
    set too.
``TF_HTTP_USERNAME`` and ``TF_HTTP_PASSWORD``
    Basic auth, the variables Terraform's HTTP backend itself reads (GitLab's managed
    state, for instance: the user name and a personal access token).

Credentials in the URL (``https://user:pass@host/…``) are sent as basic auth too,
and never appear in ids or messages. Errors name the URL (without credentials):
401/403 (the credentials are missing or refused), 404 (no state at that address),
an empty body (the backend holds no state yet), other statuses, connection
failures and timeouts (``PullContext.timeout`` seconds).
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.http.client import display_url, open_client

__all__ = ["BASIC_ENV", "TOKEN_ENV", "fetch_state"]

#: The environment variable holding a bearer token.
TOKEN_ENV: Final = "TF_HTTP_TOKEN"
#: The environment variables holding basic-auth credentials (Terraform's own names).
BASIC_ENV: Final = ("TF_HTTP_USERNAME", "TF_HTTP_PASSWORD")


def fetch_state(url: str, ctx: PullContext) -> bytes:
    """The body of a GET on the backend's address; :class:`ConnectorError` when there is none."""
    where = display_url(url)
    headers: dict[str, str] = {"Accept": "application/json"}
    auth: Any = None
    token = ctx.env.get(TOKEN_ENV)
    user, password = (ctx.env.get(name) for name in BASIC_ENV)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    elif user or password:
        auth = httpx.BasicAuth(user or "", password or "")
    try:
        with open_client(ctx) as client:
            kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": True}
            if auth is not None:
                kwargs["auth"] = auth
            response = client.get(url, **kwargs)
    except httpx.TimeoutException:
        raise ConnectorError(where, f"no response from the HTTP backend within {ctx.timeout:g}s") from None
    except httpx.HTTPError as err:
        raise ConnectorError(where, f"cannot reach the HTTP backend: {err}") from None
    status = response.status_code
    if status in (401, 403):
        used = (
            f"the token in {TOKEN_ENV}"
            if token
            else "basic auth from " + "/".join(BASIC_ENV)
            if auth is not None
            else f"no credentials (set {TOKEN_ENV}, or {' and '.join(BASIC_ENV)})"
        )
        raise ConnectorError(where, f"access refused (HTTP {status}); sent {used}")
    if status == 404:
        raise ConnectorError(where, "no state at this address (HTTP 404)")
    if status >= 400 or status < 200:
        raise ConnectorError(where, f"the HTTP backend answered HTTP {status} {response.reason_phrase}")
    body = response.content
    if not body.strip():
        raise ConnectorError(where, f"the HTTP backend holds no state yet (HTTP {status}, empty body)")
    return body
