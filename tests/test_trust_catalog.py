"""The catalog survives what strangers publish: one bad repo or row fails alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from catalog_support import ESM_CARD, config_files, esm_files
from esm_factory import LEGACY_CONFIG, write_esm_dir

from registry.catalog import Catalog
from registry.stores.local import LocalStore

from cli_runner import run

POISON: dict[str, bytes] = {
    "huge-count": json.dumps({**LEGACY_CONFIG, "num_examples": 1e30}).encode(),
    "huge-dim": json.dumps({**LEGACY_CONFIG, "esm_embedding_dim": 2**63}).encode(),
    "bool-dim": json.dumps({**LEGACY_CONFIG, "esm_embedding_dim": True}).encode(),
    "nan-extra": json.dumps({**LEGACY_CONFIG, "weird": float("nan")}).encode(),
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "array": b"[1, 2, 3]",
    "not-utf8": b'{"task_id": "\xff"}',
    "huge-text": json.dumps({**LEGACY_CONFIG, "model_description": "x" * 2_000_000}).encode(),
}


@pytest.fixture
def poisoned(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "registry")
    store.commit("alice/good", esm_files(0), "good")
    for name, config in POISON.items():
        store.commit(f"mallory/{name}", {"config.json": config, "README.md": ESM_CARD}, "poison")
    return store


def test_one_poisoned_repo_does_not_stop_the_sync(poisoned: LocalStore, tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        summary = catalog.sync(poisoned, progress=False)
        assert summary.ok, summary.failed  # nothing failed: every repo was read
        assert catalog.last_sync is not None
        indexed = {entry.repo_id: entry for entry in catalog.entries()}
        unusable = {repo.repo_id: repo.reason for repo in catalog.unusable()}
        assert "alice/good" in indexed
        assert set(indexed) | set(unusable) == {"alice/good"} | {f"mallory/{n}" for n in POISON}
        # Values out of bounds are dropped and recorded, never stored.
        for name in ("huge-count", "huge-dim", "bool-dim"):
            if f"mallory/{name}" in indexed:
                entry = indexed[f"mallory/{name}"]
                assert entry.problems, name
                assert (entry.num_examples or 0) <= 10**12 and (entry.embedding_dim or 0) < 2**20
        assert "nested deeper" in unusable["mallory/deep"]
        assert all("\n" not in reason and len(reason) <= 300 for reason in unusable.values())
        # Searches keep working over what was indexed.
        assert catalog.search(min_examples=1).repo_ids
        assert catalog.search(embedding_dim=8).repo_ids


def test_cli_sync_lists_unusable_repos_and_exits_zero(
    poisoned: LocalStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "catalog.sqlite"
    code, out, err = run(
        ["catalog", "sync", "--registry", str(poisoned.root), "--catalog", str(catalog)], capsys
    )
    assert code == 0, err
    assert "unusable" in out and "mallory/deep" in out
    assert "Traceback" not in out + err


def _snapshot_with(tmp_path: Path, rows: list[dict[str, Any]]) -> Path:
    """A snapshot file whose rows were edited by hand after export."""
    store = LocalStore(tmp_path / "source")
    for index in range(3):
        store.commit(f"alice/esm{index}", esm_files(index), "add")
    with Catalog(tmp_path / "source.sqlite") as catalog:
        catalog.sync(store, progress=False)
        path = tmp_path / "snapshot.parquet"
        catalog.export(path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    data = table.to_pylist()
    for index, changes in enumerate(rows):
        data[index].update(changes)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(data, schema=table.schema), path)
    return path


def test_a_poisoned_snapshot_row_fails_alone(tmp_path: Path) -> None:
    bad_metadata = json.dumps(
        {"base_model": "bert-base-uncased", "task": {"task_id": "a/b", "num_examples": 10**30}}
    )
    path = _snapshot_with(
        tmp_path,
        [{"metadata": bad_metadata}, {"metadata": "[" * 50_000 + "]" * 50_000}],
    )
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        snapshot = catalog.load_snapshot_file(path)
        assert [entry.repo_id for entry in snapshot.entries] == ["alice/esm2"]
        assert sorted(repo.repo_id for repo in catalog.unusable()) == ["alice/esm0", "alice/esm1"]
        assert len(catalog) == 1


def test_publish_refuses_what_the_catalog_would_choke_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_esm_dir(tmp_path / "esm")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "num_examples": 1e30}))
    code, out, err = run(
        ["publish", str(folder), "--registry", str(tmp_path / "registry"), "--no-progress"],
        capsys,
    )
    assert code == 1
    assert "num_examples" in out and "Traceback" not in out + err
    assert not LocalStore(tmp_path / "registry").exists("local/" + folder.name)


def test_hand_written_configs_still_index(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "registry")
    store.commit("alice/legacy", config_files(LEGACY_CONFIG), "legacy")
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        assert catalog.sync(store, progress=False).added == ("alice/legacy",)
