"""The catalog against a local store and through its Python API."""

from __future__ import annotations

import importlib
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from catalog_support import ESM_CARD, SimulatedCrash, WrappedStore, config_files, entry, esm_files
from esm_factory import legacy_config_bytes, legacy_weights

from registry.catalog import (
    SCHEMA_VERSION,
    Catalog,
    CatalogEntry,
    SearchResults,
    db,
    default_catalog_path,
)
from registry.errors import CatalogError, NotInCatalogError, UsageError
from registry.stores.local import LocalStore


@pytest.fixture
def store(tmp_path: Path) -> LocalStore:
    return LocalStore(tmp_path / "registry")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    with Catalog(tmp_path / "catalog.sqlite") as opened:
        yield opened


def publish(store: LocalStore, count: int, namespace: str = "alice") -> list[str]:
    ids = []
    for index in range(count):
        repo_id = f"{namespace}/esm{index}"
        store.commit(repo_id, esm_files(index), "Add ESM")
        ids.append(repo_id)
    return ids


# --- the public API ------------------------------------------------------------------------


def test_public_api_is_what_all_says() -> None:
    for name in ["registry.catalog", "registry.cli.catalog", "registry.errors"]:
        module = importlib.import_module(name)
        assert len(module.__all__) == len(set(module.__all__))
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.{attr}"
    assert issubclass(CatalogError, OSError)
    assert issubclass(NotInCatalogError, LookupError)


