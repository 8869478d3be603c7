"""OpenTelemetry spans through the API only: without an SDK they cost next to nothing.

Install the ``otel`` extra and set the standard ``OTEL_*`` variables to export them;
``regie serve`` configures an SDK when one is installed (:func:`configure_sdk`).
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace

__all__ = ["configure_sdk", "tracer"]

tracer = trace.get_tracer("regie.service")

log = logging.getLogger("regie.service.tracing")


def configure_sdk() -> bool:
    """Set up the SDK with an OTLP exporter when installed and OTEL_EXPORTER_OTLP_ENDPOINT is set."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
        from opentelemetry.sdk.trace import TracerProvider  # type: ignore[import-not-found]
        from opentelemetry.sdk.trace.export import BatchSpanProcessor  # type: ignore[import-not-found]
    except ImportError:
        log.warning(
            "OTEL_EXPORTER_OTLP_ENDPOINT is set but the otel extra is not installed: no spans exported"
        )
        return False
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return True
