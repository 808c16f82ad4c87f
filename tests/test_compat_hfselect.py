"""registry.compat.hfselect against hfselect 0.2.1 itself, on the same inputs.

The same target (a tiny BERT built here, D = 32), the same ESMs, the same calls: the two
rankings must list the tasks in the same order with scores within 1e-6, with more
examples than dimensions and with fewer (where hfselect's LogME value differs from the
corrected evidence). The Hub functions are compared on the in-process Hub. Without
hfselect installed these tests skip (fail with ``ESM_REGISTRY_REQUIRE_HFSELECT=1``); the
tests of the compat layer on its own are in ``test_compat_api.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, forbid_network, require, reviews

from registry.esm import Esm
from registry.publish import publish_many
from registry.stores.hub import HubStore

from hub_server import FakeHub

datasets = pytest.importorskip("datasets")
pd = pytest.importorskip("pandas")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from registry.compat import hfselect as compat  # noqa: E402
from registry.compat.hfselect._config import CONFIG_KEYS  # noqa: E402

DIM = 32
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def hfselect(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """hfselect, imported with its log file kept out of the work tree (see test_esm_interop)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path_factory.mktemp("hfselect-cwd"))
        module = require("hfselect")
    require("scipy")  # hfselect's LogME runs numba's linear algebra, which calls scipy
    logging.captureWarnings(False)
    logging.getLogger("hfselect").setLevel(logging.WARNING)
    return module


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Any connection that leaves the machine fails the test; caches stay in tmp_path."""
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    forbid_network(monkeypatch)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("model") / "tiny-bert", "bert")


def _esm(index: int) -> Esm:
    """ESMs whose scores differ clearly: a random map mixed with the identity."""
    base = make_esm(index, dim=DIM, base_model=BASE_MODEL)
    mix = 0.15 * (index + 1)
    weight = mix * np.asarray(base.weight, dtype=np.float64) + (1 - mix) * np.eye(DIM)
    return Esm(base.metadata, weight, base.bias)


@pytest.fixture(scope="module")
def esm_folders(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("esms")
    return [_esm(i).save(root / f"esm{i}") for i in range(6)]


def _target(n: int, labels: str) -> Any:
    texts, names = reviews(n, seed=n)
    if labels == "strings":
        values: list[Any] = names
    elif labels == "integers-with-gaps":  # hfselect scores range(max + 1) columns
        values = [{"pos": 0, "neg": 5}[name] if i % 3 else 2 for i, name in enumerate(names)]
    else:
        rng = np.random.default_rng(n)
        values = [float(name == "pos") + 0.3 * float(rng.normal()) for name in names]
    return datasets.Dataset.from_dict({"text": texts, "label": values})


def _compare(theirs: Any, ours: Any) -> float:
    """Same tasks in the same order; returns the largest score difference."""
    assert [c.task_id for c in ours.esm_configs] == [c.task_id for c in theirs.esm_configs]
    assert ours.ranks == theirs.ranks
    return max(abs(a - b) for a, b in zip(ours.scores, theirs.scores, strict=True))


CASES = [
    pytest.param(60, "strings", id="N>D-strings"),
    pytest.param(60, "integers-with-gaps", id="N>D-integer-gaps"),
    pytest.param(60, "regression", id="N>D-regression"),
    pytest.param(20, "strings", id="N<=D-strings"),
    pytest.param(24, "integers-with-gaps", id="N<=D-integer-gaps"),
    pytest.param(16, "regression", id="N<=D-regression"),
]


@pytest.mark.parametrize(("n", "labels"), CASES)
def test_compute_task_ranking_equals_hfselect(
    hfselect: ModuleType, model: Path, esm_folders: list[Path], n: int, labels: str
) -> None:
    data = _target(n, labels)
    regression = labels == "regression"
    theirs = hfselect.compute_task_ranking(
        hfselect.Dataset(data, "text", "label", regression),
        str(model),
        esms=[hfselect.ESM.from_pretrained(str(folder)) for folder in esm_folders],
    )
    ours = compat.compute_task_ranking(
        compat.Dataset(data, "text", "label", regression),
        str(model),
        esms=[compat.ESM.from_pretrained(folder) for folder in esm_folders],
    )
    assert _compare(theirs, ours) <= TOLERANCE
    # (str() rounds to 6 digits, so a 1e-9 difference may show there: compared below on
    # equal scores, in test_task_ranking_presentation_is_hfselects.)
    pd.testing.assert_frame_equal(ours.to_pandas(), theirs.to_pandas(), rtol=0, atol=TOLERANCE)

    corrected = compat.compute_task_ranking(
        compat.Dataset(data, "text", "label", regression),
        str(model),
        esms=[compat.ESM.from_pretrained(folder) for folder in esm_folders],
        rank_correction=True,
    )
    gap = max(
        abs(a - b) for a, b in zip(sorted(corrected.scores), sorted(ours.scores), strict=True)
    )
    if n <= DIM:  # hfselect's value leaves out part of the prior: the switch matters here
        assert gap > 1e-3
    else:
        assert gap <= TOLERANCE


def test_compute_scores_with_model_objects_equals_hfselect(
    hfselect: ModuleType, model: Path, esm_folders: list[Path]
) -> None:
    data = _target(40, "strings")
    base = transformers.AutoModel.from_pretrained(model)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    theirs = hfselect.compute_scores(
        hfselect.Dataset(data, "text", "label", False),
        base,
        [hfselect.ESM.from_pretrained(str(folder)) for folder in esm_folders],
        tokenizer,
        batch_size=16,
    )
    ours = compat.compute_scores(
        compat.Dataset(data, "text", "label", False),
        base,
        [compat.ESM.from_pretrained(folder) for folder in esm_folders],
        tokenizer,
        batch_size=16,
    )
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) <= TOLERANCE
    # hfselect's own ESM objects are scored too (through their outputs).
    mixed = compat.compute_scores(
        compat.Dataset(data, "text", "label", False),
        base,
        [hfselect.ESM.from_pretrained(str(folder)) for folder in esm_folders],
        tokenizer,
    )
    assert max(abs(a - b) for a, b in zip(mixed, theirs, strict=True)) <= TOLERANCE


def test_a_faulty_esm_is_left_out(
    hfselect: ModuleType, model: Path, esm_folders: list[Path], tmp_path: Path
) -> None:
    """hfselect means to leave out an ESM that fails (its docstring says so) but 0.2.1
    crashes while logging it (``config.get(["repo_id"])``); here it is left out."""
    other = make_esm(9, dim=8, base_model=BASE_MODEL).save(tmp_path / "small")
    data = _target(40, "strings")
    theirs = hfselect.compute_task_ranking(
        hfselect.Dataset(data, "text", "label", False),
        str(model),
        esms=[hfselect.ESM.from_pretrained(str(f)) for f in esm_folders[:2]],
    )
    ours = compat.compute_task_ranking(
        compat.Dataset(data, "text", "label", False),
        str(model),
        esms=[compat.ESM.from_pretrained(f) for f in [*esm_folders[:2], other]],
    )
    assert len(ours) == len(theirs) == 2
    assert _compare(theirs, ours) <= TOLERANCE


def test_from_hugging_face_draws_hfselects_sample(hfselect: ModuleType, tmp_path: Path) -> None:
    texts, _ = reviews(50)
    labels = [i % 3 if i % 7 else -1 for i in range(50)]
    folder = tmp_path / "data"
    folder.mkdir()
    pd.DataFrame({"text": texts, "label": labels}).to_csv(folder / "train.csv", index=False)
    # Both load through datasets.load_dataset; a local folder stands in for a Hub id.
    for kwargs in ({"num_examples": 20, "seed": 3}, {"num_examples": None}):
        theirs = hfselect.Dataset.from_hugging_face(
            str(folder), "train", "text", "label", False, **kwargs
        )
        ours = compat.Dataset.from_hugging_face(
            str(folder), "train", "text", "label", False, **kwargs
        )
        assert ours.dataset["text"] == theirs.dataset["text"]
        assert ours.metadata == theirs.metadata
        assert ours.label_dim == theirs.label_dim


def test_dataset_attributes_and_collate_fn_match(hfselect: ModuleType, model: Path) -> None:
    data = datasets.Dataset.from_dict(
        {"q": ["a b", "c"], "a": ["d", "e f"], "label": ["neg", "pos"]}
    )
    theirs = hfselect.Dataset(data, ("q", "a"), "label", False)
    ours = compat.Dataset(data, ("q", "a"), "label", False)
    assert (ours.label_dim, ours.has_string_labels) == (theirs.label_dim, theirs.has_string_labels)
    assert len(ours) == len(theirs) and ours[0] == theirs[0]
    tokenizer = transformers.AutoTokenizer.from_pretrained(model)
    rows = [data[0], data[1]]
    expected_batch = theirs.collate_fn(rows, tokenizer=tokenizer)
    our_batch = ours.collate_fn(rows, tokenizer=tokenizer)
    for expected, got in zip(expected_batch, our_batch, strict=True):
        assert torch.equal(expected, got)


def test_task_ranking_presentation_is_hfselects(hfselect: ModuleType) -> None:
    from hfselect.task_ranking import TaskRanking

    scores = list(np.random.default_rng(0).normal(size=14))
    scores[3] = float("nan")

    def configs(make: Callable[..., Any]) -> list[Any]:
        return [
            make(task_id=f"org/task-{i}", base_model_name="b/m", task_subset=f"s{i}",
                 num_examples=100 + i, esm_architecture="linear")
            for i in range(14)
        ]  # fmt: skip

    theirs = TaskRanking(configs(hfselect.ESMConfig), scores)
    ours = compat.TaskRanking(configs(compat.ESMConfig), scores)
    assert str(ours) == str(theirs) and repr(ours) == repr(theirs)
    assert len(ours) == len(theirs) == 13
    assert str(ours[2:5]) == str(theirs[2:5]) and str(ours[4]) == str(theirs[4])
    assert ours[2:5].ranks == theirs[2:5].ranks == [3, 4, 5]
    pd.testing.assert_frame_equal(ours.to_pandas(), theirs.to_pandas())
    pd.testing.assert_frame_equal(ours[1:3].to_pandas(), theirs[1:3].to_pandas())


def test_esms_give_hfselects_outputs(hfselect: ModuleType, esm_folders: list[Path]) -> None:
    x = torch.from_numpy(np.random.default_rng(1).normal(size=(5, DIM)).astype(np.float32))
    theirs = hfselect.ESM.from_pretrained(str(esm_folders[0]))
    ours = compat.ESM.from_pretrained(esm_folders[0])
    with torch.no_grad():
        expected = theirs(x)
    got = ours(x)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(ours.model(x).detach(), expected)
    assert repr(ours) == repr(theirs)
    theirs_config = theirs.create_config()
    for key in CONFIG_KEYS:
        assert ours.create_config()[key] == getattr(theirs_config, key), key


# --- the Hub functions ------------------------------------------------------------------------


@pytest.fixture
def hub_esms(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, hfselect: ModuleType) -> FakeHub:
    """Four ESMs of the tiny BERT and one of another model on the in-process Hub, which
    both libraries then use as their endpoint."""
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    store = HubStore(endpoint=fake_hub.url)
    fake_hub.add_repo(BASE_MODEL, {"config.json": b"{}"})
    fake_hub.add_redirect("tiny-bert", BASE_MODEL)
    fake_hub.add_repo("other/model", {"config.json": b"{}"})
    esms = [_esm(i) for i in range(4)]
    esms.append(make_esm(7, dim=8, base_model="other/model"))
    assert publish_many(esms, store, namespace="alice", progress=False).ok
    fake_hub.add_repo("alice/not-an-esm", {"README.md": b"---\ntags: [embedding_space_map]\n---\n"})
    monkeypatch.setenv("HF_ENDPOINT", fake_hub.url)
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", fake_hub.url)
    monkeypatch.setattr(
        huggingface_hub.constants,
        "HUGGINGFACE_CO_URL_TEMPLATE",
        fake_hub.url + "/{repo_id}/resolve/{revision}/{filename}",
    )
    # hfselect calls huggingface_hub.model_info, bound to a client made at import time.
    monkeypatch.setattr(hfselect.utils, "model_info", HfApi(endpoint=fake_hub.url).model_info)
    return fake_hub


def test_hub_functions_answer_as_hfselect(hfselect: ModuleType, hub_esms: FakeHub) -> None:
    for model_name in (BASE_MODEL, "tiny-bert", None):
        theirs = hfselect.find_esm_repo_ids(model_name=model_name)
        ours = compat.find_esm_repo_ids(model_name=model_name)
        assert sorted(ours) == sorted(theirs), model_name
    assert len(compat.find_esm_repo_ids(BASE_MODEL)) == 4
    filters = ["dataset:org/task1"]
    assert compat.find_esm_repo_ids(BASE_MODEL, filters) == hfselect.find_esm_repo_ids(
        BASE_MODEL, list(filters)
    )
    assert filters == ["dataset:org/task1"]  # the caller's list is left alone

    assert compat.get_esm_coverage() == hfselect.get_esm_coverage()
    assert compat.get_esm_coverage() == {BASE_MODEL: 4, "other/model": 1, None: 1}

    repo_ids = sorted(compat.find_esm_repo_ids())
    theirs_configs = hfselect.fetch_esm_configs(repo_ids)
    ours_configs = compat.fetch_esm_configs(repo_ids)
    assert [c.task_id for c in ours_configs] == [c.task_id for c in theirs_configs]
    assert len(ours_configs) == 5  # the repo without a config is left out by both

    x = torch.from_numpy(np.random.default_rng(2).normal(size=(3, DIM)).astype(np.float32))
    tiny = compat.find_esm_repo_ids(BASE_MODEL)
    ours_esms = compat.fetch_esms(tiny)
    theirs_esms = hfselect.utils.fetch_esms(tiny)
    assert len(ours_esms) == len(theirs_esms) == 4
    for mine, reference in zip(ours_esms, theirs_esms, strict=True):
        with torch.no_grad():
            torch.testing.assert_close(mine(x), reference(x))
