"""Statement-level parser for the T-SQL subset: control flow here, single statements left to sqlglot.

sqlglot parses single T-SQL statements well but leaves most control flow (IF/ELSE, BEGIN TRY,
PRINT, THROW, EXEC of procedures) as opaque commands, and its tokenizer folds such commands into
one string token. So this module has its own small lexer (strings, bracketed identifiers, nested
block comments, variables) and cuts a batch into a tree of statements, each carrying the source text
and line that sqlglot and error messages need.

Grammar of the subset (see docs/embedded-runner.md):
    statement := block | if | try | declare | set | print | throw | raiserror | exec | return
               | begin-tran | commit | rollback | create-procedure | sql ';'
    block     := BEGIN statement* END
    if        := IF condition statement [ELSE statement]
    try       := BEGIN TRY statement* END TRY BEGIN CATCH statement* END CATCH
A plain SQL statement ends at ';', at END/ELSE that close an enclosing construct, or at the end
of the batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..errors import ScriptError, UnsupportedConstruct

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*)
  | (?P<string>N?'(?:[^']|'')*'?)
  | (?P<bracket>\[(?:[^\]]|\]\])*\]?)
  | (?P<quoted>"(?:[^"]|"")*"?)
  | (?P<variable>@@?[A-Za-z_0-9#$@]*)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_#][A-Za-z_0-9#$]*)
  | (?P<op><>|!=|<=|>=|\+=|-=|\*=|/=|::|[-+*/%=<>(),.;:~&|^!?{}])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class Token:
    kind: str  # string | bracket | quoted | variable | number | word | op | other
    text: str
    start: int  # offset in the batch text
    end: int  # offset one past the token
    line: int  # 1-based line within the batch text

    @property
    def upper(self) -> str:
        return self.text.upper() if self.kind == "word" else self.text


def tokenize(text: str) -> list[Token]:
    """Lex a batch; comments and whitespace are dropped, positions and lines kept."""
    tokens: list[Token] = []
    pos = 0
    line = 1
    n = len(text)
    while pos < n:
        m = _TOKEN.match(text, pos)
        assert m is not None  # the `other` alternative matches any character
        kind = m.lastgroup or "other"
        end = m.end()
        if kind == "block_comment":
            end = _block_comment_end(text, pos)
        elif kind not in ("ws", "line_comment"):
            tokens.append(Token(kind, text[pos:end], pos, end, line))
        line += text.count("\n", pos, end)
        pos = end
    return tokens


def _block_comment_end(text: str, pos: int) -> int:
    depth = 0
    i = pos
    while i < len(text):
        if text.startswith("/*", i):
            depth += 1
            i += 2
        elif text.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return len(text)


# ---------------------------------------------------------------------------------------------
# The statement tree


@dataclass
class Statement:
    line: int  # 1-based line within the batch
    text: str  # the statement's source text


@dataclass
class Sql(Statement):
    """A single SQL statement for sqlglot: SELECT, INSERT, UPDATE, DELETE, CREATE/ALTER/DROP, SET option."""


@dataclass
class Block(Statement):
    body: list[Statement] = field(default_factory=list)


@dataclass
class If(Statement):
    condition: str = ""
    then: Statement | None = None
    otherwise: Statement | None = None


@dataclass
class While(Statement):
    condition: str = ""
    body: Statement | None = None


@dataclass
class TryCatch(Statement):
    body: list[Statement] = field(default_factory=list)
    handler: list[Statement] = field(default_factory=list)


@dataclass
class Declare(Statement):
    items: list[tuple[str, str, str | None]] = field(default_factory=list)  # (name, type, expr)


@dataclass
class SetVariable(Statement):
    name: str = ""
    operator: str = "="
    expression: str = ""


@dataclass
class Print(Statement):
    expression: str = ""


@dataclass
class Throw(Statement):
    arguments: list[str] = field(default_factory=list)  # empty: re-throw inside CATCH


@dataclass
class Raiserror(Statement):
    arguments: list[str] = field(default_factory=list)


@dataclass
class Exec(Statement):
    procedure: str = ""
    arguments: list[tuple[str | None, str, bool]] = field(default_factory=list)  # (param, expr, output)
    result_variable: str | None = None


@dataclass
class ExecDynamic(Statement):
    expression: str = ""


@dataclass
class Return(Statement):
    expression: str | None = None


@dataclass
class Transaction(Statement):
    action: str = "BEGIN"  # BEGIN | COMMIT | ROLLBACK


@dataclass
class ProcedureParameter:
    name: str
    type: str
    default: str | None = None
    output: bool = False


@dataclass
class CreateProcedure(Statement):
    name: str = ""
    mode: str = "CREATE"  # CREATE | ALTER | CREATE OR ALTER
    parameters: list[ProcedureParameter] = field(default_factory=list)
    body: list[Statement] = field(default_factory=list)
    body_text: str = ""


@dataclass
class Skipped(Statement):
    """A statement outside the subset, left out while collecting problems (see `parse_batch`)."""


@dataclass
class ParsedBatch:
    statements: list[Statement]
    text: str


# Words that start a statement: a plain SQL statement without ';' stops before one of these
# when it appears at parenthesis depth 0 (T-SQL allows omitting ';' between such statements).
_CONTROL_STARTERS = {"BEGIN", "IF", "WHILE", "PRINT", "THROW", "RAISERROR", "DECLARE", "RETURN"}
_SQL_STARTERS = {
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "WITH", "TRUNCATE", "SET",
}
_DROPPABLE = {"TABLE", "VIEW", "PROCEDURE", "PROC", "INDEX", "COLUMN", "CONSTRAINT", "FUNCTION", "TRIGGER",
              "SCHEMA", "TYPE", "SEQUENCE", "SYNONYM"}
_UNSUPPORTED = {
    "MERGE": "MERGE",
    "GOTO": "GOTO",
    "WAITFOR": "WAITFOR",
    "DECLARE CURSOR": "cursors",
    "OPEN": "cursors",
    "FETCH": "cursors",
    "CLOSE": "cursors",
    "DEALLOCATE": "cursors",
    "USE": "USE (switching databases)",
    "BULK": "BULK INSERT",
    "SAVE": "SAVE TRANSACTION",
    "GRANT": "GRANT",
    "REVOKE": "REVOKE",
    "DENY": "DENY",
    "BREAK": "BREAK",
    "CONTINUE": "CONTINUE",
}


class _Parser:
    def __init__(self, text: str, source: str, line_offset: int,
                 collect: list[UnsupportedConstruct] | None = None) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.source = source
        self.line_offset = line_offset
        self.collect = collect

    # -- helpers ---------------------------------------------------------------------------------
    def peek(self, ahead: int = 0) -> Token | None:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else None

    def peek_upper(self, ahead: int = 0) -> str:
        tok = self.peek(ahead)
        return tok.upper if tok else ""

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, word: str) -> Token:
        tok = self.peek()
        if tok is None or tok.upper != word:
            found = tok.text if tok else "end of batch"
            raise self.error(f"expected {word} but found {found!r}", tok)
        return self.take()

    def line_of(self, tok: Token | None) -> int:
        if tok is None:
            return self.tokens[-1].line if self.tokens else 1
        return tok.line

    def error(self, message: str, tok: Token | None) -> ScriptError:
        return ScriptError(
            f"syntax error: {message}", source=self.source, line=self.line_of(tok) + self.line_offset
        )

    def unsupported(self, construct: str, tok: Token | None) -> UnsupportedConstruct:
        return UnsupportedConstruct(construct, source=self.source, line=self.line_of(tok) + self.line_offset)

    def slice(self, first: int, last_exclusive: int) -> str:
        if first >= last_exclusive:
            return ""
        return self.text[self.tokens[first].start : self.tokens[last_exclusive - 1].end]

    # -- statements ------------------------------------------------------------------------------
    def parse_batch(self) -> list[Statement]:
        statements: list[Statement] = []
        while self.peek() is not None:
            if self.peek_upper() == ";":
                self.take()
                continue
            statements.append(self.statement())
        return statements

    def statement(self) -> Statement:
        while self.peek_upper() == ";":
            self.take()
        start = self.pos
        try:
            return self.one_statement()
        except UnsupportedConstruct as problem:
            if self.collect is None:
                raise
            # note it and carry on after the statement, so one check reports every problem
            self.collect.append(problem)
            self.pos = start
            end = max(self.statement_end(), start + 1)
            self.pos = end
            return Skipped(self.tokens[start].line, self.slice(start, end))

    def one_statement(self) -> Statement:
        tok = self.peek()
        if tok is None:
            raise self.error("a statement was expected", tok)
        word = tok.upper
        if word == "DECLARE" and self.peek_upper(2) in ("CURSOR", "INSENSITIVE", "SCROLL"):
            raise self.unsupported("cursors", tok)
        if word == "BEGIN":
            nxt = self.peek_upper(1)
            if nxt == "TRY":
                return self.try_catch()
            if nxt in ("TRAN", "TRANSACTION"):
                return self.transaction("BEGIN")
            if nxt in ("DISTRIBUTED", "ATOMIC", "DIALOG", "CONVERSATION"):
                raise self.unsupported(f"BEGIN {nxt}", tok)
            return self.block()
        if word == "IF":
            return self.if_statement()
        if word == "WHILE":
            return self.while_statement()
        if word == "DECLARE":
            return self.declare()
        if word == "SET" and self.peek(1) is not None and self.peek(1).kind == "variable":  # type: ignore[union-attr]
            return self.set_variable()
        if word == "PRINT":
            first = self.take()
            return Print(first.line, "", self.expression_until_end())
        if word == "THROW":
            return self.throw()
        if word == "RAISERROR":
            return self.raiserror()
        if word in ("EXEC", "EXECUTE"):
            return self.exec()
        if word == "RETURN":
            first = self.take()
            expr = self.expression_until_end() if self.at_expression_start() else None
            return Return(first.line, "RETURN", expr or None)
        if word in ("COMMIT", "ROLLBACK"):
            return self.transaction(word)
        if word == "CREATE" or word == "ALTER":
            kind_at = 1
            if self.peek_upper(1) == "OR" and self.peek_upper(2) == "ALTER":
                kind_at = 3
            if self.peek_upper(kind_at) in ("PROCEDURE", "PROC"):
                return self.create_procedure(kind_at)
            if self.peek_upper(kind_at) in ("TRIGGER", "FUNCTION", "TYPE", "SCHEMA", "SEQUENCE",
                                            "SYNONYM", "DATABASE", "LOGIN", "USER", "ROLE"):
                raise self.unsupported(f"{word} {self.peek_upper(kind_at)}", tok)
        if word in _UNSUPPORTED:
            raise self.unsupported(_UNSUPPORTED[word], tok)
        if word in _SQL_STARTERS or word == "(":
            return self.sql_statement()
        if word in ("END", "ELSE"):
            raise self.error(f"unexpected {word}", tok)
        raise self.unsupported(f"statement starting with {tok.text!r}", tok)

    def block(self) -> Block:
        first = self.expect("BEGIN")
        body: list[Statement] = []
        while True:
            while self.peek_upper() == ";":
                self.take()
            tok = self.peek()
            if tok is None:
                raise self.error("BEGIN without END", first)
            if tok.upper == "END":
                self.take()
                break
            body.append(self.statement())
        return Block(first.line, "BEGIN ... END", body)

    def try_catch(self) -> TryCatch:
        first = self.expect("BEGIN")
        self.expect("TRY")
        body = self.statements_until("END", "TRY", first)
        self.expect("BEGIN")
        self.expect("CATCH")
        handler = self.statements_until("END", "CATCH", first)
        return TryCatch(first.line, "BEGIN TRY", body, handler)

    def statements_until(self, end: str, what: str, opener: Token) -> list[Statement]:
        body: list[Statement] = []
        while True:
            while self.peek_upper() == ";":
                self.take()
            if self.peek() is None:
                raise self.error(f"BEGIN {what} without END {what}", opener)
            if self.peek_upper() == end and self.peek_upper(1) == what:
                self.take()
                self.take()
                return body
            body.append(self.statement())

    def top_level(self) -> Iterator[tuple[int, str, int, int]]:
        """(index, word, parenthesis depth, CASE depth) of each token from self.pos on; the depths are
        those in force before the token, so a statement's boundaries are found outside (...) and CASE."""
        depth = case = 0
        for i in range(self.pos, len(self.tokens)):
            up = self.tokens[i].upper
            yield i, up, depth, case
            if up == "(":
                depth += 1
            elif up == ")":
                depth -= 1
            elif depth == 0 and up == "CASE":
                case += 1
            elif depth == 0 and up == "END" and case:
                case -= 1

    def condition_end(self) -> int:
        """Index of the first token after an IF/WHILE condition."""
        for i, up, depth, case in self.top_level():
            if depth == 0 and case == 0 and i > self.pos and (
                up in _CONTROL_STARTERS or up in _SQL_STARTERS or up in _UNSUPPORTED
                or up in ("EXEC", "EXECUTE", "COMMIT", "ROLLBACK", "THROW")
            ):
                return i
        return len(self.tokens)

    def if_statement(self) -> If:
        first = self.take()
        end = self.condition_end()
        if end >= len(self.tokens):
            raise self.error("IF condition is not followed by a statement", first)
        condition = self.slice(self.pos, end)
        if not condition:
            raise self.error("IF without a condition", first)
        self.pos = end
        then = self.statement()
        otherwise = None
        while self.peek_upper() == ";":
            self.take()
        if self.peek_upper() == "ELSE":
            self.take()
            otherwise = self.statement()
        return If(first.line, "IF", condition, then, otherwise)

    def while_statement(self) -> While:
        first = self.take()
        end = self.condition_end()
        condition = self.slice(self.pos, end)
        if not condition or end >= len(self.tokens):
            raise self.error("WHILE needs a condition and a statement", first)
        self.pos = end
        return While(first.line, "WHILE", condition, self.statement())

    def statement_end(self, stop_at_starters: bool = True) -> int:
        """Index one past the last token of the statement beginning at self.pos."""
        for i, up, depth, case in self.top_level():
            if depth != 0 or up in ("(", ")", "CASE"):
                continue
            if up == ";" or (up == "END" and not case):
                return i
            if case == 0 and i > self.pos:
                if up == "ELSE":
                    return i
                if stop_at_starters and up in _CONTROL_STARTERS and not self.is_drop_if_exists(i):
                    return i
        return len(self.tokens)

    def is_drop_if_exists(self, i: int) -> bool:
        """`DROP TABLE IF EXISTS x`: this IF belongs to the statement, it does not start one."""
        return (
            self.tokens[i].upper == "IF"
            and i + 1 < len(self.tokens)
            and self.tokens[i + 1].upper == "EXISTS"
            and self.tokens[i - 1].upper in _DROPPABLE
        )

    def expression_until_end(self) -> str:
        end = self.statement_end()
        text = self.slice(self.pos, end)
        self.pos = end
        return text

    def at_expression_start(self) -> bool:
        tok = self.peek()
        return tok is not None and tok.upper not in (";", "END", "ELSE") and tok.upper not in _CONTROL_STARTERS

    def sql_statement(self) -> Sql:
        first_index = self.pos
        end = self.statement_end()
        text = self.slice(first_index, end)
        self.pos = end
        return Sql(self.tokens[first_index].line, text)

    def declare(self) -> Declare:
        first = self.take()
        end = self.statement_end()
        items: list[tuple[str, str, str | None]] = []
        for part in self.split_top_level(self.pos, end, ","):
            if not part:
                raise self.error("empty DECLARE item", first)
            name_tok = self.tokens[part[0]]
            if name_tok.kind != "variable":
                raise self.error(f"DECLARE expects a @variable, found {name_tok.text!r}", name_tok)
            rest = part[1:]
            if rest and self.tokens[rest[0]].upper == "AS":
                rest = rest[1:]
            if rest and self.tokens[rest[0]].upper == "TABLE":
                raise self.unsupported("table variables", name_tok)
            if rest and self.tokens[rest[0]].upper == "CURSOR":
                raise self.unsupported("cursors", name_tok)
            eq = next((j for j, idx in enumerate(rest) if self.tokens[idx].text == "="), None)
            type_idx = rest if eq is None else rest[:eq]
            if not type_idx:
                raise self.error(f"DECLARE {name_tok.text} needs a type", name_tok)
            type_text = self.slice(type_idx[0], type_idx[-1] + 1)
            expr = None
            if eq is not None:
                expr_idx = rest[eq + 1 :]
                if not expr_idx:
                    raise self.error(f"DECLARE {name_tok.text} = needs a value", name_tok)
                expr = self.slice(expr_idx[0], expr_idx[-1] + 1)
            items.append((name_tok.text, type_text, expr))
        self.pos = end
        return Declare(first.line, "DECLARE", items)

    def split_top_level(self, start: int, end: int, sep: str) -> list[list[int]]:
        parts: list[list[int]] = [[]]
        depth = 0
        for i in range(start, end):
            up = self.tokens[i].upper
            if up == "(":
                depth += 1
            elif up == ")":
                depth -= 1
            if depth == 0 and up == sep:
                parts.append([])
            else:
                parts[-1].append(i)
        return parts if parts != [[]] else []

    def set_variable(self) -> SetVariable:
        first = self.take()
        name = self.take()
        op = self.peek()
        if op is None or op.text not in ("=", "+=", "-=", "*=", "/="):
            raise self.error(f"SET {name.text} expects '='", op)
        self.take()
        expr = self.expression_until_end()
        if not expr:
            raise self.error(f"SET {name.text} = needs a value", first)
        return SetVariable(first.line, "SET", name.text, op.text, expr)

    def arguments(self, end: int) -> list[str]:
        return [self.slice(p[0], p[-1] + 1) for p in self.split_top_level(self.pos, end, ",") if p]

    def throw(self) -> Throw:
        first = self.take()
        end = self.statement_end()
        args = self.arguments(end)
        self.pos = end
        if args and len(args) != 3:
            raise self.error("THROW takes three arguments: number, message, state", first)
        return Throw(first.line, "THROW", args)

    def raiserror(self) -> Raiserror:
        first = self.take()
        if self.peek_upper() != "(":
            raise self.error("RAISERROR needs parentheses: RAISERROR(message, severity, state)", first)
        end = self.statement_end()
        close = self.matching_paren(self.pos)
        inner_start = self.pos + 1
        saved = self.pos
        self.pos = inner_start
        args = self.arguments(close)
        self.pos = saved
        trailing = self.slice(close + 1, end).upper().split()
        if trailing and trailing[0] != "WITH":
            raise self.error("unexpected text after RAISERROR(...)", self.tokens[close + 1])
        self.pos = end
        if len(args) < 3:
            raise self.error("RAISERROR takes at least message, severity, state", first)
        return Raiserror(first.line, "RAISERROR", args)

    def matching_paren(self, open_index: int) -> int:
        depth = 0
        for i in range(open_index, len(self.tokens)):
            up = self.tokens[i].upper
            if up == "(":
                depth += 1
            elif up == ")":
                depth -= 1
                if depth == 0:
                    return i
        raise self.error("unbalanced parentheses", self.tokens[open_index])

    def exec(self) -> Statement:
        first = self.take()
        if self.peek_upper() == "(":
            close = self.matching_paren(self.pos)
            expr = self.slice(self.pos + 1, close)
            self.pos = close + 1
            return ExecDynamic(first.line, "EXEC(...)", expr)
        result_variable = None
        if self.peek() is not None and self.peek().kind == "variable" and self.peek_upper(1) == "=":  # type: ignore[union-attr]
            result_variable = self.take().text
            self.take()
        end = self.statement_end()
        # the procedure name: identifier parts joined by dots
        name_parts: list[str] = []
        while self.pos < end:
            tok = self.tokens[self.pos]
            if tok.kind in ("word", "bracket", "quoted"):
                name_parts.append(tok.text)
                self.pos += 1
                if self.pos < end and self.tokens[self.pos].text == ".":
                    self.pos += 1
                    continue
            break
        if not name_parts:
            raise self.error("EXEC needs a procedure name", first)
        args: list[tuple[str | None, str, bool]] = []
        for part in self.split_top_level(self.pos, end, ","):
            if not part:
                raise self.error("empty EXEC argument", first)
            param = None
            if len(part) > 2 and self.tokens[part[0]].kind == "variable" and self.tokens[part[1]].text == "=":
                param = self.tokens[part[0]].text
                part = part[2:]
            output = False
            if self.tokens[part[-1]].upper in ("OUTPUT", "OUT"):
                output = True
                part = part[:-1]
            args.append((param, self.slice(part[0], part[-1] + 1), output))
        self.pos = end
        return Exec(first.line, "EXEC", ".".join(name_parts), args, result_variable)

    def transaction(self, action: str) -> Transaction:
        first = self.take()
        if self.peek_upper() in ("TRAN", "TRANSACTION", "WORK"):
            self.take()
            # an optional transaction name
            tok = self.peek()
            if tok is not None and tok.kind in ("word", "variable") and tok.upper not in (
                _CONTROL_STARTERS | _SQL_STARTERS | {"END", "ELSE", "COMMIT", "ROLLBACK", "EXEC", "EXECUTE"}
            ):
                self.take()
        elif action == "BEGIN":
            raise self.error("BEGIN TRAN expected", first)
        return Transaction(first.line, f"{action} TRANSACTION", action)

    def create_procedure(self, kind_at: int) -> CreateProcedure:
        first = self.peek()
        assert first is not None
        start_index = self.pos
        mode = "CREATE OR ALTER" if kind_at == 3 else first.upper
        self.pos += kind_at + 1
        name_parts: list[str] = []
        while self.peek() is not None and self.peek().kind in ("word", "bracket", "quoted"):  # type: ignore[union-attr]
            name_parts.append(self.take().text)
            if self.peek_upper() == ".":
                self.take()
                continue
            break
        if not name_parts:
            raise self.error("CREATE PROCEDURE needs a name", first)
        # parameters up to AS (optionally in parentheses), then WITH options
        as_index = None
        depth = 0
        for i in range(self.pos, len(self.tokens)):
            up = self.tokens[i].upper
            if up == "(":
                depth += 1
            elif up == ")":
                depth -= 1
            elif depth == 0 and up == "AS":
                as_index = i
                break
        if as_index is None:
            raise self.error("CREATE PROCEDURE needs AS before its body", first)
        head_start = self.pos
        head_end = as_index
        with_at = next(
            (i for i in range(head_start, head_end) if self.tokens[i].upper == "WITH"), None
        )
        if with_at is not None:
            options = self.slice(with_at + 1, head_end).upper().replace(" ", "")
            if options not in ("RECOMPILE", "EXECUTEASCALLER"):
                raise self.unsupported(f"procedure option WITH {options}", self.tokens[with_at])
            head_end = with_at
        if head_start < head_end and self.tokens[head_start].text == "(":
            head_start += 1
            head_end -= 1
        parameters: list[ProcedureParameter] = []
        for part in self.split_top_level(head_start, head_end, ","):
            if not part:
                continue
            name_tok = self.tokens[part[0]]
            if name_tok.kind != "variable":
                raise self.error(f"procedure parameter expected, found {name_tok.text!r}", name_tok)
            rest = part[1:]
            if rest and self.tokens[rest[0]].upper == "AS":
                rest = rest[1:]
            output = False
            while rest and self.tokens[rest[-1]].upper in ("OUTPUT", "OUT", "READONLY"):
                if self.tokens[rest[-1]].upper == "READONLY":
                    raise self.unsupported("table-valued parameters", name_tok)
                output = True
                rest = rest[:-1]
            eq = next((j for j, idx in enumerate(rest) if self.tokens[idx].text == "="), None)
            type_idx = rest if eq is None else rest[:eq]
            if not type_idx:
                raise self.error(f"parameter {name_tok.text} needs a type", name_tok)
            default = None
            if eq is not None:
                d_idx = rest[eq + 1 :]
                default = self.slice(d_idx[0], d_idx[-1] + 1) if d_idx else None
            parameters.append(
                ProcedureParameter(name_tok.text, self.slice(type_idx[0], type_idx[-1] + 1), default, output)
            )
        self.pos = as_index + 1
        body_start = self.pos
        body: list[Statement] = []
        while self.peek() is not None:
            if self.peek_upper() == ";":
                self.take()
                continue
            body.append(self.statement())
        body_text = self.text[self.tokens[body_start].start :] if body_start < len(self.tokens) else ""
        full = self.text[self.tokens[start_index].start :]
        return CreateProcedure(
            first.line, full, ".".join(name_parts), mode, parameters, body, body_text
        )


