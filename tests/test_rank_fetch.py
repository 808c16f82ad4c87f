"""Fetching ESMs from strangers: hostile configs and oversized weights skip one ESM, no more."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, reviews

from registry.publish import build_files
from registry.ranker import rank
from registry.ranker.fetch import fetch_esms, load_esm, weights_size_bounds
from registry.stores.hub import HubStore, RetryPolicy

from hub_server import FakeHub

DIM = 32


def _hub(fake_hub: FakeHub, tmp_path: Path) -> HubStore:
    return HubStore(
        endpoint=fake_hub.url,
        retry=RetryPolicy(attempts=1, base_delay=0, jitter=0),
        cache_dir=tmp_path / "hub-cache",
    )


def _files(index: int, dim: int = DIM, **config: Any) -> dict[str, bytes]:
    files = build_files(make_esm(index, dim=dim, base_model=BASE_MODEL))
    if config:
        data = json.loads(files["config.json"])
        data.update(config)
        files["config.json"] = json.dumps(data).encode()
    return files


def _weight_gets(fake_hub: FakeHub) -> int:
    return fake_hub.count("GET", "model.safetensors") + fake_hub.count("HEAD", "model.safetensors")


def test_weights_size_bounds() -> None:
    low, high = weights_size_bounds("linear", 16)
    assert low == 2 * (16 * 16 + 16) + 8
    assert 8 * (16 * 16 + 16) + 8 < high < 100_000
    with pytest.raises(KeyError):
        weights_size_bounds("mlp", 16)


def test_oversized_weights_are_refused_before_they_are_downloaded(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    """A config claiming D=16 with a 20 MB weight file: the weights are never requested."""
    huge = _files(1, dim=16)
    header = b'{"model.weight":{"dtype":"F32","shape":[16,16],"data_offsets":[0,1024]}}'
    huge["model.safetensors"] = struct.pack("<Q", len(header)) + header + bytes(20_000_000)
    fake_hub.add_repo("mallory/huge-esm", huge)
    fake_hub.add_repo("alice/good-esm", _files(2, dim=16))
    store = _hub(fake_hub, tmp_path)
    fake_hub.reset_log()
    # The dimension comes from the config (16) or, the same here, the base model's.
    for embedding_dim in (None, 16):
        results = {
            r.source: r
            for r in fetch_esms(
                ["mallory/huge-esm", "alice/good-esm"], store, embedding_dim=embedding_dim
            )
        }
        assert results["alice/good-esm"].ok
        error = results["mallory/huge-esm"].error
        assert error is not None
        assert "20,000,0" in error and "not downloaded" in error
    assert fake_hub.count("GET", "mallory/huge-esm/resolve") == 1  # config.json, once
    assert not [
        r.path for r in fake_hub.requests if "mallory" in r.path and "model.safetensors" in r.path
    ]


def test_an_esm_of_another_dimension_is_refused_from_its_config(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    fake_hub.add_repo("bob/small-esm", _files(3, dim=8))
    store = _hub(fake_hub, tmp_path)
    fake_hub.reset_log()
    (result,) = fetch_esms(["bob/small-esm"], store, embedding_dim=DIM)
    assert result.error is not None and "8-dimensional" in result.error
    assert _weight_gets(fake_hub) == 0


def test_a_config_without_a_dimension_is_bounded_by_the_base_model(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    files = _files(4, dim=8)
    config = json.loads(files["config.json"])
    del config["esm_embedding_dim"]
    files["config.json"] = json.dumps(config).encode()
    fake_hub.add_repo("carol/quiet-esm", files)
    store = _hub(fake_hub, tmp_path)
    (loaded,) = fetch_esms(["carol/quiet-esm"], store)  # no bound known: read and checked
    assert loaded.ok
    fake_hub.reset_log()
    store = _hub(fake_hub, tmp_path / "other")
    (bounded,) = fetch_esms(["carol/quiet-esm"], store, embedding_dim=768)
    assert bounded.error is not None and "dimension 768" in bounded.error
    assert _weight_gets(fake_hub) == 0


def test_a_deeply_nested_config_skips_that_esm_only(fake_hub: FakeHub, tmp_path: Path) -> None:
    deep = _files(5)
    deep["config.json"] = b"[" * 100_000 + b"]" * 100_000
    fake_hub.add_repo("mallory/deep-esm", deep)
    fake_hub.add_repo("alice/fine-esm", _files(6))
    store = _hub(fake_hub, tmp_path)
    results = list(fetch_esms(["mallory/deep-esm", "alice/fine-esm"], store, embedding_dim=DIM))
    assert [r.ok for r in results] == [False, True]
    assert results[0].error is not None and "nested deeper" in results[0].error
    weights = [r.path for r in fake_hub.requests if "model.safetensors" in r.path]
    assert weights and all("alice/fine-esm" in path for path in weights)


def test_a_hostile_bfloat16_header_is_refused(tmp_path: Path) -> None:
    esm = make_esm(7, dim=4, base_model=BASE_MODEL)
    folder = esm.save(tmp_path / "esm")
    header = b"[" * 5000 + b"]" * 5000
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="safetensors"):
        load_esm(folder)
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 10**15) + b"{}")
    with pytest.raises(ValueError, match="header claims"):
        load_esm(folder)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_model(tmp_path_factory.mktemp("model") / "tiny-bert", "bert")


def test_rank_survives_hostile_esms(
    fake_hub: FakeHub, tmp_path: Path, model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    good = [make_esm(i, dim=DIM, base_model=BASE_MODEL) for i in range(3)]
    for i, esm in enumerate(good):
        fake_hub.add_repo(f"alice/esm-{i}", build_files(esm))
    deep = _files(10)
    deep["config.json"] = b"{" * 100_000
    fake_hub.add_repo("mallory/deep-esm", deep)
    huge = _files(11)
    huge["model.safetensors"] = bytes(20_000_000)
    fake_hub.add_repo("mallory/huge-esm", huge)
    texts, labels = reviews(40)
    ranking = rank(
        (texts, labels),
        BASE_MODEL,
        registry=_hub(fake_hub, tmp_path),
        model_path=model,
        progress=False,
    )
    assert len(ranking) == len(good)
    reasons = {s.source: s.reason for s in ranking.skipped}
    assert set(reasons) == {"mallory/deep-esm", "mallory/huge-esm"}
    assert "nested" in reasons["mallory/deep-esm"]
    assert "not downloaded" in reasons["mallory/huge-esm"]
    assert not [r for r in fake_hub.requests if "huge-esm/resolve" in r.path and "safet" in r.path]
    assert np.isfinite(ranking.scores).all()


def test_downloads_start_at_once_and_stay_within_the_prefetch_window(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    import time

    ids = [f"alice/esm-{i}" for i in range(6)]
    for i, repo_id in enumerate(ids):
        fake_hub.add_repo(repo_id, _files(20 + i, dim=8))
    store = _hub(fake_hub, tmp_path)
    fake_hub.reset_log()
    fetched = fetch_esms(ids, store, jobs=2, embedding_dim=8, prefetch=3)
    deadline = time.monotonic() + 10
    while fake_hub.count("GET", "model.safetensors") < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # nothing beyond the window may start
    started = {r.path.split("/resolve/")[0] for r in fake_hub.requests if "/resolve/" in r.path}
    assert len(started) == 3  # before a single result was asked for
    assert all(r.ok for r in fetched)
    assert fake_hub.count("GET", "model.safetensors") == 6
