"""JSON documents as the connectors read them: :func:`loads`.

Where Regie was installed with a C compiler, the compiled parser of ``connectors/_json.c``
reads them: the values of ``orjson.loads``, with each distinct short string of a document
made once and shared (a Terraform state repeats a few hundred keys and a few thousand
values millions of times; sharing them saves most of a parse's allocations and of freeing
its facts later). Elsewhere ``orjson.loads`` does. Both raise the same error.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["NATIVE", "JSONDecodeError", "loads"]

JSONDecodeError = orjson.JSONDecodeError

NATIVE: Any
try:
    from regie.connectors._json import loads as NATIVE
except ImportError:  # not built where Regie was installed: orjson reads every document
    NATIVE = None


def loads(raw: bytes | bytearray | memoryview | str) -> Any:
    """A JSON document as Python values.

    Raises :class:`orjson.JSONDecodeError` (a :class:`json.JSONDecodeError`) with the 1-based
    ``lineno`` and ``colno`` (in characters) of the first error and its ``msg``.
    """
    parse = NATIVE
    if parse is None:
        return orjson.loads(raw)
    try:
        return parse(raw)
    except ValueError as err:
        if len(err.args) != 2 or not isinstance(err.args[1], int):
            raise
        message, offset = err.args
        raise _decode_error(raw, message, offset) from None


def _decode_error(raw: bytes | bytearray | memoryview | str, message: str, offset: int) -> JSONDecodeError:
    """The parser's error at a byte offset as orjson reports one: lines and columns in characters."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    text = data[:offset].decode("utf-8", "replace")
    return JSONDecodeError(message, text, len(text))
