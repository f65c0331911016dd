"""Statement-level parser for the T-SQL subset: control flow here, single statements left to sqlglot.

sqlglot parses single T-SQL statements well but leaves most control flow (IF/ELSE, BEGIN TRY,
PRINT, THROW, EXEC of procedures) as opaque commands, and its tokenizer folds such commands into
one string token. So this module has its own small lexer (strings, bracketed identifiers, nested
block comments, variables) and cuts a batch into a tree of statements, each carrying the source text
and line that sqlglot and error messages need.

Grammar of the subset (see docs/embedded-runner.md):
    statement := block | if | while | try | declare | set | print | throw | raiserror | exec | return
               | begin-tran | commit | rollback | create-procedure | sql [';']
    block     := BEGIN statement* END
    if        := IF condition statement [ELSE statement]
    try       := BEGIN TRY statement* END TRY BEGIN CATCH statement* END CATCH

Statement boundaries are found as SQL Server's parser finds them, without semicolons: a statement
ends at ';', at an END or ELSE that closes the construct around it, at the end of the batch, or
where a reserved word that begins a statement (SELECT, INSERT, SET, PRINT, IF, ...) appears at its
top level (outside parentheses and CASE ... END) and the statement's own grammar does not take that
word: `INSERT ... SELECT`, `... UNION SELECT`, `UPDATE ... SET`, `CREATE VIEW ... AS SELECT`,
`ALTER TABLE ... DROP COLUMN`, `DROP TABLE IF EXISTS` and the like (`_Extent`). One scan of the
top-level tokens (`_Parser.top_level`) serves statements and IF/WHILE conditions alike.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
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


def tokenize(text: str, unclosed: list[int] | None = None) -> list[Token]:
    """Lex a batch; comments and whitespace are dropped, positions and lines kept. A `/*` comment
    without its `*/` runs to the end of the text; its line is appended to `unclosed` when given."""
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
            if end < 0:
                end = len(text)
                if unclosed is not None:
                    unclosed.append(line)
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
    return -1  # no closing */


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
class DeclareTable(Statement):
    """DECLARE @t TABLE (column definitions): a table variable, alive until its batch (or procedure) ends."""

    name: str = ""
    definition: str = ""  # the parenthesised column list, as written


@dataclass
class Use(Statement):
    """USE database: accepted for the target's own database, refused by name for another."""

    database: str = ""


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
    options: list[str] = field(default_factory=list)  # WITH LOG | NOWAIT | SETERROR, upper case


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


# ---------------------------------------------------------------------------------------------
# Vocabulary and limits

#: T-SQL's reserved keywords (SQL Server documentation, "Reserved Keywords"). None of them can be a
#: name without brackets, so none is read as an alias, a transaction name or a procedure name.
RESERVED = frozenset("""
    ADD ALL ALTER AND ANY AS ASC AUTHORIZATION BACKUP BEGIN BETWEEN BREAK BROWSE BULK BY CASCADE CASE
    CHECK CHECKPOINT CLOSE CLUSTERED COALESCE COLLATE COLUMN COMMIT COMPUTE CONSTRAINT CONTAINS
    CONTAINSTABLE CONTINUE CONVERT CREATE CROSS CURRENT CURRENT_DATE CURRENT_TIME CURRENT_TIMESTAMP
    CURRENT_USER CURSOR DATABASE DBCC DEALLOCATE DECLARE DEFAULT DELETE DENY DESC DISK DISTINCT
    DISTRIBUTED DOUBLE DROP DUMP ELSE END ERRLVL ESCAPE EXCEPT EXEC EXECUTE EXISTS EXIT EXTERNAL FETCH
    FILE FILLFACTOR FOR FOREIGN FREETEXT FREETEXTTABLE FROM FULL FUNCTION GOTO GRANT GROUP HAVING
    HOLDLOCK IDENTITY IDENTITY_INSERT IDENTITYCOL IF IN INDEX INNER INSERT INTERSECT INTO IS JOIN KEY
    KILL LEFT LIKE LINENO LOAD MERGE NATIONAL NOCHECK NONCLUSTERED NOT NULL NULLIF OF OFF OFFSETS ON
    OPEN OPENDATASOURCE OPENQUERY OPENROWSET OPENXML OPTION OR ORDER OUTER OVER PERCENT PIVOT PLAN
    PRIMARY PRINT PROC PROCEDURE PUBLIC RAISERROR READ READTEXT RECONFIGURE REFERENCES REPLICATION
    RESTORE RESTRICT RETURN REVERT REVOKE RIGHT ROLLBACK ROWCOUNT ROWGUIDCOL RULE SAVE SCHEMA
    SECURITYAUDIT SELECT SEMANTICKEYPHRASETABLE SEMANTICSIMILARITYDETAILSTABLE SEMANTICSIMILARITYTABLE
    SESSION_USER SET SETUSER SHUTDOWN SOME STATISTICS SYSTEM_USER TABLE TABLESAMPLE TEXTSIZE THEN TO
    TOP TRAN TRANSACTION TRIGGER TRUNCATE TRY_CONVERT TSEQUAL UNION UNIQUE UNPIVOT UPDATE UPDATETEXT
    USE USER VALUES VARYING VIEW WAITFOR WHEN WHERE WHILE WITH WRITETEXT
""".split())

