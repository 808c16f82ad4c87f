"""What `hf` users expect of a store: history, download into a folder, pull requests.

Each is run against the in-process Hub (the real huggingface_hub client) and against a
local registry folder, with the Hub's request counts pinned.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.errors import RepoNotFoundError, StoreUnavailableError, UsageError
from registry.stores import RegistryStore, RepoCommit
from registry.stores.hub import HubStore, RetryPolicy
from registry.stores.local import LocalStore

from hub_server import FakeHub

CARD = (
    b"---\nlicense: apache-2.0\nbase_model: bert-base-uncased\ndatasets:\n- org/task\n"
    b"tags:\n- embedding_space_map\n- BaseLM:bert-base-uncased\n---\n\n# ESM\n"
)
FILES = {"README.md": CARD, "config.json": b'{"a": 1}\n', "model.safetensors": b"\x01" * 64}
TOKENS = {"hf_alice_token": "alice", "hf_bob_token": "bob"}


def _hub(hub: FakeHub, token: str | None = None, cache: Path | None = None) -> HubStore:
    policy = RetryPolicy(attempts=3, base_delay=0.0, jitter=0.0, sleep=lambda _: None)
    return HubStore(endpoint=hub.url, token=token, retry=policy, cache_dir=cache)


def _stores(tmp_path: Path, hub: FakeHub) -> list[RegistryStore]:
    return [LocalStore(tmp_path / "registry"), _hub(hub, cache=tmp_path / "cache")]


# --- history ------------------------------------------------------------------------------------


def test_history_lists_commits_newest_first_in_both_stores(
    tmp_path: Path, fake_hub: FakeHub
) -> None:
    for store in _stores(tmp_path, fake_hub):
        first = store.commit("alice/esm", FILES, "Add ESM")
        second = store.commit("alice/esm", {"config.json": b'{"a": 2}\n'}, "Update config")
        history = store.history("alice/esm")
        assert all(isinstance(commit, RepoCommit) for commit in history)
        assert [c.id for c in history[:2]] == [second.commit_id, first.commit_id]
        assert [c.message for c in history[:2]] == ["Update config", "Add ESM"]
        assert all(c.date is not None for c in history)
        with pytest.raises(RepoNotFoundError):
            store.history("alice/nothing-here")
    # The Hub starts every repo with an initial commit and says who made each one.
    hub_history = _hub(fake_hub).history("alice/esm")
    assert [c.message for c in hub_history] == ["Update config", "Add ESM", "initial commit"]
    assert hub_history[0].authors  # the Hub names the author; a folder does not


def test_history_on_the_hub_is_one_request(fake_hub: FakeHub) -> None:
    store = _hub(fake_hub)
    store.commit("alice/esm", FILES, "Add ESM")
    fake_hub.reset_log()
    assert len(store.history("alice/esm")) == 2
    assert [(r.method, r.path) for r in fake_hub.requests] == [
        ("GET", "/api/models/alice/esm/commits/main")
    ]


def test_local_history_of_dataset_repos(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/snap", {"data.json": b"{}"}, "Snapshot", repo_type="dataset")
    assert [c.message for c in store.history("alice/snap", repo_type="dataset")] == ["Snapshot"]
    with pytest.raises(RepoNotFoundError):
        store.history("alice/snap")


# --- download -----------------------------------------------------------------------------------


def test_download_into_a_folder_in_both_stores(tmp_path: Path, fake_hub: FakeHub) -> None:
    for index, store in enumerate(_stores(tmp_path, fake_hub)):
        first = store.commit("alice/esm", FILES, "Add ESM")
        store.commit("alice/esm", {"config.json": b'{"a": 2}\n'}, "Update config")
        folder = tmp_path / f"out{index}"
        (folder / "notes").mkdir(parents=True)
        (folder / "notes" / "mine.txt").write_text("kept")
        (folder / "config.json").write_text("replaced")
        got = store.download("alice/esm", local_dir=folder)
        assert got == folder.absolute()
        for name, content in FILES.items():
            expected = b'{"a": 2}\n' if name == "config.json" else content
            assert (folder / name).read_bytes() == expected
        assert (folder / "notes" / "mine.txt").read_text() == "kept"

        old = store.download(
            "alice/esm", revision=first.commit_id, local_dir=tmp_path / f"o{index}"
        )
        assert (old / "config.json").read_bytes() == b'{"a": 1}\n'

        # Without a folder: the store's own read-only copy of the head.
        cached = store.download("alice/esm")
        assert (cached / "config.json").read_bytes() == b'{"a": 2}\n'
        with pytest.raises(RepoNotFoundError):
            store.download("alice/missing", local_dir=tmp_path / "never")
        assert not (tmp_path / "never").exists()


def test_hub_download_requests_and_offline_reuse(
    tmp_path: Path, fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _hub(fake_hub, cache=tmp_path / "cache")
    commit = store.commit("alice/esm", FILES, "Add ESM")
    fake_hub.reset_log()
    store.download("alice/esm", local_dir=tmp_path / "esm")
    # The revision, its file tree, then a HEAD and a GET per file (.gitattributes included).
    sha = commit.commit_id
    api = [(r.method, r.path) for r in fake_hub.requests if r.path.startswith("/api/")]
    assert api == [
        ("GET", "/api/models/alice/esm/revision/main"),
        ("GET", f"/api/models/alice/esm/tree/{sha}"),
    ]
    files = sorted((r.path.rsplit("/", 1)[1], r.method) for r in fake_hub.requests[2:])
    names = sorted([*FILES, ".gitattributes"])
    assert files == sorted([(name, "GET") for name in names] + [(name, "HEAD") for name in names])
    assert len(fake_hub.requests) == 2 + 2 * len(names) == 10

    # Into the cache, then offline at that commit: no request at all.
    store.download("alice/esm", revision=commit.commit_id)
    fake_hub.reset_log()
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    folder = store.download("alice/esm", revision=commit.commit_id)
    assert (folder / "model.safetensors").read_bytes() == FILES["model.safetensors"]
    assert fake_hub.requests == []


def test_local_download_refuses_a_file_as_target_and_paths_outside(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "registry")
    store.commit("alice/esm", FILES, "Add ESM")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="is a file"):
        store.download("alice/esm", local_dir=tmp_path / "file")


# --- pull requests ------------------------------------------------------------------------------


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_a_pull_request_on_someone_elses_repo(fake_hub: FakeHub) -> None:
    _hub(fake_hub, "hf_alice_token").commit("alice/esm", FILES, "Add ESM")
    head = fake_hub.commits("alice/esm")[0].oid
    bob = _hub(fake_hub, "hf_bob_token")
    fake_hub.reset_log()
    change = {"README.md": CARD + b"\nBetter card.\n"}

    result = bob.commit("alice/esm", change, "Refresh ESM card", create_pr=True)

    assert result.created
    assert result.pr_url == f"{fake_hub.url}/alice/esm/discussions/1"
    assert result.url == result.pr_url
    # read, validate the card, preupload, commit: as a commit to a repo of one's own
    assert [(r.method, r.path) for r in fake_hub.requests] == [
        ("GET", "/api/models/alice/esm"),
        ("POST", "/api/validate-yaml"),
        ("POST", "/api/models/alice/esm/preupload/main"),
        ("POST", "/api/models/alice/esm/commit/main"),
    ]
    assert fake_hub.commits("alice/esm")[0].oid == head  # main is untouched
    (pr,) = fake_hub.pull_requests("alice/esm")
    assert pr["author"] == "bob" and pr["title"] == "Refresh ESM card"
    assert fake_hub.file("alice/esm", "README.md", pr["ref"]) == change["README.md"]
    assert fake_hub.file("alice/esm", "config.json", pr["ref"]) == FILES["config.json"]

    # Proposing what main already holds opens nothing.
    fake_hub.reset_log()
    again = bob.commit("alice/esm", {"config.json": FILES["config.json"]}, "Same", create_pr=True)
    assert not again.created and again.pr_url is None and again.commit_id == head
    assert fake_hub.count() == 1
    assert len(fake_hub.pull_requests("alice/esm")) == 1


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_a_pull_request_needs_an_existing_repo(fake_hub: FakeHub) -> None:
    bob = _hub(fake_hub, "hf_bob_token")
    with pytest.raises(RepoNotFoundError, match="open a pull request on alice/none"):
        bob.commit("alice/none", FILES, "Add ESM", create_pr=True)
    assert not fake_hub.has_repo("alice/none")


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_a_failed_pull_request_post_is_not_repeated(fake_hub: FakeHub) -> None:
    """Main does not show a pull request, so a retry could open a second one."""
    _hub(fake_hub, "hf_alice_token").commit("alice/esm", FILES, "Add ESM")
    bob = _hub(fake_hub, "hf_bob_token")
    fake_hub.reset_log()
    fake_hub.fail_next(500, path_contains="/commit/")
    with pytest.raises(StoreUnavailableError, match="may have been opened anyway"):
        bob.commit("alice/esm", {"config.json": b"{}"}, "Change", create_pr=True)
    assert fake_hub.count("POST", "/commit/") == 1


def test_a_local_registry_has_no_pull_requests(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.commit("alice/esm", FILES, "Add ESM")
    with pytest.raises(UsageError, match="no pull requests"):
        store.commit("alice/esm", {"config.json": b"{}"}, "Change", create_pr=True)
    assert len(store.history("alice/esm")) == 1
