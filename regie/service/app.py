"""The FastAPI application: admission, the /v1 API, health, readiness and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from regie import __version__
from regie.service.api import ApiError, Reader, json_response, router
from regie.service.limits import BodyLimit
from regie.service.metrics import CONTENT_TYPE
from regie.service.models import AdmissionReviewIn, AdmissionReviewOut, ErrorBody, Health, Readiness
from regie.service.runtime import Service
from regie.service.webhook import handle_admission

__all__ = ["create_app"]

_DESCRIPTION = """\
Regie's admission webhook and evaluation API (docs/service.md).

`/admission`, `/healthz` and `/readyz` need no token; everything else needs
`Authorization: Bearer TOKEN` with a token from the server's tokens file.
"""


def create_app(service: Service) -> FastAPI:
    """The app over a started :class:`Service` (its policy set loaded)."""
    app = FastAPI(
        title="Regie",
        version=__version__,
        description=_DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.service = service
    app.add_middleware(
        BodyLimit, max_body=service.options.max_body, read_timeout=service.options.read_timeout
    )
    app.exception_handler(ApiError)(_api_error)
    app.exception_handler(RequestValidationError)(_validation_error)
    app.exception_handler(StarletteHTTPException)(_http_error)
    app.include_router(router)

    @app.post(
        "/admission",
        response_model=AdmissionReviewOut,
        responses={400: {"model": ErrorBody, "description": "Not an AdmissionReview v1, or too large."}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/AdmissionReviewIn"}}
                },
            }
        },
        summary="Kubernetes validating admission webhook",
        tags=["admission"],
    )
    async def admission(request: Request) -> Response:
        """AdmissionReview v1 in, AdmissionReview v1 out; evaluated with the `admission` enforcement.

        Deny-level violations deny (status 403 with each policy, message and source); warn-level
        ones allow with `warnings`; DELETE and CONNECT are allowed without evaluation.
        """
        status, body = await handle_admission(service, await request.body())
        return Response(body, status_code=status, media_type="application/json")

    @app.get("/healthz", response_model=Health, summary="Liveness", tags=["health"])
    async def healthz() -> Response:
        """The process is alive and its event loop answers."""
        return json_response({"status": "ok"})

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "No policy set loaded."}},
        summary="Readiness",
        tags=["health"],
    )
    async def readyz() -> Response:
        """Ready when a policy set is loaded; the detail shows a failed reload (fail-static) too, and
        the namespace label cache (empty or stale)."""
        holder = service.holder
        status = holder.status
        snapshot = holder.current if holder.loaded else None
        body = {
            "ready": snapshot is not None,
            "policies": len(snapshot.policy_set.policies) if snapshot else 0,
            "policy_set_hash": snapshot.hash if snapshot else None,
            "loaded_at": snapshot.loaded_at.isoformat() if snapshot else None,
            "stale": snapshot is not None and not status.ok,
            "last_reload": {
                "ok": status.ok,
                "at": status.at.isoformat() if status.at else None,
                "problems": list(status.problems[:10]),
                "attempts": status.attempts,
                "failures": status.failures,
            },
            "tls": service.tls.problem if service.tls else None,
            "tokens": service.tokens.problem,
            # shown, never a reason to be unready: decisions go on without namespace labels
            "namespace_labels": service.namespaces.status() if service.namespaces else None,
        }
        return json_response(body, 200 if snapshot else 503)

    @app.get(
        "/metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format 0.0.4."}},
        summary="Prometheus metrics",
        tags=["health"],
    )
    def metrics(_: Reader) -> Response:
        """Decision counts per outcome, latency per policy, deadline hits, reload failures (reader role)."""
        return Response(service.metrics.registry.render(), media_type=CONTENT_TYPE)

    from regie.service.storage import mount_store

    mount_store(app, service)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document, plus the AdmissionReview request model the route reads by hand."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    review = AdmissionReviewIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(review.pop("$defs", {}))
    components["AdmissionReviewIn"] = review
    app.openapi_schema = schema
    return schema


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return exc.response()


async def _validation_error(request: Request, exc: Exception) -> Response:
    """A request body that does not fit its model: 400 naming the first field at fault."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": ("body",), "msg": "invalid request"}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    field = ".".join(loc) or "body"
    if first.get("type") == "json_invalid":
        field, message = "body", "invalid JSON"
    else:
        message = f"{first.get('msg', 'invalid')}"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return json_response(
        {"error": "bad request", "message": f"{field}: {message}{more}", "field": field}, 400
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    kind = {404: "not found", 405: "method not allowed"}.get(exc.status_code, "error")
    return json_response(
        {"error": kind, "message": str(exc.detail), "field": None}, exc.status_code, exc.headers
    )
