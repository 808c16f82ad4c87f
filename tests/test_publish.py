"""The publisher: one validated commit per ESM, idempotence, dry runs, bulk runs, card refresh."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from esm_factory import (
    legacy_config_bytes,
    legacy_weights,
    make_esm,
    make_metadata,
    write_esm_dir,
)
from huggingface_hub import snapshot_download
from huggingface_hub.utils import validate_repo_id

from registry.card import parse_card, validate_text
from registry.errors import PublishError, StoreError, UsageError
from registry.esm import Esm
from registry.metadata import EsmMetadata, from_config
from registry.publish import (
    PublishSummary,
    build_files,
    default_repo_id,
    publish_esm,
    publish_many,
    refresh_cards,
)
from registry.stores.base import RegistryStore
from registry.stores.hub import HubStore, RetryPolicy
from registry.stores.local import LocalStore

from hub_server import FakeHub

ESM_FILES = {".gitattributes", "README.md", "config.json", "model.safetensors"}


def hub_store(hub: FakeHub, attempts: int = 5) -> HubStore:
    policy = RetryPolicy(attempts=attempts, base_delay=0.0, jitter=0.0, sleep=lambda _: None)
    return HubStore(endpoint=hub.url, retry=policy)


@pytest.fixture
def esm_dirs(tmp_path: Path) -> list[Path]:
    return [write_esm_dir(tmp_path / f"esm{i}", i) for i in range(5)]


# --- repo ids and files --------------------------------------------------------------------


def test_default_repo_id_is_deterministic_and_valid() -> None:
    meta = make_metadata(0, base_model="google-bert/bert-base-uncased")
    assert default_repo_id(meta, "alice") == "alice/ESM_bert-base-uncased_org__task0_default"
    odd = EsmMetadata.model_validate(
        {"base_model": "x/m", "task": {"task_id": "a/b", "subset": "Küche & Bad -- 2.."}}
    )
    assert default_repo_id(odd, "alice") == "alice/ESM_m_a__b_K-che-Bad-2"
    long = EsmMetadata.model_validate(
        {"base_model": "m" * 60, "task": {"task_id": "t" * 40 + "/d" * 1, "subset": "s" * 50}}
    )
    first, second = default_repo_id(long, "alice"), default_repo_id(long, "alice")
    assert first == second and len(first) <= 96
    validate_repo_id(first)
    other = long.model_copy(update={"task": long.task.model_copy(update={"subset": "s" * 51})})
    assert default_repo_id(other, "alice") != first  # the hash keeps cut names apart
    with pytest.raises(UsageError):
        default_repo_id(meta, "bad namespace")


def test_build_files_are_reproducible_and_agree(tmp_path: Path) -> None:
    esm = make_esm(3, version="0.1.0")
    files = build_files(esm)
    assert build_files(make_esm(3, version="0.1.0")) == files
    config = json.loads(files["config.json"])
    assert config["version"] != "0.1.0"  # the current layout is written, so says the config
    card = parse_card(files["README.md"])
    assert card.metadata == from_config(config)
    assert validate_text(files["README.md"]).valid
    (tmp_path / "esm").mkdir()
    for name, content in files.items():
        (tmp_path / "esm" / name).write_bytes(content)
    loaded = Esm.load(tmp_path / "esm")
    assert np.array_equal(loaded.weight, esm.weight) and np.array_equal(loaded.bias, esm.bias)


def test_a_card_that_does_not_validate_aborts(tmp_path: Path) -> None:
    template = tmp_path / "broken.md.j2"
    template.write_text("---\nbase_model: [unclosed\n---\n# broken\n")
    with pytest.raises(PublishError, match="does not validate"):
        publish_esm(make_esm(0), LocalStore(tmp_path / "store"), namespace="a", template=template)
    assert not (tmp_path / "store").exists()


# --- publishing ------------------------------------------------------------------------------


def check_published(store: RegistryStore, repo_id: str, esm: Esm) -> None:
    info = store.repo_info(repo_id)
    assert set(info.files or {}) >= ESM_FILES - {".gitattributes"}
    for tag in (
        "embedding_space_map",
        f"BaseLM:{esm.metadata.base_model}",
        f"base_model:{esm.metadata.base_model}",
        f"dataset:{esm.metadata.task.task_id}",
    ):
        assert tag in info.tags, tag
    assert info.card_data["base_model"] == esm.metadata.base_model
    assert info.card_data["datasets"] == [esm.metadata.task.task_id]
    assert info.card_data["license"] == "apache-2.0"
    assert info.card_data["language"] == ["en"]


def test_publish_to_a_local_store(tmp_path: Path, esm_dirs: list[Path]) -> None:
    store = LocalStore(tmp_path / "store")
    result = publish_esm(esm_dirs[0], store, namespace="alice")
    assert result.status == "published" and result.ok
    assert result.repo_id == "alice/ESM_bert-base-uncased_org__task0_default"
    assert [f.path for f in result.files] == ["README.md", "config.json", "model.safetensors"]
    check_published(store, result.repo_id, Esm.load(esm_dirs[0]))
    assert len(store.history(result.repo_id)) == 1
    loaded = Esm.load(result.url or "")
    assert np.array_equal(loaded.weight, Esm.load(esm_dirs[0]).weight)

    again = publish_esm(esm_dirs[0], store, namespace="alice")
    assert again.status == "unchanged" and again.commit_id == result.commit_id
    assert len(store.history(result.repo_id)) == 1


def test_publish_to_the_hub_is_one_commit_in_five_requests(
    fake_hub: FakeHub, esm_dirs: list[Path], tmp_path: Path
) -> None:
    store = hub_store(fake_hub)
    result = publish_esm(esm_dirs[0], store, namespace="user")
    assert result.status == "published"
    # read (404), create the repo, validate the card, preupload, commit
    assert fake_hub.count() == 5
    assert fake_hub.count("POST", "/commit/") == 1
    commits = fake_hub.commits(result.repo_id or "")
    assert len(commits) == 2  # the initial commit and one with all three files
    assert set(commits[0].files) == ESM_FILES
    assert set(commits[1].files) == {".gitattributes"}
    assert commits[0].oid == result.commit_id
    check_published(store, result.repo_id or "", Esm.load(esm_dirs[0]))
    folder = snapshot_download(
        result.repo_id or "", endpoint=fake_hub.url, cache_dir=tmp_path / "cache"
    )
    assert np.array_equal(Esm.load(folder).bias, Esm.load(esm_dirs[0]).bias)


def test_republishing_makes_no_commit(fake_hub: FakeHub, esm_dirs: list[Path]) -> None:
    store = hub_store(fake_hub)
    first = publish_esm(esm_dirs[0], store, namespace="user")
    fake_hub.reset_log()
    again = publish_esm(esm_dirs[0], store, namespace="user")
    assert again.status == "unchanged" and again.commit_id == first.commit_id
    assert fake_hub.count() == 1  # the read that shows every file in place
    assert fake_hub.count("POST", "/commit/") == 0
    assert len(fake_hub.commits(first.repo_id or "")) == 2


def test_publishing_a_change_makes_one_new_commit(tmp_path: Path, fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub)
    folder = write_esm_dir(tmp_path / "esm", 0)
    first = publish_esm(folder, store, namespace="user")
    write_esm_dir(tmp_path / "esm", 0, developers="Someone Else")
    fake_hub.reset_log()
    second = publish_esm(folder, store, namespace="user")
    assert second.status == "published" and second.commit_id != first.commit_id
    assert len(fake_hub.commits(first.repo_id or "")) == 3
    assert fake_hub.count() == 4  # read, validate the new card, preupload, commit


def test_repo_id_and_namespace_options(tmp_path: Path, esm_dirs: list[Path]) -> None:
    store = LocalStore(tmp_path / "store")
    assert publish_esm(esm_dirs[0], store, repo_id="bob/my-esm").repo_id == "bob/my-esm"
    assert publish_esm(esm_dirs[1], store).repo_id.startswith("local/")  # type: ignore[union-attr]
    with pytest.raises(UsageError):
        publish_esm(esm_dirs[0], store, repo_id="bob/x", namespace="bob")
    with pytest.raises(UsageError):
        publish_esm(esm_dirs[0], store, repo_id="not a repo id")
    with pytest.raises(UsageError):
        publish_esm(tmp_path / "missing", store, namespace="bob")


def test_dry_run_writes_nothing(fake_hub: FakeHub, esm_dirs: list[Path], tmp_path: Path) -> None:
    local = LocalStore(tmp_path / "store")
    result = publish_esm(esm_dirs[0], local, namespace="alice", dry_run=True)
    assert result.status == "would-publish"
    assert all(f.changed is None for f in result.files)  # nothing to compare with
    assert result.card_diff is not None and result.card_diff.startswith("--- /dev/null")
    assert not (tmp_path / "store").exists()

    store = hub_store(fake_hub)
    published = publish_esm(esm_dirs[0], store, namespace="user")
    write_esm_dir(esm_dirs[0], 0, developers="Someone Else")
    fake_hub.reset_log()
    result = publish_esm(esm_dirs[0], store, namespace="user", dry_run=True)
    assert result.status == "would-publish"
    assert {f.path: f.changed for f in result.files} == {
        "README.md": True,
        "config.json": True,
        "model.safetensors": False,
    }
    assert "-- **Developed by:** Test Suite" in (result.card_diff or "")
    assert "+- **Developed by:** Someone Else" in (result.card_diff or "")
    assert all(r.method in ("GET", "HEAD") for r in fake_hub.requests)
    assert len(fake_hub.commits(published.repo_id or "")) == 2


# --- bulk --------------------------------------------------------------------------------------


def test_bulk_continues_after_a_failing_esm(tmp_path: Path, esm_dirs: list[Path]) -> None:
    (esm_dirs[2] / "model.safetensors").write_bytes(b"not a safetensors file")
    store = LocalStore(tmp_path / "store")
    summary = publish_many(esm_dirs, store, namespace="alice", jobs=3, progress=False)
    assert isinstance(summary, PublishSummary)
    assert [r.status for r in summary] == ["published"] * 2 + ["failed"] + ["published"] * 2
    assert "safetensors" in (summary[2].error or "")
    assert summary.counts == {"published": 4, "failed": 1}
    assert summary.describe() == "4 published, 1 failed"
    assert not summary.ok and summary.failed == [summary[2]]
    assert len(list(store.list_esms())) == 4


def test_bulk_refuses_two_esms_for_one_repo(tmp_path: Path) -> None:
    a = write_esm_dir(tmp_path / "a", 0)
    b = write_esm_dir(tmp_path / "b", 0, developers="Twin")
    summary = publish_many([a, b], LocalStore(tmp_path / "store"), namespace="x", progress=False)
    assert [r.status for r in summary] == ["published", "failed"]
    assert "maps to" in (summary[1].error or "")


def test_interrupted_bulk_run_resumes(fake_hub: FakeHub, esm_dirs: list[Path]) -> None:
    store = hub_store(fake_hub, attempts=2)
    repo_ids = [default_repo_id(Esm.load(d).metadata, "user") for d in esm_dirs]
    for doomed in (repo_ids[1], repo_ids[3]):
        fake_hub.fail_next(2, 503, retry_after=0, path_contains=f"{doomed}/commit/main")
    first = publish_many(esm_dirs, store, namespace="user", jobs=2, progress=False)
    assert [r.status for r in first] == ["published", "failed"] * 2 + ["published"]
    assert "503" in (first[1].error or "")
    for doomed in (repo_ids[1], repo_ids[3]):  # never half-published
        assert set(fake_hub.commits(doomed)[0].files) == {".gitattributes"}

    fake_hub.reset_log()
    second = publish_many(esm_dirs, store, namespace="user", jobs=2, progress=False)
    assert [r.status for r in second] == ["unchanged", "published"] * 2 + ["unchanged"]
    assert fake_hub.count("POST", "/commit/") == 2
    # one listing, one comparison per published ESM, four requests per remaining one
    assert fake_hub.count() == 1 + 3 + 2 * 4
    for repo_id in repo_ids:
        assert len(fake_hub.commits(repo_id)) == 2

    fake_hub.reset_log()
    third = publish_many(esm_dirs, store, namespace="user", jobs=2, progress=False)
    assert third.counts == {"unchanged": 5}
    assert fake_hub.count() == 1 + 5
    assert fake_hub.count("POST") == 0


def test_bulk_republish_of_changed_esms_reads_each_repo_once(
    fake_hub: FakeHub, tmp_path: Path
) -> None:
    store = hub_store(fake_hub)
    folders = [write_esm_dir(tmp_path / f"esm{i}", i) for i in range(3)]
    publish_many(folders, store, namespace="user", progress=False)
    for index, folder in enumerate(folders):
        write_esm_dir(folder, index, developers="Someone Else")
    fake_hub.reset_log()
    summary = publish_many(folders, store, namespace="user", jobs=2, progress=False)
    assert summary.counts == {"published": 3}
    # one listing, then per ESM: read, validate the card, preupload, commit
    assert fake_hub.count() == 1 + 3 * 4
    assert fake_hub.count("GET", "/api/models/user/") == 3


def test_bulk_with_a_commit_fault_retries_to_exactly_one_commit(
    fake_hub: FakeHub, esm_dirs: list[Path]
) -> None:
    store = hub_store(fake_hub)
    fake_hub.fail_next(3, 429, retry_after=0, path_contains="/commit/main")
    fake_hub.fail_next(2, 503, retry_after=0, path_contains="/api/repos/create")
    summary = publish_many(esm_dirs, store, namespace="user", jobs=4, progress=False)
    assert summary.counts == {"published": 5}
    assert fake_hub.pending_faults == 0
    for result in summary:
        assert len(fake_hub.commits(result.repo_id or "")) == 2


def test_bulk_store_failure_before_start_raises(fake_hub: FakeHub, esm_dirs: list[Path]) -> None:
    store = hub_store(fake_hub, attempts=1)
    fake_hub.fail_next(1, 400, path_contains="/api/models")  # the listing; 5xx would be retried
    with pytest.raises(StoreError, match="HTTP 400"):
        publish_many(esm_dirs, store, namespace="user", progress=False)
    assert fake_hub.count("POST") == 0


# --- refresh-cards -------------------------------------------------------------------------------


@pytest.fixture
def legacy_repo(fake_hub: FakeHub, legacy_card_text: str) -> str:
    repo_id = "user/ESM_kuroneko5943__amz20_Dumbbell"
    fake_hub.add_repo(
        repo_id,
        {
            "README.md": legacy_card_text,
            "config.json": legacy_config_bytes(),
            "model.safetensors": legacy_weights(),
        },
    )
    fake_hub.reset_log()
    return repo_id


def test_refresh_migrates_a_legacy_card(fake_hub: FakeHub, legacy_repo: str) -> None:
    store = hub_store(fake_hub)
    dry = refresh_cards(store, [legacy_repo], dry_run=True, progress=False)
    assert dry[0].status == "would-update"
    assert "-<!-- Provide a quick summary" in (dry[0].card_diff or "")
    assert fake_hub.count("POST") == 0
    assert len(fake_hub.commits(legacy_repo)) == 2

    summary = refresh_cards(store, [legacy_repo], progress=False)
    assert summary[0].status == "updated"
    commits = fake_hub.commits(legacy_repo)
    assert len(commits) == 3
    changed = {p for p in commits[0].files if commits[0].files[p] != commits[1].files.get(p)}
    assert changed == {"README.md"}  # the config and weights are untouched
    card = commits[0].files["README.md"]
    parsed = parse_card(card)
    assert parsed.source == "front-matter"
    assert parsed.metadata is not None
    assert parsed.metadata.task.subset == "Dumbbell"
    assert parsed.metadata.extra == {"transformers_version": "4.45.2"}
    assert validate_text(card).valid
    info = store.repo_info(legacy_repo)
    assert (
        "embedding_space_map" in info.tags and "BaseLM:bert-base-multilingual-uncased" in info.tags
    )

    fake_hub.reset_log()
    again = refresh_cards(store, progress=False)  # every ESM; this one is up to date now
    assert [r.status for r in again] == ["unchanged"]
    assert fake_hub.count("POST") == 0
    assert len(fake_hub.commits(legacy_repo)) == 3


def test_refresh_cards_on_a_local_store(
    tmp_path: Path, legacy_card_text: str, esm_dirs: list[Path]
) -> None:
    store = LocalStore(tmp_path / "store")
    store.commit(
        "david/amz20",
        {"README.md": legacy_card_text.encode(), "config.json": legacy_config_bytes()},
        "Legacy upload",
    )
    publish_esm(esm_dirs[0], store, namespace="alice")
    store.commit("carol/broken", {"README.md": b"---\ntags: [embedding_space_map]\n---\n"}, "x")
    summary = refresh_cards(store, progress=False)
    statuses = {r.repo_id: r.status for r in summary}
    assert statuses == {
        "alice/ESM_bert-base-uncased_org__task0_default": "unchanged",
        "carol/broken": "failed",
        "david/amz20": "updated",
    }
    assert "config.json" in (summary.failed[0].error or "")
    assert len(store.history("david/amz20")) == 2
