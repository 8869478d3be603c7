"""The ``regie`` command line.

Exit codes (docs/cli.md): 0 nothing blocks; 1 deny-level violations (``eval``),
failing tests (``test``) or files to reformat (``fmt --check``); 2 usage,
input or policy errors; 3 an internal error (a bug: please report it).
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from enum import StrEnum
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, NoReturn, TypeVar

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from regie import __version__
from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.sources import parse_source, pull
from regie.dsl import ast
from regie.dsl.diagnostics import Diagnostic, render
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import PolicySet, evaluate
from regie.engine.explain import ExplainError, explain
from regie.engine.facts import Inventory, Resource
from regie.engine.testing import run_tests
from regie.loading import (
    BUILTIN_POLICIES,
    Config,
    InputError,
    apply_enforcement,
    load_catalogs,
    load_config,
    load_facts,
    load_modules,
    load_waivers,
    parse_param,
    policy_files,
)
from regie.output import JSON_VERSION, evaluation_json, print_evaluation, tests_junit

if TYPE_CHECKING:
    from regie.store import Store

app = typer.Typer(
    name="regie",
    help="Regie: policy-as-code for digital autonomy. Check, test, format and evaluate policies.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Off a terminal (CI logs, pipes) lines are not wrapped at 80 columns: logs are read wide.
out = Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)

F = TypeVar("F", bound=Callable[..., Any])


class Format(StrEnum):
    table = "table"
    json = "json"


class Context(StrEnum):
    ci = "ci"
    admission = "admission"
    audit = "audit"


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]regie: error:[/] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(fn: F) -> F:
    """Bad input becomes one clear line and exit 2; a bug becomes exit 3, never a bare traceback."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as e:
            fail(f"{e.where}: {e.message}")
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as e:
            if os.environ.get("REGIE_DEBUG"):
                raise
            fail(
                f"internal error: {type(e).__name__}: {e} (set REGIE_DEBUG=1 for a traceback, and please "
                "report it)",
                3,
            )

    return wrapper  # type: ignore[return-value]


def _print_diagnostics(diags: Sequence[Diagnostic]) -> None:
    for d in diags:
        err.print(render(d), markup=False, highlight=False)
        err.print()
    errors = sum(1 for d in diags if d.severity == "error")
    err.print(f"{errors} error{'s' if errors != 1 else ''}", style="bold red")


def _policy_set(paths: Sequence[str], config: Config, params: Sequence[str]) -> PolicySet:
    modules, diags = load_modules(paths)
    ids = [item.id for m in modules for item in m.items if isinstance(item, ast.Policy)]
    values = config.params(ids)
    for text in params:
        key, value = parse_param(text)
        values[key] = (value, f"--param {text}")
    # Files that parsed are still checked, so one syntax error does not hide the others' mistakes.
    result = PolicySet.build(modules, params=values)
    if isinstance(result, list):
        diags = [*diags, *result]
    if diags:
        _print_diagnostics(sorted(diags, key=Diagnostic.sort_key))
        raise typer.Exit(2)
    assert not isinstance(result, list)
    apply_enforcement(result.policies, config)
    return result


FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json for machines.")]
ContextOpt = Annotated[
    Context | None, typer.Option("--context", help="Enforcement context: ci, admission or audit.")
]
WaiversOpt = Annotated[str | None, typer.Option("--waivers", metavar="FILE", help="Waivers file (YAML).")]
OnlyOpt = Annotated[list[str] | None, typer.Option("--policy", metavar="ID", help="Only these policy ids.")]
PathsArg = Annotated[
    list[str], typer.Argument(metavar="PATHS", help="Policy files, or folders searched for *.regie files.")
]
PoliciesOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--policies", "-p", metavar="PATH", help="Policy files or folders (default: the built-in library)."
    ),
]
CatalogOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--catalog", help="Extra catalogue files or folders; they add to or replace built-in entries."
    ),
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        metavar="ID.NAME=VALUE",
        help="Set a parameter: policy.id.name=value (value in policy syntax, or text).",
    ),
]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", metavar="FILE", help="Configuration file (default: ./regie.toml).")
]
TodayOpt = Annotated[
    str | None,
    typer.Option(
        "--today",
        metavar="YYYY-MM-DD",
        help="Evaluate as of this date (YYYY-MM-DD), for evidence age and waivers.",
    ),
]
StoreOpt = Annotated[
    str | None,
    typer.Option("--store", metavar="URL", help="Also ingest into this violation store (docs/store.md)."),
]


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[str], None]]:
    """A progress bar on a terminal (stderr), nothing in pipes and CI logs."""
    if not err.is_terminal or total < 2:
        yield lambda _: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(what, total=total)
        yield lambda name: bar.update(task, advance=1, description=f"{what} {name}")


