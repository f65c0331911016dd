"""Reads expectation YAML into the model, reporting every mistake as `file:line: what is wrong`.

PyYAML's node API (`yaml.compose`) is used instead of `safe_load` because plain Python values
forget where they came from, and a duplicate key would silently overwrite the first one. Walking
the nodes keeps line numbers and lets one pass collect every problem before raising.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_opus.catalog import key as object_key
from pytest_opus.errors import OpusError
from pytest_opus.expectations.model import (
    AbsentSpec,
    CheckSpec,
    ColumnSpec,
    Expectations,
    IndexSpec,
    Location,
    Mode,
    ObjectKind,
    ParameterSpec,
    PrimaryKeySpec,
    ProcedureSpec,
    TableSpec,
    ViewColumnSpec,
    ViewSpec,
)
from pytest_opus.expectations.sqltypes import (
    ExpectedDefault,
    InvalidType,
    SqlType,
    expected_default,
    parse_type,
)
from pytest_opus.suggest import did_you_mean

TOP_KEYS = ("description", "tables", "views", "procedures", "absent")
TABLE_KEYS = ("description", "mode", "columns", "primary_key", "indexes", "checks", "absent_columns")
COLUMN_KEYS = ("description", "type", "nullable", "default", "identity")
PRIMARY_KEY_KEYS = ("name", "columns")
INDEX_KEYS = ("columns", "unique")
VIEW_KEYS = ("description", "columns")
VIEW_COLUMN_KEYS = ("name", "type")
PROCEDURE_KEYS = ("description", "parameters")
PARAMETER_KEYS = ("name", "type", "output")
ABSENT_KEYS = ("tables", "views", "procedures")
MODES: tuple[Mode, ...] = ("contains", "exact")

_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_STR_TAG = "tag:yaml.org,2002:str"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an expectation file."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


class ExpectationError(OpusError):
    """The expectation YAML is unusable; `problems` lists every mistake found, one per line."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        count = len(self.problems)
        header = f"invalid schema expectations ({count} problem{'s' if count != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  {p}" for p in self.problems)]))


def _suggestion(word: str, choices: Sequence[str]) -> str:
    return did_you_mean(word, choices)


