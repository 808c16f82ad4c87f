"""Drive :mod:`hub_server` with the real ``huggingface_hub`` client.

These tests pin down that the fake Hub is good enough for the client (so the project's Hub tests
exercise real client behaviour) and document the client behaviours the project relies on:
no-op commit detection, retries, pagination, caching and error mapping.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    constants,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from hub_server import FakeHub, git_blob_sha1

ALICE_TOKEN = "hf_test_write"
BOB_TOKEN = "hf_test_bob"
TOKENS = {ALICE_TOKEN: "alice", BOB_TOKEN: "bob"}

README = """---
tags:
- embedding_space_map
- BaseLM:bert-base-uncased
base_model: bert-base-uncased
datasets:
- imdb
license: apache-2.0
language: en
library_name: hfselect
---
# ESM for imdb
"""
CONFIG = b'{"base_model_name": "bert-base-uncased", "task_id": "imdb"}'
WEIGHTS = bytes(range(256)) * 64  # 16 KiB of binary, stands in for model.safetensors


@pytest.fixture(autouse=True)
def _isolated_hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep tokens and caches out of ~/.cache; constants were frozen at import, so patch them."""
    home = tmp_path / "hf_home"
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    """A hub with authentication on (alice and bob), as the project's Hub tests will use."""
    with FakeHub(tokens=TOKENS) as server:
        yield server
    assert not server.server_errors


def _esm_ops(readme: str = README) -> list[CommitOperationAdd]:
    return [
        CommitOperationAdd("README.md", readme.encode()),
        CommitOperationAdd("config.json", CONFIG),
        CommitOperationAdd("model.safetensors", WEIGHTS),
    ]


def _alice(hub: FakeHub) -> HfApi:
    return HfApi(endpoint=hub.url, token=ALICE_TOKEN)


def _publish(hub: FakeHub, repo_id: str = "alice/esm-imdb") -> str:
    api = _alice(hub)
    api.create_repo(repo_id)
    return api.create_commit(repo_id, _esm_ops(), commit_message="Add ESM").oid


def _raw(
    hub: FakeHub, method: str, path: str, body: bytes | None = None, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    """Plain urllib request, for what the client hides (status codes, headers, ranges)."""
    request = urllib.request.Request(hub.url + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers.items()), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers.items()), err.read()


def test_binds_loopback_only(hub: FakeHub) -> None:
    assert hub.url.startswith("http://127.0.0.1:")
    assert not hub.url.endswith("/")


def test_whoami(hub: FakeHub) -> None:
    assert _alice(hub).whoami()["name"] == "alice"


def test_commit_roundtrip(hub: FakeHub, tmp_path: Path) -> None:
    api = _alice(hub)
    url = api.create_repo("alice/esm-imdb")
    assert url.repo_id == "alice/esm-imdb"
    info = api.create_commit("alice/esm-imdb", _esm_ops(), commit_message="Add ESM")

    assert info.commit_url == f"{hub.url}/alice/esm-imdb/commit/{info.oid}"
    assert [c.title for c in hub.commits("alice/esm-imdb")] == ["Add ESM", "initial commit"]
    assert hub.file("alice/esm-imdb", "model.safetensors") == WEIGHTS
    assert hub.count("POST", "/commit/main") == 1
    assert hub.count("POST", "/api/validate-yaml") == 1

    model = api.model_info("alice/esm-imdb", files_metadata=True)
    assert model.sha == info.oid
    assert model.card_data is not None and model.card_data.base_model == "bert-base-uncased"
    assert model.last_modified is not None and model.created_at is not None
    siblings = {s.rfilename: s for s in model.siblings or []}
    assert siblings["model.safetensors"].size == len(WEIGHTS)
    assert siblings["model.safetensors"].blob_id == git_blob_sha1(WEIGHTS)
    assert sorted(api.list_repo_files("alice/esm-imdb")) == [
        ".gitattributes",
        "README.md",
        "config.json",
        "model.safetensors",
    ]

    path = hf_hub_download(
        "alice/esm-imdb", "model.safetensors", endpoint=hub.url, cache_dir=tmp_path, token=False
    )
    assert Path(path).read_bytes() == WEIGHTS
    assert f"snapshots/{info.oid}/" in Path(path).as_posix()


