"""The static subset check: which constructs of a script the embedded runner would refuse, without running it.

It walks the same statement tree the engine runs (parser.py) and hands each piece to the same pure
functions the engine uses before it touches the database (statements.classify, the DDL model
builders, translate.rewrite), so a script that passes here meets no "construct not supported" error
when it runs. Dynamic SQL is the exception: its text exists only at run time, and is checked then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlglot import exp

from ..batches import split_batches
from ..catalog import split_name
from ..errors import ScriptError, UnsupportedConstruct
from . import translation_store
from .compile_checks import CompileError, check_batch, use_refusal
from .ddl import declared_type, drop_plan, index_spec, object_name, table_model, view_definition
from .parser import (
    CreateProcedure,
    Declare,
    DeclareTable,
    Exec,
    ExecDynamic,
    If,
    Print,
    Raiserror,
    Return,
    SetVariable,
    Sql,
    Statement,
    Throw,
    Use,
    While,
    child_statements,
    parse_batch,
)
from .statements import classify, procedure_call
from .translate import NotInSubset, SyntaxProblem, parse_expression, parse_statement, rewrite
from .writes import DATABASE


def check_subset(text: str, source: str, *, database: str = DATABASE) -> list[UnsupportedConstruct]:
    """Every construct of the script outside the embedded runner's subset, in line order.

    Raises ScriptError when the script cannot be split into batches or parsed at all (a GO line
    with junk, a BEGIN without END, a typo such as `SELEC`, `SELECT 1 > 0`): that is a syntax error,
    not a matter of the subset. Input nested beyond the parser's documented limits raises
    `parser.LimitExceeded`. `database`: the one database `USE` may name, compared as the engine does
    (letter case ignored); give the target's (`target_database`), else only `USE sandbox` passes.
    """
    found: list[UnsupportedConstruct] = []
    for batch in split_batches(text, source=source):
        offset = batch.start_line - 1
        parsed = parse_batch(batch.text, source=source, line_offset=offset, collect=found)
        if not syntax_checked(batch.text):
            try:  # the syntax SQL Server finds when it compiles the batch (columns need the database)
                check_batch(parsed.statements, None)
            except CompileError as error:
                raise ScriptError(error.message, source=source, line=error.line + offset,
                                  number=error.number) from None
            syntax_checked(batch.text, passed=True)
        found += batch_refusals(batch.text, parsed.statements, source, offset, database=database)
    return sorted(found, key=lambda problem: problem.line or 0)


def syntax_checked(text: str, *, passed: bool = False) -> bool:
    """Whether `check_batch(statements, None)` passed on this batch text before, in this process or any other
    of the same runner (translation_store.py); `passed=True` records that it did."""
    stored = translation_store.store()
    if stored is None:
        return False
    key = stored.key(("syntax", text))
    if passed:
        stored.put(key, True)
        return True
    return stored.get(key) is True


def target_database(target: object) -> str:
    """The database `USE` may name on `target`, exactly as its runner accepts it: a sandbox file's stem
    (`dms` for `.opus/dms.sqlite`), a named database's configured name (databases.open_database), or
    `sandbox` for a database in memory. Pass it as `check_subset(..., database=target_database(target))`
    so that the static check and the run agree; `sandbox` for a target without the embedded runner."""
    engine = getattr(target, "engine", None)
    name = getattr(engine, "database", None)
    return name if isinstance(name, str) and name else DATABASE


#: batch text and database -> (line in the batch, construct) of each refusal: the check is a pure function
#: of the text, and scripts run many times (every test that deploys) pay for it once
_REFUSALS: dict[tuple[str, str], list[tuple[int, str]]] = {}
_REFUSALS_KEPT = 512


def batch_refusals(text: str, statements: list[Statement], source: str, offset: int, *,
                   database: str = DATABASE, parse: Callable[[str], exp.Expression] = parse_statement,
                   use_store: bool = True) -> list[UnsupportedConstruct]:
    """The constructs outside the subset in one parsed batch (`text`, parsed into `statements`; lines in
    the file: `offset` is the batch's start line - 1): the engine refuses the first before any
    statement of the batch runs. `parse` gives a statement's tree, which the check changes (the engine
    passes a copy of the tree its compile checks read). `use_store`: read and keep the verdict in the
    translation store (an engine without its translation cache checks every batch itself)."""
    key = (text, database)
    found = _REFUSALS.get(key)
    stored = translation_store.store() if found is None and use_store else None
    stored_key = stored.key(("refusals", *key)) if stored is not None else b""
    if found is None and stored is not None:
        found = stored.get(stored_key)
    if found is None:
        problems: list[UnsupportedConstruct] = []
        checker = _Checker("", 0, problems, database, parse)
        for statement in statements:
            checker.statement(statement)
        found = sorted(((p.line or 0, p.construct) for p in problems), key=lambda problem: problem[0])  # stable
        if stored is not None:
            stored.put(stored_key, found)
    if len(_REFUSALS) >= _REFUSALS_KEPT:
        _REFUSALS.clear()
    _REFUSALS[key] = found
    return [UnsupportedConstruct(construct, source=source, line=line + offset) for line, construct in found]


class _Checker:
    def __init__(self, source: str, offset: int, found: list[UnsupportedConstruct], database: str,
                 parse: Callable[[str], exp.Expression] = parse_statement) -> None:
        self.source = source
        self.offset = offset
        self.found = found
        self.database = database
        self.parse = parse

    @contextmanager
    def reporting(self, statement: Statement) -> Iterator[None]:
        """Record a problem found in `statement` at its line, and go on with the next one."""
        line = statement.line + self.offset
        try:
            yield
        except NotInSubset as construct:
            self.found.append(UnsupportedConstruct(str(construct), source=self.source, line=line))
        except SyntaxProblem as problem:  # valid T-SQL perhaps, but not for the runner's statement parser
            self.found.append(UnsupportedConstruct(f"a statement the embedded parser cannot read ({problem})",
                                                   source=self.source, line=line))
        except UnsupportedConstruct as problem:
            self.found.append(UnsupportedConstruct(problem.construct, source=self.source, line=line))
        except RecursionError:  # the parser's nesting limits keep within Python's; this is the backstop
            self.found.append(UnsupportedConstruct("a statement nested too deeply for the sandbox",
                                                   source=self.source, line=line))

    def statement(self, statement: Statement) -> None:
        with self.reporting(statement):
            self.own_parts(statement)
        for inner in child_statements(statement):
            self.statement(inner)

    def own_parts(self, statement: Statement) -> None:
        """Check what belongs to the statement itself (not the statements nested in it)."""
        if isinstance(statement, Sql):
            _sql(statement.text, self.parse)
        elif isinstance(statement, Declare):
            for _name, type_text, expression in statement.items:
                declared_type(type_text)
                _expression(expression)
        elif isinstance(statement, DeclareTable):
            created = classify(f"CREATE TABLE #tv {statement.definition}")
            if created.kind != "create-table":
                raise NotInSubset(f"table variable {statement.name} ({created.kind})")
            table_model(created.tree)  # type: ignore[arg-type]
        elif isinstance(statement, Use):
            refusal = use_refusal(statement.database, self.database)
            if refusal is not None:
                raise NotInSubset(refusal)
        elif isinstance(statement, SetVariable | Print | ExecDynamic):
            _expression(statement.expression)
        elif isinstance(statement, If | While):
            _expression(statement.condition)
        elif isinstance(statement, Throw):
            for argument in statement.arguments:
                _expression(argument)
        elif isinstance(statement, Raiserror):
            template = parse_expression(statement.arguments[0])
            if isinstance(template, exp.Literal) and not template.is_string:
                raise NotInSubset("RAISERROR with a message number (use a message text)")
            severity = parse_expression(statement.arguments[1])
            if ("LOG" in statement.options and isinstance(severity, exp.Literal) and not severity.is_string
                    and int(float(severity.this)) > 18):
                raise NotInSubset(f"RAISERROR with severity {min(int(float(severity.this)), 25)} WITH LOG (a "
                                  "sysadmin's error; from 20 on SQL Server ends the connection)")
            for argument in statement.arguments:
                _expression(argument)
        elif isinstance(statement, Exec):
            procedure_call(statement.procedure)
            for _param, expression, _output in statement.arguments:
                _expression(expression)
        elif isinstance(statement, Return):
            _expression(statement.expression)
        elif isinstance(statement, CreateProcedure):
            schema = split_name(statement.name)[0]
            if schema.lower() != "dbo":
                raise NotInSubset(f"schema {schema} (the sandbox has only dbo)")
            for parameter in statement.parameters:
                declared_type(parameter.type)
                _expression(parameter.default)
        # Block, TryCatch, Transaction: nothing of their own; Skipped: already reported by the parser


def _expression(text: str | None) -> None:
    if text is not None:
        rewrite(exp.select(parse_expression(text)), None)


def _select_into(tree: exp.Expression) -> None:
    object_name(tree.args["into"].this)
    tree.set("into", None)
    rewrite(tree, None)


#: statement kind -> the pure check the engine also makes before running such a statement
_CHECKS: dict[str, Callable[[Any], object]] = {
    "create-table": table_model,
    "create-view": view_definition,
    "create-index": index_spec,
    "drop": drop_plan,
    "select-into": _select_into,
    "dml": lambda tree: rewrite(tree, None),
}


def _sql(text: str, parse: Callable[[str], exp.Expression] = parse_statement) -> None:
    """One SQL statement, through the checks the engine makes before it runs it."""
    statement = classify(text, parse)
    check = _CHECKS.get(statement.kind)
    if check is not None and statement.tree is not None:
        assert statement.tree is not None
        check(statement.tree)
