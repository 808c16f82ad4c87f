"""rank() end to end: tiny BERT, ESMs published to a local store and to the fake Hub."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, reviews

from registry.aliases import base_model_ids
from registry.embedding import Embedder
from registry.errors import DatasetError, NoEsmsFoundError, UsageError
from registry.esm import Esm
from registry.filters import SearchFilters
from registry.publish import build_files, publish_many
from registry.ranker import Ranking, load_target, logme, rank
from registry.ranker.api import find_candidates
from registry.ranker.fetch import EsmRef, fetch_esms
from registry.stores.hub import HubStore, RetryPolicy
from registry.stores.local import LocalStore

from hub_server import FakeHub

pd = pytest.importorskip("pandas")
pytest.importorskip("transformers")

DIM = 32
GOOD = 4


def _esms() -> list[Esm]:
    tasks = [make_esm(i, dim=DIM, base_model=BASE_MODEL) for i in range(GOOD)]
    # Scaled copies of one ESM differ in their LogME score; the identity keeps the base space.
    eye = make_esm(GOOD, dim=DIM, base_model=BASE_MODEL)
    tasks.append(Esm(eye.metadata, np.eye(DIM), np.zeros(DIM)))
    return tasks


def _broken_files() -> dict[str, bytes]:
    """A repo tagged for the base model whose weights are not a safetensors file."""
    files = build_files(make_esm(90, dim=DIM, base_model=BASE_MODEL))
    files["model.safetensors"] = b"garbage"
    return files


def _other_dim_files() -> dict[str, bytes]:
    return build_files(make_esm(91, dim=8, base_model=BASE_MODEL))


def _fill(store: Any) -> list[Esm]:
    esms = _esms()
    summary = publish_many(esms, store, namespace="alice", progress=False)
    assert summary.ok, summary.describe()
    store.commit("alice/broken-esm", _broken_files(), "Add a broken ESM")
    store.commit("alice/small-esm", _other_dim_files(), "Add an ESM of another size")
    # Another base model: never a candidate.
    publish_many(
        [make_esm(92, dim=DIM, base_model="other/model")], store, namespace="bob", progress=False
    )
    return esms


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("model") / "tiny-bert", "bert")


@pytest.fixture(scope="module")
def target_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = reviews(80)
    path = tmp_path_factory.mktemp("target") / "reviews.csv"
    pd.DataFrame({"review": texts, "sentiment": labels}).to_csv(path, index=False)
    return path


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An esm-registry home of the test's own (embedding cache, default store, catalog)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(home))
    monkeypatch.delenv("ESM_REGISTRY_CATALOG", raising=False)
    return home


def _rank(target: Any, model: Path, **kwargs: Any) -> Ranking:
    options: dict[str, Any] = {
        "text_column": "review",
        "label_column": "sentiment",
        "num_examples": 60,
        "model_path": model,
        "progress": False,
    }
    options.update(kwargs)
    return rank(target, BASE_MODEL, **options)


def _reference_scores(model: Path, target_csv: Path, esms: list[Esm]) -> dict[str, float]:
    """LogME on esm.apply(embeddings): the general path, as hfselect computes it."""
    target = load_target(
        target_csv, text_column="review", label_column="sentiment", num_examples=60
    )
    embeddings = Embedder(model, model_id=BASE_MODEL, cache_dir=False).embed(target.texts)
    return {
        esm.metadata.task.task_id: logme(esm.apply(embeddings), target.labels).score for esm in esms
    }


def _check_scores(ranking: Ranking, expected: dict[str, float]) -> None:
    assert {entry.task_id for entry in ranking} == set(expected)
    for entry in ranking:
        assert entry.score == pytest.approx(expected[entry.task_id], rel=1e-6, abs=1e-9)
    assert ranking.scores == sorted(ranking.scores, reverse=True)
    assert [entry.rank for entry in ranking] == list(range(1, len(ranking) + 1))


def test_rank_a_local_store(
    env: Path, model: Path, target_csv: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = LocalStore(tmp_path / "registry")
    esms = _fill(store)
    with caplog.at_level(logging.WARNING, logger="registry.ranker"):
        ranking = _rank(target_csv, model, registry=store)
    _check_scores(ranking, _reference_scores(model, target_csv, esms))
    assert len(ranking) == len(esms)
    assert {s.source for s in ranking.skipped} == {"alice/broken-esm", "alice/small-esm"}
    reasons = {s.source: s.reason for s in ranking.skipped}
    assert "8-dimensional" in reasons["alice/small-esm"]
    assert "2 of 7 ESMs were skipped" in caplog.text
    top = ranking[0]
    assert top.repo_id is not None and top.repo_id.startswith("alice/ESM_tiny-bert_")
    assert top.sha is not None and len(top.sha) == 40
    assert top.text_column == "text" and top.label_column == "label"
    assert top.architecture == "linear" and top.base_model == BASE_MODEL
    assert ranking.pooling == "pooler"
    assert ranking.target["num_examples"] == 60 and ranking.target["embedding_dim"] == DIM
    assert "alice/broken-esm" in str(ranking)


def test_rank_the_fake_hub_matches_the_local_store(
    env: Path, model: Path, target_csv: Path, tmp_path: Path, fake_hub: FakeHub
) -> None:
    hub = HubStore(
        endpoint=fake_hub.url,
        retry=RetryPolicy(attempts=2, base_delay=0, jitter=0),
        cache_dir=tmp_path / "hub-cache",
    )
    esms = _fill(hub)
    ranking = _rank(target_csv, model, registry=hub, jobs=3, chunk_size=2)
    _check_scores(ranking, _reference_scores(model, target_csv, esms))
    assert {s.source for s in ranking.skipped} == {"alice/broken-esm", "alice/small-esm"}
    # The second ranking is served by the download and embedding caches: only listings.
    fake_hub.reset_log()
    again = _rank(target_csv, model, registry=hub)
    assert again.scores == ranking.scores
    assert all("/resolve/" not in r.path or "broken" in r.path for r in fake_hub.requests)


def test_rank_through_the_catalog_with_filters(
    env: Path, model: Path, target_csv: Path, tmp_path: Path
) -> None:
    from registry.catalog import Catalog

    store = LocalStore(tmp_path / "registry")
    esms = _fill(store)
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        catalog.sync(store, progress=False)
    expected = _reference_scores(model, target_csv, esms)
    ranking = _rank(target_csv, model, catalog=path)  # the store comes from the catalog
    _check_scores(ranking, expected)
    only = _rank(
        target_csv,
        model,
        catalog=path,
        filters=SearchFilters(task_id="org/task1", architecture="linear"),
    )
    assert [entry.task_id for entry in only] == ["org/task1"]
    assert only[0].score == pytest.approx(expected["org/task1"], rel=1e-6)
    with pytest.raises(NoEsmsFoundError, match="language=de"):
        _rank(target_csv, model, catalog=path, filters=SearchFilters(language="de"))


def test_rank_explicit_esms_and_folders(
    env: Path, model: Path, target_csv: Path, tmp_path: Path
) -> None:
    esms = _esms()
    folder = esms[1].save(tmp_path / "esm-folder")
    broken = tmp_path / "broken-folder"
    broken.mkdir()
    ranking = _rank(target_csv, model, esms=[esms[0], folder, str(broken)])
    assert [entry.task_id for entry in sorted(ranking, key=lambda e: e.task_id)] == [
        "org/task0",
        "org/task1",
    ]
    assert ranking[0].repo_id is None
    assert [s.source for s in ranking.skipped] == [str(broken)]


def test_alias_of_the_base_model_finds_the_esms(
    env: Path, model: Path, target_csv: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "registry")
    esm = make_esm(0, dim=DIM, base_model="bert-base-uncased")
    publish_many([esm], store, namespace="alice", progress=False)
    refs, residual = find_candidates(
        SearchFilters(base_model="google-bert/bert-base-uncased"), store=store
    )
    assert residual == SearchFilters()
    assert [ref.repo_id for ref in refs] == ["alice/ESM_bert-base-uncased_org__task0_default"]
    ranking = rank(
        target_csv,
        "google-bert/bert-base-uncased",
        registry=store,
        model_path=model,
        text_column="review",
        label_column="sentiment",
        num_examples=40,
        progress=False,
    )
    assert len(ranking) == 1
    assert "bert-base-uncased" in base_model_ids("google-bert/bert-base-uncased")


def test_regression_target(env: Path, model: Path, tmp_path: Path) -> None:
    texts, _ = reviews(50)
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"text": texts, "y": rng.normal(size=50), "z": rng.normal(size=50)})
    esms = _esms()[:2]
    ranking = rank(
        frame,
        BASE_MODEL,
        esms=esms,
        model_path=model,
        label_column=["y", "z"],
        regression=True,
        num_examples=None,
        progress=False,
    )
    embeddings = Embedder(model, model_id=BASE_MODEL, cache_dir=False).embed(texts)
    targets = frame[["y", "z"]].to_numpy()
    for entry in ranking:
        esm = esms[int(entry.task_id[-1])]
        expected = logme(esm.apply(embeddings), targets, regression=True).score
        assert entry.score == pytest.approx(expected, rel=1e-6)


def test_no_candidates_and_bad_arguments(
    env: Path, model: Path, target_csv: Path, tmp_path: Path
) -> None:
    store = LocalStore(tmp_path / "empty")
    with pytest.raises(NoEsmsFoundError, match="no ESMs for the base model"):
        _rank(target_csv, model, registry=store)
    with pytest.raises(UsageError, match="chunk_size"):
        _rank(target_csv, model, registry=store, chunk_size=0)
    with pytest.raises(DatasetError, match="no column 'missing'; its columns are review"):
        _rank(target_csv, model, registry=store, text_column="missing")


def test_fetch_streams_in_order_and_reports_failures(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "registry")
    esms = _fill(store)
    ids = [info.repo_id for info in store.list_esms(tags=[f"BaseLM:{BASE_MODEL}"])]
    items = [*ids, "alice/does-not-exist"]
    results = list(fetch_esms(iter(items), store, jobs=2, embedding_dim=DIM, total=len(items)))
    assert [r.source for r in results] == items
    failed = {r.source: r.error for r in results if not r.ok}
    assert set(failed) == {"alice/broken-esm", "alice/small-esm", "alice/does-not-exist"}
    assert sum(r.ok for r in results) == len(esms)
    with pytest.raises(UsageError):
        EsmRef.of(3.5)
    with pytest.raises(UsageError):
        list(fetch_esms([], store, jobs=0))


@pytest.mark.parametrize(
    "name",
    [
        "registry.ranker",
        "registry.ranker.api",
        "registry.ranker.fetch",
        "registry.ranker.ranking",
        "registry.ranker.target",
        "registry.cli.rank",
    ],
)
def test_module_all_is_accurate(name: str) -> None:
    import importlib

    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"


def test_fetch_is_lazy_and_bounded(tmp_path: Path) -> None:
    """An endless stream of references: results come out while the input is still open."""
    import itertools

    esm = make_esm(0, dim=DIM, base_model=BASE_MODEL)
    pulled = []

    def endless() -> Any:
        for index in itertools.count():
            pulled.append(index)
            yield esm

    results = list(itertools.islice(fetch_esms(endless(), jobs=2, prefetch=4), 3))
    assert [r.ok for r in results] == [True, True, True]
    assert len(pulled) <= 3 + 4  # at most `prefetch` ahead of what was consumed


def test_a_chunk_that_fails_to_score_is_retried_one_by_one(
    env: Path, model: Path, target_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    logme_module = importlib.import_module("registry.ranker.scoring")
    esms = _esms()
    poisoned = esms[2].weight
    original = logme_module._score_linear_chunk

    def flaky(stats: Any, weights: Any, *args: Any, **kwargs: Any) -> Any:
        if any(np.array_equal(w, poisoned) for w in np.asarray(weights)):
            raise np.linalg.LinAlgError("eigh did not converge")
        return original(stats, weights, *args, **kwargs)

    monkeypatch.setattr(logme_module, "_score_linear_chunk", flaky)
    ranking = _rank(target_csv, model, esms=esms, chunk_size=2)
    assert len(ranking) == len(esms) - 1
    assert [s.source for s in ranking.skipped] == ["org/task2 (default)"]
    assert "eigh did not converge" in ranking.skipped[0].reason
    expected = _reference_scores(model, target_csv, esms)
    del expected["org/task2"]
    _check_scores(ranking, expected)


@pytest.mark.parametrize("rank_correction", [True, False])
def test_rank_correction_switch_with_fewer_examples_than_dimensions(
    env: Path, model: Path, target_csv: Path, rank_correction: bool
) -> None:
    """N = 20 <= D = 32: False gives hfselect's value, True the corrected evidence."""
    esms = _esms()
    ranking = _rank(target_csv, model, esms=esms, num_examples=20, rank_correction=rank_correction)
    target = load_target(
        target_csv, text_column="review", label_column="sentiment", num_examples=20
    )
    embeddings = Embedder(model, model_id=BASE_MODEL, cache_dir=False).embed(target.texts)
    expected = {
        esm.metadata.task.task_id: logme(
            esm.apply(embeddings), target.labels, rank_correction=rank_correction
        ).score
        for esm in esms
    }
    _check_scores(ranking, expected)
    other = {
        esm.metadata.task.task_id: logme(
            esm.apply(embeddings), target.labels, rank_correction=not rank_correction
        ).score
        for esm in esms
    }
    assert all(abs(expected[task] - other[task]) > 1e-3 for task in expected)
