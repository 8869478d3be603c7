"""Source text and spans: where every node and diagnostic points.

A :class:`Span` is half-open (``end`` exclusive, like Lark's ``end_pos``) and
carries its :class:`Source`, so a diagnostic can render its own snippet.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

__all__ = ["NO_SPAN", "Source", "Span"]


@dataclass(frozen=True, slots=True, eq=False)
class Source:
    """A named text: a policy file, a test, or an expression typed on the command line.

    >>> Source("p.regie", "a\\nbc").position(3)
    (2, 2)
    """

    name: str
    text: str
    _line_starts: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        starts.extend(i + 1 for i, ch in enumerate(self.text) if ch == "\n")
        object.__setattr__(self, "_line_starts", tuple(starts))

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of a character offset."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return index + 1, offset - self._line_starts[index] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its newline."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] - 1 if line < len(self._line_starts) else len(self.text)
        return self.text[start:end]


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open range ``[start, end)`` of character offsets in a source."""

    source: Source
    start: int
    end: int

    @property
    def line(self) -> int:
        return self.source.position(self.start)[0]

    @property
    def column(self) -> int:
        return self.source.position(self.start)[1]

    def snippet(self) -> str:
        """The text the span covers.

        >>> Span(Source("x", "let a = 1"), 4, 5).snippet()
        'a'
        """
        return self.source.text[self.start : self.end]

    def location(self) -> str:
        """``file:line:col``, as editors and CI annotations read it."""
        line, col = self.source.position(self.start)
        return f"{self.source.name}:{line}:{col}"

    def shifted(self, offset: int) -> Span:
        return Span(self.source, self.start + offset, self.end + offset)

    def cover(self, other: Span) -> Span:
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(Source("<none>", ""), 0, 0)
