"""Reading the files the command line is given: policies, facts, catalogues, waivers, configuration.

This is the shell's I/O; everything below it takes data, not paths. Every
failure is an :class:`InputError` naming the file and, where it can, the line
or the field.
"""

from __future__ import annotations

import functools
import gc
import os
import sys
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import yaml

from regie.connectors import json_doc
from regie.connectors.base import Ownership
from regie.dsl import ast
from regie.dsl.build import parse_expr, parse_module
from regie.dsl.builtins import EvalContext
from regie.dsl.check import is_constant
from regie.dsl.diagnostics import Diagnostic, did_you_mean
from regie.dsl.interp import eval_expr
from regie.dsl.source import Source
from regie.engine.catalog import CatalogError, Catalogs, catalog_from_data
from regie.engine.facts import FactError, Resource, resources_from_records
from regie.engine.waivers import Waiver, WaiverError, waivers_from_records

__all__ = [
    "BUILTIN_CATALOG",
    "BUILTIN_POLICIES",
    "Config",
    "InputError",
    "apply_enforcement",
    "load_catalogs",
    "load_config",
    "load_facts",
    "load_modules",
    "load_waivers",
    "parse_param",
    "policy_files",
    "read_data",
]

BUILTIN_POLICIES = Path(__file__).resolve().parent.parent / "policies"
try:  # installed (not editable): the policies package sits beside this one
    import regie.policies as _policies_pkg

    BUILTIN_POLICIES = Path(_policies_pkg.__file__).resolve().parent
except ImportError:  # pragma: no cover
    pass
BUILTIN_CATALOG = BUILTIN_POLICIES / "catalog"


class InputError(Exception):
    """Bad input: ``where`` is the file (and line or field), ``message`` what was expected."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}")


# --- policies ------------------------------------------------------------------------------


def policy_files(paths: Sequence[str | Path]) -> list[Path]:
    """``.regie`` files: the paths themselves, or every one below a folder, in sorted order."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(p for p in path.rglob("*.regie") if p.is_file()))
        elif path.is_file():
            out.append(path)
        else:
            raise InputError(str(path), "no such file or folder")
    return out


