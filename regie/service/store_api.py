"""The violation store over HTTP: violations with their lifecycle, their changes as a stream, waivers.

``GET /v1/violations`` (filters and cursor pagination), ``GET /v1/violations/{id}`` (evidence and
history), ``GET /v1/violations/stream`` (server-sent events of changes, resumable with
``Last-Event-ID``), and waivers: list (reader), create and revoke (admin, recorded with who and
when). The store calls are blocking database work, so they run in FastAPI's thread pool
(plain ``def`` endpoints), never on the event loop that also answers admission reviews.
"""

# No `from __future__ import annotations` here: FastAPI reads the endpoints' annotations at
# definition time, and the dependency aliases below live in the router factory's scope.
import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from regie.store.api import Store
from regie.store.errors import StoreError
from regie.store.models import ViolationFilter

__all__ = ["WaiverIn", "store_router"]

#: How often the stream looks for new changes, and how often it sends a keep-alive comment
#: (proxies close idle connections).
POLL_SECONDS = 1.0
HEARTBEAT_SECONDS = 15.0

Status = Literal["open", "resolved", "waived"]


class WaiverIn(BaseModel):
    """A waiver to grant: which policy on which resources, why, approved by whom, until when."""

    model_config = ConfigDict(extra="forbid")

    policy: str = Field(description="Policy id, or a glob over policy ids (`cloud.*`).", min_length=1)
    resource: str = Field(description="Resource id, or a glob over resource ids.", min_length=1)
    reason: str = Field(description="Why the exception is acceptable, for the auditor.", min_length=1)
    approved_by: str = Field(description="Who approved the exception (a person or a role).", min_length=1)
    expires: dt.date = Field(description="Last day the waiver applies (ISO date); after it, it stops.")
    service: str | None = Field(default=None, description="Only violations of this service.")
    id: str | None = Field(default=None, description="A waiver id of your own; generated when left out.")


def store_router(store_of: Callable[[], Store | None], reader: Any, admin: Any) -> APIRouter:
    """The routes; ``reader`` and ``admin`` are dependencies that authenticate and return the
    caller's name (used as ``created_by`` / ``revoked_by``)."""
    router = APIRouter()

    def store() -> Store:
        s = store_of()
        if s is None:
            raise HTTPException(
                503, detail="no violation store is configured: start `regie serve --store URL`"
            )
        return s

    StoreDep = Annotated[Store, Depends(store)]
    Reader = Annotated[str, Depends(reader)]
    Admin = Annotated[str, Depends(admin)]

    @router.get("/v1/violations", tags=["violations"], summary="List violations, newest change first")
    def list_violations(
        db: StoreDep,
        _who: Reader,
        policy: Annotated[str | None, Query(description="Policy id.")] = None,
        requirement: Annotated[str | None, Query(description="Requirement id, e.g. CLOUD-01.")] = None,
        severity: Annotated[str | None, Query(description="info, low, medium, high or critical.")] = None,
        enforcement: Annotated[str | None, Query(description="advisory, warn or deny.")] = None,
        source: Annotated[str | None, Query(description="The source the facts came from.")] = None,
        service: Annotated[str | None, Query(description="The service the resource belongs to.")] = None,
        status: Annotated[Status | None, Query(description="open, resolved or waived.")] = None,
        since: Annotated[
            dt.datetime | None,
            Query(description="Only violations whose status changed at or after this time."),
        ] = None,
        cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page.")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 50,
    ) -> dict[str, Any]:
        where = ViolationFilter(
            policy=policy,
            requirement=requirement,
            severity=severity,
            enforcement=enforcement,
            source=source,
            service=service,
            status=status,
            since=since,
        )
        try:
            page = db.list_violations(where, cursor=cursor, limit=limit)
        except StoreError as e:
            raise HTTPException(400, detail=f"{e.where}: {e.message}") from None
        items = []
        for v in page.items:
            d = v.to_dict()
            d.pop("history", None)
            items.append(d)
        return {"items": items, "next_cursor": page.next_cursor}

    @router.get("/v1/violations/stream", tags=["violations"], summary="Changes as server-sent events")
    async def stream(request: Request, db: StoreDep, _who: Reader) -> StreamingResponse:
        start = request.headers.get("last-event-id") or request.query_params.get("after")
        if start is not None and not start.isdigit():
            raise HTTPException(400, detail="Last-Event-ID (or ?after=) must be a change id, a whole number")
        after = int(start) if start is not None else await run_in_threadpool(db.last_change_id)
        return StreamingResponse(
            _events(request, db, after),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @router.get(
        "/v1/violations/{violation_id}", tags=["violations"], summary="One violation with its history"
    )
    def get_violation(violation_id: int, db: StoreDep, _who: Reader) -> dict[str, Any]:
        v = db.get_violation(violation_id)
        if v is None:
            raise HTTPException(404, detail=f"no violation {violation_id}")
        return v.to_dict()

    @router.get("/v1/waivers", tags=["waivers"], summary="Waivers, with who granted and revoked them")
    def list_waivers(
        db: StoreDep,
        _who: Reader,
        include_revoked: Annotated[bool, Query(description="Also revoked waivers.")] = False,
    ) -> list[dict[str, Any]]:
        return [w.to_dict() for w in db.list_waivers(include_revoked=include_revoked)]

    @router.post("/v1/waivers", tags=["waivers"], status_code=201, summary="Grant a waiver (admin)")
    def create_waiver(body: WaiverIn, db: StoreDep, who: Admin) -> dict[str, Any]:
        try:
            w = db.create_waiver(
                policy=body.policy,
                resource=body.resource,
                reason=body.reason,
                approved_by=body.approved_by,
                expires=body.expires,
                created_by=who,
                service=body.service,
                waiver_id=body.id,
            )
        except StoreError as e:
            raise HTTPException(400, detail=f"{e.where}: {e.message}") from None
        return w.to_dict()

    @router.post("/v1/waivers/{waiver_id}/revoke", tags=["waivers"], summary="Revoke a waiver (admin)")
    def revoke_waiver(waiver_id: str, db: StoreDep, who: Admin) -> dict[str, Any]:
        if db.get_waiver(waiver_id) is None:
            raise HTTPException(404, detail=f"no waiver {waiver_id}")
        try:
            return db.revoke_waiver(waiver_id, revoked_by=who).to_dict()
        except StoreError as e:
            raise HTTPException(400, detail=f"{e.where}: {e.message}") from None

    return router


async def _events(request: Request, db: Store, after: int) -> AsyncIterator[bytes]:
    """Each change as an event with its id, so a reconnecting client resumes where it was."""
    yield b": regie violation changes\nretry: 3000\n\n"
    idle = 0.0
    while not await request.is_disconnected():
        changes = await run_in_threadpool(db.changes_after, after, limit=100)
        for change in changes:
            after = change.id
            data = orjson.dumps(change.to_dict())
            yield b"id: %d\nevent: %s\ndata: %s\n\n" % (change.id, change.kind.encode(), data)
        if changes:
            idle = 0.0
            continue
        await asyncio.sleep(POLL_SECONDS)
        idle += POLL_SECONDS
        if idle >= HEARTBEAT_SECONDS:
            idle = 0.0
            yield b": keep-alive\n\n"