def test_default_path_follows_hf_conventions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ESM_REGISTRY_CATALOG", raising=False)
    monkeypatch.delenv("ESM_REGISTRY_HOME", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert default_catalog_path() == tmp_path / "hf" / "esm-registry" / "catalog.sqlite"
    monkeypatch.setenv("ESM_REGISTRY_CATALOG", str(tmp_path / "mine.sqlite"))
    assert default_catalog_path() == tmp_path / "mine.sqlite"
    with Catalog() as opened:
        assert opened.path == tmp_path / "mine.sqlite"


def test_catalog_file_is_wal_with_a_schema_version(catalog: Catalog) -> None:
    conn = sqlite3.connect(catalog.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == db.APPLICATION_ID
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"esms_base_model", "esms_task", "esm_languages_repo"} <= indexes
    conn.close()


# --- sync from a local store -----------------------------------------------------------------


def test_sync_indexes_every_esm_then_reads_only_changes(
    store: LocalStore, catalog: Catalog
) -> None:
    ids = publish(store, 4)
    counting = WrappedStore(store)
    summary = catalog.sync(counting, progress=False)
    assert summary.ok and set(summary.added) == set(ids) and summary.reads == 4
    assert summary.listed == 4 and summary.indexed == 4 and len(catalog) == 4
    assert catalog.last_sync is not None and catalog.source == store.location
    entry0 = catalog["alice/esm0"]
    assert entry0.sha == store.repo_info("alice/esm0").sha
    assert entry0.metadata.task.task_id == "org/task0" and entry0.problems == ()

    counting.reads.clear()
    again = catalog.sync(counting, progress=False)
    assert counting.reads == [] and counting.listings == 2
    assert again.unchanged == 4 and not again.added and not again.updated
    assert again.describe() == "4 listed: 4 unchanged; 4 indexed"

    store.commit("alice/esm1", esm_files(11), "Change the ESM")
    store.delete("alice/esm3")
    counting.reads.clear()
    changed = catalog.sync(counting, progress=False)
    assert counting.reads == [("alice/esm1", "config.json")]
    assert changed.updated == ("alice/esm1",) and changed.removed == ("alice/esm3",)
    assert catalog["alice/esm1"].task_id == "org/task11"
    assert "alice/esm3" not in catalog and len(catalog) == 3


def test_legacy_and_incomplete_esms_are_indexed_with_problems(
    store: LocalStore, catalog: Catalog
) -> None:
    store.commit(
        "bob/legacy",
        {
            "config.json": legacy_config_bytes(),
            "model.safetensors": legacy_weights(),
            "README.md": b"---\ntags: [embedding_space_map]\n---\n",
        },
        "hfselect 0.1.0",
    )
    incomplete = {
        "base_model_name": "roberta-base",
        "task_id": "org/sparse",
        "num_examples": -5,
        "language": "en",
        "esm_architecture": None,
        "mystery": 1,
    }
    store.commit("bob/incomplete", config_files(incomplete), "incomplete")
    summary = catalog.sync(store, progress=False)
    assert set(summary.added) == {"bob/legacy", "bob/incomplete"}
    assert summary.with_problems == 2 and not summary.unusable

    legacy = catalog["bob/legacy"]
    assert [p.code for p in legacy.problems] == ["legacy-format"]
    assert legacy.metadata.version == "0.1.0" and legacy.num_examples == 701
    assert legacy.metadata.extra == {"transformers_version": "4.45.2"}

    sparse = catalog["bob/incomplete"]
    codes = {(p.code, p.field) for p in sparse.problems}
    assert ("invalid-field", "num_examples") in codes
    assert {("missing-field", key) for key in ("esm_embedding_dim", "esm_architecture")} <= codes
    assert sparse.num_examples is None and sparse.architecture == "linear"
    assert sparse.base_model_canonical == "FacebookAI/roberta-base"
    assert sparse.metadata.extra == {"mystery": 1}
    assert "-5" in next(p.message for p in sparse.problems if p.field == "num_examples")
    assert catalog.search(has_problems=True).repo_ids == ["bob/incomplete", "bob/legacy"]


def test_unusable_repos_are_reported_not_indexed_and_not_read_again(
    store: LocalStore, catalog: Catalog
) -> None:
    publish(store, 1)
    store.commit("bad/no-base", config_files({"task_id": "org/t"}), "x")
    store.commit("bad/no-task", config_files({"base_model_name": "gpt2"}), "x")
    store.commit("bad/bad-base", config_files({"base_model_name": "a b!", "task_id": "o/t"}), "x")
    store.commit("bad/not-json", {"config.json": b"{oops", "README.md": ESM_CARD}, "x")
    store.commit("bad/array", {"config.json": b"[1, 2]", "README.md": ESM_CARD}, "x")
    store.commit("bad/nothing", {"README.md": ESM_CARD}, "x")
    counting = WrappedStore(store)
    summary = catalog.sync(counting, progress=False)
    reasons = {repo.repo_id: repo.reason for repo in summary.unusable}
    assert set(reasons) == {
        "bad/no-base",
        "bad/no-task",
        "bad/bad-base",
        "bad/not-json",
        "bad/array",
        "bad/nothing",
    }
    assert "base_model_name" in reasons["bad/no-base"]
    assert "task_id" in reasons["bad/no-task"]
    assert "not valid JSON" in reasons["bad/not-json"]
    assert "list" in reasons["bad/array"]
    assert "no config.json" in reasons["bad/nothing"]
    assert len(catalog) == 1 and summary.ok
    assert [repo.repo_id for repo in catalog.unusable()] == sorted(reasons)
    with pytest.raises(NotInCatalogError, match="cannot be indexed"):
        catalog["bad/no-task"]

    counting.reads.clear()
    again = catalog.sync(counting, progress=False)
    assert counting.reads == [] and len(again.unusable) == 6

    store.commit("bad/no-task", config_files({"base_model_name": "gpt2", "task_id": "o/t"}), "fix")
    fixed = catalog.sync(counting, progress=False)
    assert fixed.added == ("bad/no-task",) and len(fixed.unusable) == 5
    assert catalog["bad/no-task"].base_model_canonical == "openai-community/gpt2"


def test_missing_config_falls_back_to_the_card(
    store: LocalStore, catalog: Catalog, legacy_card_text: str
) -> None:
    card = esm_files(3)["README.md"]
    store.commit("card/ours", {"README.md": card}, "card only")
    store.commit("card/legacy", {"README.md": legacy_card_text.encode()}, "legacy card only")
    front_only = b"---\nbase_model: gpt2\ndatasets: [org/t]\ntags: [embedding_space_map]\n---\n"
    store.commit("card/front", {"README.md": front_only}, "front matter only")
    catalog.sync(store, progress=False)
    ours = catalog["card/ours"]
    assert ours.source == "card" and ours.task_id == "org/task3"
    assert ours.problems[0].code == "no-config"
    legacy = catalog["card/legacy"]
    assert legacy.task_id == "kuroneko5943/amz20" and legacy.task_subset == "Dumbbell"
    assert legacy.base_model_canonical == "google-bert/bert-base-multilingual-uncased"
    front = catalog["card/front"]
    assert (front.base_model, front.task_id) == ("gpt2", "org/t")


def test_interrupted_sync_stays_consistent_and_the_next_completes_it(
    store: LocalStore, catalog: Catalog
) -> None:
    ids = publish(store, 7)
    crashing = WrappedStore(store, crash_after=3)
    with pytest.raises(SimulatedCrash):
        catalog.sync(crashing, jobs=1, batch_size=2, progress=False)
    kept = {e.repo_id: e.sha for e in catalog.entries()}
    assert len(kept) == 3
    for repo_id, sha in kept.items():  # every row names the commit it was read at
        assert sha == store.repo_info(repo_id).sha
    assert catalog.last_sync is None  # a sync never completed

    counting = WrappedStore(store)
    summary = catalog.sync(counting, progress=False)
    assert sorted(repo for repo, _ in counting.reads) == sorted(set(ids) - set(kept))
    assert len(catalog) == 7 and summary.unchanged == 3 and catalog.last_sync is not None


def test_failed_reads_are_reported_and_retried(
    store: LocalStore, catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(store, 2)
    original = LocalStore.local_path

    def flaky(self: LocalStore, repo_id: str, path: str, revision: str | None = None) -> Path:
        if repo_id == "alice/esm1":
            raise PermissionError("disk says no")
        return original(self, repo_id, path, revision)

    monkeypatch.setattr(LocalStore, "local_path", flaky)
    summary = catalog.sync(store, progress=False)
    assert not summary.ok and [f.repo_id for f in summary.failed] == ["alice/esm1"]
    assert "disk says no" in summary.failed[0].error and len(catalog) == 1
    monkeypatch.setattr(LocalStore, "local_path", original)
    assert catalog.sync(store, progress=False).added == ("alice/esm1",)


def test_sync_refuses_bad_jobs(store: LocalStore, catalog: Catalog) -> None:
    with pytest.raises(UsageError):
        catalog.sync(store, jobs=0)


# --- concurrency ---------------------------------------------------------------------------


def test_readers_are_not_blocked_by_a_sync_in_progress(store: LocalStore, tmp_path: Path) -> None:
    publish(store, 6)
    path = tmp_path / "shared.sqlite"
    writer = Catalog(path)
    blocking = WrappedStore(store, block_after=2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            writer.sync(blocking, jobs=1, batch_size=1, progress=False)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    assert blocking.blocked.wait(10)
    with Catalog(path, timeout=0.5) as reader:  # another connection, as another process
        deadline = time.monotonic() + 10
        while len(reader) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)  # the writer commits the second batch
        assert len(reader) == 2  # committed batches are visible, nothing half-written
        assert len(reader.search(architecture="linear")) == 2
        assert all(e.sha == store.repo_info(e.repo_id).sha for e in reader.entries())
    blocking.gate.set()
    thread.join(10)
    assert not errors and len(writer) == 6
    writer.close()


def test_a_second_writer_waits_then_reports_a_busy_catalog(tmp_path: Path) -> None:
    path = tmp_path / "busy.sqlite"
    Catalog(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Catalog(path, timeout=0.2) as other:
            assert len(other) == 0  # reading works during the write
            with pytest.raises(CatalogError, match="busy"):
                other.add_alias("my-model", "acme/my-model")
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# --- schema versions and foreign files --------------------------------------------------------


def _raw(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def test_old_catalog_without_migration_is_rebuilt_not_misread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "old.sqlite"
    _raw(
        path,
        f"PRAGMA application_id = {db.APPLICATION_ID}",
        "PRAGMA user_version = 0",
        "CREATE TABLE esms (repo_id TEXT, something_else TEXT)",
        "INSERT INTO esms VALUES ('x/y', 'old layout')",
    )
    with caplog.at_level(logging.WARNING), Catalog(path) as catalog:
        assert len(catalog) == 0 and catalog.last_sync is None
        assert catalog.search().repo_ids == []
    assert "rebuilt" in caplog.text
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = {row[1] for row in conn.execute("PRAGMA table_info(esms)")}
    assert "base_model_canonical" in columns and "something_else" not in columns
    conn.close()


def test_registered_migration_upgrades_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v1.sqlite"
    with Catalog(path) as catalog:
        catalog.upsert([entry("alice/esm0")])

    def add_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE esms ADD COLUMN stars INTEGER")

    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(db.MIGRATIONS, SCHEMA_VERSION, add_column)
    with Catalog(path) as catalog:
        assert catalog["alice/esm0"].task_id == "org/task0"  # the data survived
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    assert "stars" in {row[1] for row in conn.execute("PRAGMA table_info(esms)")}
    conn.close()


def test_newer_catalog_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    Catalog(path).close()
    _raw(path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(CatalogError, match="newer esm-registry"):
        Catalog(path)


@pytest.mark.parametrize("kind", ["foreign-sqlite", "not-sqlite"])
def test_foreign_file_is_refused_unless_forced(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "catalog.sqlite"
    if kind == "foreign-sqlite":
        _raw(path, "CREATE TABLE people (name TEXT)", "INSERT INTO people VALUES ('ada')")
    else:
        path.write_text("this is not a database at all, just some text " * 20)
    before = path.read_bytes()
    for create in (False, True):  # someone else's file is refused, and left untouched
        with pytest.raises(UsageError, match=r"not an esm-registry catalog.*--force"):
            Catalog(path, create=create)
    assert path.read_bytes() == before and not list(tmp_path.glob("*.foreign-*"))
    with Catalog(path, force=True) as catalog:
        assert len(catalog) == 0
    moved = list(tmp_path.glob("catalog.sqlite.foreign-*"))
    assert len(moved) == 1
    if kind == "foreign-sqlite":  # moved untouched, not even switched to WAL
        conn = sqlite3.connect(moved[0])
        assert conn.execute("SELECT name FROM people").fetchall() == [("ada",)]
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.close()


def test_missing_catalog_is_an_error_when_not_creating(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="no catalog at"):
        Catalog(tmp_path / "absent.sqlite", create=False)
    with pytest.raises(CatalogError, match="is a folder"):
        Catalog(tmp_path)


# --- search ---------------------------------------------------------------------------------


@pytest.fixture
def filled(catalog: Catalog) -> Catalog:
    catalog.upsert(
        [
            entry(
                "a/imdb",
                1,
                task={"task_id": "stanfordnlp/imdb", "num_examples": 1000},
                language=["en"],
                embedding_dim=768,
                description="Movie reviews, sentiment polarity.",
            ),
            entry(
                "a/amz",
                2,
                task={"task_id": "kuroneko5943/amz20", "subset": "Dumbbell", "num_examples": 701},
                language=["en", "de"],
                base_model="google-bert/bert-base-uncased",
                embedding_dim=768,
            ),
            entry(
                "b/rob",
                3,
                base_model="roberta-base",
                language=["fr"],
                embedding_dim=1024,
                task={"task_id": "org/french_news", "num_examples": 50},
            ),
            entry(
                "b/gpt",
                4,
                base_model="openai-community/gpt2",
                language=[],
                task={"task_id": "org/sure-thing", "subset": "100%_sure", "num_examples": 10},
            ),
        ]
    )
    return catalog


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["a/amz", "a/imdb", "b/gpt", "b/rob"]),
        ({"base_model": "bert-base-uncased"}, ["a/amz", "a/imdb"]),
        ({"base_model": "google-bert/bert-base-uncased"}, ["a/amz", "a/imdb"]),
        ({"base_model": "GOOGLE-BERT/Bert-Base-Uncased"}, ["a/amz", "a/imdb"]),
        ({"base_model": "FacebookAI/roberta-base"}, ["b/rob"]),
        ({"base_model": "gpt2", "architecture": "linear"}, ["b/gpt"]),
        ({"architecture": "mlp"}, []),
        ({"embedding_dim": 768}, ["a/amz", "a/imdb"]),
        ({"task_id": "StanfordNLP/IMDB"}, ["a/imdb"]),
        ({"language": "de"}, ["a/amz"]),
        ({"language": "EN"}, ["a/amz", "a/imdb"]),
        ({"min_examples": 701}, ["a/amz", "a/imdb"]),
        ({"min_examples": 0, "language": "fr"}, ["b/rob"]),
        ({"text": "imdb"}, ["a/imdb"]),
        ({"text": "dumb"}, ["a/amz"]),
        ({"text": "sentiment movie"}, ["a/imdb"]),
        ({"text": "french"}, ["b/rob"]),
        ({"text": "sure"}, ["b/gpt"]),
        ({"text": "x' OR 1=1 --"}, []),
        ({"task_id": "x' OR '1'='1"}, []),
        ({"text": "imdb OR NEAR( *"}, []),
        ({"order_by": "-num_examples"}, ["a/imdb", "a/amz", "b/rob", "b/gpt"]),
        ({"order_by": "num_examples", "limit": 2}, ["b/gpt", "b/rob"]),
        ({"order_by": "base_model"}, ["b/rob", "a/amz", "a/imdb", "b/gpt"]),
    ],
)
def test_search_filters(filled: Catalog, filters: dict[str, object], expected: list[str]) -> None:
    assert filled.search(**filters).repo_ids == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("amz2", ["a/amz"]),
        ("AMZ dumb", ["a/amz"]),
        ("sure 100", ["b/gpt"]),
        ("news", ["b/rob"]),
        ("movie rev", ["a/imdb"]),
        ("ch_ne", []),  # words "ch" and "ne": no word begins with "ch"
        ("org", ["b/gpt", "b/rob"]),
    ],
)
def test_text_search_means_the_same_with_and_without_fts(
    filled: Catalog, text: str, expected: list[str]
) -> None:
    assert filled.search(text=text).repo_ids == expected
    filled._fts = False  # as on a Python whose SQLite lacks FTS5
    assert filled.search(text=text).repo_ids == expected


@pytest.mark.parametrize("text", ["%", "_", "  ", "--"])
def test_text_search_without_words_is_a_usage_error(filled: Catalog, text: str) -> None:
    with pytest.raises(UsageError):
        filled.search(text=text)


@pytest.mark.parametrize(
    "filters",
    [
        {"limit": 0},
        {"order_by": "name; DROP TABLE esms"},
        {"min_examples": -1},
        {"embedding_dim": "768"},
    ],
)
def test_search_rejects_bad_arguments(filled: Catalog, filters: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        filled.search(**filters)  # type: ignore[arg-type]
    assert len(filled) == 4


def test_results_are_typed_lazy_and_convert_to_pandas(filled: Catalog) -> None:
    results = filled.search(language="en", order_by="task_id")
    assert isinstance(results, SearchResults) and len(results) == 2
    first = results[0]
    assert isinstance(first, CatalogEntry) and first is results[0]
    assert first.task_id == "kuroneko5943/amz20" and first.language == ["en", "de"]
    assert [e.repo_id for e in results[-1:]] == ["a/imdb"]
    assert json.loads(results.to_json())[1]["metadata"]["task"]["task_id"] == "stanfordnlp/imdb"
    frame = results.to_pandas()
    assert list(frame["repo_id"]) == ["a/amz", "a/imdb"]
    assert frame.loc[0, "task_subset"] == "Dumbbell" and frame.loc[0, "language"] == ["en", "de"]
    assert frame.loc[1, "esm_embedding_dim"] == 768
    with pytest.raises(IndexError):
        results[2]


def test_get_coverage_and_len(filled: Catalog) -> None:
    assert len(filled) == 4 and "a/imdb" in filled and "A/IMDB" in filled
    assert filled.get("nobody/none") is None
    with pytest.raises(NotInCatalogError, match="not in the catalog"):
        filled["nobody/none"]
    assert filled.coverage() == {
        "google-bert/bert-base-uncased": 2,
        "FacebookAI/roberta-base": 1,
        "openai-community/gpt2": 1,
    }


# --- aliases -------------------------------------------------------------------------------


def test_observed_aliases_join_both_names(store: LocalStore, catalog: Catalog) -> None:
    config = {"base_model_name": "my-model", "task_id": "org/one"}
    card = b"---\nbase_model: acme/my-model\ntags: [embedding_space_map]\n---\n"
    store.commit("x/one", config_files(config, card), "x")
    store.commit("x/two", config_files({"base_model_name": "my-model", "task_id": "o/two"}), "x")
    store.commit(
        "x/three", config_files({"base_model_name": "acme/my-model", "task_id": "o/3"}), "x"
    )
    summary = catalog.sync(store, progress=False)
    assert summary.aliases == (("my-model", "acme/my-model"),)
    assert catalog.aliases() == {"my-model": "acme/my-model"}
    expected = ["x/one", "x/three", "x/two"]
    assert catalog.search(base_model="my-model").repo_ids == expected
    assert catalog.search(base_model="acme/my-model").repo_ids == expected
    assert catalog.coverage() == {"acme/my-model": 3}


def test_user_alias_and_builtin_table(filled: Catalog) -> None:
    filled.upsert([entry("c/x", 5, base_model="my-bert")])
    assert filled.add_alias("my-bert", "google-bert/bert-base-uncased")
    assert not filled.add_alias("bert-base-uncased", "someone/else")  # built-in wins
    assert filled.search(base_model="bert-base-uncased").repo_ids == ["a/amz", "a/imdb", "c/x"]
    with pytest.raises(UsageError):
        filled.add_alias("x", "no-namespace")


# --- exports and snapshots ------------------------------------------------------------------


def test_export_csv_and_parquet(filled: Catalog, tmp_path: Path) -> None:
    import csv

    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    assert filled.export(tmp_path / "out.csv") == 4
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["repo_id"] for row in rows] == ["a/amz", "a/imdb", "b/gpt", "b/rob"]
    assert rows[0]["language"] == "en, de" and rows[0]["num_examples"] == "701"

    assert filled.export(tmp_path / "sub" / "out.parquet") == 4
    table = pq.read_table(tmp_path / "sub" / "out.parquet")
    assert table.num_rows == 4 and table.column("esm_embedding_dim").to_pylist()[0] == 768
    with pytest.raises(UsageError, match="parquet or"):
        filled.export(tmp_path / "out.xlsx")
    assert not list(tmp_path.glob(".out*"))  # no temporary file left behind


def test_parquet_export_is_a_snapshot(filled: Catalog, tmp_path: Path) -> None:
    filled.export(tmp_path / "snap.parquet")
    with Catalog(tmp_path / "copy.sqlite") as copy:
        snapshot = copy.load_snapshot_file(tmp_path / "snap.parquet")
        assert len(snapshot.entries) == 4
        assert list(copy.entries()) == list(filled.entries())
    with Catalog(tmp_path / "bad.sqlite") as other:
        (tmp_path / "fake.parquet").write_bytes(b"PAR1 nope")
        with pytest.raises(CatalogError, match="parquet"):
            other.load_snapshot_file(tmp_path / "fake.parquet")


def test_snapshot_in_a_local_store_bootstraps_an_incremental_sync(
    store: LocalStore, tmp_path: Path
) -> None:
    publish(store, 3)
    store.commit("bad/no-task", config_files({"base_model_name": "gpt2"}), "x")
    with Catalog(tmp_path / "first.sqlite") as first:
        with pytest.raises(CatalogError, match="never been synced"):
            first.publish_snapshot(store, "alice/catalog")
        first.sync(store, progress=False)
        result = first.publish_snapshot(store, "alice/catalog")
    assert (tmp_path / "registry" / "datasets" / "alice" / "catalog" / "data").is_dir()
    assert result.created
    assert [info.repo_id for info in store.list_esms()] != []  # the dataset is not an ESM
    assert "alice/catalog" not in {info.repo_id for info in store.list_esms()}

    store.commit("alice/esm2", esm_files(22), "change after the snapshot")
    counting = WrappedStore(store)
    with Catalog(tmp_path / "second.sqlite") as second:
        snapshot = second.load_snapshot(store, "alice/catalog")
        assert len(snapshot.entries) == 3 and len(snapshot.unusable) == 1
        assert len(second) == 3 and second.source == store.location
        summary = second.sync(counting, progress=False)
        assert counting.reads == [("alice/esm2", "config.json")]
        assert summary.updated == ("alice/esm2",) and summary.unchanged == 3
        assert second["alice/esm2"].task_id == "org/task22"


def test_to_dataset(filled: Catalog) -> None:
    pytest.importorskip("datasets")
    dataset = filled.to_dataset()
    assert dataset.num_rows == 4
    assert dataset[0]["repo_id"] == "a/amz" and dataset[0]["language"] == ["en", "de"]
    assert "metadata" in dataset.column_names
