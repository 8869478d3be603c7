"""The documentation's examples are tests: every ``regie`` block checks, and its tests pass."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from regie.dsl.build import parse_module
from regie.dsl.builtins import BUILTINS
from regie.dsl.diagnostics import render_all
from regie.dsl.source import Source
from regie.engine.evaluate import PolicySet
from regie.engine.testing import run_tests
from regie.loading import load_catalogs

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([*ROOT.glob("docs/*.md"), ROOT / "README.md"])
BLOCK = re.compile(r"^```regie\n(.*?)^```", re.S | re.M)


def _blocks() -> list[tuple[str, str]]:
    out = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for i, match in enumerate(BLOCK.finditer(text)):
            line = text[: match.start()].count("\n") + 2
            out.append((f"{path.name}:{line}", match.group(1)))
            del i
    return out


@pytest.mark.parametrize(("where", "text"), _blocks(), ids=[w for w, _ in _blocks()])
def test_doc_example_checks_and_its_tests_pass(where: str, text: str) -> None:
    module = parse_module(Source(where, text))
    assert not isinstance(module, list), render_all(module)
    policy_set = PolicySet.build([module])
    assert not isinstance(policy_set, list), render_all(policy_set)
    results = run_tests(policy_set, load_catalogs(), today=dt.date(2026, 11, 29))
    failures = [f for r in results for f in r.failures]
    assert not failures, "\n".join(failures)


def test_docs_have_examples() -> None:
    assert len(_blocks()) >= 6


def test_grammar_in_docs_is_the_grammar() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    grammar = (ROOT / "dsl" / "grammar.lark").read_text(encoding="utf-8")
    assert f"```lark\n{grammar}```" in doc


def test_every_builtin_is_documented() -> None:
    doc = (ROOT / "docs" / "language.md").read_text(encoding="utf-8")
    missing = [name for name in BUILTINS if f"`{name}(" not in doc]
    assert not missing
