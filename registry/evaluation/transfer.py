"""The measured transfer of the shipped tasks: what a ranking can be checked against.

The ranking-quality evaluation (``benchmarks/eval_ranking_quality.py``) fine-tunes the base
model on each shipped intermediate task, then on each shipped target, and measures the
target's test accuracy over several seeds. It writes the outcome as a JSON table, and a
copy ships as ``registry/data/transfer.json`` so that the quickstart can print the
measured gain next to each rank.

Example:
    >>> table = TransferTable.from_json({"format": 1, "base_model": "m", "targets": {
    ...     "t/x": {"baseline": {"mean": 0.5, "low": 0.45, "high": 0.55, "seeds": [0.5]},
    ...             "intermediate": {"i/y": {"mean": 0.56, "low": 0.5, "high": 0.6,
    ...                                      "seeds": [0.56]}}}}})
    >>> round(table.gain("t/x", "i/y"), 6), table.gain("t/x", "i/z")
    (0.06, None)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .._json import load_json, load_json_file

__all__ = ["TRANSFER_FORMAT", "Measurement", "TransferTable", "shipped_transfer"]

#: Version of the table's layout.
TRANSFER_FORMAT = 1
_SHIPPED = "transfer.json"


@dataclass(frozen=True)
class Measurement:
    """A target's test accuracy over seeds: mean and a bootstrap interval."""

    mean: float
    low: float
    high: float
    seeds: tuple[float, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Measurement:
        values = tuple(float(value) for value in data.get("seeds") or ())
        mean, low, high = (float(data[key]) for key in ("mean", "low", "high"))
        if not all(math.isfinite(number) for number in (mean, low, high, *values)):
            raise ValueError("a measurement holds a non-finite number")
        return cls(mean, low, high, seeds=values)

    def to_json(self) -> dict[str, Any]:
        return {"mean": self.mean, "low": self.low, "high": self.high, "seeds": list(self.seeds)}


@dataclass(frozen=True)
class TargetTransfer:
    """One target: its accuracy without intermediate training, and after each task."""

    baseline: Measurement
    intermediate: Mapping[str, Measurement] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferTable:
    """Measured transfer, target by target (see the module docstring).

    Attributes:
        base_model: The model that was fine-tuned.
        targets: Target task -> its baseline and the accuracy after each intermediate task.
        info: Everything else the evaluation recorded (command, versions, settings).
    """

    base_model: str
    targets: Mapping[str, TargetTransfer]
    info: Mapping[str, Any] = field(default_factory=dict)

    def gain(self, target: str, intermediate: str) -> float | None:
        """Mean accuracy after ``intermediate`` minus the baseline; ``None`` if unmeasured."""
        known = self.targets.get(target)
        if known is None or intermediate not in known.intermediate:
            return None
        return known.intermediate[intermediate].mean - known.baseline.mean

    @classmethod
    def from_json(cls, data: Any) -> TransferTable:
        """Read the table written by :meth:`to_json`.

        Raises:
            ValueError: not a transfer table of a known format.
        """
        if not isinstance(data, dict) or data.get("format") != TRANSFER_FORMAT:
            raise ValueError(f"not a transfer table of format {TRANSFER_FORMAT}")
        targets = {}
        for name, entry in dict(data.get("targets") or {}).items():
            targets[str(name)] = TargetTransfer(
                baseline=Measurement.from_json(entry["baseline"]),
                intermediate={
                    str(task): Measurement.from_json(value)
                    for task, value in dict(entry.get("intermediate") or {}).items()
                },
            )
        info = {k: v for k, v in data.items() if k not in ("format", "base_model", "targets")}
        return cls(base_model=str(data["base_model"]), targets=targets, info=info)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": TRANSFER_FORMAT,
            "base_model": self.base_model,
            **dict(self.info),
            "targets": {
                name: {
                    "baseline": target.baseline.to_json(),
                    "intermediate": {
                        task: value.to_json() for task, value in target.intermediate.items()
                    },
                }
                for name, target in self.targets.items()
            },
        }

    @classmethod
    def load(cls, path: str | Path) -> TransferTable:
        """Read a table from a JSON file (bounded like every JSON this package reads)."""
        return cls.from_json(load_json_file(path, max_depth=8))


def shipped_transfer() -> TransferTable | None:
    """The table that ships with the package, or ``None`` when this build has none."""
    source = resources.files("registry.data").joinpath(_SHIPPED)
    if not source.is_file():
        return None
    return TransferTable.from_json(load_json(source.read_bytes(), max_depth=8))
