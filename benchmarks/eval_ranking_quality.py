"""Does the ESM-LogME ranking predict real transfer? Measured on the shipped task suite.

The paper's protocol, on every shipped target × intermediate pair (``registry.data``), for
the base model ``sentence-transformers/all-MiniLM-L6-v2`` (packaged, offline):

1. **Measured transfer.** MiniLM is fine-tuned on each intermediate task (a sequence
   classifier; the encoder is kept), then on 300 examples of each target's ``train`` split
   (the low-resource setting; ``--target-examples all`` takes every one) with a fresh head,
   and the target's ``test`` accuracy is measured. The baseline is MiniLM fine-tuned
   on the target only. Every measurement is repeated over the training seeds (42, 43, ...;
   the data samples stay fixed), and reported as the mean with a 95% bootstrap interval.
2. **Predicted transfer.** An ESM per intermediate task is trained by ``train-batch`` (the
   closed-form fit on the embeddings of exactly the model fine-tuned above, first seed) and
   published into a local registry, and ``rank-batch`` ranks them for every target.
3. **Agreement**, per target and averaged: regret@1/3/5 (``(best − best of the top k) /
   best × 100``) and Kendall's tau-b between scores and mean accuracies, for
   - ESM-LogME (the bundled ranker),
   - a random pick (the exact expectation over every ordering),
   - the size of the intermediate task (more examples first),
   - LogME of the fine-tuned models themselves (the embeddings ESMs approximate: the
     costly method ESM-LogME replaces),
   and the LogME of the plain base-model embeddings, the score of "no intermediate
   training" that an ESM's score is compared with (above it: predicted to help).

Every fine-tune runs as a task of the batch executor (``--executor ray``, the default when
Ray is installed, runs two at a time on two cores with one thread each; ``local`` runs them
one by one). Results go to ``--output-dir`` (default ``benchmarks/results``):
``ranking_quality.json`` (every number, the command and package versions),
``ranking_quality.png`` (predicted score against measured gain, per target; needs
matplotlib) and ``transfer.json``, the measured-transfer table that also ships as
``registry/data/transfer.json`` for the quickstart (``--ship`` copies it there).

    python benchmarks/eval_ranking_quality.py --quick     # smoke run, a few minutes
    python benchmarks/eval_ranking_quality.py             # 3 seeds, about 80 minutes on 2 cores
    python benchmarks/eval_ranking_quality.py --ship      # ... and update the shipped table

No network is used: the model comes from a pip package, the tasks from ``registry.data``
(the FOLDOC, GCIDE and V.E.R.A. tasks are built from their Debian packages when installed,
and left out otherwise, with a note).
"""

from __future__ import annotations

import os

# No network: the model comes from a pip package, the tasks from registry.data.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import contextlib
import functools
import json
import logging
import math
import platform
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
DATA_SEED = 42  # samples of the tasks, the ESMs' validation split, the ranked sample
FIRST_TRAINING_SEED = 42
NAMESPACE = "bench"
DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results"
SHIPPED_TABLE = Path(__file__).resolve().parent.parent / "registry" / "data" / "transfer.json"

