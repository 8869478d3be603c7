"""Step one: text to a Lark parse tree, and syntax errors to diagnostics.

This is the only module that imports Lark. The tree never leaves ``regie.dsl``:
:mod:`regie.dsl.build` turns it into the AST at once.
"""

from __future__ import annotations

import difflib
import functools
import threading
from pathlib import Path
from typing import Any

from lark import Lark, Token, Tree, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from regie.dsl.diagnostics import Diagnostic
from regie.dsl.source import Source, Span

__all__ = ["ParseTree", "parse_tree", "parse_with_comments"]

# The lexer hands every comment it skips to this list; one parse at a time fills it.
_COMMENTS: list[Token] = []
_LOCK = threading.Lock()

ParseTree = Tree[Token]

_GRAMMAR = Path(__file__).with_name("grammar.lark")

# How expected terminals read in an error message.
_READABLE = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "FLOAT": "a number",
    "NUMBER": "a number",
    "MESSAGE": "a message in double quotes",
    "COMP_OP": "a comparison",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "OUTCOME": "`violation` or `unknown`",
    "OUTCOMES": "`violations` or `unknowns`",
    "NEGATION": "`no`",
    "$END": "the end of the file",
}


@functools.cache
def _parser() -> Lark:
    return Lark(
        _GRAMMAR.read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        start=["start", "expr"],
        propagate_positions=True,
        maybe_placeholders=True,
        cache=True,  # Lark keys its cache file by the grammar's hash, in the temp dir
        lexer_callbacks={"COMMENT": _COMMENTS.append},
    )


def parse_tree(source: Source, *, start: str = "start", text: str | None = None) -> ParseTree | Diagnostic:
    """Parse a whole file (``start``) or one expression (``expr``)."""
    return parse_with_comments(source, start=start, text=text)[0]


def parse_with_comments(
    source: Source, *, start: str = "start", text: str | None = None
) -> tuple[ParseTree | Diagnostic, list[Token]]:
    """Parse, and collect the comments the lexer skipped (the formatter keeps them)."""
    with _LOCK:
        _COMMENTS.clear()
        try:
            tree: ParseTree = _parser().parse(source.text if text is None else text, start=start)
        except UnexpectedInput as err:
            return _syntax_error(source, err), []
        comments = list(_COMMENTS)
    return tree, comments


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of input"
    return f"`{token.value}`"


def _expected(names: set[str] | frozenset[str]) -> str:
    terminals = {t.name: t for t in _parser().terminals}
    readable: set[str] = set()
    for name in names:
        if name in _READABLE:
            readable.add(_READABLE[name])
            continue
        term = terminals.get(name)
        pattern: Any = term.pattern if term is not None else None
        if pattern is not None and pattern.type == "str":
            readable.add(f"`{pattern.value}`")
        else:
            readable.add(name.lower())
    items = sorted(readable)
    if len(items) > 8:
        items = [*items[:8], "…"]
    return ", ".join(items)


def _syntax_error(source: Source, err: UnexpectedInput) -> Diagnostic:
    pos = getattr(err, "pos_in_stream", None) or 0
    if isinstance(err, UnexpectedToken):
        token = err.token
        start = token.start_pos if token.start_pos is not None else len(source.text)
        end = token.end_pos if token.end_pos is not None else start
        found = _describe_token(token)
        expected = _expected(err.accepts or err.expected)
        hint = _hint(token, err.accepts or err.expected)
        return Diagnostic(
            "REG-P001",
            f"unexpected {found}, expected {expected}",
            Span(source, start, max(end, start + (1 if start < len(source.text) else 0))),
            help=hint,
        )
    if isinstance(err, UnexpectedCharacters):
        char = source.text[pos] if pos < len(source.text) else ""
        help_ = "strings are written in double quotes" if char == "'" else None
        if char == '"':
            help_ = "this string is not closed before the end of the line"
        if char in "&|!":
            help_ = (
                "use `and`, `or` and `not`" if char != "!" or source.text[pos + 1 : pos + 2] != "=" else None
            )
        return Diagnostic(
            "REG-P001", f"unexpected character `{char}`", Span(source, pos, pos + 1), help=help_
        )
    if isinstance(err, UnexpectedEOF):
        end = len(source.text)
        return Diagnostic(
            "REG-P001",
            f"unexpected end of file, expected {_expected(set(err.expected))}",
            Span(source, end, end),
        )
    return Diagnostic("REG-P001", "syntax error", Span(source, pos, pos + 1))


_STEP_KEYWORDS = ("where", "let", "for", "group", "require", "message")


def _hint(token: Token, expected: set[str] | frozenset[str]) -> str | None:
    if token.type == "NAME" and "REQUIRE" in expected:
        close = difflib.get_close_matches(str(token.value), _STEP_KEYWORDS, n=1, cutoff=0.6)
        if close:
            return f"did you mean `{close[0]}`?"
        return "a policy ends with one or more `require` clauses and an optional `message`"
    if "FOR" in expected and "PARAM" in expected:
        return "metadata lines are `key value`; the steps start with `for r in resources`"
    if token.value == "=" and "COMP_OP" in expected:
        return "compare with `==`"
    if token.value in ("&&", "||", "!"):
        return "use `and`, `or` and `not`"
    return None
