"""The pieces of the batch package that need no model: specs, keys, shards, the local executor."""

from __future__ import annotations

import argparse
from dataclasses import fields, replace
from pathlib import Path

import pytest

from registry.batch.executors import LocalExecutor, open_executor
from registry.batch.results import ResultFolder, fingerprint, inputs_key, rank_inputs
from registry.batch.spec import (
    RankOptions,
    SpecError,
    TrainTaskSpec,
    load_rank_spec,
    load_train_spec,
)
from registry.batch.tasks import Failure, StoreSpec, plan_shards
from registry.cli import build_parser
from registry.embedding import EmbeddingOptions
from registry.errors import DatasetError, UsageError
from registry.filters import SearchFilters
from registry.ranker.fetch import EsmRef
from registry.ranker.options import ScoringOptions, TargetOptions


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


RANK_SPEC = """\
base_model: org/base
registry: ./registry
num_examples: 100
shard_size: 32
architecture: linear
targets:
  - name: local-file
    dataset: data/reviews.csv
    text_column: [title, body]
    label_column: stars
  - name: hub
    dataset: stanfordnlp/imdb
    split: test
    num_examples: null
    registry: hub
    base_model: other/base
"""


def test_rank_spec_shares_options_and_resolves_paths_from_its_folder(tmp_path: Path) -> None:
    spec = load_rank_spec(_write(tmp_path / "targets.yaml", RANK_SPEC))
    local, hub = spec.to_jobs(token="secret")
    assert local.dataset == str(tmp_path / "data" / "reviews.csv")
    assert local.store.registry == str(tmp_path / "registry")
    assert local.groups.target.text_column == ["title", "body"]
    assert local.groups.target.num_examples == 100
    assert local.groups.filters == SearchFilters(architecture="linear")
    assert hub.dataset == "stanfordnlp/imdb" and hub.base_model == "other/base"
    assert hub.groups.target.num_examples is None  # null: every example
    assert hub.store.registry == "hub" and hub.groups.target.split == "test"
    assert "secret" not in repr(hub) and hub.store.token == "secret"
    assert local.shard_size == 32
    # The command line replaces the top-level registry; a target's own still wins.
    local, hub = spec.to_jobs(registry="cli-registry", shard_size=16)
    assert local.store.registry == str(Path.cwd() / "cli-registry")
    assert hub.store.registry == "hub" and local.shard_size == hub.shard_size == 16


def test_every_ranking_option_can_be_set_in_a_spec() -> None:
    groups = (TargetOptions, EmbeddingOptions, ScoringOptions, SearchFilters)
    options = {f.name for group in groups for f in fields(group)}
    extra = {"registry", "catalog", "esms", "shard_size"}
    assert set(RankOptions.model_fields) == options | extra


def test_every_train_option_can_be_set_in_a_spec() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = commands.choices["train"]
    dests = {a.dest for a in train._actions} - {"help", "output", "no_progress", "func"}
    keys = set(TrainTaskSpec.model_fields) - {"name", "repo_id"}
    assert keys == dests


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "targets:\n  - name: a\n    dataset: x.csv\n    num_exmples: 3\n",
            "line 4: targets[0].num_exmples: unknown key; did you mean 'num_examples'?",
        ),
        (
            "targets:\n  - name: a\n    dataset: x.csv\n    num_examples: many\n",
            "line 4: targets[0].num_examples: Input should be a valid integer",
        ),
        ("targets:\n  - name: a/b\n    dataset: x\n", "line 2: targets[0].name: String should"),
        ("targets:\n  - name: a\n", "line 2: targets[0]: Field required"),
        ("targets: []\n", "line 1: targets: List should have at least 1 item"),
        ("base_model: [unclosed\n", "not valid YAML"),
        ("", "a spec is a mapping of keys, not empty"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        (
            "targets:\n  - {name: a, dataset: x}\n  - {name: A, dataset: y}\n",
            "two targets are named 'a' and 'A'",
        ),
    ],
)
def test_rank_spec_errors_say_where(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path / "spec.yaml", text)
    with pytest.raises(SpecError) as caught:
        load_rank_spec(path)
    assert message in str(caught.value)
    assert isinstance(caught.value, UsageError)