def test_card_tags_as_the_hub_derives_them(hub: FakeHub) -> None:
    _publish(hub)
    tags = _alice(hub).model_info("alice/esm-imdb").tags or []
    for tag in (
        "embedding_space_map",
        "BaseLM:bert-base-uncased",
        "base_model:bert-base-uncased",
        "dataset:imdb",
        "license:apache-2.0",
        "en",
        "hfselect",
    ):
        assert tag in tags


def test_identical_commit_sends_no_commit_post(hub: FakeHub) -> None:
    first = _publish(hub)
    hub.reset_log()

    again = _alice(hub).create_commit("alice/esm-imdb", _esm_ops(), commit_message="Again")

    assert again.oid == first
    assert hub.count("POST", "/commit/") == 0
    assert hub.count("POST", "/preupload/") == 1
    assert hub.count("GET", "/api/models/alice/esm-imdb/revision/main") == 1
    assert len(hub.commits("alice/esm-imdb")) == 2


def test_server_records_a_commit_that_changes_nothing(hub: FakeHub) -> None:
    """Like the Hub, the server does not refuse empty commits; only the client skips them."""
    first = _publish(hub)
    lines = [
        {"key": "header", "value": {"summary": "same again", "description": ""}},
        {
            "key": "file",
            "value": {
                "path": "config.json",
                "content": base64.b64encode(CONFIG).decode(),
                "encoding": "base64",
            },
        },
    ]
    body = "\n".join(json.dumps(line) for line in lines).encode()
    status, _, answer = _raw(
        hub,
        "POST",
        "/api/models/alice/esm-imdb/commit/main",
        body,
        Authorization=f"Bearer {ALICE_TOKEN}",
        **{"Content-Type": "application/x-ndjson"},
    )
    assert status == 200
    new = json.loads(answer)["commitOid"]
    assert new != first
    history = hub.commits("alice/esm-imdb")
    assert history[0].oid == new and history[0].files == history[1].files


def test_create_repo_exist_ok_and_conflict(hub: FakeHub) -> None:
    api = _alice(hub)
    api.create_repo("alice/esm-imdb")
    assert api.create_repo("alice/esm-imdb", exist_ok=True).repo_id == "alice/esm-imdb"
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_repo("alice/esm-imdb")
    assert excinfo.value.response.status_code == 409


def test_list_models_filters_and_paginates(hub: FakeHub) -> None:
    hub.page_size = 2
    for index in range(5):
        hub.add_repo(f"bob/esm-{index}", {"README.md": README})
    other_base = README.replace("base_model: bert-base-uncased", "base_model: roberta-base")
    hub.add_repo("bob/esm-roberta", {"README.md": other_base})
    hub.add_repo("bob/plain-model", {"README.md": "---\ntags: [other]\n---\n"})
    hub.add_repo("bob/secret-esm", {"README.md": README}, private=True)
    api = _alice(hub)

    models = list(
        api.list_models(
            filter=["embedding_space_map", "base_model:bert-base-uncased"],
            full=True,
            cardData=True,
        )
    )

    assert [m.id for m in models] == [f"bob/esm-{index}" for index in range(5)]
    assert hub.count("GET", "/api/models?") == 3  # 5 matches at 2 per page
    assert all("cursor=" in r.query for r in hub.requests[-2:])
    first = models[0]
    assert first.sha is not None and first.last_modified is not None
    assert first.card_data is not None and first.card_data.base_model == "bert-base-uncased"
    assert first.siblings is not None and first.siblings[0].rfilename == ".gitattributes"

    assert [m.id for m in api.list_models(search="roberta")] == ["bob/esm-roberta"]
    assert len(list(api.list_models(author="bob"))) == 7  # the private repo stays hidden
    hub.reset_log()
    assert len(list(api.list_models(author="bob", limit=3))) == 3
    assert hub.count("GET", "/api/models") == 2  # the client stops once it has `limit` items
    expanded = next(iter(api.list_models(search="esm-0", expand=["sha"])))
    assert expanded.sha is not None and expanded.tags is None


