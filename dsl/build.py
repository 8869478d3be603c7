"""Step two: the Lark parse tree to the typed AST of :mod:`regie.dsl.ast`.

Every grammar rule has a builder here; a rule without one is a bug and fails
loudly instead of leaking a Lark ``Tree`` into the AST.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NoReturn

from lark import Token, Transformer, Tree
from lark.exceptions import VisitError
from lark.tree import Meta as LarkMeta

from regie.dsl import ast
from regie.dsl.diagnostics import Diagnostic
from regie.dsl.parse import ParseTree, parse_tree, parse_with_comments
from regie.dsl.source import Source, Span

__all__ = ["BuildError", "build_expr", "build_module", "parse_expr", "parse_module"]

_COMMENT = re.compile(r"#[^\n]*")
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "{": "{", "}": "}"}


class BuildError(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        self.diagnostic = diagnostic
        super().__init__(diagnostic.message)


def parse_module(source: Source) -> ast.Module | list[Diagnostic]:
    """Parse a whole file into a :class:`~regie.dsl.ast.Module`, or the diagnostics that stop it.

    >>> m = parse_module(Source("x.regie", 'test "t" { expect no violation }'))
    >>> m.items[0].name
    't'
    """
    tree, comments = parse_with_comments(source)
    if isinstance(tree, Diagnostic):
        return [tree]
    try:
        module = build_module(tree, source, comments)
    except BuildError as err:
        return [err.diagnostic]
    return module


def parse_expr(source: Source) -> ast.Expr | list[Diagnostic]:
    """Parse one expression (command-line params, tests).

    >>> parse_expr(Source("<arg>", "1 + 2"))
    Binary(op='+', left=Literal(value=1), right=Literal(value=2))
    """
    tree = parse_tree(source, start="expr")
    if isinstance(tree, Diagnostic):
        return [tree]
    try:
        return build_expr(tree, source)
    except BuildError as err:
        return [err.diagnostic]


def build_module(tree: ParseTree, source: Source, comments: Sequence[Token] = ()) -> ast.Module:
    items = _run(_Builder(source, 0), tree)
    return ast.Module(
        items=tuple(items.children),
        comments=tuple(
            ast.Comment(text=str(t), span=Span(source, t.start_pos or 0, t.end_pos or 0)) for t in comments
        ),
        span=Span(source, 0, len(source.text)),
    )


def build_expr(tree: ParseTree | Token, source: Source, offset: int = 0) -> ast.Expr:
    result = _run(_Builder(source, offset), tree)
    assert not isinstance(result, Tree | Token), f"unbuilt parse node {result!r}"
    return result  # type: ignore[no-any-return]


def _run(builder: _Builder, tree: ParseTree | Token) -> Any:
    if isinstance(tree, Token):
        return builder.transform(Tree("_single", [tree]))  # pragma: no cover - grammar always wraps
    try:
        return builder.transform(tree)
    except VisitError as err:
        if isinstance(err.orig_exc, BuildError):
            raise err.orig_exc from None
        raise


class _Builder(Transformer[Token, Any]):
    """One method per grammar rule or alias. Lark calls ``__default__`` for anything else."""

    def __init__(self, source: Source, offset: int) -> None:
        super().__init__(visit_tokens=False)
        self.source = source
        self.offset = offset

    # --- plumbing --------------------------------------------------------------------

    def __default__(self, data: Any, children: Any, meta: Any) -> NoReturn:
        raise AssertionError(f"grammar rule {data!r} has no AST builder")

    def _call_userfunc(self, tree: Tree[Token], new_children: list[Any] | None = None) -> Any:
        children = new_children if new_children is not None else tree.children
        method = getattr(self, f"rule_{tree.data}", None)
        if method is None:
            return self.__default__(tree.data, children, tree.meta)
        return method(children, tree.meta)

    def _span(self, meta: LarkMeta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, self.offset, self.offset)
        return Span(self.source, meta.start_pos + self.offset, meta.end_pos + self.offset)

    def _tspan(self, token: Token) -> Span:
        start = (token.start_pos or 0) + self.offset
        end = (token.end_pos or 0) + self.offset
        return Span(self.source, start, end)

    def _fail(self, code: str, message: str, span: Span, help: str | None = None) -> NoReturn:
        raise BuildError(Diagnostic(code, message, span, help=help))

    # --- file ------------------------------------------------------------------------

    def rule_start(self, children: list[Any], meta: LarkMeta) -> Tree[Any]:
        return Tree("items", children)

    def rule_policy(self, children: list[Any], meta: LarkMeta) -> ast.Policy:
        name, id_span = children[0]
        metas = tuple(c for c in children[1:] if isinstance(c, ast.Meta))
        params = tuple(c for c in children[1:] if isinstance(c, ast.Param))
        steps = children[-1]
        return ast.Policy(
            id=name, meta=metas, params=params, steps=steps, span=self._span(meta), id_span=id_span
        )

    def rule_dotted(self, children: list[Token], meta: LarkMeta) -> tuple[str, Span]:
        return ".".join(str(t) for t in children), self._span(meta)

    def rule_meta(self, children: list[Any], meta: LarkMeta) -> ast.Meta:
        key, _ = children[0]
        return ast.Meta(key=key, values=tuple(children[1:]), span=self._span(meta))

    def rule_meta_string(self, children: list[Token], meta: LarkMeta) -> ast.MetaValue:
        token = children[0]
        return ast.MetaValue(text=self._unquote(token), quoted=True, span=self._tspan(token))

    def rule_meta_name(self, children: list[Token], meta: LarkMeta) -> ast.MetaValue:
        return ast.MetaValue(text=str(children[0]), quoted=False, span=self._tspan(children[0]))

    rule_meta_number = rule_meta_name

    def rule_param(self, children: list[Any], meta: LarkMeta) -> ast.Param:
        name, type_, *default = children  # `("=" expr)?` leaves no placeholder when absent
        return ast.Param(
            name=str(name), type=type_, default=default[0] if default else None, span=self._span(meta)
        )

    def rule_type(self, children: list[Any], meta: LarkMeta) -> ast.TypeExpr:
        name, *args = children
        return ast.TypeExpr(
            name=str(name), args=tuple(a for a in args if a is not None), span=self._span(meta)
        )

    # --- steps -----------------------------------------------------------------------

    def rule_steps(self, children: list[Any], meta: LarkMeta) -> tuple[ast.Step, ...]:
        return tuple(c for c in children if c is not None)

    def rule_for_step(self, children: list[Any], meta: LarkMeta) -> ast.ForEach:
        return ast.ForEach(var=str(children[0]), source=children[1], span=self._span(meta))

    def rule_where(self, children: list[Any], meta: LarkMeta) -> ast.Where:
        return ast.Where(cond=children[0], span=self._span(meta))

    def rule_let(self, children: list[Any], meta: LarkMeta) -> ast.Let:
        return ast.Let(name=str(children[0]), value=children[1], span=self._span(meta))

    def rule_group_by(self, children: list[Any], meta: LarkMeta) -> ast.GroupBy:
        key, name, members = children
        return ast.GroupBy(key=key, name=str(name), members=str(members), span=self._span(meta))

    def rule_require(self, children: list[Any], meta: LarkMeta) -> ast.Require:
        return ast.Require(cond=children[0], span=self._span(meta))

    def rule_message(self, children: list[Token], meta: LarkMeta) -> ast.Message:
        return ast.Message(template=self._template(children[0]), span=self._span(meta))

    # --- tests -----------------------------------------------------------------------

    def rule_test(self, children: list[Any], meta: LarkMeta) -> ast.TestBlock:
        name = self._unquote(children[0])
        givens = tuple(c for c in children[1:] if isinstance(c, ast.Given))
        expects = tuple(c for c in children[1:] if isinstance(c, ast.Expect))
        return ast.TestBlock(name=name, givens=givens, expects=expects, span=self._span(meta))

    def rule_given_resources(self, children: list[Any], meta: LarkMeta) -> ast.Given:
        return ast.Given(what="resources", name=None, value=children[0], span=self._span(meta))

    def rule_given_param(self, children: list[Any], meta: LarkMeta) -> ast.Given:
        (name, _), value = children
        return ast.Given(what="param", name=name, value=value, span=self._span(meta))

    def rule_given_catalog(self, children: list[Any], meta: LarkMeta) -> ast.Given:
        return ast.Given(what="catalog", name=str(children[0]), value=children[1], span=self._span(meta))

    def rule_given_today(self, children: list[Any], meta: LarkMeta) -> ast.Given:
        token = children[0]
        value = ast.Literal(value=self._unquote(token), span=self._tspan(token))
        return ast.Given(what="today", name=None, value=value, span=self._span(meta))

    def rule_expect(self, children: list[Any], meta: LarkMeta) -> ast.Expect:
        negated = False
        outcome = "violation"
        policy: str | None = None
        resource: str | None = None
        for child in children:
            if isinstance(child, tuple):
                policy = child[0]
            elif child.type == "NEGATION":
                negated = True
            elif child.type == "OUTCOME":
                outcome = str(child)
            elif child.type == "STRING":
                resource = self._unquote(child)
        return ast.Expect(
            outcome=outcome,  # type: ignore[arg-type]
            negated=negated,
            policy=policy,
            resource=resource,
            span=self._span(meta),
        )

    def rule_expect_count(self, children: list[Any], meta: LarkMeta) -> ast.Expect:
        count_token, outcomes, *rest = children
        policy = rest[0][0] if rest and rest[0] is not None else None
        outcome = "violation" if str(outcomes) == "violations" else "unknown"
        return ast.Expect(
            outcome=outcome,  # type: ignore[arg-type]
            negated=False,
            policy=policy,
            resource=None,
            count=int(count_token),
            span=self._span(meta),
        )

    # --- expressions -----------------------------------------------------------------

    def rule_or_(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Logical(op="or", left=c[0], right=c[1], span=self._span(meta))

    def rule_and_(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Logical(op="and", left=c[0], right=c[1], span=self._span(meta))

    def rule_not_(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Unary(op="not", operand=c[0], span=self._span(meta))

    def rule_neg(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        operand = c[0]
        # Fold `-1` into a literal, so that the formatter and parser agree on numbers.
        if isinstance(operand, ast.Literal) and type(operand.value) in (int, float):
            return ast.Literal(value=-operand.value, span=self._span(meta))  # type: ignore[operator]
        return ast.Unary(op="-", operand=operand, span=self._span(meta))

    def rule_compare(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Compare(op=str(c[1]), left=c[0], right=c[2], span=self._span(meta))  # type: ignore[arg-type]

    def rule_in_(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Compare(op="in", left=c[0], right=c[1], span=self._span(meta))

    def rule_not_in(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Compare(op="not in", left=c[0], right=c[1], span=self._span(meta))

    def rule_coalesce(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Coalesce(left=c[0], right=c[1], span=self._span(meta))

    def rule_binary(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Binary(op=str(c[1]), left=c[0], right=c[2], span=self._span(meta))  # type: ignore[arg-type]

    def rule_field(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Field(obj=c[0], name=str(c[1]), span=self._span(meta))

    def rule_index(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Index(obj=c[0], key=c[1], span=self._span(meta))

    def rule_call(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        name = str(c[0])
        args = tuple(a for a in c[1:] if a is not None)
        if name in ast.AGGREGATES and len(args) == 1:
            return ast.Aggregate(func=name, var=None, collection=args[0], body=None, span=self._span(meta))
        return ast.Call(name=name, args=args, span=self._span(meta))

    def rule_aggregate(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        name, binder, body = str(c[0]), c[1], c[2]
        if not (isinstance(binder, ast.Compare) and binder.op == "in" and isinstance(binder.left, ast.Ref)):
            self._fail(
                "REG-P001",
                f"`{name}(…: …)` binds a variable: expected `name in collection` before `:`",
                binder.span,
                help=f"for example `{name}(x in xs: x.vital)`",
            )
        return ast.Aggregate(
            func=name, var=binder.left.name, collection=binder.right, body=body, span=self._span(meta)
        )

    def rule_string(self, c: list[Token], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=self._unquote(c[0]), span=self._span(meta))

    def rule_int(self, c: list[Token], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=int(c[0]), span=self._span(meta))

    def rule_float(self, c: list[Token], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=float(c[0]), span=self._span(meta))

    def rule_true(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=True, span=self._span(meta))

    def rule_false(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=False, span=self._span(meta))

    def rule_null(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.Literal(value=None, span=self._span(meta))

    def rule_ref(self, c: list[Token], meta: LarkMeta) -> ast.Expr:
        return ast.Ref(name=str(c[0]), span=self._span(meta))

    def rule_list(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.ListLit(items=tuple(x for x in c if x is not None), span=self._span(meta))

    def rule_set(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.SetLit(items=tuple(c), span=self._span(meta))

    def rule_empty_braces(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.MapLit(entries=(), span=self._span(meta))

    def rule_map(self, c: list[Any], meta: LarkMeta) -> ast.Expr:
        return ast.MapLit(entries=tuple(c), span=self._span(meta))

    def rule_map_entry(self, c: list[Any], meta: LarkMeta) -> tuple[ast.Expr, ast.Expr]:
        key, value = c
        # A bare name as a key is the string, as in JSON and YAML: `{id: "a"}`.
        if isinstance(key, ast.Ref):
            key = ast.Literal(value=key.name, span=key.span)
        return key, value

    # --- strings ---------------------------------------------------------------------

    def _unquote(self, token: Token) -> str:
        raw = str(token)[1:-1]
        return self._unescape(raw, (token.start_pos or 0) + self.offset + 1)

    def _unescape(self, raw: str, at: int) -> str:
        if "\\" not in raw:
            return raw
        out = []
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch != "\\":
                out.append(ch)
                i += 1
                continue
            nxt = raw[i + 1] if i + 1 < len(raw) else ""
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
                i += 2
            elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", raw[i + 2 : i + 6]):
                out.append(chr(int(raw[i + 2 : i + 6], 16)))
                i += 6
            else:
                self._fail(
                    "REG-P002",
                    f"unknown escape `\\{nxt}` in a string",
                    Span(self.source, at + i, at + i + 2),
                    help='escapes are \\" \\\\ \\n \\t \\r \\{ \\} and \\uXXXX',
                )
        return "".join(out)

    def _template(self, token: Token) -> ast.Template:
        """Split a message into text and ``{expr}`` holes; ``{{`` and ``}}`` are literal braces."""
        raw = str(token)[1:-1]
        base = (token.start_pos or 0) + self.offset + 1
        parts: list[str | ast.Expr] = []
        text: list[str] = []
        text_start = 0
        i = 0
        while i < len(raw):
            ch = raw[i]
            if ch == "\\":
                i += 2
                continue
            if ch == "{" and raw[i + 1 : i + 2] == "{":
                text.append(self._unescape(raw[text_start:i], base + text_start) + "{")
                i += 2
                text_start = i
                continue
            if ch == "}" and raw[i + 1 : i + 2] == "}":
                text.append(self._unescape(raw[text_start:i], base + text_start) + "}")
                i += 2
                text_start = i
                continue
            if ch == "}":
                self._fail(
                    "REG-P004",
                    "unmatched `}` in a message",
                    Span(self.source, base + i, base + i + 1),
                    help="write `}}` for a literal brace",
                )
            if ch == "{":
                text.append(self._unescape(raw[text_start:i], base + text_start))
                end = self._hole_end(raw, i, base)
                inner = raw[i + 1 : end]
                if not inner.strip():
                    self._fail(
                        "REG-P004",
                        "empty `{}` in a message",
                        Span(self.source, base + i, base + end + 1),
                        help="put an expression between the braces, or write `{{}}` for literal braces",
                    )
                if text and "".join(text):
                    parts.append("".join(text))
                text = []
                parts.append(self._hole(inner, base + i + 1))
                i = end + 1
                text_start = i
                continue
            i += 1
        text.append(self._unescape(raw[text_start:], base + text_start))
        if "".join(text):
            parts.append("".join(text))
        return ast.Template(parts=tuple(parts), span=self._tspan(token))

    def _hole_end(self, raw: str, start: int, base: int) -> int:
        depth = 0
        j = start
        while j < len(raw):
            ch = raw[j]
            if ch == '"':  # a string inside the hole: skip it whole
                j += 1
                while j < len(raw) and raw[j] != '"':
                    j += 2 if raw[j] == "\\" else 1
            elif ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    return j
            j += 1
        self._fail(
            "REG-P004",
            "unclosed `{` in a message",
            Span(self.source, base + start, base + start + 1),
            help="write `{{` for a literal brace",
        )

    def _hole(self, inner: str, at: int) -> ast.Expr:
        padded = " " * at + inner  # parse in place, so that spans point into the file
        tree = parse_tree(self.source, start="expr", text=padded)
        if isinstance(tree, Diagnostic):
            raise BuildError(tree)
        return build_expr(tree, self.source, 0)