def _today(value: str | None) -> dt.date:
    if value is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"--today: expected a date like 2026-01-31, got `{value}`")


def _version(value: bool) -> None:
    if value:
        out.print(f"regie {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Regie: policy-as-code for digital autonomy."""


@app.command()
@_guard
def check(paths: PathsArg) -> None:
    """Parse and type-check policy files; report every error with file:line:col.

    Exit 0 when everything checks, 2 when anything does not.
    """
    files = policy_files(paths)
    if not files:
        fail(f"no .regie files in {', '.join(paths)}")
    policy_set = _policy_set(paths, Config(), [])
    out.print(
        f"{_count(len(files), 'file')}: {_count(len(policy_set.policies), 'policy', 'policies')} and "
        f"{_count(len(policy_set.tests), 'test')} check"
    )


@app.command()
@_guard
def fmt(
    paths: PathsArg,
    check_only: Annotated[
        bool, typer.Option("--check", help="Change nothing; exit 1 if any file would change.")
    ] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show what would change (implies --check).")] = False,
) -> None:
    """Rewrite policy files in the one canonical layout (comments are kept).

    Exit 0 when done (or, with --check, when every file is formatted), 1 when --check finds a file to change,
    2 when a file does not parse.
    """
    from regie.dsl.fmt import format_source

    changed: list[Path] = []
    broken = False
    for path in policy_files(paths):
        text = path.read_text(encoding="utf-8")
        result = format_source(text, str(path))
        if isinstance(result, list):
            _print_diagnostics(result)
            broken = True
            continue
        if result == text:
            continue
        changed.append(path)
        if diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    result.splitlines(keepends=True),
                    fromfile=f"{path} (now)",
                    tofile=f"{path} (formatted)",
                )
            )
        elif not check_only:
            path.write_text(result, encoding="utf-8")
    if broken:
        raise typer.Exit(2)
    if check_only or diff:
        for path in changed:
            out.print(f"would reformat {path}")
        if changed:
            raise typer.Exit(1)
        out.print("all files formatted")
        return
    for path in changed:
        out.print(f"reformatted {path}")
    if not changed:
        out.print("all files formatted")


@app.command()
@_guard
def test(
    paths: PathsArg,
    junit: Annotated[
        str | None,
        typer.Option("--junit", metavar="FILE", help="Also write a JUnit XML report to this file."),
    ] = None,
    match: Annotated[
        str | None, typer.Option("-k", metavar="TEXT", help="Only tests whose name contains this text.")
    ] = None,
    catalog: CatalogOpt = None,
    today: TodayOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List every test, not just failures.")
    ] = False,
) -> None:
    """Run the `test` blocks in policy files, like a test runner.

    Exit 0 when all pass, 1 when any fails, 2 when a file does not parse or check.
    """
    started = time.perf_counter()
    policy_set = _policy_set(paths, Config(), [])
    catalogs = load_catalogs(catalog or [])
    results = run_tests(policy_set, catalogs, today=_today(today) if today else None, match=match)
    failed = [r for r in results if not r.passed]
    for r in results:
        if not r.passed:
            out.print(f"[red]FAIL[/] {escape(r.module)}:{r.span.line} {escape(r.name)}")
            for failure in r.failures:
                out.print(f"    {failure}", markup=False, highlight=False)
        elif verbose:
            out.print(f"[green]PASS[/] {escape(r.module)}:{r.span.line} {escape(r.name)}")
    if junit:
        Path(junit).write_bytes(tests_junit(results))
    seconds = time.perf_counter() - started
    out.print(
        f"{len(results) - len(failed)} passed, {len(failed)} failed in {seconds:.2f}s "
        f"({_count(len(policy_set.policies), 'policy', 'policies')})"
    )
    if not results:
        out.print("no tests found")
    if failed:
        raise typer.Exit(1)


