"""``esm-registry publish`` and ``esm-registry refresh-cards``: output and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from esm_factory import legacy_config_bytes, write_esm_dir

from registry.stores.local import LocalStore

from cli_runner import run
from hub_server import FakeHub


@pytest.fixture
def esm_dirs(tmp_path: Path) -> list[Path]:
    return [write_esm_dir(tmp_path / f"esm{i}", i) for i in range(3)]


def test_publish_to_a_folder_prints_a_table(
    tmp_path: Path, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    args = ["publish", *map(str, esm_dirs), "--registry", str(registry), "--namespace", "alice"]
    code, out, _ = run(args, capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["REPO", "ID", "STATUS", "COMMIT", "URL", "/", "ERROR"]
    assert "alice/ESM_bert-base-uncased_org__task0_default  published" in lines[1]
    assert str(registry / "alice") in lines[1]
    assert lines[-1] == "3 published"
    assert len(list(LocalStore(registry).list_esms())) == 3

    code, out, _ = run(args, capsys)
    assert code == 0 and out.splitlines()[-1] == "3 unchanged"


def test_publish_default_registry_is_the_embedded_local_store(
    tmp_path: Path,
    esm_dirs: list[Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    code, out, _ = run(["publish", str(esm_dirs[0])], capsys)
    assert code == 0
    assert "local/ESM_bert-base-uncased_org__task0_default" in out
    assert LocalStore(tmp_path / "home" / "local").exists(
        "local/ESM_bert-base-uncased_org__task0_default"
    )


def test_publish_with_a_failing_esm_exits_1(
    tmp_path: Path, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    (esm_dirs[1] / "config.json").write_text('{"base_model_name": "x"}')
    args = ["publish", *map(str, esm_dirs), "--registry", str(tmp_path / "r"), "--namespace", "a"]
    code, out, err = run(args, capsys)
    assert code == 1
    assert "Traceback" not in out + err
    failed = [line for line in out.splitlines() if " failed " in line]
    assert len(failed) == 1 and "task_id" in failed[0]
    assert out.splitlines()[-1] == "2 published, 1 failed"


def test_publish_usage_errors_exit_2(
    tmp_path: Path, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    two = [str(esm_dirs[0]), str(esm_dirs[1])]
    code, _, err = run(["publish", *two, "--repo-id", "a/b", "--registry", str(tmp_path)], capsys)
    assert code == 2 and "exactly one PATH" in err
    code, _, err = run(["publish", str(tmp_path / "missing"), "--registry", str(tmp_path)], capsys)
    assert code == 2 and "no such ESM folder" in err
    code, _, err = run(["publish", two[0], "--registry", "hubb"], capsys)
    assert code == 2 and "unknown registry" in err
    code, _, err = run(["publish", two[0], "--repo-id", "a/b", "--namespace", "a"], capsys)
    assert code == 2 and "not allowed with" in err
    code, _, err = run(["publish", two[0], "--jobs", "0"], capsys)
    assert code == 2
    code, _, err = run(
        ["publish", two[0], "--registry", str(tmp_path), "--repo-id", "bad id"], capsys
    )
    assert code == 2 and "not a valid repo id" in err


def test_publish_dry_run_writes_nothing(
    tmp_path: Path, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    registry = tmp_path / "registry"
    code, out, _ = run(
        ["publish", str(esm_dirs[0]), "--registry", str(registry), "--repo-id", "a/b", "--dry-run"],
        capsys,
    )
    assert code == 0
    assert "a/b: would-publish" in out
    assert "model.safetensors" in out and "sha256" in out
    assert "+++ README.md (new)" in out
    assert out.splitlines()[-1] == "1 would-publish"
    assert not registry.exists()


@pytest.mark.parametrize("fake_hub", [{"tokens": {"hf_alice_0123456789": "alice"}}], indirect=True)
def test_publish_to_a_hub_with_a_bad_token(
    fake_hub: FakeHub, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "hf_not_valid_0123456789"
    args = ["publish", str(esm_dirs[0]), "--registry", fake_hub.url, "--token", secret]
    code, out, err = run([*args, "--namespace", "alice"], capsys)
    assert code == 1
    assert "not authenticated" in err and "Traceback" not in err and secret not in out + err
    code, out, err = run(args, capsys)  # the namespace would come from whoami
    assert code == 1 and "--namespace" in err and secret not in out + err

    good = ["publish", str(esm_dirs[0]), "--registry", fake_hub.url]
    code, out, _ = run([*good, "--token", "hf_alice_0123456789"], capsys)
    assert code == 0 and "alice/ESM_" in out and "published" in out


def test_refresh_cards_command(
    fake_hub: FakeHub, legacy_card_text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    repo_id = "user/amz20"
    fake_hub.add_repo(
        repo_id, {"README.md": legacy_card_text, "config.json": legacy_config_bytes()}
    )
    base = ["refresh-cards", "--registry", fake_hub.url]
    code, out, _ = run([*base, repo_id, "--dry-run"], capsys)
    assert code == 0 and "user/amz20: would-update" in out and "+++ README.md (new)" in out
    assert len(fake_hub.commits(repo_id)) == 2
    code, out, _ = run([*base, "--all"], capsys)
    assert code == 0 and out.splitlines()[-1] == "1 updated"
    code, out, _ = run([*base, "--all"], capsys)
    assert code == 0 and out.splitlines()[-1] == "1 unchanged"
    assert len(fake_hub.commits(repo_id)) == 3
    code, out, _ = run([*base, "user/missing"], capsys)
    assert code == 1 and "failed" in out
    code, _, err = run(base, capsys)
    assert code == 2 and "--all" in err
    code, _, err = run([*base, repo_id, "--all"], capsys)
    assert code == 2


@pytest.mark.parametrize("namespace", ["bad ns", "a/b", "ns!", "x" * 97])
def test_a_bad_namespace_is_a_usage_error(
    tmp_path: Path, esm_dirs: list[Path], capsys: pytest.CaptureFixture[str], namespace: str
) -> None:
    registry = tmp_path / "registry"
    args = ["publish", *map(str, esm_dirs), "--registry", str(registry), "--namespace", namespace]
    code, out, err = run(args, capsys)
    assert code == 2
    assert "is not a valid namespace" in err and "Traceback" not in err
    assert out == ""
    assert not registry.exists()
