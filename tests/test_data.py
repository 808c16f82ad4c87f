"""The shipped WordNet tasks: index, loaders, disjoint texts, license, reproducible build."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from registry import data
from registry.data import build_wordnet
from registry.errors import DatasetError

EXPECTED = {
    "wordnet/noun-example-category": "target",
    "wordnet/noun-supersense": "intermediate",
    "wordnet/verb-supersense": "intermediate",
    "wordnet/adjective-cluster": "intermediate",
    "wordnet/lexical-category": "intermediate",
}
PACKAGE = Path(build_wordnet.__file__).parent


def test_list_tasks() -> None:
    assert sorted(data.list_tasks()) == sorted(EXPECTED)
    assert data.list_tasks("target") == ["wordnet/noun-example-category"]
    assert set(data.list_tasks("intermediate")) == {
        name for name, role in EXPECTED.items() if role == "intermediate"
    }
    assert all(data.is_packaged_task(name) for name in EXPECTED)
    assert not data.is_packaged_task("stanfordnlp/imdb")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_task_records_match_their_description(name: str) -> None:
    info = data.task_info(name)
    assert info.role == EXPECTED[name]
    assert (info.text_column, info.label_column) == ("text", "label")
    assert info.language == ("en",) and info.license == "other"
    assert info.license_name == "wordnet-3.0" and "WordNet 3.0" in info.source
    assert "train" in info.splits and len(info.labels) >= 4
    for split, size in info.splits.items():
        rows = data.load_records(name, split)
        assert len(rows) == size
        assert all(set(row) == {"text", "label"} for row in rows)
        assert all(isinstance(row["text"], str) and row["text"].strip() for row in rows)
        assert {row["label"] for row in rows} == set(info.labels)
        assert len({row["text"] for row in rows}) == size  # no duplicates


def test_load_task_is_a_dataset_with_string_labels() -> None:
    pytest.importorskip("datasets")
    dataset = data.load_task("wordnet/noun-example-category", split="test")
    assert dataset.column_names == ["text", "label"]
    assert dataset.features["label"].dtype == "string"
    assert len(dataset) == data.task_info("wordnet/noun-example-category").splits["test"]
    assert dataset.info.license == "wordnet-3.0"
    assert str(dataset.split) == "test"


def test_target_texts_appear_in_no_intermediate_task() -> None:
    def texts(name: str) -> set[str]:
        info = data.task_info(name)
        return {
            row["text"].casefold()
            for split in info.splits
            for row in data.load_records(name, split)
        }

    target = texts("wordnet/noun-example-category")
    seen: set[str] = set()
    for name in data.list_tasks("intermediate"):
        own = texts(name)
        assert not own & target, name
        assert not own & seen, name  # the intermediate tasks are disjoint as well
        seen |= own


def test_unknown_task_or_split() -> None:
    with pytest.raises(DatasetError, match="shipped tasks"):
        data.task_info("wordnet/nothing")
    with pytest.raises(DatasetError, match="no split"):
        data.load_records("wordnet/noun-supersense", "test")


def test_files_are_small_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    files = list((PACKAGE / "wordnet").rglob("*.jsonl.gz"))
    assert len(files) == 6
    assert sum(f.stat().st_size for f in files) < 1_000_000
    for path in files:  # deterministic gzip members: no name, no timestamp
        assert path.read_bytes()[4:8] == b"\0\0\0\0"
        assert json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    index = data._index()
    name = "wordnet/noun-supersense"
    info, splits = index[name]
    damaged = {**index, name: (info, {"train": {**splits["train"], "sha256": "0" * 64}})}
    monkeypatch.setattr(data, "_index", lambda: damaged)
    with pytest.raises(DatasetError, match="checksum"):
        data.load_records(name)


def test_license_notice_ships() -> None:
    text = (PACKAGE / "LICENSE-WordNet.txt").read_text(encoding="utf-8")
    assert "WordNet 3.0 Copyright 2006 by Princeton University" in text
    assert 'PROVIDED "AS IS"' in text


def test_gloss_splitting() -> None:
    definition, examples = build_wordnet.split_gloss(
        'significant progress (especially in the phrase "make strides"); '
        '"they made big strides in productivity"; "a; b"'
    )
    assert definition == 'significant progress (especially in the phrase "make strides")'
    assert examples == ["they made big strides in productivity", "a; b"]


@pytest.mark.skipif(
    not (build_wordnet.DEFAULT_WORDNET_DIR / "data.noun").is_file(),
    reason="the Debian package wordnet-base is not installed (apt-get install wordnet-base)",
)
def test_build_reproduces_the_shipped_files_byte_for_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = build_wordnet.build_files()
    shipped = {
        str(path.relative_to(PACKAGE)): path.read_bytes()
        for path in [PACKAGE / "tasks.json", *(PACKAGE / "wordnet").rglob("*.jsonl.gz")]
    }
    assert set(built) == set(shipped)
    for name, content in built.items():
        assert content == shipped[name], f"{name} differs; rebuild with " + (
            "python -m registry.data.build_wordnet"
        )
    # The command-line check agrees (reusing this build: one takes seconds).
    monkeypatch.setattr(build_wordnet, "build_files", lambda wordnet_dir: built)
    assert build_wordnet.main(["--check"]) == 0
    assert build_wordnet.main(["--check", "--output-dir", str(tmp_path)]) == 1
