"""The Ranking result (registry.ranker.ranking): order, ranks, tables and exports."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
from esm_factory import make_metadata

from registry.ranker import ranking as ranking_module
from registry.ranker.ranking import COLUMNS, RankedEsm, Ranking, SkippedEsm


def _ranking(count: int = 12) -> Ranking:
    entries = [
        RankedEsm(
            0,
            -1.0 + 0.01 * ((i * 7) % count),
            f"alice/esm{i}",
            f"{i:040x}",
            make_metadata(
                i,
                task={
                    "task_id": f"org/task{i}",
                    "subset": "a|b",
                    "text_column": ["q", "a"],
                    "label_column": "label",
                    "split": "train",
                    "num_examples": 100 + i,
                },
            ),
            converged=i != 3,
        )
        for i in range(count)
    ]
    return Ranking(
        entries,
        base_model="bert-base-uncased",
        pooling="pooler",
        target={"source": "reviews.csv", "num_examples": 100},
        skipped=[SkippedEsm("alice/broken", "not a safetensors file")],
        notes=["LogME did not converge for 1 of 12 ESMs"],
    )


def test_sorted_best_first_with_ranks() -> None:
    ranking = _ranking()
    assert len(ranking) == 12
    assert ranking.scores == sorted(ranking.scores, reverse=True)
    assert [e.rank for e in ranking] == list(range(1, 13))
    assert ranking[0].repo_id == "alice/esm5"  # (5 * 7) % 12 == 11, the highest
    assert ranking[-1].rank == 12


def test_ties_are_ordered_by_name_and_nan_goes_last() -> None:
    meta = make_metadata(0)
    ranking = Ranking(
        [
            RankedEsm(0, 0.5, "b/esm", None, meta),
            RankedEsm(0, math.nan, "a/nan", None, meta),
            RankedEsm(0, 0.5, "a/esm", None, meta),
        ],
        base_model="m",
    )
    assert ranking.repo_ids == ["a/esm", "b/esm", "a/nan"]


def test_slices_keep_ranks_and_context() -> None:
    ranking = _ranking()
    top = ranking[:3]
    assert isinstance(top, Ranking)
    assert [e.rank for e in top] == [1, 2, 3]
    assert top.skipped == ranking.skipped and top.notes == ranking.notes
    assert [e.rank for e in ranking[5:7]] == [6, 7]


def test_str_shows_the_top_ten_and_the_skipped() -> None:
    text = str(_ranking())
    lines = text.splitlines()
    assert lines[0].split() == ["RANK", "SCORE", "TASK", "ESM"]
    assert len([line for line in lines if re.match(r"\s*\d+\s+-?\d", line)]) == 10
    assert "… 2 more" in text
    assert "alice/broken: not a safetensors file" in text
    assert "org/task5 (a|b)" in lines[1]
    assert "-0.890000" in lines[1]
    assert "Ranking(12 tasks" in repr(_ranking())


def test_entry_fields() -> None:
    entry = _ranking()[0]
    assert entry.task_id == "org/task5" and entry.task_subset == "a|b"
    assert entry.text_column == "q,a" and entry.label_column == "label"
    assert entry.task_split == "train" and entry.num_examples == 105
    assert entry.architecture == "linear" and entry.base_model == "bert-base-uncased"
    assert entry.language == ["en"]
    row = entry.to_dict()
    assert list(row)[: len(COLUMNS)] == list(COLUMNS)
    assert row["task_id"] == "org/task5" and row["esm_architecture"] == "linear"


def test_to_pandas() -> None:
    frame = _ranking().to_pandas()
    assert frame.index.name == "rank"
    assert list(frame.index) == list(range(1, 13))
    assert {"score", "repo_id", "task_id", "task_subset", "num_examples"} <= set(frame.columns)
    assert not frame.loc[frame["repo_id"] == "alice/esm3", "converged"].item()


def test_to_markdown_escapes_cells() -> None:
    text = _ranking().to_markdown(top=2)
    lines = text.splitlines()
    assert lines[0].startswith("| rank | score | task_id |")
    assert lines[1].startswith("|---:|---:|---|")
    assert len(lines) == 4
    assert "a\\|b" in lines[2] and "q,a" in lines[2]


def test_to_json_round_trips() -> None:
    data = json.loads(_ranking().to_json())
    assert data["base_model"] == "bert-base-uncased" and data["pooling"] == "pooler"
    assert data["target"]["source"] == "reviews.csv"
    assert [e["rank"] for e in data["entries"]] == list(range(1, 13))
    assert data["entries"][0]["text_column"] == ["q", "a"]
    assert data["skipped"] == [{"source": "alice/broken", "reason": "not a safetensors file"}]
    assert data["notes"]
    assert len(json.loads(_ranking().to_json(top=3))["entries"]) == 3


def test_to_csv_parses() -> None:
    rows = list(csv.DictReader(io.StringIO(_ranking().to_csv())))
    assert len(rows) == 12
    assert rows[0]["rank"] == "1" and rows[0]["repo_id"] == "alice/esm5"
    assert rows[0]["text_column"] == "q,a"
    assert float(rows[0]["score"]) == pytest.approx(-0.89)
    assert len(list(csv.DictReader(io.StringIO(_ranking().to_csv(top=4))))) == 4


def test_empty_ranking() -> None:
    empty = Ranking([], base_model="bert", skipped=[SkippedEsm("a/b", "broken")])
    assert len(empty) == 0
    assert str(empty).startswith("no ESM was ranked for bert")
    assert json.loads(empty.to_json())["entries"] == []
    assert empty.to_csv().startswith("rank,score,repo_id,sha,converged")


def test_public_api_is_all() -> None:
    public = {name for name in vars(ranking_module) if not name.startswith("_")}
    assert set(ranking_module.__all__) <= public