def load_modules(paths: Sequence[str | Path]) -> tuple[list[ast.Module], list[Diagnostic]]:
    """Parse every policy file; the modules that parsed and the diagnostics of those that did not."""
    modules: list[ast.Module] = []
    diags: list[Diagnostic] = []
    for path in policy_files(paths):
        text = _read_text(path)
        result = parse_module(Source(str(path), text))
        if isinstance(result, list):
            diags.extend(result)
        else:
            modules.append(result)
    return modules, diags


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(str(path), f"not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise InputError(str(path), err.strerror or str(err)) from None


# --- data files ----------------------------------------------------------------------------


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing builds millions of objects that are never cyclic garbage: pause the cyclic GC."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_data(path: str, *, stdin: bytes | None = None) -> Any:
    """JSON or YAML from a file, or from standard input for ``-``; errors name the line."""
    if path == "-":
        raw = stdin if stdin is not None else sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            raw = Path(path).read_bytes()
        except OSError as err:
            raise InputError(path, err.strerror or str(err)) from None
        name = path
    return parse_data(raw, name)


def parse_data(raw: bytes, name: str) -> Any:
    stripped = raw.lstrip()
    if name.endswith(".json") or stripped[:1] in (b"{", b"["):
        try:
            with _gc_paused():
                return json_doc.loads(raw)
        except json_doc.JSONDecodeError as err:
            if name.endswith(".json"):
                line, col = err.lineno, err.colno
                raise InputError(f"{name}:{line}:{col}", f"invalid JSON: {err.msg}") from None
    try:
        with _gc_paused():
            docs = list(yaml.load_all(raw, Loader=_loader()))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark is not None else name
        problem = getattr(err, "problem", None) or str(err)
        problem = " ".join(str(problem).split())  # one line, whatever the YAML library says
        raise InputError(where, f"invalid YAML: {problem}") from None
    if not docs:
        raise InputError(name, "the file is empty")
    return docs[0] if len(docs) == 1 else docs


def _loader() -> type[yaml.SafeLoader]:
    loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return loader


def load_facts(path: str, *, stdin: bytes | None = None) -> list[Resource]:
    """Resources from a facts file: a list of records, or a map with a ``resources`` list."""
    data = read_data(path, stdin=stdin)
    try:
        return resources_from_records(data, "<stdin>" if path == "-" else path)
    except FactError as err:
        raise InputError(err.where, err.message) from None


def load_catalogs(extra: Iterable[str | Path] = (), *, builtin: bool = True) -> Catalogs:
    """The built-in catalogues, then each extra file or folder of ``*.yaml`` in order."""
    catalogs = Catalogs()
    if builtin:
        for name, entries, origin in _builtin_catalogs():
            catalogs.merge(name, entries, origin)
    sources: list[Path] = []
    for raw in extra:
        path = Path(raw)
        if path.is_dir():
            sources.extend(sorted([*path.glob("*.yaml"), *path.glob("*.yml")]))
        elif path.is_file():
            sources.append(path)
        else:
            raise InputError(str(path), "no such file or folder")
    for path in sources:
        data = read_data(str(path))
        try:
            name, entries = catalog_from_data(data, str(path))
        except CatalogError as err:
            raise InputError(err.where, err.message) from None
        catalogs.merge(name, entries, str(path))
    return catalogs


@functools.cache
def _builtin_catalogs() -> tuple[tuple[str, dict[str, dict[str, Any]], str], ...]:
    """The built-in catalogue files, read once per process (merging copies nothing but the maps)."""
    out = []
    for path in sorted(BUILTIN_CATALOG.glob("*.yaml")):
        try:
            name, entries = catalog_from_data(read_data(str(path)), str(path))
        except CatalogError as err:
            raise InputError(err.where, err.message) from None
        out.append((name, entries, str(path)))
    return tuple(out)


def load_waivers(path: str | None) -> list[Waiver]:
    if path is None:
        return []
    data = read_data(path)
    try:
        return waivers_from_records(data, path)
    except WaiverError as err:
        raise InputError(err.where, err.message) from None


# --- configuration -------------------------------------------------------------------------


@dataclass(slots=True)
class Config:
    """``regie.toml``: parameter values, extra catalogues, the waivers file, and what to scan."""

    params_table: dict[str, Any] = field(default_factory=dict)
    catalogs: list[str] = field(default_factory=list)
    waivers: str | None = None
    path: str | None = None
    #: ``[scan] sources``: source strings, their paths resolved against the file's folder.
    sources: list[str] = field(default_factory=list)
    #: ``[scan] inventory``: the service inventory, resolved against the file's folder.
    inventory: str | None = None
    #: ``[enforce]``: the organisation's enforcement levels, ``policy.id[.context]`` → level.
    enforce: dict[str, str] = field(default_factory=dict)
    #: ``[ownership]``: which labels and tags carry the ownership facts.
    ownership: Ownership = field(default_factory=Ownership)
    #: ``[ownership] prefer``: which side wins when tags and the service inventory disagree.
    prefer: Literal["tags", "inventory"] = "tags"

    def params(self, policy_ids: Iterable[str]) -> dict[str, tuple[Any, str]]:
        """Parameter values by ``policy.id.name``.

        ``[params] "policy.id.name" = v`` and ``[params."policy.id"] name = v`` both work;
        which dotted prefix is the policy id is decided by the policies loaded.
        """
        ids = set(policy_ids)
        out: dict[str, tuple[Any, str]] = {}

        def walk(table: Mapping[str, Any], prefix: str) -> None:
            for key, value in table.items():
                full = f"{prefix}.{key}" if prefix else key
                if full in ids and isinstance(value, dict):
                    for name, v in value.items():
                        out[f"{full}.{name}"] = (v, f"{self.path}: params.{full}.{name}")
                elif isinstance(value, dict) and any(i.startswith(full + ".") for i in ids):
                    walk(value, full)
                else:
                    out[full] = (value, f"{self.path}: params.{full}")

        walk(self.params_table, "")
        return out


def load_config(path: str | None) -> Config:
    """Read ``path``, or ``./regie.toml`` when it exists and no path is given."""
    if path is None:
        if not Path("regie.toml").is_file():
            return Config()
        path = "regie.toml"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise InputError(path, err.strerror or str(err)) from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(path, f"invalid TOML: {err}") from None
    config = Config(path=path)
    unknown = set(data) - {"params", "catalogs", "waivers", "scan", "enforce", "ownership"}
    if unknown:
        raise InputError(
            f"{path}: {sorted(unknown)[0]}",
            "unknown section; expected params, catalogs, waivers, scan, enforce, ownership",
        )
    enforce = data.get("enforce", {})
    if not isinstance(enforce, dict) or not all(isinstance(v, str) for v in enforce.values()):
        raise InputError(
            f"{path}: enforce", 'expected a table of "policy.id[.context]" = "advisory|warn|deny"'
        )
    config.enforce = dict(enforce)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise InputError(f"{path}: params", "expected a table")
    config.params_table = params
    catalogs = data.get("catalogs", [])
    if not isinstance(catalogs, list) or not all(isinstance(c, str) for c in catalogs):
        raise InputError(f"{path}: catalogs", "expected a list of paths")
    base = Path(path).parent
    config.catalogs = [str(base / c) for c in catalogs]
    waivers = data.get("waivers")
    if waivers is not None and not isinstance(waivers, str):
        raise InputError(f"{path}: waivers", "expected a path")
    config.waivers = str(base / waivers) if waivers else None
    _scan_section(config, data.get("scan", {}), path, base)
    _ownership_section(config, data.get("ownership", {}), path)
    return config


#: The ownership facts whose label names ``[ownership]`` sets (the fields of Ownership).
OWNERSHIP_FACTS: Final = ("service", "classification", "vital", "exit_plan", "owner")


def _ownership_section(config: Config, table: Any, path: str) -> None:
    """``[ownership]``: per fact, the label and tag names to read, in order (the first
    non-empty one wins; a list given replaces the default names); ``prefer``: ``tags`` or
    ``inventory``."""
    import dataclasses

    where = f"{path}: ownership"
    if not isinstance(table, dict):
        raise InputError(where, "expected a table of fact = [label names] and prefer")
    names: dict[str, tuple[str, ...]] = {}
    for key, value in table.items():
        if key == "prefer":
            if value not in ("tags", "inventory"):
                raise InputError(f"{where}.prefer", f'expected "tags" or "inventory", got {value!r}')
            config.prefer = value
            continue
        if key not in OWNERSHIP_FACTS:
            hint = did_you_mean(key, [*OWNERSHIP_FACTS, "prefer"])
            hint = f" ({hint})" if hint else ""
            raise InputError(
                f"{where}.{key}", f"unknown key{hint}; expected {', '.join(OWNERSHIP_FACTS)} or prefer"
            )
        if not (isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value)):
            raise InputError(
                f"{where}.{key}", 'expected a non-empty list of label names, like ["service", "team/service"]'
            )
        names[key] = tuple(value)
    config.ownership = dataclasses.replace(config.ownership, **names)


