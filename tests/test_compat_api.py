"""registry.compat.hfselect on its own: its API, local registries, hints; no hfselect needed."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, reviews

from registry.errors import MissingExtraError, NoEsmsFoundError, UsageError
from registry.publish import publish_many
from registry.stores.hub import HubStore
from registry.stores.local import LocalStore

from hub_server import FakeHub

DIM = 32


def test_importing_the_compat_layer_loads_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from registry.compat import hfselect\n"
        "hfselect.Dataset, hfselect.compute_task_ranking, hfselect.TaskRanking\n"
        "heavy = {'torch', 'transformers', 'datasets', 'pandas', 'hfselect'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "[]"


def test_the_public_names_are_hfselects() -> None:
    from registry.compat import hfselect

    for name in (
        "Dataset",
        "ESM",
        "ESMConfig",
        "TaskRanking",
        "compute_scores",
        "compute_task_ranking",
        "fetch_esm_configs",
        "fetch_esms",
        "find_esm_repo_ids",
        "get_esm_coverage",
    ):
        assert name in hfselect.__all__ and hasattr(hfselect, name)
    public = {n for n in dir(hfselect) if not n.startswith("_")} - {"annotations"}
    assert set(hfselect.__all__) == public | {"__version__"}


def test_esm_config_is_an_attribute_object_and_a_mapping() -> None:
    from registry.compat.hfselect import ESMConfig

    config = ESMConfig.from_dict(
        {"base_model_name": "b/m", "task_id": "o/t", "transformers_version": "4.45.2"}
    )
    assert config.is_valid and config.task_id == "o/t" and config["task_id"] == "o/t"
    assert config.get("transformers_version") == "4.45.2" and config.get("nope", 3) == 3
    assert config.to_dict()["transformers_version"] == "4.45.2"
    assert not ESMConfig(task_id="o/t").is_valid
    assert config.to_metadata().task.task_id == "o/t"
    assert ESMConfig.from_dict(config.to_dict()) == config


def test_esm_applies_to_numpy_and_tensors(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from registry.compat.hfselect import ESM

    esm = make_esm(0, dim=DIM, base_model=BASE_MODEL)
    folder = esm.save(tmp_path / "esm")
    loaded = ESM.from_pretrained(folder)
    x = np.random.default_rng(0).normal(size=(4, DIM)).astype(np.float32)
    np.testing.assert_allclose(loaded(x), esm.apply(x), rtol=1e-6)
    out = loaded(torch.from_numpy(x))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), esm.apply(x), rtol=1e-5, atol=1e-6)
    assert loaded.to("cpu") is loaded and loaded.eval() is loaded
    assert loaded.is_initialized and not loaded.is_legacy_model
    assert repr(loaded) == "ESM - Task ID: org/task0 - Subset: default"

    fresh = ESM(config={"esm_embedding_dim": 8, "esm_architecture": "linear"})
    assert fresh.weight.shape == (8, 8) and np.abs(fresh.weight).max() <= 1 / math.sqrt(8)
    torch.testing.assert_close(fresh(torch.ones(2, 8)), fresh.model(torch.ones(2, 8)).detach())


def test_esm_layer_without_torch_is_a_one_line_hint(tmp_path: Path) -> None:
    folder = make_esm(0, dim=4).save(tmp_path / "esm")
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "from registry.compat.hfselect import ESM\n"
        f"esm = ESM.from_pretrained({str(folder)!r})\n"
        "print(esm([[1.0, 2.0, 3.0, 4.0]]).shape)\n"
        "try:\n"
        "    esm.model\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    )
    first, second = done.stdout.strip().splitlines()
    assert first == "(1, 4)"  # numpy needs no torch
    assert second.startswith("ESM.model needs the ranking extra (torch is not installed): pip")
    assert issubclass(MissingExtraError, ImportError)


def test_task_ranking_checks_and_conversion() -> None:
    from registry.compat.hfselect import ESMConfig, InvalidTaskRankingError, TaskRanking

    configs = [ESMConfig(task_id=f"t{i}", base_model_name="b/m") for i in range(3)]
    with pytest.raises(InvalidTaskRankingError, match="empty"):
        TaskRanking(configs[:1], [math.nan])
    with pytest.raises(InvalidTaskRankingError, match="3 ESM configs but 2 scores"):
        TaskRanking(configs, [1.0, 2.0])
    ranking = TaskRanking(configs, [0.1, 0.3, 0.2])
    assert [c.task_id for c in ranking.esm_configs] == ["t1", "t2", "t0"]
    assert ranking[-1].ranks == [3] and len(ranking[:2]) == 2
    with pytest.raises(TypeError):
        ranking["t1"]  # type: ignore[call-overload]


@pytest.fixture
def local_registry(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "registry")
    esms = [make_esm(i, dim=DIM, base_model=BASE_MODEL) for i in range(3)]
    esms.append(make_esm(5, dim=8, base_model="other/model"))
    assert publish_many(esms, store, namespace="alice", progress=False).ok
    return store


def test_finding_and_fetching_in_a_local_registry(local_registry: LocalStore) -> None:
    from registry.compat import hfselect

    folder = str(local_registry.root)
    ids = hfselect.find_esm_repo_ids(BASE_MODEL, registry=folder)
    assert len(ids) == 3 and all(i.startswith("alice/ESM_tiny-bert_") for i in ids)
    assert hfselect.get_esm_coverage(registry=local_registry) == {BASE_MODEL: 3, "other/model": 1}
    configs = hfselect.fetch_esm_configs([*ids, "alice/missing"], registry=folder)
    assert sorted(c.task_id for c in configs) == ["org/task0", "org/task1", "org/task2"]
    esms = hfselect.fetch_esms([*ids, "alice/missing"], registry=folder)
    assert len(esms) == 3
    one = hfselect.ESM.from_pretrained(ids[0], registry=folder)
    assert one.config.task_id in {c.task_id for c in configs}


@pytest.mark.parametrize("fake_hub", [{"tokens": {"hf_alice_0123456789": "alice"}}], indirect=True)
def test_esm_from_the_hub_by_repo_id(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from registry.compat.hfselect import ESM

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    store = HubStore(endpoint=fake_hub.url, token="hf_alice_0123456789")
    esm = make_esm(0, dim=4)
    (result,) = publish_many([esm], store, namespace="alice", progress=False)
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    assert result.repo_id is not None
    loaded = ESM.from_pretrained(result.repo_id, token="hf_alice_0123456789")
    np.testing.assert_array_equal(loaded.weight, esm.weight)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("transformers")
    return build_model(tmp_path_factory.mktemp("model") / "tiny-bert", "bert")


def test_compute_task_ranking_from_a_local_registry(
    local_registry: LocalStore, model: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    datasets = pytest.importorskip("datasets")
    from registry.compat import hfselect

    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    texts, labels = reviews(40)
    data = hfselect.Dataset(datasets.Dataset.from_dict({"t": texts, "y": labels}), "t", "y", False)
    ids = hfselect.find_esm_repo_ids(BASE_MODEL, registry=local_registry)
    ranking = hfselect.compute_task_ranking(
        data, str(model), esm_repo_ids=ids, registry=local_registry
    )
    assert len(ranking) == 3
    frame = ranking.to_pandas()
    assert list(frame.columns) == [
        "Task ID",
        "Task Subset",
        "Text Column",
        "Label Column",
        "Task Split",
        "Num Examples",
        "ESM Architecture",
        "Score",
    ]
    assert frame.index.name == "Rank" and list(frame.index) == [1, 2, 3]

    with pytest.raises(NoEsmsFoundError):
        hfselect.compute_task_ranking(data, str(model), esm_repo_ids=[], registry=local_registry)
    assert hfselect.NoESMsFoundError is NoEsmsFoundError

    negative = datasets.Dataset.from_dict({"t": texts[:4], "y": [0, 1, -1, 1]})
    with pytest.raises(UsageError, match="below 0"):
        hfselect.compute_task_ranking(
            hfselect.Dataset(negative, "t", "y", False), str(model), esm_repo_ids=ids,
            registry=local_registry,
        )  # fmt: skip


def test_from_hugging_face_reads_shipped_tasks_offline() -> None:
    pytest.importorskip("datasets")
    from registry.compat import hfselect

    data = hfselect.Dataset.from_hugging_face(
        "wordnet/noun-example-category", "test", "text", "label", False, num_examples=30, seed=1
    )
    assert len(data) == 30 and data.has_string_labels
    assert data.metadata is not None and data.metadata["task_id"] == "wordnet/noun-example-category"
    assert data.labels().max() < data.label_dim
    streamed = hfselect.Dataset.from_hugging_face(
        "wordnet/noun-example-category", "test", "text", "label", False, num_examples=10,
        seed=1, streaming=True,
    )  # fmt: skip
    assert len(streamed) == 10
