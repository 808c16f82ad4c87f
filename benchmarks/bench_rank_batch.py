"""Batch ranking: ``rank-batch`` with the local executor against Ray, on this machine.

Publishes ESMS random linear ESMs (D×D float32, near the identity) for one base model to a
local registry folder, writes TARGETS target files of EXAMPLES labelled texts, and ranks
the registry for every target twice: with the local executor (one process; numpy uses
every core) and with a local Ray instance (one single-threaded worker per core, shards of
SHARD_SIZE ESMs). Both runs embed every target (the embedding cache is off) and must give
byte-identical result files. The base model is a randomly initialised one-layer BERT with
768 dimensions built on the spot: embedding costs less than with a real 12-layer model,
scoring (the part that grows with the registry) costs the same.

Then it measures what the projection in the README is built from: the core-seconds per
ESM evaluation, Ray's overhead per task, the size of a prepared target in the object
store, and (for training) the closed-form fit and the publication of one D=768 ESM.

    python benchmarks/bench_rank_batch.py                     # 4 targets × 400 ESMs, D=768
    python benchmarks/bench_rank_batch.py --esms 40 --targets 2   # a quick run
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import numpy as np  # noqa: E402
from rank_support import WORDS, reviews  # noqa: E402

from registry.batch import LocalExecutor, RayExecutor, load_rank_spec, rank_batch  # noqa: E402
from registry.batch.tasks import TargetJob, prepare_target_task  # noqa: E402
from registry.esm import Esm  # noqa: E402
from registry.metadata import EsmMetadata  # noqa: E402
from registry.publish import publish_esm  # noqa: E402
from registry.stores.local import LocalStore  # noqa: E402

BASE = "bench-org/bert-768"


def build_model(folder: Path, dim: int) -> Path:
    """A one-layer BERT with ``dim`` dimensions and a WordPiece vocabulary of test words."""
    import torch
    import transformers

    folder.mkdir(parents=True, exist_ok=True)
    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *letters]
    tokens += [f"##{c}" for c in letters]
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(tokens),
        hidden_size=dim,
        num_hidden_layers=1,
        num_attention_heads=12,
        intermediate_size=4 * dim,
        max_position_embeddings=160,
    )
    transformers.BertModel(config).save_pretrained(folder)
    transformers.BertTokenizer(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def metadata(index: int) -> EsmMetadata:
    return EsmMetadata.model_validate(
        {
            "base_model": BASE,
            "task": {"task_id": f"bench/task{index:04d}", "num_examples": 1000},
            "language": ["en"],
        }
    )


def publish(store: LocalStore, count: int, dim: int) -> float:
    """Publish ``count`` ESMs; returns seconds per ESM."""
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for index in range(count):
        weight = np.eye(dim, dtype=np.float32) + 0.05 * rng.standard_normal(
            (dim, dim), dtype=np.float32
        )
        bias = 0.1 * rng.standard_normal(dim, dtype=np.float32)
        publish_esm(Esm(metadata(index), weight, bias), store, namespace="bench")
    return (time.perf_counter() - started) / count


def write_spec(
    root: Path, model: Path, registry: Path, *, targets: int, examples: int, shard: int
) -> Path:
    lines = [
        f"base_model: {BASE}",
        f"model_path: {model}",
        f"registry: {registry}",
        f"num_examples: {examples}",
        f"shard_size: {shard}",
        "cache: false",
        "targets:",
    ]
    for index in range(targets):
        texts, labels = reviews(examples, seed=index)
        path = root / f"target{index}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"text": t, "label": y}) + "\n"
                for t, y in zip(texts, labels, strict=True)
            ),
            encoding="utf-8",
        )
        lines += [f"  - name: target{index}", f"    dataset: {path}"]
    spec = root / "targets.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return spec


def timed_run(jobs: list[TargetJob], out: Path, executor: Any) -> float:
    started = time.perf_counter()
    report = rank_batch(jobs, out, executor, progress=False)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise SystemExit(f"targets failed: {[(r.name, r.error) for r in report.failed]}")
    return seconds


def task_overhead(executor: RayExecutor, count: int = 400) -> float:
    """Seconds of driver + scheduler time per (empty) Ray task, submitted all at once."""
    started = time.perf_counter()
    pending = [executor.submit(int, i)[0] for i in range(count)]
    while pending:
        done = executor.next_done(pending)
        pending.remove(done)
        executor.outcome(done)
    return (time.perf_counter() - started) / count


def fit_seconds(dim: int, examples: int) -> float:
    from registry.train import fit_lstsq

    rng = np.random.default_rng(0)
    x = rng.standard_normal((examples, dim))
    y = x @ (np.eye(dim) + 0.05 * rng.standard_normal((dim, dim))).T
    started = time.perf_counter()
    fit_lstsq(x, y)
    return time.perf_counter() - started


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1/5/15 min)"


ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def local_one_thread(spec: Path, out: Path) -> float:
    """The local executor in a child process whose numpy and torch use one thread each."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(spec), str(out)],
        env={**os.environ, **ONE_THREAD},
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def compare(jobs: list[TargetJob], first: Path, second: Path) -> str:
    """Byte-identical, or the largest relative score difference (and whether orders agree)."""
    worst, same_order, identical = 0.0, True, True
    for job in jobs:
        a_text = (first / f"{job.name}.json").read_text()
        b_text = (second / f"{job.name}.json").read_text()
        identical &= a_text == b_text
        a, b = json.loads(a_text)["entries"], json.loads(b_text)["entries"]
        same_order &= [e["repo_id"] for e in a] == [e["repo_id"] for e in b]
        scores = {e["repo_id"]: e["score"] for e in b}
        worst = max([worst, *(abs(e["score"] - scores[e["repo_id"]]) / abs(e["score"]) for e in a)])
    if identical:
        return "byte-identical"
    order = "the same order" if same_order else "another order"
    return f"largest relative score difference {worst:.1e}, {order}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=4, help="targets (default 4)")
    parser.add_argument("--esms", type=int, default=400, help="ESMs in the registry (400)")
    parser.add_argument("--dim", type=int, default=768, help="embedding dimension D (768)")
    parser.add_argument("--examples", type=int, default=1000, help="examples per target (1000)")
    parser.add_argument("--shard-size", type=int, default=64, help="ESMs per task (64)")
    parser.add_argument("--child", nargs=2, metavar=("SPEC", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        jobs = load_rank_spec(args.child[0]).to_jobs()
        print(timed_run(jobs, Path(args.child[1]), LocalExecutor()))
        return 0
    cpus = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["ESM_REGISTRY_HOME"] = str(root / "home")
        model = build_model(root / "model", args.dim)
        store = LocalStore(root / "registry")
        per_publish = publish(store, args.esms, args.dim)
        spec = write_spec(
            root,
            model,
            store.root,
            targets=args.targets,
            examples=args.examples,
            shard=args.shard_size,
        )
        jobs = load_rank_spec(spec).to_jobs()
        evaluations = args.targets * args.esms
        print(
            f"{args.targets} targets × {args.esms} ESMs (D={args.dim}, N={args.examples}) = "
            f"{evaluations} evaluations; shards of {args.shard_size}; {cpus} CPUs; {load()}"
        )
        print(f"publishing one D={args.dim} ESM to a local registry: {per_publish * 1000:.0f} ms")

        def line(label: str, seconds: float) -> str:
            per = seconds * cpus / evaluations * 1000
            return f"{label}: {seconds:7.1f} s  ({per:6.1f} core-ms per evaluation)"

        local = timed_run(jobs, root / "local", LocalExecutor())
        print(line("local executor, numpy/torch threads as installed", local))
        single = local_one_thread(spec, root / "local-1")
        print(line("local executor, one thread (OMP_NUM_THREADS=1)  ", single))
        started = time.perf_counter()
        with RayExecutor(num_cpus=cpus) as executor:
            ray_start = time.perf_counter() - started
            on_ray = timed_run(jobs, root / "ray", executor)
            again = timed_run(jobs, root / "ray-again", executor)
            overhead = task_overhead(executor)
        print(
            f"Ray start (a local instance, {cpus} CPUs, not in the runs below): {ray_start:.1f} s"
        )
        print(line(f"Ray, {cpus} single-threaded workers, first run        ", on_ray))
        print(line(f"Ray, {cpus} single-threaded workers, workers warm     ", again))
        print(
            f"ratio local / Ray: {local / on_ray:.2f}x (first run), {local / again:.2f}x (warm); "
            f"one-thread local / Ray: {single / on_ray:.2f}x, {single / again:.2f}x"
        )
        print(f"Ray overhead per task (empty tasks): {overhead * 1000:.2f} ms; {load()}")
        print(f"results, Ray vs one-thread local: {compare(jobs, root / 'ray', root / 'local-1')}")
        print(f"results, Ray vs threaded local  : {compare(jobs, root / 'ray', root / 'local')}")

        started = time.perf_counter()
        _, work = prepare_target_task(jobs[0])
        prepare = time.perf_counter() - started
        size = len(pickle.dumps(work, protocol=5)) / 1e6
        print(
            f"prepare one target (embed {args.examples} texts with the 1-layer model, factor): "
            f"{prepare:.1f} s; in the object store: {size:.1f} MB"
        )
        weights = args.dim * (args.dim + 1) * 4 / 1e6
        print(f"one ESM to fetch: {weights:.1f} MB of weights")
        print(
            f"closed-form fit of one ESM ({args.examples} pairs, D={args.dim}): "
            f"{fit_seconds(args.dim, args.examples):.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