logger = logging.getLogger("eval_ranking_quality")


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What one run trains and measures (recorded in the JSON output)."""

    intermediate_examples: int | None
    intermediate_max_steps: int | None
    target_examples: int | None
    target_epochs: int
    target_max_steps: int | None
    test_examples: int | None
    rank_examples: int
    batch_size: int
    learning_rate: float
    max_length: int
    seeds: tuple[int, ...]
    threads: int
    tasks: tuple[str, ...]
    targets: tuple[str, ...]


FULL: dict[str, Any] = {
    "intermediate_examples": None,  # every example (tasks are capped at 2,000)
    "intermediate_max_steps": None,  # one epoch
    # The low-resource setting, where intermediate training matters most (and 117 target
    # fine-tunes take about 40 minutes on two cores).
    "target_examples": 300,
    "target_epochs": 2,
    "target_max_steps": None,
    "test_examples": None,
    "rank_examples": 1000,
    "seeds": 3,
}
QUICK: dict[str, Any] = {
    "intermediate_examples": 160,
    "intermediate_max_steps": 8,
    "target_examples": 160,
    "target_epochs": 1,
    "target_max_steps": 8,
    "test_examples": 120,
    "rank_examples": 160,
    "seeds": 1,
    "tasks": (
        "wordnet/noun-supersense",
        "wordnet/lexical-category",
        "fortunes/collection",
        "jargon/part-of-speech",
    ),
    "targets": ("wordnet/noun-example-category", "fortunes/topic"),
}


def _optional_int(text: str) -> int | None:
    return None if text == "all" else int(text)


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    parser = argparse.ArgumentParser(
        description=(__doc__ or "").split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 4 tasks, 2 targets")
    parser.add_argument("--seeds", type=int, help="training seeds (default 3, quick 1)")
    parser.add_argument("--tasks", nargs="+", metavar="TASK", help="intermediate tasks")
    parser.add_argument("--targets", nargs="+", metavar="TASK", help="target tasks")
    parser.add_argument("--intermediate-examples", type=_optional_int, metavar="N|all")
    parser.add_argument("--intermediate-max-steps", type=_optional_int, metavar="N|all")
    parser.add_argument("--target-examples", type=_optional_int, metavar="N|all")
    parser.add_argument("--target-epochs", type=int)
    parser.add_argument("--target-max-steps", type=_optional_int, metavar="N|all")
    parser.add_argument("--test-examples", type=_optional_int, metavar="N|all")
    parser.add_argument("--rank-examples", type=int)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per task (1)")
    parser.add_argument(
        "--executor", choices=("local", "ray"), help="default: ray when installed, else local"
    )
    parser.add_argument("--output-dir", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--ship", action="store_true", help="also copy transfer.json into registry/data"
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        help="keep models and results here; a re-run with the same settings resumes from it",
    )
    args = parser.parse_args(argv)
    base = {**FULL, **(QUICK if args.quick else {})}

    def pick(name: str) -> Any:
        value = getattr(args, name)
        return base[name] if value is None else value

    from registry.data import list_tasks

    tasks = tuple(args.tasks or base.get("tasks") or list_tasks("intermediate", source=None))
    targets = tuple(args.targets or base.get("targets") or list_tasks("target", source=None))
    seeds = pick("seeds")
    if seeds < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be at least 1")
    settings = Settings(
        intermediate_examples=pick("intermediate_examples"),
        intermediate_max_steps=pick("intermediate_max_steps"),
        target_examples=pick("target_examples"),
        target_epochs=pick("target_epochs"),
        target_max_steps=pick("target_max_steps"),
        test_examples=pick("test_examples"),
        rank_examples=pick("rank_examples"),
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seeds=tuple(FIRST_TRAINING_SEED + i for i in range(seeds)),
        threads=args.threads,
        tasks=tasks,
        targets=targets,
    )
    return settings, args


# --- the tasks (run by the executor, in this process or on Ray workers) ---------------------


def _setup(threads: int) -> None:
    """Each task pins torch and BLAS to its share of the cores and stays offline."""
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def _lm_config(settings: Settings, *, target: bool) -> Any:
    from registry.train import LMTrainingConfig

    return LMTrainingConfig(
        num_epochs=settings.target_epochs if target else 1,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        max_steps=settings.target_max_steps if target else settings.intermediate_max_steps,
    )


def _task_data(name: str, split: str, examples: int | None) -> Any:
    from registry.train import load_intermediate

    return load_intermediate(name, split=split, num_examples=examples, seed=DATA_SEED)


# What each kind of fine-tune depends on; a re-run with the same values reuses its result.
INTERMEDIATE_SETTINGS = (
    "intermediate_examples",
    "intermediate_max_steps",
    "batch_size",
    "learning_rate",
    "max_length",
    "threads",
)
TARGET_SETTINGS = (
    *INTERMEDIATE_SETTINGS,
    "target_examples",
    "target_epochs",
    "target_max_steps",
    "test_examples",
)


def _resumable(
    depends_on: tuple[str, ...],
) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., dict[str, Any]]]:
    """Keep a fine-tune's result next to its folder, and return it on a re-run with the same
    settings instead of training again (a run of hours survives an interruption)."""

    def decorate(task: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
        @functools.wraps(task)
        def run(*args: Any) -> dict[str, Any]:
            settings, folder = args[-2], args[-1]
            marker = Path(f"{folder}.result.json")
            # The folder names the task, target and seed; the settings say how it trained.
            training = {name: getattr(settings, name) for name in depends_on}
            key = json.dumps([task.__name__, Path(folder).name, training], sort_keys=True)
            with contextlib.suppress(OSError, ValueError, KeyError, AttributeError):
                saved = json.loads(marker.read_text(encoding="utf-8"))
                kept = "folder" not in saved["result"] or Path(saved["result"]["folder"]).exists()
                if saved["key"] == key and kept:
                    return {**saved["result"], "resumed": True}
            result = task(*args)
            marker.write_text(json.dumps({"key": key, "result": result}), encoding="utf-8")
            return result

        return run

    return decorate


@_resumable(INTERMEDIATE_SETTINGS)
def intermediate_task(task: str, seed: int, settings: Settings, folder: str) -> dict[str, Any]:
    """Fine-tune MiniLM on ``task``; keep the encoder (the target gets a fresh head)."""
    _setup(settings.threads)
    from registry.embedding import resolve_model
    from registry.train import fine_tune

    data = _task_data(task, "train", settings.intermediate_examples)
    started = time.perf_counter()
    outcome = fine_tune(
        resolve_model(BASE_MODEL),
        data,
        folder,
        _lm_config(settings, target=False),
        seed=seed,
        max_length=settings.max_length,
        device="cpu",
        save_classifier=False,
        progress=False,
    )
    return {
        "folder": folder,
        "steps": outcome.steps,
        "examples": len(data),
        "seconds": time.perf_counter() - started,
    }


@_resumable(TARGET_SETTINGS)
def target_task(
    start: dict[str, Any] | None, target: str, seed: int, settings: Settings, folder: str
) -> dict[str, Any]:
    """Fine-tune ``start`` (an intermediate encoder; ``None``: MiniLM) on the target, then
    measure the test accuracy. The fine-tuned model is removed afterwards."""
    _setup(settings.threads)
    from registry.embedding import resolve_model
    from registry.train import fine_tune

    model = resolve_model(start["folder"] if start else BASE_MODEL, model_id=BASE_MODEL)
    train = _task_data(target, "train", settings.target_examples)
    test = _task_data(target, "test", settings.test_examples)
    started = time.perf_counter()
    outcome = fine_tune(
        model,
        train,
        folder,
        _lm_config(settings, target=True),
        seed=seed,
        max_length=settings.max_length,
        device="cpu",
        save_classifier=True,
        progress=False,
    )
    accuracy = _accuracy(folder, test, settings.max_length)
    shutil.rmtree(folder, ignore_errors=True)
    return {"accuracy": accuracy, "steps": outcome.steps, "seconds": time.perf_counter() - started}


def _accuracy(folder: str, data: Any, max_length: int) -> float:
    import numpy as np
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    predicted: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(data), 64):
            batch = tokenizer(
                list(data.texts[start : start + 64]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
                return_token_type_ids=False,
            )
            predicted.extend(model(**batch).logits.argmax(dim=-1).tolist())
    return float(np.mean(np.asarray(predicted) == np.asarray(data.label_ids())))


def logme_task(start: dict[str, Any] | None, target: str, settings: Settings) -> float:
    """LogME of the target's ranked sample embedded by ``start`` (``None``: MiniLM itself)."""
    _setup(settings.threads)
    from registry.data import load_task
    from registry.embedding import Embedder, resolve_model
    from registry.ranker import load_target, logme

    sample = load_target(
        load_task(target, "train"), num_examples=settings.rank_examples, seed=DATA_SEED
    )
    base = resolve_model(BASE_MODEL)
    model = start["folder"] if start else base.path
    embedder = Embedder(model, model_id=BASE_MODEL, pooling="mean", device="cpu", cache_dir=False)
    features = embedder.embed(sample.texts, max_length=settings.max_length)
    return float(logme(features, sample.labels).score)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Clock:
    start: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", flush=True)