def _shape(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if node.tag == _NULL_TAG:
        return "nothing"
    text = str(node.value)
    return f"'{text[:40]}...'" if len(text) > 40 else f"'{text}'"


Entry = tuple[str, Node, Node]  # (key text, key node, value node)


class _HasName(Protocol):
    @property
    def name(self) -> str: ...


_Named = TypeVar("_Named", bound=_HasName)


class _Reader:
    """Walks the node tree of one file, building model values and collecting problems."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()

    # -- primitives ---------------------------------------------------------------------------

    def where(self, node: Node) -> Location:
        return Location(self.source, node.start_mark.line + 1)

    def problem(self, node: Node, message: str) -> None:
        self.problems.append(Problem(self.source, node.start_mark.line + 1, message))

    def mapping(self, node: Node, what: str, allowed: Sequence[str] | None = None,
                required: Sequence[str] = (), item: str = "key") -> list[Entry] | None:
        """The entries of a mapping node, after reporting wrong shape, duplicate and unknown keys."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping (key: value), found {_shape(node)}")
            return None
        entries: list[Entry] = []
        seen: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _NULL_TAG:
                self.problem(key_node, f"{what}: keys must be plain names, found {_shape(key_node)}")
                continue
            name = str(key_node.value)
            if name in seen:
                self.problem(key_node, f"{what}: duplicate {item} '{name}' "
                                       f"(first at line {seen[name].start_mark.line + 1})")
                continue
            seen[name] = key_node
            if allowed is not None and name not in allowed:
                self.problem(key_node, f"{what}: unknown key '{name}'{_suggestion(name, allowed)}"
                                       f"; allowed: {', '.join(allowed)}")
                continue
            entries.append((name, key_node, value_node))
        for name in required:
            if name not in seen:
                self.problem(node, f"{what}: missing required key '{name}'")
        return entries

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.problem(node, f"{what} must be a list, found {_shape(node)}")
            return None
        return list(node.value)

    def scalar(self, node: Node, what: str) -> object:
        """The Python value of a scalar (int, bool, str, None, ...); `_MISSING` after a problem."""
        if not isinstance(node, ScalarNode):
            self.problem(node, f"{what} must be a single value, found {_shape(node)}")
            return _MISSING
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as error:  # unknown tag, malformed timestamp, bad base64, ...
            self.problem(node, f"{what}: {getattr(error, 'problem', None) or error}")
            return _MISSING

    def text(self, node: Node, what: str) -> str | None:
        """A non-empty name or text, taken as written (so `yes` stays 'yes' and `1` stays '1')."""
        if not isinstance(node, ScalarNode):
            self.problem(node, f"{what} must be a single value, found {_shape(node)}")
            return None
        if node.tag == _NULL_TAG or not str(node.value).strip():
            self.problem(node, f"{what} is empty")
            return None
        implicit = _RESOLVER.resolve(ScalarNode, node.value, (not node.style, bool(node.style)))
        if node.tag not in (implicit, _STR_TAG):
            # `type: !custom nvarchar(50)` would otherwise be read as if the tag were not there.
            self.problem(node, f"{what}: the YAML tag {node.tag} is not allowed here; write the value "
                               "without it (quote it if it must stay text)")
            return None
        return str(node.value).strip()

    def flag(self, node: Node, what: str) -> bool | None:
        value = self.scalar(node, what)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.problem(node, f"{what} must be true or false, found {_shape(node)}")
            return None
        return value

    def names(self, node: Node, what: str) -> list[tuple[str, Node]] | None:
        """A list of names; a name repeated (ignoring case) is reported."""
        items = self.sequence(node, what)
        if items is None:
            return None
        result: list[tuple[str, Node]] = []
        seen: dict[str, Node] = {}
        for item in items:
            name = self.text(item, f"{what} entry")
            if name is None:
                continue
            if name.lower() in seen:
                self.problem(item, f"{what}: '{name}' listed twice "
                                   f"(first at line {seen[name.lower()].start_mark.line + 1})")
                continue
            seen[name.lower()] = item
            result.append((name, item))
        return result

    def sql_type(self, node: Node, what: str) -> SqlType | None:
        text = self.text(node, what)
        if text is None:
            return None
        try:
            return parse_type(text)
        except InvalidType as error:
            hint = ""
            if text.count("(") > text.count(")") and not getattr(node, "style", None):
                # Inside {...} a comma ends the value, so `{type: decimal(18,4)}` arrives cut in two.
                hint = f"; inside {{...}} quote a type with a comma: \"{text},...)\""
            self.problem(node, f"{what}: {error}{hint}")
            return None

    def object_name(self, node: Node, what: str) -> tuple[str, str] | None:
        text = self.text(node, what)
        if text is None:
            return None
        parts = [part.strip().strip("[]\"").strip() for part in text.split(".")]
        if len(parts) > 2 or not all(parts):
            self.problem(node, f"{what}: '{text}' is not a valid name (write schema.name or name)")
            return None
        return ("dbo", parts[0]) if len(parts) == 1 else (parts[0], parts[1])

    # -- the document ---------------------------------------------------------------------------

    def document(self, root: Node) -> Expectations:
        entries = self.mapping(root, "the file", TOP_KEYS) or []
        tables: list[TableSpec] = []
        views: list[ViewSpec] = []
        procedures: list[ProcedureSpec] = []
        absent: list[AbsentSpec] = []
        for name, _key, value in entries:
            if name == "description":
                self.text(value, "description")
            elif name in ("tables", "views", "procedures"):
                objects = self.mapping(value, name, item=name[:-1])
                for _text, key_node, body in objects or []:
                    qualified = self.object_name(key_node, name[:-1] + " name")
                    if qualified is None:
                        continue
                    if name == "tables":
                        tables.append(self.table(qualified, key_node, body))
                    elif name == "views":
                        views.append(self.view(qualified, key_node, body))
                    else:
                        procedures.append(self.procedure(qualified, key_node, body))
            elif name == "absent":
                absent.extend(self.absent(value))
        if isinstance(root, MappingNode) and not root.value:
            self.problem(root, "the file has no expectations (expected tables, views, procedures or absent)")
        return Expectations(tuple(tables), tuple(views), tuple(procedures), tuple(absent), (self.source,))

    def _body(self, node: Node, what: str, allowed: Sequence[str]) -> list[Entry]:
        # An object with nothing under it (`dbo.X:`) only has to exist.
        if isinstance(node, ScalarNode) and node.tag == _NULL_TAG:
            return []
        return self.mapping(node, what, allowed) or []

    def table(self, qualified: tuple[str, str], key_node: Node, body: Node) -> TableSpec:
        schema, name = qualified
        what = f"table {schema}.{name}"
        mode: Mode = "contains"
        columns: list[ColumnSpec] = []
        primary_key: PrimaryKeySpec | None = None
        indexes: list[IndexSpec] = []
        checks: list[CheckSpec] = []
        absent_columns: list[tuple[str, Node]] = []
        for field, _key, value in self._body(body, what, TABLE_KEYS):
            if field == "description":
                self.text(value, f"{what}: description")
            elif field == "mode":
                text = self.text(value, f"{what}: mode")
                if text is not None and text not in MODES:
                    self.problem(value, f"{what}: mode must be contains or exact, not '{text}'"
                                        f"{_suggestion(text, MODES)}")
                elif text is not None:
                    mode = cast(Mode, text)
            elif field == "columns":
                columns = self.columns(value, what)
            elif field == "primary_key":
                primary_key = self.primary_key(value, what)
            elif field == "indexes":
                indexes = self.indexes(value, what)
            elif field == "checks":
                checks = self.checks(value, what)
            elif field == "absent_columns":
                absent_columns = self.names(value, f"{what}: absent_columns") or []
        declared = {c.name.lower() for c in columns}
        for column, node in absent_columns:
            if column.lower() in declared:
                self.problem(node, f"{what}: column '{column}' is both expected and absent")
        if mode == "exact":
            # In an exact table every key column must be one of the declared columns.
            keyed: list[tuple[str, PrimaryKeySpec | IndexSpec]] = [(f"index {i.name}", i) for i in indexes]
            if primary_key is not None:
                keyed.insert(0, ("primary key", primary_key))
            for label, spec in keyed:
                for column in spec.columns:
                    if column.lower() not in declared:
                        self.problems.append(Problem(spec.where.file, spec.where.line,
                                                     f"{what}: {label} names column '{column}', which is "
                                                     "not among the table's columns"
                                                     f"{_suggestion(column, [c.name for c in columns])}"))
        return TableSpec(schema, name, mode, tuple(columns), primary_key, tuple(indexes), tuple(checks),
                         tuple(c for c, _ in absent_columns), self.where(key_node))

    def columns(self, node: Node, table: str) -> list[ColumnSpec]:
        result: list[ColumnSpec] = []
        seen: dict[str, int] = {}
        for name, key_node, value in self.mapping(node, f"{table}: columns", item="column") or []:
            what = f"{table}: column {name}"
            line = key_node.start_mark.line + 1
            if name.lower() in seen:  # YAML keys are case-sensitive, column names are not
                self.problem(key_node, f"{table}: duplicate column '{name}' "
                                       f"(first at line {seen[name.lower()]})")
                continue
            seen[name.lower()] = line
            spec = self.column(name, key_node, value, what)
            if spec is not None:
                result.append(spec)
        return result

    def column(self, name: str, key_node: Node, value: Node, what: str) -> ColumnSpec | None:
        if isinstance(value, ScalarNode) and value.tag != _NULL_TAG:
            sql_type = self.sql_type(value, f"{what}: type")  # shorthand `name: varchar(50)`
            return None if sql_type is None else ColumnSpec(name, sql_type, where=self.where(key_node))
        entries = self.mapping(value, what, COLUMN_KEYS, required=("type",))
        if entries is None:
            return None
        sql_type = None
        nullable: bool | None = None
        identity: bool | None = None
        default: ExpectedDefault | None = None
        for field, _key, field_value in entries:
            if field == "type":
                sql_type = self.sql_type(field_value, f"{what}: type")
            elif field == "nullable":
                nullable = self.flag(field_value, f"{what}: nullable")
            elif field == "identity":
                identity = self.flag(field_value, f"{what}: identity")
            elif field == "default":
                raw = self.scalar(field_value, f"{what}: default")
                if raw is not _MISSING:
                    try:
                        default = expected_default(raw)
                    except ValueError as error:
                        self.problem(field_value, f"{what}: {error}")
            elif field == "description":
                self.text(field_value, f"{what}: description")
        if sql_type is None:
            return None
        return ColumnSpec(name, sql_type, nullable, default, identity, self.where(key_node))

    def primary_key(self, node: Node, table: str) -> PrimaryKeySpec | None:
        what = f"{table}: primary_key"
        if isinstance(node, SequenceNode):
            columns = self.names(node, f"{what} columns")
            return PrimaryKeySpec(tuple(c for c, _ in columns), None, self.where(node)) if columns else None
        entries = self.mapping(node, what, PRIMARY_KEY_KEYS, required=("columns",))
        if entries is None:
            return None
        name: str | None = None
        columns = None
        for field, _key, value in entries:
            if field == "name":
                name = self.text(value, f"{what}: name")
            else:
                columns = self.names(value, f"{what}: columns")
        if not columns:
            if columns is not None:
                self.problem(node, f"{what}: columns is empty")
            return None
        return PrimaryKeySpec(tuple(c for c, _ in columns), name, self.where(node))

    def indexes(self, node: Node, table: str) -> list[IndexSpec]:
        result: list[IndexSpec] = []
        seen: dict[str, int] = {}
        for name, key_node, value in self.mapping(node, f"{table}: indexes", item="index") or []:
            what = f"{table}: index {name}"
            if name.lower() in seen:
                self.problem(key_node, f"{table}: duplicate index '{name}' "
                                       f"(first at line {seen[name.lower()]})")
                continue
            seen[name.lower()] = key_node.start_mark.line + 1
            unique: bool | None = None
            columns = None
            if isinstance(value, SequenceNode):
                columns = self.names(value, f"{what}: columns")
            else:
                entries = self.mapping(value, what, INDEX_KEYS, required=("columns",)) or []
                for field, _key, field_value in entries:
                    if field == "unique":
                        unique = self.flag(field_value, f"{what}: unique")
                    else:
                        columns = self.names(field_value, f"{what}: columns")
            if columns is not None and not columns:
                self.problem(value, f"{what}: columns is empty")
            if columns:
                result.append(IndexSpec(name, tuple(c for c, _ in columns), unique, self.where(key_node)))
        return result

    def checks(self, node: Node, table: str) -> list[CheckSpec]:
        result: list[CheckSpec] = []
        for name, key_node, value in self.mapping(node, f"{table}: checks", item="check") or []:
            definition = None
            if not (isinstance(value, ScalarNode) and value.tag == _NULL_TAG):
                definition = self.text(value, f"{table}: check {name}")
            result.append(CheckSpec(name, definition, self.where(key_node)))
        return result

    def view(self, qualified: tuple[str, str], key_node: Node, body: Node) -> ViewSpec:
        schema, name = qualified
        what = f"view {schema}.{name}"
        columns: list[ViewColumnSpec] | None = None
        for field, _key, value in self._body(body, what, VIEW_KEYS):
            if field == "description":
                self.text(value, f"{what}: description")
            else:
                columns = self.ordered_list(value, f"{what}: columns", "column",
                                            lambda item: self.view_column(item, what))
        return ViewSpec(schema, name, None if columns is None else tuple(columns), self.where(key_node))

    def ordered_list(self, node: Node, what: str, label: str,
                     read: Callable[[Node], _Named | None]) -> list[_Named] | None:
        """A list whose entries are read by `read`; a name repeated (ignoring case) is reported."""
        items = self.sequence(node, what)
        if items is None:
            return None
        result: list[_Named] = []
        seen: dict[str, int] = {}
        for item in items:
            entry = read(item)
            if entry is None:
                continue
            if entry.name.lower() in seen:
                self.problem(item, f"{what}: duplicate {label} '{entry.name}' "
                                   f"(first at line {seen[entry.name.lower()]})")
                continue
            seen[entry.name.lower()] = item.start_mark.line + 1
            result.append(entry)
        return result

    def view_column(self, item: Node, view: str) -> ViewColumnSpec | None:
        if not isinstance(item, MappingNode):
            name = self.text(item, f"{view}: column name")
            return None if name is None else ViewColumnSpec(name)
        name = None
        sql_type = None
        for field, _key, value in self.mapping(item, f"{view}: column", VIEW_COLUMN_KEYS, ("name",)) or []:
            if field == "name":
                name = self.text(value, f"{view}: column name")
            else:
                sql_type = self.sql_type(value, f"{view}: column type")
        return None if name is None else ViewColumnSpec(name, sql_type)

    def procedure(self, qualified: tuple[str, str], key_node: Node, body: Node) -> ProcedureSpec:
        schema, name = qualified
        what = f"procedure {schema}.{name}"
        parameters: list[ParameterSpec] | None = None
        for field, _key, value in self._body(body, what, PROCEDURE_KEYS):
            if field == "description":
                self.text(value, f"{what}: description")
            else:
                parameters = self.ordered_list(value, f"{what}: parameters", "parameter",
                                               lambda item: self.parameter(item, what))
        return ProcedureSpec(schema, name, None if parameters is None else tuple(parameters),
                             self.where(key_node))

    def parameter(self, item: Node, procedure: str) -> ParameterSpec | None:
        entries = self.mapping(item, f"{procedure}: parameter", PARAMETER_KEYS, ("name", "type"))
        if entries is None:
            return None
        name = None
        sql_type = None
        output: bool | None = None
        for field, _key, value in entries:
            if field == "name":
                name = self.text(value, f"{procedure}: parameter name")
            elif field == "type":
                sql_type = self.sql_type(value, f"{procedure}: parameter type")
            else:
                output = self.flag(value, f"{procedure}: parameter output")
        if name is None or sql_type is None:
            return None
        # `@` cannot start a plain YAML value, so the prefix is optional in the file.
        return ParameterSpec(name if name.startswith("@") else "@" + name, sql_type, output)

    def absent(self, node: Node) -> list[AbsentSpec]:
        result: list[AbsentSpec] = []
        kinds: dict[str, ObjectKind] = {"tables": "table", "views": "view", "procedures": "procedure"}
        for field, _key, value in self.mapping(node, "absent", ABSENT_KEYS) or []:
            for _name, item in self.names(value, f"absent: {field}") or []:
                qualified = self.object_name(item, f"absent {kinds[field]} name")
                if qualified is not None:
                    result.append(AbsentSpec(kinds[field], *qualified, self.where(item)))
        return result