def parse_batch(text: str, *, source: str = "<script>", line_offset: int = 0,
                collect: list[UnsupportedConstruct] | None = None) -> ParsedBatch:
    """Parse one GO batch. `line_offset` is added to line numbers in errors (batch start line - 1).

    Outside the subset, parsing stops with UnsupportedConstruct; with a `collect` list, each such
    statement is appended to it instead and stands in the tree as a `Skipped` statement.
    """
    parser = _Parser(text, source, line_offset, collect)
    statements = parser.parse_batch()
    for index, statement in enumerate(statements):
        if index > 0 and _must_be_first(statement):
            raise ScriptError(
                f"syntax error: {_first_kind(statement)} must be the only statement in its batch "
                "(put GO before it)",
                source=source,
                line=statement.line + line_offset,
            )
    return ParsedBatch(statements, text)


_FIRST_ONLY = re.compile(r"^\s*(CREATE|ALTER)\s+(OR\s+ALTER\s+)?(VIEW|PROC|PROCEDURE)\b", re.IGNORECASE)


def _must_be_first(statement: Statement) -> bool:
    return isinstance(statement, CreateProcedure) or (
        isinstance(statement, Sql) and bool(_FIRST_ONLY.match(statement.text))
    )


def _first_kind(statement: Statement) -> str:
    m = _FIRST_ONLY.match(statement.text)
    return f"CREATE {m.group(3).upper()}" if m else "CREATE PROCEDURE"


def unquote(identifier: str) -> str:
    """`[a b]` -> `a b`; `"x"` -> `x`; `name` -> `name`."""
    if identifier.startswith("[") and identifier.endswith("]"):
        return identifier[1:-1].replace("]]", "]")
    if identifier.startswith('"') and identifier.endswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier
