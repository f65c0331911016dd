"""The Phase 0 thresholds in expectations/phase0.yaml, loaded and checked (file:line on mistakes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import ConfigError

_SHAPE = {"success_rate": {"go_above", "partial_above"}, "mock_batch": {"orders", "invalid_rows"}}


@dataclass(frozen=True)
class Thresholds:
    go_above: float = 0.95
    partial_above: float = 0.80
    mock_orders: int = 60
    mock_invalid_rows: int = 2


def load_thresholds(path: Path) -> Thresholds:
    """Read phase0.yaml; a missing file means the seed's defaults (95% / 80%)."""
    if not path.exists():
        return Thresholds()
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(error, 'problem', error)})") from None
    values: dict[str, float] = {}
    problems: list[str] = []
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:1: expected a mapping with success_rate and mock_batch")
    for key_node, section in root.value:
        key = key_node.value
        if key not in _SHAPE:
            problems.append(f"{path}:{key_node.start_mark.line + 1}: unknown key {key!r} "
                            f"(expected one of: {', '.join(sorted(_SHAPE))})")
            continue
        if not isinstance(section, yaml.MappingNode):
            problems.append(f"{path}:{section.start_mark.line + 1}: {key} must be a mapping")
            continue
        for k_node, v_node in section.value:
            where = f"{path}:{k_node.start_mark.line + 1}"
            if k_node.value not in _SHAPE[key]:
                problems.append(f"{where}: unknown key {key}.{k_node.value} "
                                f"(expected one of: {', '.join(sorted(_SHAPE[key]))})")
                continue
            try:
                values[f"{key}.{k_node.value}"] = float(v_node.value)
            except (TypeError, ValueError):
                problems.append(f"{where}: {key}.{k_node.value} must be a number, not {v_node.value!r}")
    t = Thresholds(
        go_above=values.get("success_rate.go_above", 0.95),
        partial_above=values.get("success_rate.partial_above", 0.80),
        mock_orders=int(values.get("mock_batch.orders", 60)),
        mock_invalid_rows=int(values.get("mock_batch.invalid_rows", 2)),
    )
    if not 0 <= t.partial_above <= t.go_above <= 1:
        problems.append(f"{path}: thresholds must satisfy 0 <= partial_above <= go_above <= 1")
    if t.mock_invalid_rows < 1 or t.mock_invalid_rows >= t.mock_orders:
        problems.append(f"{path}: mock_batch.invalid_rows must be at least 1 and below mock_batch.orders "
                        "(the batch needs known-invalid rows, so 100% cannot be reached by accepting everything)")
    if problems:
        raise ConfigError("invalid Phase 0 thresholds:\n  " + "\n  ".join(problems))
    return t
