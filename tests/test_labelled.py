"""The labelled-data loader (registry.labelled): text joining and hfselect's sample."""

from __future__ import annotations

import pytest
from rank_support import require

from registry.errors import UsageError
from registry.labelled import TEXT_SEPARATOR, join_columns, sample_indices

datasets = pytest.importorskip("datasets")


def test_join_columns_matches_hfselect() -> None:
    dataset = require("hfselect.dataset")
    assert dataset.TEXT_SEPARATOR == TEXT_SEPARATOR
    rows = [{"premise": "a b", "hypothesis": "c"}, {"premise": "d", "hypothesis": "e f"}]
    reference = dataset.Dataset.__new__(dataset.Dataset)
    reference.text_col = ["premise", "hypothesis"]
    expected = reference._preprocess_texts(rows)
    joined = join_columns([[r["premise"] for r in rows], [r["hypothesis"] for r in rows]])
    assert joined == expected == ["a b [SEP] c", "d [SEP] e f"]
    with pytest.raises(UsageError):
        join_columns([["a"], ["b", "c"]])


def test_sample_indices_is_datasets_shuffle_then_select() -> None:
    data = datasets.Dataset.from_dict({"i": list(range(50))})
    for count, seed in [(10, 42), (50, 0), (80, 7)]:
        expected = data.shuffle(seed=seed).select(range(min(50, count)))["i"]
        assert sample_indices(50, count, seed).tolist() == list(expected)
    assert sample_indices(4, None, seed=1).tolist() == [0, 1, 2, 3]
