"""Batch ranking and training on a local Ray instance (2 CPUs, started once for the module).

The claims: Ray gives the same rankings as the local executor and as ``rank`` target by
target; a bad target fails alone; training publishes each ESM once, a re-run publishes
nothing, and a worker killed after its commit landed is retried without a second commit.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("pandas")

from batch_support import (
    BAD_TARGET,
    TARGETS,
    TRAIN_TASKS,
    commit_counts,
    flaky_train_task,
    rank_setup,
    rank_spec,
    train_setup,
    train_spec,
)
from rank_support import require

from registry.batch import RayExecutor, StoreSpec, load_train_spec, train_batch

from cli_runner import run

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A local Ray instance whose workers import this checkout and these test helpers."""
    ray = require("ray")
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        # Workers start with the environment of ray.init: set what they need first.
        patch.setenv("ESM_REGISTRY_HOME", str(home))
        patch.delenv("ESM_REGISTRY_CATALOG", raising=False)
        paths = [str(TESTS), str(TESTS.parent), os.environ.get("PYTHONPATH", "")]
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            object_store_memory=256 * 1024 * 1024,
            logging_level=logging.WARNING,
            runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}},
        )
        try:
            yield home
        finally:
            ray.shutdown()


@pytest.fixture(scope="module")
def setup(cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return rank_setup(tmp_path_factory.mktemp("rank-batch"))


def test_rank_batch_on_ray_equals_local_and_rank(
    setup: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_batch import rank_json

    spec = rank_spec(tmp_path / "targets.yaml", setup, bad=True)
    on_ray, local = tmp_path / "ray", tmp_path / "local"
    code, out, err = run(
        ["rank-batch", str(spec), "--output-dir", str(on_ray), "--executor", "ray"], capsys
    )
    assert code == 1, err  # the bad target fails alone
    assert "Traceback" not in out + err
    assert "2 of 3 targets ranked, 1 failed" in out
    assert "no column 'no_such_column'" in (on_ray / "summary.md").read_text()
    assert run(["rank-batch", str(spec), "--output-dir", str(local)], capsys)[0] == 1
    for name in TARGETS:
        from_ray = (on_ray / f"{name}.json").read_text()
        assert from_ray == (local / f"{name}.json").read_text()
        assert json.loads(from_ray) == rank_json(setup, name, capsys)
    assert not (on_ray / f"{BAD_TARGET}.json").exists()


@pytest.fixture(scope="module")
def models(cluster: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return train_setup(tmp_path_factory.mktemp("train-batch"))


def test_train_batch_on_ray_publishes_three_esms_and_a_rerun_nothing(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = train_spec(tmp_path / "tasks.yaml", models)
    registry = tmp_path / "registry"
    args = ["train-batch", str(spec), "--executor", "ray", "--registry", str(registry)]
    code, out, err = run([*args, "--publish", "--namespace", "lab"], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} published" in out
    counts = commit_counts(registry)
    assert len(counts) == len(TRAIN_TASKS) and set(counts.values()) == {1}

    code, out, err = run([*args, "--publish", "--namespace", "lab"], capsys)
    assert code == 0, err
    assert f"{len(TRAIN_TASKS)} unchanged" in out
    assert commit_counts(registry) == counts


def test_a_worker_killed_after_its_commit_is_retried_without_a_second_commit(
    models: dict[str, Path], tmp_path: Path
) -> None:
    jobs = load_train_spec(train_spec(tmp_path / "tasks.yaml", models)).to_jobs()
    registry, markers = tmp_path / "registry", tmp_path / "markers"
    markers.mkdir()
    with RayExecutor() as executor:
        report = train_batch(
            jobs,
            executor,
            registry=StoreSpec(str(registry)),
            namespace="lab",
            progress=False,
            task=partial(flaky_train_task, marker_dir=str(markers)),
        )
    assert report.ok, report.failed
    for outcome in report.outcomes:
        # The first attempt published and died; the retry found that commit and made none.
        first = (markers / outcome.name).read_text().split()
        assert first[0] == "published"
        assert outcome.status == "unchanged" and outcome.commit_id == first[1]
    counts = commit_counts(registry)
    assert len(counts) == len(jobs) and set(counts.values()) == {1}
