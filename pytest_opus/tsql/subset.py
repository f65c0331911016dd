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
from ..errors import UnsupportedConstruct
from .ddl import alter_table, declared_type, drop_plan, index_spec, object_name, table_model, view_definition
from .parser import (
    Block,
    CreateProcedure,
    Declare,
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
    TryCatch,
    While,
    parse_batch,
)
from .statements import classify, procedure_call
from .translate import NotInSubset, SyntaxProblem, parse_expression, rewrite


def check_subset(text: str, source: str) -> list[UnsupportedConstruct]:
    """Every construct of the script outside the embedded runner's subset, in line order.

    Raises ScriptError when the script cannot be split into batches or parsed at all (a GO line
    with junk, a BEGIN without END, a typo such as `SELEC`): that is a syntax error, not a matter of
    the subset. Input nested beyond the parser's documented limits raises `parser.LimitExceeded`.
    """
    found: list[UnsupportedConstruct] = []
    for batch in split_batches(text, source=source):
        offset = batch.start_line - 1
        parsed = parse_batch(batch.text, source=source, line_offset=offset, collect=found)
        checker = _Checker(source, offset, found)
        for statement in parsed.statements:
            checker.statement(statement)
    return sorted(found, key=lambda problem: problem.line or 0)


class _Checker:
    def __init__(self, source: str, offset: int, found: list[UnsupportedConstruct]) -> None:
        self.source = source
        self.offset = offset
        self.found = found

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
        for inner in _children(statement):
            self.statement(inner)

    def own_parts(self, statement: Statement) -> None:
        """Check what belongs to the statement itself (not the statements nested in it)."""
        if isinstance(statement, Sql):
            _sql(statement.text)
        elif isinstance(statement, Declare):
            for _name, type_text, expression in statement.items:
                declared_type(type_text)
                _expression(expression)
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


def _children(statement: Statement) -> list[Statement]:
    if isinstance(statement, Block | CreateProcedure):
        return statement.body
    if isinstance(statement, If):
        return [s for s in (statement.then, statement.otherwise) if s is not None]
    if isinstance(statement, While):
        return [statement.body] if statement.body is not None else []
    if isinstance(statement, TryCatch):
        return statement.body + statement.handler
    return []


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
    "alter-table": alter_table,
    "drop": drop_plan,
    "select-into": _select_into,
    "dml": lambda tree: rewrite(tree, None),
}


def _sql(text: str) -> None:
    """One SQL statement, through the checks the engine makes before it runs it."""
    statement = classify(text)
    check = _CHECKS.get(statement.kind)
    if check is not None:
        assert statement.tree is not None
        check(statement.tree)
