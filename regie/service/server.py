"""`regie serve`: uvicorn around the app, TLS that follows its files, SIGHUP reloads policies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

import uvicorn

from regie.service.app import create_app
from regie.service.recorder import DecisionRecorder
from regie.service.reload import LoadError
from regie.service.runtime import Service, ServiceOptions
from regie.service.tls import ReloadingTLS, TLSError
from regie.service.tracing import configure_sdk
from regie.store.errors import StoreError

__all__ = ["ServeError", "build_server", "serve", "serve_async"]

log = logging.getLogger("regie.service")

#: How often the certificate files are checked; cert-manager renews well ahead of expiry.
TLS_CHECK_SECONDS = 2.0


class ServeError(Exception):
    """The server cannot start; ``problems`` says why, each naming the option or file."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def build_server(
    options: ServiceOptions, recorder: DecisionRecorder | None = None
) -> tuple[Service, uvicorn.Server]:
    """A started service (policies loaded, watcher running) and a uvicorn server for it."""
    problems = options.problems()
    if problems:
        raise ServeError(problems)
    try:
        service = Service(options, recorder)
    except StoreError as err:
        raise ServeError([f"--store: {err.where}: {err.message}"]) from None
    if options.tls_cert and options.tls_key:
        try:
            service.tls = ReloadingTLS(
                options.tls_cert,
                options.tls_key,
                options.client_ca,
                on_reload=lambda ok: service.metrics.tls_reloads.inc("success" if ok else "failure"),
            )
        except TLSError as err:
            raise ServeError([str(err)]) from None
    try:
        service.start()
    except LoadError as err:
        raise ServeError(list(err.problems)) from None
    tls = service.tls
    config = uvicorn.Config(
        create_app(service),
        # our context rather than uvicorn's one-shot one, so that a rotated certificate is served
        ssl_context_factory=(lambda _config, _default: tls.context) if tls else None,
        host=options.host,
        port=options.port,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_keep_alive=30,
        lifespan="off",
    )
    return service, uvicorn.Server(config)


def serve(options: ServiceOptions, recorder: DecisionRecorder | None = None) -> None:
    """Run until SIGINT or SIGTERM; ServeError when it cannot start."""
    configure_sdk()
    service, server = build_server(options, recorder)
    restore = _on_signals(service.holder.request_reload, server)
    snapshot = service.holder.current
    log.info(
        "regie serve starting",
        extra={
            "host": options.host,
            "port": options.port,
            "tls": service.tls is not None,
            "mtls": bool(options.client_ca),
            "policies": len(snapshot.policy_set.policies),
            "policy_set_hash": snapshot.hash,
            "deadline_ms": options.deadline_ms,
            "failure_mode": options.failure_mode,
            "tokens": options.tokens is not None,
            "namespace_labels": options.namespace_labels,
        },
    )
    try:
        asyncio.run(serve_async(service, server))
    finally:
        restore()
        service.close()


async def serve_async(service: Service, server: uvicorn.Server) -> None:
    """Serve until ``server.should_exit``, checking the TLS files meanwhile (tests run this in a thread)."""
    watcher = asyncio.create_task(_watch_tls(service)) if service.tls else None
    try:
        await server.serve()
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher


async def _watch_tls(service: Service) -> None:
    """Check the certificate files on the event loop's thread, where handshakes happen."""
    assert service.tls is not None
    while True:
        await asyncio.sleep(TLS_CHECK_SECONDS)
        service.tls.check()


def _on_signals(reload: Callable[[], None], server: uvicorn.Server) -> Callable[[], None]:
    """SIGHUP reloads the policies. SIGTERM and SIGINT stop the server; uvicorn handles them while
    serving and raises them again afterwards, which with the default handlers would end the process
    before the recorder is flushed (and with a signal status instead of exit 0)."""
    if not hasattr(signal, "SIGHUP"):  # pragma: no cover - not on Windows
        return lambda: None

    def stop(*_: object) -> None:
        server.should_exit = True

    try:
        previous = {
            signal.SIGHUP: signal.signal(signal.SIGHUP, lambda *_: reload()),
            signal.SIGTERM: signal.signal(signal.SIGTERM, stop),
            signal.SIGINT: signal.signal(signal.SIGINT, stop),
        }
    except ValueError:  # not the main thread (tests): no signal handling
        return lambda: None

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
