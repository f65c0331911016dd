"""The GO batch splitter: the separator rules, lexical contexts that hide GO, errors, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_opus.batches import Batch, split_batches
from pytest_opus.errors import ScriptError

SPLITS: list[tuple[str, str, list[tuple[str, int, int]]]] = [
    # (case id, script, [(text, start_line, repeat), ...])
    ("two batches", "SELECT 1\nGO\nSELECT 2\n", [("SELECT 1", 1, 1), ("SELECT 2\n", 3, 1)]),
    ("no GO at all", "SELECT 1\nSELECT 2", [("SELECT 1\nSELECT 2", 1, 1)]),
    ("lower case", "a\ngo\nb", [("a", 1, 1), ("b", 3, 1)]),
    ("mixed case", "a\nGo\nb\ngO\nc", [("a", 1, 1), ("b", 3, 1), ("c", 5, 1)]),
    ("whitespace around", "a\n  \tGO \t \nb", [("a", 1, 1), ("b", 3, 1)]),
    ("count", "a\nGO 3\nb", [("a", 1, 3), ("b", 3, 1)]),
    ("count with tab and zeros", "a\nGO\t007\nb", [("a", 1, 7), ("b", 3, 1)]),
    ("comment", "a\nGO -- end of step 1\nb", [("a", 1, 1), ("b", 3, 1)]),
    ("count and comment", "a\nGO 2 -- x\nb", [("a", 1, 2), ("b", 3, 1)]),
    ("comment glued to GO", "a\nGO--x\nb", [("a", 1, 1), ("b", 3, 1)]),
    ("count glued to comment", "a\nGO 2--x\nb", [("a", 1, 2), ("b", 3, 1)]),
    ("final GO without newline", "a\nGO", [("a", 1, 1)]),
    ("final GO count without newline", "a\nGO 4", [("a", 1, 4)]),
    ("final GO with newline", "a\nGO\n", [("a", 1, 1)]),
    ("GO on the first line", "GO\na\nGO", [("a", 2, 1)]),
    ("only GO", "GO", []),
    ("empty input", "", []),
    ("blank input", "  \n\t\n", []),
    ("consecutive GOs drop the empty batch", "a\nGO\nGO\nGO\nb", [("a", 1, 1), ("b", 5, 1)]),
    ("comment-only batch dropped", "a\nGO\n-- note\n/* more */\nGO\nb", [("a", 1, 1), ("b", 6, 1)]),
    ("whitespace-only batch dropped", "a\nGO\n \n\t\nGO\nb", [("a", 1, 1), ("b", 6, 1)]),
    ("count of a dropped batch is ignored", "GO 5\na", [("a", 2, 1)]),
    ("leading blank lines", "a\nGO\n\n\n  b\n", [("a", 1, 1), ("\n\n  b\n", 3, 1)]),
    ("leading comment kept", "-- header\nSELECT 1\nGO", [("-- header\nSELECT 1", 1, 1)]),
    ("CRLF", "a\r\nGO\r\nb\r\nGO 2\r\n", [("a", 1, 1), ("b", 3, 2)]),
    ("batch keeps inner blank lines", "a\n\nb\n\nGO\nc", [("a\n\nb\n", 1, 1), ("c", 6, 1)]),
    # Contexts that hide GO.
    ("string", "SELECT 'x\nGO\ny'\nGO\nb", [("SELECT 'x\nGO\ny'", 1, 1), ("b", 5, 1)]),
    ("string with '' escape", "SELECT 'it''s\nGO\n'\nGO", [("SELECT 'it''s\nGO\n'", 1, 1)]),
    ("string ending in escaped quote", "SELECT '''\nGO\n'''\nGO", [("SELECT '''\nGO\n'''", 1, 1)]),
    ("N string", "SELECT N'\nGO\n'\nGO", [("SELECT N'\nGO\n'", 1, 1)]),
    ("empty string is code", "SELECT ''\nGO\n''\nGO", [("SELECT ''", 1, 1), ("''", 3, 1)]),
    ("bracket", "SELECT [a\nGO\nb]\nGO", [("SELECT [a\nGO\nb]", 1, 1)]),
    ("bracket with ]] escape", "SELECT [a]]\nGO\n]\nGO", [("SELECT [a]]\nGO\n]", 1, 1)]),
    ("bracket with a quote inside", "SELECT [it's]\nGO\nb", [("SELECT [it's]", 1, 1), ("b", 3, 1)]),
    ("double quotes", 'SELECT "a\nGO\nb"\nGO', [('SELECT "a\nGO\nb"', 1, 1)]),
    ("double quotes with escape", 'SELECT "a""\nGO\n"\nGO', [('SELECT "a""\nGO\n"', 1, 1)]),
    ("string with -- and /*", "SELECT '--', '/*'\nGO\nb", [("SELECT '--', '/*'", 1, 1), ("b", 3, 1)]),
    ("block comment", "a /*\nGO\n*/\nGO\nb", [("a /*\nGO\n*/", 1, 1), ("b", 5, 1)]),
    ("nested block comment", "a /* /* */\nGO\n*/\nGO", [("a /* /* */\nGO\n*/", 1, 1)]),
    ("doubly nested", "a /*/*/**/*/\nGO\n*/\nGO", [("a /*/*/**/*/\nGO\n*/", 1, 1)]),
    ("quote inside comment", "a /* it's */\nGO\nb", [("a /* it's */", 1, 1), ("b", 3, 1)]),
    ("line comment hides a block opener", "a -- /*\nGO\nb", [("a -- /*", 1, 1), ("b", 3, 1)]),
    ("line comment hides a quote", "a -- it's\nGO\nb", [("a -- it's", 1, 1), ("b", 3, 1)]),
    ("GO inside a line comment", "a -- GO\nb", [("a -- GO\nb", 1, 1)]),
    # Words that contain or follow GO are plain SQL.
    ("GOTO", "GOTO done\nGO", [("GOTO done", 1, 1)]),
    ("go_live", "SELECT 1\ngo_live = 1\nGO", [("SELECT 1\ngo_live = 1", 1, 1)]),
    ("go.column", "SELECT\ngo.x FROM t AS go\nGO", [("SELECT\ngo.x FROM t AS go", 1, 1)]),
    ("CATEGORY", "SELECT CATEGORY\nGO", [("SELECT CATEGORY", 1, 1)]),
    ("[GO]", "SELECT\n[GO]\nGO", [("SELECT\n[GO]", 1, 1)]),
    ("GO at the end of a line", "SELECT 1 GO\nb", [("SELECT 1 GO\nb", 1, 1)]),
    ("GO after a comment on its line", "a\n/* x */ GO\nb", [("a\n/* x */ GO\nb", 1, 1)]),
    # Unterminated constructs run to the end: the database reports them.
    ("unterminated string", "a\nGO\nSELECT 'x\nGO\nb", [("a", 1, 1), ("SELECT 'x\nGO\nb", 3, 1)]),
    ("unterminated bracket", "a\nGO\nSELECT [x\nGO\n", [("a", 1, 1), ("SELECT [x\nGO\n", 3, 1)]),
    ("unterminated comment", "a\nGO\n/* x\nGO\nb", [("a", 1, 1), ("/* x\nGO\nb", 3, 1)]),
    ("unterminated comment alone is kept", "a\nGO\n/* x", [("a", 1, 1), ("/* x", 3, 1)]),
    ("unterminated nested comment", "a /* /* */\nGO", [("a /* /* */\nGO", 1, 1)]),
    ("stray comment closer", "a */\nGO\nb", [("a */", 1, 1), ("b", 3, 1)]),
]


@pytest.mark.parametrize(("script", "expected"), [c[1:] for c in SPLITS], ids=[c[0] for c in SPLITS])
def test_split(script: str, expected: list[tuple[str, int, int]]) -> None:
    assert split_batches(script) == [Batch(text, line, repeat) for text, line, repeat in expected]


ERRORS: list[tuple[str, str, int, str]] = [
    # (case id, script, line of the error, message fragment)
    ("GO;", "a\nGO;\nb", 2, "GO must be alone on its line"),
    ("GO ;", "a\nGO ;\nb", 2, "GO must be alone on its line"),
    ("go; lower case", "a\n  go;", 2, "GO must be alone on its line"),
    ("GO 3;", "a\n\n\nGO 3;\n", 4, "GO must be alone on its line"),
    ("GO with two words", "a\nGO 2 3\n", 2, "GO must be alone on its line"),
    ("GO with a block comment", "a\nGO /* x */\n", 2, "GO must be alone on its line"),
    ("GO glued to a block comment", "a\nGO/* x */\n", 2, "GO must be alone on its line"),
    ("GO on the first line", "GO;\na", 1, "GO must be alone on its line"),
    ("GO 0", "a\nGO 0\nb", 2, "GO count must be a positive integer"),
    ("GO -1", "a\nGO -1\nb", 2, "GO count must be a positive integer"),
    ("GO +2", "a\nGO +2\nb", 2, "GO count must be a positive integer"),
    ("GO x", "a\nGO x\nb", 2, "GO count must be a positive integer"),
    ("GO 1.5", "a\nGO 1.5\nb", 2, "GO count must be a positive integer"),
    ("GO 0 at the end", "a\r\nb\r\nGO 0", 3, "GO count must be a positive integer"),
    ("error after valid batches", "a\nGO\nb\nGO 2\nc\nGO x", 6, "GO count must be a positive integer"),
]


@pytest.mark.parametrize(("script", "line", "message"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_malformed_go_line(script: str, line: int, message: str) -> None:
    with pytest.raises(ScriptError, match=message) as raised:
        split_batches(script, source="deploy.sql")
    assert raised.value.line == line
    assert raised.value.source == "deploy.sql"
    assert str(raised.value).startswith(f"deploy.sql:{line}: ")


def test_error_names_the_default_source() -> None:
    with pytest.raises(ScriptError) as raised:
        split_batches("GO 0")
    assert str(raised.value).startswith("<script>:1: ")


# Property tests. Statements are assembled from fragments that each hide GO, `go` and newlines in a
# different lexical context; every batch starts with a keyword so that none is comment-only.


def _pieces(*pieces: str) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(pieces), max_size=12).map("".join)


_TRICKY = _pieces("GO", "go", "\n", "\nGO\n", " ", "x", ";", "'", '"', "]", "[", "--", "/*", "*/")
_COMMENT_TEXT = _pieces("GO", "go", "\nGO\n", "\n", " ", "'", '"', "[", "]", "x", "--")


def _block_comment(depth: int) -> st.SearchStrategy[str]:
    if depth == 0:
        return _COMMENT_TEXT.map(lambda s: f"/*{s}*/")
    return st.tuples(_COMMENT_TEXT, _block_comment(depth - 1), _COMMENT_TEXT).map(
        lambda parts: f"/*{parts[0]}{parts[1]}{parts[2]}*/"
    )


_FRAGMENT = st.one_of(
    st.sampled_from(["SELECT", "1", "GOTO", "go_live", "CATEGORY", "x = 1 GO", "t.go", ";", "(", ")"]),
    st.tuples(st.sampled_from(["", "N"]), _TRICKY).map(lambda p: p[0] + "'" + p[1].replace("'", "''") + "'"),
    _TRICKY.map(lambda s: "[" + s.replace("]", "]]") + "]"),
    _TRICKY.map(lambda s: '"' + s.replace('"', '""') + '"'),
    st.integers(0, 2).flatmap(_block_comment),
    _COMMENT_TEXT.map(lambda s: "--" + s.replace("\n", " ") + "\n"),
)

_STATEMENT = st.tuples(
    st.text(alphabet=" \n\t", max_size=3),  # leading blank lines must not shift start_line
    st.sampled_from(["SELECT", "PRINT", "CREATE", "go_live"]),
    st.lists(st.tuples(st.sampled_from([" ", "\n", "\t", "\n\n"]), _FRAGMENT), max_size=8),
    st.text(alphabet=" \t", max_size=2),
).map(lambda p: p[0] + p[1] + "".join(sep + frag for sep, frag in p[2]) + p[3])

_SEPARATOR = st.sampled_from(
    [("GO", 1), ("go", 1), ("  Go \t", 1), ("GO 2", 2), ("GO -- end of step", 1), ("go\t3 -- x", 3)]
)


def _line_offsets(text: str) -> list[int]:
    offsets = [0]
    offsets += [i + 1 for i, ch in enumerate(text) if ch == "\n"]
    return offsets


@given(st.lists(_STATEMENT, min_size=1, max_size=6))
def test_joined_batches_split_back(statements: list[str]) -> None:
    batches = split_batches("\nGO\n".join(statements))
    assert [b.text for b in batches] == statements
    assert all(b.repeat == 1 for b in batches)


@given(st.lists(st.tuples(_STATEMENT, _SEPARATOR), min_size=1, max_size=6), st.booleans())
def test_nothing_but_go_lines_is_lost(parts: list[tuple[str, tuple[str, int]]], crlf: bool) -> None:
    newline = "\r\n" if crlf else "\n"
    script = "".join(statement + newline + go + newline for statement, (go, _) in parts)
    batches = split_batches(script)

    def squeeze(s: str) -> str:
        return "".join(s.split())

    assert squeeze("".join(b.text for b in batches)) == squeeze("".join(s for s, _ in parts))
    assert [b.repeat for b in batches] == [count for _, (_, count) in parts]


@given(st.lists(st.tuples(_STATEMENT, _SEPARATOR), min_size=1, max_size=6), _STATEMENT)
def test_start_line_points_at_the_text(parts: list[tuple[str, tuple[str, int]]], last: str) -> None:
    script = "".join(statement + "\n" + go + "\n" for statement, (go, _) in parts) + last
    offsets = _line_offsets(script)
    batches = split_batches(script)
    assert len(batches) == len(parts) + 1
    for batch in batches:
        start = offsets[batch.start_line - 1]
        assert script[start : start + len(batch.text)] == batch.text


@given(_pieces("GO", "go", " ", "\n", "\r\n", "x", "'", '"', "[", "]", "/*", "*/", "--", "3", ";"))
def test_any_text_splits_or_reports_a_go_line(script: str) -> None:
    # Arbitrary input either splits into in-order, non-overlapping slices found at their start
    # lines, or is rejected as a malformed GO line; nothing else can go wrong.
    try:
        batches = split_batches(script)
    except ScriptError as error:
        assert error.line is not None
        return
    offsets = _line_offsets(script)
    previous_end = 0
    for batch in batches:
        start = offsets[batch.start_line - 1]
        assert start >= previous_end
        assert script[start : start + len(batch.text)] == batch.text
        assert batch.text.strip()
        previous_end = start + len(batch.text)
