"""How well a ranking of intermediate tasks predicts measured transfer.

- :mod:`.metrics`: regret@k (and its exact expectation for a random ranking), Kendall's
  tau-b, bootstrap intervals;
- :mod:`.transfer`: the measured transfer of the shipped tasks (what fine-tuning on an
  intermediate task did to a target's accuracy), read from the table the ranking-quality
  evaluation writes, so a ranking can be shown next to what really happened.
"""

from __future__ import annotations

from .metrics import (
    bootstrap_interval,
    kendall_tau,
    mean_or_nan,
    random_regret_at_k,
    ranking_by,
    regret_at_k,
)
from .transfer import Measurement, TransferTable, shipped_transfer

__all__ = [
    "Measurement",
    "TransferTable",
    "bootstrap_interval",
    "kendall_tau",
    "mean_or_nan",
    "random_regret_at_k",
    "ranking_by",
    "regret_at_k",
    "shipped_transfer",
]
