"""AdmissionReview v1 requests (``k8s:admission:PATH``) as the webhook receives them.

The input is an ``AdmissionReview`` (``apiVersion: admission.k8s.io/v1``) or a bare
``AdmissionRequest`` (its ``request`` field). Field names follow
``k8s.io/api/admission/v1`` ``AdmissionRequest``: ``uid``, ``kind`` (group, version,
kind), ``resource``, ``name``, ``namespace``, ``operation`` (CREATE, UPDATE, DELETE,
CONNECT), ``userInfo``, ``object``, ``oldObject``, ``dryRun``, ``options``.

What becomes facts:

- CREATE and UPDATE: ``request.object``, with ``action`` ``create`` / ``update``;
- UPDATE: the previous state stays with the new one, as ``attributes._old_object``
  (redacted the same way), not as a second resource, so that one object is one
  resource and policies can compare (``r.attributes._old_object.spec.replicas``);
- DELETE: ``request.oldObject``, with ``action`` ``delete``;
- CONNECT (``kubectl exec``/``attach``/``port-forward``): no facts; the object is
  an options record, not a resource.

Objects may leave out ``apiVersion``, ``kind``, ``metadata.namespace`` and
``metadata.name`` (the API server fills them in later); they are taken from the
request's ``kind``, ``namespace`` and ``name``. ``attributes._request`` keeps
``uid``, ``operation``, ``dryRun``, ``subResource`` and the requesting user's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regie.connectors.base import ConnectorError, Ownership, PullContext
from regie.connectors.kubernetes.facts import redact_object, resources_from_objects
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

__all__ = ["ADMISSION_API_VERSION", "pull_admission", "resources_from_admission"]

ADMISSION_API_VERSION = "admission.k8s.io/v1"
_OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
_DEFAULT_OWNERSHIP = Ownership()


def _request_of(data: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ConnectorError(where, "expected an AdmissionReview or an AdmissionRequest (a JSON object)")
    if data.get("kind") == "AdmissionReview" or "request" in data:
        version = data.get("apiVersion")
        if version != ADMISSION_API_VERSION:
            raise ConnectorError(
                f"{where}: apiVersion",
                f"AdmissionReview {version!r} is not supported; expected {ADMISSION_API_VERSION} "
                "(set admissionReviewVersions: [v1] on the webhook configuration)",
            )
        request = data.get("request")
        if not isinstance(request, Mapping):
            raise ConnectorError(
                f"{where}: request", "an AdmissionReview without a request (is it a response?)"
            )
        return request
    if "operation" in data and "uid" in data:
        return data
    raise ConnectorError(
        where,
        "neither an AdmissionReview (kind, apiVersion, request) nor an AdmissionRequest (uid, operation)",
    )


def _complete(obj: Any, request: Mapping[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(obj, Mapping):
        raise ConnectorError(where, "expected an object")
    out = dict(obj)
    gvk = request.get("kind")
    if isinstance(gvk, Mapping):
        group, version = gvk.get("group") or "", gvk.get("version") or ""
        out.setdefault("apiVersion", f"{group}/{version}" if group else version)
        out.setdefault("kind", gvk.get("kind"))
    for key in ("apiVersion", "kind"):
        if not isinstance(out.get(key), str) or not out[key]:
            raise ConnectorError(
                where, f"the object has no `{key}` and the request no `kind` to take it from"
            )
    meta = dict(out.get("metadata") or {})
    if not meta.get("namespace") and request.get("namespace") and out["kind"] != "Namespace":
        meta["namespace"] = request["namespace"]
    if not meta.get("name") and not meta.get("generateName"):
        if not request.get("name"):
            raise ConnectorError(where, "the object has no metadata.name and the request no name")
        meta["name"] = request["name"]
    out["metadata"] = meta
    return out


def resources_from_admission(
    data: Any,
    *,
    where: str,
    catalogs: Catalogs,
    ownership: Ownership = _DEFAULT_OWNERSHIP,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    source: str = "admission",
    owned: bool = False,
) -> list[Resource]:
    """Resources for one AdmissionReview or AdmissionRequest (already parsed JSON).

    ``namespace_labels`` gives the labels of the request's namespace (a webhook keeps
    them in a cache); ownership labels missing on the object are read there. ``owned``:
    the caller parsed ``data`` for this call alone, so secrets are redacted in it (the
    objects in ``data`` are changed) instead of in copies.
    """
    request = _request_of(data, where)
    operation = request.get("operation")
    if operation not in _OPERATIONS:
        raise ConnectorError(
            f"{where}: request.operation", f"expected one of {', '.join(_OPERATIONS)}, got {operation!r}"
        )
    if operation == "CONNECT":
        return []
    field = "oldObject" if operation == "DELETE" else "object"
    if not isinstance(request.get(field), Mapping):
        raise ConnectorError(f"{where}: request.{field}", f"a {operation} request needs `{field}`")
    obj = _complete(request[field], request, f"{where}: request.{field}")
    user = request.get("userInfo")
    obj["_request"] = {
        "uid": request.get("uid"),
        "operation": operation,
        "dryRun": bool(request.get("dryRun")),
        "subResource": request.get("subResource"),
        "user": user.get("username") if isinstance(user, Mapping) else None,
    }
    if operation == "UPDATE" and isinstance(request.get("oldObject"), Mapping):
        old = _complete(request["oldObject"], request, f"{where}: request.oldObject")
        obj["_old_object"] = redact_object(old, in_place=owned)
    return resources_from_objects(
        [obj],
        source=source,
        origin=f"k8s:admission:{where}",
        catalogs=catalogs,
        ownership=ownership,
        namespace_labels=namespace_labels,
        action=str(operation).lower(),
        owned=owned,
    )


def pull_admission(target: str, ctx: PullContext) -> list[Resource]:
    """Resources for an AdmissionReview or AdmissionRequest JSON file."""
    try:
        data = json.loads(Path(target).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConnectorError(target, "no such file") from None
    except json.JSONDecodeError as err:
        raise ConnectorError(f"{target}:{err.lineno}", f"not valid JSON: {err.msg}") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ConnectorError(target, f"cannot read: {err}") from None
    return resources_from_admission(data, where=target, catalogs=ctx.catalogs, ownership=ctx.ownership)
