"""The documentation's examples are tests: every ``regie`` block checks, and its tests pass."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

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


# --- the shell examples --------------------------------------------------------------------------

SHELL = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.S | re.M)


def _regie_lines() -> list[tuple[str, str]]:
    """Every `regie …` command line of the docs' shell blocks, with where it is."""
    out = []
    for path in DOCS:
        for block in SHELL.findall(path.read_text(encoding="utf-8")):
            for line in block.replace("\\\n", " ").splitlines():  # continued lines joined
                code = line.split(" #", 1)[0].strip()
                if code.startswith("regie "):
                    out.append((f"{path.relative_to(ROOT)}: {code}", code))
    return out


@pytest.mark.parametrize(("where", "line"), _regie_lines(), ids=[w for w, _ in _regie_lines()])
def test_every_documented_command_and_option_exists(where: str, line: str) -> None:
    """A shell example names a command Regie has, with options that command takes."""
    import typer.main

    from regie.cli import app

    command: Any = typer.main.get_command(app)
    words = line.split()[1:]
    # typer's groups carry their subcommands in `commands` (typer vendors click)
    while hasattr(command, "commands") and words and not words[0].startswith("-"):
        sub = command.commands.get(words[0])
        assert sub is not None, f"{where}: no command `{words[0]}`"
        command, words = sub, words[1:]
    assert not hasattr(command, "commands"), f"{where}: `{command.name}` needs a subcommand"
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    for word in words:
        if word.startswith("-") and word != "-":
            option = word.split("=", 1)[0]
            assert option in known, f"{where}: `{option}` is not an option of `{command.name}`"


def test_the_docs_have_shell_examples_of_most_commands() -> None:
    used = {line.split()[1] for _, line in _regie_lines()}
    assert used >= {"check", "fmt", "test", "eval", "explain", "scan", "facts", "replay", "verify", "prune"}
