"""The catalog against the Hub code path: the real client talking to FakeHub on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalog_support import config_files, esm_files, hub_store
from esm_factory import legacy_config_bytes, legacy_weights

from registry.catalog import Catalog
from registry.errors import RepoNotFoundError, StoreError, StoreUnavailableError
from registry.stores import open_store

from hub_server import FakeHub


def listings(hub: FakeHub) -> int:
    return hub.count("GET", "/api/models?")


def downloads(hub: FakeHub) -> int:
    return hub.count("GET", "/resolve/")


def test_hub_sync_reads_each_new_repo_once_then_only_lists(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    for index in range(5):
        fake_hub.add_repo(f"alice/esm{index}", esm_files(index))
    fake_hub.add_repo("alice/not-an-esm", {"README.md": "---\ntags: [other]\n---\n"})
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        summary = catalog.sync(store, jobs=4, progress=False)
        assert summary.ok and len(summary.added) == 5 and len(catalog) == 5
        assert listings(fake_hub) == 1 and downloads(fake_hub) == 5
        # The one listing asks for everything that tells whether a repo changed.
        query = next(r.query for r in fake_hub.requests if r.path == "/api/models")
        for field in ("sha", "lastModified", "tags", "cardData"):
            assert f"expand={field}" in query
        entry = catalog["alice/esm3"]
        assert entry.sha == fake_hub.commits("alice/esm3")[0].oid
        assert entry.last_modified is not None and entry.task_id == "org/task3"

        fake_hub.reset_log()
        again = catalog.sync(store, progress=False)
        assert len(fake_hub.requests) == 1 and listings(fake_hub) == 1
        assert again.unchanged == 5 and again.reads == 0


def test_hub_changed_repo_is_reread_and_deleted_repo_dropped(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    for index in range(3):
        fake_hub.add_repo(f"alice/esm{index}", esm_files(index))
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.sync(store, progress=False)
        new_sha = fake_hub.add_commit("alice/esm1", esm_files(41))
        store.delete("alice/esm2")
        fake_hub.reset_log()
        summary = catalog.sync(store, progress=False)
        assert summary.updated == ("alice/esm1",) and summary.removed == ("alice/esm2",)
        assert listings(fake_hub) == 1
        assert downloads(fake_hub) == 1
        assert fake_hub.count(None, "/resolve/") == 2  # HEAD + GET of config.json only
        assert fake_hub.count(None, f"/resolve/{new_sha}/config.json") == 2
        assert catalog["alice/esm1"].task_id == "org/task41" and len(catalog) == 2


def test_hub_legacy_incomplete_unusable_and_card_only(fake_hub: FakeHub, tmp_path: Path) -> None:
    card = "---\ntags: [embedding_space_map]\n---\n"
    fake_hub.add_repo(
        "bob/legacy",
        {
            "config.json": legacy_config_bytes(),
            "model.safetensors": legacy_weights(),
            "README.md": card,
        },
    )
    fake_hub.add_repo(
        "bob/partial",
        config_files({"base_model_name": "distilbert-base-uncased", "task_id": "o/t", "seed": -1}),
    )
    fake_hub.add_repo("bob/unusable", config_files({"task_id": "o/t"}))
    fake_hub.add_repo("bob/card-only", {"README.md": esm_files(9)["README.md"]})
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        summary = catalog.sync(store, progress=False)
        assert set(summary.added) == {"bob/legacy", "bob/partial", "bob/card-only"}
        assert [repo.repo_id for repo in summary.unusable] == ["bob/unusable"]
        assert catalog["bob/legacy"].problems[0].code == "legacy-format"
        partial = catalog["bob/partial"]
        assert partial.base_model_canonical == "distilbert/distilbert-base-uncased"
        assert partial.metadata.task.seed is None
        assert any(p.field == "seed" for p in partial.problems)
        assert catalog["bob/card-only"].source == "card"
        assert catalog.search(base_model="distilbert/distilbert-base-uncased").repo_ids == [
            "bob/partial"
        ]
        fake_hub.reset_log()
        catalog.sync(store, progress=False)
        assert len(fake_hub.requests) == 1  # unusable and card-only repos are not re-read


def test_hub_outage_mid_sync_keeps_what_was_read(fake_hub: FakeHub, tmp_path: Path) -> None:
    for index in range(4):
        fake_hub.add_repo(f"alice/esm{index}", esm_files(index))
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        # The Hub refuses one file: the client cannot tell that from an outage, so the
        # sync stops instead of failing every remaining repo the same way.
        fake_hub.fail_next(5, status=403, path_contains="/alice/esm2/resolve/")
        with pytest.raises(StoreUnavailableError):
            catalog.sync(store, jobs=1, batch_size=1, progress=False)
        assert sorted(e.repo_id for e in catalog.entries()) == ["alice/esm0", "alice/esm1"]
        fake_hub._faults.clear()
        fake_hub.reset_log()
        summary = catalog.sync(store, progress=False)
        assert summary.added == ("alice/esm2", "alice/esm3") and summary.unchanged == 2
        # esm0 and esm1 are not read again; esm3 may already sit in the download cache if
        # the first sync fetched it ahead before the outage stopped it.
        fetched = [r.path for r in fake_hub.requests if "/resolve/" in r.path]
        assert not any("/esm0/" in path or "/esm1/" in path for path in fetched)
        assert 1 <= downloads(fake_hub) <= 2 and len(catalog) == 4

    with Catalog(tmp_path / "other.sqlite") as other:
        fake_hub.fail_next(1, status=403, path_contains="/api/models")
        with pytest.raises(StoreError):
            other.sync(store, progress=False)
        assert len(other) == 0 and other.last_sync is None


def test_hub_snapshot_publish_and_bootstrap(fake_hub: FakeHub, tmp_path: Path) -> None:
    for index in range(4):
        fake_hub.add_repo(f"alice/esm{index}", esm_files(index))
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "first.sqlite") as first:
        first.sync(store, progress=False)
        result = first.publish_snapshot(store, "user/esm-catalog")
    assert result.url.endswith("/datasets/user/esm-catalog")
    assert fake_hub.has_repo("user/esm-catalog", repo_type="dataset")
    card = fake_hub.file("user/esm-catalog", "README.md", repo_type="dataset").decode()
    assert "esm-registry-catalog" in card and "--from-snapshot user/esm-catalog" in card

    fake_hub.add_commit("alice/esm0", esm_files(50))
    fake_hub.add_repo("alice/esm9", esm_files(9))
    fake_hub.reset_log()
    fresh = hub_store(fake_hub, tmp_path / "fresh-cache")
    with Catalog(tmp_path / "second.sqlite") as second:
        second.load_snapshot(fresh, "user/esm-catalog")
        assert len(fake_hub.requests) == 2  # HEAD + GET of the one parquet file
        assert len(second) == 4
        fake_hub.reset_log()
        summary = second.sync(fresh, progress=False)
        assert listings(fake_hub) == 1 and downloads(fake_hub) == 2
        assert summary.updated == ("alice/esm0",) and summary.added == ("alice/esm9",)
        assert second["alice/esm0"].task_id == "org/task50" and len(second) == 5
        with pytest.raises(RepoNotFoundError):
            second.load_snapshot(fresh, "user/no-such-snapshot")
        assert len(second) == 5  # a failed load changes nothing


def test_online_alias_resolution_through_the_hub_store(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo("alice/esm0", esm_files(0, base_model="acme/new-name"))
    fake_hub.add_repo("acme/new-name", {"README.md": "# the base model\n"})
    fake_hub.add_redirect("old-name", "acme/new-name")  # how the Hub serves a renamed model
    store = hub_store(fake_hub, tmp_path)
    with Catalog(tmp_path / "catalog.sqlite") as catalog:
        catalog.sync(store, progress=False)
        assert catalog.search(base_model="old-name").repo_ids == []  # offline: unknown
        fake_hub.reset_log()
        hits = catalog.search(base_model="old-name", resolve_with=store)
        assert hits.repo_ids == ["alice/esm0"]
        assert [r.path for r in fake_hub.requests] == [
            "/api/models/old-name",
            "/api/models/acme/new-name",  # the client follows the redirect
        ]
        assert catalog.search(base_model="old-name").repo_ids == ["alice/esm0"]  # remembered
        fake_hub.reset_log()
        catalog.search(base_model="bert-base-uncased", resolve_with=store)
        catalog.search(base_model="old-name", resolve_with=store)
        assert fake_hub.requests == []  # the built-in table and learned aliases need none
        # An unknown model, or a local store that cannot tell, leaves the offline answer.
        assert catalog.canonical_base_model("unknown-model", resolve_with=store) == (
            "unknown-model"
        )
        local = open_store(str(tmp_path / "local"))
        assert catalog.canonical_base_model("other-name", resolve_with=local) == "other-name"
