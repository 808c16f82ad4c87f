"""The task suite: index, loaders, disjoint texts, sizes, licenses, tasks built on demand."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import data
from registry.data import suite
from registry.data.inputs import InputIdentity, InputMissingError, identify
from registry.data.sources import SOURCES, source_named
from registry.errors import DatasetError

PACKAGE = Path(data.__file__).parent
WORDNET = {
    "wordnet/noun-example-category": "target",
    "wordnet/noun-supersense": "intermediate",
    "wordnet/verb-supersense": "intermediate",
    "wordnet/adjective-cluster": "intermediate",
    "wordnet/lexical-category": "intermediate",
}
ALL = data.list_tasks(source=None)
SHIPPED = [name for name in ALL if data.task_info(name).shipped]
ON_DEMAND = [name for name in ALL if not data.task_info(name).shipped]


def texts_of(name: str) -> dict[str, list[str]]:
    return {
        split: [row["text"] for row in data.load_records(name, split)]
        for split in data.task_info(name).splits
    }


def test_list_tasks_defaults_to_the_quickstart_tasks() -> None:
    assert sorted(data.list_tasks(source="wordnet")) == sorted(WORDNET)
    assert data.list_tasks("target", source="wordnet") == ["wordnet/noun-example-category"]
    assert data.list_tasks() == ALL
    shipped = data.list_tasks(shipped=True)
    assert shipped and all(data.task_info(name).shipped for name in shipped)
    assert not set(shipped) & set(data.list_tasks(shipped=False))
    assert set(data.list_tasks("intermediate", source="wordnet")) == {
        name for name, role in WORDNET.items() if role == "intermediate"
    }
    assert data.list_tasks(source="jargon") == ["jargon/part-of-speech"]
    assert all(data.is_packaged_task(name) for name in ALL)
    assert not data.is_packaged_task("stanfordnlp/imdb")


def test_the_suite_has_enough_tasks_and_sources() -> None:
    assert data.list_sources() == [s.name for s in SOURCES]
    intermediates = data.list_tasks("intermediate", source=None)
    targets = data.list_tasks("target", source=None)
    assert len(intermediates) >= 12
    assert len({data.task_info(n).source_id for n in intermediates}) >= 3
    assert len(targets) >= 3
    assert len({data.task_info(n).source_id for n in targets}) == len(targets)
    for name in targets:
        assert set(data.task_info(name).splits) == {"train", "test"}
    # A source never avoids the texts of a source built on demand, so those come last.
    shipped = [s.shipped for s in SOURCES]
    assert shipped == sorted(shipped, reverse=True)


@pytest.mark.parametrize("name", ALL)
def test_index_entries_are_complete(name: str) -> None:
    info = data.task_info(name)
    source = source_named(info.source_id)
    assert name.startswith(f"{info.source_id}/")
    assert info.role in ("intermediate", "target")
    assert (info.text_column, info.label_column) == ("text", "label")
    assert info.language == ("en",) and info.package == source.package
    assert info.package_version and info.package_version in info.source
    assert (info.license, info.license_name) == (source.license, source.license_name)
    assert (PACKAGE / info.license_file).is_file()
    assert info.shipped == source.shipped
    assert info.rebuild == f"python -m registry.data.build --source {info.source_id}"
    assert len(info.labels) >= 2 and len(set(info.labels)) == len(info.labels)
    cap = info.cap
    assert info.splits["train"] <= cap["max_train_examples"] == 2000
    assert info.splits["train"] <= len(info.labels) * cap["train_per_label"]  # type: ignore[operator]
    assert info.splits.get("test", 0) == len(info.labels) * cap["test_per_label"]  # type: ignore[operator]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_tasks_load_as_described(name: str) -> None:
    check_records(name)


def check_records(name: str) -> None:
    info = data.task_info(name)
    cap = info.cap
    for split, size in info.splits.items():
        rows = data.load_records(name, split)
        assert len(rows) == size
        assert all(set(row) == {"text", "label"} for row in rows)
        assert all(isinstance(row["text"], str) and row["text"].strip() for row in rows)
        assert {row["label"] for row in rows} == set(info.labels)
        assert len({row["text"].casefold() for row in rows}) == size  # no duplicates
        per_label = Counter(row["label"] for row in rows)
        limit = cap["train_per_label"] if split == "train" else cap["test_per_label"]
        assert max(per_label.values()) <= limit  # type: ignore[operator]
        if cap["max_words"] is not None:
            assert max(len(row["text"].split()) for row in rows) <= cap["max_words"]


@pytest.mark.parametrize("name", ["wordnet/noun-example-category", "fortunes/topic"])
def test_load_task_is_a_dataset_with_string_labels(name: str) -> None:
    pytest.importorskip("datasets")
    dataset = data.load_task(name, split="test")
    info = data.task_info(name)
    assert dataset.column_names == ["text", "label"]
    assert dataset.features["label"].dtype == "string"
    assert len(dataset) == info.splits["test"]
    assert dataset.info.license == info.license_name
    assert str(dataset.split) == "test"


def assert_disjoint(names: list[str]) -> None:
    """No text in two tasks, nor in two splits of one task (so no target text elsewhere)."""
    where: dict[str, str] = {}
    for name in names:
        for split, texts in texts_of(name).items():
            for text in texts:
                first = where.setdefault(text.casefold(), f"{name} ({split})")
                assert first == f"{name} ({split})", f"{text!r}: {first} and {name} ({split})"


def test_shipped_tasks_share_no_text() -> None:
    assert_disjoint(SHIPPED)


def test_unknown_task_or_split() -> None:
    with pytest.raises(DatasetError, match="its tasks: wordnet/"):
        data.task_info("wordnet/nothing")
    with pytest.raises(DatasetError, match="no split"):
        data.load_records("wordnet/noun-supersense", "test")


def test_shipped_files_are_small_deterministic_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = sorted(PACKAGE.glob("*/*/*.jsonl.gz"))
    assert len(files) == sum(len(data.task_info(n).splits) for n in SHIPPED)
    assert sum(f.stat().st_size for f in files) < 1_500_000
    for path in files:  # deterministic gzip members: no name, no timestamp
        assert path.read_bytes()[3:8] == b"\0\0\0\0\0"
        assert json.loads(gzip.decompress(path.read_bytes()).splitlines()[0])
    index = data._index()
    name = "wordnet/noun-supersense"
    info, splits = index[name]
    damaged = {**index, name: (info, {"train": {**splits["train"], "sha256": "0" * 64}})}
    monkeypatch.setattr(data, "_index", lambda: damaged)
    with pytest.raises(DatasetError, match="checksum"):
        data.load_records(name)


def test_the_package_data_stays_under_two_megabytes() -> None:
    paths = [p for p in PACKAGE.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert sum(p.stat().st_size for p in paths) < 2_000_000


NOTICES = {
    "LICENSE-WordNet.txt": ["WordNet 3.0 Copyright 2006 by Princeton University", "AS IS"],
    "LICENSE-Fortunes.txt": ["The Regents of the University of California", "AS IS"],
    "LICENSE-Jargon.txt": ["(the Jargon File) is in the public domain", "4.4.7"],
    "LICENSE-FOLDOC.txt": ["Copyright 1993 by Denis Howe", "GNU Free Documentation"],
    "LICENSE-GCIDE.txt": ["GNU General Public License", "either version 2"],
    "LICENSE-VERA.txt": ["Oliver Heidelbach", "GNU Free Documentation License"],
}


def test_every_source_ships_its_license_notice() -> None:
    assert {s.license_file for s in SOURCES} == set(NOTICES)
    for name, phrases in NOTICES.items():
        text = (PACKAGE / name).read_text(encoding="utf-8")
        assert all(phrase in text for phrase in phrases), name
    for source in SOURCES:
        if not source.shipped:  # the notice says that the files are built, not shipped
            assert "NOT shipped" in (PACKAGE / source.license_file).read_text(encoding="utf-8")


# --- tasks built on demand ----------------------------------------------------------------


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An esm-registry home of its own, where the tasks of this module are built."""
    folder = tmp_path_factory.mktemp("esm-registry-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ESM_REGISTRY_HOME", str(folder))
        yield folder