@app.command(name="eval")
@_guard
def eval_(
    facts: Annotated[
        str,
        typer.Option(
            "--facts", "-f", metavar="FILE", help="Facts file (JSON or YAML list of resources), - for stdin."
        ),
    ],
    policies: PoliciesOpt = None,
    fmt_: FormatOpt = Format.table,
    context: ContextOpt = None,
    waivers: WaiversOpt = None,
    catalog: CatalogOpt = None,
    param: ParamOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    only: OnlyOpt = None,
    store: StoreOpt = None,
) -> None:
    """Evaluate policies against a facts file and report the violations.

    Exit 0 when nothing blocks, 1 when a deny-level violation is not waived, 2 on bad input or policy errors.
    """
    started = time.perf_counter()
    cfg = load_config(config)
    run = _Run(cfg, policies, catalog, param, waivers, only)
    _evaluate_and_report(
        run, load_facts(facts), started, fmt_, context, today, [], allow_partial=False, store=store
    )


SourceOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--source",
        "-s",
        metavar="KIND:TARGET",
        help="A fact source (repeatable): terraform:PATH|URL, k8s:manifests:PATH, k8s:context:NAME, "
        "k8s:in-cluster, k8s:admission:PATH, litellm:PATH|URL, openai-models:PATH|URL, http:CONFIG.yaml, "
        "saas:PATH. Default: `[scan] sources` of regie.toml.",
    ),
]
TimeoutOpt = Annotated[
    float, typer.Option("--timeout", metavar="SECONDS", help="Timeout of each network request of a source.")
]
InventoryOpt = Annotated[
    str | None,
    typer.Option(
        "--inventory",
        metavar="FILE",
        help="Service inventory (services.yaml) joined onto the facts. "
        "Default: `[scan] inventory` of regie.toml.",
    ),
]


@app.command()
@_guard
def scan(
    source: SourceOpt = None,
    policies: PoliciesOpt = None,
    inventory: InventoryOpt = None,
    fmt_: FormatOpt = Format.table,
    context: ContextOpt = None,
    waivers: WaiversOpt = None,
    catalog: CatalogOpt = None,
    param: ParamOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
    allow_partial: Annotated[
        bool,
        typer.Option("--allow-partial", help="A source that fails does not by itself make the exit code 2."),
    ] = False,
    only: OnlyOpt = None,
    timeout: TimeoutOpt = 30.0,
    store: StoreOpt = None,
) -> None:
    """Pull facts from every source (concurrently), join the inventory, evaluate, report.

    Exit 0 when nothing blocks, 1 when a deny-level violation is not waived, 2 on bad input, policy errors or
    a source that failed (unless --allow-partial; the other sources are evaluated either way).
    """
    started = time.perf_counter()
    cfg = load_config(config)
    run = _Run(cfg, policies, catalog, param, waivers, only)
    resources, failures = _pull_all(
        _sources(source, cfg), run.catalogs, inventory or cfg.inventory, timeout, cfg
    )
    _evaluate_and_report(
        run, resources, started, fmt_, context, today, failures, allow_partial=allow_partial, store=store,
        sources=_sources(source, cfg),
    )  # fmt: skip


class _Run:
    """What eval and scan read before evaluating: configuration, policies, catalogues, waivers."""

    def __init__(
        self,
        cfg: Config,
        policies: list[str] | None,
        catalog: list[str] | None,
        param: list[str] | None,
        waivers: str | None,
        only: list[str] | None,
    ) -> None:
        self.policy_set = _policy_set(policies or [str(BUILTIN_POLICIES)], cfg, param or [])
        self.catalogs = load_catalogs([*cfg.catalogs, *(catalog or [])])
        self.waivers = load_waivers(waivers or cfg.waivers)
        self.only = only
        missing = [p for p in only or () if self.policy_set.get(p) is None]
        if missing:
            fail(f"--policy: no policy `{missing[0]}`")


