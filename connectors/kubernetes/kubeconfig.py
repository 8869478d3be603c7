"""Where a cluster is and how to authenticate to it: kubeconfig files and the in-cluster service account.

:func:`load_kubeconfig` reads ``$KUBECONFIG`` (several files joined with ``os.pathsep``;
the first file to set a name or ``current-context`` wins, as kubectl merges them) or
``~/.kube/config``, and resolves one context to a :class:`ClusterConfig`: server, CA
(``certificate-authority-data`` or ``certificate-authority``), client certificate and key
(data or files), bearer token (``token`` or ``tokenFile``), an ``exec`` credential plugin
(run as kubectl does: ``KUBERNETES_EXEC_INFO`` in its environment, an
``client.authentication.k8s.io/v1`` ``ExecCredential`` JSON on stdout), and
``insecure-skip-tls-verify``. Relative file paths are relative to the kubeconfig file.

:func:`in_cluster_config` reads the pod's service account (``token`` and ``ca.crt`` under
``/var/run/secrets/kubernetes.io/serviceaccount``) and ``KUBERNETES_SERVICE_HOST``/``_PORT``.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from regie.connectors.base import ConnectorError

__all__ = [
    "SERVICE_ACCOUNT_ROOT",
    "ClusterConfig",
    "in_cluster_config",
    "kubeconfig_paths",
    "load_kubeconfig",
]

SERVICE_ACCOUNT_ROOT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_EXEC_VERSIONS = ("client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1")


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """One cluster and one identity. PEM texts, not file names: nothing is read later."""

    name: str
    server: str
    ca_pem: str | None = None
    client_cert_pem: str | None = None
    client_key_pem: str | None = None
    token: str | None = None
    insecure: bool = False

    def __repr__(self) -> str:  # never print a token or a key
        return f"ClusterConfig({self.name!r}, server={self.server!r}, insecure={self.insecure})"


def kubeconfig_paths(env: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files kubectl would read: ``$KUBECONFIG``, else ``~/.kube/config``."""
    value = env.get("KUBECONFIG")
    if value:
        return [Path(p) for p in value.split(os.pathsep) if p]
    home = env.get("HOME") or str(Path.home())
    return [Path(home) / ".kube" / "config"]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as err:
        raise ConnectorError(str(path), f"cannot read the kubeconfig: {err}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConnectorError(str(path), "a kubeconfig is a map with clusters, users and contexts")
    return data


def load_kubeconfig(context: str | None, env: Mapping[str, str], *, timeout: float = 30.0) -> ClusterConfig:
    """The cluster and credentials of ``context`` (None: the current context)."""
    paths = kubeconfig_paths(env)
    named: dict[str, dict[str, tuple[dict[str, Any], Path]]] = {"clusters": {}, "users": {}, "contexts": {}}
    current: str | None = None
    found_any = False
    for path in paths:
        data = _read(path)
        found_any = found_any or bool(data) or path.exists()
        current = current or data.get("current-context") or None
        for section in named:
            entries = data.get(section) or []
            if not isinstance(entries, list):
                raise ConnectorError(f"{path}: {section}", "expected a list")
            for entry in entries:
                if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                    named[section].setdefault(entry["name"], (entry, path))
    where = os.pathsep.join(map(str, paths))
    if not found_any:
        raise ConnectorError(where, "no kubeconfig found (set KUBECONFIG or create ~/.kube/config)")
    name = context or current
    if not name:
        raise ConnectorError(where, "no context given and no current-context set")
    if name not in named["contexts"]:
        known = ", ".join(sorted(named["contexts"])) or "none"
        raise ConnectorError(where, f"no context `{name}` in the kubeconfig (contexts: {known})")
    ctx_entry, ctx_path = named["contexts"][name]
    body = ctx_entry.get("context") or {}
    cluster_name, user_name = body.get("cluster"), body.get("user")
    if cluster_name not in named["clusters"]:
        raise ConnectorError(f"{ctx_path}: context {name}", f"cluster `{cluster_name}` is not defined")
    cluster_entry, cluster_path = named["clusters"][cluster_name]
    cluster = cluster_entry.get("cluster") or {}
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise ConnectorError(f"{cluster_path}: cluster {cluster_name}", "the cluster has no server")
    ca = _pem(cluster, "certificate-authority", cluster_path, f"cluster {cluster_name}")
    user: dict[str, Any] = {}
    user_path = ctx_path
    if user_name:
        if user_name not in named["users"]:
            raise ConnectorError(f"{ctx_path}: context {name}", f"user `{user_name}` is not defined")
        user_entry, user_path = named["users"][user_name]
        user = user_entry.get("user") or {}
    uwhere = f"user {user_name}"
    cert = _pem(user, "client-certificate", user_path, uwhere)
    key = _pem(user, "client-key", user_path, uwhere)
    token = user.get("token") or None
    if not token and user.get("tokenFile"):
        token = _file(user["tokenFile"], user_path, uwhere).strip()
    if isinstance(user.get("exec"), dict):
        status = run_exec_plugin(user["exec"], user_path, uwhere, env, server, timeout=timeout)
        token = status.get("token") or token
        cert = status.get("clientCertificateData") or cert
        key = status.get("clientKeyData") or key
    if user.get("auth-provider"):
        raise ConnectorError(
            f"{user_path}: {uwhere}",
            "auth-provider plugins were removed from kubectl; use an exec plugin (e.g. kubelogin)",
        )
    return ClusterConfig(
        name=name,
        server=server.rstrip("/"),
        ca_pem=ca,
        client_cert_pem=cert,
        client_key_pem=key,
        token=token,
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
    )


def _file(name: str, base: Path, where: str) -> str:
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = base.parent / path
    try:
        return path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConnectorError(f"{base}: {where}", f"cannot read {path}: {err.strerror or err}") from None


def _pem(entry: Mapping[str, Any], key: str, base: Path, where: str) -> str | None:
    data = entry.get(f"{key}-data")
    if data:
        try:
            return base64.b64decode(str(data), validate=True).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            raise ConnectorError(f"{base}: {where}", f"`{key}-data` is not base64-encoded PEM") from None
    name = entry.get(key)
    return _file(str(name), base, where) if name else None


def run_exec_plugin(
    spec: Mapping[str, Any], base: Path, where: str, env: Mapping[str, str], server: str, *, timeout: float
) -> dict[str, Any]:
    """Run a kubeconfig ``exec`` credential plugin; the ``status`` of its ExecCredential."""
    command = spec.get("command")
    if not isinstance(command, str) or not command:
        raise ConnectorError(f"{base}: {where}: exec", "an exec plugin needs a `command`")
    if os.sep in command and not os.path.isabs(command):
        command = str(base.parent / command)  # kubectl: relative to the kubeconfig file
    version = spec.get("apiVersion") or _EXEC_VERSIONS[0]
    if version not in _EXEC_VERSIONS:
        raise ConnectorError(f"{base}: {where}: exec", f"exec apiVersion {version!r} is not supported")
    info: dict[str, Any] = {"apiVersion": version, "kind": "ExecCredential", "spec": {"interactive": False}}
    if spec.get("provideClusterInfo"):
        info["spec"]["cluster"] = {"server": server}
    run_env = dict(env)
    for var in spec.get("env") or []:
        if isinstance(var, dict) and "name" in var:
            run_env[str(var["name"])] = str(var.get("value", ""))
    run_env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    argv = [command, *[str(a) for a in spec.get("args") or []]]
    try:
        done = subprocess.run(
            argv, env=run_env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
    except FileNotFoundError:
        hint = spec.get("installHint")
        raise ConnectorError(
            f"{base}: {where}: exec",
            f"credential plugin `{command}` not found" + (f": {hint}" if hint else ""),
        ) from None
    except subprocess.TimeoutExpired:
        raise ConnectorError(
            f"{base}: {where}: exec", f"`{command}` gave no credential within {timeout}s"
        ) from None
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or [""]
        raise ConnectorError(f"{base}: {where}: exec", f"`{command}` failed ({done.returncode}): {tail[0]}")
    try:
        cred = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise ConnectorError(
            f"{base}: {where}: exec", f"`{command}` did not print an ExecCredential"
        ) from None
    status = cred.get("status") if isinstance(cred, dict) else None
    if not isinstance(status, dict) or cred.get("kind") != "ExecCredential":
        raise ConnectorError(f"{base}: {where}: exec", f"`{command}` printed no ExecCredential status")
    return status


def in_cluster_config(env: Mapping[str, str], root: Path = SERVICE_ACCOUNT_ROOT) -> ClusterConfig:
    """The pod's own service account and the API server address of its environment."""
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise ConnectorError(
            "k8s:in-cluster", "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not in a pod?"
        )
    try:
        token = (root / "token").read_text(encoding="utf-8").strip()
        ca = (root / "ca.crt").read_text(encoding="utf-8")
    except OSError as err:
        raise ConnectorError(
            "k8s:in-cluster",
            f"cannot read the service account ({err.filename}): is automountServiceAccountToken off?",
        ) from None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return ClusterConfig(name="in-cluster", server=f"https://{host}:{port}", ca_pem=ca, token=token)