def test_rank_option_values_are_checked_with_the_target_named(tmp_path: Path) -> None:
    path = _write(tmp_path / "spec.yaml", "targets:\n  - {name: a, dataset: x, pooling: bad}\n")
    with pytest.raises(SpecError, match=r"line 2: target 'a': no base_model"):
        load_rank_spec(path).to_jobs()
    path = _write(
        tmp_path / "spec.yaml", "base_model: m\ntargets:\n  - {name: a, dataset: x, pooling: bad}\n"
    )
    with pytest.raises(SpecError, match=r"line 3: target 'a': unknown pooling 'bad'"):
        load_rank_spec(path).to_jobs()


TRAIN_SPEC = """\
base_model: org/base
fine_tune: true
lm_max_steps: 20
lm_learning_rate: 5e-5
developers: Lab
tasks:
  - task: wordnet/noun-supersense
  - file: data/news.csv
    task_id: org/news
    subset: politics
    text_column: title,body
    language: [en, de]
    name: news
"""


def test_train_spec_builds_the_options_train_takes(tmp_path: Path) -> None:
    noun, news = load_train_spec(_write(tmp_path / "tasks.yaml", TRAIN_SPEC)).to_jobs()
    assert noun.name == "wordnet__noun-supersense" and noun.source == "wordnet/noun-supersense"
    assert noun.lm_config is not None and noun.lm_config.max_steps == 20
    assert noun.lm_config.learning_rate == 5e-5  # YAML 1.1 reads 5e-5 as text
    assert noun.embedding.batch_size == 64 and noun.esm_config.method == "lstsq"
    assert news.source == str(tmp_path / "data" / "news.csv")
    assert news.text_column == ("title", "body") and news.language == ("en", "de")
    assert noun.key != news.key and len(noun.key) == 64
    assert news.predicted_repo_id("lab") == "lab/ESM_base_org__news_politics"
    # Options that only change speed do not change the key.
    faster = replace(noun, embedding=replace(noun.embedding, batch_size=8, device="cpu"))
    from registry.batch.results import train_inputs

    assert inputs_key(train_inputs(faster)) == noun.key


@pytest.mark.parametrize(
    ("task", "message"),
    [
        ("{task: t}", "exactly one of fine_tuned_model and fine_tune"),
        ("{task: t, fine_tune: true, fine_tuned_model: m}", "exactly one of fine_tuned_model"),
        ("{fine_tune: true}", "exactly one of task"),
        ("{fine_tune: true, file: x.csv}", "set task_id"),
        ("{fine_tune: true, task: t, lm_optimizer: sgd}", "lm_optimizer records"),
        ("{fine_tune: true, task: t, epochs: 3}", "configure method adamw"),
        ("{fine_tune: true, task: t, method: adamw, ridge: 1}", "ridge applies"),
        ("{fine_tune: true, task: t, pooling: bad}", "unknown pooling"),
        ("{fine_tune: true, task: t, lm_learning_rate: -1}", "greater than 0"),
    ],
)
def test_train_spec_refuses_what_train_refuses(tmp_path: Path, task: str, message: str) -> None:
    path = _write(tmp_path / "tasks.yaml", f"base_model: m\ntasks:\n  - {task}\n")
    with pytest.raises(SpecError) as caught:
        load_train_spec(path).to_jobs()
    assert message in str(caught.value)
    assert "tasks.yaml, line" in str(caught.value)


def test_fingerprints_follow_content_not_names(tmp_path: Path) -> None:
    data = _write(tmp_path / "a.csv", "text,label\nx,1\n")
    first = fingerprint(data)
    assert fingerprint(str(data)) == first and "file" in first
    _write(data, "text,label\nx,2\n")
    assert fingerprint(data) != first
    assert fingerprint("org/dataset") == {"id": "org/dataset"}
    assert "folder" in fingerprint(tmp_path)