def _evaluate_and_report(
    run: _Run,
    resources: list[Resource],
    started: float,
    fmt_: Format,
    context: Context | None,
    today: str | None,
    failures: list[tuple[str, str]],
    *,
    allow_partial: bool,
    store: str | None = None,
    sources: Sequence[str] = (),
) -> None:
    """Evaluate, print (table or JSON), ingest into the store if given, exit with the code called for."""
    ctx = context.value if context else None
    db = _open_store(store) if store else None  # a bad store fails before the evaluation, not after
    waivers = [*run.waivers, *db.waivers_in_force()] if db else run.waivers
    total = len(run.only) if run.only else len(run.policy_set.policies)
    from opentelemetry import trace

    span = trace.get_tracer("regie").start_as_current_span(
        "regie.evaluate", attributes={"regie.policies": total, "regie.resources": len(resources)}
    )
    with span, _progress(total, "evaluating") as advance:
        evaluation = evaluate(
            run.policy_set,
            Inventory(resources),
            run.catalogs,
            context=ctx,
            today=_today(today),
            waivers=waivers,
            only=run.only,
            progress=advance,
        )
    seconds = time.perf_counter() - started
    if fmt_ is Format.json:
        sys.stdout.buffer.write(evaluation_json(evaluation, context=ctx, seconds=seconds, failures=failures))
        sys.stdout.flush()
    else:
        print_evaluation(out, evaluation, seconds=seconds)
    for where, message in failures:
        err.print(f"[bold red]regie: error:[/] source {escape(where)}: {escape(message)}", soft_wrap=True)
    if db:
        from regie.store import ingest_evaluation

        result = ingest_evaluation(
            db, evaluation, resources, given_sources=sources, failed_sources=[w for w, _ in failures],
            policy_set=run.policy_set, catalogs=run.catalogs, context=ctx, today=_today(today),
            waivers=waivers, only=run.only,
        )  # fmt: skip
        (out if fmt_ is Format.table else err).print(result.summary(), markup=False, highlight=False)
    if evaluation.errors or (failures and not allow_partial):
        raise typer.Exit(2)
    if evaluation.blocking:
        raise typer.Exit(1)


@app.command()
@_guard
def facts(
    source: SourceOpt = None,
    inventory: InventoryOpt = None,
    catalog: CatalogOpt = None,
    config: ConfigOpt = None,
    allow_partial: Annotated[
        bool,
        typer.Option("--allow-partial", help="A source that fails does not by itself make the exit code 2."),
    ] = False,
    timeout: TimeoutOpt = 30.0,
) -> None:
    """Print the normalised facts of the sources as JSON (the input `regie eval --facts` takes).

    For writing and debugging policies. Exit 0, or 2 when a source failed (unless --allow-partial).
    """
    cfg = load_config(config)
    catalogs = load_catalogs([*cfg.catalogs, *(catalog or [])])
    sources = _sources(source, cfg)
    resources, failures = _pull_all(sources, catalogs, inventory or cfg.inventory, timeout, cfg)
    payload = {
        "version": JSON_VERSION,
        "sources": sources,
        "resources": [r.to_dict() for r in resources],
        "errors": [{"source": where, "message": message} for where, message in failures],
    }
    sys.stdout.buffer.write(
        orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n"
    )
    sys.stdout.flush()
    for where, message in failures:
        err.print(f"[bold red]regie: error:[/] source {escape(where)}: {escape(message)}", soft_wrap=True)
    if failures and not allow_partial:
        raise typer.Exit(2)


def _sources(given: list[str] | None, cfg: Config) -> list[str]:
    if given:
        return given
    if cfg.sources:
        return cfg.sources
    fail("no sources: give --source KIND:TARGET (repeatable), or list them as `[scan] sources` in regie.toml")


def _pull_all(
    sources: Sequence[str], catalogs: Catalogs, inventory: str | None, timeout: float, cfg: Config
) -> tuple[list[Resource], list[tuple[str, str]]]:
    """Every source pulled concurrently; a failing one is reported, the others still count.
    Ownership facts are read by the configuration's label names (``[ownership]``)."""
    try:
        parsed = [parse_source(text) for text in sources]
    except ConnectorError as e:
        fail(f"{e.where}: {e.message}")
    if timeout <= 0:
        fail(f"--timeout: expected a positive number of seconds, got {timeout}")
    ctx = PullContext(catalogs=catalogs, timeout=timeout, ownership=cfg.ownership)
    failures: list[tuple[str, str]] = []
    results: dict[int, list[Resource]] = {}
    with (
        _progress(len(parsed), "pulling") as advance,
        ThreadPoolExecutor(max_workers=min(8, len(parsed))) as pool,
    ):
        futures = {pool.submit(_traced_pull, src, ctx): i for i, src in enumerate(parsed)}
        for future in as_completed(futures):
            i = futures[future]
            try:
                results[i] = pulled = future.result()
                # A resource's `source` is the source as given, whatever the connector calls it,
                # so a later scan of the same source can resolve what it no longer finds.
                given = str(parsed[i])
                for r in pulled:
                    r.source = given
            except ConnectorError as e:
                failures.append(
                    (str(parsed[i]), f"{e.where}: {e.message}" if e.where != str(parsed[i]) else e.message)
                )
            except Exception as e:  # a connector bug must not take the other sources down
                failures.append((str(parsed[i]), f"internal error: {type(e).__name__}: {e}"))
            advance(str(parsed[i]))
    resources: list[Resource] = []
    seen: dict[str, str] = {}
    for i in sorted(results):
        for r in results[i]:
            if r.id in seen:
                failures.append(
                    (str(parsed[i]), f"resource `{r.id}` also comes from {seen[r.id]}; the first is kept")
                )
                continue
            seen[r.id] = str(parsed[i])
            resources.append(r)
    if inventory is not None:
        resources = _join_inventory(resources, inventory, catalogs, cfg.prefer)
    return resources, failures