def _available(names: Sequence[str], clock: Clock) -> list[str]:
    """The tasks whose data can be loaded here (on-demand tasks need their Debian package)."""
    from registry.data import load_task
    from registry.errors import DatasetError

    kept = []
    for name in names:
        try:
            load_task(name, "train")
        except DatasetError as exc:
            clock.say(f"left out {name}: {exc}")
            continue
        kept.append(name)
    return kept


def _executor(kind: str | None, settings: Settings) -> Any:
    from registry.batch import open_executor

    if kind is None:
        try:
            import ray  # noqa: F401
        except ImportError:
            kind = "local"
        else:
            kind = "ray"
    if kind == "local":
        return open_executor("local")
    from registry.batch import RayExecutor

    env = {
        name: os.environ[name]
        for name in os.environ
        if name.startswith(("HF_", "TRANSFORMERS_", "TOKENIZERS_", "ESM_REGISTRY"))
    }
    env.update(OMP_NUM_THREADS=str(settings.threads), MKL_NUM_THREADS=str(settings.threads))
    path = os.pathsep.join(p for p in sys.path if p)
    return RayExecutor(runtime_env={"env_vars": {**env, "PYTHONPATH": path}})


def _wait_all(executor: Any, handles: dict[Any, Any], clock: Clock, what: str) -> dict[Any, Any]:
    """Wait for every handle; key -> value. A failed task stops the run (it is a bug here)."""
    pending = {handle: key for key, handle in handles.items()}
    results: dict[Any, Any] = {}
    while pending:
        handle = executor.next_done(list(pending))
        key = pending.pop(handle)
        outcome = executor.outcome(handle)
        if not outcome.ok:
            raise SystemExit(f"{what} {key} failed: {outcome.error!r}")
        results[key] = outcome.value
        clock.say(f"{what} {len(results)}/{len(handles)}: {key}")
    return results


