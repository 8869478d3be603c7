"""The read and evaluation API under ``/v1``: evaluate facts, the policies and catalogues in force."""

from __future__ import annotations

import difflib
import time
from collections.abc import Mapping
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from regie.dsl.values import Unknown
from regie.engine.catalog import CATALOG_TYPES
from regie.engine.evaluate import evaluate
from regie.engine.facts import FactError, Inventory, resources_from_records
from regie.loading import BUILTIN_POLICIES
from regie.output import JSON_VERSION, evaluation_summary
from regie.service.auth import AuthError, Principal, Role
from regie.service.deadline import PolicyTimer
from regie.service.models import (
    CatalogResponse,
    ErrorBody,
    EvaluateRequest,
    EvaluateResponse,
    PoliciesResponse,
)
from regie.service.runtime import Service
from regie.service.tracing import tracer

__all__ = ["ApiError", "Reader", "json_response", "plain", "require", "router"]

_bearer = HTTPBearer(auto_error=False, description="A token from the tokens file (`regie token NAME`).")
_AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing, unknown or no configured token."},
    403: {"model": ErrorBody, "description": "The token's role does not allow this."},
}


class ApiError(Exception):
    """An error answer: status, a short kind, a message, and the field at fault."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        super().__init__(message)

    def response(self) -> Response:
        body = {"error": self.error, "message": self.message, "field": self.field}
        return json_response(body, self.status, self.headers)


def json_response(payload: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(payload, default=plain, option=orjson.OPT_NON_STR_KEYS),
        status_code=status,
        media_type="application/json",
        headers=dict(headers or {}),
    )


def plain(value: Any) -> Any:
    """What orjson cannot write itself: sets (sorted), unknowns, mappings, tuples."""
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, Unknown):
        return {"unknown": value.reason}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return str(value)


def require(role: Role) -> Any:
    """A dependency: the caller's principal, or 401/403 with a body that says why."""

    def check(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        service: Service = request.app.state.service
        try:
            return service.tokens.authenticate(request.headers.get("authorization"), role)
        except AuthError as err:
            service.metrics.auth_failures.inc(str(err.status))
            headers = {"WWW-Authenticate": 'Bearer realm="regie"'} if err.status == 401 else {}
            kind = "unauthorized" if err.status == 401 else "forbidden"
            raise ApiError(err.status, kind, err.message, None, headers) from None

    return Depends(check)


Reader = Annotated[Principal, require("reader")]

router = APIRouter(prefix="/v1", responses=_AUTH_RESPONSES)


@router.post(
    "/evaluate",
    response_model=EvaluateResponse,
    responses={400: {"model": ErrorBody, "description": "Malformed facts or an unknown policy id."}},
    summary="Evaluate facts against the policies in force",
)
def evaluate_facts(body: EvaluateRequest, request: Request, _: Reader) -> Response:
    """Facts in (the records `regie eval --facts` reads), violations out, as `regie eval --format json`."""
    service: Service = request.app.state.service
    snapshot = service.holder.current
    try:
        resources = resources_from_records(body.resources, "resources")
    except FactError as err:
        service.metrics.evaluations.inc("bad_request")
        raise ApiError(400, "bad facts", err.message, err.where) from None
    if body.policies is not None:
        known = {p.id for p in snapshot.policy_set.policies}
        for i, pid in enumerate(body.policies):
            if pid not in known:
                hint = difflib.get_close_matches(pid, known, n=1)
                service.metrics.evaluations.inc("bad_request")
                raise ApiError(
                    400,
                    "unknown policy",
                    f"no policy `{pid}` in force" + (f" (did you mean `{hint[0]}`?)" if hint else ""),
                    f"policies[{i}]",
                )
    started = time.perf_counter()
    timer = PolicyTimer(None)
    with tracer.start_as_current_span("regie.evaluate") as span:
        span.set_attribute("regie.resources", len(resources))
        evaluation = evaluate(
            snapshot.policy_set,
            Inventory(resources),
            snapshot.catalogs,
            context=body.context,
            today=body.today,
            waivers=snapshot.waivers,
            only=body.policies,
            progress=timer,
            freeze=False,  # no permanent generation in a long-running server
        )
    seconds = time.perf_counter() - started
    service.metrics.policy_seconds.observe_many(timer.times)
    for error in evaluation.errors:
        service.metrics.policy_errors.inc(error.policy)
    service.metrics.evaluations.inc("ok")
    order = {"deny": 0, "warn": 1, "advisory": 2}
    vs = sorted(
        evaluation.violations,
        key=lambda v: (v.waived, v.outcome != "violation", order[v.enforcement], v.policy, v.resource),
    )
    payload = {
        "version": JSON_VERSION,
        "context": body.context,
        "policy_set_hash": snapshot.hash,
        "summary": evaluation_summary(evaluation, round(seconds, 6)),
        "violations": [v.to_dict() for v in vs],
        "waivers": [s.to_dict() for s in evaluation.waivers],
        "errors": [{"policy": e.policy, "message": e.message} for e in evaluation.errors],
    }
    return json_response(payload)


@router.get("/policies", response_model=PoliciesResponse, summary="The policies in force")
def list_policies(request: Request, _: Reader) -> Response:
    """Every policy in force: titles, requirements, source, severity, enforcement per context, parameters."""
    service: Service = request.app.state.service
    snapshot = service.holder.current
    policies = []
    for lp in snapshot.policy_set.policies:
        meta = lp.checked.meta
        policies.append(
            {
                "id": lp.id,
                "title": meta.title,
                "titles": meta.titles,
                "description": meta.description,
                "requirements": list(meta.requirements),
                "source": meta.source,
                "basis": meta.basis,
                "severity": meta.severity,
                "enforcement": {
                    "default": meta.enforce,
                    **{ctx: meta.enforcement(ctx) for ctx in ("ci", "admission", "audit")},
                },
                "unknown": meta.unknown,
                "tags": list(meta.tags),
                "params": [
                    {"name": name, "type": str(ty), "value": lp.params.get(name)}
                    for name, ty in lp.checked.param_types.items()
                ],
                "module": _origin(lp.module),
            }
        )
    return json_response(
        {"policy_set_hash": snapshot.hash, "loaded_at": snapshot.loaded_at.isoformat(), "policies": policies}
    )


@router.get(
    "/catalog/{name}",
    response_model=CatalogResponse,
    responses={404: {"model": ErrorBody, "description": "No catalogue of that name."}},
    summary="A catalogue in force",
)
def get_catalog(
    request: Request,
    _: Reader,
    name: Annotated[str, Path(description="providers, regions, countries, models, registries, saas, …")],
) -> Response:
    """The catalogue in force: built-in entries with the organisation's merged in, each with its origin."""
    service: Service = request.app.state.service
    catalogs = service.holder.current.catalogs
    if name not in catalogs.entries:
        hint = difflib.get_close_matches(name, list(CATALOG_TYPES), n=1)
        raise ApiError(
            404,
            "no such catalogue",
            f"no catalogue `{name}`"
            + (f" (did you mean `{hint[0]}`?)" if hint else f"; catalogues are {', '.join(CATALOG_TYPES)}"),
            "name",
        )
    entries = {
        key: {**entry, "origin": _origin(catalogs.origins.get((name, key)))}
        for key, entry in catalogs.entries[name].items()
    }
    return json_response({"name": name, "entries": entries})


def _origin(path: str | None) -> str:
    if path is None:
        return ""
    return "built-in" if path.startswith(str(BUILTIN_POLICIES)) else path