#: Words that begin a statement. Where one stands at the top level of a statement, that statement has
#: ended, unless its own grammar takes the word (`_Extent`). All are reserved but THROW, which SQL
#: Server reads as a name where a name may stand: hence its rule that the statement before a THROW
#: ends with ';' (see `_Parser.one_statement`). WITH is not among them: inside a statement it is
#: always a clause (`WITH (NOLOCK)`, `WITH CHECK OPTION`, ...), and a CTE must follow a ';'.
STATEMENT_STARTERS = frozenset({
    "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "SET",
    "DECLARE", "PRINT", "IF", "WHILE", "BEGIN", "RETURN", "RAISERROR", "THROW", "EXEC", "EXECUTE",
    "COMMIT", "ROLLBACK", "SAVE", "GOTO", "WAITFOR", "BREAK", "CONTINUE", "USE", "OPEN", "CLOSE", "FETCH",
    "DEALLOCATE", "BULK", "GRANT", "REVOKE", "DENY", "BACKUP", "RESTORE", "DBCC", "KILL", "CHECKPOINT",
    "RECONFIGURE", "SHUTDOWN", "READTEXT", "WRITETEXT", "UPDATETEXT", "REVERT", "SETUSER",
})
#: the words that begin a statement the subset hands to sqlglot
_SQL_STARTERS = {"SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "WITH", "TRUNCATE", "SET"}
#: what may follow DROP inside ALTER TABLE and still be part of it (anything but these object kinds,
#: which begin a DROP statement of their own: `ALTER TABLE t DROP [CONSTRAINT] c` vs `DROP TABLE t`)
_DROP_OBJECTS = {"TABLE", "VIEW", "PROCEDURE", "PROC", "INDEX", "FUNCTION", "TRIGGER", "SCHEMA", "TYPE",
                 "SEQUENCE", "SYNONYM", "DATABASE", "USER", "ROLE", "LOGIN", "STATISTICS", "DEFAULT", "RULE",
                 "ASSEMBLY", "SIGNATURE", "XML", "FULLTEXT", "CERTIFICATE", "QUEUE", "SERVICE", "EVENT"}
#: a DROP ... IF EXISTS: the IF after one of these words belongs to the statement
_DROPPABLE = {"TABLE", "VIEW", "PROCEDURE", "PROC", "INDEX", "COLUMN", "CONSTRAINT", "FUNCTION", "TRIGGER",
              "SCHEMA", "TYPE", "SEQUENCE", "SYNONYM"}
#: CREATE/ALTER of these takes the rest of the batch (SQL Server: "must be the first statement")
_MODULES = {"PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "SCHEMA", "DEFAULT", "RULE"}
#: the words that may follow a value in an expression (@a IS NULL, @d AT TIME ZONE 'UTC', CASE ...
#: THEN 1 END, STRING_AGG(...) WITHIN GROUP (...), ROW_NUMBER() OVER (...))
_AFTER_VALUE = {"AND", "OR", "NOT", "IS", "IN", "LIKE", "BETWEEN", "ESCAPE", "COLLATE", "WHEN", "THEN", "ELSE", "END",
                "OVER", "AT", "WITHIN"}
#: a statement cannot end with these: SQL Server's syntax error names the word (`SELECT * FROM` at the
#: end of a batch, `SET @a = 1 +`). Not ON, which ends `SET NOCOUNT ON` and `ALTER DATABASE ... SET x ON`.
_DANGLING = frozenset({
    "+", "-", "/", "%", "=", "<", ">", "<=", ">=", "<>", "!=", ",", ".", "(", "&", "|", "^", "~",
    "AND", "OR", "NOT", "IN", "IS", "LIKE", "BETWEEN", "FROM", "WHERE", "SELECT", "SET", "JOIN", "BY",
    "VALUES", "INTO", "TABLE", "HAVING", "AS", "UNION", "EXCEPT", "INTERSECT", "ALL", "DISTINCT", "TOP",
    "CASE", "WHEN", "THEN", "COLLATE", "EXISTS", "ORDER", "GROUP", "INNER", "OUTER", "LEFT", "RIGHT", "FULL",
    "CROSS", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "DECLARE", "PRINT", "EXEC", "EXECUTE",
})
#: (last word, the word before it) that do end a statement: INSERT ... DEFAULT VALUES, ENABLE TRIGGER ALL
_ENDINGS = frozenset({("VALUES", "DEFAULT"), ("ALL", "TRIGGER")})
#: the words of multi-word type names (DOUBLE PRECISION, NATIONAL CHARACTER VARYING)
_TYPE_WORDS = {"PRECISION", "VARYING", "CHAR", "CHARACTER"}
_UNSUPPORTED = {
    "MERGE": "MERGE",
    "GOTO": "GOTO",
    "WAITFOR": "WAITFOR",
    "DECLARE CURSOR": "cursors",
    "OPEN": "cursors",
    "FETCH": "cursors",
    "CLOSE": "cursors",
    "DEALLOCATE": "cursors",
    "BULK": "BULK INSERT",
    "SAVE": "SAVE TRANSACTION",
    "GRANT": "GRANT",
    "REVOKE": "REVOKE",
    "DENY": "DENY",
    "BREAK": "BREAK",
    "CONTINUE": "CONTINUE",
}
#: other T-SQL statements outside the subset, refused as `statement starting with 'X'`
_OTHER_STATEMENTS = {"BACKUP", "RESTORE", "DBCC", "KILL", "CHECKPOINT", "RECONFIGURE", "SHUTDOWN", "READTEXT",
                     "WRITETEXT", "UPDATETEXT", "REVERT", "SETUSER", "LINENO", "ENABLE", "DISABLE"}

#: Deepest nesting of statements in one another (IF, WHILE, BEGIN ... END, TRY ... CATCH; a procedure
#: body counts one): far beyond real scripts, which rarely nest ten deep.
MAX_NESTED_STATEMENTS = 500
#: Deepest nesting of parentheses in one statement. SQLite's own parser stops at about 100, and the
#: translation adds a few levels; SQL Server allows 32 nested subqueries.
MAX_NESTED_PARENTHESES = 64
#: SQL Server's own limit on nested CASE expressions (error 125).
MAX_NESTED_CASE = 10
#: Python frames the deepest input within those limits may need: the parser, the engine, the subset
#: check and the effects reader recurse a few frames per nested statement, sqlglot some twenty per
#: parenthesis. Python's default of 1,000 would be reached long before the limits; since Python 3.11
#: Python-to-Python calls do not grow the C stack, so a higher limit is safe.
RECURSION_ROOM = 20_000

_CTE_AFTER_UNTERMINATED = (
    "Incorrect syntax near the keyword 'with'. If this statement is a common table expression, an "
    "xmlnamespaces clause or a change tracking context clause, the previous statement must be terminated "
    "with a semicolon."
)


class LimitExceeded(UnsupportedConstruct):
    """Input nested beyond a documented limit of the sandbox: refused at once, never collected."""


def make_recursion_room() -> None:
    """Raise Python's recursion limit to RECURSION_ROOM (never lower it)."""
    if sys.getrecursionlimit() < RECURSION_ROOM:
        sys.setrecursionlimit(RECURSION_ROOM)


# ---------------------------------------------------------------------------------------------
# Where a statement ends


class _Extent:
    """What the scan has learnt about the statement whose end it looks for.

    The statement's first words give its kind; the kind's rule (`_TAKES`) says which statement
    starters the statement takes as its own. A rule may change the kind as the statement goes on:
    `WITH c AS (...) UPDATE` continues as an UPDATE, `INSERT ... SELECT` as a query.
    """

    def __init__(self, tokens: list[Token], first: int) -> None:
        self.tokens = tokens
        self.first = first
        self.seen: set[str] = set()
        self.kind = self._kind()

    def word(self, i: int) -> str:
        return self.tokens[i].upper if 0 <= i < len(self.tokens) else ""

    def _kind(self) -> str:
        word = self.word(self.first)
        if word in ("SELECT", "("):
            return "query"
        if word in ("INSERT", "UPDATE", "DELETE", "MERGE", "BULK"):
            return word.lower()
        if word == "WITH":
            return "cte"
        if word in ("GRANT", "REVOKE", "DENY"):
            return "permission"
        if word in ("CREATE", "ALTER"):
            at = self.first + 1
            if self.word(at) == "OR" and self.word(at + 1) == "ALTER":
                at += 2
            what = self.word(at)
            if what == "VIEW":
                return "view"
            if what in _MODULES:
                return "module"
            if word == "ALTER":
                return "alter-table" if what == "TABLE" else "alter"
        return "other"

    def observe(self, i: int) -> None:
        """Note a top-level word that is not a statement starter but changes what may follow."""
        word = self.word(i)
        if self.kind == "insert" and word in ("VALUES", "DEFAULT"):
            self.seen.add("source")
        elif self.kind == "permission" and word in ("TO", "FROM"):
            self.seen.add("grantee")
        elif self.kind == "view" and word == "AS":
            self.seen.add("body")
        elif self.kind == "view" and word == "WITH" and "body" in self.seen:
            self.kind = "cte"  # CREATE VIEW v AS WITH c AS (...) SELECT ...

    def takes(self, i: int) -> bool:
        """Whether the statement starter at top-level index i belongs to this statement."""
        return _in_clause(self, i) or _TAKES.get(self.kind, _takes_nothing)(self, i)

    def cte_at(self, i: int) -> bool:
        """`WITH name [(columns)] AS (`: a common table expression, not a clause of this statement."""
        if self.kind in ("view", "module") or self.word(i) != "WITH":
            return False
        name = self.tokens[i + 1] if i + 1 < len(self.tokens) else None
        if name is None or name.kind not in ("word", "bracket", "quoted") or name.upper in RESERVED:
            return False
        at = i + 2
        if self.word(at) == "(":
            depth = 0
            for j in range(at, len(self.tokens)):
                depth += {"(": 1, ")": -1}.get(self.tokens[j].text, 0)
                if depth == 0:
                    at = j + 1
                    break
        return self.word(at) == "AS" and self.word(at + 1) == "("


def _in_clause(extent: _Extent, i: int) -> bool:
    """Starters that are part of a clause in any statement."""
    word, before = extent.word(i), extent.word(i - 1)
    if before == "WITH":  # WITH ROLLBACK IMMEDIATE, WITH GRANT OPTION, WITH EXECUTE AS ...
        return True
    if word == "ALTER" and before == "OR":  # CREATE OR ALTER
        return True
    if word == "SELECT":  # UNION [ALL] SELECT, EXCEPT SELECT, cursor FOR SELECT
        return before in ("UNION", "ALL", "EXCEPT", "INTERSECT", "FOR")
    if word == "THROW":  # ROLLBACK TRANSACTION THROW: a transaction name, as SQL Server reads it
        return before in ("TRAN", "TRANSACTION")
    if word in ("UPDATE", "DELETE") and before == "FOR":  # a cursor FOR UPDATE
        return True
    if extent.kind == "alter-table" and word in ("UPDATE", "DELETE"):  # FOREIGN KEY ... ON DELETE CASCADE
        return before == "ON"
    if extent.kind == "alter-table" and word == "SET":  # ON DELETE SET NULL
        return before in ("DELETE", "UPDATE") and extent.word(i - 2) == "ON"
    if word == "IF":  # DROP TABLE IF EXISTS, DROP COLUMN IF EXISTS
        return extent.word(i + 1) == "EXISTS" and before in _DROPPABLE
    if word == "FETCH":  # OFFSET n ROWS FETCH NEXT m ROWS ONLY
        return before in ("ROW", "ROWS")
    return False


def _takes_nothing(extent: _Extent, i: int) -> bool:
    return False


def _takes_source(extent: _Extent, i: int) -> bool:
    """INSERT takes one source: SELECT (and then continues as a query) or EXEC."""
    if "source" in extent.seen:
        return False
    extent.seen.add("source")
    if extent.word(i) == "SELECT":
        extent.kind = "query"
        return True
    return extent.word(i) in ("EXEC", "EXECUTE")


def _takes_set(extent: _Extent, i: int) -> bool:
    """UPDATE takes its one SET clause."""
    if extent.word(i) != "SET" or "set" in extent.seen:
        return False
    extent.seen.add("set")
    return True


def _takes_main_statement(extent: _Extent, i: int) -> bool:
    """WITH c AS (...) takes the statement that uses the CTEs, and continues as that statement."""
    word = extent.word(i)
    if word not in ("SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"):
        return False
    extent.kind = "query" if word == "SELECT" else word.lower()
    return True


def _takes_view_body(extent: _Extent, i: int) -> bool:
    if extent.word(i) != "SELECT" or "body" not in extent.seen:
        return False
    extent.kind = "query"
    return True


def _takes_table_change(extent: _Extent, i: int) -> bool:
    """ALTER TABLE t ALTER COLUMN / DROP [COLUMN | CONSTRAINT] c / SET (option = ...)."""
    word, after = extent.word(i), extent.word(i + 1)
    if word == "ALTER":
        return after == "COLUMN"
    if word == "DROP":
        return after not in _DROP_OBJECTS
    if word == "SET":
        return after == "("
    return False


def _takes_alter_option(extent: _Extent, i: int) -> bool:
    """ALTER DATABASE d SET ..., ALTER INDEX i ON t SET (...)."""
    return extent.word(i) == "SET" or _takes_table_change(extent, i)


#: kind of statement -> which statement starters it takes (besides `_in_clause`)
_TAKES: dict[str, Callable[[_Extent, int], bool]] = {
    "insert": _takes_source,
    "update": _takes_set,
    "cte": _takes_main_statement,
    "view": _takes_view_body,
    "alter-table": _takes_table_change,
    "alter": _takes_alter_option,
    "merge": lambda extent, i: True,  # WHEN MATCHED THEN UPDATE SET ...: a MERGE ends at its ';'
    "permission": lambda extent, i: "grantee" not in extent.seen,  # GRANT SELECT, INSERT ON t TO u
    "bulk": lambda extent, i: i == extent.first + 1 and extent.word(i) == "INSERT",
}


class _Parser:
    def __init__(self, text: str, source: str, line_offset: int,
                 collect: list[UnsupportedConstruct] | None = None) -> None:
        self.text = text
        unclosed: list[int] = []
        self.tokens = tokenize(text, unclosed)
        if unclosed:  # SQL Server: Msg 113, at the line where the comment opens
            raise ScriptError("Missing end comment mark '*/'.", source=source, line=unclosed[0] + line_offset,
                              number=113)
        self.pos = 0
        self.source = source
        self.line_offset = line_offset
        self.collect = collect
        self.depth = 0  # statements open around the one being parsed
        # where a statement ended without ';' (another began there): THROW and WITH may not begin there
        self.unterminated: set[int] = set()
        self.check_expression_nesting()

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
        return ScriptError(f"syntax error: {message}", source=self.source,
                           line=self.line_of(tok) + self.line_offset, number=102)

    def incorrect(self, tok: Token | None) -> ScriptError:
        """SQL Server's syntax error at a token: Msg 156 for a reserved word, Msg 102 otherwise."""
        line = self.line_of(tok) + self.line_offset
        if tok is None:
            return ScriptError("Incorrect syntax near the end of the batch.", source=self.source, line=line,
                               number=102)
        if tok.kind == "word" and tok.upper in RESERVED:
            return ScriptError(f"Incorrect syntax near the keyword '{tok.text}'.", source=self.source, line=line,
                               number=156)
        return ScriptError(f"Incorrect syntax near '{tok.text}'.", source=self.source, line=line, number=102)

    def unsupported(self, construct: str, tok: Token | None) -> UnsupportedConstruct:
        return UnsupportedConstruct(construct, source=self.source, line=self.line_of(tok) + self.line_offset)

    def slice(self, first: int, last_exclusive: int) -> str:
        if first >= last_exclusive:
            return ""
        return self.text[self.tokens[first].start : self.tokens[last_exclusive - 1].end]

    def check_expression_nesting(self) -> None:
        """Parentheses beyond MAX_NESTED_PARENTHESES are refused, CASE beyond MAX_NESTED_CASE is
        SQL Server's error 125; both before anything of the batch runs."""
        open_: list[str] = []  # "(" and "CASE", innermost last
        parens = cases = 0
        before = ""
        for tok in self.tokens:
            up = tok.upper
            if up == "," and before in (",", "("):  # `(a INT,, b INT)`: no T-SQL list has an empty item
                raise self.incorrect(tok)
            before = up
            if up == "(":
                open_.append("(")
                parens += 1
                if parens > MAX_NESTED_PARENTHESES:
                    raise LimitExceeded(
                        f"parentheses nested deeper than {MAX_NESTED_PARENTHESES} levels (the sandbox's limit)",
                        source=self.source, line=tok.line + self.line_offset)
            elif up == "CASE":
                open_.append("CASE")
                cases += 1
                if cases > MAX_NESTED_CASE:
                    raise ScriptError(f"Case expressions may only be nested to level {MAX_NESTED_CASE}.",
                                      source=self.source, line=tok.line + self.line_offset, number=125)
            elif up == ")" and "(" in open_:
                while open_.pop() != "(":
                    cases -= 1  # a CASE left open inside the parentheses: sqlglot reports it
                parens -= 1
            elif up == ")":  # a `)` that closes nothing
                raise self.incorrect(tok)
            elif up == "END" and open_ and open_[-1] == "CASE":
                open_.pop()
                cases -= 1
        if parens:  # a `(` left open at the end of the batch: SQL Server names the last word
            raise self.incorrect(self.tokens[-1])

    # -- statements ------------------------------------------------------------------------------
    def parse_batch(self) -> list[Statement]:
        statements: list[Statement] = []
        while self.peek() is not None:
            if self.peek_upper() == ";":
                self.take()
                continue
            if len(statements) == 1 and _first_only(statements[0]).endswith("VIEW"):
                # a view is one SELECT: what follows it in its batch cannot be part of it
                raise self.incorrect(self.peek())
            statements.append(self.statement())
        return statements

    def statement(self) -> Statement:
        while self.peek_upper() == ";":
            self.take()
        start = self.pos
        self.depth += 1
        try:
            if self.depth > MAX_NESTED_STATEMENTS:
                raise LimitExceeded(
                    f"statements nested deeper than {MAX_NESTED_STATEMENTS} levels (IF, WHILE, BEGIN ... END, "
                    "TRY ... CATCH; the sandbox's limit)",
                    source=self.source, line=self.line_of(self.peek()) + self.line_offset)
            statement = self.one_statement()
        except LimitExceeded:
            raise
        except UnsupportedConstruct as problem:
            if self.collect is None:
                raise
            # note it and carry on after the statement, so one check reports every problem
            self.collect.append(problem)
            self.pos = start
            end = max(self.statement_end(), start + 1)
            self.pos = end
            statement = Skipped(self.tokens[start].line, self.slice(start, end))
        finally:
            self.depth -= 1
        if not isinstance(statement, Block | If | While | TryCatch | CreateProcedure | Skipped) and self.pos > start:
            last = self.tokens[self.pos - 1]
            before = self.tokens[self.pos - 2].upper if self.pos - 2 >= start else ""
            if last.upper in _DANGLING and (last.upper, before) not in _ENDINGS:
                raise self.incorrect(last)  # `SELECT * FROM`, `SET @a = 1 +`: the statement stops short
        if not isinstance(statement, Block | If | While | TryCatch) and self.peek_upper() != ";":
            self.unterminated.add(self.pos)
        return statement

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
        if word == "USE":
            return self.use()
        if word == "SET" and self.peek(1) is not None and self.peek(1).kind == "variable":  # type: ignore[union-attr]
            return self.set_variable()
        if word == "PRINT":
            first = self.take()
            return Print(first.line, "", self.expression_until_end(self.pos - 1))
        if word == "THROW":
            if self.pos in self.unterminated:
                raise self.unsupported(
                    "THROW after a statement not ended by ';' (SQL Server reads THROW there as part of the "
                    "statement before it, or refuses it: end that statement with ';')", tok)
            return self.throw()
        if word == "RAISERROR":
            return self.raiserror()
        if word in ("EXEC", "EXECUTE"):
            return self.exec()
        if word == "RETURN":
            first = self.take()
            expr = self.expression_until_end(self.pos - 1) if self.at_expression_start() else None
            return Return(first.line, "RETURN", expr or None)
        if word in ("COMMIT", "ROLLBACK"):
            return self.transaction(word)
        if word == "CREATE" or word == "ALTER":
            kind_at = 1
            if self.peek_upper(1) == "OR" and self.peek_upper(2) == "ALTER":
                kind_at = 3
            if self.peek_upper(kind_at) in ("PROCEDURE", "PROC"):
                return self.create_procedure(kind_at)
            if self.peek_upper(kind_at) in ("TRIGGER", "FUNCTION", "TYPE", "SCHEMA", "SEQUENCE", "DEFAULT",
                                            "RULE", "SYNONYM", "DATABASE", "LOGIN", "USER", "ROLE"):
                raise self.unsupported(f"{word} {self.peek_upper(kind_at)}", tok)
        if word in _UNSUPPORTED:
            raise self.unsupported(_UNSUPPORTED[word], tok)
        if word == "WITH" and self.pos in self.unterminated:
            raise ScriptError(_CTE_AFTER_UNTERMINATED, source=self.source, line=tok.line + self.line_offset,
                              number=319)
        if word in _SQL_STARTERS or word == "(":
            return self.sql_statement()
        if tok.kind == "word" and word in _OTHER_STATEMENTS and (word in RESERVED or self.peek_upper(1) == "TRIGGER"):
            raise self.unsupported(f"statement starting with {tok.text!r}", tok)
        if tok.kind in ("word", "bracket", "quoted") and word not in RESERVED:
            if self.peek_upper(1) == ":":
                raise self.unsupported("GOTO labels", tok)
            if self.pos == 0 and self.depth == 1:
                # "You don't have to specify EXECUTE when the statement is the first one in a batch"
                return self.exec(implicit=True)
        raise self.incorrect(tok)

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
        """Index of the first token after an IF/WHILE condition: the statement starter that begins
        the statement it governs (or a ';', END or ELSE, which the caller refuses)."""
        for i, up, depth, case in self.top_level():
            if depth or case or up in ("(", ")", "CASE") or i == self.pos:
                continue
            if up in STATEMENT_STARTERS or up in (";", "END", "ELSE", "WITH"):
                return i
        return len(self.tokens)

    def if_statement(self) -> If:
        first = self.take()
        end = self.condition_end()
        condition = self.slice(self.pos, end)
        if not condition:
            raise self.incorrect(self.tokens[end] if end < len(self.tokens) else None)
        self.check_operands(self.pos, end)
        if end >= len(self.tokens):
            raise self.error("IF condition is not followed by a statement", first)
        if self.tokens[end].upper in (";", "END", "ELSE"):
            raise self.incorrect(self.tokens[end])
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
        self.check_operands(self.pos, end)
        if self.tokens[end].upper in (";", "END", "ELSE"):
            raise self.incorrect(self.tokens[end])
        self.pos = end
        return While(first.line, "WHILE", condition, self.statement())

    def statement_end(self, first: int | None = None) -> int:
        """Index one past the last token of the statement whose first token is `first` (default: the
        one at self.pos), scanning from self.pos."""
        extent = _Extent(self.tokens, self.pos if first is None else first)
        if extent.kind == "module":
            return len(self.tokens)  # CREATE FUNCTION/TRIGGER/...: the rest of the batch is its body
        for i, up, depth, case in self.top_level():
            if depth or up in ("(", ")"):
                continue
            if up == ";" or (up == "END" and not case):
                return i
            if case or up == "CASE" or i == extent.first:
                continue
            if up == "ELSE":
                return i
            if up == "WITH" and extent.cte_at(i):
                raise ScriptError(_CTE_AFTER_UNTERMINATED, source=self.source,
                                  line=self.tokens[i].line + self.line_offset, number=319)
            extent.observe(i)
            if up in STATEMENT_STARTERS and not extent.takes(i):
                return i
        return len(self.tokens)

    def expression_until_end(self, first: int) -> str:
        """The expression from self.pos to the end of the statement whose first token is at `first`."""
        end = self.statement_end(first)
        text = self.slice(self.pos, end)
        if not text:
            raise self.incorrect(self.tokens[end] if end < len(self.tokens) else None)
        self.check_operands(self.pos, end)
        self.pos = end
        return text

    def check_operands(self, start: int, end: int) -> None:
        """In an expression, a word right after a value (`PRINT 1` then `SELEC 1` or `FROM t` on the next
        line) can only be a mistyped next statement or a stray clause: SQL Server's syntax error at its
        own line. (In a SELECT list a name there is an alias, so only expressions are checked: PRINT,
        SET, DECLARE, RETURN, THROW, IF and WHILE conditions.)"""
        depth = 0
        for i in range(start, end):
            tok = self.tokens[i]
            if tok.text in ("(", ")"):
                depth += 1 if tok.text == "(" else -1
            elif depth == 0 and i > start and tok.kind == "word" and tok.upper not in _AFTER_VALUE:
                before = self.tokens[i - 1]
                if before.kind in ("number", "string", "variable", "bracket", "quoted") or before.text == ")":
                    raise self.incorrect(tok)

    def at_expression_start(self) -> bool:
        tok = self.peek()
        return tok is not None and tok.upper not in (";", "END", "ELSE", "WITH") and tok.upper not in STATEMENT_STARTERS

    def sql_statement(self) -> Sql:
        first_index = self.pos
        end = self.statement_end()
        if self.tokens[first_index].upper == "SET":
            self.check_set_option(first_index, end)
        text = self.slice(first_index, end)
        self.pos = end
        return Sql(self.tokens[first_index].line, text)

    def check_set_option(self, first: int, end: int) -> None:
        """`SET NOCOUNT ON` is complete after ON/OFF: a word after it is a syntax error at its line."""
        for i in range(first + 2, end - 1):
            if self.tokens[i].upper in ("ON", "OFF"):
                raise self.incorrect(self.tokens[i + 1])

    def use(self) -> Use:
        first = self.take()
        name = self.peek()
        if name is None or name.kind not in ("word", "bracket", "quoted") or (
                name.kind == "word" and name.upper in RESERVED):
            raise self.incorrect(name)
        self.take()
        end = self.statement_end(self.pos - 2)
        if end > self.pos:
            raise self.incorrect(self.tokens[self.pos])
        return Use(first.line, f"USE {name.text}", unquote(name.text))

    def declare(self) -> Declare | DeclareTable:
        first = self.take()
        end = self.statement_end(self.pos - 1)
        items: list[tuple[str, str, str | None]] = []
        parts = self.split_top_level(self.pos, end, ",")
        if not parts:
            raise self.incorrect(self.tokens[end] if end < len(self.tokens) else None)
        table = self.declare_table(first, parts, end)
        if table is not None:
            return table
        for part in parts:
            if not part:
                raise self.error("empty DECLARE item", first)
            name_tok = self.tokens[part[0]]
            if name_tok.kind != "variable":
                raise self.incorrect(name_tok)
            rest = part[1:]
            if rest and self.tokens[rest[0]].upper == "AS":
                rest = rest[1:]
            if rest and self.tokens[rest[0]].upper == "CURSOR":
                raise self.unsupported("cursors", name_tok)
            eq = next((j for j, idx in enumerate(rest) if self.tokens[idx].text == "="), None)
            type_idx = rest if eq is None else rest[:eq]
            if not type_idx:
                raise self.error(f"DECLARE {name_tok.text} needs a type", name_tok)
            self.check_type(type_idx[0], type_idx[-1] + 1)
            type_text = self.slice(type_idx[0], type_idx[-1] + 1)
            expr = None
            if eq is not None:
                expr_idx = rest[eq + 1 :]
                if not expr_idx:
                    raise self.error(f"DECLARE {name_tok.text} = needs a value", name_tok)
                self.check_operands(expr_idx[0], expr_idx[-1] + 1)
                expr = self.slice(expr_idx[0], expr_idx[-1] + 1)
            items.append((name_tok.text, type_text, expr))
        self.pos = end
        return Declare(first.line, "DECLARE", items)

    def declare_table(self, first: Token, parts: list[list[int]], end: int) -> DeclareTable | None:
        """`DECLARE @t [AS] TABLE (columns)`, alone in its DECLARE; None for a DECLARE of scalar variables."""
        for number, part in enumerate(parts):
            rest = part[1:]
            if rest and self.tokens[rest[0]].upper == "AS":
                rest = rest[1:]
            if not rest or self.tokens[rest[0]].upper != "TABLE":
                continue
            name_tok = self.tokens[part[0]]
            if name_tok.kind != "variable" or name_tok.text.startswith("@@"):
                raise self.incorrect(name_tok)
            if len(parts) > 1:  # SQL Server does not take a table variable among other declarations
                raise self.incorrect(self.tokens[parts[number - 1][-1] + 1] if number else self.tokens[part[-1] + 1])
            if len(rest) < 3 or self.tokens[rest[1]].text != "(":
                raise self.incorrect(self.tokens[rest[1]] if len(rest) > 1 else None)
            close = self.matching_paren(rest[1])
            if close + 1 < end:
                raise self.incorrect(self.tokens[close + 1])
            self.pos = end
            return DeclareTable(first.line, "DECLARE", name_tok.text, self.slice(rest[1], close + 1))
        return None

    def check_type(self, start: int, end: int) -> None:
        """A type name: `name[.name]` or DOUBLE PRECISION and the like, then at most one `(...)`;
        anything after it is a syntax error at its own line (`DECLARE @a INT` then `SELEC @a`)."""
        if end - start > 1 and self.tokens[end - 1].upper in ("OUTPUT", "OUT"):  # sp_executesql's parameters
            raise self.unsupported("OUTPUT parameters of sp_executesql", self.tokens[end - 1])
        i = start
        expect_name = True
        while i < end:
            tok = self.tokens[i]
            if expect_name:
                if tok.kind not in ("word", "bracket", "quoted"):
                    raise self.incorrect(tok)
                expect_name = False
            elif tok.text == ".":
                expect_name = True
            elif tok.text == "(":
                i = self.matching_paren(i) + 1
                if i < end:
                    raise self.incorrect(self.tokens[i])
                return
            elif tok.kind != "word" or tok.upper not in _TYPE_WORDS:
                raise self.incorrect(tok)
            i += 1
        if expect_name:
            raise self.incorrect(self.tokens[end] if end < len(self.tokens) else None)

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
            raise self.incorrect(op)
        self.take()
        expr = self.expression_until_end(self.pos - 3)
        return SetVariable(first.line, "SET", name.text, op.text, expr)

    def arguments(self, end: int) -> list[str]:
        return [self.slice(p[0], p[-1] + 1) for p in self.split_top_level(self.pos, end, ",") if p]

    def throw(self) -> Throw:
        first = self.take()
        end = self.statement_end(self.pos - 1)
        self.check_operands(self.pos, end)
        args = self.arguments(end)
        self.pos = end
        if args and len(args) != 3:
            raise self.error("THROW takes three arguments: number, message, state", first)
        return Throw(first.line, "THROW", args)

    def raiserror(self) -> Raiserror:
        first = self.take()
        if self.peek_upper() != "(":
            raise self.error("RAISERROR needs parentheses: RAISERROR(message, severity, state)", first)
        end = self.statement_end(self.pos - 1)
        close = self.matching_paren(self.pos)
        inner_start = self.pos + 1
        saved = self.pos
        self.pos = inner_start
        args = self.arguments(close)
        self.pos = saved
        if close + 1 < end and self.tokens[close + 1].upper != "WITH":
            raise self.incorrect(self.tokens[close + 1])
        options: list[str] = []
        if close + 1 < end:
            for part in self.split_top_level(close + 2, end, ","):
                if len(part) != 1 or self.tokens[part[0]].upper not in ("LOG", "NOWAIT", "SETERROR"):
                    raise self.incorrect(self.tokens[part[0]] if part else self.tokens[close + 1])
                options.append(self.tokens[part[0]].upper)
            if not options:
                raise self.incorrect(self.tokens[end] if end < len(self.tokens) else None)
        self.pos = end
        if len(args) < 3:
            raise self.error("RAISERROR takes at least message, severity, state", first)
        return Raiserror(first.line, "RAISERROR", args, options)

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

    def exec(self, implicit: bool = False) -> Statement:
        """EXEC[UTE] [@rc =] procedure arguments [WITH RECOMPILE], or EXEC (string); `implicit`: the
        first statement of a batch, a procedure called without EXEC."""
        first = self.peek()
        assert first is not None
        first_index = self.pos
        if not implicit:
            self.take()
            if self.peek_upper() == "(":
                close = self.matching_paren(self.pos)
                expr = self.slice(self.pos + 1, close)
                self.pos = close + 1
                if self.peek_upper() == "AT":
                    raise self.unsupported("EXEC (...) AT a linked server", self.peek())
                return ExecDynamic(first.line, "EXEC(...)", expr)
            if self.peek_upper() == "AS":
                raise self.unsupported("EXECUTE AS", first)
        result_variable = None
        if self.peek() is not None and self.peek().kind == "variable" and self.peek_upper(1) == "=":  # type: ignore[union-attr]
            result_variable = self.take().text
            self.take()
        end = self.statement_end(first_index)
        with_at = next((i for i in range(self.pos, end) if self.tokens[i].upper == "WITH"), None)
        if with_at is not None:
            options = self.slice(with_at + 1, end).upper().replace(" ", "")
            if options != "RECOMPILE":
                raise self.unsupported(f"EXEC ... WITH {self.slice(with_at + 1, end)}", self.tokens[with_at])
        args_end = end if with_at is None else with_at
        # the procedure name: identifier parts joined by dots
        name_parts: list[str] = []
        while self.pos < args_end:
            tok = self.tokens[self.pos]
            if tok.kind in ("word", "bracket", "quoted"):
                name_parts.append(tok.text)
                self.pos += 1
                if self.pos < args_end and self.tokens[self.pos].text == ".":
                    self.pos += 1
                    continue
            break
        if not name_parts:
            found = self.peek() if self.pos < end else None
            if found is not None and found.kind == "variable":
                raise self.unsupported("EXEC of a procedure named by a variable", found)
            raise self.incorrect(found)
        args: list[tuple[str | None, str, bool]] = []
        for part in self.split_top_level(self.pos, args_end, ","):
            param, value, output = self.exec_argument(part, first)
            if value.upper() == "DEFAULT":
                if param is None:  # which parameter it stands for is known only when the call runs
                    raise self.unsupported("DEFAULT as a positional procedure argument (name the parameters "
                                           "instead, or leave the argument out)", self.tokens[part[0]])
                continue  # @p = DEFAULT: the parameter's default, as when it is left out
            args.append((param, value, output))
        self.pos = end
        return Exec(first.line, "EXEC", ".".join(name_parts), args, result_variable)

    def exec_argument(self, part: list[int], first: Token) -> tuple[str | None, str, bool]:
        """`[@param =] value [OUTPUT]`, where a value is a constant, a variable, NULL, DEFAULT or a name
        (which SQL Server passes as a string); an expression is a syntax error, as in SQL Server."""
        if not part:
            raise self.error("empty EXEC argument", first)
        toks = [self.tokens[i] for i in part]
        param = None
        if len(toks) > 2 and toks[0].kind == "variable" and toks[1].text == "=":
            param = toks[0].text
            toks = toks[2:]
        output = False
        if len(toks) > 1 and toks[-1].upper in ("OUTPUT", "OUT"):
            output = True
            toks = toks[:-1]
        size = 1
        if toks[0].text in ("+", "-", "$") and len(toks) > 1 and toks[1].kind == "number":
            size = 2
        elif (toks[0].text == "0" and len(toks) > 1 and toks[1].kind == "word" and toks[1].start == toks[0].end
              and toks[1].text[:1] in "xX"):
            size = 2  # 0x1F: a binary constant
        elif toks[0].kind not in ("number", "string", "variable", "word", "bracket", "quoted") or (
                toks[0].kind == "word" and toks[0].upper in RESERVED - {"NULL", "DEFAULT"}):
            raise self.incorrect(toks[0])
        if len(toks) > size:
            raise self.incorrect(toks[size])
        value = self.text[toks[0].start : toks[size - 1].end]
        if toks[0].kind in ("bracket", "quoted") or (toks[0].kind == "word" and toks[0].upper not in RESERVED):
            value = "N'" + unquote(value).replace("'", "''") + "'"
        return param, value, output

    def transaction(self, action: str) -> Transaction:
        first = self.take()
        name: Token | None = None
        if self.peek_upper() in ("TRAN", "TRANSACTION"):
            self.take()
            # an optional name: SQL Server takes any identifier here, THROW too (`ROLLBACK TRAN THROW`)
            tok = self.peek()
            if tok is not None and (tok.kind in ("variable", "bracket", "quoted")
                                    or (tok.kind == "word" and tok.upper not in RESERVED)):
                name = self.take()
        elif action in ("COMMIT", "ROLLBACK") and self.peek_upper() == "WORK":
            self.take()
        elif action == "BEGIN":
            raise self.error("BEGIN TRAN expected", first)
        if name is not None and action == "ROLLBACK":
            hint = (" (SQL Server reads THROW here as a transaction name: end the ROLLBACK with ';')"
                    if name.upper == "THROW" else "")
            raise self.unsupported(f"ROLLBACK TRANSACTION {name.text}: named transactions and savepoints{hint}",
                                   name)
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
    statement is appended to it instead and stands in the tree as a `Skipped` statement. A syntax
    error, and input nested beyond the documented limits (`LimitExceeded`), always stop it.
    """
    make_recursion_room()  # for whoever walks the tree next: the engine, the subset check, effects
    key = (text, source, line_offset)
    if collect is None and key in _PARSED:
        return _PARSED[key]
    parser = _Parser(text, source, line_offset, collect)
    statements = parser.parse_batch()
    for index, statement in enumerate(statements):
        kind = _first_only(statement)
        if index > 0 and kind:
            raise ScriptError(f"'{kind}' must be the first statement in a query batch.", source=source,
                              line=statement.line + line_offset, number=111)
    parsed = ParsedBatch(statements, text)
    if collect is None and len(text) <= _PARSED_MAX_CHARS:
        if len(_PARSED) >= _PARSED_KEPT:
            _PARSED.clear()
        _PARSED[key] = parsed
    return parsed


#: Parsed batches by (text, source, line offset), for every engine of the process: the same deploy, rollback
#: and library statements are parsed once, not once per sandbox and run. The trees are only read.
_PARSED: dict[tuple[str, str, int], ParsedBatch] = {}
_PARSED_KEPT = 512
_PARSED_MAX_CHARS = 256 * 1024


_FIRST_ONLY = re.compile(r"^\s*(CREATE|ALTER)\s+(OR\s+ALTER\s+)?(VIEW|PROC|PROCEDURE)\b", re.IGNORECASE)


def _first_only(statement: Statement) -> str:
    """How SQL Server names a statement that must begin its batch (error 111); "" for the others."""
    if isinstance(statement, CreateProcedure):
        return "CREATE/ALTER PROCEDURE"
    m = _FIRST_ONLY.match(statement.text) if isinstance(statement, Sql) else None
    if m is None:
        return ""
    if m.group(3).upper() != "VIEW":
        return "CREATE/ALTER PROCEDURE"
    return "ALTER VIEW" if m.group(1).upper() == "ALTER" and not m.group(2) else "CREATE VIEW"


def child_statements(statement: Statement) -> list[Statement]:
    """The statements nested directly in `statement` (a block's or procedure's body, both branches of an
    IF, a loop's body, a TRY and its CATCH), in order; none for a plain statement."""
    if isinstance(statement, Block | CreateProcedure):
        return statement.body
    if isinstance(statement, If):
        return [s for s in (statement.then, statement.otherwise) if s is not None]
    if isinstance(statement, While):
        return [statement.body] if statement.body is not None else []
    if isinstance(statement, TryCatch):
        return statement.body + statement.handler
    return []


def unquote(identifier: str) -> str:
    """`[a b]` -> `a b`; `"x"` -> `x`; `name` -> `name`."""
    if identifier.startswith("[") and identifier.endswith("]"):
        return identifier[1:-1].replace("]]", "]")
    if identifier.startswith('"') and identifier.endswith('"'):
        return identifier[1:-1].replace('""', '"')
    return identifier


#: the words that end a SELECT's list of items (where a compound assignment's expression stops)
_SELECT_LIST_ENDS = frozenset({"FROM", "WHERE", "GROUP", "HAVING", "ORDER", "UNION", "EXCEPT", "INTERSECT", "OPTION",
                               "INTO", "FOR", "WINDOW"})
_COMPOUND_ASSIGNMENTS = frozenset({"+=", "-=", "*=", "/=", "%=", "&=", "|=", "^="})
_COMPOUND_OPERATOR = re.compile(r"@\w+\s*[-+*/%&|^]=")


def expand_compound_assignments(text: str) -> str:
    """`SELECT @v += x, @n -= 1 FROM t` as `SELECT @v = @v + (x), @n = @n - (1) FROM t`: T-SQL's compound
    assignment in a SELECT means exactly that (as in SET), and sqlglot cannot read the short form."""
    if _COMPOUND_OPERATOR.search(text) is None:  # the cheap test first: statements are parsed often
        return text
    tokens = tokenize(text)
    if not tokens or tokens[0].upper != "SELECT":
        return text
    edits: list[tuple[int, int, str]] = []  # (start, end, replacement) in the text
    depth = 0
    item_start = True
    open_item: tuple[Token, Token] | None = None  # the variable and operator of the item being expanded
    for i, tok in enumerate(tokens[1:], start=1):
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth -= 1
        at_top = depth == 0 and tok.text != ")"
        if at_top and (tok.text == "," or (tok.kind == "word" and tok.upper in _SELECT_LIST_ENDS)):
            if open_item is not None:
                edits.append((tokens[i - 1].end, tokens[i - 1].end, ")"))
                open_item = None
            item_start = tok.text == ","
            if tok.kind == "word":
                break
            continue
        following = tokens[i + 1:i + 3]
        if item_start and tok.kind == "variable" and following:
            operator = following[0].text
            end = following[0].end
            if len(following) == 2 and following[1].text == "=" and following[1].start == end:  # `|` `=` lexed apart
                operator, end = operator + "=", following[1].end
            if operator in _COMPOUND_ASSIGNMENTS:
                edits.append((following[0].start, end, f"= {tok.text} {operator[0]} ("))
                open_item = (tok, following[0])
        item_start = False
    else:
        if open_item is not None:
            edits.append((tokens[-1].end, tokens[-1].end, ")"))
    for start, end, replacement in reversed(edits):
        text = text[:start] + replacement + text[end:]
    return text
