"""Policy metadata: the typed view of a policy's ``key value`` lines, and its checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from regie.dsl import ast
from regie.dsl.diagnostics import Diagnostic, did_you_mean

__all__ = [
    "BASES",
    "CONTEXTS",
    "ENFORCEMENTS",
    "SEVERITIES",
    "UNKNOWN_MODES",
    "Enforcement",
    "PolicyMeta",
    "Severity",
    "read_meta",
]

Severity = Literal["info", "low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "warn", "deny"]
Context = Literal["ci", "admission", "audit"]

SEVERITIES: tuple[Severity, ...] = ("info", "low", "medium", "high", "critical")
ENFORCEMENTS: tuple[Enforcement, ...] = ("advisory", "warn", "deny")
CONTEXTS: tuple[Context, ...] = ("ci", "admission", "audit")
#: What an unknown result becomes: its own finding (default), a violation, or nothing.
UNKNOWN_MODES = ("report", "violation", "pass")
#: How firm the ground under a policy is (policy-domain.md: verified, secondary, inferred).
BASES = ("verified", "secondary", "inferred")
#: What a policy needs to see: its resources one by one (default), or the whole estate
#: (a portfolio rule such as concentration; not evaluated at admission, which sees one object).
SCOPES = ("resource", "estate")

_SINGLE = {"title", "description", "source", "severity", "enforce", "unknown", "basis", "scope"}
_LISTS = {"requirement", "tags"}
_TRANSLATABLE = {"title", "description"}


@dataclass(frozen=True, slots=True)
class PolicyMeta:
    title: str
    titles: dict[str, str]
    description: str | None
    source: str
    requirements: tuple[str, ...]
    severity: Severity
    enforce: Enforcement
    enforce_by_context: dict[str, Enforcement]
    tags: tuple[str, ...]
    unknown: str
    basis: str | None
    extra: dict[str, str] = field(default_factory=dict)
    scope: str = "resource"

    def enforcement(self, context: str | None) -> Enforcement:
        """The enforcement level in a context (``ci``, ``admission``, ``audit``), or the default."""
        if context is None:
            return self.enforce
        return self.enforce_by_context.get(context, self.enforce)


def read_meta(policy: ast.Policy) -> tuple[PolicyMeta, list[Diagnostic]]:
    """Read and check a policy's metadata; unknown keys and values are diagnostics."""
    diags: list[Diagnostic] = []
    seen: dict[str, ast.Meta] = {}
    titles: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    values: dict[str, str] = {}
    lists: dict[str, tuple[str, ...]] = {}
    by_context: dict[str, Enforcement] = {}

    for m in policy.meta:
        if m.key in seen:
            diags.append(
                Diagnostic(
                    "REG-P003",
                    f"`{m.key}` is given twice",
                    m.span,
                    help=f"first given at {seen[m.key].span.location()}",
                )
            )
            continue
        seen[m.key] = m
        base, _, suffix = m.key.partition(".")
        texts = [v.text for v in m.values]
        if base in _TRANSLATABLE and suffix:
            if not _single(m, diags, quoted=True):
                continue
            (titles if base == "title" else descriptions)[suffix] = texts[0]
        elif base == "enforce" and suffix:
            if suffix not in CONTEXTS:
                diags.append(
                    Diagnostic(
                        "REG-P003",
                        f"unknown enforcement context `{suffix}`",
                        m.span,
                        help=f"contexts are {', '.join(CONTEXTS)}",
                    )
                )
                continue
            if _single(m, diags) and _choice(m, ENFORCEMENTS, diags):
                by_context[suffix] = texts[0]  # type: ignore[assignment]
        elif suffix:
            diags.append(
                Diagnostic(
                    "REG-P003",
                    f"unknown metadata key `{m.key}`",
                    m.span,
                    help="only `title`, `description` and `enforce` take a `.suffix`",
                )
            )
        elif m.key in _SINGLE:
            if not _single(m, diags, quoted=m.key in ("title", "description", "source")):
                continue
            if m.key == "severity" and not _choice(m, SEVERITIES, diags):
                continue
            if m.key == "enforce" and not _choice(m, ENFORCEMENTS, diags):
                continue
            if m.key == "unknown" and not _choice(m, UNKNOWN_MODES, diags):
                continue
            if m.key == "basis" and not _choice(m, BASES, diags):
                continue
            if m.key == "scope" and not _choice(m, SCOPES, diags):
                continue
            values[m.key] = texts[0]
        elif m.key in _LISTS:
            if any(not v.quoted for v in m.values):
                bad = next(v for v in m.values if not v.quoted)
                diags.append(
                    Diagnostic("REG-P003", f"`{m.key}` takes strings", bad.span, help=f'write `"{bad.text}"`')
                )
                continue
            lists[m.key] = tuple(texts)
        else:
            hint = did_you_mean(m.key, sorted(_SINGLE | _LISTS))
            diags.append(Diagnostic("REG-P003", f"unknown metadata key `{m.key}`", m.span, help=hint))

    for required in ("title", "source"):
        if required not in values and required not in seen:
            diags.append(
                Diagnostic(
                    "REG-P003",
                    f"policy `{policy.id}` has no `{required}`",
                    policy.id_span,
                    help='every policy names what it enforces: `title "…"` and `source "document, section"`',
                )
            )

    meta = PolicyMeta(
        title=values.get("title", policy.id),
        titles=titles,
        description=values.get("description"),
        source=values.get("source", ""),
        requirements=lists.get("requirement", ()),
        severity=values.get("severity", "medium"),  # type: ignore[arg-type]
        enforce=values.get("enforce", "warn"),  # type: ignore[arg-type]
        enforce_by_context=by_context,
        tags=lists.get("tags", ()),
        unknown=values.get("unknown", "report"),
        basis=values.get("basis"),
        extra={f"description.{k}": v for k, v in descriptions.items()},
        scope=values.get("scope", "resource"),
    )
    return meta, diags


def _single(m: ast.Meta, diags: list[Diagnostic], *, quoted: bool | None = None) -> bool:
    if len(m.values) != 1:
        diags.append(Diagnostic("REG-P003", f"`{m.key}` takes one value, got {len(m.values)}", m.span))
        return False
    value = m.values[0]
    if quoted is True and not value.quoted:
        diags.append(
            Diagnostic("REG-P003", f"`{m.key}` takes a string", value.span, help=f'write `"{value.text}"`')
        )
        return False
    return True


def _choice(m: ast.Meta, choices: Sequence[str], diags: list[Diagnostic]) -> bool:
    value = m.values[0]
    if value.text in choices:
        return True
    hint = did_you_mean(value.text, choices) or f"one of {', '.join(choices)}"
    diags.append(Diagnostic("REG-P003", f"`{value.text}` is not a valid `{m.key}`", value.span, help=hint))
    return False
