"""Registry stores: the local folder store, the Hub store against FakeHub, open_store."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest

import registry.stores.local as local_module
from registry.errors import (
    RepoNotFoundError,
    StoreAuthError,
    StoreConflictError,
    StoreError,
    StoreUnavailableError,
    UsageError,
)
from registry.paths import default_local_registry
from registry.stores import RegistryStore, derive_tags, git_blob_sha1, open_store
from registry.stores.hub import HubStore, RetryPolicy
from registry.stores.local import META_DIR, LocalStore

from hub_server import FakeHub

CARD = (
    b"---\nlicense: apache-2.0\nbase_model: bert-base-uncased\ndatasets:\n- org/task\n"
    b"language:\n- en\ntags:\n- embedding_space_map\n- BaseLM:bert-base-uncased\n---\n\n# ESM\n"
)
FILES = {"README.md": CARD, "config.json": b'{"a": 1}\n', "model.safetensors": b"\x00" * 64}


class Sleeps:
    """Records the waits a RetryPolicy asks for, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def hub_store(hub: FakeHub, token: str | bool | None = None, attempts: int = 5) -> HubStore:
    policy = RetryPolicy(attempts=attempts, base_delay=0.0, jitter=0.0, sleep=Sleeps())
    return HubStore(endpoint=hub.url, token=token, retry=policy)


