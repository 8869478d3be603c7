"""A live cluster (``k8s:context:NAME``, ``k8s:in-cluster``): list what runs there.

:func:`list_objects` pages one list with ``limit``/``continue``; when the API server
answers 410 Gone (the continue token expired, typically after five minutes) the list
is restarted once from the beginning, a warning is logged, and the restart is
recorded in :attr:`ClusterPull.restarted`. A second 410 is an error. 401, 403, 404,
timeouts and connection failures become :class:`ConnectorError` with what to do.

:func:`pull_cluster` lists :data:`RESOURCES` across all namespaces, fills in each
item's ``apiVersion`` and ``kind`` (lists leave them out) and returns the resources.
"""

from __future__ import annotations

import logging
import os
import ssl
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.kubernetes.facts import resources_from_objects
from regie.connectors.kubernetes.kubeconfig import (
    SERVICE_ACCOUNT_ROOT,
    ClusterConfig,
    in_cluster_config,
    load_kubeconfig,
)
from regie.engine.facts import Resource

__all__ = [
    "PAGE_SIZE",
    "RESOURCES",
    "ClusterPull",
    "list_objects",
    "make_client",
    "pull_cluster",
    "pull_context",
    "pull_in_cluster",
]

log = logging.getLogger("regie.connectors.kubernetes")

#: What a pull lists: (API path prefix, plural resource, apiVersion, kind).
RESOURCES: tuple[tuple[str, str, str, str], ...] = (
    ("/api/v1", "namespaces", "v1", "Namespace"),
    ("/api/v1", "nodes", "v1", "Node"),
    ("/apis/apps/v1", "deployments", "apps/v1", "Deployment"),
    ("/apis/apps/v1", "statefulsets", "apps/v1", "StatefulSet"),
    ("/apis/apps/v1", "daemonsets", "apps/v1", "DaemonSet"),
    ("/apis/batch/v1", "jobs", "batch/v1", "Job"),
    ("/apis/batch/v1", "cronjobs", "batch/v1", "CronJob"),
    ("/api/v1", "pods", "v1", "Pod"),
    ("/api/v1", "services", "v1", "Service"),
    ("/apis/networking.k8s.io/v1", "ingresses", "networking.k8s.io/v1", "Ingress"),
)

PAGE_SIZE = 500


@dataclass(slots=True)
class ClusterPull:
    """What one pull saw besides the objects: lists restarted after a 410."""

    restarted: list[str] = field(default_factory=list)


def make_client(config: ClusterConfig, timeout: float) -> httpx.Client:
    """An httpx client for the cluster: TLS from the config, the bearer token as a header."""
    context = (
        ssl.create_default_context(cadata=config.ca_pem) if config.ca_pem else ssl.create_default_context()
    )
    if config.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if config.client_cert_pem and config.client_key_pem:
        # ssl loads certificate chains from files only; they live for the blink of a load.
        with tempfile.TemporaryDirectory(prefix="regie-k8s-") as tmp:
            cert, key = Path(tmp) / "client.crt", Path(tmp) / "client.key"
            for path, text in ((cert, config.client_cert_pem), (key, config.client_key_pem)):
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w", encoding="ascii") as f:
                    f.write(text)
            try:
                context.load_cert_chain(cert, key)
            except ssl.SSLError as err:
                raise ConnectorError(
                    config.name, f"the client certificate or key is not usable: {err}"
                ) from None
    headers = {"Accept": "application/json", "User-Agent": "regie"}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
    return httpx.Client(base_url=config.server, verify=context, headers=headers, timeout=timeout)


def _status_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    return str(body.get("message", "")) if isinstance(body, dict) else ""


def list_objects(
    client: httpx.Client,
    path: str,
    api_version: str,
    kind: str,
    *,
    where: str,
    page_size: int = PAGE_SIZE,
    report: ClusterPull | None = None,
) -> list[dict[str, Any]]:
    """All items of one list (``/apis/apps/v1/deployments``), page by page."""
    restarts = 0
    items: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": page_size}
        if token:
            params["continue"] = token
        try:
            response = client.get(path, params=params)
        except httpx.TimeoutException:
            raise ConnectorError(
                where, f"{path}: no answer within the timeout ({client.timeout.read}s)"
            ) from None
        except httpx.TransportError as err:
            raise ConnectorError(where, f"cannot connect to {client.base_url}: {err}") from None
        status = response.status_code
        if status == 410 and token and restarts == 0:
            restarts += 1
            log.warning(
                "%s: %s: continue token expired (410 Gone); listing again from the start", where, path
            )
            if report is not None:
                report.restarted.append(path)
            items, token = [], None
            continue
        if status != 200:
            raise ConnectorError(where, _explain(status, path, _status_message(response)))
        try:
            body = response.json()
        except ValueError:
            raise ConnectorError(where, f"{path}: the answer is not JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
            raise ConnectorError(where, f"{path}: the answer is not a Kubernetes list")
        for item in body.get("items") or []:
            if isinstance(item, dict):
                items.append({"apiVersion": api_version, "kind": kind, **item})
        meta = body.get("metadata") or {}
        token = meta.get("continue") if isinstance(meta, dict) else None
        if not token:
            return items


def _explain(status: int, path: str, message: str) -> str:
    detail = f" ({message})" if message else ""
    if status == 401:
        return (
            f"{path}: 401 Unauthorized{detail}: the credentials were refused; log in again or renew the token"
        )
    if status == 403:
        return (
            f"{path}: 403 Forbidden{detail}: this identity may not list it across namespaces; "
            "grant get/list in a ClusterRole"
        )
    if status == 404:
        return f"{path}: 404 Not Found{detail}: the API server does not serve this API version"
    if status == 410:
        return f"{path}: 410 Gone{detail}: the list expired twice; the cluster changes faster than it is read"
    return f"{path}: HTTP {status}{detail}"


def pull_cluster(
    config: ClusterConfig,
    ctx: PullContext,
    *,
    client: httpx.Client | None = None,
    page_size: int = PAGE_SIZE,
    report: ClusterPull | None = None,
) -> list[Resource]:
    """Resources for everything in :data:`RESOURCES` on the cluster of ``config``."""
    own = client is None
    http = client if client is not None else make_client(config, ctx.timeout)
    where = f"k8s:{config.name}"
    try:
        objects: list[dict[str, Any]] = []
        for prefix, plural, api_version, kind in RESOURCES:
            objects.extend(
                list_objects(
                    http,
                    f"{prefix}/{plural}",
                    api_version,
                    kind,
                    where=where,
                    page_size=page_size,
                    report=report,
                )
            )
    finally:
        if own:
            http.close()
    return resources_from_objects(
        objects, source=config.name, origin=where, catalogs=ctx.catalogs, ownership=ctx.ownership
    )


def pull_context(target: str, ctx: PullContext) -> list[Resource]:
    """``k8s:context:NAME``: the cluster of a kubeconfig context."""
    return pull_cluster(load_kubeconfig(target or None, ctx.env, timeout=ctx.timeout), ctx)


def pull_in_cluster(target: str, ctx: PullContext, *, root: Path = SERVICE_ACCOUNT_ROOT) -> list[Resource]:
    """``k8s:in-cluster``: the cluster this pod runs in, with its service account."""
    return pull_cluster(in_cluster_config(ctx.env, root), ctx)
