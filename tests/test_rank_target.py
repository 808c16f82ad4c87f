"""Loading targets (registry.ranker.target): every input kind, label kinds, hfselect's sample."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_support import require

from registry.errors import DatasetError, UsageError
from registry.labelled import sample_indices
from registry.ranker.target import Target, load_target

pd = pytest.importorskip("pandas")
datasets = pytest.importorskip("datasets")

ROWS = [
    {"text": f"text {i}", "other": f"other {i}", "label": ["neg", "pos", "neutral"][i % 3]}
    for i in range(30)
]


def _frame() -> Any:
    return pd.DataFrame(ROWS)


def _write(frame: Any, path: Path) -> Path:
    suffix = path.suffix
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix in (".jsonl", ".ndjson"):
        frame.to_json(path, orient="records", lines=True)
    elif suffix == ".json":
        frame.to_json(path, orient="records")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".json", ".jsonl", ".parquet"])
def test_files_load_like_the_dataframe(tmp_path: Path, suffix: str) -> None:
    path = _write(_frame(), tmp_path / f"target{suffix}")
    loaded = load_target(path, num_examples=10, seed=3)
    expected = load_target(_frame(), num_examples=10, seed=3)
    assert loaded.texts == expected.texts
    np.testing.assert_array_equal(loaded.labels, expected.labels)
    assert loaded.label_names == ("neg", "neutral", "pos")
    assert loaded.source == str(path)
    # A string path works too.
    assert load_target(str(path), num_examples=10, seed=3).texts == expected.texts


def test_json_file_holding_json_lines(tmp_path: Path) -> None:
    path = _write(_frame(), tmp_path / "lines.jsonl").rename(tmp_path / "lines.json")
    assert load_target(path, num_examples=None).texts == [r["text"] for r in ROWS]


def test_in_memory_sources_agree() -> None:
    expected = load_target(_frame(), num_examples=None)
    texts = [r["text"] for r in ROWS]
    labels = [r["label"] for r in ROWS]
    columns = {"text": texts, "label": labels}
    for source in (
        (texts, labels),
        columns,
        datasets.Dataset.from_dict(columns),
        datasets.DatasetDict({"train": datasets.Dataset.from_dict(columns)}),
    ):
        split = "train" if isinstance(source, datasets.DatasetDict) else None
        loaded = load_target(source, num_examples=None, split=split)
        assert loaded.texts == expected.texts
        np.testing.assert_array_equal(loaded.labels, expected.labels)
    assert expected.texts == texts
    assert load_target(expected) is expected


def test_several_text_columns_are_joined() -> None:
    target = load_target(_frame(), text_column=["text", "other"], num_examples=None)
    assert target.texts[0] == "text 0 [SEP] other 0"
    assert target.text_columns == ("text", "other")


def test_class_label_keeps_its_names_and_drops_minus_one() -> None:
    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["sad", "happy", "angry"]),
        }
    )
    data = datasets.Dataset.from_dict(
        {"text": ["a", "b", "c", "d", "e"], "label": [2, 0, -1, 2, 0]}, features=features
    )
    target = load_target(data, num_examples=None)
    assert target.texts == ["a", "b", "d", "e"]
    assert target.label_names == ("sad", "angry")
    assert target.labels.tolist() == [1, 0, 1, 0]
    assert target.indices.tolist() == [0, 1, 3, 4]
    assert target.num_rows == 4


@pytest.mark.parametrize(
    ("labels", "names", "codes"),
    [
        ([3, 7, 3, -1, 5], ("3", "5", "7"), [0, 2, 0, 1]),
        ([True, False, True, True, False], ("False", "True"), [1, 0, 1, 1, 0]),
        ([1.0, 0.0, 1.0, 2.0, 0.0], ("0", "1", "2"), [1, 0, 1, 2, 0]),
        (["b", "a", "c", "a", "b"], ("a", "b", "c"), [1, 0, 2, 0, 1]),
    ],
)
def test_label_kinds_become_codes(
    labels: list[Any], names: tuple[str, ...], codes: list[int]
) -> None:
    target = load_target({"text": list("vwxyz"), "label": labels}, num_examples=None)
    assert target.label_names == names
    assert target.labels.tolist() == codes
    assert target.labels.dtype == np.int64


def test_regression_with_one_and_several_targets() -> None:
    frame = pd.DataFrame({"text": ["a", "b", "c"], "y": [0.5, 1.5, -1.0], "z": [1, 2, 3]})
    one = load_target(frame, label_column="y", regression=True, num_examples=None)
    assert one.regression and one.num_classes is None
    assert one.labels.tolist() == [0.5, 1.5, -1.0]  # -1 is a value here, not "no label"
    both = load_target(frame, label_column=["y", "z"], regression=True, num_examples=None)
    assert both.labels.shape == (3, 2)
    assert both.labels.dtype == np.float64


def test_text_that_reads_like_a_missing_value_stays_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("text,label\nNA,1\nnull,0\nNone,1\n", encoding="utf-8")
    assert load_target(path, num_examples=None).texts == ["NA", "null", "None"]


@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        ({"text": ["a", "b"], "y": [1, 0]}, {"label_column": ["y", "y"]}, "names a column twice"),
        ({"text": ["a"], "y": [1], "z": [2]}, {"label_column": ["y", "z"]}, "regression=True"),
        ({"text": ["a"], "label": [1]}, {"label_column": "text"}, "both a text and a label"),
        ({"text": ["a"], "label": [1]}, {"num_examples": 0}, "at least 1"),
        ("missing.csv", {}, "no such file"),
        (Path("missing"), {}, "no such file"),
        (42, {}, "cannot use a int"),
    ],
)
def test_usage_errors(source: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        load_target(source, **kwargs)


@pytest.mark.parametrize(
    ("source", "kwargs", "message"),
    [
        ({"text": ["a"], "label": [1]}, {"text_column": "sentence"}, "no column 'sentence'"),
        ({"text": [], "label": []}, {}, "no rows"),
        ({"text": ["a", "b"], "label": [-1, -1]}, {}, "no usable rows: 2 labelled -1"),
        ({"text": [None, 3], "label": [1, 0]}, {}, "no usable rows: 2 whose text is missing"),
        ({"text": ["a", "b"], "label": [0.5, 1.0]}, {}, "regression=True"),
        ({"text": ["a", "b"], "label": [1, "x"]}, {}, "mixes value types"),
        ({"text": ["a", "b"], "label": ["x", "1.0"]}, {"regression": True}, "not numeric"),
        ({"text": ["a", "b"], "label": [1.0, float("inf")]}, {"regression": True}, "infinite"),
    ],
)
def test_dataset_errors(source: Any, kwargs: dict[str, Any], message: str) -> None:
    """A source that cannot be used is a DatasetError (exit code 1), named in the message."""
    with pytest.raises(DatasetError, match=message) as exc:
        load_target(source, **kwargs)
    assert "dict" in str(exc.value)


def test_errors_for_datasets_and_files(tmp_path: Path) -> None:
    split = datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": ["a"]})})
    with pytest.raises(UsageError, match="pick one with split="):
        load_target(split)
    with pytest.raises(DatasetError, match="no split 'test'"):
        load_target(split, split="test")
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"")
    with pytest.raises(DatasetError, match=r"cannot read .*unknown file type"):
        load_target(odd)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(DatasetError, match="cannot read"):
        load_target(broken)


def test_rows_without_a_label_or_text_are_dropped_before_sampling(
    caplog: pytest.LogCaptureFixture,
) -> None:
    labels: list[Any] = [0, 1] * 10
    labels[0] = None
    texts: list[Any] = [f"t{i}" for i in range(20)]
    texts[5] = None
    source = {"text": texts, "label": labels}
    with caplog.at_level(logging.INFO, logger="registry.labelled"):
        everything = load_target(source, num_examples=None)
    assert len(everything) == 18 and everything.num_rows == 18
    assert 0 not in everything.indices and 5 not in everything.indices
    assert "dropped 2 of 20 rows of dict before sampling" in caplog.text
    assert "1 without a label" in caplog.text
    assert "1 whose text is missing or not a string" in caplog.text
    # The sample is drawn from the 18 rows kept, as hfselect would draw from a clean dataset.
    sample = load_target(source, num_examples=5, seed=11)
    kept = np.asarray([i for i in range(20) if i not in (0, 5)])
    assert sample.indices.tolist() == kept[sample_indices(18, 5, seed=11)].tolist()
    assert sample.texts == [f"t{i}" for i in sample.indices]


@pytest.mark.parametrize(("count", "seed"), [(10, 42), (25, 1), (100, 3), (None, 5)])
def test_sample_equals_hfselect(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int | None, seed: int
) -> None:
    """hfselect's own Dataset, loading the same rows from a local folder with datasets."""
    hfselect_dataset = require("hfselect.dataset")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = tmp_path / "target"
    folder.mkdir()
    frame = pd.DataFrame(
        {
            "premise": [f"p{i}" for i in range(60)],
            "hypothesis": [f"h{i}" for i in range(60)],
            "label": [-1 if i % 7 == 0 else i % 3 for i in range(60)],
        }
    )
    frame.to_csv(folder / "train.csv", index=False)
    columns = ["premise", "hypothesis"]
    reference = hfselect_dataset.Dataset.from_hugging_face(
        str(folder),
        split="train",
        text_col=columns,
        label_col="label",
        is_regression=False,
        num_examples=count,
        seed=seed,
    )
    rows = [reference[i] for i in range(len(reference))]
    expected_texts = reference._preprocess_texts(rows)
    expected_labels = reference._preprocess_labels(rows)
    for source in (folder / "train.csv", folder, frame):
        ours = load_target(source, text_column=columns, num_examples=count, seed=seed)
        assert ours.texts == expected_texts
        names = np.asarray(ours.label_names)
        assert [int(v) for v in names[ours.labels]] == expected_labels


