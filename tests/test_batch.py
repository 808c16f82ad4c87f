"""Batch ranking and training with the local executor, end to end through the CLI.

The same runs on Ray are in ``test_batch_ray.py``; both compare with ``rank`` target by
target.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("pandas")

from batch_support import (
    BAD_TARGET,
    ESM_COUNT,
    TARGETS,
    TRAIN_TASKS,
    commit_counts,
    rank_setup,
    rank_spec,
    train_setup,
    train_spec,
)
from rank_support import BASE_MODEL

from registry.esm import Esm

from cli_runner import run
from hub_server import FakeHub


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One esm-registry home (embedding cache, default store) for the module."""
    path = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ESM_REGISTRY_HOME", str(path))
        patch.delenv("ESM_REGISTRY_CATALOG", raising=False)
        yield path


@pytest.fixture(scope="module")
def setup(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return rank_setup(tmp_path_factory.mktemp("rank-batch"))


def rank_json(
    setup: dict[str, Path], name: str, capsys: pytest.CaptureFixture[str]
) -> dict[str, object]:
    """What ``esm-registry rank --format json`` prints for one target of the spec."""
    text, label = TARGETS[name]
    code, out, err = run(
        [
            "rank",
            "--base-model",
            BASE_MODEL,
            "--model-path",
            str(setup["model"]),
            "--file",
            str(setup[name]),
            "--text-column",
            text,
            "--label-column",
            label,
            "--registry",
            str(setup["registry"]),
            "--num-examples",
            "40",
            "--chunk-size",
            "2",
            "--format",
            "json",
            "--no-progress",
        ],
        capsys,
    )
    assert code == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def test_rank_batch_equals_rank_and_a_bad_target_fails_alone(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = rank_spec(tmp_path / "targets.yaml", setup, bad=True)
    out_dir = tmp_path / "out"
    code, out, err = run(["rank-batch", str(spec), "--output-dir", str(out_dir)], capsys)
    assert code == 1, err  # the bad target failed; the others were ranked
    assert "Traceback" not in out + err
    for name in TARGETS:
        written = (out_dir / f"{name}.json").read_text(encoding="utf-8")
        assert json.loads(written) == rank_json(setup, name, capsys)
        data = json.loads(written)
        assert len(data["entries"]) == ESM_COUNT
        assert [s["source"] for s in data["skipped"]] == ["alice/broken-esm"]
    assert not (out_dir / f"{BAD_TARGET}.json").exists()
    summary = (out_dir / "summary.md").read_text(encoding="utf-8")
    assert f"| {BAD_TARGET} | failed |" in summary
    assert "no column 'no_such_column'" in summary
    assert "| rank | reviews | moods |" in summary
    line = next(line for line in out.splitlines() if line.startswith(BAD_TARGET))
    assert "failed" in line and "no_such_column" in line
    assert "2 of 3 targets ranked, 1 failed" in out


def test_rank_batch_resumes_and_recomputes_what_changed(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = rank_spec(tmp_path / "targets.yaml", setup)
    out_dir = tmp_path / "out"
    assert run(["rank-batch", str(spec), "--output-dir", str(out_dir)], capsys)[0] == 0
    first = {name: (out_dir / f"{name}.json").stat().st_mtime_ns for name in TARGETS}

    code, out, _ = run(["rank-batch", str(spec), "--output-dir", str(out_dir)], capsys)
    assert code == 0
    assert out.count("up to date") == len(TARGETS)
    assert {name: (out_dir / f"{name}.json").stat().st_mtime_ns for name in TARGETS} == first

    # Another sample size changes one target's inputs: only that one is recomputed.
    text = spec.read_text(encoding="utf-8").replace(
        "    label_column: mood\n", "    label_column: mood\n    num_examples: 30\n"
    )
    spec.write_text(text, encoding="utf-8")
    code, out, _ = run(["rank-batch", str(spec), "--output-dir", str(out_dir)], capsys)
    assert code == 0
    statuses = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:3]}
    assert statuses == {"reviews": "up", "moods": "ranked"}
    assert json.loads((out_dir / "moods.json").read_text())["target"]["num_examples"] == 30

    # --force recomputes everything, with the same result.
    before = (out_dir / "reviews.json").read_text()
    code, out, _ = run(["rank-batch", str(spec), "--output-dir", str(out_dir), "--force"], capsys)
    assert code == 0 and "up to date" not in out
    assert (out_dir / "reviews.json").read_text() == before


def test_rank_batch_usage_errors(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text("targets:\n  - name: a\n    dataset: x.csv\n    num_exmples: 3\n")
    code, _, err = run(["rank-batch", str(spec), "--output-dir", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "line 4: targets[0].num_exmples: unknown key; did you mean 'num_examples'?" in err
    code, _, err = run(["rank-batch", str(tmp_path / "nope.yaml"), "--output-dir", "o"], capsys)
    assert code == 2 and "no such spec file" in err
    good = rank_spec(tmp_path / "good.yaml", setup)
    code, _, err = run(
        ["rank-batch", str(good), "--output-dir", "o", "--executor", "local", "--ray-address", "x"],
        capsys,
    )
    assert code == 2 and "--ray-address needs --executor ray" in err


def test_shards_that_run_side_by_side_score_on_the_core_they_reserve(
    setup: dict[str, Path], tmp_path: Path
) -> None:
    """With parallel shards, scoring on every core in each would oversubscribe the CPU."""
    from registry.batch import LocalExecutor, load_rank_spec, rank_batch
    from registry.batch.tasks import score_shard_task

    class Recording(LocalExecutor):
        """Runs in-process, reports ``workers`` parallel slots, records shard threads."""

        def __init__(self, workers: int) -> None:
            self.workers = workers
            self.threads: list[int | None] = []

        @property
        def parallelism(self) -> int:
            return self.workers

        def submit(self, fn: Any, *args: Any, **kwargs: Any) -> list[Any]:
            if fn is score_shard_task:
                self.threads.append(args[-1].threads)  # its ScoringOptions
            return super().submit(fn, *args, **kwargs)

    jobs = load_rank_spec(rank_spec(tmp_path / "spec.yaml", setup)).to_jobs()
    side_by_side, one_at_a_time = Recording(2), Recording(1)
    assert rank_batch(jobs, tmp_path / "side", side_by_side, progress=False).ok
    assert rank_batch(jobs, tmp_path / "one", one_at_a_time, progress=False).ok
    assert side_by_side.threads and set(side_by_side.threads) == {1}
    assert one_at_a_time.threads and set(one_at_a_time.threads) == {None}  # every core


@pytest.fixture(scope="module")
def models(home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return train_setup(tmp_path_factory.mktemp("train-batch"))


def test_train_batch_publishes_each_esm_once_and_a_rerun_publishes_nothing(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = train_spec(tmp_path / "tasks.yaml", models)
    registry = tmp_path / "registry"
    args = ["train-batch", str(spec), "--registry", str(registry), "--namespace", "lab"]

    code, out, err = run([*args, "--no-progress"], capsys)  # no --publish: the plan only
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} would-train" in out and "nothing was trained" in out
    assert "lab/ESM_tiny-bert_wordnet__noun-supersense" in out
    assert not registry.exists() or commit_counts(registry) == {}

    code, out, err = run([*args, "--publish", "--output-dir", str(tmp_path / "esms")], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} published" in out
    counts = commit_counts(registry)
    assert len(counts) == len(TRAIN_TASKS)
    assert {repo.split("/")[0] for repo in counts} == {"lab"}
    saved = Esm.load(tmp_path / "esms" / "wordnet__noun-supersense")
    assert saved.metadata.base_model == BASE_MODEL
    assert saved.metadata.extra["training_inputs_sha256"]

    code, out, err = run([*args, "--publish", "--output-dir", str(tmp_path / "esms")], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} unchanged" in out
    assert commit_counts(registry) == counts  # nothing trained, nothing committed


def test_train_batch_failed_task_fails_alone(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = train_spec(tmp_path / "tasks.yaml", models, tasks=(TRAIN_TASKS[0],))
    data = tmp_path / "news.jsonl"
    data.write_text('{"text": "a plot", "topic": "film"}\n', encoding="utf-8")
    spec.write_text(
        spec.read_text()
        + f"  - file: {data.name}\n    task_id: org/news\n    text_column: text\n"
        + "    label_column: category\n"
    )
    code, out, err = run(
        ["train-batch", str(spec), "--output-dir", str(tmp_path / "esms"), "--no-progress"],
        capsys,
    )
    assert code == 1
    assert "Traceback" not in out + err
    lines = {line.split()[0]: line for line in out.splitlines()[1:3]}
    assert "saved" in lines["wordnet__noun-supersense"]
    assert "failed" in lines["org__news"] and "no column 'category'" in lines["org__news"]
    assert "1 saved, 1 failed" in out


def test_train_then_rank_through_a_hub(
    models: dict[str, Path], fake_hub: FakeHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Workers re-open a Hub store from its URL: publish three ESMs there, then rank them."""
    spec = train_spec(tmp_path / "tasks.yaml", models)
    args = ["train-batch", str(spec), "--registry", fake_hub.url, "--namespace", "lab"]
    code, out, err = run([*args, "--publish", "--no-progress"], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} published" in out
    repos = [line.split()[2] for line in out.splitlines()[1:4]]
    history = {repo: len(fake_hub.commits(repo)) for repo in repos}
    commits = fake_hub.count("POST", "/commit/")
    assert commits == len(TRAIN_TASKS)
    code, out, err = run([*args, "--publish", "--no-progress"], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} unchanged" in out
    assert fake_hub.count("POST", "/commit/") == commits
    assert {repo: len(fake_hub.commits(repo)) for repo in repos} == history

    setup = rank_setup(tmp_path / "targets")
    target = rank_spec(tmp_path / "targets.yaml", setup)
    out_dir = tmp_path / "rankings"
    code, out, err = run(
        ["rank-batch", str(target), "--output-dir", str(out_dir), "--registry", fake_hub.url],
        capsys,
    )
    assert code == 0, err
    ranked = json.loads((out_dir / "reviews.json").read_text())
    assert sorted(entry["repo_id"] for entry in ranked["entries"]) == sorted(repos)
    assert all(len(entry["sha"]) == 40 for entry in ranked["entries"])


def test_train_batch_refuses_two_tasks_for_one_repo(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = train_spec(tmp_path / "tasks.yaml", models, tasks=(TRAIN_TASKS[0],))
    spec.write_text(spec.read_text() + f"  - task: {TRAIN_TASKS[0]}\n    name: again\n")
    args = ["train-batch", str(spec), "--registry", str(tmp_path / "registry"), "--publish"]
    code, out, _ = run([*args, "--namespace", "lab", "--no-progress"], capsys)
    assert code == 1
    assert "publishes to lab/ESM_tiny-bert_wordnet__noun-supersense like task" in out
    assert "1 published, 1 failed" in out
