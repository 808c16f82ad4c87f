"""The labelled-data loader (registry.labelled): one behaviour for targets and training tasks."""

from __future__ import annotations

import gzip
import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest
from rank_support import require

from registry.errors import DatasetError, UsageError
from registry.labelled import TEXT_SEPARATOR, join_columns, load_labelled, sample_indices
from registry.ranker.target import load_target
from registry.train import load_intermediate

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


# --- one behaviour for ranking targets and training tasks ----------------------------------

pd = pytest.importorskip("pandas")

ROWS = [
    {"text": f"text {i}", "other": f"other {i}", "label": ["neg", "pos", "neutral"][i % 3]}
    for i in range(30)
]


def _target(source: Any, **kwargs: Any) -> list[str]:
    return load_target(source, num_examples=kwargs.pop("num_examples", None), **kwargs).texts


def _intermediate(source: Any, **kwargs: Any) -> list[str]:
    kwargs.setdefault("task_id", "org/task")
    kwargs.setdefault("text_column", "text")
    kwargs.setdefault("label_column", "label")
    return list(load_intermediate(source, **kwargs).texts)


LOADERS = pytest.mark.parametrize("loader", [_target, _intermediate], ids=["target", "train"])


def _write(path: Path, frame: Any) -> Path:
    """``frame`` as a data file of the format (and compression) the suffix says."""
    suffixes = path.suffixes
    gzipped = suffixes[-1] == ".gz"
    kind = suffixes[-2] if gzipped else suffixes[-1]
    buffer = io.BytesIO()
    if kind in (".csv", ".tsv"):
        buffer.write(frame.to_csv(index=False, sep="," if kind == ".csv" else "\t").encode())
    elif kind == ".parquet":
        frame.to_parquet(buffer)
    elif kind in (".jsonl", ".ndjson"):
        buffer.write(frame.to_json(orient="records", lines=True).encode())
    else:
        buffer.write(frame.to_json(orient="records").encode())
    data = buffer.getvalue()
    path.write_bytes(gzip.compress(data) if gzipped else data)
    return path


@LOADERS
def test_na_and_null_stay_text_in_csv(tmp_path: Path, loader: Any) -> None:
    path = tmp_path / "t.csv"
    path.write_text("text,label\nNA,1\nnull,0\nNone,1\n,0\n007,1\n", encoding="utf-8")
    assert loader(path) == ["NA", "null", "None", "007"]  # the empty cell is missing


@LOADERS
@pytest.mark.parametrize(
    "name", ["t.csv.gz", "t.tsv.gz", "t.json.gz", "t.jsonl.gz", "t.ndjson.gz", "t.parquet.gz"]
)
def test_gzipped_files_read_like_plain_ones(tmp_path: Path, loader: Any, name: str) -> None:
    gzipped = _write(tmp_path / name, pd.DataFrame(ROWS))
    plain = _write(tmp_path / name.removesuffix(".gz"), pd.DataFrame(ROWS))
    assert loader(gzipped, num_examples=10, seed=4) == loader(plain, num_examples=10, seed=4)
    assert len(loader(gzipped)) == 30


@LOADERS
def test_a_path_that_does_not_exist_is_a_usage_error(tmp_path: Path, loader: Any) -> None:
    for missing in (tmp_path / "nope.csv", str(tmp_path / "nope.jsonl.gz"), "./nope"):
        with pytest.raises(UsageError, match=r"^no such file or folder: .*nope"):
            loader(missing)


@LOADERS
def test_a_missing_column_is_a_dataset_error_naming_the_file_and_its_columns(
    tmp_path: Path, loader: Any
) -> None:
    path = _write(tmp_path / "t.jsonl", pd.DataFrame(ROWS))
    expected = (
        f"^{re.escape(str(path))} has no column 'sentence'; its columns are text, other, label$"
    )
    with pytest.raises(DatasetError, match=expected):
        loader(path, text_column="sentence")


@LOADERS
def test_unreadable_files_are_dataset_errors(tmp_path: Path, loader: Any) -> None:
    broken = tmp_path / "broken.csv.gz"
    broken.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match=r"cannot read .*broken.csv.gz as csv \(gzipped\)"):
        loader(broken)
    odd = tmp_path / "data.xlsx"
    odd.write_bytes(b"PK")
    with pytest.raises(DatasetError, match="unknown file type"):
        loader(odd)


@LOADERS
def test_rows_without_a_text_or_label_are_dropped_and_counted(
    loader: Any, caplog: pytest.LogCaptureFixture
) -> None:
    frame = pd.DataFrame(ROWS).astype(object)
    frame.loc[3, "text"] = None
    frame.loc[7, "text"] = 7  # not a string
    frame.loc[11, "label"] = None
    with caplog.at_level(logging.INFO, logger="registry.labelled"):
        texts = loader(frame)
    assert len(texts) == 27
    assert "text 3" not in texts and "text 11" not in texts
    (record,) = [r for r in caplog.records if r.name == "registry.labelled"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "dropped 3 of 30 rows of DataFrame before sampling: 1 without a label, "
        "2 whose text is missing or not a string"
    )


