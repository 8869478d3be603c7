"""Diagnostics: errors as values, with a stable code and a span.

Every phase returns the diagnostics it found instead of raising; the edge
(CLI, service) renders them once. Messages start lowercase, carry no final
period, quote user input in backticks, and hold no line breaks; detail goes
into ``help``.

Codes (stable, documented in docs/language.md):

    REG-P001  syntax error
    REG-P002  invalid literal or string escape
    REG-P003  unknown or duplicate metadata, bad metadata value
    REG-P004  malformed message interpolation
    REG-P005  duplicate policy id or parameter, invalid structure
    REG-T001  unknown name
    REG-T002  unknown field
    REG-T003  type mismatch
    REG-T004  wrong number or kind of arguments
    REG-T005  unknown function
    REG-T006  invalid regular expression
    REG-T007  parameter value of the wrong type
    REG-T008  unknown policy or parameter (tests, configuration)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from regie.dsl.source import Span

__all__ = ["Diagnostic", "DiagnosticError", "did_you_mean", "render", "render_all"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    help: str | None = None
    severity: Severity = "error"

    def sort_key(self) -> tuple[str, int, str]:
        return (self.span.source.name, self.span.start, self.code)


class DiagnosticError(Exception):
    """Raised at a phase boundary when a caller wants an exception, not a list."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        super().__init__(render_all(self.diagnostics))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint, or None when nothing is close.

    >>> did_you_mean("clasification", ["classification", "country"])
    'did you mean `classification`?'
    """
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else None


def render(diag: Diagnostic) -> str:
    """``file:line:col: error[CODE]: message``, the line, a caret under the span, and the help."""
    span = diag.span
    if not span.source.text:  # a command-line option or a configuration key: no line to show
        head = f"{span.source.name}: {diag.severity}[{diag.code}]: {diag.message}"
        return head + (f"\n  = help: {diag.help}" if diag.help else "")
    head = f"{span.location()}: {diag.severity}[{diag.code}]: {diag.message}"
    line, col = span.source.position(span.start)
    text = span.source.line_text(line)
    end_line, end_col = span.source.position(max(span.end - 1, span.start))
    width = (end_col - col + 1) if end_line == line and span.end > span.start else 1
    width = max(1, min(width, len(text) - col + 1))
    gutter = " " * len(str(line))
    # Keep the line's tabs in the padding, so the caret lands under the text however tabs render.
    pad = "".join(ch if ch == "\t" else " " for ch in text[: col - 1])
    out = [head, f"{gutter} |", f"{line} | {text}", f"{gutter} | {pad}{'^' * width}"]
    if diag.help:
        out.append(f"{gutter} = help: {diag.help}")
    return "\n".join(out)


def render_all(diagnostics: Iterable[Diagnostic]) -> str:
    return "\n".join(render(d) for d in diagnostics)
