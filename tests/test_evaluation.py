"""Ranking-quality measures: exact where exactness is claimed, and the transfer table."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.evaluation import (
    Measurement,
    TransferTable,
    bootstrap_interval,
    kendall_tau,
    random_regret_at_k,
    ranking_by,
    regret_at_k,
)
from registry.evaluation.transfer import TargetTransfer

scores = st.dictionaries(
    st.sampled_from("abcdefg"), st.floats(0.01, 1.0, allow_nan=False), min_size=1, max_size=6
)


@given(scores, st.integers(1, 6))
def test_random_regret_is_the_mean_over_every_ordering(measured: dict[str, float], k: int) -> None:
    exact = statistics.fmean(
        regret_at_k(list(o), measured, k) for o in itertools.permutations(measured)
    )
    assert random_regret_at_k(measured, k) == pytest.approx(exact, abs=1e-9)


def test_regret_is_zero_when_the_best_task_is_in_the_top_k() -> None:
    measured = {"a": 0.5, "b": 0.9, "c": 0.7}
    assert regret_at_k(["b", "a", "c"], measured, 1) == 0
    assert regret_at_k(["a", "c", "b"], measured, 2) == pytest.approx((0.9 - 0.7) / 0.9 * 100)
    assert regret_at_k(["a", "c", "b"], measured, 3) == 0
    with pytest.raises(ValueError):
        regret_at_k(["z"], measured, 1)


def test_kendall_tau_b_handles_ties_and_agrees_with_its_definition() -> None:
    assert kendall_tau([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # 2 concordant, 1 discordant, predicted tied in one pair: tau-b = 1 / sqrt(2 * 3)
    assert kendall_tau([1, 1, 2], [1, 2, 3]) == pytest.approx(2 / math.sqrt(2 * 3))
    assert math.isnan(kendall_tau([1, 1], [2, 2]))


def test_ranking_by_is_stable() -> None:
    assert ranking_by({"b": 1.0, "a": 1.0, "c": 2.0}) == ["c", "a", "b"]


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean() -> None:
    values = [0.61, 0.64, 0.58, 0.66, 0.63]
    mean, low, high = bootstrap_interval(values, seed=3)
    assert low <= mean <= high and mean == pytest.approx(statistics.fmean(values))
    assert bootstrap_interval(values, seed=3) == (mean, low, high)
    assert bootstrap_interval([0.5]) == (0.5, 0.5, 0.5)


def test_transfer_table_round_trips_and_refuses_other_formats() -> None:
    table = TransferTable(
        base_model="m",
        targets={
            "t/x": TargetTransfer(
                baseline=Measurement(0.5, 0.4, 0.6, (0.5,)),
                intermediate={"i/y": Measurement(0.6, 0.5, 0.7, (0.6,))},
            )
        },
        info={"command": "python benchmarks/eval_ranking_quality.py"},
    )
    again = TransferTable.from_json(table.to_json())
    assert again == table
    assert again.gain("t/x", "i/y") == pytest.approx(0.1)
    with pytest.raises(ValueError):
        TransferTable.from_json({"format": 99})
