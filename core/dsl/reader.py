"""Read alpha text into positioned S-expressions (the syntax step of parsing).

Tokens carry their character offsets so that every later error can point into the text;
reading is a loop with an explicit stack, so deeply nested input gives a limit error rather
than a Python ``RecursionError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.dsl.errors import DSLLimitError, DSLSyntaxError, line_column, located, where

_WORD = re.compile(r"[^\s();]+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Token:
    """A token: ``kind`` is ``(``, ``)``, ``number``, ``name`` or ``end``; ``start`` an offset."""

    kind: str
    text: str
    start: int


@dataclass(frozen=True, slots=True)
class SList:
    """A parenthesised list of tokens and lists, with the offsets of its parentheses."""

    items: tuple[Token | SList, ...]
    start: int  # offset of "("
    end: int  # offset of ")"


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``end`` token.

    Raises:
        DSLSyntaxError: On a word that is neither a number nor a name.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while True:
        while i < n and (text[i].isspace() or text[i] == ";"):
            if text[i] == ";":
                newline = text.find("\n", i)
                i = n if newline < 0 else newline
            i += 1
        if i >= n:
            tokens.append(Token("end", "", n))
            return tokens
        if text[i] in "()":
            tokens.append(Token(text[i], text[i], i))
            i += 1
            continue
        word = _WORD.match(text, i).group()  # type: ignore[union-attr]  # one char at least
        kind = "number" if _NUMBER.fullmatch(word) else "name" if _NAME.fullmatch(word) else ""
        if not kind:
            raise expected_error(DSLSyntaxError, text, i, "a number, a name, '(' or ')'",
                            f"'{word}'")
        tokens.append(Token(kind, word, i))
        i += len(word)


def describe(item: Token | SList, text: str) -> str:
    """How an item reads in an error message (a token's text or a shortened list)."""
    if isinstance(item, SList):
        shown = text[item.start:item.end + 1]
        shown = " ".join(shown.split())
        return f"expression '{shown if len(shown) <= 40 else shown[:37] + '...'}'"
    if item.kind == "end":
        return "end of input"
    return {"number": f"number {item.text}", "name": f"name '{item.text}'"}.get(
        item.kind, f"'{item.text}'")


def excerpt_at(text: str, offset: int) -> str:
    """``line:column`` of an offset."""
    line, column = line_column(text, offset)
    return f"{line}:{column}"


def expected_error(cls: type, text: str, offset: int, expected: str, found: str,
              context: str = "") -> Exception:
    """``expected <expected><context>, found <found> at <line:col (offset)>`` + excerpt."""
    message = f"expected {expected}{context}, found {found} at {where(text, offset)}"
    return located(cls, text, offset, message, expected=expected, found=found)


def read(text: str, tokens: list[Token], max_nesting: int) -> Token | SList:
    """Read exactly one S-expression from ``tokens`` (iteratively: no recursion limit)."""
    if tokens[0].kind in ("end", ")"):
        raise expected_error(DSLSyntaxError, text, tokens[0].start, "an expression",
                        describe(tokens[0], text))
    stack: list[tuple[int, list[Token | SList]]] = []
    i = 0
    while True:
        token = tokens[i]
        i += 1
        if token.kind == "(":
            if len(stack) >= max_nesting:
                raise expected_error(DSLLimitError, text, token.start, f"depth <= {max_nesting}",
                                f"{len(stack) + 1} nested parentheses", " (max_depth)")
            stack.append((token.start, []))
            continue
        if token.kind == "end":
            start, items = stack[-1]
            head = items[0] if items else None
            opener = f"'({head.text}'" if isinstance(head, Token) and head.kind == "name" \
                else "'('"
            raise expected_error(DSLSyntaxError, text, token.start, "')'", "end of input",
                            f" to close {opener} opened at {excerpt_at(text, start)}")
        item: Token | SList = token
        if token.kind == ")":
            start, items = stack.pop()
            item = SList(tuple(items), start, token.start)
        if not stack:
            break
        stack[-1][1].append(item)
    if tokens[i].kind != "end":
        last = item.end if isinstance(item, SList) else item.start + len(item.text) - 1
        raise expected_error(DSLSyntaxError, text, tokens[i].start, "end of input",
                        describe(tokens[i], text),
                        f" after the expression ending at {excerpt_at(text, last)}")
    return item