_MISSING = object()


#: libyaml's parser where PyYAML was built with it (about ten times faster on large files), else
#: PyYAML's own; both give nodes with the same line marks, so messages keep their file:line
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = yaml.resolver.Resolver()


def _compose(text: str, source: str) -> tuple[Node | None, list[Problem]]:
    if _LOADER is not yaml.SafeLoader:
        try:
            return yaml.compose(text, Loader=_LOADER), []
        except (yaml.YAMLError, RecursionError):
            # libyaml words its errors differently: only a broken file pays for a second reading,
            # which gives the message (and line) PyYAML gives everywhere else in the project.
            pass
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader), []
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (error.context, error.problem) if part) or str(error)
        return None, [Problem(source, line, f"invalid YAML: {reason}")]
    except yaml.YAMLError as error:  # e.g. a control character the reader refuses
        return None, [Problem(source, None, f"invalid YAML: {error}")]
    except RecursionError:
        return None, [Problem(source, None, "invalid YAML: nested too deeply")]


def _read(text: str, source: str) -> tuple[Expectations | None, list[Problem]]:
    root, problems = _compose(text, source)
    if problems:
        return None, problems
    if root is None:
        return None, [Problem(source, None,
                              "the file is empty (expected tables, views, procedures or absent)")]
    reader = _Reader(source)
    expectations = reader.document(root)
    return expectations, sorted(reader.problems, key=lambda p: p.line or 0)  # stable: file order