def visible_entries(root: Path) -> list[str]:
    """Everything under the root outside the hidden metadata folder (following the views)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames[:] = [d for d in dirnames if d != META_DIR]
        rel = Path(dirpath).relative_to(root)
        out += [str(rel / name) for name in filenames]
        out += [str(rel / name) + "/" for name in dirnames]
    return sorted(out)


# --- LocalStore ------------------------------------------------------------------------------


def test_local_store_satisfies_the_protocol(tmp_path: Path, fake_hub: FakeHub) -> None:
    assert isinstance(LocalStore(tmp_path), RegistryStore)
    assert isinstance(hub_store(fake_hub), RegistryStore)


def test_local_commit_is_laid_out_like_a_hub_repo(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    result = store.commit("alice/esm", FILES, "Add ESM")
    assert result.created
    assert len(result.commit_id) == 40
    view = tmp_path / "alice" / "esm"
    assert view.is_symlink()
    assert sorted(p.name for p in view.iterdir()) == sorted(FILES)
    assert (view / "config.json").read_bytes() == FILES["config.json"]
    assert result.url == str(view)
    info = store.repo_info("alice/esm")
    assert info.sha == result.commit_id
    assert info.files is not None
    assert info.files["config.json"].blob_id == git_blob_sha1(FILES["config.json"])
    assert info.files["model.safetensors"].size == 64


def test_local_tags_and_card_data_follow_the_hub_rules(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/esm", FILES, "Add ESM")
    info = store.repo_info("alice/esm")
    assert info.card_data["base_model"] == "bert-base-uncased"
    assert info.card_data["datasets"] == ["org/task"]
    for tag in (
        "embedding_space_map",
        "BaseLM:bert-base-uncased",
        "base_model:bert-base-uncased",
        "dataset:org/task",
        "license:apache-2.0",
        "en",
        "safetensors",
    ):
        assert tag in info.tags
    assert derive_tags({"base_model": "x"}, ["a.safetensors"]) == (
        "base_model:x",
        "base_model:finetune:x",
        "safetensors",
    )


def test_local_unchanged_content_makes_no_commit(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add ESM")
    again = store.commit("alice/esm", FILES, "Add ESM again")
    partial = store.commit("alice/esm", {"config.json": FILES["config.json"]}, "Same config")
    assert not again.created and not partial.created
    assert again.commit_id == partial.commit_id == first.commit_id
    assert len(store.history("alice/esm")) == 1


def test_local_history_and_old_revisions_stay_readable(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add ESM")
    second = store.commit("alice/esm", {"config.json": b'{"a": 2}\n'}, "Update config")
    history = store.history("alice/esm")
    assert [c.id for c in history] == [second.commit_id, first.commit_id]
    assert history[0].parent == first.commit_id
    assert [c.message for c in history] == ["Update config", "Add ESM"]
    assert store.read_file("alice/esm", "config.json") == b'{"a": 2}\n'
    assert store.read_file("alice/esm", "config.json", first.commit_id) == b'{"a": 1}\n'
    assert store.read_file("alice/esm", "README.md", "main") == CARD  # kept from the first
    # unchanged files are shared with the previous snapshot, not copied
    snapshots = tmp_path / META_DIR / "repos" / "alice" / "esm" / "snapshots"
    a = snapshots / first.commit_id / "model.safetensors"
    b = snapshots / second.commit_id / "model.safetensors"
    assert a.stat().st_ino == b.stat().st_ino
    with pytest.raises(RepoNotFoundError):
        store.read_file("alice/esm", "config.json", "0" * 40)
    with pytest.raises(RepoNotFoundError):
        store.read_file("alice/esm", "nope.txt")
    with pytest.raises(RepoNotFoundError):
        store.repo_info("alice/missing")


def test_local_list_esms_filters_by_tag_and_author(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/esm", FILES, "Add")
    store.commit("bob/esm", {"README.md": CARD.replace(b"bert-base-uncased", b"roberta")}, "Add")
    store.commit("bob/other", {"README.md": b"---\ntags: [something]\n---\n"}, "Add")
    assert [r.repo_id for r in store.list_esms()] == ["alice/esm", "bob/esm"]
    only_bert = store.list_esms(tags=["base_model:bert-base-uncased"])
    assert [r.repo_id for r in only_bert] == ["alice/esm"]
    assert [r.repo_id for r in store.list_esms(author="BOB")] == ["bob/esm"]
    listed = next(iter(store.list_esms()))
    assert listed.files is None and listed.sha is not None and listed.last_modified is not None


def test_local_parent_must_be_the_head(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add")
    store.commit("alice/esm", {"config.json": b"{}"}, "Change")
    with pytest.raises(StoreConflictError):
        store.commit("alice/esm", {"config.json": b"[]"}, "Stale", parent=first.commit_id)
    with pytest.raises(RepoNotFoundError):
        store.commit("alice/new", FILES, "Add", parent=first.commit_id)


def test_local_rejects_bad_paths_and_ids(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    for path in ("../escape", "/abs", "a//b", ".git/config", f"{META_DIR}/x", ""):
        with pytest.raises(UsageError):
            store.commit("alice/esm", {path: b"x"}, "Bad")
    for repo_id in ("no-namespace", "a/b/c", "alice/bad--name", "alice/.hidden"):
        with pytest.raises(UsageError):
            store.commit(repo_id, FILES, "Bad")
    assert not (tmp_path / "alice").exists()


def test_local_refuses_to_replace_an_unmanaged_folder(tmp_path: Path) -> None:
    (tmp_path / "alice" / "esm").mkdir(parents=True)
    (tmp_path / "alice" / "esm" / "mine.txt").write_text("do not touch")
    with pytest.raises(StoreError, match="not managed"):
        LocalStore(tmp_path).commit("alice/esm", FILES, "Add")
    assert (tmp_path / "alice" / "esm" / "mine.txt").read_text() == "do not touch"


def test_local_delete(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/esm", FILES, "Add")
    assert store.exists("alice/esm")
    store.delete("alice/esm")
    assert not store.exists("alice/esm")
    assert not (tmp_path / "alice" / "esm").exists()
    assert list(store.list_esms()) == []
    with pytest.raises(RepoNotFoundError):
        store.delete("alice/esm")
    store.delete("alice/esm", missing_ok=True)


def test_local_crash_while_writing_leaves_the_previous_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add")
    before = visible_entries(tmp_path)
    real_write = local_module._write_file
    calls = {"n": 0}

    def crash_on_second_file(path: Path, content: bytes) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            real_write(path, content[: len(content) // 2])  # a torn write ...
            raise OSError(28, "No space left on device")  # ... then the crash
        real_write(path, content)

    monkeypatch.setattr(local_module, "_write_file", crash_on_second_file)
    # A killed process runs no cleanup: keep the staging folder, as a real crash would.
    monkeypatch.setattr(local_module, "_rmtree", lambda path: None)
    new = {name: content + b"-v2" for name, content in FILES.items()}
    with pytest.raises(OSError, match="No space"):
        store.commit("alice/esm", new, "Update everything")

    assert store.repo_info("alice/esm").sha == first.commit_id
    assert len(store.history("alice/esm")) == 1
    assert visible_entries(tmp_path) == before  # no partial file is visible anywhere
    for name, content in FILES.items():
        assert (tmp_path / "alice" / "esm" / name).read_bytes() == content
        assert store.read_file("alice/esm", name) == content
    meta = tmp_path / META_DIR / "repos" / "alice" / "esm"
    assert any(p.name.startswith(".tmp-") for p in meta.iterdir())  # the crash's leftovers

    monkeypatch.undo()
    second = store.commit("alice/esm", new, "Update everything")
    assert second.created
    assert not any(p.name.startswith(".tmp-") for p in meta.iterdir())  # cleaned up
    assert (tmp_path / "alice" / "esm" / "config.json").read_bytes() == new["config.json"]


def test_local_crash_before_moving_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add")
    real = local_module.atomic_write

    def crash_on_ref(path: Path, content: bytes) -> None:
        if path.name == "main":
            raise KeyboardInterrupt  # killed right before the commit point
        real(path, content)

    monkeypatch.setattr(local_module, "atomic_write", crash_on_ref)
    with pytest.raises(KeyboardInterrupt):
        store.commit("alice/esm", {"config.json": b"{}"}, "Change")
    monkeypatch.undo()
    assert store.repo_info("alice/esm").sha == first.commit_id
    assert (tmp_path / "alice" / "esm" / "config.json").read_bytes() == FILES["config.json"]
    snapshots = tmp_path / META_DIR / "repos" / "alice" / "esm" / "snapshots"
    assert len(list(snapshots.iterdir())) == 2  # an orphan snapshot, invisible
    second = store.commit("alice/esm", {"config.json": b"[]"}, "Change")
    assert sorted(p.name for p in snapshots.iterdir()) == sorted(
        [first.commit_id, second.commit_id]
    )


def test_local_concurrent_commits_to_one_repo_are_serialised(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/esm", FILES, "Add")
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            store.commit("alice/esm", {f"file{index}.txt": b"%d" % index}, f"Add {index}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    history = store.history("alice/esm")
    assert len(history) == 9  # every commit landed, none overwrote another
    files = store.repo_info("alice/esm").files or {}
    assert {f"file{i}.txt" for i in range(8)} <= set(files)


# --- open_store ------------------------------------------------------------------------------


def test_open_store_parses_registry_specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.example.org")
    hub = open_store("hub", token="hf_secret")
    assert isinstance(hub, HubStore) and hub.endpoint == "https://hub.example.org"
    assert "hf_secret" not in repr(hub)
    url = open_store("http://127.0.0.1:8080/")
    assert isinstance(url, HubStore) and url.endpoint == "http://127.0.0.1:8080"
    for spec in (str(tmp_path / "a"), f"file://{tmp_path}/b", "./relative", "~/esms"):
        assert isinstance(open_store(spec), LocalStore), spec
    assert open_store(f"file://{tmp_path}/with%20space").location == str(tmp_path / "with space")
    for bad in ("ftp://host/x", "hubb", "s3://bucket", "http://", "https://h/x?q=1"):
        with pytest.raises(UsageError):
            open_store(bad)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        open_store(str(tmp_path / "file.txt"))


def test_default_local_store_lives_under_the_registry_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    store = open_store(None)
    assert isinstance(store, LocalStore)
    assert store.root == tmp_path / "home" / "local"
    monkeypatch.delenv("ESM_REGISTRY_HOME")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert default_local_registry() == tmp_path / "hf" / "esm-registry" / "local"


# --- HubStore against FakeHub ----------------------------------------------------------------


def test_hub_commit_of_a_new_repo_is_five_requests_and_one_commit(fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub)
    result = store.commit("user/esm", FILES, "Add ESM")
    assert result.created
    assert [(r.method, r.path) for r in fake_hub.requests] == [
        ("GET", "/api/models/user/esm"),  # the read: 404, so the repo is created
        ("POST", "/api/repos/create"),
        ("POST", "/api/validate-yaml"),
        ("POST", "/api/models/user/esm/preupload/main"),
        ("POST", "/api/models/user/esm/commit/main"),
    ]
    commits = fake_hub.commits("user/esm")
    assert len(commits) == 2  # the Hub's initial commit, then ours
    assert commits[0].oid == result.commit_id
    assert {k: v for k, v in commits[0].files.items() if k != ".gitattributes"} == FILES


def test_hub_commit_sends_only_the_changed_files_against_the_head_read(
    fake_hub: FakeHub,
) -> None:
    store = hub_store(fake_hub)
    first = store.commit("user/esm", FILES, "Add ESM")
    fake_hub.reset_log()
    changed = {**FILES, "config.json": b'{"a": 2}\n'}
    second = store.commit("user/esm", changed, "Change the config")
    assert second.created and second.commit_id != first.commit_id
    # The card did not change: no validate-yaml; the read gave the parent of the commit.
    assert [(r.method, r.path) for r in fake_hub.requests] == [
        ("GET", "/api/models/user/esm"),
        ("POST", "/api/models/user/esm/preupload/main"),
        ("POST", "/api/models/user/esm/commit/main"),
    ]
    head, previous = fake_hub.commits("user/esm")[:2]
    assert head.parent == previous.oid == first.commit_id
    assert {k: v for k, v in head.files.items() if k != ".gitattributes"} == changed
    fake_hub.reset_log()
    card = CARD.replace(b"# ESM", b"# ESM, reworded")
    assert store.commit("user/esm", {**changed, "README.md": card}, "Reword").created
    assert fake_hub.count() == 4 and fake_hub.count("POST", "/api/validate-yaml") == 1


def test_hub_unchanged_content_makes_no_commit(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    store = hub_store(fake_hub)
    first = store.commit("user/esm", FILES, "Add ESM")
    fake_hub.reset_log()
    again = store.commit("user/esm", FILES, "Add ESM")
    assert not again.created and again.commit_id == first.commit_id
    assert [(r.method, r.path) for r in fake_hub.requests] == [("GET", "/api/models/user/esm")]
    assert len(fake_hub.commits("user/esm")) == 2
    # we report "unchanged"; the client's own no-op warning would only be noise
    assert "No files have been modified" not in caplog.text


def test_hub_private_repos(fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub)
    store.commit("user/secret", FILES, "Add", private=True)
    store.commit("user/public", FILES, "Add")
    assert store.repo_info("user/secret").private
    assert not store.repo_info("user/public").private


def test_public_names_match_all() -> None:
    import importlib

    for name in (
        "registry.stores",
        "registry.stores.base",
        "registry.stores.hub",
        "registry.stores.local",
        "registry.publish",
    ):
        module = importlib.import_module(name)
        assert len(module.__all__) == len(set(module.__all__)), name
        for attr in module.__all__:
            assert hasattr(module, attr), f"{name}.{attr}"


def test_hub_reads(fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub)
    committed = store.commit("user/esm", FILES, "Add ESM")
    fake_hub.add_repo("user/not-an-esm", {"README.md": "---\ntags: [other]\n---\n"})
    listed = list(store.list_esms())
    assert [r.repo_id for r in listed] == ["user/esm"]
    assert listed[0].sha == committed.commit_id
    assert "base_model:bert-base-uncased" in listed[0].tags
    assert listed[0].card_data["base_model"] == "bert-base-uncased"
    assert [r.repo_id for r in store.list_esms(tags=["base_model:other"])] == []
    info = store.repo_info("user/esm")
    assert info.files is not None
    assert info.files["config.json"].blob_id == git_blob_sha1(FILES["config.json"])
    assert store.read_file("user/esm", "config.json") == FILES["config.json"]
    assert store.exists("user/esm") and not store.exists("user/missing")
    with pytest.raises(RepoNotFoundError):
        store.repo_info("user/missing")
    with pytest.raises(RepoNotFoundError):
        store.read_file("user/esm", "missing.txt")
    store.delete("user/esm")
    assert not fake_hub.has_repo("user/esm")
    store.delete("user/esm", missing_ok=True)


@pytest.mark.parametrize("status", [429, 503])
def test_hub_retries_create_repo(fake_hub: FakeHub, status: int) -> None:
    store = hub_store(fake_hub)
    fake_hub.fail_next(2, status, retry_after=0, path_contains="/api/repos/create")
    assert store.commit("user/esm", FILES, "Add").created
    assert fake_hub.count("POST", "/api/repos/create") == 3
    assert len(fake_hub.commits("user/esm")) == 2
    assert store.retry.sleep.calls == [0.0, 0.0]  # type: ignore[attr-defined]


@pytest.mark.parametrize("status", [429, 503])
def test_hub_retries_the_commit_post(fake_hub: FakeHub, status: int) -> None:
    store = hub_store(fake_hub)
    fake_hub.fail_next(2, status, retry_after=0, path_contains="/commit/main", method="POST")
    result = store.commit("user/esm", FILES, "Add")
    assert result.created
    assert fake_hub.count("POST", "/commit/main") == 3
    assert len(fake_hub.commits("user/esm")) == 2  # exactly one commit of ours


def test_hub_retry_after_is_honoured(fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub)
    fake_hub.fail_next(1, 429, retry_after=7, path_contains="/api/repos/create")
    store.commit("user/esm", FILES, "Add")
    assert store.retry.sleep.calls == [7.0]  # type: ignore[attr-defined]


def test_hub_retry_after_beyond_the_limit_fails_at_once(fake_hub: FakeHub) -> None:
    policy = RetryPolicy(max_retry_after=10, sleep=Sleeps())
    store = HubStore(endpoint=fake_hub.url, retry=policy)
    fake_hub.fail_next(1, 429, retry_after=3600, path_contains="/api/repos/create")
    with pytest.raises(StoreUnavailableError, match="3600"):
        store.commit("user/esm", FILES, "Add")
    assert policy.sleep.calls == []  # type: ignore[attr-defined]


def test_hub_commit_that_landed_but_lost_its_answer_is_not_repeated(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub_server

    store = hub_store(fake_hub)
    real = fake_hub._commit_post
    lost = {"n": 0}

    def apply_then_fail(*args: Any, **kwargs: Any) -> Any:
        response = real(*args, **kwargs)  # the commit is applied ...
        if lost["n"] == 0:
            lost["n"] += 1
            return hub_server._Response.json({"error": "gateway timeout"}, 504)  # ... answer lost
        return response

    monkeypatch.setattr(fake_hub, "_commit_post", apply_then_fail)
    result = store.commit("user/esm", FILES, "Add")
    assert result.created  # our first request made it
    commits = fake_hub.commits("user/esm")
    assert len(commits) == 2  # one commit, not two
    assert result.commit_id == commits[0].oid
    assert fake_hub.count("POST", "/commit/main") == 1  # the retry saw the files were there


def test_hub_gives_up_after_the_retry_budget_without_half_publishing(fake_hub: FakeHub) -> None:
    store = hub_store(fake_hub, attempts=3)
    fake_hub.fail_next(10, 503, retry_after=0, path_contains="/commit/main", method="POST")
    with pytest.raises(StoreUnavailableError, match="503 after 3 attempts"):
        store.commit("user/esm", FILES, "Add")
    assert fake_hub.count("POST", "/commit/main") == 3
    head = fake_hub.commits("user/esm")[0]
    assert set(head.files) == {".gitattributes"}  # nothing of the ESM, not a part of it


def test_hub_connection_errors_are_retried_then_reported(fake_hub: FakeHub) -> None:
    url = fake_hub.url
    fake_hub.stop()
    store = HubStore(endpoint=url, retry=RetryPolicy(attempts=2, base_delay=0, sleep=Sleeps()))
    with pytest.raises(StoreUnavailableError, match="after 2 attempts"):
        store.commit("user/esm", FILES, "Add")
    assert len(store.retry.sleep.calls) == 1  # type: ignore[attr-defined]


TOKENS = {"hf_alice_write_0123456789": "alice"}


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_hub_bad_token_is_a_clear_error_without_the_token(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hf_wrong_SECRET_9876543210"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    store = hub_store(fake_hub, token=secret)
    with pytest.raises(StoreAuthError) as info:
        store.commit("alice/esm", FILES, "Add")
    message = str(info.value)
    assert "401" in message and "token" in message and "rejected" in message
    trace = "".join(traceback.format_exception(info.value))
    assert secret not in message and secret not in trace and secret not in repr(store)
    assert secret not in caplog.text
    assert not fake_hub.has_repo("alice/esm")


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_hub_missing_token_and_foreign_namespace(fake_hub: FakeHub) -> None:
    with pytest.raises(StoreAuthError, match="No token was sent"):
        hub_store(fake_hub, token=False).commit("alice/esm", FILES, "Add")
    good = hub_store(fake_hub, token="hf_alice_write_0123456789")
    with pytest.raises(StoreAuthError, match="403"):
        good.commit("bob/esm", FILES, "Add")
    assert good.default_namespace() == "alice"
    with pytest.raises(StoreAuthError, match="--namespace"):
        hub_store(fake_hub, token="hf_wrong").default_namespace()


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_hub_debug_logs_never_contain_the_token(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    token = "hf_alice_write_0123456789"
    monkeypatch.setattr(constants, "HF_DEBUG", True)  # the client then logs curl commands
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    store = hub_store(fake_hub, token=token)
    fake_hub.fail_next(1, 503, retry_after=0, path_contains="/commit/main")
    store.commit("alice/esm", FILES, "Add")
    store.commit("alice/esm", FILES, "Add")
    store.read_file("alice/esm", "config.json")
    assert "authenticated: True" in caplog.text  # the requests were logged ...
    assert "<TOKEN>" in caplog.text  # ... with the header hidden by the client
    assert token not in caplog.text


def test_hub_offline_mode_is_a_clear_error(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    store = hub_store(fake_hub)
    store.commit("user/esm", FILES, "Add")
    store.read_file("user/esm", "config.json")  # cached now
    fake_hub.reset_log()
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(StoreUnavailableError, match="HF_HUB_OFFLINE"):
        store.commit("user/esm", FILES, "Add")
    assert store.read_file("user/esm", "config.json") == FILES["config.json"]
    assert fake_hub.count() == 0


def test_hub_parent_that_is_not_the_head_is_a_conflict_before_any_upload(
    fake_hub: FakeHub,
) -> None:
    store = hub_store(fake_hub)
    first = store.commit("user/esm", FILES, "Add ESM")
    store.commit("user/esm", {"config.json": b"{}"}, "Change")
    fake_hub.reset_log()
    with pytest.raises(StoreConflictError, match="moved on"):
        store.commit("user/esm", {"config.json": b"[]"}, "Stale", parent=first.commit_id)
    assert fake_hub.count("POST") == 0  # found out by the read, nothing uploaded
    with pytest.raises(RepoNotFoundError):
        store.commit("user/new", FILES, "Add", parent=first.commit_id)
    assert not fake_hub.has_repo("user/new")


def test_hub_commit_retries_against_a_head_that_moved_after_the_read(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = hub_store(fake_hub)
    store.commit("user/esm", FILES, "Add ESM")
    real = fake_hub._preupload
    raced = []

    def another_writer_first(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(fake_hub.add_commit("user/esm", {"other.txt": b"theirs"}))
        return real(*args, **kwargs)

    monkeypatch.setattr(fake_hub, "_preupload", another_writer_first)
    fake_hub.reset_log()
    result = store.commit("user/esm", {"config.json": b"[]"}, "Change")
    assert result.created
    assert fake_hub.count("POST", "/commit/main") == 2  # 412 against the stale head, then ok
    head = fake_hub.commits("user/esm")[0]
    assert head.oid == result.commit_id and head.parent == raced[0]
    assert head.files["other.txt"] == b"theirs" and head.files["config.json"] == b"[]"


def test_hub_same_files_committed_by_another_writer_meanwhile_is_unchanged(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = hub_store(fake_hub)
    store.commit("user/esm", FILES, "Add ESM")
    new = {"config.json": b"[]"}
    real = fake_hub._preupload

    def same_files_first(*args: Any, **kwargs: Any) -> Any:
        fake_hub.add_commit("user/esm", new, message="the other writer")
        return real(*args, **kwargs)

    monkeypatch.setattr(fake_hub, "_preupload", same_files_first)
    result = store.commit("user/esm", new, "Change")
    assert not result.created  # the client skipped the commit: the files were there
    assert result.commit_id == fake_hub.commits("user/esm")[0].oid
    assert fake_hub.commits("user/esm")[0].title == "the other writer"
    assert fake_hub.count("POST", "/commit/") == 1  # only the first commit
    assert "No files have been modified" not in caplog.text
    assert not logging.getLogger("huggingface_hub.hf_api").filters  # removed after the call


def test_hub_lost_answer_of_a_commit_with_parent_is_not_a_conflict(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub_server

    store = hub_store(fake_hub)
    first = store.commit("user/esm", FILES, "Add ESM")
    real = fake_hub._commit_post

    def apply_then_fail(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        return hub_server._Response.json({"error": "gateway timeout"}, 504)

    monkeypatch.setattr(fake_hub, "_commit_post", apply_then_fail)
    result = store.commit("user/esm", {"config.json": b"[]"}, "Change", parent=first.commit_id)
    assert result.created
    commits = fake_hub.commits("user/esm")
    assert len(commits) == 3 and result.commit_id == commits[0].oid
    assert fake_hub.count("POST", "/commit/main") == 2  # the first commit, then ours once


# --- local_path --------------------------------------------------------------------------------


def test_local_path_is_the_snapshot_file_itself(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    first = store.commit("alice/esm", FILES, "Add ESM")
    second = store.commit("alice/esm", {"config.json": b"[]"}, "Change")
    snapshots = tmp_path / META_DIR / "repos" / "alice" / "esm" / "snapshots"
    path = store.local_path("alice/esm", "config.json", first.commit_id)
    assert path.is_relative_to(snapshots / first.commit_id)
    assert path.read_bytes() == FILES["config.json"]
    head = store.local_path("alice/esm", "config.json")
    assert head.is_relative_to(snapshots / second.commit_id)
    # not a copy: the very file the view of the repo shows
    assert head.stat().st_ino == (tmp_path / "alice" / "esm" / "config.json").stat().st_ino
    weights = store.local_path("alice/esm", "model.safetensors", second.commit_id)
    assert (
        weights.stat().st_ino == (snapshots / first.commit_id / "model.safetensors").stat().st_ino
    )
    with pytest.raises(RepoNotFoundError):
        store.local_path("alice/esm", "missing.txt")
    with pytest.raises(RepoNotFoundError):
        store.local_path("alice/missing", "config.json")


def test_hub_local_path_is_in_the_download_cache(fake_hub: FakeHub, tmp_path: Path) -> None:
    cache = tmp_path / "hf-cache"
    policy = RetryPolicy(attempts=2, base_delay=0.0, jitter=0.0, sleep=Sleeps())
    store = HubStore(endpoint=fake_hub.url, retry=policy, cache_dir=cache)
    sha = store.commit("user/esm", FILES, "Add ESM").commit_id
    fake_hub.reset_log()
    path = store.local_path("user/esm", "config.json", sha)
    assert path.is_relative_to(cache) and path.read_bytes() == FILES["config.json"]
    assert fake_hub.count() == 2  # HEAD + GET
    fake_hub.reset_log()
    assert store.local_path("user/esm", "config.json", sha) == path
    assert store.read_file("user/esm", "config.json", sha) == FILES["config.json"]
    assert fake_hub.count() == 0  # a cached commit costs no request
    with pytest.raises(RepoNotFoundError):
        store.local_path("user/esm", "missing.txt", sha)


# --- dataset repos -------------------------------------------------------------------------------


@pytest.fixture(params=["local", "hub"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> RegistryStore:
    if request.param == "local":
        return LocalStore(tmp_path / "registry")
    hub: FakeHub = request.getfixturevalue("fake_hub")
    return hub_store(hub)


def test_dataset_repos_are_apart_from_model_repos(any_store: RegistryStore) -> None:
    store = any_store
    data = {"README.md": b"---\ntags: [catalog]\n---\n", "data/catalog.parquet": b"PAR1"}
    dataset = store.commit("user/esm", data, "Snapshot", repo_type="dataset")
    assert dataset.created
    assert store.exists("user/esm", repo_type="dataset") and not store.exists("user/esm")
    model = store.commit("user/esm", FILES, "Add ESM")  # same name, another repo
    assert model.commit_id != dataset.commit_id and model.url != dataset.url
    assert store.read_file("user/esm", "data/catalog.parquet", repo_type="dataset") == b"PAR1"
    assert store.read_file("user/esm", "config.json") == FILES["config.json"]
    with pytest.raises(RepoNotFoundError):
        store.read_file("user/esm", "config.json", repo_type="dataset")
    with pytest.raises(RepoNotFoundError):
        store.read_file("user/esm", "data/catalog.parquet")
    info = store.repo_info("user/esm", repo_type="dataset")
    assert info.sha == dataset.commit_id and info.files is not None
    assert "data/catalog.parquet" in info.files and "config.json" not in info.files
    local = store.local_path("user/esm", "data/catalog.parquet", info.sha, repo_type="dataset")
    assert local.read_bytes() == b"PAR1"
    assert [r.repo_id for r in store.list_esms()] == ["user/esm"]  # models only
    again = store.commit("user/esm", data, "Snapshot", repo_type="dataset")
    assert not again.created and again.commit_id == dataset.commit_id

    store.delete("user/esm", repo_type="dataset")
    assert not store.exists("user/esm", repo_type="dataset") and store.exists("user/esm")
    store.delete("user/esm", repo_type="dataset", missing_ok=True)
    with pytest.raises(RepoNotFoundError):
        store.delete("user/esm", repo_type="dataset")
    with pytest.raises(UsageError):
        store.exists("user/esm", repo_type="space")  # type: ignore[arg-type]


def test_local_dataset_repos_keep_their_place_on_disk(tmp_path: Path) -> None:
    # Snapshots published before dataset repos were part of the store protocol.
    LocalStore(tmp_path / "datasets").commit("alice/catalog", {"data/x": b"old"}, "Snapshot")
    store = LocalStore(tmp_path)
    assert store.read_file("alice/catalog", "data/x", repo_type="dataset") == b"old"
    store.commit("bob/catalog", {"data/x": b"new"}, "Snapshot", repo_type="dataset")
    assert (tmp_path / "datasets" / "bob" / "catalog" / "data" / "x").read_bytes() == b"new"
    assert store.repo_url("bob/catalog", repo_type="dataset") == str(
        tmp_path / "datasets" / "bob" / "catalog"
    )
    with pytest.raises(UsageError, match="reserved"):
        store.commit("datasets/esm", FILES, "Add")  # would collide with the dataset folder


# --- canonical model ids ---------------------------------------------------------------------


def test_canonical_model_id(fake_hub: FakeHub, tmp_path: Path) -> None:
    assert LocalStore(tmp_path).canonical_model_id("bert-base-uncased") is None
    fake_hub.add_repo("google-bert/bert-base-uncased", {"README.md": "# BERT\n"})
    fake_hub.add_redirect("bert-base-uncased", "google-bert/bert-base-uncased")
    store = hub_store(fake_hub)
    fake_hub.reset_log()
    assert store.canonical_model_id("bert-base-uncased") == "google-bert/bert-base-uncased"
    assert store.canonical_model_id("google-bert/bert-base-uncased") == (
        "google-bert/bert-base-uncased"
    )
    assert fake_hub.count("GET", "/api/models/bert-base-uncased") == 1
    with pytest.raises(RepoNotFoundError):
        store.canonical_model_id("no-such-model")
    with pytest.raises(UsageError):
        store.canonical_model_id("bad--id")


# --- one error translation for every Hub call ------------------------------------------------


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_hub_dataset_calls_get_the_same_error_translation(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "hf_wrong_SECRET_9876543210"
    caplog.set_level(logging.DEBUG)
    data = {"data/catalog.parquet": b"PAR1"}
    with pytest.raises(StoreAuthError) as info:
        hub_store(fake_hub, token=secret).commit("alice/cat", data, "x", repo_type="dataset")
    message = str(info.value)
    assert "401" in message and "hf auth login" in message and "dataset alice/cat" in message
    assert secret not in message and secret not in "".join(traceback.format_exception(info.value))
    assert secret not in caplog.text
    with pytest.raises(StoreAuthError, match="No token was sent"):
        hub_store(fake_hub, token=False).commit("alice/cat", data, "x", repo_type="dataset")
    good = hub_store(fake_hub, token="hf_alice_write_0123456789")
    with pytest.raises(StoreAuthError, match="403"):
        good.commit("bob/cat", data, "x", repo_type="dataset")
    fake_hub.fail_next(2, 503, retry_after=0, path_contains="/api/datasets/alice/cat")
    assert good.commit("alice/cat", data, "x", repo_type="dataset").created  # retried
    with pytest.raises(RepoNotFoundError, match="dataset alice/none"):
        good.read_file("alice/none", "data/catalog.parquet", repo_type="dataset")


def test_importing_the_hub_store_changes_no_client_logger() -> None:
    script = """
import logging, sys
import huggingface_hub.hf_api

def state():
    names = [n for n in logging.root.manager.loggerDict if n.startswith("huggingface_hub")]
    return {n: (logging.getLogger(n).filters, logging.getLogger(n).handlers) for n in names}

before = {name: (list(f), list(h)) for name, (f, h) in state().items()}
import registry.stores.hub  # may import more client modules, with loggers of their own
changed = [n for n, (f, h) in state().items() if (f, h) != before.get(n, ([], []))]
sys.exit(f"changed: {changed}" if changed else 0)
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
