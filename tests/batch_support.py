"""Helpers for the batch tests: a registry, targets and specs built on the spot.

Everything is tiny (a 2-layer BERT with 32 dimensions, D=32 ESMs, 40-60 examples) and local:
the registry is a folder, the models are folders, nothing is downloaded.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from esm_factory import make_esm
from rank_support import BASE_MODEL, build_model, build_tuned_pair, reviews

from registry.batch.tasks import StoreSpec, TrainJob, TrainOutcome, train_task
from registry.publish import build_files, publish_many
from registry.stores.local import LocalStore

__all__ = [
    "BAD_TARGET",
    "ESM_COUNT",
    "TARGETS",
    "commit_counts",
    "flaky_train_task",
    "rank_setup",
    "rank_spec",
    "train_setup",
    "train_spec",
]

ESM_COUNT = 6
#: The good targets of :func:`rank_spec`: name -> (text column, label column).
TARGETS = {"reviews": ("sentence", "label"), "moods": ("review", "mood")}
BAD_TARGET = "broken"


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def rank_setup(root: Path) -> dict[str, Path]:
    """A tiny BERT, a local registry of ESMs for it (one of them broken) and two targets."""
    model = build_model(root / "tiny-bert", "bert")
    store = LocalStore(root / "registry")
    esms = [make_esm(i, dim=32, base_model=BASE_MODEL) for i in range(ESM_COUNT)]
    assert publish_many(esms, store, namespace="alice", progress=False).ok
    broken = build_files(make_esm(90, dim=32, base_model=BASE_MODEL))
    broken["model.safetensors"] = b"not safetensors"
    store.commit("alice/broken-esm", broken, "Add a broken ESM")
    texts, labels = reviews(50, seed=1)
    first = _write_jsonl(
        root / "reviews.jsonl",
        [{"sentence": t, "label": s} for t, s in zip(texts, labels, strict=True)],
    )
    texts, labels = reviews(60, seed=2)
    moods = ["happy" if s == "pos" else "sad" for s in labels]
    second = _write_jsonl(
        root / "moods.jsonl",
        [{"review": t, "mood": m} for t, m in zip(texts, moods, strict=True)],
    )
    return {"model": model, "registry": store.root, "reviews": first, "moods": second}


def rank_spec(path: Path, setup: dict[str, Path], *, bad: bool = False, **shared: Any) -> Path:
    """A spec with the two good targets (relative paths) and optionally a bad one."""
    lines = [
        f"base_model: {BASE_MODEL}",
        f"model_path: {setup['model']}",
        f"registry: {setup['registry']}",
        "num_examples: 40",
        "shard_size: 2",
        "chunk_size: 2",
        *(f"{key}: {json.dumps(value)}" for key, value in shared.items()),
        "targets:",
    ]
    for name, (text, label) in TARGETS.items():
        lines += [
            f"  - name: {name}",
            f"    dataset: {setup[name]}",
            f"    text_column: {text}",
            f"    label_column: {label}",
        ]
    if bad:
        lines += [
            f"  - name: {BAD_TARGET}",
            f"    dataset: {setup['reviews']}",
            "    text_column: no_such_column",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def train_setup(root: Path) -> dict[str, Path]:
    """A tiny base BERT and a 'fine-tuned' copy with perturbed upper layers."""
    base, tuned = build_tuned_pair(root)
    return {"base": base, "tuned": tuned}


#: Three shipped intermediate tasks: small, offline.
TRAIN_TASKS = ("wordnet/noun-supersense", "wordnet/verb-supersense", "wordnet/adjective-cluster")


def train_spec(path: Path, setup: dict[str, Path], *, tasks: tuple[str, ...] = TRAIN_TASKS) -> Path:
    lines = [
        f"base_model: {setup['base']}",
        f"base_model_id: {BASE_MODEL}",
        f"fine_tuned_model: {setup['tuned']}",
        "num_examples: 40",
        "max_length: 32",
        "cache: false",
        "developers: Test Suite",
        "tasks:",
        *(f"  - task: {task}" for task in tasks),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def commit_counts(registry: Path) -> dict[str, int]:
    """Commits per repo of a local registry."""
    store = LocalStore(registry)
    return {info.repo_id: len(store.history(info.repo_id)) for info in store.list_esms()}


def flaky_train_task(
    job: TrainJob,
    store: StoreSpec | None,
    namespace: str | None,
    output_dir: str | None,
    *,
    marker_dir: str,
) -> TrainOutcome:
    """:func:`train_task`, but the worker dies right after the first attempt has published:
    the commit landed and the answer is lost, the worst moment for a retry."""
    outcome = train_task(job, store, namespace, output_dir)
    marker = Path(marker_dir) / job.name
    if not marker.exists():
        marker.write_text(f"{outcome.status} {outcome.commit_id}\n", encoding="utf-8")
        os._exit(1)
    return outcome
