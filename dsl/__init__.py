"""The Regie policy language: parse, check, compile, format.

Phases, in order (each a module of its own):

1. :mod:`~regie.dsl.parse` — text to a Lark parse tree (the only module that imports Lark)
2. :mod:`~regie.dsl.build` — parse tree to the typed AST of :mod:`~regie.dsl.ast`
3. :mod:`~regie.dsl.check` — type checking against a :class:`~regie.dsl.types.Schema`
4. :mod:`~regie.dsl.compile` — checked AST to closures; :mod:`~regie.dsl.interp` is the reference

:mod:`~regie.dsl.fmt` prints a module back in canonical layout.
"""

from regie.dsl.build import parse_expr, parse_module
from regie.dsl.check import CheckedPolicy, Selector, check_policy
from regie.dsl.compile import CompiledPolicy, compile_policy
from regie.dsl.diagnostics import Diagnostic, DiagnosticError, render, render_all
from regie.dsl.runtime import Finding, RunContext
from regie.dsl.source import Source, Span

__all__ = [
    "CheckedPolicy",
    "CompiledPolicy",
    "Diagnostic",
    "DiagnosticError",
    "Finding",
    "RunContext",
    "Selector",
    "Source",
    "Span",
    "check_policy",
    "compile_policy",
    "parse_expr",
    "parse_module",
    "render",
    "render_all",
]