def test_target_summary_and_fingerprint() -> None:
    target = load_target(_frame(), num_examples=5, seed=1)
    summary = target.describe()
    assert summary["num_examples"] == 5 and summary["num_rows"] == 30
    assert summary["seed"] == 1
    assert summary["num_classes"] == len(set(target.labels.tolist()))
    json.dumps(summary)
    assert target.fingerprint == load_target(_frame(), num_examples=5, seed=1).fingerprint
    assert target.fingerprint != load_target(_frame(), num_examples=5, seed=2).fingerprint
    assert "5 examples" in repr(target)
    with pytest.raises(UsageError):
        Target(texts=["a"], labels=np.zeros(2))


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["only one"], ["a"], "has 1 usable example"),
        (["one", "two", "three"], ["a", "a", "a"], "same label (a)"),
        (["one", "two"], [3, 3], "same label (3)"),
    ],
    ids=["one-example", "one-class", "one-integer-class"],
)
def test_a_target_that_cannot_be_ranked_is_an_error(
    texts: list[str], labels: list[Any], message: str
) -> None:
    with pytest.raises(DatasetError, match=re.escape(message)):
        load_target((texts, labels))
    with pytest.raises(DatasetError, match="ranking needs at least"):
        load_target(Target(texts=texts, labels=np.zeros(len(texts), dtype=np.int64)))


def test_one_class_after_sampling_is_an_error_and_regression_needs_two_rows() -> None:
    texts = [f"text {i}" for i in range(10)]
    labels = ["a"] * 9 + ["b"]
    assert load_target((texts, labels), num_examples=None).num_classes == 2
    with pytest.raises(DatasetError, match="--num-examples"):
        load_target((texts[:9], labels[:9]))
    assert len(load_target((texts[:2], [0.5, 1.5]), regression=True)) == 2
    with pytest.raises(DatasetError, match="1 usable example"):
        load_target((texts[:1], [0.5]), regression=True)
