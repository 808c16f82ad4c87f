"""Ctrl-C during a bulk publish: say what is done, what is not, and how to resume."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
from esm_factory import write_esm_dir

from registry.errors import PublishInterrupted
from registry.publish import publish_many
from registry.stores.local import LocalStore

from cli_runner import run


@pytest.fixture
def folders(tmp_path: Path) -> list[Path]:
    return [write_esm_dir(tmp_path / f"esm{i}", index=i) for i in range(6)]


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, commits: int) -> None:
    """Deliver Ctrl-C to this process right after the n-th commit lands."""
    original = LocalStore.commit
    seen = {"count": 0}

    def commit(self: LocalStore, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        seen["count"] += 1
        if seen["count"] == commits:
            os.kill(os.getpid(), signal.SIGINT)
        return result

    monkeypatch.setattr(LocalStore, "commit", commit)


def test_interrupted_bulk_publish_reports_what_is_done(
    folders: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = LocalStore(tmp_path / "registry")
    publish_many(folders[:1], store, namespace="alice", progress=False)  # one is unchanged
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(PublishInterrupted) as info:
        publish_many(folders, store, namespace="alice", jobs=1, progress=False)
    stop = info.value
    counts = stop.summary.counts
    # Ctrl-C came after the third commit; the one in flight then was allowed to land.
    assert counts.get("unchanged") == 1 and counts.get("published") in (2, 3)
    assert stop.not_reached == len(folders) - len(stop.summary) >= 2
    assert isinstance(stop, KeyboardInterrupt)
    # The summary is the truth: exactly what it reports is in the store.
    done = {r.repo_id for r in stop.summary}
    listed = {repo.repo_id for repo in store.list_esms()}
    assert listed == done
    monkeypatch.undo()
    again = publish_many(folders, store, namespace="alice", jobs=1, progress=False)
    assert again.counts == {"unchanged": len(done), "published": len(folders) - len(done)}


def test_the_cli_says_how_to_resume(
    folders: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _interrupt_after(monkeypatch, 2)
    registry = str(tmp_path / "registry")
    code, out, err = run(
        ["publish", *map(str, folders), "--registry", registry, "--jobs", "1", "--no-progress"],
        capsys,
    )
    assert code == 130
    published = len(list(LocalStore(tmp_path / "registry").list_esms()))
    assert published in (2, 3)
    assert f"{published} published" in err and f"{6 - published} not reached" in err
    assert "Run the same command" in err
    assert out.count(" published ") == published