def _merge(parts: Sequence[Expectations]) -> tuple[Expectations, list[Problem]]:
    """Join files into one set; each object may be described once (tables, views and procedures
    share one namespace in SQL Server, and an object cannot be both expected and absent)."""
    problems: list[Problem] = []
    first: dict[str, Location] = {}
    tables: list[TableSpec] = []
    views: list[ViewSpec] = []
    procedures: list[ProcedureSpec] = []
    absent: list[AbsentSpec] = []

    def claim(spec: TableSpec | ViewSpec | ProcedureSpec | AbsentSpec, label: str) -> bool:
        name_key = object_key(spec.schema, spec.name)
        if name_key in first:
            problems.append(Problem(spec.where.file, spec.where.line,
                                    f"duplicate object {spec.qualified} ({label}); first described at "
                                    f"{first[name_key]}"))
            return False
        first[name_key] = spec.where
        return True

    for part in parts:
        tables.extend(spec for spec in part.tables if claim(spec, "table"))
        views.extend(spec for spec in part.views if claim(spec, "view"))
        procedures.extend(spec for spec in part.procedures if claim(spec, "procedure"))
        absent.extend(spec for spec in part.absent if claim(spec, f"absent {spec.kind}"))
    sources = tuple(source for part in parts for source in part.sources)
    return Expectations(tuple(tables), tuple(views), tuple(procedures), tuple(absent), sources), problems


