"""The conformance probes (tests/conformance/*.yaml): read strictly, and written as the table in the docs.

Run `python tests/conformance/table.py` from the project root to rewrite the table in
docs/embedded-runner.md (between `<!-- conformance:begin -->` and `<!-- conformance:end -->`);
`tests/conformance/test_conformance.py` runs every probe on the sandbox and fails when that table is
out of date. The format of a probe is described in the docs' "Conformance" section.

PyYAML's SafeLoader is used with two changes: a key given twice in one mapping is an error (PyYAML
would keep the last one silently), and `!decimal "12.50"` is a decimal with its scale (plain YAML has
no such type: `12.50` would be the float 12.5).
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, ScalarNode

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DOC = ROOT / "docs" / "embedded-runner.md"
BEGIN = "<!-- conformance:begin -->"
END = "<!-- conformance:end -->"
REGENERATE = "python tests/conformance/table.py"

KEYS = ("id", "construct", "setup", "sql", "sqlserver", "doc", "sandbox", "known_difference")
REQUIRED = ("id", "construct", "sql", "sqlserver", "doc", "sandbox")
EXPECTATIONS = ("rows", "error", "messages")
SANDBOX = ("same", "refused")
ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
#: a documented result must come from Microsoft's documentation (or the SQL Server docs' own repository)
DOC_URL = re.compile(r"https://(learn\.microsoft\.com|github\.com/MicrosoftDocs)/\S+")
SCALARS = (type(None), int, float, str, Decimal, datetime.date)


class ProbeError(Exception):
    """A probe file that does not follow the format; the message names the file, the probe and the fix."""


@dataclass(frozen=True)
class Probe:
    id: str
    construct: str
    sql: str
    doc: str
    sandbox: str  # what the sandbox is meant to do: "same" or "refused"
    file: str  # e.g. "arithmetic.yaml"
    line: int
    setup: str | None = None
    rows: list[list[Any]] | None = None
    error: int | None = None
    message: str | None = None  # a substring of SQL Server's error text
    messages: list[str] | None = None
    known_difference: str | None = None  # why the sandbox gives another answer today (a strict xfail)

    @property
    def sandbox_result(self) -> str:
        return "DIFFERENT" if self.known_difference else self.sandbox


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads `!decimal` scalars."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ProbeError(f"line {key_node.start_mark.line + 1}: the key {key!r} is given twice")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _decimal(loader: yaml.SafeLoader, node: yaml.Node) -> Decimal:
    assert isinstance(node, ScalarNode)
    text = loader.construct_scalar(node)
    try:
        value = Decimal(str(text))
    except InvalidOperation:
        raise ProbeError(f"line {node.start_mark.line + 1}: !decimal {text!r} is not a decimal number "
                         "(write it with its scale, e.g. !decimal \"12.50\")") from None
    if not value.is_finite():
        raise ProbeError(f"line {node.start_mark.line + 1}: !decimal {text!r} is not a finite decimal")
    return value


_Loader.add_constructor("!decimal", _decimal)


def _check_value(value: Any, where: str) -> None:
    if isinstance(value, bool):  # SQLite has no boolean; a bit is the number 0 or 1 on both sides
        raise ProbeError(f"{where}: {value!r}: write a bit as 0 or 1")
    if not isinstance(value, SCALARS):
        raise ProbeError(f"{where}: {value!r} is not a single value (use null, a number, !decimal \"1.50\", "
                         "a string or a date)")


def _probe(entry: Any, file: str, index: int) -> Probe:
    where = f"{file}: probe {index + 1}"
    if not isinstance(entry, dict):
        raise ProbeError(f"{where}: a probe is a mapping with the keys {', '.join(REQUIRED)}")
    if isinstance(entry.get("id"), str):
        where = f"{file}: probe {entry['id']!r}"
    unknown = sorted(str(k) for k in entry if k not in KEYS)
    if unknown:
        raise ProbeError(f"{where}: unknown key(s) {', '.join(unknown)}; a probe has only {', '.join(KEYS)}")
    missing = [k for k in REQUIRED if entry.get(k) in (None, "")]
    if missing:
        raise ProbeError(f"{where}: missing {', '.join(missing)}")
    for key in ("id", "construct", "sql", "doc", "sandbox"):
        if not isinstance(entry[key], str):
            raise ProbeError(f"{where}: {key} must be a string, not {entry[key]!r}")
    probe_id: str = entry["id"]
    if not ID.fullmatch(probe_id):
        raise ProbeError(f"{where}: the id must be kebab-case (lower-case letters, digits and '-')")
    if not DOC_URL.fullmatch(entry["doc"]):
        raise ProbeError(f"{where}: doc must be the Microsoft documentation page the result comes from "
                         f"(https://learn.microsoft.com/...), not {entry['doc']!r}")
    if entry["sandbox"] not in SANDBOX:
        raise ProbeError(f"{where}: sandbox must be one of {', '.join(SANDBOX)}, not {entry['sandbox']!r}")
    for key in ("setup", "known_difference"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            raise ProbeError(f"{where}: {key} must be a non-empty string when given")
    if "|" in entry["construct"] or "\n" in entry["construct"].strip():
        raise ProbeError(f"{where}: construct is one line without '|' (it is a cell of the docs table)")
    expected = entry["sqlserver"]
    if not isinstance(expected, dict):
        raise ProbeError(f"{where}: sqlserver must be a mapping with exactly one of {', '.join(EXPECTATIONS)}")
    given = [k for k in EXPECTATIONS if k in expected]
    extra = sorted(str(k) for k in expected if k not in (*EXPECTATIONS, "message"))
    if len(given) != 1 or extra:
        raise ProbeError(f"{where}: sqlserver must give exactly one of {', '.join(EXPECTATIONS)} "
                         f"(and 'message' only with 'error'); it has {', '.join(map(str, expected)) or 'nothing'}")
    rows = messages = error = message = None
    if "rows" in expected:
        rows = expected["rows"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise ProbeError(f"{where}: sqlserver.rows is a list of rows, each a list of values: [[1, 'a']]")
        for row in rows:
            for value in row:
                _check_value(value, f"{where}: sqlserver.rows")
    if "messages" in expected:
        messages = expected["messages"]
        if not isinstance(messages, list) or not all(isinstance(m, str) for m in messages):
            raise ProbeError(f"{where}: sqlserver.messages is a list of strings, one per line of output")
    if "error" in expected:
        error = expected["error"]
        if not isinstance(error, int) or isinstance(error, bool) or error <= 0:
            raise ProbeError(f"{where}: sqlserver.error is SQL Server's error number, not {error!r}")
    if "message" in expected:
        if "error" not in expected:
            raise ProbeError(f"{where}: sqlserver.message goes with sqlserver.error")
        message = expected["message"]
        if not isinstance(message, str) or not message:
            raise ProbeError(f"{where}: sqlserver.message is a non-empty substring of SQL Server's error text")
    return Probe(id=probe_id, construct=entry["construct"].strip(), sql=entry["sql"], doc=entry["doc"],
                 sandbox=entry["sandbox"], file=file, line=0, setup=entry.get("setup"), rows=rows, error=error,
                 message=message, messages=messages, known_difference=entry.get("known_difference"))


def load_file(path: Path) -> list[Probe]:
    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass: no arbitrary objects
        nodes = yaml.compose(text, Loader=yaml.SafeLoader)
    except ProbeError as error:
        raise ProbeError(f"{path.name}: {error}") from None
    except yaml.YAMLError as error:
        raise ProbeError(f"{path.name}: not valid YAML: {error}") from None
    if data is None:
        return []
    if not isinstance(data, list):
        raise ProbeError(f"{path.name}: the file is a list of probes ('- id: ...'), not a {type(data).__name__}")
    lines = [n.start_mark.line + 1 for n in nodes.value] if nodes is not None else []
    probes = []
    for index, entry in enumerate(data):
        probe = _probe(entry, path.name, index)
        probes.append(dataclasses.replace(probe, line=lines[index]))
    return probes


def load(directory: Path = HERE) -> list[Probe]:
    """Every probe of every *.yaml file in `directory`, in file order; ids must be unique across files."""
    probes: list[Probe] = []
    seen: dict[str, Probe] = {}
    for path in sorted(directory.glob("*.yaml")):
        for probe in load_file(path):
            if probe.id in seen:
                first = seen[probe.id]
                raise ProbeError(f"{probe.file}:{probe.line}: probe {probe.id!r} has the id of the probe at "
                                 f"{first.file}:{first.line}; give each probe its own id")
            seen[probe.id] = probe
            probes.append(probe)
    return probes


# -- the docs table -----------------------------------------------------------------------------------
def _value(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("\n", "\\n") + "'"
    if isinstance(value, datetime.date):
        return value.isoformat(sep=" ") if isinstance(value, datetime.datetime) else value.isoformat()
    return str(value)


def expected_text(probe: Probe) -> str:
    if probe.error is not None:
        text = f"error {probe.error}"
        return f"{text}: {probe.message}" if probe.message else text
    if probe.messages is not None:
        return "prints " + " / ".join(_value(m) for m in probe.messages) if probe.messages else "prints nothing"
    assert probe.rows is not None
    if not probe.rows:
        return "no rows"
    shown = "; ".join(", ".join(_value(v) for v in row) for row in probe.rows[:3])
    return shown + (f"; ... ({len(probe.rows)} rows)" if len(probe.rows) > 3 else "")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("`", "'").replace("\n", " ")


def render(probes: Sequence[Probe]) -> str:
    """The table, one row per probe, grouped by file."""
    counts = {k: sum(p.sandbox_result == k for p in probes) for k in ("same", "refused", "DIFFERENT")}
    lines = [
        f"{len(probes)} probes: {counts['same']} same, {counts['refused']} refused, "
        f"{counts['DIFFERENT']} DIFFERENT (generated from `tests/conformance/*.yaml` by `{REGENERATE}`).",
        "",
        "| construct | SQL Server's result | sandbox | probe | documented in |",
        "|---|---|---|---|---|",
    ]
    for p in probes:
        page = p.doc.rstrip("/").rsplit("/", 1)[-1] or p.doc
        sandbox = f"**DIFFERENT**: {_cell(p.known_difference)}" if p.known_difference else p.sandbox_result
        lines.append(f"| {_cell(p.construct)} | {_cell(expected_text(p))} | {sandbox} | "
                     f"`{p.file.removesuffix('.yaml')}/{p.id}` | [{_cell(page)}]({p.doc}) |")
    return "\n".join(lines) + "\n"


def replace_table(document: str, table: str) -> str:
    """`document` with the text between the markers replaced by `table`."""
    if document.count(BEGIN) != 1 or document.count(END) != 1 or document.index(BEGIN) > document.index(END):
        raise ProbeError(f"{DOC.relative_to(ROOT)} must hold the markers {BEGIN} and {END} once each, in "
                         "that order, in its Conformance section")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def main(argv: Sequence[str] = ()) -> int:
    try:
        probes = load()
        document = DOC.read_text(encoding="utf-8")
        updated = replace_table(document, render(probes))
    except ProbeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if updated != document:
        DOC.write_text(updated, encoding="utf-8")
        print(f"{DOC.relative_to(ROOT)}: conformance table rewritten ({len(probes)} probes)")
    else:
        print(f"{DOC.relative_to(ROOT)}: conformance table already up to date ({len(probes)} probes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
