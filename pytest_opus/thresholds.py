"""The Phase 0 thresholds in expectations/phase0.yaml, loaded and checked (file:line on mistakes).

Every key has one declared kind (a rate between 0 and 1, a whole number, a SQL query); a value of
another kind, a duplicate key, an unknown key or a key that is not plain text is an error naming its
line, never a silent default.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

#: the real-data sample on the target: the board mirror's rows, as they are (see docs/decisions.md)
DEFAULT_SAMPLE_QUERY = (
    "SELECT [Item ID] AS stg_monday_item_id, [AAG ORDER NUMBER], [ORDER STATUS], [ORDER QTY], "
    "[FINAL PRICES Y/N], [NOTES] FROM dbo.MON_CustMasterSchedule"
)


@dataclass(frozen=True)
class Thresholds:
    go_above: float = 0.95
    partial_above: float = 0.80
    mock_orders: int = 60
    mock_invalid_rows: int = 2
    sample_query: str = DEFAULT_SAMPLE_QUERY
    sample_size: int = 200


def _rate(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or not 0 <= value <= 1:
        raise ValueError("a rate between 0 and 1")
    return value


def _whole(text: str) -> int:
    value = float(text)
    if not math.isfinite(value) or value != int(value) or value < 0:
        raise ValueError("a whole number, 0 or more")
    return int(value)


def _query(text: str) -> str:
    if not text.strip().upper().startswith(("SELECT", "WITH")):
        raise ValueError("a SELECT query")
    return text.strip()


#: section -> key -> (how the value is read, the Thresholds field it sets)
_SHAPE: dict[str, dict[str, tuple[Callable[[str], Any], str]]] = {
    "success_rate": {"go_above": (_rate, "go_above"), "partial_above": (_rate, "partial_above")},
    "mock_batch": {"orders": (_whole, "mock_orders"), "invalid_rows": (_whole, "mock_invalid_rows")},
    "real_data": {"query": (_query, "sample_query"), "size": (_whole, "sample_size")},
}


def load_thresholds(path: Path) -> Thresholds:
    """Read phase0.yaml; a missing file means the seed's defaults (95% / 80%)."""
    if not path.exists():
        return Thresholds()
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text (save it as UTF-8)") from None
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None
    if root is None:
        return Thresholds()
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:1: expected a mapping with success_rate, mock_batch and real_data")
    fields: dict[str, Any] = {}
    problems: list[str] = []
    seen: set[str] = set()
    for key_node, section in root.value:
        where = f"{path}:{key_node.start_mark.line + 1}"
        key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
        if key not in _SHAPE:
            problems.append(f"{where}: unknown key {key!r} (expected one of: {', '.join(sorted(_SHAPE))})")
            continue
        if key in seen:
            problems.append(f"{where}: {key} appears twice (which one is meant?)")
            continue
        seen.add(key)
        if not isinstance(section, yaml.MappingNode):
            problems.append(f"{path}:{section.start_mark.line + 1}: {key} must be a mapping")
            continue
        inner: set[str] = set()
        for k_node, v_node in section.value:
            where = f"{path}:{k_node.start_mark.line + 1}"
            name = k_node.value if isinstance(k_node, yaml.ScalarNode) else None
            if name not in _SHAPE[key]:
                problems.append(f"{where}: unknown key {key}.{name} "
                                f"(expected one of: {', '.join(sorted(_SHAPE[key]))})")
                continue
            if name in inner:
                problems.append(f"{where}: {key}.{name} appears twice (which value is meant?)")
                continue
            inner.add(name)
            read, field = _SHAPE[key][name]
            if not isinstance(v_node, yaml.ScalarNode) or v_node.tag not in ("tag:yaml.org,2002:str",
                                                                              "tag:yaml.org,2002:int",
                                                                              "tag:yaml.org,2002:float"):
                problems.append(f"{where}: {key}.{name} must be a plain value, not {v_node.tag}")
                continue
            try:
                fields[field] = read(v_node.value)
            except ValueError as error:
                expected = error.args[0] if error.args and " " in str(error.args[0]) else "a number"
                problems.append(f"{where}: {key}.{name} must be {expected}, not {v_node.value!r}")
    t = Thresholds(**fields)
    if not 0 <= t.partial_above <= t.go_above <= 1:
        problems.append(f"{path}: thresholds must satisfy 0 <= partial_above <= go_above <= 1")
    if t.mock_invalid_rows < 1 or t.mock_invalid_rows >= t.mock_orders:
        problems.append(f"{path}: mock_batch.invalid_rows must be at least 1 and below mock_batch.orders "
                        "(the batch needs known-invalid rows, so 100% cannot be reached by accepting everything)")
    if t.sample_size < 1:
        problems.append(f"{path}: real_data.size must be at least 1")
    if problems:
        raise ConfigError("invalid Phase 0 thresholds:\n  " + "\n  ".join(problems))
    return t