def run(settings: Settings, workdir: Path, executor: Any, clock: Clock) -> dict[str, Any]:
    """Train, rank and measure; every number the report and the JSON need."""
    from registry.batch import Resources, StoreSpec, TrainJob, rank_batch, train_batch
    from registry.batch.results import inputs_key, train_inputs
    from registry.batch.tasks import TargetJob
    from registry.data import task_info
    from registry.embedding import EmbeddingOptions
    from registry.filters import SearchFilters
    from registry.ranker import OptionGroups, ScoringOptions, TargetOptions

    one = Resources(num_cpus=settings.threads)
    models = workdir / "models"
    models.mkdir(parents=True, exist_ok=True)

    # 1. Intermediate fine-tunes, every task and seed; then every target fine-tune that
    #    starts from one (and the baselines), queued at once: the executor orders them.
    tick = time.perf_counter()
    inter = {
        (task, seed): executor.submit(
            intermediate_task,
            task,
            seed,
            settings,
            str(models / f"{task.replace('/', '__')}-{seed}"),
            resources=one,
        )[0]
        for seed in settings.seeds
        for task in settings.tasks
    }
    targets = {}
    for target in settings.targets:
        for seed in settings.seeds:
            folder = str(models / f"target-{target.replace('/', '__')}-base-{seed}")
            targets[(target, None, seed)] = executor.submit(
                target_task, None, target, seed, settings, folder, resources=one
            )[0]
            for task in settings.tasks:
                folder = str(
                    models / f"target-{target.replace('/', '__')}-{task.replace('/', '__')}-{seed}"
                )
                targets[(target, task, seed)] = executor.submit(
                    target_task,
                    inter[(task, seed)],
                    target,
                    seed,
                    settings,
                    folder,
                    resources=one,
                )[0]
    first = settings.seeds[0]
    logmes = {
        (target, task): executor.submit(
            logme_task, inter[(task, first)] if task else None, target, settings, resources=one
        )[0]
        for target in settings.targets
        for task in (None, *settings.tasks)
    }
    intermediate = _wait_all(executor, inter, clock, "intermediate fine-tune")
    measured = _wait_all(executor, targets, clock, "target fine-tune")
    logme_values = _wait_all(executor, logmes, clock, "LogME of a fine-tuned model")
    clock.stages["fine-tuning and LogME of the fine-tuned models"] = time.perf_counter() - tick

    # 2. ESMs through train-batch (first seed's models), then rank-batch for every target.
    tick = time.perf_counter()
    registry = workdir / "registry"
    cache = workdir / "embeddings"
    embedding = EmbeddingOptions(max_length=settings.max_length, device="cpu", cache=str(cache))
    jobs = []
    for task in settings.tasks:
        job = TrainJob(
            name=task.replace("/", "__"),
            source=task,
            base_model=BASE_MODEL,
            fine_tuned_model=intermediate[(task, first)]["folder"],
            num_examples=settings.intermediate_examples,
            seed=DATA_SEED,
            lm_training=_lm_config(settings, target=False).hyperparameters(),
            embedding=embedding,
            developers="benchmarks/eval_ranking_quality.py",
        )
        jobs.append(replace(job, key=inputs_key(train_inputs(job))))
    trained = train_batch(
        jobs,
        executor,
        registry=StoreSpec(str(registry)),
        namespace=NAMESPACE,
        resources=one,
        progress=False,
    )
    failed = [outcome for outcome in trained.outcomes if not outcome.ok]
    if failed:
        raise SystemExit(f"train-batch failed: {failed}")
    clock.stages["ESMs (train-batch)"] = time.perf_counter() - tick
    clock.say(f"trained and published {len(trained.outcomes)} ESMs")

    tick = time.perf_counter()
    rank_jobs = [
        TargetJob(
            name=target.replace("/", "__"),
            dataset=target,
            base_model=BASE_MODEL,
            groups=OptionGroups(
                target=TargetOptions(num_examples=settings.rank_examples, seed=DATA_SEED),
                embedding=embedding,
                scoring=ScoringOptions(),
                filters=SearchFilters(),
            ),
            store=StoreSpec(str(registry)),
        )
        for target in settings.targets
    ]
    report = rank_batch(rank_jobs, workdir / "rankings", executor, progress=False)
    scores: dict[str, dict[str, float]] = {}
    for target, result in zip(settings.targets, report.results, strict=True):
        if not result.ok or result.path is None:
            raise SystemExit(f"rank-batch failed for {target}: {result.error}")
        ranking = json.loads(result.path.read_text(encoding="utf-8"))
        scores[target] = {entry["task_id"]: entry["score"] for entry in ranking["entries"]}
    clock.stages["ranking (rank-batch)"] = time.perf_counter() - tick

    sizes = {task: task_info(task).splits["train"] for task in settings.tasks}
    return {
        "intermediate": intermediate,
        "measured": measured,
        "logme": logme_values,
        "esm_scores": scores,
        "sizes": sizes,
        "esms": {o.name: o.repo_id for o in trained.outcomes},
    }