def _traced_pull(source: Any, ctx: PullContext) -> list[Resource]:
    """One connector pull inside an OpenTelemetry span (free without an SDK installed)."""
    from opentelemetry import trace

    with trace.get_tracer("regie").start_as_current_span(
        "regie.pull", attributes={"regie.source.kind": source.scheme}
    ) as span:
        resources = pull(source, ctx)
        span.set_attribute("regie.resources", len(resources))
        return resources


def _join_inventory(
    resources: list[Resource], path: str, catalogs: Catalogs, prefer: Literal["tags", "inventory"]
) -> list[Resource]:
    from regie.connectors.inventory import inventory_resources, join, load_inventory

    try:
        inv = load_inventory(path)
    except ConnectorError as e:
        raise InputError(e.where, e.message) from None
    joined, conflicts = join(resources, inv, prefer=prefer, same_level=catalogs.classification_labels())
    for conflict in conflicts:
        err.print(f"[yellow]regie: warning:[/] {escape(str(conflict))}", soft_wrap=True)
    return [*joined, *inventory_resources(inv, path)]


@app.command(name="explain")
@_guard
def explain_(
    policy: Annotated[str, typer.Argument(metavar="POLICY", help="The policy id.")],
    resource: Annotated[
        str, typer.Argument(metavar="RESOURCE", help="The resource id (or `name:key` for a group).")
    ],
    facts: Annotated[
        str, typer.Option("--facts", "-f", metavar="FILE", help="Facts file (JSON or YAML), - for stdin.")
    ],
    policies: PoliciesOpt = None,
    fmt_: Annotated[
        Format, typer.Option("--format", help="table for people, json for machines.")
    ] = Format.table,
    catalog: CatalogOpt = None,
    param: ParamOpt = None,
    config: ConfigOpt = None,
    today: TodayOpt = None,
) -> None:
    """Show how one policy decides on one resource: every where, let and require, with its value."""
    cfg = load_config(config)
    policy_set = _policy_set(policies or [str(BUILTIN_POLICIES)], cfg, param or [])
    lp = policy_set.get(policy)
    if lp is None:
        hint = difflib.get_close_matches(policy, [p.id for p in policy_set.policies], n=1)
        fail(f"no policy `{policy}`" + (f" (did you mean `{hint[0]}`?)" if hint else ""))
    catalogs = load_catalogs([*cfg.catalogs, *(catalog or [])])
    inventory = Inventory(load_facts(facts))
    try:
        result = explain(lp, resource, inventory, catalogs, today=_today(today))
    except ExplainError as e:
        fail(str(e))
    if fmt_ is Format.json:
        sys.stdout.buffer.write(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2) + b"\n")
        return
    from regie.dsl.values import render_value

    out.print(f"[bold]{escape(lp.id)}[/] on [bold]{escape(resource)}[/]: {escape(lp.checked.meta.title)}")
    marks = {
        "continue": "[green]✓[/]",
        "pass": "[green]✓[/]",
        "skip": "[dim]–[/]",
        "fail": "[red]✗[/]",
        "unknown": "[magenta]?[/]",
        "bind": " ",
    }
    for step in result.steps:
        indent = "  " * (step.depth + 1)
        value = render_value(step.value)
        if len(value) > 120:
            value = value[:117] + "..."
        mark = marks.get(step.verdict, " ")
        out.print(f"{indent}{mark} ", end="")
        out.print(step.text, markup=False, highlight=False, end="")
        out.print("  [dim]→[/] ", end="")
        out.print(value, markup=False, highlight=False)
    out.print(f"outcome: [bold]{result.outcome}[/]")


