"""``download``, ``history``, ``delete`` and ``--create-pr``: a local registry and the Hub.

Against the in-process Hub the requests of each command are pinned, so that a change in
what a command costs shows up here.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from esm_factory import legacy_config_bytes, write_esm_dir

from registry.esm import Esm
from registry.stores.local import LocalStore

from cli_runner import run
from hub_server import FakeHub

REPO = "alice/ESM_bert-base-uncased_org__task0_default"
ALICE, BOB = "hf_alice_0123456789", "hf_bob_0123456789"
TOKENS = {ALICE: "alice", BOB: "bob"}


@pytest.fixture
def esm_dir(tmp_path: Path) -> Path:
    return write_esm_dir(tmp_path / "esm", 0)


@pytest.fixture
def local(tmp_path: Path, esm_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    registry = tmp_path / "registry"
    args = ["publish", str(esm_dir), "--registry", str(registry), "--namespace", "alice"]
    assert run(args, capsys)[0] == 0
    return registry


# --- a local registry ---------------------------------------------------------------------


def test_download_from_a_local_registry(
    local: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "downloaded"
    code, out, err = run(
        ["download", REPO, "--registry", str(local), "--local-dir", str(out_dir)], capsys
    )
    assert code == 0, err
    assert out == f"{out_dir.absolute()}\n"
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
    ]
    assert Esm.load(out_dir).metadata.task.task_id == "org/task0"

    code, out, _ = run(["download", REPO, "--registry", str(local)], capsys)
    assert code == 0 and Path(out.strip(), "config.json").is_file()  # the snapshot itself

    code, _, err = run(["download", "alice/missing", "--registry", str(local)], capsys)
    assert code == 1 and "alice/missing" in err
    code, _, err = run(["download", "not a repo id", "--registry", str(local)], capsys)
    assert code == 2


def test_history_of_a_local_repo(
    local: Path, esm_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_esm_dir(esm_dir, 0, developers="Someone Else")
    args = ["publish", str(esm_dir), "--registry", str(local), "--namespace", "alice"]
    assert run(args, capsys)[0] == 0
    code, out, _ = run(["history", REPO, "--registry", str(local)], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["COMMIT", "DATE", "AUTHOR", "MESSAGE"]
    assert len(lines) == 3
    history = LocalStore(local).history(REPO)
    assert [line.split()[0] for line in lines[1:]] == [c.id for c in history]
    assert "Publish ESM org/task0" in lines[1]

    code, out, _ = run(["history", REPO, "--registry", str(local), "--format", "json"], capsys)
    data = json.loads(out)
    assert code == 0 and [c["id"] for c in data] == [c.id for c in history]
    assert data[0]["parent"] == history[1].id
    code, out, _ = run(["history", REPO, "--registry", str(local), "--limit", "1"], capsys)
    assert len(out.splitlines()) == 3 and "--limit N shows more" in out


@pytest.mark.parametrize(("answer", "deleted"), [("y\n", True), ("n\n", False), ("", False)])
def test_delete_asks_first(
    local: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    deleted: bool,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(answer))
    code, out, err = run(["delete", REPO, "--registry", str(local)], capsys)
    assert "Delete alice/ESM_" in err and "cannot be undone" in err
    assert LocalStore(local).exists(REPO) is not deleted
    if deleted:
        assert code == 0 and out.startswith(f"deleted {REPO}")
    else:
        assert code == 1 and "nothing was deleted" in err and "--yes" in err


def test_delete_with_yes_and_a_missing_repo(
    local: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # never read
    code, out, err = run(["delete", REPO, "--registry", str(local), "--yes"], capsys)
    assert code == 0 and "Delete" not in err and out.startswith("deleted")
    assert not LocalStore(local).exists(REPO)
    code, _, err = run(["delete", REPO, "--registry", str(local), "--yes"], capsys)
    assert code == 1 and "no alice/ESM_" in err


def test_create_pr_on_a_local_registry_is_a_usage_error(
    local: Path, esm_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for args in (
        ["publish", str(esm_dir), "--registry", str(local), "--namespace", "alice"],
        ["publish", str(esm_dir), "--registry", str(local), "--repo-id", REPO],
        ["refresh-cards", REPO, "--registry", str(local)],
    ):
        code, out, err = run([*args, "--create-pr"], capsys)
        assert code == 2, (args, out, err)
        assert "no pull requests" in err
    assert len(LocalStore(local).history(REPO)) == 1
    code, _, err = run(
        ["publish", str(esm_dir), "--registry", str(local), "--create-pr", "--private"], capsys
    )
    assert code == 2 and "--private" in err


# --- the Hub --------------------------------------------------------------------------------


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_hub_download_history_and_delete(
    fake_hub: FakeHub,
    esm_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    hub = ["--registry", fake_hub.url, "--token", ALICE]
    assert run(["publish", str(esm_dir), *hub, "--namespace", "alice"], capsys)[0] == 0

    fake_hub.reset_log()
    out_dir = tmp_path / "esm-copy"
    code, out, err = run(["download", REPO, *hub, "--local-dir", str(out_dir)], capsys)
    assert code == 0, err
    assert Esm.load(out_dir).metadata.task.task_id == "org/task0"
    assert "Fetching" not in err  # no bars when stderr is not a terminal
    # The revision, its file tree, a HEAD and a GET per file (4 with .gitattributes).
    assert fake_hub.count() == 10
    assert fake_hub.count("GET", "/resolve/") == 4 and fake_hub.count("HEAD", "/resolve/") == 4

    fake_hub.reset_log()
    code, out, _ = run(["history", REPO, *hub], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 3 and "alice" in lines[1]
    assert lines[1].endswith("Publish ESM org/task0 (default) for bert-base-uncased")
    assert lines[2].endswith("initial commit")
    assert fake_hub.count() == 1

    fake_hub.reset_log()
    code, _, err = run(["delete", REPO, "--registry", fake_hub.url, "--token", BOB, "-y"], capsys)
    assert code == 1 and "permission denied" in err  # bob may not delete alice's repo
    assert fake_hub.has_repo(REPO)
    fake_hub.reset_log()
    code, out, _ = run(["delete", REPO, *hub, "--yes"], capsys)
    assert code == 0 and out.startswith("deleted")
    assert not fake_hub.has_repo(REPO)
    assert [r.method for r in fake_hub.requests] == ["GET", "DELETE"]  # exists, delete


@pytest.mark.parametrize("fake_hub", [{"tokens": TOKENS}], indirect=True)
def test_publish_and_refresh_cards_open_pull_requests_on_repos_of_others(
    fake_hub: FakeHub,
    esm_dir: Path,
    legacy_card_text: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    alice = ["--registry", fake_hub.url, "--token", ALICE]
    bob = ["--registry", fake_hub.url, "--token", BOB]
    assert run(["publish", str(esm_dir), *alice, "--namespace", "alice"], capsys)[0] == 0
    head = fake_hub.commits(REPO)[0].oid

    # Without --create-pr bob may not write; with it he proposes the change.
    write_esm_dir(esm_dir, 0, developers="Bob")
    code, out, _ = run(["publish", str(esm_dir), *bob, "--repo-id", REPO], capsys)
    assert code == 1 and "permission denied" in out
    fake_hub.reset_log()
    code, out, err = run(["publish", str(esm_dir), *bob, "--repo-id", REPO, "--create-pr"], capsys)
    assert code == 0, out + err
    assert f"{REPO}  proposed" in out and f"{fake_hub.url}/{REPO}/discussions/1" in out
    assert out.splitlines()[-1] == "1 proposed"
    assert fake_hub.count() == 4  # read, validate the card, preupload, commit
    assert fake_hub.commits(REPO)[0].oid == head
    (pr,) = fake_hub.pull_requests(REPO)
    assert pr["author"] == "bob" and b"Bob" in fake_hub.file(REPO, "config.json", pr["ref"])

    # The same through the default repo id of bob's namespace choice.
    code, out, _ = run(
        ["publish", str(esm_dir), *bob, "--namespace", "alice", "--create-pr"], capsys
    )
    assert code == 0 and "proposed" in out and len(fake_hub.pull_requests(REPO)) == 2

    # A legacy card of alice's, refreshed by bob as a pull request.
    fake_hub.add_repo(
        "alice/amz20", {"README.md": legacy_card_text, "config.json": legacy_config_bytes()}
    )
    before = len(fake_hub.commits("alice/amz20"))
    fake_hub.reset_log()
    code, out, err = run(["refresh-cards", "alice/amz20", *bob, "--create-pr"], capsys)
    assert code == 0, out + err
    assert "alice/amz20  proposed" in out and "/alice/amz20/discussions/1" in out
    assert len(fake_hub.commits("alice/amz20")) == before
    assert len(fake_hub.pull_requests("alice/amz20")) == 1
    # repo_info, config.json (HEAD + GET), then read, validate, preupload, commit
    assert fake_hub.count() == 7
    code, out, _ = run(["refresh-cards", "alice/amz20", *bob, "--create-pr"], capsys)
    # main is unchanged, so it is proposed again (each --create-pr opens a pull request)
    assert code == 0 and "1 proposed" in out