# --- metrics and the report -----------------------------------------------------------------


def _interval(values: list[float]) -> dict[str, Any]:
    from registry.evaluation import bootstrap_interval

    mean, low, high = bootstrap_interval(values)
    return {"mean": mean, "low": low, "high": high, "seeds": values}


def analyse(settings: Settings, raw: dict[str, Any]) -> dict[str, Any]:
    """Per target: measured accuracies with intervals, the rankings and their metrics."""
    from registry.evaluation import (
        kendall_tau,
        mean_or_nan,
        random_regret_at_k,
        ranking_by,
        regret_at_k,
    )

    ks = (1, 3, 5)
    per_target: dict[str, Any] = {}
    for target in settings.targets:
        seeds = settings.seeds
        baseline = [raw["measured"][(target, None, s)]["accuracy"] for s in seeds]
        accuracies = {
            task: [raw["measured"][(target, task, s)]["accuracy"] for s in seeds]
            for task in settings.tasks
        }
        mean = {task: float(sum(v) / len(v)) for task, v in accuracies.items()}
        rankers = {
            "ESM-LogME": ranking_by(raw["esm_scores"][target]),
            "task size": ranking_by({t: float(n) for t, n in raw["sizes"].items()}),
            "LogME of the fine-tuned models": ranking_by(
                {task: raw["logme"][(target, task)] for task in settings.tasks}
            ),
        }
        metrics: dict[str, dict[str, float]] = {}
        for name, order in rankers.items():
            predicted = {task: float(len(order) - order.index(task)) for task in settings.tasks}
            metrics[name] = {
                **{f"regret@{k}": regret_at_k(order, mean, k) for k in ks},
                "tau": kendall_tau(
                    [predicted[t] for t in settings.tasks], [mean[t] for t in settings.tasks]
                ),
            }
        metrics["random"] = {f"regret@{k}": random_regret_at_k(mean, k) for k in ks}
        metrics["random"]["tau"] = 0.0
        baseline_mean = float(sum(baseline) / len(baseline))
        per_target[target] = {
            "baseline": _interval(baseline),
            "intermediate": {
                task: _interval(v)
                | {
                    "gain": mean[task] - baseline_mean,
                    "esm_score": raw["esm_scores"][target].get(task),
                    "finetuned_logme": raw["logme"][(target, task)],
                }
                for task, v in accuracies.items()
            },
            "base_logme": raw["logme"][(target, None)],
            "rankings": {name: order for name, order in rankers.items()},
            "metrics": metrics,
            "helps": sum(mean[t] > baseline_mean for t in settings.tasks),
        }
    averaged = {
        name: {
            key: mean_or_nan([per_target[t]["metrics"][name][key] for t in settings.targets])
            for key in per_target[settings.targets[0]]["metrics"][name]
        }
        for name in per_target[settings.targets[0]]["metrics"]
    }
    return {"targets": per_target, "averaged": averaged}


