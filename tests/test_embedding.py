"""The embedding layer (registry.embedding): hfselect's pooling, dynamic padding, the cache."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rank_support import BASE_MODEL, TEXTS, build_model, require

from registry import embedding
from registry.embedding import Embedder, texts_fingerprint
from registry.errors import ModelLoadError, UsageError

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "bert": build_model(root / "bert", "bert"),
        # hfselect recognises sentence-transformers models by their name.
        "sbert": build_model(root / "sentence-transformers" / "tiny", "bert", seed=1),
        "distilbert": build_model(root / "distilbert", "distilbert"),
        "roberta": build_model(root / "roberta", "roberta"),
        "electra": build_model(root / "electra", "electra"),
    }


def _hfselect_embeddings(folder: Path, texts: list[str], max_length: int = 128) -> np.ndarray:
    """What hfselect computes: padding to max_length, then get_pooled_output."""
    model_utils = require("hfselect.model_utils")
    model = transformers.AutoModel.from_pretrained(str(folder)).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder))
    encoded = tokenizer(
        texts,
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
        return_token_type_ids=False,
    )
    with torch.no_grad():
        pooled = model_utils.get_pooled_output(
            model, encoded["input_ids"], encoded["attention_mask"]
        )
    return pooled.numpy()


@pytest.mark.parametrize(
    ("family", "pooling"),
    [("bert", "pooler"), ("sbert", "mean"), ("distilbert", "cls"), ("roberta", "cls")],
)
def test_pooling_follows_hfselect(
    models: dict[str, Path], family: str, pooling: str, tmp_path: Path
) -> None:
    embedder = Embedder(models[family], cache_dir=False)
    assert embedder.pooling == pooling
    ours = embedder.embed(TEXTS, batch_size=4)
    assert ours.dtype == np.float32
    assert ours.shape == (len(TEXTS), 32)
    np.testing.assert_allclose(ours, _hfselect_embeddings(models[family], TEXTS), atol=1e-5)


@pytest.mark.parametrize("family", ["bert", "sbert", "distilbert", "roberta"])
def test_dynamic_padding_equals_padding_to_max_length(models: dict[str, Path], family: str) -> None:
    embedder = Embedder(models[family], cache_dir=False)
    dynamic = embedder.embed(TEXTS, batch_size=3)
    padded = embedder.embed(TEXTS, batch_size=3, padding="max_length")
    np.testing.assert_allclose(dynamic, padded, atol=1e-5)


def test_input_order_is_restored(models: dict[str, Path]) -> None:
    embedder = Embedder(models["sbert"], cache_dir=False)
    one_by_one = np.vstack([embedder.embed([text], batch_size=1) for text in TEXTS])
    batched = embedder.embed(TEXTS, batch_size=4)
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    reversed_rows = embedder.embed(TEXTS[::-1], batch_size=4)
    np.testing.assert_allclose(reversed_rows, batched[::-1], atol=1e-5)


def test_sentence_transformers_rule_looks_at_the_model_id(models: dict[str, Path]) -> None:
    assert Embedder(models["bert"], cache_dir=False).pooling == "pooler"
    named = Embedder(models["bert"], model_id="sentence-transformers/tiny", cache_dir=False)
    assert named.pooling == "mean"


def test_local_sentence_transformers_folder_is_mean_pooled(
    models: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(models["bert"], tmp_path / "minilm-copy")
    assert Embedder(folder, cache_dir=False).pooling == "pooler"
    (folder / "modules.json").write_text("[]", encoding="utf-8")
    assert Embedder(folder, cache_dir=False).pooling == "mean"


def test_model_without_an_hfselect_rule_needs_an_explicit_pooling(
    models: dict[str, Path],
) -> None:
    with pytest.raises(UsageError, match="no pooling rule for ElectraModel"):
        Embedder(models["electra"], cache_dir=False).embed(["good"])
    embedder = Embedder(models["electra"], pooling="cls", cache_dir=False)
    assert embedder.embed(["good", "bad"]).shape == (2, 32)


def test_pooling_override_and_unknown_pooling(models: dict[str, Path]) -> None:
    assert Embedder(models["roberta"], pooling="mean", cache_dir=False).pooling == "mean"
    with pytest.raises(UsageError, match="unknown pooling"):
        Embedder(models["bert"], pooling="max", cache_dir=False)  # type: ignore[arg-type]
    with pytest.raises(ModelLoadError, match="no pooler"):
        Embedder(models["distilbert"], pooling="pooler", cache_dir=False).embed(["a"])


def test_second_call_reads_the_cache_without_the_model(
    models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    first = Embedder(models["bert"], model_id=BASE_MODEL, cache_dir=cache)
    calls = []
    first.model.register_forward_hook(lambda *args: calls.append(1))
    computed = first.embed(TEXTS, batch_size=4)
    assert len(calls) == 3
    files = list(cache.rglob("*.safetensors"))
    assert len(files) == 1

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the model must not be loaded on a cache hit")

    monkeypatch.setattr(transformers.AutoModel, "from_pretrained", refuse)
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", refuse)
    second = Embedder(models["bert"], model_id=BASE_MODEL, cache_dir=cache)
    np.testing.assert_array_equal(second.embed(TEXTS, batch_size=8), computed)
    assert second._model is None
    assert first.embed(TEXTS, batch_size=4) is not computed  # a fresh array each time
    assert len(calls) == 3  # the first embedder read its own cache entry too
    # Another max_length, other texts or no cache: computed again.
    with pytest.raises(AssertionError, match="must not be loaded"):
        second.embed(TEXTS, max_length=16)
    with pytest.raises(AssertionError, match="must not be loaded"):
        second.embed([*TEXTS, "one more"])


def test_cache_key_depends_on_what_changes_the_embeddings(
    models: dict[str, Path], tmp_path: Path
) -> None:
    folder = shutil.copytree(models["bert"], tmp_path / "bert-copy")
    embedder = Embedder(folder, cache_dir=tmp_path / "cache")
    key = embedder.cache_key(TEXTS)
    assert key == Embedder(models["bert"], cache_dir=False).cache_key(TEXTS)  # same files
    assert key != embedder.cache_key(TEXTS, max_length=64)
    assert key != embedder.cache_key(TEXTS[:-1])
    assert key != Embedder(folder, pooling="mean", cache_dir=False).cache_key(TEXTS)
    assert key != Embedder(folder, model_id="x/y", cache_dir=False).cache_key(TEXTS)
    config = json.loads((folder / "config.json").read_text())
    config["layer_norm_eps"] = 1e-6
    (folder / "config.json").write_text(json.dumps(config))
    assert Embedder(folder, cache_dir=False).cache_key(TEXTS) != key


def test_damaged_cache_file_is_recomputed(
    models: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    embedder = Embedder(models["bert"], cache_dir=cache)
    expected = embedder.embed(TEXTS)
    (path,) = cache.rglob("*.safetensors")
    path.write_bytes(b"not a safetensors file")
    with caplog.at_level(logging.WARNING, logger="registry.embedding"):
        again = Embedder(models["bert"], cache_dir=cache).embed(TEXTS)
    np.testing.assert_allclose(again, expected, atol=1e-6)
    assert "damaged" in caplog.text


def test_hub_id_loads_from_the_cache_offline(
    models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    sha = "0123456789abcdef0123456789abcdef01234567"
    repo = Path(constants.HF_HUB_CACHE) / "models--tiny-org--offline-bert"
    shutil.copytree(models["bert"], repo / "snapshots" / sha)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = Embedder("tiny-org/offline-bert", cache_dir=tmp_path / "cache")
    assert embedder.local_files_only
    assert embedder.revision == sha
    expected = Embedder(models["bert"], cache_dir=False).embed(TEXTS)
    np.testing.assert_allclose(embedder.embed(TEXTS), expected, atol=1e-6)
    with pytest.raises(ModelLoadError, match="offline"):
        Embedder("tiny-org/not-cached", cache_dir=False).embed(["a"])


def test_long_texts_are_truncated_to_what_the_model_takes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = build_model(tmp_path / "short", "bert", max_position_embeddings=16)
    embedder = Embedder(folder, cache_dir=False)
    with caplog.at_level(logging.WARNING, logger="registry.embedding"):
        out = embedder.embed(TEXTS, max_length=128)
    assert out.shape == (len(TEXTS), 32)
    assert "at most 16 tokens" in caplog.text


def test_invalid_arguments(models: dict[str, Path], tmp_path: Path) -> None:
    embedder = Embedder(models["bert"], cache_dir=False)
    assert embedder.embed([]).shape == (0, 32)
    with pytest.raises(UsageError, match="batch_size"):
        embedder.embed(["a"], batch_size=0)
    with pytest.raises(UsageError, match="max_length"):
        embedder.embed(["a"], max_length=1)
    with pytest.raises(UsageError, match="not a string"):
        embedder.embed(["a", None])  # type: ignore[list-item]
    with pytest.raises(ModelLoadError, match="no such model folder"):
        Embedder(tmp_path / "missing")


def test_texts_fingerprint_separates_texts() -> None:
    assert texts_fingerprint(["ab"]) != texts_fingerprint(["a", "b"])
    assert texts_fingerprint([]) != texts_fingerprint([""])
    assert texts_fingerprint(["x"]) == texts_fingerprint(["x"])


@pytest.mark.parametrize(
    "name",
    [
        "registry.embedding",
        "registry.embedding.cache",
        "registry.embedding.embedder",
        "registry.embedding.models",
        "registry.embedding.pooling",
    ],
)
def test_module_all_is_accurate(name: str) -> None:
    module = importlib.import_module(name)
    assert len(module.__all__) == len(set(module.__all__))
    for attr in module.__all__:
        assert hasattr(module, attr), f"{name}.{attr}"
    public = {n for n in vars(module) if not n.startswith("_")}
    assert set(module.__all__) <= public


def test_the_package_exports_the_embedder() -> None:
    assert embedding.Embedder is Embedder
    assert set(embedding.POOLINGS) == {"pooler", "mean", "cls"}