def test_list_models_sorted_by_last_modified(hub: FakeHub) -> None:
    for name in ("a", "b", "c"):
        hub.add_repo(f"bob/{name}", {"README.md": README})
    hub.add_commit("bob/a", {"config.json": CONFIG})
    ids = [m.id for m in _alice(hub).list_models(author="bob", sort="last_modified")]
    assert ids[0] == "bob/a"


def test_private_repos_are_visible_to_their_owner_only(hub: FakeHub, tmp_path: Path) -> None:
    api = _alice(hub)
    api.create_repo("alice/private-esm", private=True)
    api.create_commit("alice/private-esm", _esm_ops(), commit_message="Add ESM")
    bob = HfApi(endpoint=hub.url, token=BOB_TOKEN)
    anonymous = HfApi(endpoint=hub.url, token=False)

    assert api.model_info("alice/private-esm").private is True
    for other in (bob, anonymous):
        with pytest.raises(RepositoryNotFoundError):
            other.model_info("alice/private-esm")
        assert not other.repo_exists("alice/private-esm")
        assert [m.id for m in other.list_models(author="alice")] == []
    assert [m.id for m in api.list_models(author="alice")] == ["alice/private-esm"]
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(
            "alice/private-esm", "config.json", endpoint=hub.url, cache_dir=tmp_path, token=False
        )


def test_bad_token_is_rejected_without_leaking_it(hub: FakeHub) -> None:
    secret = "hf_not_a_real_SECRET_123456"
    api = HfApi(endpoint=hub.url, token=secret)
    for call in (api.whoami, lambda: api.create_repo("alice/x"), lambda: api.model_info("a/b")):
        with pytest.raises(HfHubHTTPError) as excinfo:
            call()
        error = excinfo.value
        assert error.response.status_code == 401
        for text in (str(error), repr(error), str(error.server_message), str(error.args)):
            assert secret not in text
    assert not hub.has_repo("alice/x")


def test_writes_need_a_token_and_the_own_namespace(hub: FakeHub) -> None:
    _publish(hub)
    bob = HfApi(endpoint=hub.url, token=BOB_TOKEN)
    with pytest.raises(HfHubHTTPError) as excinfo:
        bob.create_repo("alice/by-bob")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        bob.create_commit("alice/esm-imdb", _esm_ops(README + "\nchanged"), commit_message="x")
    assert excinfo.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(endpoint=hub.url, token=False).create_repo("alice/anonymous")
    assert excinfo.value.response.status_code == 401
    assert len(hub.commits("alice/esm-imdb")) == 2


def test_delete_repo(hub: FakeHub) -> None:
    _publish(hub)
    api = _alice(hub)
    with pytest.raises(HfHubHTTPError) as excinfo:
        HfApi(endpoint=hub.url, token=BOB_TOKEN).delete_repo("alice/esm-imdb")
    assert excinfo.value.response.status_code == 403

    api.delete_repo("alice/esm-imdb")

    assert not api.repo_exists("alice/esm-imdb")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo("alice/esm-imdb")
    api.delete_repo("alice/esm-imdb", missing_ok=True)