def report(settings: Settings, results: dict[str, Any], clock: Clock) -> None:
    for target, data in results["targets"].items():
        base = data["baseline"]
        print(
            f"\n== target {target}: baseline accuracy {base['mean']:.4f} "
            f"[{base['low']:.4f}, {base['high']:.4f}], base-model LogME "
            f"{data['base_logme']:.4f}"
        )
        print(
            f"{'rank':>4}  {'intermediate task':<28} {'ESM-LogME':>10} {'accuracy':>9} "
            f"{'95% interval':>18} {'gain':>7}"
        )
        order = data["rankings"]["ESM-LogME"]
        for position, task in enumerate(order, 1):
            row = data["intermediate"][task]
            print(
                f"{position:>4}  {task:<28} {row['esm_score']:>10.4f} {row['mean']:>9.4f} "
                f"  [{row['low']:.4f}, {row['high']:.4f}] {row['gain']:>+7.4f}"
            )
        for name, values in data["metrics"].items():
            shown = "  ".join(f"{k} {v:6.2f}" for k, v in values.items())
            print(f"  {name:<32} {shown}")
    print("\n== averaged over targets")
    for name, values in results["averaged"].items():
        print(f"  {name:<32} " + "  ".join(f"{k} {v:6.2f}" for k, v in values.items()))
    print("\nstages: " + ", ".join(f"{k} {v:.0f} s" for k, v in clock.stages.items()))