@LOADERS
def test_minus_one_labels_are_dropped_quietly(
    loader: Any, caplog: pytest.LogCaptureFixture
) -> None:
    source = {"text": ["a", "b", "c"], "label": [1, -1, 0]}
    with caplog.at_level(logging.INFO, logger="registry.labelled"):
        assert loader(source) == ["a", "c"]
    (record,) = [r for r in caplog.records if r.name == "registry.labelled"]
    assert record.levelno == logging.INFO
    assert "1 labelled -1" in record.getMessage()


@pytest.mark.parametrize("num_examples", [None, 7, 100])
def test_the_same_source_and_seed_give_the_same_texts_in_both(
    tmp_path: Path, num_examples: int | None
) -> None:
    frame = pd.DataFrame(ROWS)
    frame.loc[4, "text"] = None
    frame.loc[9, "label"] = None
    path = _write(tmp_path / "task.parquet", frame)
    for source in (path, frame, datasets.Dataset.from_pandas(frame)):
        target = load_target(source, num_examples=num_examples, seed=13)
        data = load_intermediate(
            source,
            task_id="org/task",
            text_column="text",
            label_column="label",
            num_examples=num_examples,
            seed=13,
        )
        assert target.texts == list(data.texts)
        assert len(target) == (28 if num_examples is None else min(num_examples, 28))


def test_shipped_task_reads_the_same_as_a_target() -> None:
    name = "wordnet/noun-example-category"
    target = load_target(name, num_examples=20, seed=2, split="test")
    data = load_intermediate(name, num_examples=20, seed=2, split="test")
    assert target.texts == list(data.texts)
    assert target.source == name
    with pytest.raises(DatasetError, match="no subsets"):
        load_target(name, subset="x")


@LOADERS
def test_folders_written_by_save_to_disk(tmp_path: Path, loader: Any) -> None:
    dataset = datasets.Dataset.from_list(ROWS)
    dataset.save_to_disk(str(tmp_path / "one"))
    datasets.DatasetDict({"train": dataset, "test": dataset.select(range(5))}).save_to_disk(
        str(tmp_path / "two")
    )
    expected = [r["text"] for r in ROWS]
    assert loader(tmp_path / "one") == expected
    assert loader(tmp_path / "two") == expected
    assert loader(tmp_path / "two", split="test") == expected[:5]
    with pytest.raises(DatasetError, match="has no split 'validation'; it has train, test"):
        loader(tmp_path / "two", split="validation")


@LOADERS
def test_folder_of_csv_files_keeps_na_as_text(tmp_path: Path, loader: Any) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    # Two classes among the rows kept: a target of one class is an error of its own.
    (folder / "train.csv").write_text("text,label\nNA,1\n,0\n007,0\n", encoding="utf-8")
    assert loader(folder) == ["NA", "007"]


@LOADERS
def test_in_memory_sources(loader: Any) -> None:
    texts = [r["text"] for r in ROWS]
    labels = [r["label"] for r in ROWS]
    columns = {"text": texts, "label": labels}
    for source in (
        (texts, labels),
        columns,
        pd.DataFrame(columns),
        datasets.Dataset.from_dict(columns),
    ):
        assert loader(source) == texts
    assert loader(datasets.DatasetDict({"x": datasets.Dataset.from_dict(columns)}), split="x")


@LOADERS
def test_a_hub_dataset_that_cannot_be_loaded_is_a_dataset_error(
    loader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("offline")

    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(DatasetError, match=r"cannot load the dataset org/absent \(train\)"):
        loader("org/absent")


def test_loaded_rows_record_where_they_came_from() -> None:
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["no", "yes"])}
    )
    source = datasets.Dataset.from_dict(
        {"text": ["a", None, "c", "d"], "label": [1, 0, -1, 0]}, features=features
    )
    rows = load_labelled(source, text_columns=["text"], label_columns=["label"], seed=0)
    assert rows.texts == ["a", "d"]
    assert rows.labels == {"label": [1, 0]}
    assert rows.indices.tolist() == [0, 3]
    assert (rows.num_rows, rows.num_dropped, rows.source) == (2, 2, "Dataset")
    assert rows.class_names == {"label": ("no", "yes")}
    regression = load_labelled(
        {"text": ["a", "b"], "y": [-1.0, 2.0]},
        text_columns=["text"],
        label_columns=["y"],
        classification=False,
    )
    assert regression.labels == {"y": [-1.0, 2.0]}  # -1 is a value in regression


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text_columns": []}, "at least one text column"),
        ({"num_examples": 0}, "at least 1"),
        ({"num_examples": True}, "at least 1"),
        ({"seed": -1}, "seed must be >= 0"),
    ],
)
def test_invalid_arguments_are_usage_errors(kwargs: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"text_columns": ["text"], "label_columns": ["label"], **kwargs}
    with pytest.raises(UsageError, match=message):
        load_labelled({"text": ["a"], "label": [1]}, **options)
