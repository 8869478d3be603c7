# connectors/_json.c: see regie.connectors.json_doc.
from typing import Any

def loads(data: bytes | bytearray | memoryview | str, /) -> Any: ...