def parse_expectations(text: str, source: str = "<string>") -> Expectations:
    """Expectations from one YAML document; raises ExpectationError listing every problem."""
    expectations, problems = _read(text, source)
    if expectations is not None and not problems:
        expectations, problems = _merge([expectations])
    if problems or expectations is None:
        raise ExpectationError(problems)
    return expectations


def _read_file(path: Path) -> tuple[Expectations | None, list[Problem]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return None, [Problem(str(path), None, f"not UTF-8 text (byte {error.start})")]
    except OSError as error:
        return None, [Problem(str(path), None, f"cannot read: {error.strerror or error}")]
    return _read(text, str(path))


def load_expectation_file(path: str | Path) -> Expectations:
    """Expectations from one YAML file; raises ExpectationError listing every problem."""
    expectations, problems = _read_file(Path(path))
    if expectations is not None and not problems:
        expectations, problems = _merge([expectations])
    if problems or expectations is None:
        raise ExpectationError(problems)
    return expectations


def load_expectations(directory: str | Path) -> Expectations:
    """Every `*.yaml` file directly in `directory` (sorted by name), merged into one set.

    Subdirectories are not read, so `expectations/schema/` and `expectations/after_rollback/`
    stay separate sets. Raises ExpectationError listing every problem in every file.
    """
    folder = Path(directory)
    if not folder.is_dir():
        raise ExpectationError([Problem(str(folder), None, "expectations directory not found")])
    files = sorted(p for p in folder.glob("*.yaml") if p.is_file())
    if not files:
        raise ExpectationError([Problem(str(folder), None, "no *.yaml expectation files in this directory")])
    parts: list[Expectations] = []
    problems: list[Problem] = []
    for path in files:
        part, found = _read_file(path)
        problems.extend(found)
        if part is not None:
            parts.append(part)
    merged, duplicates = _merge(parts)
    problems.extend(duplicates)
    if problems:
        raise ExpectationError(problems)
    return merged