catalog_app = typer.Typer(
    help="Show the catalogues in force: the built-in ones with the organisation's files merged in.",
    no_args_is_help=True,
)
app.add_typer(catalog_app, name="catalog")


class DataFormat(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


@catalog_app.command("list")
@_guard
def catalog_list(catalog: CatalogOpt = None, config: ConfigOpt = None) -> None:
    """Each catalogue, its number of entries, and the files they come from."""
    cfg = load_config(config)
    catalogs = load_catalogs([*cfg.catalogs, *(catalog or [])])
    for name, entries in catalogs.entries.items():
        files = sorted({_origin_text(catalogs.origins.get((name, key))) for key in entries})
        out.print(
            f"[bold]{name}[/]: {_count(len(entries), 'entry', 'entries')}  [dim]{escape(', '.join(files))}[/]"
        )


@catalog_app.command("show")
@_guard
def catalog_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="providers, regions, countries, models, …")],
    key: Annotated[str | None, typer.Argument(metavar="[KEY]", help="Only this entry.")] = None,
    fmt_: Annotated[
        DataFormat, typer.Option("--format", help="table for people; json or yaml for machines.")
    ] = DataFormat.table,
    catalog: CatalogOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Print a catalogue as it is in force, with where each entry comes from.

    Entries from --catalog files and regie.toml `catalogs` replace built-in entries of the same key.
    """
    from regie.engine.catalog import CATALOG_TYPES

    cfg = load_config(config)
    catalogs = load_catalogs([*cfg.catalogs, *(catalog or [])])
    if name not in CATALOG_TYPES:
        hint = difflib.get_close_matches(name, list(CATALOG_TYPES), n=1)
        fail(
            f"no catalogue `{name}`"
            + (f" (did you mean `{hint[0]}`?)" if hint else f"; catalogues are {', '.join(CATALOG_TYPES)}")
        )
    entries = catalogs.entries[name]
    if key is not None:
        if key not in entries:
            hint = difflib.get_close_matches(key, list(entries), n=1)
            fail(f"no entry `{key}` in {name}" + (f" (did you mean `{hint[0]}`?)" if hint else ""))
        entries = {key: entries[key]}
    shown = {k: {**v, "origin": _origin_text(catalogs.origins.get((name, k)))} for k, v in entries.items()}
    if fmt_ is DataFormat.json:
        sys.stdout.buffer.write(orjson.dumps(shown, option=orjson.OPT_INDENT_2) + b"\n")
        return
    if fmt_ is DataFormat.yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True, width=100))
        return
    from rich.table import Table

    fields = [
        f for f in CATALOG_TYPES[name].field_names() if f not in ("notes", "source", "checked", "level")
    ]
    table = Table(title=f"{name} ({_count(len(entries), 'entry', 'entries')})", title_justify="left")
    table.add_column("key", no_wrap=True)
    for f in fields:
        table.add_column(f)
    table.add_column("origin", style="dim")
    for k, v in shown.items():
        cells = [k, *(_cell_text(v.get(f)) for f in fields), v["origin"]]
        table.add_row(*(escape(c) for c in cells))
    out.print(table)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _origin_text(origin: str | None) -> str:
    if origin is None:
        return ""
    builtin = str(BUILTIN_POLICIES)
    return "built-in" if origin.startswith(builtin) else origin


@app.command()
@_guard
def docs(
    output: Annotated[
        str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the page.")
    ] = "docs/policies.md",
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 when FILE is not what would be written.")
    ] = False,
) -> None:
    """Write docs/policies.md, the built-in library for compliance officers, from the policies' metadata.

    Exit 0, or 1 with --check when the page is stale, or 2 when a requirement has neither a policy
    nor a note saying which fact is missing.
    """
    from regie.library import library_markdown, load_requirements, uncovered

    policy_set = _policy_set([str(BUILTIN_POLICIES)], Config(), [])
    reqs = load_requirements()
    checked = [lp.checked for lp in policy_set.policies]
    unknown_ids = sorted({r for p in checked for r in p.meta.requirements} - set(reqs.requirements))
    if unknown_ids:
        fail(f"policies cite requirement ids not in requirements.yaml: {', '.join(unknown_ids)}")
    gaps = uncovered(reqs, checked)
    if gaps:
        fail(f"requirements with no policy and no `needs` in requirements.yaml: {', '.join(gaps)}")
    text = library_markdown(reqs, checked, load_catalogs())
    path = Path(output)
    if check:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current != text:
            err.print(f"{output} is out of date: run `regie docs --output {output}`")
            raise typer.Exit(1)
        out.print(f"{output} is up to date")
        return
    path.write_text(text, encoding="utf-8")
    out.print(f"wrote {output} ({_count(len(checked), 'policy', 'policies')})")


@app.command()
@_guard
def replay(
    record: Annotated[int, typer.Argument(metavar="RECORD_ID", help="The decision record to replay.")],
    store: Annotated[str, typer.Option("--store", metavar="URL", help="The violation store.")],
    policies: PoliciesOpt = None,
    catalog: CatalogOpt = None,
    param: ParamOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Re-run a recorded decision from its stored input with today's policies; say what differs.

    Exit 0 when the outcome is the same, 1 when it differs, 2 on bad input.
    """
    from regie.replay import render_replay, replay_record

    cfg = load_config(config)
    run = _Run(cfg, policies, catalog, param, None, None)
    with _open_store(store) as db:
        result = replay_record(db, record, run.policy_set, run.catalogs, cfg.ownership)
    for line in render_replay(result):
        out.print(line, markup=False, highlight=False)
    raise typer.Exit(0 if result.same else 1)