def _scan_section(config: Config, scan: Any, path: str, base: Path) -> None:
    if not isinstance(scan, dict):
        raise InputError(f"{path}: scan", "expected a table with `sources` and `inventory`")
    extra = set(scan) - {"sources", "inventory"}
    if extra:
        raise InputError(f"{path}: scan.{sorted(extra)[0]}", "unknown key; expected sources, inventory")
    sources = scan.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise InputError(f"{path}: scan.sources", 'expected a list of sources like "terraform:prod.tfstate"')
    config.sources = [_relative_source(s, base) for s in sources]
    inventory = scan.get("inventory")
    if inventory is not None and not isinstance(inventory, str):
        raise InputError(f"{path}: scan.inventory", "expected a path")
    config.inventory = _relative(inventory, base) if inventory else None


def _relative_source(text: str, base: Path) -> str:
    """A source whose target is a path relative to the configuration file, as seen from here."""
    from regie.connectors.base import ConnectorError
    from regie.connectors.sources import parse_source

    try:
        src = parse_source(text)
    except ConnectorError:
        return text  # reported with the other sources, where the user sees it
    if not src.target or "://" in src.target or src.target == "-" or not (base / src.target).exists():
        return text
    return f"{src.scheme}:{_relative(src.target, base)}"


def _relative(target: str, base: Path) -> str:
    joined = base / target
    # Relative to the working directory, so resource ids stay short and the same on every machine.
    return os.path.relpath(joined) if not Path(target).is_absolute() else target


def apply_enforcement(policies: Sequence[Any], config: Config) -> None:
    """Set the organisation's enforcement levels (``[enforce]`` of regie.toml) on loaded policies.

    A key is a policy id (the default level) or a policy id and a context (``ci``,
    ``admission``, ``audit``). An unknown policy, context or level is an :class:`InputError`
    naming the key. The library's files are not touched: the level is the organisation's choice.
    """
    import dataclasses
    import difflib

    from regie.dsl.meta import ENFORCEMENTS

    contexts = ("ci", "admission", "audit")
    by_id = {lp.id: lp for lp in policies}
    where = f"{config.path or 'regie.toml'}: enforce"
    for key, level in sorted(config.enforce.items()):
        if level not in ENFORCEMENTS:
            raise InputError(f'{where}."{key}"', f"expected one of {', '.join(ENFORCEMENTS)}, got {level!r}")
        pid, context = key, None
        if key not in by_id and key.rsplit(".", 1)[-1] in contexts:
            pid, context = key.rsplit(".", 1)
        lp = by_id.get(pid)
        if lp is None:
            close = difflib.get_close_matches(pid, list(by_id), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise InputError(f'{where}."{key}"', f"no policy `{pid}`{hint}")
        meta = lp.checked.meta
        if context is None:
            meta = dataclasses.replace(meta, enforce=level)
        else:
            meta = dataclasses.replace(meta, enforce_by_context={**meta.enforce_by_context, context: level})
        lp.checked = dataclasses.replace(lp.checked, meta=meta)


def parse_param(text: str) -> tuple[str, Any]:
    """``policy.id.name=value``: the value is a literal of the policy language (``0.7``,
    ``{"BBN2", "BBN3"}``, ``true``), or else taken as a plain string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or key.count(".") < 1:
        raise InputError(f"--param {text}", "expected `policy.id.name=value`")
    result = parse_expr(Source("--param", raw))
    if isinstance(result, list) or not is_constant(result):
        return key, raw
    value = eval_expr(result, {}, EvalContext.__new__(EvalContext))
    if isinstance(value, frozenset):
        value = sorted(value, key=repr)
    return key, value
