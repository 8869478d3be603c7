"""How results read: a table for people, stable JSON for machines, JUnit XML for CI."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from regie.engine.evaluate import Evaluation
from regie.engine.testing import TestResult
from regie.engine.violations import Violation

__all__ = [
    "JSON_VERSION",
    "evaluation_json",
    "evaluation_summary",
    "print_evaluation",
    "short_resource",
    "summary_line",
    "tests_junit",
]

#: Version of the JSON output format (docs/cli.md); bumped on any incompatible change.
JSON_VERSION = 1

_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}
_ENFORCEMENT_STYLE = {"deny": "bold red", "warn": "yellow", "advisory": "cyan"}


def _order(v: Violation) -> tuple[Any, ...]:
    return (
        v.waived,
        v.outcome != "violation",
        {"deny": 0, "warn": 1, "advisory": 2}[v.enforcement],
        _SEVERITY_ORDER.get(v.severity, 9),
        v.policy,
        v.resource,
        v.item or "",
    )


def print_evaluation(
    console: Console, evaluation: Evaluation, *, seconds: float, limit: int | None = None
) -> None:
    """The violations as a table, then the waivers that need attention, then one summary line."""
    violations = sorted(evaluation.violations, key=_order)
    shown = violations if limit is None else violations[:limit]
    # One table per fact source, in the order of their most pressing finding: a resource id
    # then only needs the part after its source, and people see at once where to look.
    groups: dict[str, list[Violation]] = {}
    for v in shown:
        groups.setdefault(v.source or "", []).append(v)
    for source, members in groups.items():
        title = f"{source or '(no source)'} ({len(members)})"
        table = Table(
            title=title,
            title_justify="left",
            show_lines=False,
            header_style="bold",
            expand=False,
            pad_edge=False,
        )
        table.add_column("enforce", no_wrap=True)
        table.add_column("severity", no_wrap=True)
        table.add_column("policy")
        table.add_column("resource", overflow="fold")
        table.add_column("message", overflow="fold")
        table.add_column("source", overflow="fold")
        for v in members:
            enforce = Text(v.enforcement, style=_ENFORCEMENT_STYLE.get(v.enforcement, ""))
            if v.outcome == "unknown":
                enforce = Text(f"{v.enforcement} (unknown)", style="magenta")
            if v.waived:
                enforce = Text(f"waived ({v.waiver.id})" if v.waiver else "waived", style="dim")
            resource = short_resource(v.resource, v.source) + (f" / {v.item}" if v.item else "")
            # Text, not markup: a message may hold brackets (`resources[0]`) that rich would eat.
            table.add_row(
                enforce, Text(v.severity), Text(v.policy), Text(resource), Text(v.message), Text(v.citation)
            )
        console.print(table)
    if limit is not None and len(violations) > limit:
        console.print(f"… and {len(violations) - limit} more (use --format json for all)")
    for status in evaluation.waivers:
        w = status.waiver
        if status.expired:
            console.print(
                f"[yellow]waiver {escape(w.id)} expired on {w.expires.isoformat()}[/] ({escape(w.where)}); "
                f"it no longer applies to {status.matched} finding(s)"
            )
        elif status.matched == 0:
            console.print(
                f"[yellow]waiver {escape(w.id)} matches nothing[/] ({escape(w.where)}): "
                f"policy `{escape(w.policy)}`, resource `{escape(w.resource)}`"
            )
    for error in evaluation.errors:
        console.print(f"[red]policy {escape(error.policy)} failed:[/] {escape(error.message)}")
    console.print(summary_line(evaluation, seconds))


def short_resource(resource: str, source: str | None) -> str:
    """A resource id without its source prefix (``terraform:prod.tfstate#aws_s3_bucket.b`` →
    ``aws_s3_bucket.b``), for display under that source.

    >>> short_resource("terraform:p.tfstate#aws_s3_bucket.b", "terraform:p.tfstate")
    'aws_s3_bucket.b'
    >>> short_resource("k8s:m/apps/v1/Deployment/ns/web", "k8s:manifests:m"), short_resource("x", None)
    ('apps/v1/Deployment/ns/web', 'x')
    """
    if not source:
        return resource
    # Kubernetes ids name the connector and the path, without the source's `manifests:` part.
    prefixes = (source, f"{source.split(':', 1)[0]}:{source.rsplit(':', 1)[-1]}")
    for prefix in prefixes:
        for sep in ("#", "/"):
            if resource.startswith(prefix + sep) and len(resource) > len(prefix) + 1:
                return resource[len(prefix) + 1 :]
    return resource


def summary_line(evaluation: Evaluation, seconds: float) -> str:
    vs = evaluation.violations
    active = [v for v in vs if not v.waived and v.outcome == "violation"]
    count = {
        level: sum(1 for v in active if v.enforcement == level) for level in ("deny", "warn", "advisory")
    }
    unknown = sum(1 for v in vs if v.outcome == "unknown" and not v.waived)
    waived = sum(1 for v in vs if v.waived)
    return (
        f"{len(active)} violations "
        f"({count['deny']} deny, {count['warn']} warn, {count['advisory']} advisory), "
        f"{unknown} unknown, {waived} waived; {evaluation.resources} resources, "
        f"{evaluation.policies} policies, {seconds:.2f}s"
    )


def evaluation_summary(evaluation: Evaluation, seconds: float) -> dict[str, Any]:
    """The counts of the JSON output's ``summary`` (the CLI's and the service's)."""
    vs = evaluation.violations
    return {
        "resources": evaluation.resources,
        "policies": evaluation.policies,
        "violations": sum(1 for v in vs if v.outcome == "violation" and not v.waived),
        "blocking": sum(1 for v in vs if v.blocking),
        "unknown": sum(1 for v in vs if v.outcome == "unknown" and not v.waived),
        "waived": sum(1 for v in vs if v.waived),
        "seconds": seconds,
    }


def evaluation_json(
    evaluation: Evaluation,
    *,
    context: str | None,
    seconds: float,
    failures: Sequence[tuple[str, str]] = (),
) -> bytes:
    vs = evaluation.violations
    payload = {
        "version": JSON_VERSION,
        "context": context,
        "summary": evaluation_summary(evaluation, round(seconds, 4)),
        "violations": [v.to_dict() for v in sorted(vs, key=_order)],
        "waivers": [s.to_dict() for s in evaluation.waivers],
        "errors": [{"policy": e.policy, "message": e.message} for e in evaluation.errors],
        "source_errors": [{"source": where, "message": message} for where, message in failures],
    }
    data: bytes = orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    return data + b"\n"


def tests_junit(results: Sequence[TestResult]) -> bytes:
    """JUnit XML, one ``testsuite`` per policy file, as CI systems read it."""
    root = ET.Element(
        "testsuites",
        name="regie",
        tests=str(len(results)),
        failures=str(sum(1 for r in results if not r.passed)),
    )
    by_module: dict[str, list[TestResult]] = {}
    for r in results:
        by_module.setdefault(r.module, []).append(r)
    for module, rs in by_module.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=module,
            tests=str(len(rs)),
            failures=str(sum(1 for r in rs if not r.passed)),
            time=f"{sum(r.seconds for r in rs):.4f}",
        )
        for r in rs:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=module,
                name=r.name,
                time=f"{r.seconds:.4f}",
                file=module,
                line=str(r.span.line),
            )
            if not r.passed:
                failure = ET.SubElement(case, "failure", message=r.failures[0].splitlines()[0])
                failure.text = "\n".join(r.failures)
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"
