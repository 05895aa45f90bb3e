"""Errors of the alpha language, and how they point into the expression text.

All are :class:`~core.errors.DSLError` (CLI exit code 2): the expression must be fixed, nothing
is retried. Errors raised while parsing name the position as ``line:column (offset n)``, what
was expected and what was found, and end with a one-line excerpt of the text and a caret.
"""

from __future__ import annotations

from core.errors import DSLError

_EXCERPT_WIDTH = 72


class _DetailedDSLError(DSLError):
    """A DSL error with optional structured details (shared constructor)."""

    def __init__(
        self,
        message: str,
        *,
        position: int | None = None,
        line: int | None = None,
        column: int | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(message, position=position)
        self.line = line
        self.column = column
        self.expected = expected
        self.found = found


class DSLSyntaxError(_DetailedDSLError):
    """The text is not one well-formed S-expression (bad token, unbalanced parentheses, ...).

    Attributes:
        position: Zero-based character offset of the problem.
        line: One-based line of the problem.
        column: One-based column of the problem.
        expected: What the parser expected there.
        found: What it found instead.
    """


class DSLTypeError(_DetailedDSLError):
    """A well-formed expression is wrongly typed: unknown name, arity, window, scalar, bounds.

    Same attributes as :class:`DSLSyntaxError`; ``position``/``line``/``column`` are ``None``
    when the tree was built by hand rather than parsed.
    """


class DSLLimitError(_DetailedDSLError):
    """An expression exceeds a size or depth limit (see :class:`core.dsl.limits.Limits`)."""


def line_column(text: str, offset: int) -> tuple[int, int]:
    """One-based ``(line, column)`` of a zero-based character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def where(text: str, offset: int) -> str:
    """``"line:column (offset n)"`` for an offset in ``text``."""
    line, column = line_column(text, offset)
    return f"{line}:{column} (offset {offset})"


def excerpt(text: str, offset: int) -> str:
    """The line holding ``offset`` and a caret under it (long lines are cut around it)."""
    start = text.rfind("\n", 0, offset) + 1
    end = text.find("\n", offset)
    end = len(text) if end < 0 else end
    left = max(start, offset - _EXCERPT_WIDTH // 2)
    right = min(end, left + _EXCERPT_WIDTH)
    shown = text[left:right].replace("\t", " ").replace("\r", " ")
    prefix = "..." if left > start else ""
    suffix = "..." if right < end else ""
    caret = " " * (len(prefix) + offset - left) + "^"
    return f"  {prefix}{shown}{suffix}\n  {caret}"


def located(
    cls: type[_DetailedDSLError],
    text: str,
    offset: int,
    message: str,
    *,
    expected: str | None = None,
    found: str | None = None,
) -> _DetailedDSLError:
    """Build an error of type ``cls`` pointing at ``offset`` in ``text``.

    Args:
        cls: :class:`DSLSyntaxError`, :class:`DSLTypeError` or :class:`DSLLimitError`.
        text: The whole expression text.
        offset: Zero-based offset of the problem.
        message: The first line of the message (it should already name the position).
        expected: What was expected (kept as an attribute).
        found: What was found (kept as an attribute).

    Returns:
        The error, its message followed by an excerpt with a caret.
    """
    line, column = line_column(text, offset)
    return cls(
        f"{message}\n{excerpt(text, offset)}",
        position=offset,
        line=line,
        column=column,
        expected=expected,
        found=found,
    )
