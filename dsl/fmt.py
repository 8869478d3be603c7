"""The canonical layout of policy files: what ``regie fmt`` writes.

There is one layout, whatever the input looked like: two-space indentation, one
metadata line, parameter, step, given or expectation per line, a blank line
between top-level items and between a policy's sections (metadata, parameters,
steps), single spaces around operators and the fewest parentheses that parse
back to the same tree. A list, set or map literal stays on one line when it fits
in :data:`WIDTH` columns, and otherwise puts one item per line with a trailing
comma (a Wadler-style layout: the outermost literal breaks first).

Comments are kept, none lost and none doubled. A comment on its own line stays
before the line that follows it, a comment at the end of a line stays at the end
of that line, and a comment before a closing ``}`` or ``]`` stays there. A
comment inside a literal forces that literal to break, so that the comment keeps
its place between the items. A comment in the middle of any other multi-line
construct (``require a and # why\\n b``) cannot keep its place once the
construct is on one line: it moves to its own line before the construct.

Blank lines are not kept, except around comments: a comment that had a blank
line before or after it still has one.

:func:`format_source` re-parses its own output and fails loudly (an
``AssertionError``) rather than return text that means something else.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeAlias

from regie.dsl import ast
from regie.dsl.build import parse_module
from regie.dsl.diagnostics import Diagnostic, render_all
from regie.dsl.source import Source

__all__ = ["WIDTH", "format_expr", "format_module", "format_source"]

#: The column a literal must fit in to stay on one line.
WIDTH = 100


def format_source(text: str, name: str = "<input>") -> str | list[Diagnostic]:
    """Parse policy text and lay it out canonically, or return why it does not parse.

    >>> print(format_source('test "t" {expect  no violation # none\\n}'), end="")
    test "t" {
      expect no violation  # none
    }
    >>> format_source("policy {")[0].code
    'REG-P001'
    """
    module = parse_module(Source(name, text))
    if isinstance(module, list):
        return module
    formatted = format_module(module)
    _check_same_meaning(module, formatted, name)
    return formatted


def format_module(module: ast.Module) -> str:
    """Lay out a parsed (or built) module; comments come from ``module.comments`` and their spans.

    >>> from regie.dsl.build import parse_module
    >>> m = parse_module(Source("x", 'policy p { title "x" for r in resources require r.ok }'))
    >>> print(format_module(m), end="")
    policy p {
      title "x"
    <BLANKLINE>
      for r in resources
      require r.ok
    }
    """
    return _Printer(module).text()


def format_expr(expr: ast.Expr) -> str:
    """One expression on one line, with the fewest parentheses that parse back to ``expr``.

    >>> from regie.dsl.build import parse_expr
    >>> format_expr(parse_expr(Source("x", "((a or b)) and not (c in [1,2,-3]) ")))
    '(a or b) and not c in [1, 2, -3]'
    >>> format_expr(parse_expr(Source("x", '{"id": "a", "two words": 2.50, "null": null}')))
    '{id: "a", "two words": 2.5, "null": null}'
    """
    return _render(_Layout().expr(expr), 0, width=None)


# --- comments --------------------------------------------------------------------------


@dataclass(slots=True)
class _Placement:
    """Where the comments of a block (or literal) go, relative to its children.

    A comment inside a child belongs to the child (``inner``). Of the others, one
    with code before it on its line trails the last child that starts before it (or
    the opening line, ``opener``); one on a line of its own leads the next child
    (or, after the last child, goes to the ``end`` of the block).
    """

    opener: list[ast.Comment] = field(default_factory=list)
    leading: list[list[ast.Comment]] = field(default_factory=list)
    inner: list[list[ast.Comment]] = field(default_factory=list)
    trailing: list[list[ast.Comment]] = field(default_factory=list)
    end: list[ast.Comment] = field(default_factory=list)


def _place(comments: Sequence[ast.Comment], extents: Sequence[tuple[int, int]], text: str) -> _Placement:
    place = _Placement(
        leading=[[] for _ in extents], inner=[[] for _ in extents], trailing=[[] for _ in extents]
    )
    starts = [start for start, _ in extents]
    for comment in comments:
        at = comment.span.start
        before = bisect.bisect_right(starts, at) - 1  # the last child that starts before the comment
        if before >= 0 and at < extents[before][1]:
            place.inner[before].append(comment)
        elif _has_code_before(text, at):
            (place.trailing[before] if before >= 0 else place.opener).append(comment)
        elif before + 1 < len(extents):
            place.leading[before + 1].append(comment)
        else:
            place.end.append(comment)
    return place


def _comments(module: ast.Module) -> list[ast.Comment]:
    return sorted(module.comments, key=lambda c: c.span.start)


def _has_code_before(text: str, at: int) -> bool:
    line_start = text.rfind("\n", 0, at) + 1
    return bool(text[line_start:at].strip())


def _blank_before(text: str, at: int) -> bool:
    """Whether a blank line separates ``text[at:]`` from the text before it."""
    start = at
    while start > 0 and text[start - 1] in _SPACE:
        start -= 1
    return start > 0 and text.count("\n", start, at) >= 2


def _blank_after(text: str, at: int) -> bool:
    """Whether a blank line separates ``text[:at]`` from the text after it."""
    end = at
    while end < len(text) and text[end] in _SPACE:
        end += 1
    return end < len(text) and text.count("\n", at, end) >= 2


_SPACE = frozenset(" \t\r\n\f")


def _comment_text(comment: ast.Comment) -> str:
    return comment.text.rstrip()  # a file with CRLF line ends leaves a "\r" in the comment


# --- files, policies and tests ---------------------------------------------------------

_STEP = 2  # indentation per level


class _Printer:
    """Prints a module line by line; statements go through :class:`_Layout` and :func:`_render`."""

    def __init__(self, module: ast.Module) -> None:
        self._module = module
        self._text = module.span.source.text
        self._lines: list[str] = []
        self._blank_due = False
        self._top_of_block = True  # no blank line right after `{` (or at the top of the file)

    def text(self) -> str:
        items = self._module.items
        place = _place(_comments(self._module), [_extent(item) for item in items], self._text)
        for i, item in enumerate(items):
            self._want_blank()
            self._comment_lines((place.opener if i == 0 else []) + place.leading[i], 0)
            if isinstance(item, ast.Policy):
                self._policy(item, place.inner[i], place.trailing[i])
            else:
                self._test(item, place.inner[i], place.trailing[i])
        # (`opener` is empty: the code before a comment on its line belongs to an item.)
        self._comment_lines((place.opener if not items else []) + place.end, 0)
        return "".join(line + "\n" for line in self._lines)

    def _policy(self, policy: ast.Policy, comments: list[ast.Comment], trailing: list[ast.Comment]) -> None:
        sections: list[Sequence[ast.Meta | ast.Param | ast.Step]] = [policy.meta, policy.params, policy.steps]
        self._block(f"policy {policy.id} {{", sections, comments, trailing)

    def _test(self, test: ast.TestBlock, comments: list[ast.Comment], trailing: list[ast.Comment]) -> None:
        self._block(f"test {_quote(test.name)} {{", [[*test.givens, *test.expects]], comments, trailing)

    def _block(
        self,
        opener: str,
        sections: Sequence[Sequence[_Statement]],
        comments: list[ast.Comment],
        trailing: list[ast.Comment],
    ) -> None:
        children = [child for section in sections for child in section]
        section_starts = {sum(map(len, sections[:i])) for i, section in enumerate(sections) if section}
        place = _place(comments, [_extent(child) for child in children], self._text)
        self._line(0, opener, place.opener, more_indent=_STEP)
        self._top_of_block = True
        for i, child in enumerate(children):
            if i in section_starts:
                self._want_blank()
            self._comment_lines(place.leading[i], _STEP)
            self._statement(child, place.inner[i], place.trailing[i], _STEP)
        self._comment_lines(place.end, _STEP)
        self._blank_due = False
        self._line(0, "}", trailing)

    def _statement(
        self, node: _Statement, comments: list[ast.Comment], trailing: list[ast.Comment], indent: int
    ) -> None:
        layout = _Layout(comments, self._text)
        doc = _statement_doc(layout, node)
        self._comment_lines(layout.unclaimed, indent)  # comments inside, but not inside a literal
        self._line(indent, _render(doc, indent), trailing)

    # --- output ------------------------------------------------------------------------

    def _line(
        self, indent: int, text: str, trailing: Sequence[ast.Comment] = (), more_indent: int | None = None
    ) -> None:
        """A line (it may hold line breaks) and its trailing comment.

        When several comments trail the construct the line prints (it spanned lines
        in the source), the others follow on lines of their own, at ``more_indent``.
        """
        if trailing:
            text += "  " + _comment_text(trailing[0])
        if self._blank_due and not self._top_of_block:
            self._lines.append("")
        self._blank_due = False
        self._top_of_block = False
        self._lines.append(" " * indent + text)
        for comment in trailing[1:]:
            self._lines.append(
                " " * (indent if more_indent is None else more_indent) + _comment_text(comment)
            )

    def _comment_lines(self, comments: Sequence[ast.Comment], indent: int) -> None:
        for comment in comments:
            if _blank_before(self._text, comment.span.start):
                self._want_blank()
            self._line(indent, _comment_text(comment))
            if _blank_after(self._text, comment.span.end):
                self._want_blank()

    def _want_blank(self) -> None:
        self._blank_due = True


_Statement: TypeAlias = ast.Meta | ast.Param | ast.Step | ast.Given | ast.Expect


def _extent(node: ast.Item | _Statement) -> tuple[int, int]:
    return node.span.start, node.span.end


def _statement_doc(layout: _Layout, node: _Statement) -> _Doc:
    match node:
        case ast.Meta(key=key, values=values):
            return " ".join([key, ", ".join(_meta_value(v) for v in values)]).rstrip()
        case ast.Param(name=name, type=type_, default=default):
            head = f"param {name}: {_type(type_)}"
            return head if default is None else (head, " = ", layout.expr(default))
        case ast.ForEach(var=var, source=source):
            return (f"for {var} in ", layout.expr(source))
        case ast.Where(cond=cond):
            return ("where ", layout.expr(cond))
        case ast.Let(name=name, value=value):
            return (f"let {name} = ", layout.expr(value))
        case ast.GroupBy(key=key, name=name, members=members):
            return ("group by ", layout.expr(key), f" as {name} into {members}")
        case ast.Require(cond=cond):
            return ("require ", layout.expr(cond))
        case ast.Message(template=template):
            return "message " + _message(template.parts)
        case ast.Given():
            return _given_doc(layout, node)
        case ast.Expect():
            return _expect_text(node)


def _given_doc(layout: _Layout, given: ast.Given) -> _Doc:
    if given.what == "today":
        if not (isinstance(given.value, ast.Literal) and isinstance(given.value.value, str)):
            raise ValueError(f"`given today` takes a date string, not {given.value!r}")
        return f"given today {_quote(given.value.value)}"
    head = {
        "resources": "given resources ",
        "param": f"given param {given.name} = ",
        "catalog": f"given catalog {given.name} ",
    }[given.what]
    return (head, layout.expr(given.value))


def _expect_text(expect: ast.Expect) -> str:
    if expect.count is not None:
        words = ["expect", str(expect.count), f"{expect.outcome}s"]
    else:
        words = ["expect", *(["no"] if expect.negated else []), expect.outcome]
    if expect.policy is not None:
        words.append(expect.policy)
    if expect.resource is not None:
        words += ["on", _quote(expect.resource)]
    return " ".join(words)


def _meta_value(value: ast.MetaValue) -> str:
    return _quote(value.text) if value.quoted else value.text


def _type(type_: ast.TypeExpr) -> str:
    if not type_.args:
        return type_.name
    return f"{type_.name}[{', '.join(_type(arg) for arg in type_.args)}]"


# --- expressions -----------------------------------------------------------------------

# Binding strength, loosest first, as the grammar's expression rules nest.
_OR, _AND, _NOT, _COMPARE, _COALESCE, _SUM, _PRODUCT, _UNARY, _POSTFIX, _ATOM = range(1, 11)

# Words that a bare map key would read as something else: `{true: 1}` has a boolean key.
# (Other keywords are names wherever an expression starts: `{unknown: "reason"}`.)
_NOT_A_BARE_KEY = frozenset({"true", "false", "null", "not"})
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _precedence(expr: ast.Expr) -> int:
    match expr:
        case ast.Logical(op="or"):
            return _OR
        case ast.Logical():
            return _AND
        case ast.Unary(op="not"):
            return _NOT
        case ast.Unary():
            return _UNARY
        case ast.Compare():
            return _COMPARE
        case ast.Coalesce():
            return _COALESCE
        case ast.Binary(op="+" | "-"):
            return _SUM
        case ast.Binary():
            return _PRODUCT
        case ast.Literal(value=value) if _is_negative_number(value):
            return _UNARY  # `-1` is `- 1`, folded by the builder
        case ast.Field() | ast.Index() | ast.Call() | ast.Aggregate():
            return _POSTFIX
        case _:
            return _ATOM


class _Layout:
    """Expressions to layout documents.

    A collection literal takes (claims) the comments inside it, after its items
    have taken theirs; whatever is left in :attr:`unclaimed` belongs to the
    enclosing statement.
    """

    def __init__(self, comments: Sequence[ast.Comment] = (), text: str = "") -> None:
        self._comments = tuple(comments)
        self._text = text
        self.unclaimed = list(comments)

    def expr(self, expr: ast.Expr, floor: int = _OR) -> _Doc:
        """``expr`` where the grammar wants an operand of binding strength ``floor`` or more."""
        doc = self._bare(expr)
        if _precedence(expr) < floor:
            return ("(", doc, ")")
        return doc

    def _bare(self, expr: ast.Expr) -> _Doc:
        match expr:
            case ast.Literal(value=value):
                return _literal(value)
            case ast.Ref(name=name):
                return name
            case ast.Field(obj=obj, name=name):
                if isinstance(obj, ast.Literal) and type(obj.value) is int:
                    return ("(", self._bare(obj), ").", name)  # `1.x` does not lex
                return (self.expr(obj, _POSTFIX), ".", name)
            case ast.Index(obj=obj, key=key):
                return (self.expr(obj, _POSTFIX), "[", self.expr(key), "]")
            case ast.Call(name=name, args=args):
                return (name, "(", *_joined([self.expr(arg) for arg in args], ", "), ")")
            case ast.Aggregate(func=func, var=None, collection=collection):
                return (func, "(", self.expr(collection), ")")
            case ast.Aggregate(func=func, var=var, collection=collection, body=body):
                body_doc = "null" if body is None else self.expr(body)
                return (func, f"({var} in ", self.expr(collection, _COALESCE), ": ", body_doc, ")")
            case ast.Unary(op="not", operand=operand):
                return ("not ", self.expr(operand, _NOT))
            case ast.Unary(operand=operand):
                space = " " if _starts_with_minus(operand) else ""
                return ("-", space, self.expr(operand, _UNARY))
            case ast.Binary(op=op, left=left, right=right):
                level = _precedence(expr)
                return (self.expr(left, level), f" {op} ", self.expr(right, level + 1))
            case ast.Compare(op=op, left=left, right=right):
                return (self.expr(left, _COALESCE), f" {op} ", self.expr(right, _COALESCE))
            case ast.Logical(op=op, left=left, right=right):
                level = _precedence(expr)
                return (self.expr(left, level), f" {op} ", self.expr(right, level + 1))
            case ast.Coalesce(left=left, right=right):
                return (self.expr(left, _SUM), " ?? ", self.expr(right, _COALESCE))
            case ast.ListLit(items=items):
                return self._literal_items(expr, "[", "]", [(self.expr(i), _extent_of(i)) for i in items])
            case ast.SetLit(items=items):
                # An empty set has no syntax of its own; `{}` is one where a set is expected.
                return self._literal_items(expr, "{", "}", [(self.expr(i), _extent_of(i)) for i in items])
            case ast.MapLit(entries=entries):
                docs: list[tuple[_Doc, tuple[int, int]]] = [
                    ((self._key(k), ": ", self.expr(v)), (k.span.start, v.span.end)) for k, v in entries
                ]
                return self._literal_items(expr, "{", "}", docs)
            case ast.Template(parts=parts):
                return _message(parts)

    def _key(self, key: ast.Expr) -> _Doc:
        if isinstance(key, ast.Literal) and isinstance(key.value, str) and _is_bare_key(key.value):
            return key.value
        return self.expr(key)

    def _literal_items(
        self, node: ast.Expr, opener: str, closer: str, items: list[tuple[_Doc, tuple[int, int]]]
    ) -> _Doc:
        start, end = node.span.start, node.span.end
        mine = [c for c in self.unclaimed if start < c.span.start < end]
        self.unclaimed = [c for c in self.unclaimed if not start < c.span.start < end]
        broken = any(start < c.span.start < end for c in self._comments)
        place = _place(mine, [extent for _, extent in items], self._text)

        rows: list[_Doc] = []
        rows += [_comment_text(c) for c in place.opener[1:]]
        for i, (doc, _) in enumerate(items):
            rows += [_comment_text(c) for c in place.leading[i] + place.inner[i]]
            comma: _Doc = "," if i < len(items) - 1 else _IfBroken(",")
            trailing = place.trailing[i]
            rows.append((doc, comma, *(["  " + _comment_text(trailing[0])] if trailing else [])))
            rows += [_comment_text(c) for c in trailing[1:]]
        rows += [_comment_text(c) for c in place.end]
        if not rows:
            return opener + closer

        body: list[_Doc] = []
        for i, row in enumerate(rows):
            body += [_Line("" if i == 0 else " "), row]
        head = opener + ("  " + _comment_text(place.opener[0]) if place.opener else "")
        return _Group((head, _Nest(tuple(body)), _Line(""), closer), broken=broken)


def _extent_of(expr: ast.Expr) -> tuple[int, int]:
    return expr.span.start, expr.span.end


def _joined(docs: list[_Doc], separator: str) -> list[_Doc]:
    out: list[_Doc] = []
    for i, doc in enumerate(docs):
        out += [separator, doc] if i else [doc]
    return out


def _is_negative_number(value: ast.Scalar) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.copysign(1, value) < 0  # -0.0 too: it prints as `-0.0`


def _starts_with_minus(expr: ast.Expr) -> bool:
    if isinstance(expr, ast.Literal):
        return _is_negative_number(expr.value)
    return isinstance(expr, ast.Unary) and expr.op == "-"


def _is_bare_key(text: str) -> bool:
    return _NAME.fullmatch(text) is not None and text not in _NOT_A_BARE_KEY


# --- literals --------------------------------------------------------------------------


def _literal(value: ast.Scalar) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, float):
        if math.isnan(value):
            raise ValueError("NaN has no literal in the policy language")
        if math.isinf(value):
            return "1e999" if value > 0 else "-1e999"  # the nearest float to 1e999 is infinity
        return repr(value)  # shortest round-tripping form: `0.1`, `1e-05`, `1e+20` all lex as FLOAT
    return str(value)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    # Control characters, line separators and lone surrogates (which UTF-8 cannot hold).
    if code < 0x20 or 0x7F <= code <= 0x9F or code in (0x2028, 0x2029) or 0xD800 <= code <= 0xDFFF:
        return f"\\u{code:04x}"
    return char


def _quote(text: str) -> str:
    """A string literal (braces need no escape: holes are read in messages only)."""
    return '"' + "".join(_escape(char) for char in text) + '"'


def _message(parts: Sequence[str | ast.Expr]) -> str:
    r"""A message: text with ``{expr}`` holes, literal braces doubled (``{{``, ``}}``).

    A doubled ``{{`` whose second brace the lexer could take for the start of a hole
    that runs past the closing quote is written ``\{`` instead (see :func:`_quote`).
    """
    pieces: list[str] = []
    following: str | None = None
    for part in reversed(parts):
        if isinstance(part, str):
            for char in reversed(part):
                if char == "{":
                    piece = "{{" if following in ("{", "}") else "\\{"
                elif char == "}":
                    piece = "}}"
                else:
                    piece = _escape(char)
                pieces.append(piece)
                following = _first_brace_or_quote(piece) or following
        else:
            inner = format_expr(part)
            if inner.startswith("{") or inner.endswith("}"):
                inner = f" {inner} "  # `{{` would be a literal brace
            pieces.append("{" + inner + "}")
            following = "{"
    return '"' + "".join(reversed(pieces)) + '"'


def _first_brace_or_quote(piece: str) -> str | None:
    return next((char for char in piece if char in '"{}'), None)


# --- layout documents ------------------------------------------------------------------
#
# A small Wadler/Leijen pretty printer: a group is printed flat when it fits in the
# rest of the line, and otherwise its line breaks become newlines.


@dataclass(frozen=True, slots=True)
class _Line:
    """A line break, or ``flat`` when its group fits on one line."""

    flat: str


@dataclass(frozen=True, slots=True)
class _IfBroken:
    """Text printed only when its group is broken (the trailing comma)."""

    text: str


@dataclass(frozen=True, slots=True)
class _Nest:
    """Line breaks inside are indented one more level."""

    doc: _Doc


@dataclass(frozen=True, slots=True)
class _Group:
    doc: _Doc
    broken: bool = False  # a comment inside: never flat


_Doc: TypeAlias = "str | _Line | _IfBroken | _Nest | _Group | tuple[_Doc, ...]"
_Command: TypeAlias = tuple[int, bool, _Doc]  # indentation, flat, document


def _render(doc: _Doc, indent: int, width: int | None = WIDTH) -> str:
    """Print a document starting at column ``indent``; ``width`` None prints everything flat."""
    out: list[str] = []
    column = indent
    stack: list[_Command] = [(indent, width is None, doc)]
    while stack:
        level, flat, item = stack.pop()
        if isinstance(item, str):
            out.append(item)
            column += len(item)
        elif isinstance(item, tuple):
            stack.extend((level, flat, part) for part in reversed(item))
        elif isinstance(item, _Nest):
            stack.append((level + _STEP, flat, item.doc))
        elif isinstance(item, _Group):
            fits = flat or (not item.broken and width is not None and _fits(item.doc, stack, width - column))
            stack.append((level, fits, item.doc))
        elif isinstance(item, _IfBroken):
            if not flat:
                out.append(item.text)
                column += len(item.text)
        elif flat:
            out.append(item.flat)
            column += len(item.flat)
        else:
            out.append("\n" + " " * level)
            column = level
    return "".join(out)


def _fits(doc: _Doc, rest: list[_Command], room: int) -> bool:
    """Whether ``doc``, flat, and what follows it up to the next line break fit in ``room``."""
    todo: list[tuple[bool, _Doc]] = [(True, doc)]
    waiting = len(rest)
    while room >= 0:
        if not todo:
            if waiting == 0:
                return True
            waiting -= 1
            _, flat, item = rest[waiting]
            todo.append((flat, item))
            continue
        flat, item = todo.pop()
        if isinstance(item, str):
            room -= len(item)
        elif isinstance(item, tuple):
            todo.extend((flat, part) for part in reversed(item))
        elif isinstance(item, _Nest):
            todo.append((flat, item.doc))
        elif isinstance(item, _Group):
            if flat and item.broken:
                return False
            todo.append((flat, item.doc))
        elif isinstance(item, _IfBroken):
            room -= 0 if flat else len(item.text)
        elif flat:
            room -= len(item.flat)
        else:
            return True  # a line break: the rest goes on the next line
    return False


# --- the safety net --------------------------------------------------------------------


def _check_same_meaning(module: ast.Module, formatted: str, name: str) -> None:
    """The formatted text must parse to the same tree, with the same comments."""
    again = parse_module(Source(name, formatted))
    if isinstance(again, list):
        raise AssertionError(f"the formatter wrote text that does not parse:\n{render_all(again)}")
    if repr(again.items) != repr(module.items):
        raise AssertionError(f"the formatter changed the meaning of {name}")
    before = Counter(_comment_text(c) for c in _comments(module))
    after = Counter(_comment_text(c) for c in _comments(again))
    if before != after:
        changed = sorted(((before - after) + (after - before)).elements())
        raise AssertionError(f"the formatter lost or doubled comments of {name}: {changed}")