def test_delete_operations_and_stale_parent(hub: FakeHub) -> None:
    api = _alice(hub)
    first = _publish(hub)
    api.create_commit(
        "alice/esm-imdb",
        [CommitOperationAdd("extra/a.txt", b"a"), CommitOperationAdd("extra/b.txt", b"b")],
        commit_message="extras",
    )
    api.create_commit(
        "alice/esm-imdb",
        [CommitOperationDelete("extra/"), CommitOperationDelete("config.json")],
        commit_message="cleanup",
    )
    assert sorted(api.list_repo_files("alice/esm-imdb")) == [
        ".gitattributes",
        "README.md",
        "model.safetensors",
    ]
    with pytest.raises(EntryNotFoundError):
        api.create_commit(
            "alice/esm-imdb", [CommitOperationDelete("missing.txt")], commit_message="x"
        )
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_commit(
            "alice/esm-imdb",
            [CommitOperationAdd("late.txt", b"late")],
            commit_message="stale",
            parent_commit=first,
        )
    assert excinfo.value.response.status_code == 412


def test_invalid_card_metadata_is_refused_before_upload(hub: FakeHub) -> None:
    api = _alice(hub)
    api.create_repo("alice/esm-imdb")
    hub.reset_log()
    for bad in ("---\n- just\n- a list\n---\n", "---\nkey: [unclosed\n---\n"):
        with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
            api.create_commit("alice/esm-imdb", _esm_ops(bad), commit_message="bad card")
    assert hub.count("POST", "/preupload/") == 0
    assert hub.count("POST", "/commit/") == 0