def plot(results: dict[str, Any], path: Path) -> bool:
    """Predicted score against measured gain, one panel per target (False: no matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    targets = list(results["targets"])
    figure, axes = plt.subplots(1, len(targets), figsize=(5.2 * len(targets), 4.4), squeeze=False)
    for axis, target in zip(axes[0], targets, strict=True):
        data = results["targets"][target]
        rows = data["intermediate"]
        for task, row in rows.items():
            err = [[row["mean"] - row["low"]], [row["high"] - row["mean"]]]
            axis.errorbar(
                row["esm_score"],
                row["gain"] * 100,
                yerr=[[e[0] * 100] for e in err],
                fmt="o",
                capsize=3,
            )
            axis.annotate(
                task,
                (row["esm_score"], row["gain"] * 100),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.axvline(data["base_logme"], color="grey", linestyle=":", linewidth=0.8)
        metrics = data["metrics"]["ESM-LogME"]
        axis.set_title(
            f"{target}\nregret@1 {metrics['regret@1']:.1f}, tau {metrics['tau']:.2f}", fontsize=9
        )
        axis.set_xlabel("ESM-LogME score (dotted: base-model LogME)")
        axis.set_ylabel("measured gain over target-only (accuracy points)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def _versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("esm-registry", "torch", "transformers", "numpy", "ray"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            found[name] = metadata.version(name)
    return found


def transfer_table(settings: Settings, results: dict[str, Any], command: str) -> dict[str, Any]:
    """The measured-transfer table (the format of :mod:`registry.evaluation.transfer`)."""
    from registry.evaluation.transfer import TRANSFER_FORMAT

    return {
        "format": TRANSFER_FORMAT,
        "base_model": BASE_MODEL,
        "command": command,
        "seeds": list(settings.seeds),
        "target_examples": settings.target_examples,
        "targets": {
            target: {
                "baseline": {k: data["baseline"][k] for k in ("mean", "low", "high", "seeds")},
                "intermediate": {
                    task: {k: row[k] for k in ("mean", "low", "high", "seeds")}
                    for task, row in data["intermediate"].items()
                },
            }
            for target, data in results["targets"].items()
        },
    }


def _command(argv: Sequence[str]) -> str:
    """The command that reproduces the run; where it kept its files does not change it."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workdir":
            skip = True
        elif not arg.startswith("--workdir="):
            kept.append(arg)
    return shlex.join(["python", "benchmarks/eval_ranking_quality.py", *kept])


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING)
    settings, args = parse_args(argv)
    clock = Clock()
    command = _command(sys.argv[1:] if argv is None else argv)
    tasks = _available(settings.tasks, clock)
    targets = _available(settings.targets, clock)
    settings = replace(settings, tasks=tuple(tasks), targets=tuple(targets))
    clock.say(
        f"{len(settings.tasks)} intermediate tasks x {len(settings.targets)} targets "
        f"x {len(settings.seeds)} seed(s)"
    )
    args.output_dir.mkdir(parents=True, exist_ok=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="eval-ranking-quality-"))
    try:
        with _executor(args.executor, settings) as executor:
            clock.say(f"executor: {executor.name}, {executor.parallelism} task(s) at a time")
            raw = run(settings, workdir, executor, clock)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    resumed = sum(
        bool(result.get("resumed"))
        for result in (*raw["intermediate"].values(), *raw["measured"].values())
    )
    if resumed:
        clock.say(f"{resumed} fine-tune(s) resumed from an earlier run in the workdir")
    results = analyse(settings, raw)
    report(settings, results, clock)
    seconds = time.perf_counter() - clock.start
    output = {
        "command": command,
        "versions": _versions(),
        "settings": asdict(settings),
        "seconds": round(seconds, 1),
        "fine_tunes_resumed": resumed,
        "stages": {k: round(v, 1) for k, v in clock.stages.items()},
        **results,
    }
    path = args.output_dir / "ranking_quality.json"
    path.write_text(json.dumps(output, indent=1, default=float) + "\n", encoding="utf-8")
    table = transfer_table(settings, results, command)
    (args.output_dir / "transfer.json").write_text(json.dumps(table, indent=1) + "\n")
    if args.ship:
        SHIPPED_TABLE.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    drawn = plot(results, args.output_dir / "ranking_quality.png")
    clock.say(f"wrote {path}" + ("" if drawn else " (no plot: pip install matplotlib)"))
    return 0 if all(math.isfinite(v) for v in results["averaged"]["ESM-LogME"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
