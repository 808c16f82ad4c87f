"""A warm rank (embeddings and ESMs cached) never imports torch or transformers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, reviews

from registry.publish import publish_many
from registry.ranker import rank
from registry.stores.local import LocalStore

pd = pytest.importorskip("pandas")
pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]

WARM_RANK = textwrap.dedent(
    """
    import json, sys
    from registry.ranker import rank
    ranking = rank(sys.argv[1], sys.argv[2], registry=sys.argv[3], model_path=sys.argv[4],
                   progress=False)
    heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
    print(json.dumps({"heavy": heavy, "scores": ranking.scores, "pooling": ranking.pooling}))
    """
)


def test_a_warm_rank_imports_neither_torch_nor_transformers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(home))
    model = build_model(tmp_path / "tiny-bert", "bert")
    store = LocalStore(tmp_path / "registry")
    esms = [make_esm(i, dim=32, base_model=BASE_MODEL) for i in range(4)]
    assert publish_many(esms, store, namespace="alice", progress=False).ok
    texts, labels = reviews(50)
    target = tmp_path / "target.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(target, index=False)

    cold = rank(target, BASE_MODEL, registry=store, model_path=model, progress=False)

    env = {**os.environ, "PYTHONPATH": str(ROOT), "ESM_REGISTRY_HOME": str(home)}
    out = subprocess.run(
        [sys.executable, "-c", WARM_RANK, str(target), BASE_MODEL, str(store.root), str(model)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    warm = json.loads(out.stdout.strip().splitlines()[-1])
    assert warm["heavy"] == []
    assert warm["scores"] == pytest.approx(cold.scores, abs=1e-12)
    assert warm["pooling"] == cold.pooling


def test_remembered_model_facts_are_bounded_and_checked(tmp_path: Path) -> None:
    from registry.embedding.cache import facts_path, read_facts, write_facts

    path = facts_path(tmp_path, model_id="org/m", revision="abc", pooling="auto")
    assert read_facts(path) is None
    write_facts(path, {"pooling": "mean", "position_limit": 512, "embedding_dim": 768})
    assert read_facts(path) == {"pooling": "mean", "position_limit": 512, "embedding_dim": 768}
    for junk in (b"[" * 10_000, b"{}", b"x" * 10_000, b'{"pooling": 3}'):
        path.write_bytes(junk)
        assert read_facts(path) is None
    assert facts_path(tmp_path, model_id="org/m", revision="abd", pooling="auto") != path