def input_problem(source_id: str) -> str | None:
    """Why this machine cannot build a source as recorded (``None``: it can)."""
    source = source_named(source_id)
    try:
        identity = identify(source.package, source.input_dir, source.input_files)
    except InputMissingError as exc:
        return str(exc)
    recorded = suite._record(suite.read_index(), source_id)
    assert recorded is not None
    if identity.sha256 != recorded["input_sha256"]:
        return (
            f"{source.package} {identity.version} is installed; the index was built from "
            f"{recorded['version']}"
        )
    return None


def require_input(source_id: str) -> None:
    """Skip unless this machine has the very input the index was built from."""
    problem = input_problem(source_id)
    if problem is not None:
        pytest.skip(problem)


@pytest.mark.parametrize("name", ON_DEMAND)
def test_tasks_built_on_demand_load_as_described(name: str, home: Path) -> None:
    require_input(data.task_info(name).source_id)
    check_records(name)
    assert (home / "data" / name / "train.jsonl.gz").is_file()
    assert not (PACKAGE / name).exists()  # never written into the package


def test_no_text_is_shared_by_any_two_tasks(home: Path) -> None:
    available = list(SHIPPED)
    for source in dict.fromkeys(data.task_info(n).source_id for n in ON_DEMAND):
        if input_problem(source) is None:
            available += data.list_tasks(source=source)
    if available == SHIPPED:
        pytest.skip("no Debian package of a task built on demand is installed")
    assert_disjoint(available)


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path))

    def missing(package: str, input_dir: Path, files: tuple[str, ...]) -> InputIdentity:
        raise InputMissingError(f"install {package}")

    monkeypatch.setattr(suite, "identify", missing)
    with pytest.raises(DatasetError, match="apt-get install dict-foldoc") as info:
        data.load_records("foldoc/subject")
    assert "not shipped" in str(info.value)


def test_another_input_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path))

    def other(package: str, input_dir: Path, files: tuple[str, ...]) -> InputIdentity:
        return InputIdentity(package, "9.9", "f" * 64)

    monkeypatch.setattr(suite, "identify", other)
    with pytest.raises(DatasetError, match=r"cannot be built here.*9\.9"):
        data.load_records("vera/context")