@app.command()
@_guard
def prune(
    store: Annotated[str, typer.Option("--store", metavar="URL", help="The violation store.")],
    before: Annotated[
        str | None,
        typer.Option("--before", metavar="DATE", help="Prune inputs of records decided before DATE (UTC)."),
    ] = None,
    keep_days: Annotated[
        int | None,
        typer.Option(
            "--keep-days", metavar="N", help="Keep the inputs of the last N days; prune older ones."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would go; change nothing.")] = False,
) -> None:
    """Remove the stored inputs (facts, admission requests) of old decision records.

    The records stay (what was decided, when, under which policy set) and so does the chain: a
    `prune` record in it lists the inputs removed, and `regie verify` checks against it. A pruned
    record can no longer be replayed. Give --before or --keep-days. Exit 0, 2 on bad input.
    """
    if (before is None) == (keep_days is None):
        fail("give one of --before DATE or --keep-days N")
    today = dt.datetime.now(dt.UTC).date()
    if keep_days is not None:
        if keep_days < 0:
            fail(f"--keep-days: expected 0 or more days, got {keep_days}")
        cutoff = today - dt.timedelta(days=keep_days)
    else:
        assert before is not None
        try:
            cutoff = dt.date.fromisoformat(before)
        except ValueError:
            fail(f"--before: expected a date like 2026-01-31, got {before!r}")
        if cutoff > today:
            fail(f"--before: {before} is in the future; it would prune today's records too")
    with _open_store(store) as db:
        result = db.prune_inputs(cutoff, dry_run=dry_run)
    out.print(result.summary(), markup=False, highlight=False)


@app.command()
@_guard
def verify(
    store: Annotated[str, typer.Option("--store", metavar="URL", help="The violation store to check.")],
) -> None:
    """Check the chain of decision records: every scan and admission decision, none removed or altered.

    Prints the result and the head (the last record's id and hash: keep it outside the database,
    so that a rewrite of the whole chain shows too). Exit 0 when intact, 1 when broken, 2 on bad input.
    """
    with _open_store(store) as db:
        report = db.verify_chain()
        if not report.ok:
            err.print(f"[bold red]{escape(report.summary())}[/]", soft_wrap=True)
            raise typer.Exit(1)
        out.print(report.summary())
        last = db.get_record(report.records) if report.records else None
        if last is not None:
            out.print(f"head: record {last.id} {last.hash}")


def _open_store(url: str) -> Store:
    # Imported here: SQLAlchemy adds start-up time that runs without a store should not pay.
    from regie.store import open_store

    return open_store(url)


class FailureMode(StrEnum):
    open = "open"
    closed = "closed"


class Role(StrEnum):
    reader = "reader"
    admin = "admin"


@app.command()
@_guard
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8443,
    policies: Annotated[
        list[str] | None,
        typer.Option(
            "--policies", "-p", metavar="PATH", help="Policy files or folders, besides the built-in library."
        ),
    ] = None,
    no_builtin: Annotated[bool, typer.Option("--no-builtin", help="Leave the built-in library out.")] = False,
    catalog: CatalogOpt = None,
    config: ConfigOpt = None,
    tls_cert: Annotated[
        str | None, typer.Option("--tls-cert", metavar="FILE", help="TLS certificate (PEM).")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", metavar="FILE", help="TLS private key (PEM).")
    ] = None,
    client_ca: Annotated[
        str | None,
        typer.Option("--client-ca", metavar="FILE", help="Require client certificates from this CA."),
    ] = None,
    tokens: Annotated[
        str | None,
        typer.Option("--tokens", metavar="FILE", help="API tokens file (YAML or TOML, hashes only)."),
    ] = None,
    deadline_ms: Annotated[int, typer.Option("--deadline-ms", help="Admission evaluation deadline.")] = 2000,
    failure_mode: Annotated[
        FailureMode, typer.Option("--failure-mode", help="Answer when the deadline passes: allow or deny.")
    ] = FailureMode.closed,
    max_body: Annotated[
        int, typer.Option("--max-body", metavar="BYTES", help="Largest request body.")
    ] = 6291456,
    reload_interval: Annotated[
        float, typer.Option("--reload-interval", metavar="SECONDS", help="Poll policy files; 0: SIGHUP only.")
    ] = 2.0,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            metavar="URL",
            help="Violation store (sqlite:///regie.db or postgresql://…): records admission decisions "
            "and serves the violation API, feed and web page.",
        ),
    ] = None,
    namespace_labels: Annotated[
        str,
        typer.Option(
            "--namespace-labels",
            metavar="SOURCE",
            help="in-cluster, context:NAME or off: keep the cluster's namespace labels, so ownership "
            "labels set on a namespace apply to its objects at admission (deploy/ sets in-cluster).",
        ),
    ] = "off",
    namespace_refresh: Annotated[
        float,
        typer.Option("--namespace-refresh", metavar="SECONDS", help="How often namespaces are listed."),
    ] = 30.0,
) -> None:
    """Run the admission webhook, the evaluation API and, with --store, the violation API, feed and
    web page (docs/service.md)."""
    from regie.service import ServeError, ServiceOptions
    from regie.service import serve as run
    from regie.service.logs import configure_logging

    configure_logging()
    options = ServiceOptions(
        policies=[*([] if no_builtin else [str(BUILTIN_POLICIES)]), *(policies or [])],
        catalogs=catalog or [],
        config=config,
        host=host,
        port=port,
        tls_cert=tls_cert,
        tls_key=tls_key,
        client_ca=client_ca,
        tokens=tokens,
        deadline_ms=deadline_ms,
        failure_mode=failure_mode.value,
        max_body=max_body,
        reload_interval=reload_interval,
        store=store,
        namespace_labels=namespace_labels,
        namespace_refresh=namespace_refresh,
    )
    try:
        run(options)
    except ServeError as e:
        for problem in e.problems:
            err.print(f"[bold red]regie: error:[/] {escape(problem)}", soft_wrap=True)
        raise typer.Exit(2) from None


@app.command()
@_guard
def token(
    name: Annotated[str, typer.Argument(metavar="NAME", help="Who the token is for, e.g. grafana.")],
    role: Annotated[Role, typer.Option("--role", help="reader (read API, metrics) or admin.")] = Role.reader,
    stdin: Annotated[bool, typer.Option("--stdin", help="Hash a token read from stdin instead.")] = False,
) -> None:
    """Make an API token for `regie serve --tokens`: the token (shown once) and its tokens-file entry."""
    from regie.service import new_token, token_entry

    secret = sys.stdin.readline().strip() if stdin else new_token()
    if not secret:
        fail("--stdin: no token on standard input")
    if not stdin:
        err.print("token (give it to the client; it is not stored anywhere):", highlight=False)
        out.print(secret, markup=False, highlight=False)
    err.print("entry for the tokens file (under `tokens:`):", highlight=False)
    out.print(token_entry(name, role.value, secret), markup=False, highlight=False, end="")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
