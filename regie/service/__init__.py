"""Regie as a service: the admission webhook and the evaluation API (`regie serve`, docs/service.md).

:func:`serve` runs it; :func:`build_server` gives the started service and its uvicorn
server (tests run that on a loopback port); :class:`DecisionRecorder` is the hook the
violation store implements to record admission decisions.
"""

from regie.service.app import create_app
from regie.service.auth import hash_token, new_token, token_entry
from regie.service.recorder import DecisionRecorder, NullRecorder
from regie.service.reload import LoadError, PolicySnapshot
from regie.service.runtime import DEFAULT_MAX_BODY, Service, ServiceOptions
from regie.service.server import ServeError, build_server, serve

__all__ = [
    "DEFAULT_MAX_BODY",
    "DecisionRecorder",
    "LoadError",
    "NullRecorder",
    "PolicySnapshot",
    "ServeError",
    "Service",
    "ServiceOptions",
    "build_server",
    "create_app",
    "hash_token",
    "new_token",
    "serve",
    "token_entry",
]