def test_missing_file_and_revision_errors(hub: FakeHub, tmp_path: Path) -> None:
    _publish(hub)
    api = _alice(hub)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            "alice/esm-imdb", "nope.json", endpoint=hub.url, cache_dir=tmp_path, token=False
        )
    with pytest.raises(RevisionNotFoundError):
        api.model_info("alice/esm-imdb", revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(
            "alice/esm-imdb",
            "config.json",
            revision="no-such-branch",
            endpoint=hub.url,
            cache_dir=tmp_path,
            token=False,
        )
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("alice/does-not-exist")
    assert not api.file_exists("alice/esm-imdb", "nope.json")


def test_download_by_sha_sees_old_content(hub: FakeHub, tmp_path: Path) -> None:
    old = _publish(hub)
    hub.add_commit("alice/esm-imdb", {"config.json": b"{}"})
    path = hf_hub_download(
        "alice/esm-imdb",
        "config.json",
        revision=old,
        endpoint=hub.url,
        cache_dir=tmp_path,
        token=False,
    )
    assert Path(path).read_bytes() == CONFIG
    assert hub.file("alice/esm-imdb", "config.json", revision=old) == CONFIG
    assert hub.file("alice/esm-imdb", "config.json") == b"{}"


def test_snapshot_download_with_paged_tree(hub: FakeHub, tmp_path: Path) -> None:
    hub.page_size = 3
    files = {f"layers/{index:02d}.json": f'{{"i": {index}}}' for index in range(12)}
    sha = hub.add_repo("alice/many", {"README.md": README, **files})

    folder = Path(
        snapshot_download(
            "alice/many",
            allow_patterns=["*.json"],
            endpoint=hub.url,
            cache_dir=tmp_path,
            token=False,
        )
    )

    assert folder.name == sha
    assert sorted(p.name for p in (folder / "layers").iterdir()) == sorted(
        name.split("/")[1] for name in files
    )
    assert not (folder / "README.md").exists()
    assert hub.count("GET", f"/tree/{sha}") > 1  # the tree listing was paginated
    top = _alice(hub).list_repo_tree("alice/many")
    assert sorted(entry.path for entry in top) == [".gitattributes", "README.md", "layers"]


def test_upload_folder(hub: FakeHub, tmp_path: Path) -> None:
    """upload_folder takes hf_xet's pipelined path; regular uploads keep it off Xet."""
    source = tmp_path / "esm"
    source.mkdir()
    (source / "README.md").write_text(README)
    (source / "config.json").write_bytes(CONFIG)
    (source / "model.safetensors").write_bytes(WEIGHTS)
    api = _alice(hub)
    api.create_repo("alice/esm-folder")

    api.upload_folder(repo_id="alice/esm-folder", folder_path=source, commit_message="folder")

    assert hub.file("alice/esm-folder", "model.safetensors") == WEIGHTS
    assert hub.commits("alice/esm-folder")[0].title == "folder"


def test_datasets(hub: FakeHub, tmp_path: Path) -> None:
    api = _alice(hub)
    url = api.create_repo("alice/catalog", repo_type="dataset")
    assert url.repo_type == "dataset"
    card = "---\nlanguage: [en]\ntask_categories: [text-classification]\n---\n# Catalog\n"
    api.create_commit(
        "alice/catalog",
        [
            CommitOperationAdd("README.md", card.encode()),
            CommitOperationAdd("data/catalog.parquet", b"PAR1 not really"),
        ],
        commit_message="snapshot",
        repo_type="dataset",
    )

    assert not hub.has_repo("alice/catalog")  # a dataset is not a model
    listed = [d.id for d in api.list_datasets(filter=["language:en"])]
    assert listed == ["alice/catalog"]
    assert (
        api.dataset_info("alice/catalog").sha
        == hub.commits("alice/catalog", repo_type="dataset")[0].oid
    )
    path = hf_hub_download(
        "alice/catalog",
        "data/catalog.parquet",
        repo_type="dataset",
        endpoint=hub.url,
        cache_dir=tmp_path,
        token=False,
    )
    assert Path(path).read_bytes() == b"PAR1 not really"


def test_renamed_repo_redirects_to_its_new_id(hub: FakeHub) -> None:
    sha = hub.add_repo("acme/new-name", {"README.md": "---\ntags: [x]\n---\n"})
    hub.add_redirect("old-name", "acme/new-name")  # a legacy id without namespace
    hub.add_redirect("acme/old-name", "acme/new-name")  # a renamed repo
    api = HfApi(endpoint=hub.url, token=False)
    hub.reset_log()
    assert api.model_info("old-name").id == "acme/new-name"
    assert [(r.method, r.path) for r in hub.requests] == [
        ("GET", "/api/models/old-name"),
        ("GET", "/api/models/acme/new-name"),
    ]
    info = api.model_info("acme/old-name", revision="main", files_metadata=True)
    assert info.id == "acme/new-name" and info.sha == sha
    assert info.siblings is not None and info.siblings[0].blob_id is not None  # query kept
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("never-existed")
    with pytest.raises(ValueError, match="does not exist"):
        hub.add_redirect("x", "acme/missing")


def test_preupload_503_is_retried(hub: FakeHub) -> None:
    api = _alice(hub)
    api.create_repo("alice/esm-imdb")
    hub.fail_next(1, status=503, retry_after=0, path_contains="/preupload/")

    api.create_commit("alice/esm-imdb", _esm_ops(), commit_message="Add ESM")

    assert hub.count("POST", "/preupload/") == 2
    assert hub.pending_faults == 0
    assert len(hub.commits("alice/esm-imdb")) == 2


def test_list_page_429_is_retried(hub: FakeHub) -> None:
    hub.page_size = 1
    for index in range(3):
        hub.add_repo(f"bob/esm-{index}", {"README.md": README})
    hub.fail_next(1, status=429, retry_after=0, path_contains="cursor=", method="GET")

    models = list(_alice(hub).list_models(filter="embedding_space_map"))

    assert [m.id for m in models] == ["bob/esm-0", "bob/esm-1", "bob/esm-2"]
    assert hub.count("GET", "/api/models") == 4
    assert hub.pending_faults == 0


def test_commit_post_of_create_commit_is_not_retried(hub: FakeHub) -> None:
    api = _alice(hub)
    api.create_repo("alice/esm-imdb")
    hub.fail_next(1, status=503, path_contains="/commit/main")
    with pytest.raises(HfHubHTTPError) as excinfo:
        api.create_commit("alice/esm-imdb", _esm_ops(), commit_message="Add ESM")
    assert excinfo.value.response.status_code == 503
    assert hub.count("POST", "/commit/") == 1
    assert len(hub.commits("alice/esm-imdb")) == 1


def test_download_head_503_falls_back_to_a_second_pass(hub: FakeHub, tmp_path: Path) -> None:
    _publish(hub)
    hub.fail_next(1, status=503, method="HEAD")
    path = hf_hub_download(
        "alice/esm-imdb", "config.json", endpoint=hub.url, cache_dir=tmp_path, token=False
    )
    assert Path(path).read_bytes() == CONFIG
    assert hub.count("HEAD") == 2


def test_malformed_answers_fail_fast(hub: FakeHub, tmp_path: Path) -> None:
    _publish(hub)
    api = _alice(hub)
    started = time.monotonic()
    hub.malformed_next(1, path_contains="/api/models/alice/esm-imdb")
    with pytest.raises(ValueError):
        api.model_info("alice/esm-imdb")
    hub.malformed_next(1, path_contains="/api/models", method="GET")
    with pytest.raises(ValueError):
        list(api.list_models())
    hub.malformed_next(1, method="HEAD")
    with pytest.raises(LocalEntryNotFoundError):
        hf_hub_download(
            "alice/esm-imdb", "config.json", endpoint=hub.url, cache_dir=tmp_path, token=False
        )
    assert time.monotonic() - started < 5
    assert hub.pending_faults == 0


def test_latency_is_added(hub: FakeHub) -> None:
    hub.latency = 0.3
    started = time.monotonic()
    _alice(hub).whoami()
    assert time.monotonic() - started >= 0.3


def test_resolve_headers_range_and_error_codes(hub: FakeHub) -> None:
    sha = _publish(hub)
    status, headers, _ = _raw(hub, "HEAD", "/alice/esm-imdb/resolve/main/model.safetensors")
    assert status == 200
    assert headers["X-Repo-Commit"] == sha
    assert headers["ETag"] == f'"{git_blob_sha1(WEIGHTS)}"'
    assert headers["Content-Length"] == str(len(WEIGHTS))
    assert not any(name.lower().startswith("x-xet") for name in headers)

    status, headers, body = _raw(
        hub, "GET", f"/alice/esm-imdb/resolve/{sha}/model.safetensors", Range="bytes=10-19"
    )
    assert (status, body) == (206, WEIGHTS[10:20])
    assert headers["Content-Range"] == f"bytes 10-19/{len(WEIGHTS)}"

    status, headers, body = _raw(hub, "GET", "/alice/esm-imdb/resolve/main/nope")
    assert (status, headers["X-Error-Code"], headers["X-Repo-Commit"]) == (
        404,
        "EntryNotFound",
        sha,
    )
    assert "error" in json.loads(body)
    status, headers, _ = _raw(hub, "GET", "/api/models/alice/nope")
    assert (status, headers["X-Error-Code"]) == (404, "RepoNotFound")


def test_shared_fixture_is_open_by_default(fake_hub: FakeHub) -> None:
    api = HfApi(endpoint=fake_hub.url, token=False)
    api.create_repo("carol/open", private=True)
    assert api.model_info("carol/open").private is True  # no tokens: nothing is hidden
    assert fake_hub.count("POST", "/api/repos/create") == 1


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS, "page_size": 1}], indirect=True)
def test_shared_fixture_takes_constructor_arguments(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("alice/one")
    fake_hub.add_repo("alice/two")
    assert len(list(HfApi(endpoint=fake_hub.url, token=BOB_TOKEN).list_models())) == 2
    assert fake_hub.count("GET", "/api/models") == 2
    with pytest.raises(HfHubHTTPError):
        HfApi(endpoint=fake_hub.url, token=False).create_repo("alice/three")
