"""Private and gated repos never reach a public catalog snapshot."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from catalog_support import esm_files, hub_store

from registry.catalog import Catalog
from registry.catalog.db import SCHEMA_VERSION
from registry.catalog.snapshot import SNAPSHOT_PATH
from registry.errors import UsageError
from registry.stores.local import LocalStore

from cli_runner import run
from hub_server import FakeHub


@pytest.fixture
def mixed(tmp_path: Path) -> LocalStore:
    store = LocalStore(tmp_path / "registry")
    store.commit("alice/public", esm_files(0), "add")
    store.commit("alice/secret", esm_files(1), "add", private=True)
    store.commit(
        "alice/secret-broken",
        {"config.json": b"[1]", "README.md": b"---\ntags: [embedding_space_map]\n---\n"},
        "add",
        private=True,
    )
    return store


def _snapshot_ids(store: LocalStore, repo_id: str) -> tuple[list[str], bytes]:
    data = store.read_file(repo_id, SNAPSHOT_PATH, repo_type="dataset")
    table = pq.read_table(io.BytesIO(data))
    return sorted(table.column("repo_id").to_pylist()), data


def test_public_snapshots_leave_private_repos_out(mixed: LocalStore, tmp_path: Path) -> None:
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.sync(mixed, progress=False)
        assert sorted(e.repo_id for e in catalog.entries()) == ["alice/public", "alice/secret"]
        catalog.publish_snapshot(mixed, "alice/catalog")
    ids, data = _snapshot_ids(mixed, "alice/catalog")
    assert ids == ["alice/public"]
    assert b"secret" not in data  # not in rows, unusable records, aliases or the header
    card = mixed.read_file("alice/catalog", "README.md", repo_type="dataset")
    assert b"secret" not in card


def test_private_rows_only_go_to_a_private_snapshot(
    mixed: LocalStore, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog_path = tmp_path / "catalog.sqlite"
    with Catalog(catalog_path) as catalog:
        catalog.sync(mixed, progress=False)
        with pytest.raises(UsageError, match="would be created public"):
            catalog.publish_snapshot(mixed, "alice/open", include_restricted=True)
        assert not mixed.exists("alice/open", repo_type="dataset")
    base = ["catalog", "publish-snapshot", "--registry", str(mixed.root), "--catalog"]
    code, _, err = run([*base, str(catalog_path), "alice/open", "--include-private"], capsys)
    assert code == 2 and "refusing" in err
    code, out, _ = run(
        [*base, str(catalog_path), "alice/closed", "--include-private", "--private"], capsys
    )
    assert code == 0 and "2 entries" in out
    assert _snapshot_ids(mixed, "alice/closed")[0] == ["alice/public", "alice/secret"]
    with Catalog(catalog_path) as catalog:  # a public repo stays refused later on too
        catalog.publish_snapshot(mixed, "alice/open")
        with pytest.raises(UsageError, match="is public"):
            catalog.publish_snapshot(mixed, "alice/open", include_restricted=True)


def test_the_hub_path_leaves_private_repos_out(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo("alice/esm0", esm_files(0))
    fake_hub.add_repo("alice/esm1", esm_files(1), private=True)
    fake_hub.add_repo("alice/esm2", esm_files(2), gated="manual")
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.sync(store, progress=False)
        assert catalog["alice/esm1"].private and catalog["alice/esm2"].gated
        assert not catalog["alice/esm0"].restricted
        catalog.publish_snapshot(store, "alice/esm-catalog")
    data = store.read_file("alice/esm-catalog", SNAPSHOT_PATH, repo_type="dataset")
    table = pq.read_table(io.BytesIO(data))
    assert table.column("repo_id").to_pylist() == ["alice/esm0"]
    assert b"esm1" not in data and b"esm2" not in data


def test_catalogs_of_the_previous_schema_migrate(mixed: LocalStore, tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    with Catalog(path) as catalog:
        catalog.sync(mixed, progress=False)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE esms DROP COLUMN gated")
    conn.execute("ALTER TABLE unusable DROP COLUMN private")
    conn.execute("ALTER TABLE unusable DROP COLUMN gated")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with Catalog(path) as catalog:
        assert sorted(e.repo_id for e in catalog.entries()) == ["alice/public", "alice/secret"]
        assert catalog.get("alice/secret").private  # type: ignore[union-attr]
        version = catalog._conn().execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
