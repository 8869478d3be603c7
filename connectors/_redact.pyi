# The compiled walk of connectors/_redact.c (see regie.connectors.base.redact_secret_names).
from collections.abc import Callable
from typing import Any

def redact(value: Any, cache: dict[Any, bool], classify: Callable[[Any], bool], redacted: str, /) -> Any: ...