def test_rank_key_ignores_speed_and_follows_candidates(tmp_path: Path) -> None:
    spec = load_rank_spec(_write(tmp_path / "targets.yaml", RANK_SPEC))
    job = spec.to_jobs()[1]
    refs = [EsmRef(repo_id="a/x", sha="1" * 40), EsmRef(repo_id="a/y", sha="2" * 40)]
    key = inputs_key(rank_inputs(job, refs))
    groups = job.groups
    faster = replace(
        job,
        shard_size=8,
        store=StoreSpec(job.store.registry or "", token="t"),
        groups=replace(
            groups,
            scoring=ScoringOptions(jobs=2, chunk_size=4),
            embedding=replace(groups.embedding, batch_size=4, device="cpu", cache=False),
        ),
    )
    assert inputs_key(rank_inputs(faster, refs)) == key
    moved = [refs[0], EsmRef(repo_id="a/y", sha="3" * 40)]
    assert inputs_key(rank_inputs(job, moved)) != key
    other = replace(job, groups=replace(groups, target=replace(groups.target, seed=1)))
    assert inputs_key(rank_inputs(other, refs)) != key


def test_result_folder_counts_a_result_only_with_its_key(tmp_path: Path) -> None:
    folder = ResultFolder(tmp_path)
    assert folder.recorded_key("a") is None
    folder.write("a", '{"entries": []}\n', "k1")
    assert folder.recorded_key("a") == "k1" and folder.read("a") == {"entries": []}
    folder.forget("a")
    assert folder.recorded_key("a") is None and folder.result_path("a").exists()
    folder.write("a", "{}\n", "k2")
    folder.result_path("a").unlink()
    assert folder.recorded_key("a") is None


def test_shards_are_whole_chunks() -> None:
    refs = [EsmRef(repo_id=f"a/e{i}") for i in range(10)]
    assert [len(s) for s in plan_shards(refs, 3, 2)] == [4, 4, 2]
    assert [len(s) for s in plan_shards(refs, 64, 8)] == [10]
    assert [ref for shard in plan_shards(refs, 1, 1) for ref in shard] == refs


def test_local_executor_runs_lazily_in_order_and_keeps_failures() -> None:
    ran: list[str] = []

    def step(name: str, value: int = 0) -> int:
        ran.append(name)
        if name == "bad":
            raise DatasetError("no such column")
        return value + 1

    def pair() -> tuple[int, str]:
        ran.append("pair")
        return 1, "two"

    with LocalExecutor() as executor:
        (first,) = executor.submit(step, "first")
        number, text = executor.submit(pair, returns=2)
        (second,) = executor.submit(step, "second", first)
        (bad,) = executor.submit(step, "bad")
        assert ran == []  # nothing runs before it is waited for
        pending = [first, number, text, second, bad]
        outcomes = []
        while pending:
            handle = executor.next_done(pending)
            pending.remove(handle)
            outcomes.append(executor.outcome(handle))
    assert ran == ["first", "pair", "second", "bad"]
    assert [o.value for o in outcomes[:4]] == [1, 1, "two", 2]
    assert isinstance(outcomes[4].error, DatasetError) and not outcomes[4].ok


def test_failures_are_one_line() -> None:
    assert Failure.of(DatasetError("bad\n  column")).reason == "bad column"
    assert Failure.of(KeyError("x")).reason == "KeyError: 'x'"
    assert len(Failure.of(DatasetError("x" * 1000)).reason) == 400


def test_open_executor_refuses_what_it_cannot_do() -> None:
    with pytest.raises(UsageError, match="unknown executor"):
        open_executor("dask")
    with pytest.raises(UsageError, match="--ray-address needs"):
        open_executor("local", address="auto")
    assert open_executor("local").name == "local"


def test_the_ray_executor_says_how_to_install_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(UsageError, match=r"pip install 'esm-registry\[ray\]'"):
        open_executor("ray")


def test_the_drivers_stay_functions_after_their_modules_are_imported() -> None:
    import registry.batch
    import registry.batch.ranking
    import registry.batch.training

    assert callable(registry.batch.rank_batch) and callable(registry.batch.train_batch)
    assert registry.batch.rank_batch.__module__ == "registry.batch.ranking"
