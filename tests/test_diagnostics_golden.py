"""Golden diagnostics: realistic mistakes, rendered exactly as `regie check` prints them.

Each case is a pair under ``tests/golden/diagnostics/``: ``NAME.regie`` (the
policy file) and ``NAME.txt`` (everything `regie check NAME.regie` writes to
standard error: file:line:col, the line, the caret, the help, the count).

To accept new output after an intended change, run with ``REGIE_UPDATE_GOLDEN=1``
and review the diff of the ``.txt`` files before committing them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regie.cli import app

GOLDEN = Path(__file__).resolve().parent / "golden" / "diagnostics"
CASES = sorted(GOLDEN.glob("*.regie"))
UPDATE = os.environ.get("REGIE_UPDATE_GOLDEN") == "1"


def assert_golden(actual: str, golden: Path) -> None:
    """Compare with the golden file, or (re)write it when REGIE_UPDATE_GOLDEN=1."""
    if UPDATE:
        golden.write_text(actual, encoding="utf-8")
        return
    assert golden.is_file(), f"{golden.name} is missing: run with REGIE_UPDATE_GOLDEN=1 to create it"
    expected = golden.read_text(encoding="utf-8")
    assert actual == expected, f"{golden.name} differs (REGIE_UPDATE_GOLDEN=1 rewrites it after review)"


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_rendered_diagnostics(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Run from the golden folder so that the file names in the output are the bare names.
    monkeypatch.chdir(GOLDEN)
    result = CliRunner().invoke(app, ["check", case.name])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert_golden(result.stderr, case.with_suffix(".txt"))


def test_the_caret_is_under_the_text_when_the_line_is_indented_with_tabs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tabs.regie").write_text(
        'policy p {\n\ttitle "t"\n\tsource "s"\n\tfor r in resources\n\trequire r.nmae != null\n}\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["check", "tabs.regie"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert lines[0].startswith("tabs.regie:5:")
    # As a terminal shows them: tabs to the next multiple of 8.
    text = next(line for line in lines if line.startswith("5 | ")).expandtabs(8)
    caret = next(line for line in lines if line.lstrip(" |").startswith("^")).expandtabs(8)
    assert caret.index("^") == text.index("nmae"), f"\n{text}\n{caret}"


def test_there_are_enough_cases_and_no_orphans() -> None:
    assert len(CASES) >= 12
    orphans = {p.stem for p in GOLDEN.glob("*.txt")} - {c.stem for c in CASES}
    assert not orphans, f"golden output without an input: {sorted(orphans)}"


def test_every_golden_shows_location_line_and_caret() -> None:
    for case in CASES:
        golden = case.with_suffix(".txt")
        if not golden.is_file():
            continue  # reported by test_rendered_diagnostics
        text = golden.read_text(encoding="utf-8")
        assert text.startswith(f"{case.name}:"), case.name
        assert " | " in text and "^" in text, case.name
        assert text.rstrip().endswith(("1 error", " errors")), case.name
