"""The violation store inside `regie serve`: admission decisions recorded, and the store's routes.

:class:`StoreRecorder` keeps every recordable admission decision in the store (on the
recorder's worker thread, never on the request path). :func:`mount_store` adds the violation
and waiver API, the server-sent event stream, the Atom feed and the web page for compliance
officers; without ``--store`` they answer 503 saying how to configure one.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at
# definition time, and they name dependencies made inside mount_store.
import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.responses import Response

from regie.engine.violations import Violation
from regie.service.api import require
from regie.service.auth import AuthError, Principal
from regie.service.feed import ATOM_TYPE, atom_feed
from regie.service.runtime import Service
from regie.service.store_api import store_router
from regie.service.web import COOKIE, web_router
from regie.store.api import Store

__all__ = ["StoreRecorder", "mount_store"]

#: Entries in the Atom feed: the newest changes (feed readers poll; older ones they have seen).
FEED_ENTRIES = 100


class StoreRecorder:
    """A :class:`~regie.service.recorder.DecisionRecorder` that writes to the violation store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record_admission(
        self,
        review_request: dict[str, Any],
        allowed: bool,
        violations: list[Violation],
        policy_set_hash: str,
        namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        # The store redacts the objects again before keeping them: a secret never reaches it.
        blocking = [f"{v.policy}: {v.message}" for v in violations if v.blocking]
        warnings = [
            f"{v.policy}: {v.message}"
            for v in violations
            if not v.blocking and not v.waived and v.enforcement != "advisory"
        ]
        self.store.record_admission(
            review_request,
            allowed=allowed,
            messages=blocking,
            warnings=warnings,
            violations=violations,
            policy_set_hash=policy_set_hash,
            # what the decision saw of the object's namespace: `regie replay` decides with it again
            namespace_labels=namespace_labels,
        )


def mount_store(app: FastAPI, service: Service) -> None:
    """The store's routes on ``app``; reader and admin roles as for the rest of the API."""

    def store() -> Store | None:
        return service.store

    reader_dep = require("reader")
    admin_dep = require("admin")

    def reader(request: Request, principal: Annotated[Principal, reader_dep]) -> str:
        return principal.name

    def admin(request: Request, principal: Annotated[Principal, admin_dep]) -> str:
        return principal.name

    def who_is(request: Request) -> tuple[str, str] | None:
        header = request.headers.get("authorization")
        token = request.cookies.get(COOKIE)
        try:
            p = service.tokens.authenticate(header or (f"Bearer {token}" if token else None), "reader")
        except AuthError:
            return None
        return p.name, p.role

    def check_token(token: str) -> tuple[str, str] | str:
        try:
            p = service.tokens.authenticate(f"Bearer {token}", "reader")
        except AuthError as err:
            if service.tokens.path is None:
                return err.message  # says how to configure tokens
            return "That token is not valid."
        return p.name, p.role

    app.include_router(store_router(store, reader, admin))
    app.include_router(web_router(store, who_is, check_token))

    @app.get(
        "/feed.atom",
        tags=["violations"],
        summary="Violation changes as an Atom feed",
        response_class=Response,
        responses={200: {"content": {ATOM_TYPE: {}}, "description": "An Atom 1.0 feed (RFC 4287)."}},
    )
    def feed(request: Request) -> Response:
        """The newest changes (opened, resolved, waived, waivers granted and revoked), newest first.

        Reader role: a bearer token, or the web page's sign-in cookie.
        """
        if who_is(request) is None:
            return Response(
                '{"error":"unauthorized","message":"send `Authorization: Bearer TOKEN` with a reader token"}',
                status_code=401,
                media_type="application/json",
                headers={"WWW-Authenticate": 'Bearer realm="regie"'},
            )
        db = service.store
        if db is None:
            return Response(
                '{"error":"no_store","message":"no violation store: start `regie serve --store URL`"}',
                status_code=503,
                media_type="application/json",
            )
        last = db.last_change_id()
        changes = list(reversed(db.changes_after(max(0, last - FEED_ENTRIES), limit=FEED_ENTRIES)))
        base = str(request.base_url).rstrip("/")
        body = atom_feed(changes, base_url=base, feed_id=f"{base}/feed.atom", updated=dt.datetime.now(dt.UTC))
        return Response(body, media_type=ATOM_TYPE)
