# connectors/_speedups.c: see regie.connectors.base.redact_secret_names and
# regie.connectors.terraform.state._read.
from collections.abc import Callable
from typing import Any

def redact(value: Any, cache: dict[Any, bool], classify: Callable[[Any], bool], redacted: str, /) -> Any: ...
def read_instances(
    reader: tuple[Any, ...],
    instances: list[Any],
    i: int,
    base: str,
    kind: str,
    rtype: str,
    name: str,
    provider: str | None,
    cmap: dict[str, Any],
    out: list[Any],
    /,
) -> None: ...
