"""Splits a T-SQL script into the batches that SSMS and sqlcmd would send, at their client-side GO lines.

Written by hand because no library does this job with SSMS's rules: GO is not T-SQL (the server never
sees it), so SQL parsers such as sqlglot treat it as an identifier or drop it, and generic statement
splitters cut on semicolons. The splitter has to know just enough of the lexical grammar to tell a
real GO line from the letters G and O inside a string, a [bracketed] or "quoted" identifier, or a
comment (block comments nest in T-SQL, unlike in most dialects).

The rules:

- A line is a GO line when its first word is GO (any case), followed by nothing but whitespace, an
  optional positive repeat count (``GO 3`` runs the batch three times) and an optional ``--`` comment.
- A line whose first word is GO but which carries anything else (``GO;``, ``GO 0``, ``GO x``,
  ``GO /* c */``) raises ScriptError: SSMS fails on such lines too, and guessing would hide a typo.
  Lines where GO is only the start of a longer token (``GOTO``, ``go_live``, ``go.col``, ``go,``) are
  ordinary SQL.
- Inside a string ('...' or N'...', '' escapes), a bracketed identifier (]] escapes), a double-quoted
  identifier ("" escapes), a block comment or after ``--``, nothing is a GO line.
- A batch that holds only whitespace and comments is dropped.
- A batch's text is the exact source between two GO lines, less the line break in front of the
  second one (it belongs to the separator); its start_line is the line after the first GO line, so
  leading blank lines are part of the text and line numbers in it map straight back to the file.
- An unterminated string, identifier or block comment simply runs to the end of the input, which
  becomes the last batch (even when it is all comment): reporting that syntax error, with its real
  position, is the database's job.

Scanning is one compiled regex searched forward from token to token, so the cost is linear in the
length of the script and the per-character work happens inside the regex engine, not in Python.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ScriptError


@dataclass(frozen=True)
class Batch:
    """One batch of a script, as exact source text plus where it sits in the file."""

    text: str  # the batch's SQL without the GO line; a slice of the input, so positions stay meaningful
    start_line: int  # 1-based line of the input on which `text` starts
    repeat: int = 1  # the count of `GO n`: how many times the batch runs


# A GO line candidate: GO as the first word of a line. Only the word is recognised here; the rest of
# the line is checked in Python so that a malformed GO line gets a precise message.
_GO_LINE = r"[ \t]* go (?= [ \t\r\n;] | -- | /\* | \Z ) [^\n]*"

# Each literal is written as "run of plain chars, then (escape, run)*" so the engine never backtracks,
# and an unterminated one ends at \Z instead of failing. Every alternative starts with its own fixed
# character (a GO line with the newline before it), which is how the caller tells them apart. There
# are deliberately no capturing groups: with them the regex engine gives up its fast character-set
# skip over plain SQL and the scan gets several times slower.
_TOKEN = re.compile(
    rf"""
      '  [^']*  (?: ''   [^']*  )* (?: '  | \Z )
    | \[ [^\]]* (?: \]\] [^\]]* )* (?: \] | \Z )
    | "  [^"]*  (?: ""   [^"]*  )* (?: "  | \Z )
    | -- [^\n]*
    | /\*
    | \n {_GO_LINE}
    """,
    re.IGNORECASE | re.VERBOSE,
)
# The first line has no newline in front of it.
_FIRST_LINE_GO = re.compile(_GO_LINE, re.IGNORECASE | re.VERBOSE)

_BLOCK_EDGE = re.compile(r"/\*|\*/")

# The one token a GO line may carry besides a comment; anything count-like that is not a positive
# integer gets the "count" message, anything else the "alone on its line" one.
_COUNT_LIKE = re.compile(r"[+-]?[\w.]+")

_NON_SPACE = re.compile(r"\S")


def _end_of_block_comment(text: str, start: int) -> int | None:
    """Index just past the */ that closes the (nesting) comment opened at `start`; None if unclosed."""
    depth = 0
    pos = start
    while True:
        edge = _BLOCK_EDGE.search(text, pos)
        if edge is None:
            return None
        depth += 1 if edge.group() == "/*" else -1
        pos = edge.end()
        if depth == 0:
            return pos


def _go_count(line: str, line_no: int, source: str) -> int:
    """The repeat count of a GO line (1 when absent); ScriptError when the line is not a clean GO."""
    tail = line.lstrip(" \t")[2:]  # what follows the word GO itself
    body = tail.split("--", 1)[0]
    words = body.split()
    if not words:
        return 1
    # `GO;` or `GO/*x*/` (nothing between GO and the junk) and `GO 2 3` are not GO commands at all.
    if len(words) > 1 or not tail[0].isspace() or _COUNT_LIKE.fullmatch(words[0]) is None:
        raise ScriptError(
            "GO must be alone on its line (optionally followed by a repeat count and a -- comment), "
            f"found {line.strip()!r}",
            source=source,
            line=line_no,
        )
    count = words[0]
    if not (count.isascii() and count.isdecimal()) or int(count) < 1:
        raise ScriptError(
            f"GO count must be a positive integer, found {count!r}", source=source, line=line_no
        )
    return int(count)


def split_batches(text: str, *, source: str = "<script>") -> list[Batch]:
    """Split `text` at its GO lines into the non-empty batches, in order.

    `source` only names the script in the ScriptError raised for a malformed GO line.
    """
    batches: list[Batch] = []
    batch_start = 0  # where the current batch's text begins
    batch_line = 1
    has_code = False  # whether the current batch holds anything but whitespace and comments
    line_no = 1  # the line number at offset `counted_to`, advanced incrementally to stay linear
    counted_to = 0
    pos = 0
    first = _FIRST_LINE_GO.match(text)
    token = _TOKEN.search(text) if first is None else first

    while token is not None:
        start = token.start()
        if not has_code and _NON_SPACE.search(text, pos, start) is not None:
            has_code = True
        kind = text[start]
        if kind == "\n" or token is first:
            go_start = start if token is first else start + 1
            line_no += text.count("\n", counted_to, go_start)
            counted_to = go_start
            repeat = _go_count(text[go_start : token.end()], line_no, source)
            if has_code:
                # The line break before the GO line belongs to the separator, not to the batch.
                end = go_start - 1
                if text[end - 1 : end] == "\r":
                    end -= 1
                batches.append(Batch(text[batch_start:end], batch_line, repeat))
            # Resume at the GO line's own newline: the next line may be a GO line, and the pattern
            # recognises one by the newline in front of it.
            pos = token.end()
            batch_start = pos + 1  # past the end when GO is the last line: an empty slice
            batch_line = line_no + 1
            has_code = False
        elif kind == "/":
            end_of_comment = _end_of_block_comment(text, start)
            if end_of_comment is None:
                # Keep the rest as a batch even if it is all comment, so the server reports the
                # missing */ instead of the script silently ending early.
                has_code = True
                end_of_comment = len(text)
            pos = end_of_comment
        else:
            if kind != "-":
                has_code = True  # a literal or identifier is code, even an empty one
            pos = token.end()
        token = _TOKEN.search(text, pos)

    if not has_code and _NON_SPACE.search(text, pos) is not None:
        has_code = True
    if has_code:
        batches.append(Batch(text[batch_start:], batch_line))
    return batches
